/*
 * otelpreload: runs a command with libotelpreload.so preloaded.
 *
 *   otelpreload run [OPTIONS] [--] CMD [ARGS...]   (run.c, rootspan.c)
 *   otelpreload waterfall [OPTIONS] [FILE]         (waterfall.c)
 *   otelpreload inject [OPTIONS] [FILE...]         (inject.c)
 *   otelpreload doctor [--json] [--] CMD | PID     (doctor.c)
 *   otelpreload version
 *   otelpreload help
 *
 * `run` composes the environment, runs the command as its child under a
 * root span and draws the waterfall of the run's spans when it has ended
 * (run.c). A `run` started by a program that is itself traced (its
 * LD_PRELOAD names the library already) is a link in a traced process
 * tree: it exec()s the command, which keeps the pid, and the library's
 * own process spans carry the trace. It prints nothing else unless
 * something is wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "doctor.h"
#include "inject.h"
#include "libpath.h"
#include "run.h"
#include "waterfall.h"

#ifndef OP_VERSION
#define OP_VERSION "0.0.0-dev"
#endif
#ifndef OP_LIBDIR_REL
#define OP_LIBDIR_REL "lib/otelpreload"
#endif

#define LIB_NAME OP_LIB_NAME

/* Exit statuses, as shells use them. */
#define EXIT_USAGE 2
#define EXIT_NOT_FOUND 127

/* Bound on the library locations tried; each is named in the error. */
#define MAX_CANDIDATES 2

static const char usage_text[] =
	"usage: otelpreload run [OPTIONS] [--] CMD [ARGS...]\n"
	"       otelpreload waterfall [--color=WHEN] [--json PATH] [FILE]\n"
	"       otelpreload inject [OPTIONS] [FILE...]\n"
	"       otelpreload doctor [--json] [--] CMD [ARGS...] | PID\n"
	"       otelpreload version\n"
	"       otelpreload help\n";

static const char help_text[] =
	"\n"
	"Runs CMD with libotelpreload.so preloaded, so that its HTTP traffic is\n"
	"traced with OpenTelemetry spans, and CMD's child processes with it.\n"
	"CMD's exit status is passed through (a signal that kills CMD is raised\n"
	"again here).\n"
	"\n"
	"Options for run (before CMD):\n"
	"  --exporter NAMES              sets OTEL_TRACES_EXPORTER: otlp, zipkin,\n"
	"                                console (comma-separated), or none\n"
	"  --service-name NAME           sets OTEL_SERVICE_NAME\n"
	"  --endpoint URL                sets OTEL_EXPORTER_OTLP_ENDPOINT and\n"
	"                                implies --exporter otlp\n"
	"  --protocol PROTOCOL           sets OTEL_EXPORTER_OTLP_PROTOCOL:\n"
	"                                http/protobuf, http/json or grpc\n"
	"  --file PATH                   sets OTELPRELOAD_FILE: spans are appended\n"
	"                                to PATH as OTLP/JSON lines\n"
	"  --waterfall                   draw the waterfall even when an exporter\n"
	"                                is configured\n"
	"  --no-waterfall                do not draw it\n"
	"  --waterfall-json PATH         also write the run's span trees to PATH\n"
	"                                as JSON (implies collecting the spans)\n"
	"  --color WHEN                  colours in the waterfall: auto (the\n"
	"                                default: when stderr is a terminal and\n"
	"                                NO_COLOR is unset or empty), always, never\n"
	"\n"
	"run starts a root span for CMD (INTERNAL, named after it, with its exit\n"
	"code; status ERROR when it fails or is killed), a child of $TRACEPARENT\n"
	"when that is valid, and gives CMD its context as TRACEPARENT, so every\n"
	"traced process of the run is one trace. The root span goes to the\n"
	"exporters configured, like the library's spans. run also sets\n"
	"OTELPRELOAD_PROCESS_SPAN=true (one span per traced process) unless it\n"
	"is set.\n"
	"\n"
	"With no exporter configured (no --exporter, --endpoint or --file, and\n"
	"none of OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT,\n"
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTELPRELOAD_FILE set), the spans\n"
	"of every process of the run go to a private temporary file, and when\n"
	"CMD exits run draws them on stderr as a waterfall: one tree per trace,\n"
	"a line per span, bars on a shared time axis. Width: $COLUMNS, else the\n"
	"terminal's, else 100. Spans of processes still running when CMD exits\n"
	"are not shown.\n"
	"Every other OTEL_* variable is read by the library as usual.\n"
	"\n"
	"waterfall draws the same from OTLP/JSON lines (a --file, or captured\n"
	"console output) in FILE or on standard input, on standard output.\n"
	"\n"
	"The library is $OTELPRELOAD_LIBRARY if set, else " LIB_NAME "\n"
	"next to this program, else ../" OP_LIBDIR_REL "/" LIB_NAME "\n"
	"relative to it.\n"
	"\n"
	"Examples:\n"
	"  # trace curl, draw its spans on stderr\n"
	"  otelpreload run -- curl -s -o /dev/null http://example.com/\n"
	"\n"
	"  # send spans to an OpenTelemetry Collector over OTLP/HTTP\n"
	"  OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 \\\n"
	"    otelpreload run --service-name deploy -- ./deploy.sh\n"
	"  otelpreload run --endpoint http://collector:4318 -- ./server\n"
	"  otelpreload run --protocol grpc --endpoint http://collector:4317 -- ./server\n"
	"\n"
	"  # keep the spans of a whole script in a file, and look at them later\n"
	"  otelpreload run --file /tmp/spans.jsonl -- ./build.sh\n"
	"  otelpreload waterfall /tmp/spans.jsonl\n"
	"\n"
	"  # console output explicitly, with debug logging from the library\n"
	"  OTEL_LOG_LEVEL=debug otelpreload run --exporter console -- wget -q URL\n"
	"\n"
	"inject adds otelpreload to Kubernetes manifests (pods and workloads)\n"
	"as the admission webhook would; 'otelpreload inject --help' says more.\n"
	"\n"
	"doctor says, without running it, whether a program (CMD, found on PATH\n"
	"like run does) or a running process (PID) can be traced, and why not:\n"
	"static, setuid, Go, musl against glibc, the configuration it would use\n"
	"and whether the OTLP endpoint answers. Exit status 0: traceable, 1: not.\n";

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("otelpreload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(usage_text, stderr);
	fputs("Try 'otelpreload help' for more.\n", stderr);
	exit(EXIT_USAGE);
}

static void out_of_memory(void) __attribute__((noreturn));

static void out_of_memory(void)
{
	fputs("otelpreload: out of memory\n", stderr);
	exit(EXIT_NOT_FOUND);
}

static char *xasprintf2(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *s = malloc(la + lb + lc + 1);

	if (!s)
		out_of_memory();
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	memcpy(s + la + lb, c, lc + 1);
	return s;
}

/* An empty variable counts as unset, as the OpenTelemetry spec says. */
static bool env_set(const char *name)
{
	const char *v = getenv(name);

	return v && *v;
}

static void set_env(const char *name, const char *value)
{
	if (setenv(name, value, 1) != 0)
		out_of_memory();
}

/*
 * Finds the library and returns its absolute, canonical path (heap), or exits
 * 127 naming every path tried. LD_PRELOAD is resolved by the loader in the
 * child, possibly after a chdir() of the child's own, so it must be absolute.
 */
static char *find_library(const char *argv0)
{
	char tried[2 * PATH_MAX + 256];
	char *found = op_cli_find_library(argv0, tried, sizeof tried);

	if (!found) {
		fprintf(stderr, "otelpreload: cannot find " LIB_NAME "; tried %s\n", tried);
		exit(EXIT_NOT_FOUND);
	}

	/* The loader splits LD_PRELOAD on both ':' and blanks. */
	if (strpbrk(found, ": \t\n")) {
		fprintf(stderr, "otelpreload: %s cannot be preloaded: the path contains "
			"':' or a blank\n", found);
		exit(EXIT_NOT_FOUND);
	}
	return found;
}

/* True when the LD_PRELOAD list `list` already names `lib`. */
static bool preload_has(const char *list, const char *lib)
{
	char *copy = strdup(list), *save = NULL, *tok;
	bool has = false;

	if (!copy)
		out_of_memory();
	for (tok = strtok_r(copy, ": \t\n", &save); tok && !has;
	     tok = strtok_r(NULL, ": \t\n", &save)) {
		char *real;

		if (!strcmp(tok, lib)) {
			has = true;
			break;
		}
		real = realpath(tok, NULL);
		if (real) {
			has = !strcmp(real, lib);
			free(real);
		}
	}
	free(copy);
	return has;
}

static void compose_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;

	if (!old || !*old) {
		set_env("LD_PRELOAD", lib);
		return;
	}
	if (preload_has(old, lib))
		return;
	v = xasprintf2(lib, ":", old);
	set_env("LD_PRELOAD", v);
	free(v);
}

/*
 * Accepts what the library accepts in OTEL_TRACES_EXPORTER: none, or a
 * comma list of otlp, zipkin and console; case and blanks around the
 * names do not matter. The library would warn about anything else at the
 * first span; catching it here is kinder.
 */
static bool valid_exporter(const char *v)
{
	bool none = false, some = false;
	const char *p = v;

	for (;;) {
		size_t len = strcspn(p, ",");
		const char *q = p;

		while (len && isspace((unsigned char)*q))
			q++, len--;
		while (len && isspace((unsigned char)q[len - 1]))
			len--;
		if (len == 4 && !strncasecmp(q, "none", 4))
			none = true;
		else if ((len == 4 && !strncasecmp(q, "otlp", 4)) ||
			 (len == 6 && !strncasecmp(q, "zipkin", 6)) ||
			 (len == 7 && !strncasecmp(q, "console", 7)))
			some = true;
		else
			return false;
		p += strcspn(p, ",");
		if (!*p)
			break;
		p++;
	}
	return none != some;
}

const char *op_option_value(char **argv, int argc, int *i, const char *name,
			    void (*usage)(const char *fmt, ...))
{
	const char *a = argv[*i];
	size_t len = strlen(name);

	if (strncmp(a, name, len) != 0)
		return NULL;
	if (a[len] == '=')
		return a + len + 1;
	if (a[len] != '\0')
		return NULL;
	if (*i + 1 >= argc) {
		usage("option %s needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

static int cmd_run(int argc, char **argv, const char *argv0)
{
	const char *exporter = NULL, *service = NULL, *endpoint = NULL, *protocol = NULL;
	const char *file = NULL, *old_preload;
	struct op_run_opts o = { .color = OP_WF_COLOR_AUTO };
	bool waterfall = false, no_waterfall = false, traced_already;
	char *lib;
	int i, rc;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if ((v = op_option_value(argv, argc, &i, "--exporter", usage_error))) {
			if (!valid_exporter(v))
				usage_error("--exporter %s: expected none or a comma list of otlp, zipkin and console", v);
			exporter = v;
		} else if ((v = op_option_value(argv, argc, &i, "--service-name", usage_error))) {
			if (!*v)
				usage_error("--service-name needs a non-empty value");
			service = v;
		} else if ((v = op_option_value(argv, argc, &i, "--endpoint", usage_error))) {
			if (!*v)
				usage_error("--endpoint needs a non-empty value");
			endpoint = v;
		} else if ((v = op_option_value(argv, argc, &i, "--protocol", usage_error))) {
			if (strcmp(v, "http/protobuf") && strcmp(v, "http/json") && strcmp(v, "grpc"))
				usage_error("--protocol %s: expected http/protobuf, http/json or grpc", v);
			protocol = v;
		} else if ((v = op_option_value(argv, argc, &i, "--file", usage_error))) {
			if (!*v)
				usage_error("--file needs a non-empty value");
			file = v;
		} else if ((v = op_option_value(argv, argc, &i, "--waterfall-json", usage_error))) {
			if (!*v)
				usage_error("--waterfall-json needs a non-empty value");
			o.json_path = v;
		} else if ((v = op_option_value(argv, argc, &i, "--color", usage_error))) {
			int c = op_wf_parse_color(v);

			if (c < 0)
				usage_error("--color %s: expected auto, always or never", v);
			o.color = (enum op_wf_color)c;
		} else if (!strcmp(a, "--waterfall")) {
			waterfall = true;
		} else if (!strcmp(a, "--no-waterfall")) {
			no_waterfall = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage_text, stdout);
			fputs(help_text, stdout);
			return 0;
		} else {
			usage_error("unknown option %s", a);
		}
	}
	if (i >= argc)
		usage_error("run needs a command to run");
	if (waterfall && no_waterfall)
		usage_error("--waterfall and --no-waterfall contradict each other");

	lib = find_library(argv0);
	old_preload = getenv("LD_PRELOAD");
	traced_already = old_preload && *old_preload && preload_has(old_preload, lib);
	compose_preload(lib);

	if (endpoint) {
		set_env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint);
		if (!exporter)
			exporter = "otlp";
	}
	if (exporter)
		set_env("OTEL_TRACES_EXPORTER", exporter);
	if (service)
		set_env("OTEL_SERVICE_NAME", service);
	if (protocol)
		set_env("OTEL_EXPORTER_OTLP_PROTOCOL", protocol);
	if (file)
		set_env("OTELPRELOAD_FILE", file);
	if (!env_set("OTELPRELOAD_PROCESS_SPAN"))
		set_env("OTELPRELOAD_PROCESS_SPAN", "true");
	o.exporting = env_set("OTEL_TRACES_EXPORTER") || env_set("OTELPRELOAD_FILE") ||
		      env_set("OTEL_EXPORTER_OTLP_ENDPOINT") ||
		      env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");

	/*
	 * A link in a traced process tree, or tracing switched off: the
	 * command takes our place, as before the waterfall existed.
	 */
	if ((traced_already && !waterfall && !o.json_path) ||
	    (getenv("OTEL_SDK_DISABLED") && !strcasecmp(getenv("OTEL_SDK_DISABLED"), "true"))) {
		free(lib);
		if (!o.exporting)
			set_env("OTEL_TRACES_EXPORTER", "console");
		execvp(argv[i], &argv[i]);
		{
			int err = errno;

			fprintf(stderr, "otelpreload: cannot run %s: %s\n", argv[i], strerror(err));
			return op_exec_failure_status(err);
		}
	}

	o.lib = lib;
	o.collect = !o.exporting || waterfall || o.json_path;
	o.show = o.collect && !no_waterfall && (!o.exporting || waterfall);
	rc = op_run(&argv[i], &o);
	free(lib);
	return rc;
}

/*
 * otelpreload waterfall [--color=WHEN] [--json PATH] [FILE]: the run's
 * waterfall drawn from spans kept in a file, on standard output.
 */
static int cmd_waterfall(int argc, char **argv)
{
	enum op_wf_color color = OP_WF_COLOR_AUTO;
	const char *json = NULL, *path = NULL;
	FILE *f = stdin;
	int i, rc;

	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if ((v = op_option_value(argv, argc, &i, "--color", usage_error))) {
			int c = op_wf_parse_color(v);

			if (c < 0)
				usage_error("--color %s: expected auto, always or never", v);
			color = (enum op_wf_color)c;
		} else if ((v = op_option_value(argv, argc, &i, "--json", usage_error))) {
			json = v;
		} else {
			usage_error("unknown option %s", a);
		}
	}
	if (i < argc)
		path = argv[i++];
	if (i < argc)
		usage_error("waterfall takes one file");
	if (path && strcmp(path, "-") && !(f = fopen(path, "re"))) {
		fprintf(stderr, "otelpreload: cannot open %s: %s\n", path, strerror(errno));
		return 1;
	}
	rc = op_wf_show(f, STDOUT_FILENO, color, json, 0);
	if (f != stdin)
		fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		usage_error("missing command");
	cmd = argv[1];

	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 2, argv + 2, argv[0]);
	if (!strcmp(cmd, "waterfall"))
		return cmd_waterfall(argc - 2, argv + 2);
	if (!strcmp(cmd, "inject"))
		return op_inject_main(argc - 2, argv + 2);
	if (!strcmp(cmd, "doctor")) {

		return op_doctor_main(argc - 2, argv + 2, argv[0]);
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		if (argc > 2)
			usage_error("version takes no arguments");
		printf("otelpreload %s\n", OP_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		fputs(usage_text, stdout);
		fputs(help_text, stdout);
		return 0;
	}
	usage_error("unknown command %s", cmd);
}
