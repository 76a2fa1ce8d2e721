/*
 * In-process context: the span a thread is serving. A thread that reads an
 * inbound request becomes its server span's thread; outbound requests it
 * makes until the response is written are that span's children.
 *
 * Thread-per-request servers get exact parentage. A server that handles
 * one request at a time on a thread (nginx proxying one request) too. An
 * event loop that interleaves many requests on one thread gets "the most
 * recent request whose head was read on this thread", which is right only
 * when requests do not overlap.
 */
#ifndef OP_CONTEXT_H
#define OP_CONTEXT_H

#include <stdbool.h>

#include "span.h"

/*
 * Makes `ctx` this thread's. `inbound` is the traceparent context the
 * request arrived with (NULL when it had none), `tracestate` its
 * tracestate (may be NULL).
 */
void op_context_set(const struct op_span_ctx *ctx, const struct op_span_ctx *inbound,
		    const char *tracestate, size_t ts_len);

/*
 * True when `out`, a traceparent an outbound request already carries, is
 * the one this thread's request came in with: the application forwards
 * headers without tracing (a proxy), so the header may be replaced by the
 * outbound span's own.
 */
bool op_context_forwarded(const struct op_span_ctx *out);

/* Forgets this thread's context if it is the span `span_id`. */
void op_context_clear_if(const uint8_t span_id[8]);

/*
 * This thread's context, or NULL. *tracestate (when asked) is the inbound
 * tracestate that goes with it, or NULL. Valid until the thread's next
 * op_context_* call.
 */
const struct op_span_ctx *op_context_get(const char **tracestate);

#endif
