/*
 * The trace context formats on the wire: W3C Trace Context (level 1),
 * W3C Baggage limits, B3 (single and multi header) and Jaeger, parsed and
 * written. Pure functions: the engine decides which formats apply.
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
 * A tracestate value as W3C Trace Context level 1 defines it: at most
 * OP_TRACESTATE_MAX bytes, at most 32 list members (empty ones allowed),
 * keys of the simple or tenant@system grammar and unique, values of up to
 * 256 printable characters without ',' or '=' and not ending in a space.
 * An invalid value is dropped whole, which the specification allows.
 */
int op_tracestate_valid(const char *v, size_t len);

/* A header value safe to pass on: 1..max printable ASCII bytes (no CR/LF). */
int op_header_value_ok(const char *v, size_t len, size_t max);

/* W3C Baggage: what a baggage header may hold to be forwarded. */
#define OP_BAGGAGE_MAX_BYTES 8192
#define OP_BAGGAGE_MAX_MEMBERS 180

/* A baggage value within the W3C limits (bytes, members), printable, no CR/LF. */
int op_baggage_valid(const char *v, size_t len);

/*
 * A trace or span id in hex: 32 or 16 digits for a trace id (16 are
 * padded on the left with zeros, as B3 and Jaeger 64-bit ids require), 16
 * for a span id (Jaeger also sends shorter ids, padded the same way).
 * Upper- and lower-case accepted. Returns 0, or -1 for a bad or all-zero id.
 */
int op_hex_trace_id(const char *s, size_t len, uint8_t out[16]);
int op_hex_span_id(const char *s, size_t len, uint8_t out[8]);

/*
 * B3 single header: "T-S[-sampling[-P]]" with sampling 0, 1 or d (debug);
 * a bare "0", "1" or "d" carries no ids and returns -1. Sets *debug.
 */
int op_b3_parse(const char *v, size_t len, struct op_span_ctx *ctx, bool *debug);

/* Jaeger uber-trace-id: "T:S:P:flags" (':' may come as %3A); flag 1 sampled, 2 debug. */
int op_jaeger_parse(const char *v, size_t len, struct op_span_ctx *ctx, bool *debug);

/* Lower-case hex of the ids, NUL-ended: 32 (+1) and 16 (+1) bytes. */
void op_hex_ids(const struct op_span_ctx *ctx, char trace[33], char span[17]);

#endif
