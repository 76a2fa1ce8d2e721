#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/wait.h>

#include "../exporter/plugin.h"
#include "../preload/op.h"
#include "../preload/propagate.h"
#include "../preload/resource.h"
#include "../preload/sampler.h"
#include "rootspan.h"

/* Longest process.command_line recorded; the attribute value limit may cut it further. */
#define COMMAND_LINE_MAX 4096

static const char *env_get(const char *name)
{
	return getenv(name);
}

/* Fills `p` from getrandom(2) with a non-zero value. */
static int random_id(uint8_t *p, size_t n)
{
	size_t got = 0, i;
	bool zero = true;

	while (zero) {
		for (got = 0; got < n;) {
			ssize_t r = getrandom(p + got, n - got, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			got += (size_t)r;
		}
		for (i = 0; i < n; i++)
			zero &= p[i] == 0;
	}
	return 0;
}

int op_root_begin(struct op_root *r)
{
	const char *tp = getenv("TRACEPARENT");
	struct op_span_ctx parent;
	char out[OP_TRACEPARENT_LEN + 1];
	int level = op_log_level;

	memset(r, 0, sizeof *r);
	op_log_level = OP_LOG_NONE;
	op_config_parse(&r->cfg, env_get);
	op_log_level = level;

	r->has_parent = tp && op_traceparent_parse(tp, strlen(tp), &parent) == 0;
	if (r->has_parent) {
		memcpy(r->ctx.trace_id, parent.trace_id, sizeof r->ctx.trace_id);
		memcpy(r->parent_span_id, parent.span_id, sizeof r->parent_span_id);
	} else if (random_id(r->ctx.trace_id, sizeof r->ctx.trace_id)) {
		op_config_free(&r->cfg);
		return -1;
	}
	if (random_id(r->ctx.span_id, sizeof r->ctx.span_id)) {
		op_config_free(&r->cfg);
		return -1;
	}
	if (!r->cfg.sdk_disabled &&
	    op_sampler_should_sample(r->cfg.sampler, r->cfg.sampler_ratio,
				     r->has_parent ? &parent : NULL, r->ctx.trace_id))
		r->ctx.flags = OP_TRACE_FLAG_SAMPLED;
	op_traceparent_format(&r->ctx, out);
	if (setenv("TRACEPARENT", out, 1) != 0) {
		op_config_free(&r->cfg);
		return -1;
	}
	/* A TRACESTATE belongs to the TRACEPARENT it came with; with a valid one it is passed on. */
	if (!r->has_parent)
		unsetenv("TRACESTATE");
	r->start_ns = op_now_ns();
	return 0;
}

void op_root_discard(struct op_root *r)
{
	op_config_free(&r->cfg);
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGHUP: return "SIGHUP";
	case SIGINT: return "SIGINT";
	case SIGQUIT: return "SIGQUIT";
	case SIGILL: return "SIGILL";
	case SIGTRAP: return "SIGTRAP";
	case SIGABRT: return "SIGABRT";
	case SIGBUS: return "SIGBUS";
	case SIGFPE: return "SIGFPE";
	case SIGKILL: return "SIGKILL";
	case SIGUSR1: return "SIGUSR1";
	case SIGSEGV: return "SIGSEGV";
	case SIGUSR2: return "SIGUSR2";
	case SIGPIPE: return "SIGPIPE";
	case SIGALRM: return "SIGALRM";
	case SIGTERM: return "SIGTERM";
	case SIGXCPU: return "SIGXCPU";
	case SIGXFSZ: return "SIGXFSZ";
	case SIGSYS: return "SIGSYS";
	default: return NULL;
	}
}

static void set_str(struct op_span *s, const char *key, const char *v)
{
	op_attrs_set_str(&s->attrs, key, v, strlen(v));
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && !strcasecmp(v, "true");
}

static void describe(struct op_span *s, char *const *argv, pid_t pid, int wstatus)
{
	const char *base = strrchr(argv[0], '/');
	char msg[64], type[32];

	base = base && base[1] ? base + 1 : argv[0];
	op_attrs_set_int(&s->attrs, "process.pid", pid);
	set_str(s, "process.executable.name", base);
	set_str(s, "process.command", argv[0]);
	if (env_true("OTELPRELOAD_PROCESS_COMMAND_LINE")) {
		char line[COMMAND_LINE_MAX];
		size_t len = 0;

		for (char *const *a = argv; *a && len < sizeof line - 1; a++)
			len += (size_t)snprintf(line + len, sizeof line - len, "%s%s",
						a == argv ? "" : " ", *a);
		set_str(s, "process.command_line", line);
	}
	if (WIFEXITED(wstatus)) {
		op_attrs_set_int(&s->attrs, "process.exit.code", WEXITSTATUS(wstatus));
		if (WEXITSTATUS(wstatus) == 0)
			return;
		snprintf(msg, sizeof msg, "exit status %d", WEXITSTATUS(wstatus));
		snprintf(type, sizeof type, "%d", WEXITSTATUS(wstatus));
	} else {
		int sig = WTERMSIG(wstatus);
		const char *name = signal_name(sig);

		/* What a shell reports as $?, and Kubernetes as exitCode. */
		op_attrs_set_int(&s->attrs, "process.exit.code", 128 + sig);
		if (name)
			snprintf(type, sizeof type, "%s", name);
		else
			snprintf(type, sizeof type, "signal %d", sig);
		snprintf(msg, sizeof msg, "killed by %s%s", type,
			 WCOREDUMP(wstatus) ? " (core dumped)" : "");
	}
	set_str(s, "error.type", type);
	s->status = OP_STATUS_ERROR;
	s->status_message = strdup(msg);
}

/*
 * The exporter module next to the library, as the library's worker
 * thread loads it (RTLD_LOCAL: its libcurl stays its own).
 */
static void export(const struct op_root *r, const char *libdir, struct op_span *s)
{
	char path[4096];
	_Atomic bool exiting = true;
	const struct op_exporter_api *api;
	op_exporter_entry_fn entry;
	struct op_resource res;
	void *h, *ctx;

	if (snprintf(path, sizeof path, "%s/%s", libdir, OP_EXPORTER_MODULE) >= (int)sizeof path)
		return;
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		op_warn("cannot load %s: %s; the root span is not exported", path, dlerror());
		return;
	}
	entry = (op_exporter_entry_fn)dlsym(h, OP_EXPORTER_ENTRY);
	api = entry ? entry() : NULL;
	if (!api || api->abi != OP_EXPORTER_ABI) {
		op_warn("%s is not the exporter module of this otelpreload; the root span is not exported",
			path);
		dlclose(h);
		return;
	}
	op_resource_build(&res, &r->cfg, "otelpreload", NULL, (long)getpid());
	ctx = api->create(&r->cfg, op_log_level, &exiting);
	if (ctx) {
		api->export_spans(ctx, &s, 1, &res,
				  op_mono_ns() + r->cfg.bsp_export_timeout_ms * 1000000,
				  OP_EXPORT_FINAL);
		api->destroy(ctx);
	}
	op_resource_free(&res);
	/* Not dlclose()d: libcurl and OpenSSL leave exit handlers behind. */
}

void op_root_end(struct op_root *r, const char *libdir, char *const *argv, pid_t pid,
		 int wstatus)
{
	struct op_span *s;
	const char *base = strrchr(argv[0], '/');

	base = base && base[1] ? base + 1 : argv[0];
	if (r->cfg.sdk_disabled || !r->cfg.exporters || !(r->ctx.flags & OP_TRACE_FLAG_SAMPLED) ||
	    !(s = calloc(1, sizeof *s))) {
		op_root_discard(r);
		return;
	}
	s->ctx = r->ctx;
	if (r->has_parent) {
		memcpy(s->parent_span_id, r->parent_span_id, sizeof s->parent_span_id);
		s->parent_remote = true;
	}
	s->kind = OP_SPAN_KIND_INTERNAL;
	s->start_ns = r->start_ns;
	s->end_ns = op_now_ns();
	op_attrs_init(&s->attrs, r->cfg.attr_count_limit, r->cfg.attr_value_len_limit);
	s->name = strdup(base);
	s->name_heap = true;
	if (s->name) {
		describe(s, argv, pid, wstatus);
		export(r, libdir, s);
	}
	op_span_free(s);
	op_root_discard(r);
}
