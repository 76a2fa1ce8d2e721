/*
 * OTLP/HTTP transport (binary protobuf) over libcurl.
 */
#ifndef OP_EXPORTER_OTLP_HTTP_H
#define OP_EXPORTER_OTLP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "../preload/config.h"

struct op_otlp_http;

/*
 * Prepares a sender for cfg->otlp_traces_url with cfg->otlp_headers.
 * Returns NULL (after one op_warn) when libcurl cannot be set up.
 */
struct op_otlp_http *op_otlp_http_create(const struct op_config *cfg);

/*
 * POSTs one encoded ExportTraceServiceRequest of `n_spans` spans and waits
 * for the answer, returning by `deadline_mono_ns` (CLOCK_MONOTONIC) at the
 * latest. Returns 0 on a 2xx answer (spans the collector rejected in a
 * partial success are reported at debug level, not retried), -1 otherwise
 * after one info-level line. Not thread-safe: one caller at a time.
 */
int op_otlp_http_send(struct op_otlp_http *h, const uint8_t *body, size_t len,
		      size_t n_spans, int64_t deadline_mono_ns);

void op_otlp_http_destroy(struct op_otlp_http *h);

#endif
