"""The AdmissionReview v1 the API server sends for a pod CREATE, shared by
the webhook's tests (tests/k8s/corpus.py, tests/webhook/whtool.py,
tests/image/pod.py).

    review(uid, namespace, pod, user_info) -> dict

user_info is the request's userInfo: the tests differ in how much of the
replicaset controller's identity they send.
"""

POD_KIND = {"group": "", "version": "v1", "kind": "Pod"}
POD_RESOURCE = {"group": "", "version": "v1", "resource": "pods"}


def review(uid, namespace, pod, user_info):
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": dict(POD_KIND),
            "resource": dict(POD_RESOURCE),
            "requestKind": dict(POD_KIND),
            "requestResource": dict(POD_RESOURCE),
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": user_info,
            "object": pod,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }
