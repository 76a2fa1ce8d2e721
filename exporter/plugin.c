#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "../preload/op.h"
#include "console.h"
#include "file.h"
#include "json.h"
#include "otlp_encode.h"
#include "otlp_json.h"
#include "plugin.h"
#include "sender.h"
#include "zipkin.h"

/* The exporters this module knows; other bits of cfg->exporters are ignored. */
#define OP_EXPORTERS_KNOWN (OP_EXPORTER_OTLP | OP_EXPORTER_CONSOLE | OP_EXPORTER_ZIPKIN | \
			    OP_EXPORTER_FILE)

/*
 * One per create(). Used by the worker thread only (plugin.h), so nothing
 * here needs a lock.
 */
struct exporters {
	uint32_t wanted;               /* configured exporters, known ones only */
	enum op_otlp_protocol protocol;
	struct op_sender *otlp;        /* NULL when not wanted or not set up */
	struct op_sender *zipkin;
	struct op_console *console;
	struct op_file *file;
	struct op_otlp_scratch scratch; /* OTLP encoding buffers, reused batch to batch */
	struct op_buf text;            /* JSON documents, reused batch to batch */
};

static void destroy(void *ctx)
{
	struct exporters *x = ctx;

	if (!x)
		return;
	op_sender_destroy(x->otlp);
	op_sender_destroy(x->zipkin);
	op_console_destroy(x->console);
	op_file_destroy(x->file);
	op_otlp_scratch_free(&x->scratch);
	op_buf_free(&x->text);
	free(x);
}

static struct op_sender *otlp_create(const struct op_config *cfg, const _Atomic bool *exiting)
{
	static const char *const types[] = {
		[OP_OTLP_HTTP_PROTOBUF] = "application/x-protobuf",
		[OP_OTLP_HTTP_JSON] = "application/json",
		[OP_OTLP_GRPC] = "application/grpc",
	};
	struct op_sender_opts o = {
		.what = "OTLP",
		.url = cfg->otlp_traces_url,
		.content_type = types[cfg->otlp_protocol],
		.headers = cfg->otlp_headers,
		.n_headers = cfg->otlp_header_count,
		.timeout_ms = cfg->otlp_timeout_ms,
		.grpc = cfg->otlp_protocol == OP_OTLP_GRPC,
		.gzip = cfg->otlp_gzip,
		.ca_file = cfg->otlp_certificate,
		.cert_file = cfg->otlp_client_certificate,
		.key_file = cfg->otlp_client_key,
		.answer = cfg->otlp_protocol == OP_OTLP_HTTP_JSON ? OP_ANSWER_OTLP_JSON
								    : OP_ANSWER_OTLP_PROTO,
		.exiting = exiting,
	};

	if (!o.url) {
		op_warn("cannot set up OTLP export: out of memory");
		return NULL;
	}
	return op_sender_create(&o);
}

static struct op_sender *zipkin_create(const struct op_config *cfg, const _Atomic bool *exiting)
{
	struct op_sender_opts o = {
		.what = "Zipkin",
		.url = cfg->zipkin_url,
		.content_type = "application/json",
		.timeout_ms = cfg->zipkin_timeout_ms,
		.answer = OP_ANSWER_NONE,
		.exiting = exiting,
	};

	if (!o.url) {
		op_warn("cannot set up Zipkin export: out of memory");
		return NULL;
	}
	return op_sender_create(&o);
}

static void *create(const struct op_config *cfg, int log_level, const _Atomic bool *exiting)
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
	x->protocol = cfg->otlp_protocol;
	if (x->wanted & OP_EXPORTER_CONSOLE)
		x->console = op_console_create(cfg->console_fd >= 0 ? cfg->console_fd : STDERR_FILENO);
	if (x->wanted & OP_EXPORTER_FILE)
		x->file = op_file_create(cfg->file_path);
	if (x->wanted & OP_EXPORTER_OTLP)
		x->otlp = otlp_create(cfg, exiting);
	if (x->wanted & OP_EXPORTER_ZIPKIN)
		x->zipkin = zipkin_create(cfg, exiting);
	/* Each failure was reported where it happened. */
	if (!x->console && !x->file && !x->otlp && !x->zipkin) {
		destroy(x);
		return NULL;
	}
	return x;
}

static int export_otlp(struct exporters *x, struct op_span *const *spans,
		       size_t n, const struct op_resource *res,
		       int64_t deadline_mono_ns, unsigned flags)
{
	const uint8_t *body;
	size_t len;

	if (x->protocol == OP_OTLP_HTTP_JSON) {
		op_buf_reset(&x->text);
		op_otlp_json_request(&x->text, spans, n, res);
		if (x->text.err) {
			op_debug("cannot encode %zu spans as OTLP/JSON: out of memory", n);
			return -1;
		}
		body = (const uint8_t *)x->text.p;
		len = x->text.len;
	} else if (op_otlp_encode_into(&x->scratch, spans, n, res, &body, &len)) {
		op_debug("cannot encode %zu spans for OTLP: out of memory", n);
		return -1;
	}
	return op_sender_send(x->otlp, body, len, n, deadline_mono_ns,
			      flags & OP_EXPORT_FINAL ? OP_SEND_FINAL : 0);
}

static int export_zipkin(struct exporters *x, struct op_span *const *spans,
			 size_t n, const struct op_resource *res,
			 int64_t deadline_mono_ns, unsigned flags)
{
	op_buf_reset(&x->text);
	op_zipkin_encode(&x->text, spans, n, res);
	if (x->text.err) {
		op_debug("cannot encode %zu spans for Zipkin: out of memory", n);
		return -1;
	}
	return op_sender_send(x->zipkin, (const uint8_t *)x->text.p, x->text.len, n,
			      deadline_mono_ns, flags & OP_EXPORT_FINAL ? OP_SEND_FINAL : 0);
}

/*
 * Every configured exporter gets the batch; the batch counts as exported
 * only if all of them took it. One that could not be set up fails every
 * time, silently: create() said why once.
 */
static enum op_export_result export_spans(void *ctx,
					  struct op_span *const *spans, size_t n,
					  const struct op_resource *res,
					  int64_t deadline_mono_ns, unsigned flags)
{
	struct exporters *x = ctx;
	bool ok = true;

	/* Local ones first: they are quick, the network may use up the deadline. */
	if (x->wanted & OP_EXPORTER_CONSOLE) {
		if (!x->console) {
			ok = false;
		} else if (op_console_export(x->console, spans, n, res)) {
			op_debug("cannot write %zu spans to stderr", n);
			ok = false;
		}
	}
	if (x->wanted & OP_EXPORTER_FILE) {
		if (!x->file || op_file_export(x->file, spans, n, res))
			ok = false;
	}
	if (x->wanted & OP_EXPORTER_OTLP) {
		if (!x->otlp || export_otlp(x, spans, n, res, deadline_mono_ns, flags))
			ok = false;
	}
	if (x->wanted & OP_EXPORTER_ZIPKIN) {
		if (!x->zipkin || export_zipkin(x, spans, n, res, deadline_mono_ns, flags))
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
