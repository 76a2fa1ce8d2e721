/*
 * The pod mutation's rules (init-container/webhook/mutate.c), one at a
 * time: selection, the service name, LD_PRELOAD, OTEL_RESOURCE_ATTRIBUTES
 * and the downward API, probe paths, settings from annotations, what is
 * left alone, idempotence, failure leaving the pod untouched, the option
 * checks, and the AdmissionReview response to good and bad requests.
 * Whole pods and the patch applied by another implementation are in the
 * corpus test (corpus.py).
 */
#include <stdlib.h>
#include <string.h>

#include "mutate.h"

#include "cu.h"

static const struct op_k8s_options opts = { .image = "reg.example/init:1" };

/* JSON text written with ' for " (none of these tests needs a real '). */
static struct op_json *J(const char *s)
{
	char *t = strdup(s);
	struct op_json *v;

	for (char *p = t; *p; p++)
		if (*p == '\'')
			*p = '"';
	v = op_json_parse(t, strlen(t), NULL, NULL);
	if (!v)
		fprintf(stderr, "\ntest JSON does not parse: %s\n", s);
	free(t);
	return v;
}

static char *text(const struct op_json *v)
{
	struct op_buf b = OP_BUF_INIT;

	op_json_write(&b, v, 0);
	return op_buf_detach(&b);
}

/* A pod with containers named by `names` (comma list) and the given annotations. */
static struct op_json *pod(const char *annotations, const char *extra_meta, const char *ctr0)
{
	char buf[4096];

	snprintf(buf, sizeof buf,
		 "{'metadata':{'name':'p','annotations':{%s}%s%s},'spec':{'containers':[%s,"
		 "{'name':'side','image':'s'}]}}",
		 annotations, *extra_meta ? "," : "", extra_meta,
		 *ctr0 ? ctr0 : "{'name':'app','image':'a'}");
	return J(buf);
}

static struct op_json *container(struct op_json *p, size_t i)
{
	return op_json_get(op_json_get(p, "spec"), "containers")->items[i];
}

/* The value of env `name` of container `i`: "(valueFrom)" or NULL when absent. */
static const char *env(struct op_json *p, size_t i, const char *name)
{
	const struct op_json *e = op_json_get(container(p, i), "env");

	for (size_t k = 0; e && e->type == OP_JSON_ARRAY && k < e->len; k++) {
		const char *n = op_json_get_str(e->items[k], "name");

		if (n && !strcmp(n, name))
			return op_json_get(e->items[k], "valueFrom") ? "(valueFrom)"
								     : op_json_get_str(e->items[k], "value");
	}
	return NULL;
}

/* Index of env `name` in container `i`, or -1. */
static long env_index(struct op_json *p, size_t i, const char *name)
{
	const struct op_json *e = op_json_get(container(p, i), "env");

	for (size_t k = 0; e && k < e->len; k++)
		if (!strcmp(op_json_get_str(e->items[k], "name"), name))
			return (long)k;
	return -1;
}

static enum op_k8s_result inject(struct op_json *p, const char *owner, struct op_k8s_notes *n)
{
	return op_k8s_inject(p, owner, &opts, NULL, NULL, n);
}

/* The service name given to a pod with this metadata (NULL: none). */
static char *service_of(const char *meta, const char *owner)
{
	char buf[2048];
	struct op_json *p;
	struct op_k8s_notes n;
	const char *s;
	char *out;

	snprintf(buf, sizeof buf, "{'metadata':{%s},'spec':{'containers':[{'name':'c'}]}}", meta);
	p = J(buf);
	if (!p || inject(p, owner, &n) != OP_K8S_INJECTED) {
		op_json_free(p);
		return strdup("(not injected)");
	}
	s = env(p, 0, "OTEL_SERVICE_NAME");
	out = s ? strdup(s) : NULL;
	op_json_free(p);
	return out;
}

#define SERVICE(meta, owner, want)                   \
	do {                                         \
		char *got_ = service_of(meta, owner); \
		OP_ASSERT_STR(got_, want);           \
		free(got_);                          \
	} while (0)

static void test_service_name(void)
{
	SERVICE("'annotations':{'otelpreload.dev/service-name':'checkout'},"
		"'labels':{'app.kubernetes.io/name':'lbl'},'name':'p'", NULL, "checkout");
	SERVICE("'labels':{'app.kubernetes.io/name':'lbl'},'name':'p'", NULL, "lbl");
	/* An empty annotation or label does not count. */
	SERVICE("'annotations':{'otelpreload.dev/service-name':''},"
		"'labels':{'app.kubernetes.io/name':''},'name':'p'", NULL, "p");
	/* A ReplicaSet names its Deployment, by the pod-template-hash label ... */
	SERVICE("'labels':{'pod-template-hash':'5d9c7b'},'generateName':'web-api-5d9c7b-',"
		"'ownerReferences':[{'kind':'ReplicaSet','name':'web-api-5d9c7b','controller':true}]",
		NULL, "web-api");
	/* ... or by the shape of the hash without it. */
	SERVICE("'ownerReferences':[{'kind':'ReplicaSet','name':'web-7d4b9c8f5d'}]", NULL, "web");
	SERVICE("'ownerReferences':[{'kind':'ReplicaSet','name':'web-server'}]", NULL,
		"web-server");
	SERVICE("'labels':{'pod-template-hash':'abc'},"
		"'ownerReferences':[{'kind':'ReplicaSet','name':'web-7d4b9c8f5d'}]", NULL,
		"web-7d4b9c8f5d");
	/* A Job made by a CronJob names the CronJob. */
	SERVICE("'ownerReferences':[{'kind':'Job','name':'nightly-report-28912345'}]", NULL,
		"nightly-report");
	SERVICE("'ownerReferences':[{'kind':'Job','name':'migrate-2'}]", NULL, "migrate-2");
	SERVICE("'ownerReferences':[{'kind':'StatefulSet','name':'db'}]", NULL, "db");
	/* The controller wins over an earlier reference. */
	SERVICE("'ownerReferences':[{'kind':'ConfigMap','name':'x'},"
		"{'kind':'DaemonSet','name':'agent','controller':true}]", NULL, "agent");
	SERVICE("'generateName':'batch-'", NULL, "batch");
	SERVICE("'name':'solo'", NULL, "solo");
	SERVICE("", NULL, NULL);
	/* A template: the workload's name. */
	SERVICE("'labels':{'app':'x'}", "payments", "payments");
	SERVICE("'labels':{'app.kubernetes.io/name':'lbl'}", "payments", "lbl");
}

static void test_selection_annotation(void)
{
	struct op_json *a;

	OP_ASSERT_INT(op_k8s_inject_annotation(NULL), -1);
	a = J("{'otelpreload.dev/inject':'true'}");
	OP_ASSERT_INT(op_k8s_inject_annotation(a), 1);
	op_json_free(a);
	a = J("{'otelpreload.dev/inject':'False'}");
	OP_ASSERT_INT(op_k8s_inject_annotation(a), 0);
	op_json_free(a);
	a = J("{'otelpreload.dev/inject':'yes'}");
	OP_ASSERT_INT(op_k8s_inject_annotation(a), -1);
	op_json_free(a);
	/* An unquoted YAML true. */
	a = J("{'otelpreload.dev/inject':true}");
	OP_ASSERT_INT(op_k8s_inject_annotation(a), 1);
	op_json_free(a);
	a = J("{'otelpreload.dev/injectx':'true'}");
	OP_ASSERT_INT(op_k8s_inject_annotation(a), -1);
	op_json_free(a);
}

static void test_basic_and_idempotent(void)
{
	struct op_json *p = pod("", "", ""), *ops = op_json_new(OP_JSON_ARRAY);
	struct op_k8s_notes n;
	char *before, *after;
	size_t nops;

	CU_ASSERT_FATAL(p && ops);
	OP_ASSERT_INT(op_k8s_inject(p, NULL, &opts, "", ops, &n), OP_K8S_INJECTED);
	OP_ASSERT_STR(env(p, 0, "LD_PRELOAD"), "/otelpreload/$LIB/libotelpreload.so");
	OP_ASSERT_STR(env(p, 0, "OTEL_SERVICE_NAME"), "p");
	OP_ASSERT_STR(env(p, 0, "OTEL_RESOURCE_ATTRIBUTES"),
		      "k8s.namespace.name=$(OTELPRELOAD_POD_NAMESPACE),"
		      "k8s.pod.name=$(OTELPRELOAD_POD_NAME),k8s.node.name=$(OTELPRELOAD_NODE_NAME),"
		      "k8s.container.name=app");
	/* The downward-API variables come before the value that refers to them. */
	CU_ASSERT(env_index(p, 0, "OTELPRELOAD_POD_NAME") < env_index(p, 0, "OTEL_RESOURCE_ATTRIBUTES"));
	OP_ASSERT_STR(env(p, 0, "OTELPRELOAD_POD_NAME"), "(valueFrom)");
	CU_ASSERT_PTR_NULL(env(p, 0, "OTEL_EXPORTER_OTLP_ENDPOINT"));
	CU_ASSERT_PTR_NULL(env(p, 0, "OTELPRELOAD_IGNORE_PATHS"));
	/* The second container is not touched. */
	CU_ASSERT_PTR_NULL(op_json_get(container(p, 1), "env"));
	CU_ASSERT_PTR_NULL(op_json_get(container(p, 1), "volumeMounts"));
	OP_ASSERT_STR(op_json_get_str(op_json_get(op_json_get(p, "metadata"), "annotations"),
				      "otelpreload.dev/injected"), "app");
	{
		const struct op_json *ic = op_json_get(op_json_get(p, "spec"), "initContainers");

		CU_ASSERT_FATAL(ic && ic->len == 1);
		OP_ASSERT_STR(op_json_get_str(ic->items[0], "name"), "otelpreload-init");
		OP_ASSERT_STR(op_json_get_str(ic->items[0], "image"), "reg.example/init:1");
		CU_ASSERT_PTR_NULL(op_json_get(ic->items[0], "imagePullPolicy"));
	}
	{
		const struct op_json *m = op_json_get(container(p, 0), "volumeMounts");

		CU_ASSERT_FATAL(m && m->len == 1);
		OP_ASSERT_STR(op_json_get_str(m->items[0], "mountPath"), "/otelpreload");
		CU_ASSERT(op_json_get(m->items[0], "readOnly")->type == OP_JSON_TRUE);
	}
	nops = ops->len;
	CU_ASSERT(nops > 5);

	/* Again: nothing changes, no operation is added. */
	before = text(p);
	OP_ASSERT_INT(op_k8s_inject(p, NULL, &opts, "", ops, &n), OP_K8S_UNCHANGED);
	OP_ASSERT_STR(n.why, "already injected");
	OP_ASSERT_INT(ops->len, nops);
	after = text(p);
	OP_ASSERT_STR(after, before);
	free(before);
	free(after);
	op_json_free(ops);
	op_json_free(p);
}

static void test_ops_paths(void)
{
	struct op_json *p = pod("'a':'b'", "", ""), *ops = op_json_new(OP_JSON_ARRAY);
	struct op_k8s_notes n;

	CU_ASSERT_FATAL(p && ops);
	OP_ASSERT_INT(op_k8s_inject(p, NULL, &opts, "/spec/template", ops, &n), OP_K8S_INJECTED);
	/* Escaped annotation key; absent arrays added whole; the base prefixed. */
	OP_ASSERT_STR(op_json_get_str(ops->items[0], "path"),
		      "/spec/template/metadata/annotations/otelpreload.dev~1injected");
	OP_ASSERT_STR(op_json_get_str(ops->items[0], "op"), "add");
	OP_ASSERT_STR(op_json_get_str(ops->items[1], "path"), "/spec/template/spec/volumes");
	OP_ASSERT_STR(op_json_get_str(ops->items[2], "path"), "/spec/template/spec/initContainers");
	OP_ASSERT_STR(op_json_get_str(ops->items[3], "path"),
		      "/spec/template/spec/containers/0/volumeMounts");
	OP_ASSERT_STR(op_json_get_str(ops->items[4], "path"), "/spec/template/spec/containers/0/env");
	OP_ASSERT_STR(op_json_get_str(ops->items[5], "path"),
		      "/spec/template/spec/containers/0/env/-");
	op_json_free(ops);
	op_json_free(p);
}

static void test_ld_preload(void)
{
	struct op_json *p = pod("'otelpreload.dev/libc':'musl'", "",
				"{'name':'app','env':[{'name':'LD_PRELOAD','value':'/usr/lib/libjemalloc.so'}]}");
	struct op_k8s_notes n;

	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	OP_ASSERT_STR(env(p, 0, "LD_PRELOAD"), "/otelpreload/musl/libotelpreload.so:/usr/lib/libjemalloc.so");
	OP_ASSERT_INT(env_index(p, 0, "LD_PRELOAD"), 0);
	OP_ASSERT_INT(n.nwarnings, 0);
	op_json_free(p);

	/* Already listed (by hand): not twice. An unknown libc: $LIB, and a warning. */
	p = pod("'otelpreload.dev/libc':'bionic'", "",
		"{'name':'app','env':[{'name':'LD_PRELOAD','value':'a.so /otelpreload/$LIB/libotelpreload.so'}]}");
	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	OP_ASSERT_STR(env(p, 0, "LD_PRELOAD"), "a.so /otelpreload/$LIB/libotelpreload.so");
	OP_ASSERT_INT(n.nwarnings, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(n.warnings[0], "bionic"));
	op_json_free(p);

	/* An empty value is replaced. */
	p = pod("", "", "{'name':'app','env':[{'name':'LD_PRELOAD','value':''},{'name':'LD_PRELOAD'}]}");
	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	OP_ASSERT_STR(op_json_get_str(op_json_get(container(p, 0), "env")->items[1], "value"),
		      "/otelpreload/$LIB/libotelpreload.so");
	op_json_free(p);
}

static void test_ld_preload_value_from(void)
{
	const char *from = "{'name':'app','env':[{'name':'LD_PRELOAD','valueFrom':"
			   "{'configMapKeyRef':{'name':'c','key':'k'}}}]}";
	struct op_json *p = pod("", "", from);
	struct op_k8s_notes n;
	char *before, *after;

	CU_ASSERT_FATAL(p != NULL);
	before = text(p);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_UNCHANGED);
	OP_ASSERT_STR(n.why, "LD_PRELOAD comes from valueFrom");
	OP_ASSERT_INT(n.nwarnings, 1);
	OP_ASSERT_STR(n.warnings[0], "otelpreload: container \"app\" not injected: its LD_PRELOAD "
		      "comes from valueFrom, which cannot be prepended to");
	after = text(p);
	OP_ASSERT_STR(after, before);
	free(before);
	free(after);
	op_json_free(p);

	/* With both containers selected, the other one is injected. */
	p = pod("'otelpreload.dev/container-names':'app, side'", "", from);
	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	OP_ASSERT_INT(n.nwarnings, 1);
	OP_ASSERT_INT(op_json_get(container(p, 0), "env")->len, 1);
	OP_ASSERT_STR(env(p, 1, "LD_PRELOAD"), "/otelpreload/$LIB/libotelpreload.so");
	OP_ASSERT_STR(op_json_get_str(op_json_get(op_json_get(p, "metadata"), "annotations"),
				      "otelpreload.dev/injected"), "side");
	op_json_free(p);
}

static void test_container_names(void)
{
	struct op_json *p = pod("'otelpreload.dev/container-names':' side ,nope'", "", "");
	struct op_k8s_notes n;

	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	CU_ASSERT_PTR_NULL(op_json_get(container(p, 0), "env"));
	OP_ASSERT_STR(env(p, 1, "OTEL_RESOURCE_ATTRIBUTES"),
		      "k8s.namespace.name=$(OTELPRELOAD_POD_NAMESPACE),"
		      "k8s.pod.name=$(OTELPRELOAD_POD_NAME),k8s.node.name=$(OTELPRELOAD_NODE_NAME),"
		      "k8s.container.name=side");
	OP_ASSERT_INT(n.nwarnings, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(n.warnings[0], "\"nope\""));
	op_json_free(p);

	p = pod("'otelpreload.dev/container-names':'nope'", "", "");
	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_UNCHANGED);
	OP_ASSERT_STR(n.why, "no container of the pod is named in otelpreload.dev/container-names");
	op_json_free(p);
}

static void test_resource_attributes(void)
{
	struct op_json *p = pod("", "",
		"{'name':'app','env':[{'name':'A','value':'1'},{'name':'OTEL_RESOURCE_ATTRIBUTES',"
		"'value':'service.name=mine, k8s.pod.name = fixed'},{'name':'B','value':'$(A)'}]}");
	struct op_k8s_notes n;

	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	/* Its keys win; ours follow; only the variables referred to are added, before it. */
	OP_ASSERT_STR(env(p, 0, "OTEL_RESOURCE_ATTRIBUTES"),
		      "service.name=mine, k8s.pod.name = fixed,"
		      "k8s.namespace.name=$(OTELPRELOAD_POD_NAMESPACE),"
		      "k8s.node.name=$(OTELPRELOAD_NODE_NAME),k8s.container.name=app");
	OP_ASSERT_INT(env_index(p, 0, "OTELPRELOAD_POD_NAMESPACE"), 1);
	OP_ASSERT_INT(env_index(p, 0, "OTELPRELOAD_NODE_NAME"), 2);
	OP_ASSERT_INT(env_index(p, 0, "OTEL_RESOURCE_ATTRIBUTES"), 3);
	OP_ASSERT_INT(env_index(p, 0, "B"), 4);
	OP_ASSERT_INT(env_index(p, 0, "OTELPRELOAD_POD_NAME"), -1);
	/* service.name is set there: no OTEL_SERVICE_NAME to override it. */
	CU_ASSERT_PTR_NULL(env(p, 0, "OTEL_SERVICE_NAME"));
	op_json_free(p);

	/* From valueFrom: left alone. */
	p = pod("", "", "{'name':'app','env':[{'name':'OTEL_RESOURCE_ATTRIBUTES',"
		"'valueFrom':{'secretKeyRef':{'name':'s','key':'k'}}}]}");
	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	OP_ASSERT_STR(env(p, 0, "OTEL_RESOURCE_ATTRIBUTES"), "(valueFrom)");
	OP_ASSERT_INT(env_index(p, 0, "OTELPRELOAD_POD_NAME"), -1);
	OP_ASSERT_STR(env(p, 0, "OTEL_SERVICE_NAME"), "p");
	op_json_free(p);
}

static void test_settings(void)
{
	struct op_json *p = pod("'otelpreload.dev/endpoint':'http://collector:4318',"
				"'otelpreload.dev/protocol':'http/json',"
				"'otelpreload.dev/propagators':'tracecontext,b3',"
				"'otelpreload.dev/sampler':'parentbased_traceidratio',"
				"'otelpreload.dev/sampler-arg':'0.25'", "",
				"{'name':'app','env':[{'name':'OTEL_PROPAGATORS','value':'b3multi'},"
				"{'name':'OTEL_SERVICE_NAME','value':'set'}]}");
	struct op_k8s_options o = opts;
	struct op_k8s_notes n;

	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	OP_ASSERT_STR(env(p, 0, "OTEL_EXPORTER_OTLP_ENDPOINT"), "http://collector:4318");
	OP_ASSERT_STR(env(p, 0, "OTEL_EXPORTER_OTLP_PROTOCOL"), "http/json");
	OP_ASSERT_STR(env(p, 0, "OTEL_PROPAGATORS"), "b3multi");
	OP_ASSERT_STR(env(p, 0, "OTEL_TRACES_SAMPLER"), "parentbased_traceidratio");
	OP_ASSERT_STR(env(p, 0, "OTEL_TRACES_SAMPLER_ARG"), "0.25");
	OP_ASSERT_STR(env(p, 0, "OTEL_SERVICE_NAME"), "set");
	op_json_free(p);

	/* The options' endpoint when there is no annotation; the options' paths. */
	o.default_endpoint = "http://node-agent:4318";
	o.mount_path = "/opt/otel";
	o.volume_size_limit = "50Mi";
	o.image_pull_policy = "IfNotPresent";
	p = pod("", "", "");
	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(op_k8s_inject(p, NULL, &o, NULL, NULL, &n), OP_K8S_INJECTED);
	OP_ASSERT_STR(env(p, 0, "OTEL_EXPORTER_OTLP_ENDPOINT"), "http://node-agent:4318");
	OP_ASSERT_STR(env(p, 0, "LD_PRELOAD"), "/opt/otel/$LIB/libotelpreload.so");
	{
		struct op_json *spec = op_json_get(p, "spec");
		struct op_json *ic = op_json_get(spec, "initContainers")->items[0];
		char *t = text(ic), *v = text(op_json_get(spec, "volumes"));

		OP_ASSERT_STR(t, "{\"name\":\"otelpreload-init\",\"image\":\"reg.example/init:1\","
			      "\"imagePullPolicy\":\"IfNotPresent\","
			      "\"command\":[\"/otelpreload-install\",\"/opt/otel\"],"
			      "\"volumeMounts\":[{\"name\":\"otelpreload\",\"mountPath\":\"/opt/otel\"}],"
			      "\"resources\":{\"requests\":{\"cpu\":\"10m\",\"memory\":\"16Mi\"},"
			      "\"limits\":{\"cpu\":\"500m\",\"memory\":\"64Mi\"}},"
			      "\"securityContext\":{\"allowPrivilegeEscalation\":false,"
			      "\"capabilities\":{\"drop\":[\"ALL\"]},\"privileged\":false,"
			      "\"readOnlyRootFilesystem\":true,\"runAsNonRoot\":true,"
			      "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}}");
		OP_ASSERT_STR(v, "[{\"name\":\"otelpreload\",\"emptyDir\":{\"sizeLimit\":\"50Mi\"}}]");
		free(t);
		free(v);
	}
	op_json_free(p);
}

static void test_probe_paths(void)
{
	struct op_json *p = pod("", "",
		"{'name':'app','livenessProbe':{'httpGet':{'path':'/healthz?verbose=1','port':8080}},"
		"'readinessProbe':{'httpGet':{'path':'ready','port':8080}},"
		"'startupProbe':{'httpGet':{'path':'/','port':8080}}}");
	struct op_k8s_notes n;

	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	/* "/" would hide everything: left out. */
	OP_ASSERT_STR(env(p, 0, "OTELPRELOAD_IGNORE_PATHS"), "/healthz,/ready");
	op_json_free(p);

	/* Merged with the container's value; a path its prefixes cover is not repeated. */
	p = pod("", "",
		"{'name':'app','env':[{'name':'OTELPRELOAD_IGNORE_PATHS','value':'/metrics,/health'}],"
		"'livenessProbe':{'httpGet':{'path':'/healthz','port':80}},"
		"'readinessProbe':{'httpGet':{'path':'/readyz','port':80}},"
		"'startupProbe':{'tcpSocket':{'port':80}}}");
	CU_ASSERT_FATAL(p != NULL);
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	OP_ASSERT_STR(env(p, 0, "OTELPRELOAD_IGNORE_PATHS"), "/metrics,/health,/readyz");
	OP_ASSERT_INT(env_index(p, 0, "OTELPRELOAD_IGNORE_PATHS"), 0);
	op_json_free(p);

	/* Only the container's own probes. */
	p = pod("", "", "");
	CU_ASSERT_FATAL(p != NULL);
	op_json_add(container(p, 1), "livenessProbe", J("{'httpGet':{'path':'/side'}}"));
	OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_INJECTED);
	CU_ASSERT_PTR_NULL(env(p, 0, "OTELPRELOAD_IGNORE_PATHS"));
	op_json_free(p);
}

static void test_left_alone(void)
{
	static const char *const cases[][2] = {
		{ "{'metadata':{},'spec':{'containers':[{'name':'a'}],"
		  "'volumes':[{'name':'otelpreload','emptyDir':{}}]}}",
		  "the pod already has a volume named otelpreload" },
		{ "{'metadata':{},'spec':{'containers':[{'name':'a','volumeMounts':"
		  "[{'name':'x','mountPath':'/otelpreload'}]}]}}",
		  "the mount path is taken" },
		{ "{'metadata':{},'spec':{'containers':[{'name':'otelpreload-init'}]}}",
		  "a container is named otelpreload-init" },
	};
	struct op_k8s_notes n;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct op_json *p = J(cases[i][0]);

		CU_ASSERT_FATAL(p != NULL);
		OP_ASSERT_INT(inject(p, NULL, &n), OP_K8S_UNCHANGED);
		OP_ASSERT_STR(n.why, cases[i][1]);
		op_json_free(p);
	}
}

static void test_malformed_pods(void)
{
	static const char *const bad[][2] = {
		{ "[]", "the pod is not an object" },
		{ "{'metadata':{}}", "the pod has no spec" },
		{ "{'spec':{'containers':[]}}", "spec.containers is not a list of containers" },
		{ "{'spec':{'containers':{}}}", "spec.containers is not a list of containers" },
		{ "{'spec':{'containers':[{'image':'x'}]}}", "a container has no name" },
		{ "{'metadata':[],'spec':{'containers':[{'name':'a'}]}}", "metadata is not an object" },
		{ "{'metadata':{'annotations':'x'},'spec':{'containers':[{'name':'a'}]}}",
		  "metadata.annotations is not an object" },
		{ "{'spec':{'containers':[{'name':'a'}],'volumes':{}}}",
		  "spec.initContainers or spec.volumes is not a list of objects" },
		{ "{'spec':{'containers':[{'name':'a','env':{}}]}}",
		  "a container's env or volumeMounts is not a list of objects" },
		{ "{'spec':{'containers':[{'name':'a','env':[{'value':'x'}]}]}}",
		  "an env entry has no name" },
	};
	struct op_k8s_notes n;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct op_json *p = J(bad[i][0]), *ops = op_json_new(OP_JSON_ARRAY);
		char *before = text(p), *after;
		enum op_k8s_result r = op_k8s_inject(p, NULL, &opts, "", ops, &n);

		/* A container problem found before any change is "unchanged". */
		CU_ASSERT(r == OP_K8S_ERROR || r == OP_K8S_UNCHANGED);
		OP_ASSERT_STR(n.why, bad[i][1]);
		OP_ASSERT_INT(ops->len, 0);
		after = text(p);
		OP_ASSERT_STR(after, before);
		free(before);
		free(after);
		op_json_free(ops);
		op_json_free(p);
	}
}

static void test_options_check(void)
{
	static const char *const bad_paths[] = { "relative", "/", "/a:b", "/a b", "/x/", "/$(X)", "" };
	static const char *const bad_sizes[] = { "200MB", "", "abc", "1.2.3Mi", "-1Mi", "Mi" };
	static const char *const good_sizes[] = { "200Mi", "1G", "0.5Gi", "100000", "500m" };
	struct op_k8s_options o = { 0 };
	char msg[256];

	CU_ASSERT_PTR_NULL(op_k8s_options_check(&o, msg, sizeof msg));
	for (size_t i = 0; i < sizeof bad_paths / sizeof bad_paths[0]; i++) {
		o.mount_path = bad_paths[i];
		CU_ASSERT_PTR_NOT_NULL(op_k8s_options_check(&o, msg, sizeof msg));
		CU_ASSERT_PTR_NOT_NULL(strstr(msg, "mount path"));
	}
	o.mount_path = "/otel/lib";
	CU_ASSERT_PTR_NULL(op_k8s_options_check(&o, msg, sizeof msg));
	for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
		o.volume_size_limit = bad_sizes[i];
		CU_ASSERT_PTR_NOT_NULL(op_k8s_options_check(&o, msg, sizeof msg));
	}
	for (size_t i = 0; i < sizeof good_sizes / sizeof good_sizes[0]; i++) {
		o.volume_size_limit = good_sizes[i];
		CU_ASSERT_PTR_NULL(op_k8s_options_check(&o, msg, sizeof msg));
	}
	o.image_pull_policy = "always";
	CU_ASSERT_PTR_NOT_NULL(op_k8s_options_check(&o, msg, sizeof msg));
	OP_ASSERT_STR(msg, "image pull policy \"always\" is not Always, IfNotPresent or Never");
	o.image_pull_policy = "Never";
	o.image = "a b";
	CU_ASSERT_PTR_NOT_NULL(op_k8s_options_check(&o, msg, sizeof msg));
	o.image = "x";
	o.namespace_annotations = "[1]";
	CU_ASSERT_PTR_NOT_NULL(op_k8s_options_check(&o, msg, sizeof msg));
	o.namespace_annotations = "{\"otelpreload.dev/inject\":\"true\"}";
	CU_ASSERT_PTR_NULL(op_k8s_options_check(&o, msg, sizeof msg));
}

/* ---- AdmissionReview ------------------------------------------------------- */

static int b64val(char c)
{
	const char *abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(abc, c) : NULL;

	return p ? (int)(p - abc) : -1;
}

/* Standard padded base64 to a heap string, NULL when malformed. */
static char *unbase64(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *out;

	if (n % 4)
		return NULL;
	out = malloc(n / 4 * 3 + 1);
	for (size_t i = 0; i < n; i += 4) {
		int a = b64val(s[i]), b = b64val(s[i + 1]), c = b64val(s[i + 2]), d = b64val(s[i + 3]);

		if (a < 0 || b < 0 || (c < 0 && s[i + 2] != '=') || (d < 0 && s[i + 3] != '=')) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(a << 2 | b >> 4);
		if (c >= 0)
			out[o++] = (char)((b & 15) << 4 | c >> 2);
		if (d >= 0)
			out[o++] = (char)((c & 3) << 6 | d);
	}
	out[o] = '\0';
	return out;
}

static const char review_pod[] =
	"{'metadata':{'name':'p','annotations':{'otelpreload.dev/inject':'true'}},"
	"'spec':{'containers':[{'name':'app'}]}}";

/* An AdmissionReview request around `object`, with these fields changed. */
static char *review(const char *api, const char *kind, const char *op, const char *sub,
		    const char *object)
{
	struct op_buf b = OP_BUF_INIT;

	op_buf_addf(&b, "{\"apiVersion\":\"%s\",\"kind\":\"AdmissionReview\",\"request\":{"
		    "\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\","
		    "\"kind\":{\"group\":\"\",\"version\":\"v1\",\"kind\":\"%s\"},"
		    "\"resource\":{\"group\":\"\",\"version\":\"v1\",\"resource\":\"pods\"},"
		    "%s\"namespace\":\"shop\",\"operation\":\"%s\",\"object\":",
		    api, kind, sub, op);
	for (const char *p = object; *p; p++)
		op_buf_addc(&b, *p == '\'' ? '"' : *p);
	op_buf_adds(&b, "}}");
	return op_buf_detach(&b);
}

/* The response to `body`, parsed, its patch decoded into *patch (or NULL). */
static struct op_json *respond(const char *body, size_t len, const struct op_k8s_options *o,
			       const char **why, struct op_json **patch)
{
	size_t out_len;
	char *out = op_k8s_review(body, len, o, &out_len, why);
	struct op_json *resp, *r;
	const char *p64;

	*patch = NULL;
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	OP_ASSERT_INT(strlen(out), out_len);
	resp = op_json_parse(out, out_len, NULL, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(resp);
	free(out);
	OP_ASSERT_STR(op_json_get_str(resp, "apiVersion"), "admission.k8s.io/v1");
	OP_ASSERT_STR(op_json_get_str(resp, "kind"), "AdmissionReview");
	r = op_json_get(resp, "response");
	CU_ASSERT_FATAL(r && op_json_get(r, "allowed") &&
			op_json_get(r, "allowed")->type == OP_JSON_TRUE);
	if ((p64 = op_json_get_str(r, "patch"))) {
		char *raw = unbase64(p64);

		OP_ASSERT_STR(op_json_get_str(r, "patchType"), "JSONPatch");
		CU_ASSERT_PTR_NOT_NULL_FATAL(raw);
		*patch = op_json_parse(raw, strlen(raw), NULL, NULL);
		CU_ASSERT_PTR_NOT_NULL(*patch);
		free(raw);
	} else {
		CU_ASSERT_PTR_NULL(op_json_get(r, "patchType"));
	}
	return resp;
}

static const char *uid_of(const struct op_json *resp)
{
	return op_json_get_str(op_json_get(resp, "response"), "uid");
}

static void test_review_patch(void)
{
	char *body = review("admission.k8s.io/v1", "Pod", "CREATE", "", review_pod);
	struct op_json *patch, *resp;
	const char *why = "unset";

	resp = respond(body, strlen(body), &opts, &why, &patch);
	CU_ASSERT_PTR_NULL(why);
	OP_ASSERT_STR(uid_of(resp), "705ab4f5-6393-11e8-b7cc-42010a800002");
	CU_ASSERT_FATAL(patch && patch->type == OP_JSON_ARRAY && patch->len > 5);
	OP_ASSERT_STR(op_json_get_str(patch->items[0], "path"),
		      "/metadata/annotations/otelpreload.dev~1injected");
	CU_ASSERT_PTR_NULL(op_json_get(op_json_get(resp, "response"), "warnings"));
	op_json_free(patch);
	op_json_free(resp);
	free(body);
}

static void test_review_no_patch(void)
{
	static const struct {
		const char *api, *kind, *op, *sub, *object, *why;
	} cases[] = {
		{ "admission.k8s.io/v1beta1", "Pod", "CREATE", "", review_pod,
		  "the AdmissionReview is not admission.k8s.io/v1" },
		{ "admission.k8s.io/v1", "Deployment", "CREATE", "", review_pod,
		  "the request is not for a Pod" },
		{ "admission.k8s.io/v1", "Pod", "UPDATE", "", review_pod,
		  "the request is not a CREATE" },
		{ "admission.k8s.io/v1", "Pod", "CREATE", "\"subResource\":\"ephemeralcontainers\",",
		  review_pod, "the request is for a subresource" },
		{ "admission.k8s.io/v1", "Pod", "CREATE", "", "null", "the request has no object" },
		{ "admission.k8s.io/v1", "Pod", "CREATE", "",
		  "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'app'}]}}",
		  "the pod is not annotated otelpreload.dev/inject=true" },
		{ "admission.k8s.io/v1", "Pod", "CREATE", "",
		  "{'metadata':{'annotations':{'otelpreload.dev/inject':'false'}},"
		  "'spec':{'containers':[{'name':'app'}]}}",
		  "the pod is annotated otelpreload.dev/inject=false" },
		{ "admission.k8s.io/v1", "Pod", "CREATE", "",
		  "{'metadata':{'annotations':{'otelpreload.dev/inject':'true'}},"
		  "'spec':{'containers':'x'}}",
		  "spec.containers is not a list of containers" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *body = review(cases[i].api, cases[i].kind, cases[i].op, cases[i].sub,
				    cases[i].object);
		const char *why = NULL;
		struct op_json *patch, *resp = respond(body, strlen(body), &opts, &why, &patch);

		CU_ASSERT_PTR_NULL(patch);
		OP_ASSERT_STR(why, cases[i].why);
		OP_ASSERT_STR(uid_of(resp), "705ab4f5-6393-11e8-b7cc-42010a800002");
		op_json_free(patch);
		op_json_free(resp);
		free(body);
	}
}

static void test_review_namespace(void)
{
	const char *plain = "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'app'}]}}";
	const char *no = "{'metadata':{'name':'p','annotations':{'otelpreload.dev/inject':'false'}},"
			 "'spec':{'containers':[{'name':'app'}]}}";
	struct op_k8s_options o = opts;
	char *body;
	const char *why;
	struct op_json *patch, *resp;

	o.namespace_annotations = "{\"otelpreload.dev/inject\":\"true\"}";
	body = review("admission.k8s.io/v1", "Pod", "CREATE", "", plain);
	resp = respond(body, strlen(body), &o, &why, &patch);
	CU_ASSERT_PTR_NOT_NULL(patch);
	CU_ASSERT_PTR_NULL(why);
	op_json_free(patch);
	op_json_free(resp);
	free(body);

	/* The pod's "false" wins over its namespace's "true". */
	body = review("admission.k8s.io/v1", "Pod", "CREATE", "", no);
	resp = respond(body, strlen(body), &o, &why, &patch);
	CU_ASSERT_PTR_NULL(patch);
	OP_ASSERT_STR(why, "the pod is annotated otelpreload.dev/inject=false");
	op_json_free(resp);
	free(body);

	o.namespace_annotations = "{\"otelpreload.dev/inject\":\"false\"}";
	body = review("admission.k8s.io/v1", "Pod", "CREATE", "", plain);
	resp = respond(body, strlen(body), &o, &why, &patch);
	CU_ASSERT_PTR_NULL(patch);
	OP_ASSERT_STR(why, "neither the pod nor its namespace is annotated otelpreload.dev/inject=true");
	op_json_free(resp);
	free(body);
}

static void test_review_namespace_needed(void)
{
	static const struct {
		const char *op, *object;
		bool needed;
	} cases[] = {
		{ "CREATE", "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'app'}]}}", true },
		{ "CREATE", "{'metadata':{'annotations':{'otelpreload.dev/inject':'maybe'}},"
			    "'spec':{'containers':[{'name':'app'}]}}", true },
		{ "CREATE", review_pod, false },
		{ "CREATE", "{'metadata':{'annotations':{'otelpreload.dev/inject':'False'}},"
			    "'spec':{'containers':[{'name':'app'}]}}", false },
		{ "UPDATE", "{'metadata':{'name':'p'},'spec':{'containers':[{'name':'app'}]}}", false },
	};
	char ns[OP_K8S_NAMESPACE_MAX + 1];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *body = review("admission.k8s.io/v1", "Pod", cases[i].op, "", cases[i].object);

		strcpy(ns, "unset");
		CU_ASSERT_EQUAL(op_k8s_review_namespace(body, strlen(body), ns, sizeof ns),
				cases[i].needed);
		OP_ASSERT_STR(ns, cases[i].needed ? "shop" : "unset");
		if (cases[i].needed)
			CU_ASSERT_FALSE(op_k8s_review_namespace(body, strlen(body), ns, 4));
		free(body);
	}

	/* A namespace that is not a DNS label never reaches a URL. */
	{
		static const struct {
			const char *name;
			bool ok;
		} names[] = {
			{ "kube-public", true }, { "a", true },
			{ "a23456789012345678901234567890123456789012345678901234567890123", true },
			{ "", false }, { "Shop", false }, { "a/b", false }, { "..", false },
			{ "-a", false }, { "a-", false }, { "a%2Fb", false },
			{ "a234567890123456789012345678901234567890123456789012345678901234", false },
		};

		for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
			struct op_buf b = OP_BUF_INIT;
			char *body;

			op_buf_addf(&b, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":"
				    "\"AdmissionReview\",\"request\":{\"uid\":\"u\",\"kind\":"
				    "{\"group\":\"\",\"version\":\"v1\",\"kind\":\"Pod\"},"
				    "\"namespace\":\"%s\",\"operation\":\"CREATE\",\"object\":"
				    "{\"metadata\":{},\"spec\":{\"containers\":[]}}}}", names[i].name);
			body = op_buf_detach(&b);
			CU_ASSERT_PTR_NOT_NULL_FATAL(body);
			CU_ASSERT_EQUAL(op_k8s_review_namespace(body, strlen(body), ns, sizeof ns),
					names[i].ok);
			if (names[i].ok)
				OP_ASSERT_STR(ns, names[i].name);
			free(body);
		}
	}
	CU_ASSERT_FALSE(op_k8s_review_namespace("{", 1, ns, sizeof ns));
}

static void test_review_warnings(void)
{
	char *body = review("admission.k8s.io/v1", "Pod", "CREATE", "",
			    "{'metadata':{'annotations':{'otelpreload.dev/inject':'true'}},"
			    "'spec':{'containers':[{'name':'app','env':[{'name':'LD_PRELOAD',"
			    "'valueFrom':{'secretKeyRef':{'name':'s','key':'k'}}}]}]}}");
	const char *why;
	struct op_json *patch, *resp = respond(body, strlen(body), &opts, &why, &patch);
	struct op_json *w = op_json_get(op_json_get(resp, "response"), "warnings");

	CU_ASSERT_PTR_NULL(patch);
	OP_ASSERT_STR(why, "LD_PRELOAD comes from valueFrom");
	CU_ASSERT_FATAL(w && w->type == OP_JSON_ARRAY && w->len == 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(w->items[0]->s, "container \"app\" not injected"));
	op_json_free(resp);
	free(body);
}

static void test_review_malformed(void)
{
	static const char *const bodies[] = {
		"", "{", "null", "[]", "\"x\"", "{\"kind\":\"AdmissionReview\"}",
		"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}",
		"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":[]}",
		"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		"\"request\":{\"uid\":7}}",
		"\xff\xfe",
	};
	const char *why;
	struct op_json *patch, *resp;

	for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		why = NULL;
		resp = respond(bodies[i], strlen(bodies[i]), &opts, &why, &patch);
		CU_ASSERT_PTR_NULL(patch);
		CU_ASSERT_PTR_NOT_NULL(why);
		OP_ASSERT_STR(uid_of(resp), "");
		op_json_free(resp);
	}

	/* A uid that needs escaping is echoed exactly. */
	{
		const char *b = "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
				"\"request\":{\"uid\":\"a\\\"b\\u0001\\u00e9\"}}";

		resp = respond(b, strlen(b), &opts, &why, &patch);
		OP_ASSERT_STR(uid_of(resp), "a\"b\x01\xc3\xa9");
		OP_ASSERT_STR(why, "the request is not for a Pod");
		op_json_free(resp);
	}

	/* Deep nesting and a body over the limit. */
	{
		size_t n = OP_JSON_MAX_BYTES + 2;
		char *big = malloc(n);

		CU_ASSERT_PTR_NOT_NULL_FATAL(big);
		memset(big, '[', n);
		resp = respond(big, 5000, &opts, &why, &patch);
		OP_ASSERT_STR(why, "the body is not JSON");
		op_json_free(resp);
		resp = respond(big, n, &opts, &why, &patch);
		OP_ASSERT_STR(why, "the body is too large");
		op_json_free(resp);
		free(big);
	}
}

int main(void)
{
	CU_TestInfo tests[] = {
		{ "service_name", test_service_name },
		{ "selection_annotation", test_selection_annotation },
		{ "basic_and_idempotent", test_basic_and_idempotent },
		{ "ops_paths", test_ops_paths },
		{ "ld_preload", test_ld_preload },
		{ "ld_preload_value_from", test_ld_preload_value_from },
		{ "container_names", test_container_names },
		{ "resource_attributes", test_resource_attributes },
		{ "settings", test_settings },
		{ "probe_paths", test_probe_paths },
		{ "left_alone", test_left_alone },
		{ "malformed_pods", test_malformed_pods },
		{ "options_check", test_options_check },
		{ "review_patch", test_review_patch },
		{ "review_no_patch", test_review_no_patch },
		{ "review_namespace", test_review_namespace },
		{ "review_namespace_needed", test_review_namespace_needed },
		{ "review_warnings", test_review_warnings },
		{ "review_malformed", test_review_malformed },
		CU_TEST_INFO_NULL,
	};

	return op_cu_run("k8s_mutate", tests);
}
