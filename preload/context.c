#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "context.h"
#include "propagate.h"

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

/*
 * The process's context (op_context_set_process). Written by the
 * constructor before any thread of ours exists and never again; a thread
 * of the host started by another library's constructor before ours ran
 * sees `valid` false until then, which is right: there was no context yet.
 * `inherit` holds the "tracestate: ...\r\n" line outbound requests get.
 */
static struct {
	struct op_span_ctx ctx;
	bool valid;
	bool own;
	size_t tracestate_len;
	char tracestate[OP_TRACESTATE_MAX + 1];
	size_t inherit_len;
	char inherit[sizeof "tracestate: \r\n" + OP_TRACESTATE_MAX];
} proc;

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
	if (!current.valid) {
		if (!proc.valid)
			return NULL;
		if (inherit)
			*inherit = proc.inherit_len &&
				   (op_cfg.propagator_bits & (1u << OP_PROP_TRACECONTEXT))
				   ? proc.inherit : NULL;
		if (debug)
			*debug = false;
		return &proc.ctx;
	}
	if (inherit)
		*inherit = current.inherit_len ? inherit_buf : NULL;
	if (debug)
		*debug = current.debug;
	return &current.ctx;
}

void op_context_set_process(const struct op_span_ctx *ctx, bool own,
			    const char *tracestate, size_t tracestate_len)
{
	proc.valid = false;
	proc.ctx = *ctx;
	proc.own = own;
	proc.tracestate_len = 0;
	proc.inherit_len = 0;
	if (tracestate && tracestate_len && tracestate_len <= OP_TRACESTATE_MAX) {
		memcpy(proc.tracestate, tracestate, tracestate_len);
		proc.tracestate[tracestate_len] = '\0';
		proc.tracestate_len = tracestate_len;
		proc.inherit_len = (size_t)snprintf(proc.inherit, sizeof proc.inherit,
						    "tracestate: %s\r\n", proc.tracestate);
	}
	proc.valid = true;
}

/* The value of the "tracestate: " line among `lines` ("name: value\r\n"...). */
static const char *tracestate_line(const char *lines, size_t len, size_t *vlen)
{
	const char *end = lines + len;

	for (const char *l = lines; l < end;) {
		const char *eol = memchr(l, '\r', (size_t)(end - l));

		if (!eol)
			break;
		if ((size_t)(eol - l) > 12 && !memcmp(l, "tracestate: ", 12)) {
			*vlen = (size_t)(eol - l) - 12;
			return l + 12;
		}
		l = eol + 2;
	}
	return NULL;
}

bool op_context_for_child(struct op_span_ctx *ctx, const char **tracestate,
			  size_t *tracestate_len)
{
	*tracestate = NULL;
	*tracestate_len = 0;
	if (current.valid) {
		*ctx = current.ctx;
		if (current.inherit_len && inherit_buf)
			*tracestate = tracestate_line(inherit_buf, current.inherit_len,
						      tracestate_len);
		return true;
	}
	if (!proc.valid || !proc.own)
		return false;
	*ctx = proc.ctx;
	if (proc.tracestate_len) {
		*tracestate = proc.tracestate;
		*tracestate_len = proc.tracestate_len;
	}
	return true;
}
