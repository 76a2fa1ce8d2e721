#!/usr/bin/python3
"""`otelpreload inject` on manifests, its output read with python3-yaml.

For every workload kind (Pod, Deployment, StatefulSet, DaemonSet,
ReplicaSet, ReplicationController, Job, CronJob) in a multi-document YAML
stream and in a JSON List: the pod template gets the init container, the
volume, the mount and the environment on the selected containers, and
nothing else changes (what inject adds is taken out again and the rest
compared with the input); objects that are not workloads, and workloads
opted out, come out equal to what went in, tricky YAML scalars included.
Injecting the output again changes no byte. Also: stdin, --annotated-only,
the options, --help, and refusals (malformed input, bad options).

usage: inject.py OTELPRELOAD INJECT_DIR
"""
import copy
import json
import os
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError as e:
    sys.exit(f"FAIL: k8s_inject: {e} (install python3-yaml: scripts/deps.sh)")

IMAGE = "registry.example.com/otelpreload/init:test"
LIB = "/otelpreload/$LIB/libotelpreload.so"
OURS = {
    "OTEL_SERVICE_NAME", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_PROPAGATORS", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
    "OTELPRELOAD_IGNORE_PATHS", "OTELPRELOAD_POD_NAMESPACE", "OTELPRELOAD_POD_NAME",
    "OTELPRELOAD_NODE_NAME", "OTEL_RESOURCE_ATTRIBUTES", "LD_PRELOAD",
}
TEMPLATE_PATH = {
    "Pod": [],
    "Deployment": ["spec", "template"],
    "StatefulSet": ["spec", "template"],
    "DaemonSet": ["spec", "template"],
    "ReplicaSet": ["spec", "template"],
    "ReplicationController": ["spec", "template"],
    "Job": ["spec", "template"],
    "CronJob": ["spec", "jobTemplate", "spec", "template"],
}

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print(f"  FAIL {msg}")
    return cond


def run(cli, args, stdin=None):
    r = subprocess.run([cli, "inject"] + args, input=stdin, capture_output=True, timeout=30)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def template(doc):
    t = doc
    for k in TEMPLATE_PATH[doc["kind"]]:
        t = t[k]
    return t


def env_of(ctr):
    return {e["name"]: e for e in ctr.get("env") or []}


def strip(out_tpl, in_tpl):
    """out_tpl without what inject adds, given the template it came from."""
    t = copy.deepcopy(out_tpl)
    meta, in_meta = t.setdefault("metadata", {}), in_tpl.get("metadata", {})
    ann = meta.get("annotations", {})
    ann.pop("otelpreload.dev/injected", None)
    if not ann and "annotations" not in in_meta:
        meta.pop("annotations", None)
    if not meta and "metadata" not in in_tpl:
        t.pop("metadata")
    spec, in_spec = t["spec"], in_tpl["spec"]
    for key, name in (("initContainers", "otelpreload-init"), ("volumes", "otelpreload")):
        if key in spec:
            spec[key] = [x for x in spec[key] if x.get("name") != name]
            if not spec[key] and key not in in_spec:
                del spec[key]
    for ctr, in_ctr in zip(spec["containers"], in_spec["containers"]):
        if "volumeMounts" in ctr:
            ctr["volumeMounts"] = [m for m in ctr["volumeMounts"] if m["name"] != "otelpreload"]
            if not ctr["volumeMounts"] and "volumeMounts" not in in_ctr:
                del ctr["volumeMounts"]
        if "env" in ctr:
            before = env_of(in_ctr)
            kept = []
            for e in ctr["env"]:
                if e["name"] not in before:
                    continue
                if e["name"] in OURS and e.get("value") != before[e["name"]].get("value"):
                    e = dict(e, value=before[e["name"]]["value"])
                kept.append(e)
            ctr["env"] = kept
            if not kept and "env" not in in_ctr:
                del ctr["env"]
    return t


def check_injected(where, out_doc, in_doc, service, selected=(0,), lib=LIB, mount="/otelpreload",
                   size="200Mi", endpoint=None, image=IMAGE):
    tpl, in_tpl = template(out_doc), template(in_doc)
    spec = tpl["spec"]
    names = [c["name"] for i, c in enumerate(spec["containers"]) if i in selected]
    check(tpl["metadata"]["annotations"].get("otelpreload.dev/injected") == ",".join(names),
          f"{where}: otelpreload.dev/injected is not {','.join(names)}")
    inits = [c for c in spec.get("initContainers", []) if c["name"] == "otelpreload-init"]
    if check(len(inits) == 1, f"{where}: no otelpreload-init init container"):
        ic = inits[0]
        check(ic["image"] == image, f"{where}: init image {ic['image']}")
        check(ic["command"] == ["/otelpreload-install", mount], f"{where}: init command {ic['command']}")
        check(ic["securityContext"]["readOnlyRootFilesystem"] is True and
              ic["securityContext"]["allowPrivilegeEscalation"] is False and
              ic["securityContext"]["runAsNonRoot"] is True and
              ic["securityContext"]["capabilities"] == {"drop": ["ALL"]},
              f"{where}: init security context {ic['securityContext']}")
    vols = [v for v in spec.get("volumes", []) if v["name"] == "otelpreload"]
    check(vols == [{"name": "otelpreload", "emptyDir": {"sizeLimit": size}}],
          f"{where}: volume {vols}")
    for i, ctr in enumerate(spec["containers"]):
        in_ctr = in_tpl["spec"]["containers"][i]
        if i not in selected:
            check(ctr == in_ctr, f"{where}: container {ctr['name']} changed")
            continue
        mounts = [m for m in ctr.get("volumeMounts", []) if m["name"] == "otelpreload"]
        check(mounts == [{"name": "otelpreload", "mountPath": mount, "readOnly": True}],
              f"{where}: mount {mounts}")
        env = env_of(ctr)
        names_in_order = [e["name"] for e in ctr["env"]]
        old = env_of(in_ctr).get("LD_PRELOAD", {}).get("value")
        want = f"{lib}:{old}" if old else lib
        check(env["LD_PRELOAD"].get("value") == want,
              f"{where}: LD_PRELOAD {env['LD_PRELOAD'].get('value')!r}, expected {want!r}")
        if service is None:
            check("OTEL_SERVICE_NAME" not in env, f"{where}: OTEL_SERVICE_NAME set")
        else:
            check(env.get("OTEL_SERVICE_NAME", {}).get("value") == service,
                  f"{where}: OTEL_SERVICE_NAME {env.get('OTEL_SERVICE_NAME')}, expected {service}")
        if endpoint:
            check(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", {}).get("value") == endpoint,
                  f"{where}: OTEL_EXPORTER_OTLP_ENDPOINT {env.get('OTEL_EXPORTER_OTLP_ENDPOINT')}")
        ra = env["OTEL_RESOURCE_ATTRIBUTES"]["value"]
        check(ra.endswith(f"k8s.container.name={ctr['name']}") and
              "k8s.pod.name=$(OTELPRELOAD_POD_NAME)" in ra, f"{where}: OTEL_RESOURCE_ATTRIBUTES {ra}")
        for var, field in (("OTELPRELOAD_POD_NAME", "metadata.name"),
                           ("OTELPRELOAD_POD_NAMESPACE", "metadata.namespace"),
                           ("OTELPRELOAD_NODE_NAME", "spec.nodeName")):
            check(env[var].get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == field,
                  f"{where}: {var} is not from {field}")
            check(names_in_order.index(var) < names_in_order.index("OTEL_RESOURCE_ATTRIBUTES"),
                  f"{where}: {var} after OTEL_RESOURCE_ATTRIBUTES")
    check(strip(tpl, in_tpl) == in_tpl, f"{where}: changes beyond the injection: "
          f"{json.dumps(strip(tpl, in_tpl))} vs {json.dumps(in_tpl)}")
    # Outside the template, the workload is as it was.
    if TEMPLATE_PATH[out_doc["kind"]]:
        a, b = copy.deepcopy(out_doc), copy.deepcopy(in_doc)
        path = TEMPLATE_PATH[out_doc["kind"]]
        pa, pb = a, b
        for k in path[:-1]:
            pa, pb = pa[k], pb[k]
        del pa[path[-1]], pb[path[-1]]
        check(a == b, f"{where}: the workload outside its template changed")


def test_yaml(cli, d):
    src = os.path.join(d, "workloads.yaml")
    with open(src) as f:
        text = f.read()
    ins = [x for x in yaml.safe_load_all(text) if x is not None]
    rc, out, err = run(cli, ["--image", IMAGE, src])
    if not check(rc == 0, f"yaml: exit {rc}: {err}"):
        return
    check(err == "", f"yaml: unexpected stderr {err!r}")
    outs = list(yaml.safe_load_all(out))
    if not check(len(outs) == len(ins), f"yaml: {len(outs)} documents out, {len(ins)} in"):
        return
    by_name = {}
    for i, o in zip(ins, outs):
        by_name[(i["kind"], i["metadata"]["name"])] = (o, i)
    expect = {
        ("Pod", "debug-shell"): dict(service="debug-shell"),
        ("Deployment", "frontend"): dict(service="frontend"),
        ("StatefulSet", "postgres"): dict(service="postgres",
                                          lib="/otelpreload/musl/libotelpreload.so"),
        ("DaemonSet", "node-agent"): dict(service="telemetry-agent"),
        ("ReplicaSet", "legacy-rs"): dict(service="legacy-rs"),
        ("ReplicationController", "very-legacy"): dict(service="very-legacy"),
        ("Job", "migrate"): dict(service="migrate"),
        ("CronJob", "nightly-report"): dict(service="reports"),
    }
    for key, (o, i) in by_name.items():
        where = f"yaml {key[0]}/{key[1]}"
        if key in expect:
            check_injected(where, o, i, **expect[key])
        else:
            check(o == i, f"{where}: changed: {o} vs {i}")
    fe = template(by_name[("Deployment", "frontend")][0])["spec"]["containers"][0]
    check(env_of(fe)["OTELPRELOAD_IGNORE_PATHS"]["value"] == "/healthz",
          "yaml: the frontend's liveness path is not ignored")
    # Scalars that must keep their type, as text too.
    check("port: '8080'" in out or 'port: "8080"' in out, "yaml: '8080' lost its quotes")
    check("yes_plain: yes\n" in out, "yaml: a plain yes was rewritten")
    check("sizeLimit: 200Mi\n" in out, "yaml: the size limit is quoted or missing")
    check("#!/bin/sh" in out and "script: |" in out, "yaml: the literal block was not kept")
    check("\nstatus:" not in out and "---\n" in out, "yaml: documents not separated by ---")
    print(f"  ok   yaml: {len(ins)} documents, {len(expect)} workloads injected")

    # Injecting again changes nothing, byte for byte; stdin gives the same.
    rc2, out2, err2 = run(cli, ["--image", IMAGE, "-"], stdin=out.encode())
    check(rc2 == 0 and out2 == out, f"yaml: injecting the output again changed it: {err2}")
    rc3, out3, _ = run(cli, ["--image", IMAGE], stdin=text.encode())
    check(rc3 == 0 and out3 == out, "yaml: stdin without - differs from the file")
    print("  ok   yaml: re-injection is byte-identical, stdin is the same")

    # --annotated-only: only the StatefulSet says "true".
    rc, out, err = run(cli, ["--annotated-only", "--image", IMAGE, src])
    outs = list(yaml.safe_load_all(out))
    check(rc == 0 and len(outs) == len(ins), f"annotated-only: exit {rc}: {err}")
    for i, o in zip(ins, outs):
        key = (i["kind"], i["metadata"]["name"])
        if key == ("StatefulSet", "postgres"):
            check_injected("annotated-only StatefulSet", o, i, "postgres",
                           lib="/otelpreload/musl/libotelpreload.so")
        else:
            check(o == i, f"annotated-only: {key} changed")
    print("  ok   --annotated-only: only the annotated workload")


def test_json(cli, d):
    src = os.path.join(d, "list.json")
    with open(src) as f:
        doc = json.load(f)
    args = ["--image", "img:2", "--mount-path", "/opt/otel", "--size-limit", "64Mi",
            "--image-pull-policy", "Always", "--endpoint", "http://collector:4318", src]
    rc, out, err = run(cli, args)
    if not check(rc == 0, f"json: exit {rc}: {err}"):
        return
    check(out.startswith('{\n  "apiVersion": "v1",\n'), f"json: not indented JSON: {out[:40]!r}")
    got = json.loads(out)
    check(got["kind"] == "List" and len(got["items"]) == 3, "json: the List lost items")
    api, svc, sealed = got["items"]
    check_injected("json Deployment/api", api, doc["items"][0], "api",
                   lib="/opt/otel/$LIB/libotelpreload.so", mount="/opt/otel", size="64Mi",
                   endpoint="http://collector:4318", image="img:2")
    ic = template(api)["spec"]["initContainers"][0]
    check(ic.get("imagePullPolicy") == "Always", f"json: imagePullPolicy {ic.get('imagePullPolicy')}")
    ra = env_of(template(api)["spec"]["containers"][0])["OTEL_RESOURCE_ATTRIBUTES"]["value"]
    check(ra.startswith("team=payments,k8s.namespace.name="), f"json: resource attributes {ra}")
    check(svc == doc["items"][1], "json: the Service changed")
    check(sealed == doc["items"][2], "json: the Deployment with LD_PRELOAD from a Secret changed")
    check('Deployment "sealed": container "sealed" not injected: its LD_PRELOAD comes from '
          'valueFrom' in err, f"json: no warning for the sealed Deployment: {err!r}")
    rc2, out2, _ = run(cli, args[:-1] + ["-"], stdin=out.encode())
    check(rc2 == 0 and out2 == out, "json: injecting the output again changed it")
    print("  ok   json: List injected with the options, re-injection is byte-identical")


def test_refusals(cli):
    rc, out, err = run(cli, ["--help"])
    check(rc == 0 and "--annotated-only" in out and "usage: otelpreload inject" in out,
          f"--help: exit {rc}")
    for bad, what in ((["--mount-path", "relative"], "mount path"),
                      (["--size-limit", "lots"], "size limit"),
                      (["--image-pull-policy", "sometimes"], "pull policy"),
                      (["--bogus"], "unknown option")):
        rc, out, err = run(cli, bad, stdin=b"")
        check(rc == 2 and out == "" and err.startswith("otelpreload: inject: ") and what in err,
              f"{bad}: exit {rc}, stderr {err!r}")
    for text, what in ((b"kind: Pod\n  bad: [indent\n", "line"),
                       (b'{"kind": "Pod",', "line"),
                       (b"a: !custom x\n", "tag"),
                       (b"a: &x [*x]\n", "alias")):
        rc, out, err = run(cli, [], stdin=text)
        check(rc == 1 and out == "" and err.startswith("otelpreload: inject: stdin: ") and what in err,
              f"malformed {text!r}: exit {rc}, stdout {out!r}, stderr {err!r}")
    rc, out, err = run(cli, ["/nonexistent/manifest.yaml"])
    check(rc == 1 and out == "" and "/nonexistent/manifest.yaml" in err, f"missing file: {err!r}")
    # An alias bomb stops at the value limit instead of eating memory.
    bomb = "a: &a [x,x,x,x,x,x,x,x,x,x]\n"
    for i in range(1, 9):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 10) + "]\n"
    rc, out, err = run(cli, [], stdin=bomb.encode())
    check(rc == 1 and "too many values" in err, f"alias bomb: exit {rc}, {err!r}")
    # Empty input: empty output.
    rc, out, err = run(cli, [], stdin=b"# nothing\n---\n")
    check(rc == 0 and out == "", f"empty input: exit {rc}, {out!r}")
    print("  ok   refusals: bad options 2, bad input 1 with nothing written")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: inject.py OTELPRELOAD INJECT_DIR")
    cli, d = sys.argv[1], sys.argv[2]
    test_yaml(cli, d)
    test_json(cli, d)
    test_refusals(cli)
    if failures:
        print(f"FAIL: k8s_inject: {len(failures)} failures")
        sys.exit(1)
    print("PASS: k8s_inject")


if __name__ == "__main__":
    main()
