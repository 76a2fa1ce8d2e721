#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutate.h"
#include "preload/op.h"

#define ANN(name) OP_K8S_ANNOTATION_PREFIX name
#define LIB_NAME "libotelpreload.so"

/*
 * The downward-API variables OTEL_RESOURCE_ATTRIBUTES refers to. Our own
 * prefix, so they cannot collide with the application's variables.
 */
#define VAR_POD_NAME "OTELPRELOAD_POD_NAME"
#define VAR_NAMESPACE "OTELPRELOAD_POD_NAMESPACE"
#define VAR_NODE_NAME "OTELPRELOAD_NODE_NAME"

/*
 * A ReplicaSet's pod-template-hash is a 32-bit hash written in the
 * Kubernetes "safe" alphabet (no vowels, no 0, 1, 3), 5 to 10 characters;
 * only used when the pod lacks the pod-template-hash label.
 */
#define RS_HASH_ALPHABET "bcdfghjklmnpqrstvwxz2456789"
#define RS_HASH_MIN 5
#define RS_HASH_MAX 10

/*
 * A CronJob names its Jobs "<cronjob>-<scheduled time in minutes since the
 * epoch>": 8 digits since 1989.
 */
#define CRONJOB_SUFFIX_MIN_DIGITS 8

/* Most entries of the OTELPRELOAD_IGNORE_PATHS we write (3 probes per container). */
#define MAX_PROBE_PATHS 3

static const struct {
	const char *annotation;
	const char *var;
} otel_settings[] = {
	{ ANN("endpoint"), "OTEL_EXPORTER_OTLP_ENDPOINT" },
	{ ANN("protocol"), "OTEL_EXPORTER_OTLP_PROTOCOL" },
	{ ANN("propagators"), "OTEL_PROPAGATORS" },
	{ ANN("sampler"), "OTEL_TRACES_SAMPLER" },
	{ ANN("sampler-arg"), "OTEL_TRACES_SAMPLER_ARG" },
};

static const char *const probes[] = { "livenessProbe", "readinessProbe", "startupProbe" };

struct ctx {
	const struct op_k8s_options *opt;
	const char *image, *mount_path, *size_limit;
	struct op_json *ops;          /* NULL: nothing recorded */
	struct op_k8s_notes *notes;
	bool oom;
};

static void warn(struct op_k8s_notes *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warn(struct op_k8s_notes *n, const char *fmt, ...)
{
	va_list ap;
	char *w;

	if (n->nwarnings >= OP_K8S_MAX_WARNINGS)
		return;
	w = n->warnings[n->nwarnings++];
	va_start(ap, fmt);
	vsnprintf(w, OP_K8S_WARNING_MAX, fmt, ap);
	va_end(ap);
	for (; *w; w++)
		if ((unsigned char)*w < 0x20 || *w == 0x7f)
			*w = '?';
}

static bool is_obj(const struct op_json *v)
{
	return v && v->type == OP_JSON_OBJECT;
}

/* Absent and null mean the same to the API server. */
static bool absent(const struct op_json *v)
{
	return !v || v->type == OP_JSON_NULL;
}

/* An array of objects, or absent. */
static bool object_list(const struct op_json *v)
{
	if (absent(v))
		return true;
	if (v->type != OP_JSON_ARRAY)
		return false;
	for (size_t i = 0; i < v->len; i++)
		if (!is_obj(v->items[i]))
			return false;
	return true;
}

/* Index of the last element of `list` whose "name" is `name`, or -1. */
static long find_named(const struct op_json *list, const char *name)
{
	if (absent(list) || list->type != OP_JSON_ARRAY)
		return -1;
	for (size_t i = list->len; i-- > 0;) {
		const char *n = op_json_get_str(list->items[i], "name");

		if (n && !strcmp(n, name))
			return (long)i;
	}
	return -1;
}

static const char *annotation_of(const struct op_json *annotations, const char *key)
{
	const struct op_json *v = op_json_get(annotations, key);

	if (!v)
		return NULL;
	/* A YAML `true` not quoted: the API server would refuse it, inject accepts it. */
	if (v->type == OP_JSON_TRUE)
		return "true";
	if (v->type == OP_JSON_FALSE)
		return "false";
	return v->type == OP_JSON_STRING ? v->s : NULL;
}

static const char *annotation(const struct op_json *pod, const char *key)
{
	return annotation_of(op_json_get(op_json_get(pod, "metadata"), "annotations"), key);
}

int op_k8s_inject_annotation(const struct op_json *annotations)
{
	const char *v = annotation_of(annotations, ANN("inject"));

	if (!v)
		return -1;
	if (!strcasecmp(v, "true"))
		return 1;
	if (!strcasecmp(v, "false"))
		return 0;
	return -1;
}

/* ---- recording JSONPatch operations while changing the tree ---------------- */

static void path_key(struct op_buf *b, const char *key)
{
	op_json_ptr_add(b, key, strlen(key));
}

static void path_index(struct op_buf *b, size_t i)
{
	op_buf_addf(b, "/%zu", i);
}

static void path_copy(struct op_buf *dst, const struct op_buf *src)
{
	op_buf_reset(dst);
	op_buf_add(dst, src->p ? src->p : "", src->len);
	if (src->err)
		dst->err = true;
}

static void record(struct ctx *c, const char *op, const struct op_buf *path,
		   const struct op_json *value)
{
	struct op_json *o;

	if (!c->ops || c->oom)
		return;
	if (path->err || !(o = op_json_new(OP_JSON_OBJECT))) {
		c->oom = true;
		return;
	}
	if (!op_json_add(o, "op", op_json_new_strz(op)) ||
	    !op_json_add(o, "path", op_json_new_str(path->p ? path->p : "", path->len)) ||
	    (value && !op_json_add(o, "value", op_json_clone(value)))) {
		op_json_free(o);
		c->oom = true;
		return;
	}
	if (!op_json_push(c->ops, o))
		c->oom = true;
}

/* obj[key] = val (added, or replacing what is there); takes val. */
static void put(struct ctx *c, struct op_json *obj, const struct op_buf *obj_path,
		const char *key, struct op_json *val)
{
	struct op_buf p = OP_BUF_INIT;

	if (!val || c->oom) {
		op_json_free(val);
		c->oom = true;
		return;
	}
	path_copy(&p, obj_path);
	path_key(&p, key);
	record(c, op_json_find(obj, key) >= 0 ? "replace" : "add", &p, val);
	if (!op_json_set(obj, key, val))
		c->oom = true;
	op_buf_free(&p);
}

/*
 * Appends `item` to the array obj[key]; an absent or null array is added
 * whole, since a JSONPatch "add" cannot go through a missing parent.
 */
static void append(struct ctx *c, struct op_json *obj, const struct op_buf *obj_path,
		   const char *key, struct op_json *item)
{
	struct op_json *arr = op_json_get(obj, key);
	struct op_buf p = OP_BUF_INIT;

	if (!item || c->oom) {
		op_json_free(item);
		c->oom = true;
		return;
	}
	if (absent(arr)) {
		struct op_json *a = op_json_new(OP_JSON_ARRAY);

		if (!a || !op_json_push(a, item)) {
			op_json_free(a);
			c->oom = true;
			return;
		}
		put(c, obj, obj_path, key, a);
		return;
	}
	path_copy(&p, obj_path);
	path_key(&p, key);
	op_buf_adds(&p, "/-");
	record(c, "add", &p, item);
	if (!op_json_push(arr, item))
		c->oom = true;
	op_buf_free(&p);
}

/* Inserts `item` at `index` of the array at `arr_path`. */
static void insert(struct ctx *c, struct op_json *arr, const struct op_buf *arr_path,
		   size_t index, struct op_json *item)
{
	struct op_buf p = OP_BUF_INIT;

	if (!item || c->oom) {
		op_json_free(item);
		c->oom = true;
		return;
	}
	path_copy(&p, arr_path);
	path_index(&p, index);
	record(c, "add", &p, item);
	if (!op_json_insert(arr, index, item))
		c->oom = true;
	op_buf_free(&p);
}

/* A tree from JSON text built here (so from our own escaping): NULL when out of memory. */
static struct op_json *from_buf(struct ctx *c, struct op_buf *b)
{
	struct op_json *v = NULL;

	if (!b->err)
		v = op_json_parse(b->p, b->len, NULL, NULL);
	op_buf_free(b);
	if (!v)
		c->oom = true;
	return v;
}

static struct op_json *env_value(struct ctx *c, const char *name, const char *value)
{
	struct op_buf b = OP_BUF_INIT;

	op_buf_adds(&b, "{\"name\":");
	op_json_str(&b, name, strlen(name));
	op_buf_adds(&b, ",\"value\":");
	op_json_str(&b, value, strlen(value));
	op_buf_addc(&b, '}');
	return from_buf(c, &b);
}

static struct op_json *env_field(struct ctx *c, const char *name, const char *field)
{
	struct op_buf b = OP_BUF_INIT;

	op_buf_addf(&b, "{\"name\":\"%s\",\"valueFrom\":{\"fieldRef\":"
		    "{\"apiVersion\":\"v1\",\"fieldPath\":\"%s\"}}}", name, field);
	return from_buf(c, &b);
}

/*
 * The init container. It runs as the image's (numeric, non-root) user
 * rather than a runAsUser of ours, which OpenShift's restricted SCC would
 * refuse; everything else is what Pod Security's "restricted" level asks.
 */
static struct op_json *init_container(struct ctx *c)
{
	struct op_buf b = OP_BUF_INIT;

	op_buf_adds(&b, "{\"name\":\"" OP_K8S_INIT_NAME "\",\"image\":");
	op_json_str(&b, c->image, strlen(c->image));
	if (c->opt->image_pull_policy) {
		op_buf_adds(&b, ",\"imagePullPolicy\":");
		op_json_str(&b, c->opt->image_pull_policy, strlen(c->opt->image_pull_policy));
	}
	op_buf_adds(&b, ",\"command\":[\"/otelpreload-install\",");
	op_json_str(&b, c->mount_path, strlen(c->mount_path));
	op_buf_adds(&b, "],\"volumeMounts\":[{\"name\":\"" OP_K8S_VOLUME_NAME "\",\"mountPath\":");
	op_json_str(&b, c->mount_path, strlen(c->mount_path));
	op_buf_adds(&b, "}],"
		    "\"resources\":{\"requests\":{\"cpu\":\"10m\",\"memory\":\"16Mi\"},"
		    "\"limits\":{\"cpu\":\"500m\",\"memory\":\"64Mi\"}},"
		    "\"securityContext\":{\"allowPrivilegeEscalation\":false,"
		    "\"capabilities\":{\"drop\":[\"ALL\"]},\"privileged\":false,"
		    "\"readOnlyRootFilesystem\":true,\"runAsNonRoot\":true,"
		    "\"seccompProfile\":{\"type\":\"RuntimeDefault\"}}}");
	return from_buf(c, &b);
}

static struct op_json *volume(struct ctx *c)
{
	struct op_buf b = OP_BUF_INIT;

	op_buf_adds(&b, "{\"name\":\"" OP_K8S_VOLUME_NAME "\",\"emptyDir\":{\"sizeLimit\":");
	op_json_str(&b, c->size_limit, strlen(c->size_limit));
	op_buf_adds(&b, "}}");
	return from_buf(c, &b);
}

static struct op_json *mount(struct ctx *c)
{
	struct op_buf b = OP_BUF_INIT;

	op_buf_adds(&b, "{\"name\":\"" OP_K8S_VOLUME_NAME "\",\"mountPath\":");
	op_json_str(&b, c->mount_path, strlen(c->mount_path));
	op_buf_adds(&b, ",\"readOnly\":true}");
	return from_buf(c, &b);
}

/* ---- the service name ------------------------------------------------------- */

static bool all_in(const char *s, size_t len, const char *set)
{
	for (size_t i = 0; i < len; i++)
		if (!s[i] || !strchr(set, s[i]))
			return false;
	return true;
}

/* Copies `name` into <out, size> without its last `cut` bytes. */
static const char *cut_name(const char *name, size_t cut, char *out, size_t size)
{
	snprintf(out, size, "%.*s", (int)(strlen(name) - cut), name);
	return out;
}

/*
 * The Deployment behind a ReplicaSet "web-7d4b9c8f5d": the pod's
 * pod-template-hash label says which suffix to drop; without it, a last
 * segment that looks like such a hash is dropped.
 */
static const char *deployment_of(const char *rs, const struct op_json *labels, char *out,
				 size_t size)
{
	const char *hash = op_json_get_str(labels, "pod-template-hash");
	const char *dash = strrchr(rs, '-');
	size_t n = strlen(rs);

	if (hash && *hash) {
		size_t h = strlen(hash);

		if (n > h + 1 && rs[n - h - 1] == '-' && !strcmp(rs + n - h, hash))
			return cut_name(rs, h + 1, out, size);
		return rs;
	}
	if (dash && dash != rs) {
		size_t h = strlen(dash + 1);

		if (h >= RS_HASH_MIN && h <= RS_HASH_MAX && all_in(dash + 1, h, RS_HASH_ALPHABET))
			return cut_name(rs, h + 1, out, size);
	}
	return rs;
}

/* The CronJob behind a Job "backup-28391520", or the Job's own name. */
static const char *cronjob_of(const char *job, char *out, size_t size)
{
	const char *dash = strrchr(job, '-');

	if (dash && dash != job) {
		size_t d = strlen(dash + 1);

		if (d >= CRONJOB_SUFFIX_MIN_DIGITS && all_in(dash + 1, d, "0123456789"))
			return cut_name(job, d + 1, out, size);
	}
	return job;
}

/* The controlling owner reference, else the first one with a name. */
static const struct op_json *owner_ref(const struct op_json *meta)
{
	const struct op_json *refs = op_json_get(meta, "ownerReferences"), *first = NULL;

	if (!refs || refs->type != OP_JSON_ARRAY)
		return NULL;
	for (size_t i = 0; i < refs->len; i++) {
		const struct op_json *r = refs->items[i];
		const struct op_json *ctl = op_json_get(r, "controller");

		if (!op_json_get_str(r, "name") || !*op_json_get_str(r, "name"))
			continue;
		if (ctl && ctl->type == OP_JSON_TRUE)
			return r;
		if (!first)
			first = r;
	}
	return first;
}

/*
 * OTEL_SERVICE_NAME: the service-name annotation, else the
 * app.kubernetes.io/name label, else the owning workload's name, else the
 * pod's name (or its generateName without the trailing '-'). NULL when
 * there is none. <out, size> holds a shortened name.
 */
static const char *service_name(const struct op_json *pod, const char *owner, char *out,
				size_t size)
{
	const struct op_json *meta = op_json_get(pod, "metadata");
	const struct op_json *labels = op_json_get(meta, "labels");
	const struct op_json *ref;
	const char *v;

	if ((v = annotation(pod, ANN("service-name"))) && *v)
		return v;
	if ((v = op_json_get_str(labels, "app.kubernetes.io/name")) && *v)
		return v;
	if (owner && *owner)
		return owner;
	if ((ref = owner_ref(meta))) {
		const char *kind = op_json_get_str(ref, "kind");
		const char *name = op_json_get_str(ref, "name");

		if (kind && !strcmp(kind, "ReplicaSet"))
			return deployment_of(name, labels, out, size);
		if (kind && !strcmp(kind, "Job"))
			return cronjob_of(name, out, size);
		return name;
	}
	if ((v = op_json_get_str(meta, "name")) && *v)
		return v;
	if ((v = op_json_get_str(meta, "generateName")) && *v) {
		size_t n = strlen(v);

		while (n && (v[n - 1] == '-' || v[n - 1] == '.'))
			n--;
		if (n) {
			snprintf(out, size, "%.*s", (int)n, v);
			return out;
		}
	}
	return NULL;
}

/* ---- comma lists ------------------------------------------------------------ */

/* Whether the OTEL_RESOURCE_ATTRIBUTES value `list` sets `key`. */
static bool has_attribute(const char *list, const char *key)
{
	size_t len, klen = strlen(key);
	const char *item;

	while ((item = op_list_next(&list, &len))) {
		const char *eq = memchr(item, '=', len);
		size_t n = eq ? (size_t)(eq - item) : len;

		while (n && isspace((unsigned char)item[n - 1]))
			n--;
		if (n == klen && !memcmp(item, key, klen))
			return true;
	}
	return false;
}

/* Whether an entry of the path-prefix list `list` is a prefix of <path, len>. */
static bool path_covered(const char *list, const char *path, size_t plen)
{
	size_t len;
	const char *item;

	while ((item = op_list_next(&list, &len)))
		if (len && len <= plen && !memcmp(item, path, len))
			return true;
	return false;
}

/* Whether the LD_PRELOAD value `list` names `lib` (separated by ':' or blanks). */
static bool preload_has(const char *list, const char *lib)
{
	size_t n = strlen(lib);

	for (const char *p = list; (p = strstr(p, lib)); p++)
		if ((p == list || strchr(": \t", p[-1])) && (!p[n] || strchr(": \t", p[n])))
			return true;
	return false;
}

/* ---- one container ------------------------------------------------------------ */

/*
 * Why container `ctr` cannot be injected (a warning is added), or NULL.
 * Checks what cannot change half way: the env list and mounts are lists of
 * objects, LD_PRELOAD is not from valueFrom, the mount path is free.
 */
static const char *container_problem(struct ctx *c, const struct op_json *ctr)
{
	const char *name = op_json_get_str(ctr, "name");
	const struct op_json *env = op_json_get(ctr, "env");
	const struct op_json *mounts = op_json_get(ctr, "volumeMounts");
	long i;

	if (!object_list(env) || !object_list(mounts))
		return "a container's env or volumeMounts is not a list of objects";
	for (size_t k = 0; !absent(env) && k < env->len; k++)
		if (!op_json_get_str(env->items[k], "name"))
			return "an env entry has no name";
	if ((i = find_named(env, "LD_PRELOAD")) >= 0 &&
	    !absent(op_json_get(env->items[i], "valueFrom"))) {
		warn(c->notes, "otelpreload: container \"%s\" not injected: its LD_PRELOAD "
		     "comes from valueFrom, which cannot be prepended to", name);
		return "LD_PRELOAD comes from valueFrom";
	}
	for (size_t k = 0; !absent(mounts) && k < mounts->len; k++) {
		const char *mp = op_json_get_str(mounts->items[k], "mountPath");

		if (mp && !strcmp(mp, c->mount_path)) {
			warn(c->notes, "otelpreload: container \"%s\" not injected: it already "
			     "mounts a volume at %s", name, c->mount_path);
			return "the mount path is taken";
		}
	}
	return NULL;
}

/* The env entry at `i` as a C string value, or NULL when it has none (or valueFrom). */
static const char *env_str(const struct op_json *env, long i)
{
	const struct op_json *e;

	if (i < 0)
		return NULL;
	e = env->items[i];
	if (!absent(op_json_get(e, "valueFrom")))
		return NULL;
	return op_json_get_str(e, "value");
}

static bool env_from(const struct op_json *env, long i)
{
	return i >= 0 && !absent(op_json_get(env->items[i], "valueFrom"));
}

/* Sets the value of env entry `i` (replacing it in place). */
static void set_env_value(struct ctx *c, struct op_json *env, const struct op_buf *env_path,
			  long i, const char *value)
{
	struct op_buf p = OP_BUF_INIT;

	path_copy(&p, env_path);
	path_index(&p, (size_t)i);
	put(c, env->items[i], &p, "value", op_json_new_strz(value));
	op_buf_free(&p);
}

/* The entries of OTELPRELOAD_IGNORE_PATHS for the container's HTTP probes, into `out`. */
static void probe_paths(const struct op_json *ctr, const char *existing, struct op_buf *out)
{
	for (size_t k = 0; k < sizeof probes / sizeof probes[0]; k++) {
		const struct op_json *get = op_json_get(op_json_get(ctr, probes[k]), "httpGet");
		const char *path = op_json_get_str(get, "path");
		char norm[OP_K8S_WARNING_MAX];
		size_t n;

		if (!path)
			continue;
		/* The kubelet sends "healthz" as "/healthz"; the query is not part of the path. */
		n = strcspn(path, "?#");
		snprintf(norm, sizeof norm, "%s%.*s", path[0] == '/' ? "" : "/", (int)n, path);
		n = strlen(norm);
		/* "/" would hide every request; a comma or blank cannot go in the list. */
		if (n <= 1 || n >= sizeof norm - 1 || strpbrk(norm, ", \t\r\n"))
			continue;
		if ((existing && path_covered(existing, norm, n)) ||
		    (out->p && path_covered(out->p, norm, n)))
			continue;
		if (out->len)
			op_buf_addc(out, ',');
		op_buf_add(out, norm, n);
	}
}

static void inject_env(struct ctx *c, const struct op_json *pod, struct op_json *ctr,
		       const struct op_buf *ctr_path, const char *service)
{
	const char *name = op_json_get_str(ctr, "name");
	struct op_json *env;
	struct op_buf env_path = OP_BUF_INIT, v = OP_BUF_INIT;
	const char *libc = annotation(pod, ANN("libc")), *dir = "$LIB", *s;
	char lib[OP_K8S_WARNING_MAX];
	long i, ra;

	path_copy(&env_path, ctr_path);
	path_key(&env_path, "env");

	if (libc && (!strcmp(libc, "glibc") || !strcmp(libc, "musl")))
		dir = libc;
	else if (libc && *libc)
		warn(c->notes, "otelpreload: annotation " ANN("libc") "=\"%.40s\" is not glibc "
		     "or musl; LD_PRELOAD picks the build by $LIB", libc);
	snprintf(lib, sizeof lib, "%s/%s/" LIB_NAME, c->mount_path, dir);

	/* LD_PRELOAD: ours first, the container's after it. */
	env = op_json_get(ctr, "env");
	i = find_named(env, "LD_PRELOAD");
	s = env_str(env, i);
	if (s && *s && !preload_has(s, lib)) {
		op_buf_adds(&v, lib);
		op_buf_addc(&v, ':');
		op_buf_adds(&v, s);
		if (v.err)
			c->oom = true;
		else
			set_env_value(c, env, &env_path, i, v.p);
	} else if (i >= 0 && !(s && *s)) {
		set_env_value(c, env, &env_path, i, lib);
	} else if (i < 0) {
		append(c, ctr, ctr_path, "env", env_value(c, "LD_PRELOAD", lib));
	}

	/* OTEL_SERVICE_NAME, unless set, or service.name in OTEL_RESOURCE_ATTRIBUTES. */
	env = op_json_get(ctr, "env");
	ra = find_named(env, "OTEL_RESOURCE_ATTRIBUTES");
	s = env_str(env, ra);
	if (service && find_named(env, "OTEL_SERVICE_NAME") < 0 &&
	    !(s && has_attribute(s, "service.name")))
		append(c, ctr, ctr_path, "env", env_value(c, "OTEL_SERVICE_NAME", service));

	for (size_t k = 0; k < sizeof otel_settings / sizeof otel_settings[0]; k++) {
		const char *a = annotation(pod, otel_settings[k].annotation);

		if (!(a && *a) && k == 0)
			a = c->opt->default_endpoint;
		if (!(a && *a) || find_named(op_json_get(ctr, "env"), otel_settings[k].var) >= 0)
			continue;
		append(c, ctr, ctr_path, "env", env_value(c, otel_settings[k].var, a));
	}

	/* OTELPRELOAD_IGNORE_PATHS: the probes' paths after the container's own. */
	env = op_json_get(ctr, "env");
	i = find_named(env, "OTELPRELOAD_IGNORE_PATHS");
	if (!env_from(env, i)) {
		const char *old = env_str(env, i);

		op_buf_reset(&v);
		probe_paths(ctr, old, &v);
		if (v.err) {
			c->oom = true;
		} else if (v.len && old && *old) {
			struct op_buf merged = OP_BUF_INIT;

			op_buf_adds(&merged, old);
			op_buf_addc(&merged, ',');
			op_buf_add(&merged, v.p, v.len);
			if (merged.err)
				c->oom = true;
			else
				set_env_value(c, env, &env_path, i, merged.p);
			op_buf_free(&merged);
		} else if (v.len && i >= 0) {
			set_env_value(c, env, &env_path, i, v.p);
		} else if (v.len) {
			append(c, ctr, ctr_path, "env", env_value(c, "OTELPRELOAD_IGNORE_PATHS", v.p));
		}
	}

	/*
	 * OTEL_RESOURCE_ATTRIBUTES: the container's value keeps its keys, ours
	 * follow for the keys it does not set. Kubernetes expands $(VAR) only
	 * for variables defined earlier in the list, so the downward-API
	 * variables go right before it.
	 */
	env = op_json_get(ctr, "env");
	ra = find_named(env, "OTEL_RESOURCE_ATTRIBUTES");
	if (!env_from(env, ra)) {
		static const struct {
			const char *key, *var, *field;
		} attrs[] = {
			{ "k8s.namespace.name", VAR_NAMESPACE, "metadata.namespace" },
			{ "k8s.pod.name", VAR_POD_NAME, "metadata.name" },
			{ "k8s.node.name", VAR_NODE_NAME, "spec.nodeName" },
		};
		const char *old = env_str(env, ra);
		size_t at = ra >= 0 ? (size_t)ra : 0;

		op_buf_reset(&v);
		if (old && *old)
			op_buf_adds(&v, old);
		for (size_t k = 0; k < sizeof attrs / sizeof attrs[0]; k++) {
			if (old && has_attribute(old, attrs[k].key))
				continue;
			if (find_named(op_json_get(ctr, "env"), attrs[k].var) < 0) {
				if (ra >= 0)
					insert(c, op_json_get(ctr, "env"), &env_path, at++,
					       env_field(c, attrs[k].var, attrs[k].field));
				else
					append(c, ctr, ctr_path, "env",
					       env_field(c, attrs[k].var, attrs[k].field));
			}
			op_buf_addf(&v, "%s%s=$(%s)", v.len ? "," : "", attrs[k].key, attrs[k].var);
		}
		if (!(old && has_attribute(old, "k8s.container.name")))
			op_buf_addf(&v, "%sk8s.container.name=%s", v.len ? "," : "", name);
		if (v.err)
			c->oom = true;
		else if (ra >= 0 && strcmp(v.p ? v.p : "", old ? old : ""))
			set_env_value(c, op_json_get(ctr, "env"), &env_path, (long)at, v.p);
		else if (ra < 0)
			append(c, ctr, ctr_path, "env",
			       env_value(c, "OTEL_RESOURCE_ATTRIBUTES", v.p));
	}
	op_buf_free(&v);
	op_buf_free(&env_path);
}

/* ---- the pod ---------------------------------------------------------------------- */

/* Whether the pod's structure is what the mutation walks through. */
static const char *pod_problem(const struct op_json *pod)
{
	const struct op_json *meta = op_json_get(pod, "metadata");
	const struct op_json *spec = op_json_get(pod, "spec");
	const struct op_json *ctrs = op_json_get(spec, "containers");

	if (!is_obj(pod))
		return "the pod is not an object";
	if (!absent(meta) && !is_obj(meta))
		return "metadata is not an object";
	if (!absent(op_json_get(meta, "annotations")) && !is_obj(op_json_get(meta, "annotations")))
		return "metadata.annotations is not an object";
	if (!is_obj(spec))
		return "the pod has no spec";
	if (absent(ctrs) || !object_list(ctrs) || !ctrs->len)
		return "spec.containers is not a list of containers";
	for (size_t i = 0; i < ctrs->len; i++)
		if (!op_json_get_str(ctrs->items[i], "name"))
			return "a container has no name";
	if (!object_list(op_json_get(spec, "initContainers")) ||
	    !object_list(op_json_get(spec, "volumes")))
		return "spec.initContainers or spec.volumes is not a list of objects";
	return NULL;
}

/*
 * Marks in `selected` the containers otelpreload.dev/container-names names
 * (default: the first); returns how many.
 */
static size_t select_containers(struct ctx *c, const struct op_json *pod,
				const struct op_json *ctrs, bool *selected)
{
	const char *list = annotation(pod, ANN("container-names")), *item;
	size_t n = 0, len;

	if (!list || !list[strspn(list, " \t,")]) {
		selected[0] = true;
		return 1;
	}
	while ((item = op_list_next(&list, &len))) {
		size_t i;

		if (!len)
			continue;
		for (i = 0; i < ctrs->len; i++) {
			const char *name = op_json_get_str(ctrs->items[i], "name");

			if (strlen(name) == len && !memcmp(name, item, len))
				break;
		}
		if (i == ctrs->len)
			warn(c->notes, "otelpreload: annotation " ANN("container-names")
			     " names \"%.*s\", which is not a container of the pod",
			     (int)(len > 63 ? 63 : len), item);
		else if (!selected[i])
			selected[i] = true, n++;
	}
	return n;
}

/* Mutates `pod` (a private copy): the caller keeps it only when this returns NULL. */
static const char *mutate(struct ctx *c, struct op_json *pod, const char *owner,
			  const char *base)
{
	struct op_json *spec = op_json_get(pod, "spec");
	struct op_json *ctrs = op_json_get(spec, "containers");
	struct op_buf path = OP_BUF_INIT, names = OP_BUF_INIT;
	const char *why = NULL, *service;
	char short_name[OP_K8S_WARNING_MAX];
	bool *selected;
	size_t n = 0;

	if (find_named(op_json_get(spec, "initContainers"), OP_K8S_INIT_NAME) >= 0)
		return "already injected";
	if (find_named(op_json_get(spec, "volumes"), OP_K8S_VOLUME_NAME) >= 0) {
		warn(c->notes, "otelpreload: not injected: the pod already has a volume named "
		     OP_K8S_VOLUME_NAME);
		return "the pod already has a volume named " OP_K8S_VOLUME_NAME;
	}
	if (find_named(ctrs, OP_K8S_INIT_NAME) >= 0)
		return "a container is named " OP_K8S_INIT_NAME;

	if (!(selected = calloc(ctrs->len, sizeof *selected))) {
		c->oom = true;
		return "out of memory";
	}
	if (!select_containers(c, pod, ctrs, selected))
		why = "no container of the pod is named in " ANN("container-names");
	for (size_t i = 0; i < ctrs->len; i++) {
		const char *problem;

		if (selected[i] && (problem = container_problem(c, ctrs->items[i]))) {
			selected[i] = false;
			why = problem;
		}
		if (selected[i]) {
			if (n++)
				op_buf_addc(&names, ',');
			op_buf_adds(&names, op_json_get_str(ctrs->items[i], "name"));
		}
	}
	if (!n)
		goto out;
	why = NULL;
	service = service_name(pod, owner, short_name, sizeof short_name);

	{
		struct op_json *meta = op_json_get(pod, "metadata");
		struct op_json *ann = op_json_get(meta, "annotations");
		struct op_json *o = NULL;

		op_buf_adds(&path, base);
		if (absent(meta)) {
			if (!(o = op_json_new(OP_JSON_OBJECT)) ||
			    !op_json_add(o, "annotations", op_json_new(OP_JSON_OBJECT)))
				c->oom = true;
			put(c, pod, &path, "metadata", o);
			meta = op_json_get(pod, "metadata");
			ann = op_json_get(meta, "annotations");
			path_key(&path, "metadata");
		} else {
			path_key(&path, "metadata");
			if (absent(ann)) {
				put(c, meta, &path, "annotations", op_json_new(OP_JSON_OBJECT));
				ann = op_json_get(meta, "annotations");
			}
		}
		if (c->oom || names.err) {
			c->oom = true;
			goto out;
		}
		/* The annotation objects were recorded empty: set the key on its own. */
		path_key(&path, "annotations");
		put(c, ann, &path, ANN("injected"), op_json_new_str(names.p, names.len));
	}

	op_buf_reset(&path);
	op_buf_adds(&path, base);
	path_key(&path, "spec");
	append(c, spec, &path, "volumes", volume(c));
	append(c, spec, &path, "initContainers", init_container(c));

	for (size_t i = 0; i < ctrs->len && !c->oom; i++) {
		struct op_buf cpath = OP_BUF_INIT;

		if (!selected[i])
			continue;
		path_copy(&cpath, &path);
		path_key(&cpath, "containers");
		path_index(&cpath, i);
		append(c, ctrs->items[i], &cpath, "volumeMounts", mount(c));
		inject_env(c, pod, ctrs->items[i], &cpath, service);
		op_buf_free(&cpath);
	}
out:
	free(selected);
	op_buf_free(&path);
	op_buf_free(&names);
	if (c->oom)
		return "out of memory";
	return why;
}

enum op_k8s_result op_k8s_inject(struct op_json *pod, const char *owner,
				 const struct op_k8s_options *opt, const char *base,
				 struct op_json *ops, struct op_k8s_notes *notes)
{
	struct ctx c = { .opt = opt, .notes = notes, .ops = ops };
	size_t ops_before = ops ? ops->len : 0;
	struct op_json *copy;
	const char *why;
	char msg[OP_K8S_WARNING_MAX];

	memset(notes, 0, sizeof *notes);
	if (op_k8s_options_check(opt, msg, sizeof msg)) {
		notes->why = "the options are not valid";
		return OP_K8S_ERROR;
	}
	if ((why = pod_problem(pod))) {
		notes->why = why;
		return OP_K8S_ERROR;
	}
	c.image = opt->image ? opt->image : OP_K8S_DEFAULT_IMAGE;
	c.mount_path = opt->mount_path ? opt->mount_path : OP_K8S_DEFAULT_MOUNT_PATH;
	c.size_limit = opt->volume_size_limit ? opt->volume_size_limit : OP_K8S_DEFAULT_SIZE_LIMIT;

	/* Work on a copy, so that any failure leaves the pod as it was. */
	if (!(copy = op_json_clone(pod))) {
		notes->why = "out of memory";
		return OP_K8S_ERROR;
	}
	why = mutate(&c, copy, owner, base ? base : "");
	if (why) {
		while (ops && ops->len > ops_before)
			op_json_free(ops->items[--ops->len]);
		op_json_free(copy);
		notes->why = why;
		return c.oom ? OP_K8S_ERROR : OP_K8S_UNCHANGED;
	}
	op_json_swap(pod, copy);
	op_json_free(copy);
	return OP_K8S_INJECTED;
}

/* ---- options ---------------------------------------------------------------------- */

static bool has_blank_or_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A Kubernetes quantity in the forms people write: "200Mi", "1G", "0.5Gi", "100000". */
static bool quantity_valid(const char *s)
{
	static const char *const suffixes[] = {
		"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E",
	};
	size_t digits = 0, dots = 0;

	for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
		if (*s == '.')
			dots++;
		else
			digits++;
	}
	if (!digits || dots > 1)
		return false;
	for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
		if (!strcmp(s, suffixes[i]))
			return true;
	return false;
}

const char *op_k8s_options_check(const struct op_k8s_options *opt, char *msg, size_t size)
{
	const char *image = opt->image ? opt->image : OP_K8S_DEFAULT_IMAGE;
	const char *mp = opt->mount_path ? opt->mount_path : OP_K8S_DEFAULT_MOUNT_PATH;
	const char *size_limit = opt->volume_size_limit ? opt->volume_size_limit
							: OP_K8S_DEFAULT_SIZE_LIMIT;
	const char *pp = opt->image_pull_policy;

	if (!*image || has_blank_or_control(image)) {
		snprintf(msg, size, "image \"%.100s\" is empty or has a blank", image);
		return msg;
	}
	if (mp[0] != '/' || !mp[1] || mp[strlen(mp) - 1] == '/' || strpbrk(mp, ":$,") ||
	    has_blank_or_control(mp) || strlen(mp) > OP_K8S_WARNING_MAX / 2) {
		snprintf(msg, size, "mount path \"%.100s\" is not an absolute directory usable in "
			 "LD_PRELOAD (no ':', '$', ',' or blank, no trailing '/')", mp);
		return msg;
	}
	if (!quantity_valid(size_limit)) {
		snprintf(msg, size, "volume size limit \"%.100s\" is not a quantity such as 200Mi",
			 size_limit);
		return msg;
	}
	if (pp && strcmp(pp, "Always") && strcmp(pp, "IfNotPresent") && strcmp(pp, "Never")) {
		snprintf(msg, size, "image pull policy \"%.100s\" is not Always, IfNotPresent or "
			 "Never", pp);
		return msg;
	}
	if (opt->default_endpoint && has_blank_or_control(opt->default_endpoint)) {
		snprintf(msg, size, "endpoint \"%.100s\" has a blank", opt->default_endpoint);
		return msg;
	}
	if (opt->namespace_annotations) {
		struct op_json *ns = op_json_parse(opt->namespace_annotations,
						   strlen(opt->namespace_annotations), NULL, NULL);
		bool ok = is_obj(ns);

		op_json_free(ns);
		if (!ok) {
			snprintf(msg, size, "namespace annotations are not a JSON object");
			return msg;
		}
	}
	return NULL;
}

/* ---- the AdmissionReview --------------------------------------------------------- */

static const char *review_problem(const struct op_json *doc, const struct op_json *req)
{
	const struct op_json *kind = op_json_get(req, "kind");
	const char *v;

	if (!is_obj(doc))
		return "the body is not a JSON object";
	if (!(v = op_json_get_str(doc, "kind")) || strcmp(v, "AdmissionReview"))
		return "the body is not an AdmissionReview";
	if (!(v = op_json_get_str(doc, "apiVersion")) || strcmp(v, "admission.k8s.io/v1"))
		return "the AdmissionReview is not admission.k8s.io/v1";
	if (!is_obj(req))
		return "the AdmissionReview has no request";
	if (!op_json_get_str(req, "uid"))
		return "the request has no uid";
	if (!(v = op_json_get_str(kind, "kind")) || strcmp(v, "Pod") ||
	    !(v = op_json_get_str(kind, "group")) || *v)
		return "the request is not for a Pod";
	if ((v = op_json_get_str(req, "subResource")) && *v)
		return "the request is for a subresource";
	if (!(v = op_json_get_str(req, "operation")) || strcmp(v, "CREATE"))
		return "the request is not a CREATE";
	if (!is_obj(op_json_get(req, "object")))
		return "the request has no object";
	return NULL;
}

/* Whether the pod is selected: its own annotation, else its namespace's. */
static const char *not_selected(const struct op_json *pod, const struct op_k8s_options *opt)
{
	int own = op_k8s_inject_annotation(op_json_get(op_json_get(pod, "metadata"),
						       "annotations"));
	struct op_json *ns;
	int theirs;

	if (own == 1)
		return NULL;
	if (own == 0)
		return "the pod is annotated " ANN("inject") "=false";
	if (!opt->namespace_annotations)
		return "the pod is not annotated " ANN("inject") "=true";
	ns = op_json_parse(opt->namespace_annotations, strlen(opt->namespace_annotations),
			   NULL, NULL);
	theirs = op_k8s_inject_annotation(ns);
	op_json_free(ns);
	return theirs == 1 ? NULL
			   : "neither the pod nor its namespace is annotated " ANN("inject") "=true";
}

static bool is_dns_label(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > OP_K8S_NAMESPACE_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

bool op_k8s_review_namespace(const char *body, size_t len, char *ns, size_t size)
{
	struct op_json *doc = op_json_parse(body, len, NULL, NULL);
	struct op_json *req = op_json_get(doc, "request");
	const struct op_json *pod = op_json_get(req, "object");
	const char *name = op_json_get_str(req, "namespace");
	bool depends = doc && !review_problem(doc, req) && name && is_dns_label(name) &&
		       size > strlen(name) &&
		       op_k8s_inject_annotation(op_json_get(op_json_get(pod, "metadata"),
							    "annotations")) == -1;

	if (depends)
		memcpy(ns, name, strlen(name) + 1);
	op_json_free(doc);
	return depends;
}

char *op_k8s_review(const char *body, size_t len, const struct op_k8s_options *opt,
		    size_t *out_len, const char **why)
{
	struct op_json *doc = op_json_parse(body, len, NULL, NULL);
	struct op_json *req = op_json_get(doc, "request"), *ops = NULL;
	struct op_k8s_notes notes;
	struct op_buf b = OP_BUF_INIT, patch = OP_BUF_INIT;
	const char *uid = op_json_get_str(req, "uid"), *reason;
	char *out;

	memset(&notes, 0, sizeof notes);
	if (!doc)
		reason = len > OP_JSON_MAX_BYTES ? "the body is too large" : "the body is not JSON";
	else if (!(reason = review_problem(doc, req)) &&
		 !(reason = not_selected(op_json_get(req, "object"), opt))) {
		if (!(ops = op_json_new(OP_JSON_ARRAY)))
			reason = "out of memory";
		else if (op_k8s_inject(op_json_get(req, "object"), NULL, opt, "", ops, &notes) !=
			 OP_K8S_INJECTED)
			reason = notes.why;
	}

	op_buf_adds(&b, "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
		    "\"response\":{\"uid\":");
	op_json_str(&b, uid ? uid : "", uid ? strlen(uid) : 0);
	op_buf_adds(&b, ",\"allowed\":true");
	if (!reason) {
		op_json_write(&patch, ops, 0);
		if (patch.err) {
			reason = "out of memory";
		} else {
			op_buf_adds(&b, ",\"patchType\":\"JSONPatch\",\"patch\":\"");
			op_base64(&b, patch.p, patch.len);
			op_buf_addc(&b, '"');
		}
	}
	for (size_t i = 0; i < notes.nwarnings; i++) {
		op_buf_adds(&b, i ? "," : ",\"warnings\":[");
		op_json_str(&b, notes.warnings[i], strlen(notes.warnings[i]));
	}
	if (notes.nwarnings)
		op_buf_addc(&b, ']');
	op_buf_adds(&b, "}}");

	op_buf_free(&patch);
	op_json_free(ops);
	op_json_free(doc);
	if (why)
		*why = reason;
	if (b.err) {
		op_buf_free(&b);
		return NULL;
	}
	if (out_len)
		*out_len = b.len;
	out = op_buf_detach(&b);
	return out;
}
