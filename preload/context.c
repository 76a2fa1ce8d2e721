#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"

/*
 * Thread-local, so no lock. The inherited header lines are on the heap,
 * not in TLS: a preloaded library's TLS comes from the static TLS block,
 * which is small. The buffer is kept for the thread's next request and
 * freed when the thread exits (the key's destructor).
 */
struct tls_ctx {
	struct op_span_ctx ctx;
	struct op_span_ctx inbound;
	bool valid;
	bool has_inbound;
	bool debug;
	size_t inherit_len;
};

static __thread struct tls_ctx current;
static __thread char *inherit_buf;
static __thread size_t inherit_cap;

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t buf_key;
static bool key_ok;

static void key_init(void)
{
	key_ok = pthread_key_create(&buf_key, free) == 0;
}

void op_context_set(const struct op_span_ctx *ctx, const struct op_span_ctx *inbound,
		    bool debug, const char *inherit, size_t inherit_len)
{
	current.ctx = *ctx;
	current.valid = true;
	current.debug = debug;
	current.has_inbound = inbound != NULL;
	if (inbound)
		current.inbound = *inbound;
	current.inherit_len = 0;
	if (!inherit || !inherit_len)
		return;
	if (inherit_len + 1 > inherit_cap) {
		char *grown;

		pthread_once(&key_once, key_init);
		if (!key_ok || !(grown = realloc(inherit_buf, inherit_len + 1)))
			return;
		inherit_buf = grown;
		inherit_cap = inherit_len + 1;
		pthread_setspecific(buf_key, inherit_buf);
	}
	memcpy(inherit_buf, inherit, inherit_len);
	inherit_buf[inherit_len] = '\0';
	current.inherit_len = inherit_len;
}

void op_context_clear_if(const uint8_t span_id[8])
{
	if (current.valid && !memcmp(current.ctx.span_id, span_id, 8)) {
		current.valid = false;
		current.inherit_len = 0;
	}
}

bool op_context_forwarded(const struct op_span_ctx *out)
{
	return current.valid && current.has_inbound &&
	       !memcmp(out->trace_id, current.inbound.trace_id, 16) &&
	       !memcmp(out->span_id, current.inbound.span_id, 8);
}

const struct op_span_ctx *op_context_get(const char **inherit, bool *debug)
{
	if (!current.valid)
		return NULL;
	if (inherit)
		*inherit = current.inherit_len ? inherit_buf : NULL;
	if (debug)
		*debug = current.debug;
	return &current.ctx;
}
