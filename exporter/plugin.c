#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "../preload/op.h"
#include "console.h"
#include "otlp_encode.h"
#include "otlp_http.h"
#include "plugin.h"

/* The exporters this module knows; other bits of cfg->exporters are ignored. */
#define OP_EXPORTERS_KNOWN (OP_EXPORTER_OTLP | OP_EXPORTER_CONSOLE)

/*
 * One per create(). Used by the worker thread only (plugin.h), so nothing
 * here needs a lock.
 */
struct exporters {
	uint32_t wanted;               /* configured exporters, known ones only */
	struct op_otlp_http *otlp;     /* NULL when not wanted or not set up */
	struct op_console *console;
	struct op_otlp_scratch scratch; /* OTLP encoding buffers, reused batch to batch */
};

static void destroy(void *ctx)
{
	struct exporters *x = ctx;

	if (!x)
		return;
	op_otlp_http_destroy(x->otlp);
	op_console_destroy(x->console);
	op_otlp_scratch_free(&x->scratch);
	free(x);
}

static void *create(const struct op_config *cfg, int log_level)
{
	struct exporters *x;

	/* This module has its own copy of log.c and so of the level. */
	op_log_level = log_level;

	x = calloc(1, sizeof *x);
	if (!x) {
		op_warn("cannot set up the exporters: out of memory");
		return NULL;
	}
	x->wanted = cfg->exporters & OP_EXPORTERS_KNOWN;
	if (x->wanted & OP_EXPORTER_CONSOLE)
		x->console = op_console_create(cfg->console_fd >= 0 ? cfg->console_fd : STDERR_FILENO);
	if (x->wanted & OP_EXPORTER_OTLP)
		x->otlp = op_otlp_http_create(cfg);
	/* Each failure was reported where it happened. */
	if (!x->console && !x->otlp) {
		destroy(x);
		return NULL;
	}
	return x;
}

static int export_otlp(struct exporters *x, struct op_span *const *spans,
		       size_t n, const struct op_resource *res,
		       int64_t deadline_mono_ns)
{
	const uint8_t *body;
	size_t len;

	if (op_otlp_encode_into(&x->scratch, spans, n, res, &body, &len)) {
		op_info("cannot encode %zu spans for OTLP: out of memory", n);
		return -1;
	}
	return op_otlp_http_send(x->otlp, body, len, n, deadline_mono_ns);
}

/*
 * Every configured exporter gets the batch; the batch counts as exported
 * only if all of them took it. One that could not be set up fails every
 * time, silently: create() said why once.
 */
static enum op_export_result export_spans(void *ctx,
					  struct op_span *const *spans, size_t n,
					  const struct op_resource *res,
					  int64_t deadline_mono_ns)
{
	struct exporters *x = ctx;
	bool ok = true;

	/* The console first: it is quick, the network may use up the deadline. */
	if (x->wanted & OP_EXPORTER_CONSOLE) {
		if (!x->console) {
			ok = false;
		} else if (op_console_export(x->console, spans, n, res)) {
			op_debug("cannot write %zu spans to stderr", n);
			ok = false;
		}
	}
	if (x->wanted & OP_EXPORTER_OTLP) {
		if (!x->otlp || export_otlp(x, spans, n, res, deadline_mono_ns))
			ok = false;
	}
	return ok ? OP_EXPORT_OK : OP_EXPORT_FAILED;
}

static const struct op_exporter_api api = {
	.abi = OP_EXPORTER_ABI,
	.create = create,
	.export_spans = export_spans,
	.destroy = destroy,
};

/* The module's only exported symbol; its name is OP_EXPORTER_ENTRY. */
OP_EXPORT const struct op_exporter_api *otelpreload_exporter_v1(void);

const struct op_exporter_api *otelpreload_exporter_v1(void)
{
	return &api;
}
