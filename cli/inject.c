/*
 * otelpreload inject: the admission webhook's pod mutation applied offline
 * to manifests, for people who keep their manifests in Git (as `linkerd
 * inject` does for Linkerd). Every workload is injected unless annotated
 * otelpreload.dev/inject: "false", so the pods come up traced without the
 * webhook; the webhook, if installed too, recognises them as injected.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inject.h"
#include "yaml.h"
#include "../init-container/webhook/mutate.h"

#define EXIT_USAGE 2

/* Room for a parse error or a problem with one object. */
#define MSG_MAX 512

/* Lists inside Lists are not a thing kubectl makes; one level is enough. */
#define MAX_LIST_DEPTH 2

const char op_inject_help[] =
	"usage: otelpreload inject [OPTIONS] [FILE...]\n"
	"\n"
	"Adds otelpreload to the workloads of Kubernetes manifests, as the\n"
	"admission webhook does to pods, and writes the manifests on stdout in\n"
	"the format they were read in (JSON or YAML, multi-document YAML too).\n"
	"FILE - is stdin, which is also read when no FILE is given.\n"
	"\n"
	"Pods and the pod templates of Deployments, StatefulSets, DaemonSets,\n"
	"ReplicaSets, ReplicationControllers, Jobs and CronJobs are injected,\n"
	"also inside a List, unless the workload or its template is annotated\n"
	"otelpreload.dev/inject: \"false\". Other objects pass through unchanged,\n"
	"and so does a workload injected already. The pod's otelpreload.dev/\n"
	"annotations are read as the webhook reads them.\n"
	"\n"
	"Options for inject:\n"
	"  --annotated-only              inject only workloads annotated\n"
	"                                otelpreload.dev/inject: \"true\"\n"
	"  --image IMAGE                 the init container's image (default\n"
	"                                " OP_K8S_DEFAULT_IMAGE ")\n"
	"  --image-pull-policy POLICY    Always, IfNotPresent or Never (default:\n"
	"                                the cluster's)\n"
	"  --mount-path DIR              where the library appears in the\n"
	"                                containers (default " OP_K8S_DEFAULT_MOUNT_PATH ")\n"
	"  --size-limit QUANTITY         the emptyDir's size limit (default " OP_K8S_DEFAULT_SIZE_LIMIT ")\n"
	"  --endpoint URL                OTEL_EXPORTER_OTLP_ENDPOINT for pods without\n"
	"                                the otelpreload.dev/endpoint annotation\n"
	"\n"
	"YAML comments are not kept, and anchors and aliases are written out\n"
	"in full. Problems with one object are reported on stderr and leave it\n"
	"unchanged; unreadable input fails the whole command (status 1) and\n"
	"nothing is written.\n"
	"\n"
	"Examples:\n"
	"  otelpreload inject deploy.yaml | kubectl apply -f -\n"
	"  kubectl get deploy web -o yaml |\n"
	"    otelpreload inject --endpoint http://otel-collector:4318 | kubectl apply -f -\n";

/* Where the pod template is, by kind; an empty path means the object is the pod. */
static const struct {
	const char *kind;
	const char *path[5];
} workloads[] = {
	{ "Pod", { NULL } },
	{ "Deployment", { "spec", "template", NULL } },
	{ "StatefulSet", { "spec", "template", NULL } },
	{ "DaemonSet", { "spec", "template", NULL } },
	{ "ReplicaSet", { "spec", "template", NULL } },
	{ "ReplicationController", { "spec", "template", NULL } },
	{ "Job", { "spec", "template", NULL } },
	{ "CronJob", { "spec", "jobTemplate", "spec", "template", NULL } },
};

struct inject {
	struct op_k8s_options opt;
	bool annotated_only;
	const char *file;     /* the input being read, for messages */
};

static void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("otelpreload: inject: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'otelpreload inject --help' for more.\n", stderr);
	exit(EXIT_USAGE);
}

/* What a message calls an object: Deployment "web". */
static void describe(const struct op_json *obj, char *out, size_t size)
{
	const char *kind = op_json_get_str(obj, "kind");
	const char *name = op_json_get_str(op_json_get(obj, "metadata"), "name");

	snprintf(out, size, "%.60s \"%.100s\"", kind ? kind : "object", name ? name : "");
}

static void report(const struct inject *in, const struct op_json *obj,
		   const struct op_k8s_notes *notes, enum op_k8s_result r)
{
	char what[MSG_MAX];

	describe(obj, what, sizeof what);
	for (size_t i = 0; i < notes->nwarnings; i++) {
		const char *w = notes->warnings[i];

		if (!strncmp(w, "otelpreload: ", 13))
			w += 13;
		fprintf(stderr, "otelpreload: inject: %s: %s: %s\n", in->file, what, w);
	}
	if (r == OP_K8S_ERROR || (r == OP_K8S_UNCHANGED && !notes->nwarnings &&
				  strcmp(notes->why, "already injected")))
		fprintf(stderr, "otelpreload: inject: %s: %s not injected: %s\n", in->file, what,
			notes->why);
}

static void inject_object(const struct inject *in, struct op_json *obj, int lists)
{
	const char *kind = op_json_get_str(obj, "kind");
	const struct op_json *items = op_json_get(obj, "items");
	struct op_json *tpl = obj;
	struct op_k8s_notes notes;
	enum op_k8s_result r;
	const char *owner;
	size_t k, n;
	int own, outer;

	if (!kind)
		return;
	n = strlen(kind);
	if (n >= 4 && !strcmp(kind + n - 4, "List") && items && items->type == OP_JSON_ARRAY) {
		if (lists < MAX_LIST_DEPTH)
			for (size_t i = 0; i < items->len; i++)
				inject_object(in, items->items[i], lists + 1);
		return;
	}
	for (k = 0; k < sizeof workloads / sizeof workloads[0]; k++)
		if (!strcmp(kind, workloads[k].kind))
			break;
	if (k == sizeof workloads / sizeof workloads[0])
		return;
	for (const char *const *p = workloads[k].path; *p && tpl; p++)
		tpl = op_json_get(tpl, *p);
	if (!tpl || tpl->type != OP_JSON_OBJECT) {
		char what[MSG_MAX];

		describe(obj, what, sizeof what);
		fprintf(stderr, "otelpreload: inject: %s: %s not injected: it has no pod template\n",
			in->file, what);
		return;
	}

	/* "false" on the workload or on its template wins; "true" on either selects. */
	own = op_k8s_inject_annotation(op_json_get(op_json_get(tpl, "metadata"), "annotations"));
	outer = op_k8s_inject_annotation(op_json_get(op_json_get(obj, "metadata"), "annotations"));
	if (own == 0 || outer == 0)
		return;
	if (in->annotated_only && own != 1 && outer != 1)
		return;

	owner = tpl == obj ? NULL : op_json_get_str(op_json_get(obj, "metadata"), "name");
	r = op_k8s_inject(tpl, owner, &in->opt, NULL, NULL, &notes);
	report(in, obj, &notes, r);
}

/* The whole of `f` (at most OP_JSON_MAX_BYTES) into a heap buffer; NULL and errno on failure. */
static char *read_all(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap), *g;

	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, f);

		n += got;
		if (n > OP_JSON_MAX_BYTES) {
			free(buf);
			errno = EFBIG;
			return NULL;
		}
		if (got == 0) {
			if (ferror(f)) {
				free(buf);
				errno = EIO;
				return NULL;
			}
			*len = n;
			return buf;
		}
		if (n == cap) {
			cap *= 2;
			if (!(g = realloc(buf, cap)))
				free(buf);
			buf = g;
		}
	}
	errno = ENOMEM;
	return NULL;
}

/* Line and column (from 1) of byte `off` of <s, len>. */
static void line_col(const char *s, size_t off, size_t *line, size_t *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off; i++) {
		if (s[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

/* A stream of JSON values (usually one). */
static bool load_json(const char *s, size_t len, struct op_json ***docs, size_t *ndocs,
		      char *err, size_t errsize)
{
	struct op_json **list = NULL, **g;
	size_t n = 0, off = 0;

	while (off < len && strchr(" \t\r\n", s[off]))
		off++;
	while (off < len) {
		struct op_json_error e;
		size_t used, line, col;
		struct op_json *v = op_json_parse(s + off, len - off, &used, &e);

		if (!v) {
			line_col(s, off + e.offset, &line, &col);
			snprintf(err, errsize, "line %zu, column %zu: %s", line, col, e.msg);
			goto fail;
		}
		if (!(g = realloc(list, (n + 1) * sizeof *list))) {
			op_json_free(v);
			snprintf(err, errsize, "out of memory");
			goto fail;
		}
		list = g;
		list[n++] = v;
		off += used;
	}
	*docs = list;
	*ndocs = n;
	return true;
fail:
	for (size_t i = 0; i < n; i++)
		op_json_free(list[i]);
	free(list);
	return false;
}

/*
 * Reads, injects and writes one input into `out`. Returns false (having
 * said why) when it cannot be read or parsed.
 */
static bool inject_input(struct inject *in, const char *path, struct op_buf *out)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
	struct op_json **docs = NULL;
	size_t len, ndocs = 0, skip = 0, i;
	char err[MSG_MAX], *text;
	bool json = false, ok;

	in->file = strcmp(path, "-") ? path : "stdin";
	if (!f) {
		fprintf(stderr, "otelpreload: inject: cannot open %s: %s\n", path, strerror(errno));
		return false;
	}
	text = read_all(f, &len);
	if (f != stdin)
		fclose(f);
	if (!text) {
		if (errno == EFBIG)
			fprintf(stderr, "otelpreload: inject: %s is larger than %zu bytes\n",
				in->file, OP_JSON_MAX_BYTES);
		else
			fprintf(stderr, "otelpreload: inject: cannot read %s: %s\n", in->file,
				strerror(errno));
		return false;
	}

	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		skip = 3;
	for (i = skip; i < len && strchr(" \t\r\n", text[i]); i++)
		;
	if (i < len && (text[i] == '{' || text[i] == '['))
		json = load_json(text + skip, len - skip, &docs, &ndocs, err, sizeof err);
	/* A YAML flow mapping starts with '{' too. */
	ok = json;
	if (!json) {
		char yerr[MSG_MAX];

		ok = op_yaml_load(text, len, &docs, &ndocs, yerr, sizeof yerr);
		if (!ok && !(i < len && (text[i] == '{' || text[i] == '[')))
			memcpy(err, yerr, sizeof err);
	}
	free(text);
	if (!ok) {
		fprintf(stderr, "otelpreload: inject: %s: %s\n", in->file, err);
		return false;
	}

	for (i = 0; i < ndocs; i++)
		inject_object(in, docs[i], 0);
	if (json) {
		for (i = 0; i < ndocs; i++) {
			op_json_write(out, docs[i], 2);
			op_buf_addc(out, '\n');
		}
		ok = !out->err;
	} else {
		ok = op_yaml_dump(out, docs, ndocs, out->len > 0);
	}
	for (i = 0; i < ndocs; i++)
		op_json_free(docs[i]);
	free(docs);
	if (!ok)
		fprintf(stderr, "otelpreload: inject: %s: cannot write the result (out of memory)\n",
			in->file);
	return ok;
}

int op_inject_main(int argc, char **argv)
{
	struct inject in = { .opt = { 0 } };
	struct op_buf out = OP_BUF_INIT;
	const char **files;
	char msg[MSG_MAX];
	int nfiles = 0, i;
	bool ok = true;

	if (!(files = calloc((size_t)argc + 1, sizeof *files))) {
		fputs("otelpreload: out of memory\n", stderr);
		return 1;
	}
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v;

		if (!strcmp(a, "--")) {
			while (++i < argc)
				files[nfiles++] = argv[i];
			break;
		}
		if (a[0] != '-' || !strcmp(a, "-")) {
			files[nfiles++] = a;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(op_inject_help, stdout);
			free(files);
			return 0;
		} else if (!strcmp(a, "--annotated-only")) {
			in.annotated_only = true;
		} else if ((v = op_option_value(argv, argc, &i, "--image", usage_error))) {
			in.opt.image = v;
		} else if ((v = op_option_value(argv, argc, &i, "--image-pull-policy", usage_error))) {
			in.opt.image_pull_policy = v;
		} else if ((v = op_option_value(argv, argc, &i, "--mount-path", usage_error))) {
			in.opt.mount_path = v;
		} else if ((v = op_option_value(argv, argc, &i, "--size-limit", usage_error))) {
			in.opt.volume_size_limit = v;
		} else if ((v = op_option_value(argv, argc, &i, "--endpoint", usage_error))) {
			if (!*v)
				usage_error("--endpoint needs a non-empty value");
			in.opt.default_endpoint = v;
		} else {
			usage_error("unknown option %s", a);
		}
	}
	if (op_k8s_options_check(&in.opt, msg, sizeof msg))
		usage_error("%s", msg);
	if (!nfiles)
		files[nfiles++] = "-";

	for (i = 0; i < nfiles && ok; i++)
		ok = inject_input(&in, files[i], &out);
	free(files);
	if (ok && ((out.len && fwrite(out.p, 1, out.len, stdout) != out.len) ||
		   fflush(stdout) != 0)) {
		fprintf(stderr, "otelpreload: inject: cannot write to stdout: %s\n", strerror(errno));
		ok = false;
	}
	op_buf_free(&out);
	return ok ? 0 : 1;
}
