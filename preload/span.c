#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "bsp.h"
#include "config.h"
#include "ids.h"
#include "op.h"
#include "sampler.h"
#include "sdk.h"
#include "span.h"

void op_attrs_init(struct op_attrs *a, uint32_t count_limit, uint32_t value_len_limit)
{
	memset(a, 0, sizeof *a);
	a->count_limit = count_limit;
	a->value_len_limit = value_len_limit;
}

/* A copy of [s, s + len) in the arena if it fits, else on the heap (`bit` set in *heap). */
static char *store(struct op_attrs *a, const char *s, size_t len, uint8_t *heap, uint8_t bit)
{
	char *p;

	if (a->arena && len < a->arena_cap - a->arena_used) {
		p = a->arena + a->arena_used;
		a->arena_used += (uint32_t)len + 1;
	} else {
		if (!(p = malloc(len + 1)))
			return NULL;
		*heap |= bit;
	}
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

static void release_value(struct op_attr *at)
{
	if (at->type == OP_ATTR_STRING && (at->heap & OP_ATTR_HEAP_VALUE))
		free(at->v.s);
	at->heap &= (uint8_t)~OP_ATTR_HEAP_VALUE;
}

/*
 * A key's bit in op_attrs.key_seen, from its length and its first and
 * last bytes: the keys of one span (a dozen or so) seldom share one, where
 * several share a length ("url.path", "url.full").
 */
static inline uint64_t key_bit(const char *key, size_t klen)
{
	unsigned h = (unsigned)klen;

	if (klen)
		h = h * 31 + (unsigned char)key[0] * 7 + (unsigned char)key[klen - 1];
	return 1ull << (h % 64);
}

/*
 * The slot for `key`: the existing attribute (replaced, as the API
 * specifies), or a new one, or NULL when the count limit is reached (the
 * attribute is then counted as dropped) or memory runs out.
 */
static struct op_attr *slot(struct op_attrs *a, const char *key, bool copy_key)
{
	size_t klen = strlen(key);
	uint16_t k16 = klen > UINT16_MAX ? UINT16_MAX : (uint16_t)klen;
	uint64_t bit = key_bit(key, klen);
	struct op_attr *at;

	/* A key whose bit no held key has cannot be held: skip the search. */
	if (a->key_seen & bit) {
		for (uint32_t i = 0; i < a->n; i++) {
			if (a->v[i].klen == k16 && (a->v[i].key == key || !strcmp(a->v[i].key, key))) {
				at = &a->v[i];
				release_value(at);
				return at;
			}
		}
	}
	if (a->n >= a->count_limit) {
		a->dropped++;
		return NULL;
	}
	if (a->n == a->cap) {
		uint32_t cap = a->cap ? a->cap * 2 : 8;
		struct op_attr *v = a->v_inline ? malloc(cap * sizeof *v)
					       : realloc(a->v, cap * sizeof *v);

		if (!v) {
			a->dropped++;
			return NULL;
		}
		if (a->v_inline && a->n)
			memcpy(v, a->v, a->n * sizeof *v);
		a->v = v;
		a->cap = cap;
		a->v_inline = false;
	}
	at = &a->v[a->n];
	at->heap = 0;
	at->type = OP_ATTR_BOOL;
	at->klen = k16;
	at->key = copy_key ? store(a, key, klen, &at->heap, OP_ATTR_HEAP_KEY) : (char *)key;
	if (!at->key) {
		a->dropped++;
		return NULL;
	}
	a->key_seen |= bit;
	a->n++;
	return at;
}

/*
 * The byte length of the first `limit` characters of `s` (the SDK
 * specification counts characters, not bytes). A character is a UTF-8
 * lead byte and at most three continuation bytes; any other byte counts
 * as a character of its own, so invalid input stays bounded too.
 */
static size_t utf8_cut(const char *s, size_t len, size_t limit)
{
	size_t i = 0, chars = 0;

	if (len <= limit)
		return len;
	while (i < len && chars < limit) {
		unsigned char c = (unsigned char)s[i++];

		for (int k = 0; c >= 0xc0 && k < 3 && i < len &&
				((unsigned char)s[i] & 0xc0) == 0x80; k++)
			i++;
		chars++;
	}
	return i;
}

static int set_str(struct op_attrs *a, const char *key, bool copy_key, const char *value,
		   size_t len)
{
	struct op_attr *at = slot(a, key, copy_key);
	char *copy;

	if (!at)
		return -1;
	len = utf8_cut(value, len, a->value_len_limit);
	copy = store(a, value, len, &at->heap, OP_ATTR_HEAP_VALUE);
	at->type = OP_ATTR_STRING;
	at->v.s = copy ? copy : (char *)"";
	return 0;
}

static int set_int(struct op_attrs *a, const char *key, bool copy_key, int64_t value)
{
	struct op_attr *at = slot(a, key, copy_key);

	if (!at)
		return -1;
	at->type = OP_ATTR_INT;
	at->v.i = value;
	return 0;
}

static int set_bool(struct op_attrs *a, const char *key, bool copy_key, bool value)
{
	struct op_attr *at = slot(a, key, copy_key);

	if (!at)
		return -1;
	at->type = OP_ATTR_BOOL;
	at->v.b = value;
	return 0;
}

static int set_double(struct op_attrs *a, const char *key, bool copy_key, double value)
{
	struct op_attr *at = slot(a, key, copy_key);

	if (!at)
		return -1;
	at->type = OP_ATTR_DOUBLE;
	at->v.d = value;
	return 0;
}

int op_attrs_set_str(struct op_attrs *a, const char *key, const char *value, size_t len)
{
	return set_str(a, key, true, value, len);
}

int op_attrs_set_int(struct op_attrs *a, const char *key, int64_t value)
{
	return set_int(a, key, true, value);
}

int op_attrs_set_bool(struct op_attrs *a, const char *key, bool value)
{
	return set_bool(a, key, true, value);
}

int op_attrs_set_double(struct op_attrs *a, const char *key, double value)
{
	return set_double(a, key, true, value);
}

const struct op_attr *op_attrs_get(const struct op_attrs *a, const char *key)
{
	size_t klen = strlen(key);
	uint16_t k16 = klen > UINT16_MAX ? UINT16_MAX : (uint16_t)klen;

	for (uint32_t i = 0; i < a->n; i++)
		if (a->v[i].klen == k16 && !strcmp(a->v[i].key, key))
			return &a->v[i];
	return NULL;
}

void op_attrs_free(struct op_attrs *a)
{
	for (uint32_t i = 0; i < a->n; i++) {
		if (a->v[i].heap & OP_ATTR_HEAP_KEY)
			free(a->v[i].key);
		release_value(&a->v[i]);
	}
	if (!a->v_inline)
		free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

/* The span's name lives in its arena when it fits (it always does for HTTP methods). */
static char *op_span_copy_name(struct op_span *s, const char *name)
{
	uint8_t heap = 0;
	char *p = store(&s->attrs, name, strlen(name), &heap, 1);

	s->name_heap = heap != 0;
	return p;
}

/*
 * The part of a span a non-recording one has: an unsampled span is only
 * IDs and flags to propagate, so it is allocated without the attribute
 * storage (a small block, which malloc serves from its per-thread cache)
 * and reads no clock. Its setters do nothing (op_span_sampled is false
 * for its whole life).
 */
#define OP_SPAN_LIGHT_SIZE offsetof(struct op_span, inline_attrs)

static char no_name[] = "";

static struct op_span *start(const char *name, enum op_span_kind kind,
			      const struct op_span_ctx *parent, int64_t start_ns)
{
	struct op_span_ctx ctx = { 0 };
	struct op_span *s;
	bool sampled;

	op_sdk_init();
	if (!op_sdk_enabled())
		return NULL;
	if (parent)
		memcpy(ctx.trace_id, parent->trace_id, sizeof ctx.trace_id);
	else
		op_ids_trace(ctx.trace_id);
	op_ids_span(ctx.span_id);
	sampled = op_sampler_should_sample(op_cfg.sampler, op_cfg.sampler_ratio, parent, ctx.trace_id);
	if (sampled)
		ctx.flags |= OP_TRACE_FLAG_SAMPLED;
	/* Only the header is cleared: the inline storage is written before it is read. */
	s = malloc(sampled ? sizeof *s : OP_SPAN_LIGHT_SIZE);
	if (!s)
		return NULL;
	memset(s, 0, OP_SPAN_LIGHT_SIZE);
	s->ctx = ctx;
	if (parent) {
		memcpy(s->parent_span_id, parent->span_id, sizeof s->parent_span_id);
		s->parent_remote = parent->remote;
	}
	s->kind = kind;
	if (!sampled) {
		s->name = no_name;
		s->start_ns = start_ns;
		return s;
	}
	op_attrs_init(&s->attrs, op_cfg.attr_count_limit, op_cfg.attr_value_len_limit);
	s->attrs.v = s->inline_attrs;
	s->attrs.cap = OP_SPAN_INLINE_ATTRS;
	s->attrs.v_inline = true;
	s->attrs.arena = s->arena;
	s->attrs.arena_cap = OP_SPAN_ARENA;
	s->name = op_span_copy_name(s, name);
	if (!s->name) {
		free(s);
		return NULL;
	}
	/* The clock is not free (a VM's can cost 100 ns): read it only when needed. */
	s->start_ns = start_ns ? start_ns : op_now_ns();
	return s;
}

/*
 * The guard marks the thread as inside otelpreload while it may hold our
 * locks or the allocator's, so a signal handler that interrupts it and
 * calls a hook (_exit above all) knows not to take them again.
 */
struct op_span *op_span_start_at(const char *name, enum op_span_kind kind,
				 const struct op_span_ctx *parent, int64_t start_ns)
{
	struct op_span *s;
	int saved = errno;

	OP_GUARD_ENTER();
	s = start(name, kind, parent, start_ns);
	OP_GUARD_LEAVE();
	errno = saved;
	return s;
}

void op_span_set_name(struct op_span *s, const char *name)
{
	char *old, *p;
	bool old_heap;
	int saved = errno;

	if (!op_span_sampled(s) || !name || !strcmp(s->name, name))
		return;
	OP_GUARD_ENTER();
	old = s->name;
	old_heap = s->name_heap;
	if ((p = op_span_copy_name(s, name))) {
		s->name = p;
		if (old_heap)
			free(old);
	} else {
		s->name_heap = old_heap;
	}
	OP_GUARD_LEAVE();
	errno = saved;
}

struct op_span *op_span_start(const char *name, enum op_span_kind kind,
			      const struct op_span_ctx *parent)
{
	return op_span_start_at(name, kind, parent, 0);
}

/*
 * Attributes of an unsampled span are never seen by anyone: skip the work.
 * Every setter preserves errno, since hooks call them between the host's
 * call and its return.
 */
#define SETTER_BODY(call) \
	do { \
		int saved = errno; \
		if (op_span_sampled(s)) { \
			OP_GUARD_ENTER(); \
			(void)(call); \
			OP_GUARD_LEAVE(); \
		} \
		errno = saved; \
	} while (0)

void op_span_set_str(struct op_span *s, const char *key, const char *value)
{
	SETTER_BODY(set_str(&s->attrs, key, false, value, strlen(value)));
}

void op_span_set_strn(struct op_span *s, const char *key, const char *value, size_t len)
{
	SETTER_BODY(set_str(&s->attrs, key, false, value, len));
}

void op_span_set_int(struct op_span *s, const char *key, int64_t value)
{
	SETTER_BODY(set_int(&s->attrs, key, false, value));
}

void op_span_set_bool(struct op_span *s, const char *key, bool value)
{
	SETTER_BODY(set_bool(&s->attrs, key, false, value));
}

void op_span_set_double(struct op_span *s, const char *key, double value)
{
	SETTER_BODY(set_double(&s->attrs, key, false, value));
}

void op_span_set_status(struct op_span *s, enum op_status status, const char *message)
{
	int saved = errno;

	/* A non-recording span's status is never seen. */
	if (!op_span_sampled(s))
		return;
	/* Ok is final; Unset never overrides (Span API "Set Status"). */
	if (s->status == OP_STATUS_OK || status == OP_STATUS_UNSET)
		return;
	s->status = status;
	free(s->status_message);
	s->status_message = status == OP_STATUS_ERROR && message ? strdup(message) : NULL;
	errno = saved;
}

void op_span_end_at(struct op_span *s, int64_t end_ns)
{
	int saved = errno;

	if (!s)
		return;
	s->end_ns = end_ns < s->start_ns ? s->start_ns : end_ns;
	OP_GUARD_ENTER();
	if (op_span_sampled(s))
		op_bsp_push(s);
	else
		op_span_free(s);
	OP_GUARD_LEAVE();
	errno = saved;
}

void op_span_end(struct op_span *s)
{
	int saved = errno;

	/* An unsampled span's end time is never seen: no clock read. */
	if (s && !op_span_sampled(s)) {
		OP_GUARD_ENTER();
		op_span_free(s);
		OP_GUARD_LEAVE();
		errno = saved;
		return;
	}
	op_span_end_at(s, op_now_ns());
}

void op_span_free(struct op_span *s)
{
	if (!s)
		return;
	/* A non-recording span has no attribute storage, name or status to release. */
	if (s->attrs.v)
		op_attrs_free(&s->attrs);
	if (s->name_heap)
		free(s->name);
	if (s->status_message)
		free(s->status_message);
	free(s->code);
	free(s);
}
