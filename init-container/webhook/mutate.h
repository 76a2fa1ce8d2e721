/*
 * The pod mutation of otelpreload's Kubernetes integration, shared by the
 * admission webhook (otelpreload-webhook, /mutate) and the offline
 * `otelpreload inject`. Pure functions over JSON (text or json.h's tree):
 * no I/O, no globals besides what `struct op_k8s_options` carries, safe to
 * call from many threads at once.
 *
 * Annotations read (on the pod; otelpreload.dev/inject also on its
 * namespace, given in op_k8s_options, which the webhook reads from the
 * Kubernetes API when op_k8s_review_namespace() says they matter):
 *   otelpreload.dev/inject             "true" selects the pod ("false" on a
 *                                      pod overrides a namespace's "true")
 *   otelpreload.dev/container-names    comma-separated; default: the first
 *                                      container
 *   otelpreload.dev/service-name       OTEL_SERVICE_NAME
 *   otelpreload.dev/endpoint           OTEL_EXPORTER_OTLP_ENDPOINT
 *   otelpreload.dev/protocol           OTEL_EXPORTER_OTLP_PROTOCOL
 *   otelpreload.dev/propagators        OTEL_PROPAGATORS
 *   otelpreload.dev/sampler            OTEL_TRACES_SAMPLER
 *   otelpreload.dev/sampler-arg        OTEL_TRACES_SAMPLER_ARG
 *   otelpreload.dev/libc               "glibc" or "musl": force one build
 *                                      (default: LD_PRELOAD picks by $LIB)
 * and written: otelpreload.dev/injected, the names of the containers
 * injected (comma-separated), for people; injection is recognised by the
 * init container named OP_K8S_INIT_NAME.
 */
#ifndef OP_K8S_MUTATE_H
#define OP_K8S_MUTATE_H

#include <stdbool.h>
#include <stddef.h>

#include "json.h"

#define OP_K8S_ANNOTATION_PREFIX "otelpreload.dev/"

/* What the mutation adds, by name. */
#define OP_K8S_INIT_NAME "otelpreload-init"
#define OP_K8S_VOLUME_NAME "otelpreload"

#ifndef OP_VERSION
#define OP_VERSION "0.0.0-dev"
#endif

/* Defaults for a NULL option. */
#define OP_K8S_DEFAULT_IMAGE "otelpreload-init:" OP_VERSION
#define OP_K8S_DEFAULT_MOUNT_PATH "/otelpreload"
#define OP_K8S_DEFAULT_SIZE_LIMIT "200Mi"

/* What the webhook's command line (or inject's) configures. */
struct op_k8s_options {
	const char *image;              /* init container image; NULL: OP_K8S_DEFAULT_IMAGE */
	const char *image_pull_policy;  /* NULL: leave the cluster's default */
	const char *volume_size_limit;  /* emptyDir sizeLimit, e.g. "200Mi" (the NULL default) */
	const char *mount_path;         /* where the library appears, e.g. "/otelpreload" (default) */
	const char *default_endpoint;   /* NULL: the library's own default */
	/*
	 * Namespace annotations, when the caller knows them (JSON object text
	 * or NULL), for otelpreload.dev/inject only: op_k8s_review() selects
	 * a pod without an inject annotation of its own when they say "true".
	 */
	const char *namespace_annotations;
};

/*
 * Checks options before they are used, so that a bad command line fails
 * at start-up instead of producing pods the API server rejects: the image
 * has no blank or control character, the mount path is absolute, not "/"
 * and usable in LD_PRELOAD (no ':' or blank), the size limit looks like a
 * Kubernetes quantity, the pull policy is Always, IfNotPresent or Never,
 * the namespace annotations are a JSON object. Returns NULL when they are
 * fine, else a message naming the option at fault, written into <msg,
 * size>.
 */
const char *op_k8s_options_check(const struct op_k8s_options *opt, char *msg, size_t size);

/* Bounds on the warnings one mutation reports. */
#define OP_K8S_MAX_WARNINGS 8
#define OP_K8S_WARNING_MAX 200

/* What a mutation did not do, and why. */
struct op_k8s_notes {
	/* Why nothing was changed (static, no values from the input), or NULL. */
	const char *why;
	/*
	 * For the person who created the pod (the webhook returns them as the
	 * AdmissionResponse's warnings, inject prints them): a container left
	 * untouched, an annotation value not understood. These may name
	 * containers and annotation values; control characters are replaced.
	 */
	size_t nwarnings;
	char warnings[OP_K8S_MAX_WARNINGS][OP_K8S_WARNING_MAX];
};

enum op_k8s_result {
	OP_K8S_INJECTED,   /* the pod was changed */
	OP_K8S_UNCHANGED,  /* nothing to do (already injected, no container fit): notes->why */
	OP_K8S_ERROR,      /* malformed pod, bad options or out of memory: notes->why */
};

/*
 * otelpreload.dev/inject in `annotations` (an object or NULL): 1 for
 * "true", 0 for "false", -1 when absent or anything else.
 */
int op_k8s_inject_annotation(const struct op_json *annotations);

/*
 * Injects `pod`, a Pod or a workload's pod template (an object with
 * "metadata" and "spec"), in place; the caller has decided that it is
 * selected. `owner` names the workload a template belongs to (it names
 * the service when no annotation or label does); NULL for a Pod, whose
 * ownerReferences are used instead.
 *
 * When `ops` (a JSON array) is not NULL, the JSONPatch operations that
 * turn the pod as it was into the pod as it is are appended to it, their
 * paths prefixed with `base` (the JSON Pointer of `pod` in the patched
 * document: "" when the pod is the document).
 *
 * Returns OP_K8S_INJECTED, or OP_K8S_UNCHANGED / OP_K8S_ERROR with
 * notes->why set; then `pod` and `ops` are as they were. `notes` is
 * always filled.
 */
enum op_k8s_result op_k8s_inject(struct op_json *pod, const char *owner,
				 const struct op_k8s_options *opt, const char *base,
				 struct op_json *ops, struct op_k8s_notes *notes);

/*
 * The AdmissionReview v1 response for an AdmissionReview v1 request body
 * (`body`, `len` bytes). Always a valid response: `allowed: true`, the
 * request's uid echoed, and a base64 JSONPatch (patchType "JSONPatch") when
 * the pod is selected and not yet injected. Malformed or unexpected input,
 * an internal error or a pod that is not selected give `allowed: true`
 * with no patch (and a uid of "" when none could be read). The notes'
 * warnings (a container left untouched, say) go into the response's
 * "warnings", which kubectl shows to whoever created the pod. Only pods
 * are mutated, on CREATE; the body is parsed within json.h's limits
 * (OP_JSON_MAX_BYTES and the rest), whatever the caller's own. Returns a
 * heap string (its length in *out_len), or NULL only when out of memory.
 * *why, if not NULL, gets NULL when a patch was returned, else a static
 * string saying why not, for the caller's log (never includes values from
 * the request).
 */
char *op_k8s_review(const char *body, size_t len, const struct op_k8s_options *opt,
		    size_t *out_len, const char **why);

/* Longest namespace name: a DNS label (RFC 1123), as Kubernetes requires. */
#define OP_K8S_NAMESPACE_MAX 63

/*
 * Whether the answer op_k8s_review() gives to this request body can depend
 * on its namespace's annotations: it is a review of a pod being created
 * whose own otelpreload.dev/inject annotation is neither "true" nor
 * "false" (usually: absent). Then the namespace (request.namespace,
 * checked to be a DNS label) is written into <ns, size> (size >
 * OP_K8S_NAMESPACE_MAX) and true returned, so that the webhook fetches the
 * namespace's annotations only when they matter.
 * Example: a Deployment's pods in namespace "shop" with no annotation give
 * true and "shop"; a pod annotated "true" or "false" gives false.
 */
bool op_k8s_review_namespace(const char *body, size_t len, char *ns, size_t size);

#endif
