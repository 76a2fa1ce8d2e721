#!/usr/bin/python3
"""The webhook's mutation over a corpus of pods.

Each directory of the corpus holds pod.yaml (the pod as the API server
sends it), expected.yaml (the pod as it must come out, written by hand),
and optionally options.yaml (k8s_review options: endpoint, mountPath,
sizeLimit, imagePullPolicy, namespaceAnnotations) and warnings.yaml (the
exact warnings the response must carry; none when absent).

Every pod is sent as an AdmissionReview v1 through k8s_review (the
webhook's op_k8s_review); the response must be allowed, echo the uid, and
carry a JSONPatch exactly when the expected pod differs from the input.
The patch is applied with python3-jsonpatch (an independent RFC 6902
implementation, strict about paths); the result must equal the expected
pod. The patched pod is then sent again and must get no patch.

usage: corpus.py K8S_REVIEW CORPUS_DIR
"""
import base64
import json
import os
import subprocess
import sys
import uuid

sys.dont_write_bytecode = True     # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import admission  # noqa: E402

try:
    import jsonpatch
    import yaml
except ImportError as e:
    sys.exit(f"FAIL: k8s_corpus: {e} (install python3-jsonpatch and python3-yaml: scripts/deps.sh)")

IMAGE = "registry.example.com/otelpreload/init:1.0"
OPTION_FLAGS = {
    "endpoint": "--endpoint",
    "mountPath": "--mount-path",
    "sizeLimit": "--size-limit",
    "imagePullPolicy": "--image-pull-policy",
}

failures = []


def fail(case, msg):
    failures.append(f"{case}: {msg}")
    print(f"  FAIL {case}: {msg}")


def review(driver, pod, options):
    uid = str(uuid.uuid4())
    body = admission.review(
        uid, pod.get("metadata", {}).get("namespace", "default"), pod,
        {"username": "system:serviceaccount:kube-system:replicaset-controller"})
    args = [driver, "--image", IMAGE]
    for key, flag in OPTION_FLAGS.items():
        if key in options:
            args += [flag, options[key]]
    if "namespaceAnnotations" in options:
        args += ["--namespace-annotations", json.dumps(options["namespaceAnnotations"])]
    run = subprocess.run(args, input=json.dumps(body).encode(), capture_output=True, timeout=30)
    if run.returncode != 0:
        raise AssertionError(f"k8s_review exited {run.returncode}: {run.stderr.decode()}")
    resp = json.loads(run.stdout)
    assert resp.get("apiVersion") == "admission.k8s.io/v1", resp
    assert resp.get("kind") == "AdmissionReview", resp
    r = resp["response"]
    assert r.get("uid") == uid, f"uid {r.get('uid')!r} is not the request's {uid!r}"
    assert r.get("allowed") is True, f"allowed is {r.get('allowed')!r}"
    patch = None
    if "patch" in r:
        assert r.get("patchType") == "JSONPatch", f"patchType {r.get('patchType')!r}"
        patch = json.loads(base64.b64decode(r["patch"], validate=True))
        assert isinstance(patch, list) and patch, f"patch {patch!r} is not a list of operations"
    else:
        assert "patchType" not in r, "patchType without a patch"
    return patch, r.get("warnings", []), run.stderr.decode().strip()


def load(path, default=None):
    if not os.path.exists(path):
        return default
    with open(path) as f:
        return yaml.safe_load(f)


def check_case(driver, corpus, case):
    d = os.path.join(corpus, case)
    pod = load(os.path.join(d, "pod.yaml"))
    expected = load(os.path.join(d, "expected.yaml"))
    options = load(os.path.join(d, "options.yaml"), {})
    want_warnings = load(os.path.join(d, "warnings.yaml"), [])
    if pod is None or expected is None:
        fail(case, "pod.yaml or expected.yaml is missing")
        return

    patch, warnings, why = review(driver, pod, options)
    if warnings != want_warnings:
        fail(case, f"warnings {warnings!r}, expected {want_warnings!r}")
    if expected == pod:
        if patch is not None:
            fail(case, f"a patch for a pod that must not change: {json.dumps(patch)}")
        else:
            print(f"  ok   {case}: no patch ({why})")
        return
    if patch is None:
        fail(case, f"no patch ({why})")
        return
    try:
        got = jsonpatch.apply_patch(pod, patch)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
        fail(case, f"python3-jsonpatch refuses the patch: {e}: {json.dumps(patch)}")
        return
    if got != expected:
        diff = jsonpatch.make_patch(expected, got)
        fail(case, f"the patched pod differs from expected.yaml: {diff}")
        return
    again, _, why = review(driver, got, options)
    if again is not None:
        fail(case, f"the injected pod got another patch: {json.dumps(again)}")
        return
    print(f"  ok   {case}: {len(patch)} operations; again: no patch ({why})")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: corpus.py K8S_REVIEW CORPUS_DIR")
    driver, corpus = sys.argv[1], sys.argv[2]
    cases = sorted(c for c in os.listdir(corpus) if os.path.isdir(os.path.join(corpus, c)))
    if len(cases) < 10:
        sys.exit(f"FAIL: k8s_corpus: only {len(cases)} cases in {corpus}")
    for case in cases:
        try:
            check_case(driver, corpus, case)
        except (AssertionError, ValueError, subprocess.SubprocessError) as e:
            fail(case, str(e))
    if failures:
        print(f"FAIL: k8s_corpus: {len(failures)} of {len(cases)} cases")
        sys.exit(1)
    print(f"PASS: k8s_corpus: {len(cases)} cases")


if __name__ == "__main__":
    main()
