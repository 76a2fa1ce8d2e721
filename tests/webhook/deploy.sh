#!/usr/bin/env bash
# init-container/deploy renders offline with `kubectl kustomize`, and what
# it renders is right (deploycheck.py): every kind, failurePolicy Ignore,
# sideEffects None, selectors that exclude the system namespaces and keep
# namespace-level injection working, the security context, cert-manager's
# CA injection and a certificate for the Service's names, a Secret mounted
# where the webhook reads it, the RBAC for namespace annotations (a token
# mounted, get on namespaces and nothing more). The webhook then starts with
# exactly the rendered arguments, and an overlay retargets the images and
# settings.
. "$(dirname "$0")/../support/lib.sh" "$@"
. "$SRC/tests/webhook/lib.sh"

command -v kubectl >/dev/null ||
	fail "kubectl is not installed (bash scripts/deps.sh installs Debian's kubernetes-client)"
"$PYTHON" -c 'import yaml' 2>/dev/null ||
	fail "python3-yaml is not installed (bash scripts/deps.sh installs it)"
DEPLOY=$SRC/init-container/deploy

note "kubectl kustomize $(kubectl version --client 2>/dev/null | head -1)"
kubectl kustomize "$DEPLOY" >"$T/rendered.yaml" 2>"$T/kustomize.err" ||
	{ cat "$T/kustomize.err" >&2; fail "kubectl kustomize failed"; }
"$PYTHON" "$SRC/tests/webhook/deploycheck.py" "$T/rendered.yaml" "$T/args" ||
	fail "the rendered manifests are wrong"

note "the webhook takes the rendered arguments"
CA=$T/ca
make_ca "$CA"
make_server_cert "$CA" "$T/tls"
mapfile -t args <"$T/args"
# Later options win: only the address, the files and the delay are the test's.
start_webhook "$T/tls" "${args[@]}" --listen 127.0.0.1:0 --port-file "$T/webhook.port" \
	--tls-cert "$T/tls/tls.crt" --tls-key "$T/tls/tls.key" --shutdown-delay 0
alive
grep -q "injecting otelpreload-init:0.1.0" "$WLOG" || { cat "$WLOG" >&2; fail "the init image is not the rendered one"; }
# With no --kube-api, the API is the cluster's (here: none, lib.sh unsets it).
grep -q "namespace annotations are not read (KUBERNETES_SERVICE_HOST is not set" "$WLOG" ||
	{ cat "$WLOG" >&2; fail "the rendered arguments do not leave the Kubernetes API to the cluster"; }

note "an overlay retargets the images and settings"
mkdir -p "$T/overlay"
base=$("$PYTHON" -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$DEPLOY" "$T/overlay")
# kubectl 1.20's kustomize (2.0) takes a base only under bases:, later
# ones under resources: (bases: is deprecated there).
for field in resources bases; do
	cat >"$T/overlay/kustomization.yaml" <<YAML
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
$field:
- $base
images:
- name: otelpreload-webhook
  newName: registry.example/otelpreload-webhook
  newTag: "1.2.3"
configMapGenerator:
- name: otelpreload-webhook-config
  namespace: otelpreload-system
  behavior: merge
  literals:
  - OTELPRELOAD_INIT_IMAGE=registry.example/otelpreload-init:1.2.3
  - OTELPRELOAD_ENDPOINT=http://otel-collector.observability:4318
YAML
	kubectl kustomize "$T/overlay" >"$T/overlay.yaml" 2>"$T/overlay.err" && break
done
[ -s "$T/overlay.yaml" ] || { cat "$T/overlay.err" >&2; fail "the overlay does not render"; }
"$PYTHON" "$SRC/tests/webhook/deploycheck.py" overlay "$T/overlay.yaml" \
	registry.example/otelpreload-webhook:1.2.3 registry.example/otelpreload-init:1.2.3 \
	http://otel-collector.observability:4318 || fail "the overlay's rendering is wrong"
stop_webhook
pass
