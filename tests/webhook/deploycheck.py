"""Checks the rendering of init-container/deploy (kubectl kustomize output).

    deploycheck.py RENDERED.yaml ARGS_OUT
        checks the manifests; writes the webhook container's args, with the
        ConfigMap's $(VAR)s expanded, to ARGS_OUT (one per line) so the test
        can start the webhook with exactly them
    deploycheck.py overlay RENDERED.yaml IMAGE INIT_IMAGE ENDPOINT
        an overlay's rendering: the images and settings it set
"""
import re
import sys

import yaml

NS = "otelpreload-system"
CLUSTER_SCOPED = ("Namespace", "MutatingWebhookConfiguration", "ClusterRole", "ClusterRoleBinding")


def die(msg):
    print("deploycheck: " + msg, file=sys.stderr)
    sys.exit(1)


def load(path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    by_kind = {}
    for d in docs:
        by_kind.setdefault(d["kind"], []).append(d)
    return docs, by_kind


def one(by_kind, kind, name=None):
    found = [d for d in by_kind.get(kind, []) if name is None or d["metadata"]["name"] == name]
    if len(found) != 1:
        die("expected one %s%s, found %d" % (kind, " " + name if name else "", len(found)))
    return found[0]


def webhook_container(by_kind):
    dep = one(by_kind, "Deployment")
    cs = dep["spec"]["template"]["spec"]["containers"]
    if len(cs) != 1:
        die("the Deployment has %d containers" % len(cs))
    return dep, cs[0]


def config_env(by_kind, container):
    env = {}
    for src in container.get("envFrom", []):
        name = src["configMapRef"]["name"]
        cm = one(by_kind, "ConfigMap", name)
        if cm["metadata"].get("namespace") != NS:
            die("ConfigMap %s is not in %s" % (name, NS))
        env.update(cm.get("data", {}))
    return env


def expand(arg, env):
    def sub(m):
        if m.group(1) not in env:
            die("the argument %r names $(%s), which no ConfigMap sets" % (arg, m.group(1)))
        return env[m.group(1)]
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, arg)


def check(path, args_out):
    docs, by_kind = load(path)
    for kind in ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap",
                 "Deployment", "Service", "PodDisruptionBudget", "MutatingWebhookConfiguration",
                 "Issuer", "Certificate"]:
        if kind not in by_kind:
            die("no %s in the rendering" % kind)
    for d in docs:
        if d["kind"] not in CLUSTER_SCOPED and \
                d["metadata"].get("namespace") != NS:
            die("%s %s is not in %s" % (d["kind"], d["metadata"]["name"], NS))
    one(by_kind, "Namespace", NS)

    # The Deployment and its pod.
    dep, c = webhook_container(by_kind)
    spec = dep["spec"]
    if spec.get("replicas") != 2:
        die("replicas is %r, expected 2" % spec.get("replicas"))
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    if any(labels.get(k) != v for k, v in spec["selector"]["matchLabels"].items()):
        die("the Deployment's selector does not match its pods")
    sa = one(by_kind, "ServiceAccount")
    if pod.get("serviceAccountName") != sa["metadata"]["name"]:
        die("the pod does not use the ServiceAccount")
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True or not psc.get("runAsUser"):
        die("the pod may run as root: %r" % psc)
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        die("the pod's seccompProfile is not RuntimeDefault")
    sc = c.get("securityContext", {})
    want = {"readOnlyRootFilesystem": True, "allowPrivilegeEscalation": False, "runAsNonRoot": True}
    for k, v in want.items():
        if sc.get(k) is not v:
            die("container securityContext.%s is %r, expected %r" % (k, sc.get(k), v))
    if sc.get("capabilities", {}).get("drop") != ["ALL"]:
        die("the container does not drop ALL capabilities")
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        die("the container's seccompProfile is not RuntimeDefault")
    if c.get("image") != "otelpreload-webhook:0.1.0":
        die("the image is %r: the kustomize image otelpreload-webhook was not applied" % c.get("image"))
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        g = c.get(probe, {}).get("httpGet", {})
        if g.get("path") != path or g.get("scheme") != "HTTPS" or g.get("port") not in ports:
            die("%s is not an HTTPS GET of %s on a named port: %r" % (probe, path, g))
    if not c.get("resources", {}).get("limits", {}).get("memory"):
        die("no memory limit")

    env = config_env(by_kind, c)
    args = [expand(a, env) for a in c.get("args", [])]
    opts = dict(a[2:].split("=", 1) for a in args if a.startswith("--") and "=" in a)
    listen_port = int(opts.get("listen", "0.0.0.0:8443").rsplit(":", 1)[1])
    if ports.get("https") != listen_port:
        die("the container port %r is not --listen's %d" % (ports.get("https"), listen_port))

    # Namespace annotations: the pod has its service account's token, and the
    # account may get namespaces and do nothing else; the webhook finds the
    # API where the cluster says (no --kube-* option overrides it).
    sa_name = sa["metadata"]["name"]
    mount = pod.get("automountServiceAccountToken", sa.get("automountServiceAccountToken", True))
    if mount is not True:
        die("the webhook's pod mounts no service account token: it cannot read namespaces")
    for a in args:
        if a.startswith("--kube-"):
            die("the argument %r moves the Kubernetes API away from the in-cluster one" % a)
    roles = {r["metadata"]["name"]: r for r in by_kind["ClusterRole"]}
    bindings = [b for b in by_kind["ClusterRoleBinding"]
                if {"kind": "ServiceAccount", "name": sa_name, "namespace": NS} in b.get("subjects", [])]
    if len(bindings) != 1:
        die("%d ClusterRoleBindings name the ServiceAccount %s/%s, expected 1" %
            (len(bindings), NS, sa_name))
    b = bindings[0]
    if len(b["subjects"]) != 1:
        die("the ClusterRoleBinding %s binds others too: %r" % (b["metadata"]["name"], b["subjects"]))
    ref = b["roleRef"]
    if ref.get("apiGroup") != "rbac.authorization.k8s.io" or ref.get("kind") != "ClusterRole" or \
            ref.get("name") not in roles:
        die("the ClusterRoleBinding's roleRef %r is not a ClusterRole of the base" % ref)
    rules = roles[ref["name"]].get("rules")
    if rules != [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]:
        die("the ClusterRole grants %r; the webhook needs get on namespaces and nothing else" % rules)

    # The certificate's Secret is mounted where --tls-cert and --tls-key are.
    cert = one(by_kind, "Certificate", "otelpreload-webhook")
    secret = cert["spec"]["secretName"]
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    mounts = [m for m in c.get("volumeMounts", [])
              if vols.get(m["name"], {}).get("secret", {}).get("secretName") == secret]
    if len(mounts) != 1 or mounts[0].get("readOnly") is not True:
        die("the Secret %s is not mounted read-only" % secret)
    d = mounts[0]["mountPath"].rstrip("/")
    if opts.get("tls-cert") != d + "/tls.crt" or opts.get("tls-key") != d + "/tls.key":
        die("--tls-cert/--tls-key %r %r are not the mounted Secret's files in %s" %
            (opts.get("tls-cert"), opts.get("tls-key"), d))

    # The Service reaches the pods' https port; the certificate names it.
    svc = one(by_kind, "Service")
    sname = svc["metadata"]["name"]
    if any(labels.get(k) != v for k, v in svc["spec"]["selector"].items()):
        die("the Service's selector does not match the pods")
    sports = [p for p in svc["spec"]["ports"] if p["port"] == 443]
    if len(sports) != 1 or sports[0].get("targetPort") not in ("https", listen_port):
        die("the Service does not map 443 to the container's https port: %r" % svc["spec"]["ports"])
    names = {"%s.%s.svc" % (sname, NS), "%s.%s.svc.cluster.local" % (sname, NS)}
    if set(cert["spec"].get("dnsNames", [])) != names:
        die("the certificate's dnsNames %r are not the Service's %r" %
            (cert["spec"].get("dnsNames"), sorted(names)))
    issuers = {i["metadata"]["name"]: i for i in by_kind["Issuer"]}
    chain, ref = [], cert["spec"]["issuerRef"]
    while True:
        if ref.get("kind", "Issuer") != "Issuer" or ref["name"] not in issuers:
            die("issuerRef %r is not an Issuer of the base" % ref)
        issuer = issuers[ref["name"]]["spec"]
        chain.append(ref["name"])
        if "selfSigned" in issuer:
            break
        if "ca" not in issuer or len(chain) > 3:
            die("the Issuer %s is neither selfSigned nor a CA of the base" % ref["name"])
        ca_cert = [x for x in by_kind["Certificate"]
                   if x["spec"]["secretName"] == issuer["ca"]["secretName"]]
        if len(ca_cert) != 1 or ca_cert[0]["spec"].get("isCA") is not True:
            die("the CA Issuer's Secret comes from no isCA Certificate")
        ref = ca_cert[0]["spec"]["issuerRef"]

    # The webhooks.
    mwc = one(by_kind, "MutatingWebhookConfiguration")
    ann = mwc["metadata"].get("annotations", {}).get("cert-manager.io/inject-ca-from")
    if ann != "%s/%s" % (NS, cert["metadata"]["name"]):
        die("cert-manager.io/inject-ca-from is %r" % ann)
    hooks = mwc["webhooks"]
    paths = set()
    ns_values = []
    for h in hooks:
        n = h["name"]
        if h.get("failurePolicy") != "Ignore":
            die("%s: failurePolicy %r" % (n, h.get("failurePolicy")))
        if h.get("sideEffects") != "None":
            die("%s: sideEffects %r" % (n, h.get("sideEffects")))
        if h.get("admissionReviewVersions") != ["v1"]:
            die("%s: admissionReviewVersions %r" % (n, h.get("admissionReviewVersions")))
        if not 1 <= h.get("timeoutSeconds", 10) <= 10:
            die("%s: timeoutSeconds %r" % (n, h.get("timeoutSeconds")))
        if h.get("reinvocationPolicy") not in ("IfNeeded", "Never"):
            die("%s: reinvocationPolicy %r" % (n, h.get("reinvocationPolicy")))
        if h.get("matchPolicy", "Equivalent") != "Equivalent":
            die("%s: matchPolicy %r" % (n, h.get("matchPolicy")))
        rules = h["rules"]
        if len(rules) != 1 or rules[0]["operations"] != ["CREATE"] or \
                rules[0]["resources"] != ["pods"] or rules[0]["apiGroups"] != [""]:
            die("%s: rules %r are not pods CREATE" % (n, rules))
        s = h["clientConfig"]["service"]
        if s["name"] != sname or s["namespace"] != NS or s.get("port", 443) != 443:
            die("%s: clientConfig.service %r is not the Service" % (n, s))
        if "caBundle" in h["clientConfig"]:
            die("%s: a caBundle is written in; cainjector fills it" % n)
        paths.add(s["path"])
        exprs = h.get("namespaceSelector", {}).get("matchExpressions", [])
        excluded = [e for e in exprs if e["key"] == "kubernetes.io/metadata.name"]
        if len(excluded) != 1 or excluded[0]["operator"] != "NotIn" or \
                not {"kube-system", NS} <= set(excluded[0]["values"]):
            die("%s: the namespaceSelector does not exclude kube-system and %s" % (n, NS))
        opt_in = [e for e in exprs if e["key"] == "otelpreload.dev/inject"]
        if len(opt_in) != 1 or opt_in[0].get("values") != ["true"]:
            die("%s: no namespaceSelector on the label otelpreload.dev/inject" % n)
        ns_values.append((opt_in[0]["operator"], s["path"]))
        # Selectors cannot see annotations: an objectSelector that required
        # a pod label would shut out the pods of opted-in namespaces.
        obj = h.get("objectSelector", {})
        if obj.get("matchLabels"):
            die("%s: the objectSelector requires labels %r" % (n, obj["matchLabels"]))
        for e in obj.get("matchExpressions", []):
            if e["operator"] not in ("NotIn", "DoesNotExist"):
                die("%s: the objectSelector requires %r" % (n, e))
    if sorted(ns_values) != [("In", "/mutate-namespace"), ("NotIn", "/mutate")]:
        die("the two webhooks do not split namespaces by otelpreload.dev/inject=true: %r" % ns_values)

    # The PodDisruptionBudget keeps one of the two up.
    pdb = one(by_kind, "PodDisruptionBudget")
    if pdb["spec"].get("minAvailable") != 1 or \
            any(labels.get(k) != v for k, v in pdb["spec"]["selector"]["matchLabels"].items()):
        die("the PodDisruptionBudget does not keep one webhook pod")

    with open(args_out, "w") as f:
        for a in args:
            f.write(a + "\n")


def check_overlay(path, image, init_image, endpoint):
    _, by_kind = load(path)
    _, c = webhook_container(by_kind)
    if c["image"] != image:
        die("the overlay's image is %r, expected %r" % (c["image"], image))
    env = config_env(by_kind, c)
    if env.get("OTELPRELOAD_INIT_IMAGE") != init_image or env.get("OTELPRELOAD_ENDPOINT") != endpoint:
        die("the overlay's settings were not merged: %r" % env)
    if env.get("OTELPRELOAD_SIZE_LIMIT") != "200Mi":
        die("the overlay lost the base's settings: %r" % env)


if __name__ == "__main__":
    if len(sys.argv) == 3:
        check(sys.argv[1], sys.argv[2])
    elif len(sys.argv) == 6 and sys.argv[1] == "overlay":
        check_overlay(*sys.argv[2:])
    else:
        die("usage: deploycheck.py RENDERED ARGS_OUT | overlay RENDERED IMAGE INIT_IMAGE ENDPOINT")
