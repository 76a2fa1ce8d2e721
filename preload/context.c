#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "propagate.h"

/*
 * Thread-local, so no lock. The tracestate copy is on the heap, not in
 * TLS: a preloaded library's TLS comes from the static TLS block, which is
 * small. It is freed when the thread exits (the key's destructor).
 */
struct tls_ctx {
	struct op_span_ctx ctx;
	struct op_span_ctx inbound;
	bool valid;
	bool has_inbound;
};

static __thread struct tls_ctx current;
static __thread char *current_ts;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t ts_key;
static bool key_ok;

static void key_init(void)
{
	key_ok = pthread_key_create(&ts_key, free) == 0;
}

void op_context_set(const struct op_span_ctx *ctx, const struct op_span_ctx *inbound,
		    const char *tracestate, size_t ts_len)
{
	current.ctx = *ctx;
	current.valid = true;
	current.has_inbound = inbound != NULL;
	if (inbound)
		current.inbound = *inbound;
	if (current_ts)
		current_ts[0] = '\0';
	if (!tracestate || !op_tracestate_valid(tracestate, ts_len))
		return;
	if (!current_ts) {
		pthread_once(&key_once, key_init);
		if (!key_ok || !(current_ts = malloc(OP_TRACESTATE_MAX + 1)))
			return;
		pthread_setspecific(ts_key, current_ts);
	}
	memcpy(current_ts, tracestate, ts_len);
	current_ts[ts_len] = '\0';
}

void op_context_clear_if(const uint8_t span_id[8])
{
	if (current.valid && !memcmp(current.ctx.span_id, span_id, 8)) {
		current.valid = false;
		if (current_ts)
			current_ts[0] = '\0';
	}
}

bool op_context_forwarded(const struct op_span_ctx *out)
{
	return current.valid && current.has_inbound &&
	       !memcmp(out->trace_id, current.inbound.trace_id, 16) &&
	       !memcmp(out->span_id, current.inbound.span_id, 8);
}

const struct op_span_ctx *op_context_get(const char **tracestate)
{
	if (!current.valid)
		return NULL;
	if (tracestate)
		*tracestate = current_ts && current_ts[0] ? current_ts : NULL;
	return &current.ctx;
}
