/*
 * W3C Trace Context (level 1): the traceparent header, parsed and written.
 * The next layer up (more formats: b3, jaeger, baggage) builds on these.
 */
#ifndef OP_PROPAGATE_H
#define OP_PROPAGATE_H

#include <stddef.h>

#include "span.h"

/* "00-" 32 hex "-" 16 hex "-" 2 hex */
#define OP_TRACEPARENT_LEN 55

/* W3C: vendors should propagate at least 512 characters of tracestate. */
#define OP_TRACESTATE_MAX 512

/*
 * Parses a traceparent value. Returns 0 and fills `ctx` (remote = true), or
 * -1 for anything the specification says to ignore: a bad version (ff, or
 * 00 with extra data), upper-case or non-hex digits, all-zero IDs.
 * A higher version is read for its first four fields, as W3C asks.
 */
int op_traceparent_parse(const char *v, size_t len, struct op_span_ctx *ctx);

/* Writes the 55-character value for `ctx` and a NUL into `out`. */
void op_traceparent_format(const struct op_span_ctx *ctx, char out[OP_TRACEPARENT_LEN + 1]);

/*
 * A tracestate value worth forwarding: at most OP_TRACESTATE_MAX bytes of
 * printable ASCII (no CR/LF, so it cannot break a header). Members are not
 * rewritten here.
 */
int op_tracestate_valid(const char *v, size_t len);

#endif
