/*
 * OTLP protobuf encoding of a batch of spans, written straight from the
 * span model in the wire format of our own .proto files under
 * exporter/proto (the same bytes protobuf-c would pack).
 */
#ifndef OP_EXPORTER_OTLP_ENCODE_H
#define OP_EXPORTER_OTLP_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../preload/resource.h"
#include "../preload/span.h"
#include "json.h"

/* The instrumentation scope every span is reported under. */
#define OP_SCOPE_NAME "otelpreload"

/* Span.flags bits beyond the W3C trace-flags byte (SpanFlags in trace.proto). */
#define OP_SPAN_FLAGS_TRACE_FLAGS_MASK        0x000000ffu
#define OP_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE   0x00000100u
#define OP_SPAN_FLAGS_CONTEXT_IS_REMOTE       0x00000200u

/*
 * The Span.flags value for `s`, shared by the OTLP and JSON encoders: the
 * W3C trace flags, and whether the PARENT's context came from a peer
 * (always known here; false for a root span).
 */
static inline uint32_t op_span_otlp_flags(const struct op_span *s)
{
	return (s->ctx.flags & OP_SPAN_FLAGS_TRACE_FLAGS_MASK) |
	       OP_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE |
	       (s->parent_remote ? OP_SPAN_FLAGS_CONTEXT_IS_REMOTE : 0);
}

/* A root span has an all-zero parent ID; OTLP then wants no parent at all. */
static inline bool op_span_has_parent(const struct op_span *s)
{
	unsigned i;

	for (i = 0; i < sizeof s->parent_span_id; i++)
		if (s->parent_span_id[i])
			return true;
	return false;
}

/*
 * Encodes `n` spans with their resource as one packed
 * ExportTraceServiceRequest: one ResourceSpans, one ScopeSpans. Strings
 * that are not valid UTF-8 are repaired (U+FFFD), because receivers reject
 * a whole request over one bad proto3 string. On success returns 0 and a
 * malloc'd buffer in *out (caller frees) of *out_len bytes; on failure (out
 * of memory, or a request past OP_OTLP_MAX_REQUEST) returns -1 and sets
 * neither.
 */
int op_otlp_encode(struct op_span *const *spans, size_t n,
		   const struct op_resource *res,
		   uint8_t **out, size_t *out_len);

/*
 * Largest request we encode: 2 GiB is protobuf's own limit on a message,
 * past which no receiver would parse it.
 */
#define OP_OTLP_MAX_REQUEST ((size_t)INT32_MAX)

/*
 * Buffers an exporter keeps between batches (grow-only); one user at a
 * time. Zero-initialise, release with op_otlp_scratch_free().
 */
struct op_otlp_scratch {
	uint8_t *buf;          /* the request, written from the end backwards */
	size_t cap_buf;
	struct op_buf repair;  /* a string that was not valid UTF-8, repaired */
};

/*
 * op_otlp_encode() into `sc`'s buffers: *out points into `sc` and stays
 * valid until its next use.
 */
int op_otlp_encode_into(struct op_otlp_scratch *sc, struct op_span *const *spans, size_t n,
			const struct op_resource *res, const uint8_t **out, size_t *out_len);
void op_otlp_scratch_free(struct op_otlp_scratch *sc);

#endif
