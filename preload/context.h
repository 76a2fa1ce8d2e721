/*
 * In-process context: the request a thread is serving. A thread that reads
 * an inbound request becomes its server span's thread; outbound requests it
 * makes until the response is written are that span's children and carry
 * what the inbound request asked to be passed on.
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
#include <stddef.h>

#include "span.h"

/*
 * Makes `ctx` this thread's. `inbound` is the context the request arrived
 * with (NULL when it had none), `debug` its B3/Jaeger debug flag, and
 * `inherit` (may be NULL) the header lines ("name: value\r\n"...) to pass
 * on unchanged: tracestate, baggage, uberctx-*, forwarded mesh headers.
 */
void op_context_set(const struct op_span_ctx *ctx, const struct op_span_ctx *inbound,
		    bool debug, const char *inherit, size_t inherit_len);

/* Forgets this thread's context if it is the span `span_id`. */
void op_context_clear_if(const uint8_t span_id[8]);

/*
 * True when `out`, a traceparent an outbound request already carries, is
 * the one this thread's request came in with: the application forwards
 * headers without tracing (a proxy), so the header may be replaced by the
 * outbound span's own.
 */
bool op_context_forwarded(const struct op_span_ctx *out);

/*
 * This thread's context, or else the process's (below), or NULL. *inherit
 * and *debug (when asked) go with it; *inherit is NULL when there is
 * nothing to pass on. Valid until the thread's next op_context_* call.
 */
const struct op_span_ctx *op_context_get(const char **inherit, bool *debug);

/*
 * The process's context, what a span that would otherwise be a root gets
 * as its parent: the process span (`own`), or else the TRACEPARENT the
 * process was started with (remote). `tracestate` (may be NULL) is the
 * TRACESTATE that came with it, already validated; outbound requests pass
 * it on when the tracecontext propagator is configured.
 *
 * Set by the constructor before any thread of ours exists, and again only
 * there: readers need no lock. A fork child keeps its parent's (it goes on
 * with the parent's context in memory).
 */
void op_context_set_process(const struct op_span_ctx *ctx, bool own,
			    const char *tracestate, size_t tracestate_len);

/*
 * The context a new program started by this thread continues: this
 * thread's, or the process span's. Not the inherited TRACEPARENT alone,
 * which reaches the new program unchanged anyway. Fills *ctx and the
 * tracestate that goes with it (*tracestate NULL when none) and returns
 * true, or returns false. Reads memory only: safe in a vfork child and
 * between fork and exec.
 */
bool op_context_for_child(struct op_span_ctx *ctx, const char **tracestate,
			  size_t *tracestate_len);

#endif
