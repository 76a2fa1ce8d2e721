/*
 * The OTLP protobuf encoder writes the wire format itself, from the span
 * model straight into one buffer, and it writes that buffer BACKWARDS:
 * from the last field of the last span toward the first byte. A nested
 * message's length prefix comes before its contents on the wire, so a
 * writer going forward must know every length before it starts (protobuf-c
 * walks the whole request twice for that, measuring every string with
 * strlen each time); going backwards the contents are already written when
 * their length is due. Each string is measured and checked for UTF-8 once.
 *
 * The bytes are the ones protobuf-c packed from the same batch before:
 * fields in field-number order, proto3 defaults (zero scalars, empty
 * strings and bytes) left out except in a oneof, every message field
 * present. tests/unit/test_otlp_encode.c holds the two to each other.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../preload/op.h"
#include "json.h"
#include "otlp_encode.h"

/* Wire types. */
#define WT_VARINT  0
#define WT_FIXED64 1
#define WT_LEN     2
#define WT_FIXED32 5

#define TAG(field, wt) ((uint8_t)((field) << 3 | (wt)))

/* Field numbers from exporter/proto; every one below 16 fits a one-byte tag. */
#define REQUEST_RESOURCE_SPANS   TAG(1, WT_LEN)   /* ExportTraceServiceRequest */
#define RS_RESOURCE              TAG(1, WT_LEN)   /* ResourceSpans */
#define RS_SCOPE_SPANS           TAG(2, WT_LEN)
#define RESOURCE_ATTRIBUTES      TAG(1, WT_LEN)   /* Resource */
#define RESOURCE_DROPPED         TAG(2, WT_VARINT)
#define SS_SCOPE                 TAG(1, WT_LEN)   /* ScopeSpans */
#define SS_SPANS                 TAG(2, WT_LEN)
#define SCOPE_NAME               TAG(1, WT_LEN)   /* InstrumentationScope */
#define SCOPE_VERSION            TAG(2, WT_LEN)
#define SPAN_TRACE_ID            TAG(1, WT_LEN)   /* Span */
#define SPAN_SPAN_ID             TAG(2, WT_LEN)
#define SPAN_PARENT_SPAN_ID      TAG(4, WT_LEN)
#define SPAN_NAME                TAG(5, WT_LEN)
#define SPAN_KIND                TAG(6, WT_VARINT)
#define SPAN_START               TAG(7, WT_FIXED64)
#define SPAN_END                 TAG(8, WT_FIXED64)
#define SPAN_ATTRIBUTES          TAG(9, WT_LEN)
#define SPAN_DROPPED_ATTRIBUTES  TAG(10, WT_VARINT)
#define SPAN_STATUS              TAG(15, WT_LEN)
#define STATUS_MESSAGE           TAG(2, WT_LEN)   /* Status */
#define STATUS_CODE              TAG(3, WT_VARINT)
#define KV_KEY                   TAG(1, WT_LEN)   /* KeyValue */
#define KV_VALUE                 TAG(2, WT_LEN)
#define ANY_STRING               TAG(1, WT_LEN)   /* AnyValue */
#define ANY_BOOL                 TAG(2, WT_VARINT)
#define ANY_INT                  TAG(3, WT_VARINT)
#define ANY_DOUBLE               TAG(4, WT_FIXED64)
/* Span.flags is field 16, fixed32: its tag is a two-byte varint. */
#define SPAN_FLAGS (16 << 3 | WT_FIXED32)
static const uint8_t span_flags_tag[2] = { (SPAN_FLAGS & 0x7f) | 0x80, SPAN_FLAGS >> 7 };

/* Most bytes one varint, or a tag and a length, take. */
#define VARINT_MAX 10
#define HEAD_MAX (1 + VARINT_MAX)

/*
 * The request being written: its bytes are buf[pos, cap). Positions that
 * must survive the buffer growing are kept as "written so far" counts
 * (cap - pos), which growing does not change.
 */
struct wr {
	struct op_otlp_scratch *sc;
	uint8_t *buf;
	size_t cap;
	size_t pos;
};

static inline size_t written(const struct wr *w)
{
	return w->cap - w->pos;
}

/*
 * Makes room for `n` more bytes in front of what is written: a buffer twice
 * as large (at least), with the written bytes moved to its end. -1 out of
 * memory or past OP_OTLP_MAX_REQUEST; the old buffer then stays as it was.
 */
static int grow(struct wr *w, size_t n)
{
	size_t used = written(w), cap = w->cap ? w->cap : 4096;
	uint8_t *buf;

	if (n > OP_OTLP_MAX_REQUEST - used)
		return -1;
	while (cap - used < n)
		cap *= 2;
	buf = malloc(cap);
	if (!buf)
		return -1;
	if (used)
		memcpy(buf + cap - used, w->buf + w->pos, used);
	free(w->buf);
	w->buf = w->sc->buf = buf;
	w->cap = w->sc->cap_buf = cap;
	w->pos = cap - used;
	return 0;
}

/* Every put below needs room made for it first. */
static inline int room(struct wr *w, size_t n)
{
	return n <= w->pos ? 0 : grow(w, n);
}

static inline void put_byte(struct wr *w, uint8_t b)
{
	w->buf[--w->pos] = b;
}

static inline void put_bytes(struct wr *w, const void *p, size_t len)
{
	w->pos -= len;
	memcpy(w->buf + w->pos, p, len);
}

static inline void put_varint(struct wr *w, uint64_t v)
{
	unsigned n;
	uint8_t *p;

	if (v < 0x80) {
		put_byte(w, (uint8_t)v);
		return;
	}
	n = (unsigned)(64 - __builtin_clzll(v) + 6) / 7;
	w->pos -= n;
	for (p = w->buf + w->pos; v >= 0x80; v >>= 7)
		*p++ = (uint8_t)(v | 0x80);
	*p = (uint8_t)v;
}

static inline void put_fixed(struct wr *w, uint64_t v, unsigned n)
{
	unsigned i;

	w->pos -= n;
	for (i = 0; i < n; i++, v >>= 8)
		w->buf[w->pos + i] = (uint8_t)v;
}

/*
 * Closes a length-delimited field whose contents started `mark` bytes from
 * the end: its length, then its tag.
 */
static inline int put_head(struct wr *w, uint8_t tag, size_t mark)
{
	if (room(w, HEAD_MAX))
		return -1;
	put_varint(w, written(w) - mark);
	put_byte(w, tag);
	return 0;
}

/* An enum as protobuf packs an int32: a negative one sign-extended to ten bytes. */
static inline void put_enum(struct wr *w, uint8_t tag, int v)
{
	if (v) {
		put_varint(w, (uint64_t)(int64_t)v);
		put_byte(w, tag);
	}
}

/*
 * The length of NUL-terminated `s`, and whether its bytes are all ASCII
 * (then valid UTF-8 without a closer look). strlen() first, then the bytes
 * eight at a time: one loop finding the NUL in whole words as well would
 * read past the string's end, which ASan and valgrind rightly report, and
 * glibc's strlen is vectorised anyway.
 */
static inline size_t measure(const char *s, bool *ascii)
{
	size_t len = strlen(s), i = 0;
	uint64_t hi = 0, word;

	for (; i + 8 <= len; i += 8) {
		memcpy(&word, s + i, 8);
		hi |= word;
	}
	for (; i < len; i++)
		hi |= (uint8_t)s[i];
	*ascii = !(hi & 0x8080808080808080ull);
	return len;
}

/*
 * A string field: `s` as it is when it is valid UTF-8 (nearly always),
 * repaired otherwise, because receivers reject a whole request over one
 * bad proto3 string. An empty or NULL `s` is left out, as proto3 wants,
 * unless `keep_empty` (a oneof member, present even when empty).
 */
static int put_str(struct wr *w, uint8_t tag, const char *s, bool keep_empty)
{
	struct op_buf *b = &w->sc->repair;
	size_t len;
	bool ascii;

	if (!s)
		s = "";
	len = measure(s, &ascii);
	if (!ascii && !op_utf8_valid(s, len)) {
		op_buf_reset(b);
		op_buf_add_utf8(b, s, len);
		if (b->err)
			return -1;
		s = b->p;
		len = b->len;
	}
	if (!len && !keep_empty)
		return 0;
	if (room(w, len + HEAD_MAX))
		return -1;
	if (len)
		put_bytes(w, s, len);
	put_varint(w, len);
	put_byte(w, tag);
	return 0;
}

/* One KeyValue, as the field `tag` of its list's message. */
static int put_attr(struct wr *w, uint8_t tag, const struct op_attr *a)
{
	size_t kv = written(w), any;
	uint64_t bits;

	if (room(w, 1 + VARINT_MAX))
		return -1;
	any = written(w);
	switch (a->type) {
	case OP_ATTR_STRING:
		if (put_str(w, ANY_STRING, a->v.s, true))
			return -1;
		break;
	case OP_ATTR_BOOL:
		put_byte(w, a->v.b ? 1 : 0);
		put_byte(w, ANY_BOOL);
		break;
	case OP_ATTR_INT:
		put_varint(w, (uint64_t)a->v.i);
		put_byte(w, ANY_INT);
		break;
	case OP_ATTR_DOUBLE:
		memcpy(&bits, &a->v.d, sizeof bits);
		put_fixed(w, bits, 8);
		put_byte(w, ANY_DOUBLE);
		break;
	}
	if (put_head(w, KV_VALUE, any) || put_str(w, KV_KEY, a->key, false))
		return -1;
	return put_head(w, tag, kv);
}

/*
 * The list in order, so written from its last element. The strings of the
 * attribute after next are fetched ahead: other threads wrote them a while
 * ago, and waiting for memory took a good part of the encoder's time.
 */
static int put_attrs(struct wr *w, uint8_t tag, const struct op_attrs *a)
{
	uint32_t i;

	for (i = a->n; i > 0; i--) {
		if (i > 2) {
			__builtin_prefetch(a->v[i - 3].key);
			if (a->v[i - 3].type == OP_ATTR_STRING)
				__builtin_prefetch(a->v[i - 3].v.s);
		}
		if (put_attr(w, tag, &a->v[i - 1]))
			return -1;
	}
	return 0;
}

/* Room for the largest run of fixed-size fields put_span() writes at once. */
#define SPAN_FIXED_MAX 64

static int put_span(struct wr *w, const struct op_span *s)
{
	size_t span = written(w), status;
	uint32_t flags = op_span_otlp_flags(s);

	if (room(w, SPAN_FIXED_MAX))
		return -1;
	if (flags) {
		put_fixed(w, flags, 4);
		put_bytes(w, span_flags_tag, sizeof span_flags_tag);
	}
	status = written(w);
	/* Our enums use OTLP's numbers (span.h). */
	put_enum(w, STATUS_CODE, (int)s->status);
	if (put_str(w, STATUS_MESSAGE, s->status_message, false) ||
	    put_head(w, SPAN_STATUS, status) || room(w, SPAN_FIXED_MAX))
		return -1;
	if (s->attrs.dropped) {
		put_varint(w, s->attrs.dropped);
		put_byte(w, SPAN_DROPPED_ATTRIBUTES);
	}
	if (put_attrs(w, SPAN_ATTRIBUTES, &s->attrs) || room(w, SPAN_FIXED_MAX))
		return -1;
	if (s->end_ns) {
		put_fixed(w, (uint64_t)s->end_ns, 8);
		put_byte(w, SPAN_END);
	}
	if (s->start_ns) {
		put_fixed(w, (uint64_t)s->start_ns, 8);
		put_byte(w, SPAN_START);
	}
	put_enum(w, SPAN_KIND, (int)s->kind);
	if (put_str(w, SPAN_NAME, s->name, false) || room(w, SPAN_FIXED_MAX))
		return -1;
	/* OTLP's root span marker is an absent parent, not eight zero bytes. */
	if (op_span_has_parent(s)) {
		put_bytes(w, s->parent_span_id, sizeof s->parent_span_id);
		put_byte(w, sizeof s->parent_span_id);
		put_byte(w, SPAN_PARENT_SPAN_ID);
	}
	put_bytes(w, s->ctx.span_id, sizeof s->ctx.span_id);
	put_byte(w, sizeof s->ctx.span_id);
	put_byte(w, SPAN_SPAN_ID);
	put_bytes(w, s->ctx.trace_id, sizeof s->ctx.trace_id);
	put_byte(w, sizeof s->ctx.trace_id);
	put_byte(w, SPAN_TRACE_ID);
	return put_head(w, SS_SPANS, span);
}

/* The whole request, from its end. */
static int put_request(struct wr *w, struct op_span *const *spans, size_t n,
		       const struct op_resource *res)
{
	size_t rs = written(w), ss = rs, scope, resource, i;

	/* Spans written from the last; the next ones fetched ahead, as in put_attrs(). */
	for (i = n; i > 0; i--) {
		if (i > 2)
			__builtin_prefetch(spans[i - 3]);
		if (i > 1) {
			const struct op_attrs *a = &spans[i - 2]->attrs;

			if (a->n)
				__builtin_prefetch(&a->v[a->n - 1]);
		}
		if (put_span(w, spans[i - 1]))
			return -1;
	}
	scope = written(w);
	if (put_str(w, SCOPE_VERSION, OP_VERSION, false) ||
	    put_str(w, SCOPE_NAME, OP_SCOPE_NAME, false) ||
	    put_head(w, SS_SCOPE, scope) || put_head(w, RS_SCOPE_SPANS, ss))
		return -1;

	resource = written(w);
	if (res) {
		if (room(w, 1 + VARINT_MAX))
			return -1;
		if (res->attrs.dropped) {
			put_varint(w, res->attrs.dropped);
			put_byte(w, RESOURCE_DROPPED);
		}
		if (put_attrs(w, RESOURCE_ATTRIBUTES, &res->attrs))
			return -1;
	}
	if (put_head(w, RS_RESOURCE, resource))
		return -1;
	return put_head(w, REQUEST_RESOURCE_SPANS, rs);
}

int op_otlp_encode_into(struct op_otlp_scratch *sc, struct op_span *const *spans, size_t n,
			const struct op_resource *res, const uint8_t **out, size_t *out_len)
{
	struct wr w = { sc, sc->buf, sc->cap_buf, sc->cap_buf };

	if (put_request(&w, spans, n, res))
		return -1;
	*out = w.buf + w.pos;
	*out_len = written(&w);
	return 0;
}

void op_otlp_scratch_free(struct op_otlp_scratch *sc)
{
	free(sc->buf);
	op_buf_free(&sc->repair);
	memset(sc, 0, sizeof *sc);
}

int op_otlp_encode(struct op_span *const *spans, size_t n,
		   const struct op_resource *res,
		   uint8_t **out, size_t *out_len)
{
	struct op_otlp_scratch sc = { 0 };
	const uint8_t *body;
	size_t len;
	int ret = op_otlp_encode_into(&sc, spans, n, res, &body, &len);

	if (ret == 0) {
		*out = malloc(len ? len : 1);
		if (*out) {
			memcpy(*out, body, len);
			*out_len = len;
		} else {
			ret = -1;
		}
	}
	op_otlp_scratch_free(&sc);
	return ret;
}
