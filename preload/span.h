/*
 * The span model: what one operation looks like between the hook that
 * starts it and the exporter that encodes it.
 *
 * A span belongs to the thread that started it until op_span_end(); then
 * ownership moves to the batch span processor and finally to the exporter,
 * which frees it with op_span_free(). No span is ever shared, so a span
 * needs no lock.
 */
#ifndef OP_SPAN_H
#define OP_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Values as OTLP's Span.SpanKind numbers them. */
enum op_span_kind {
	OP_SPAN_KIND_INTERNAL = 1,
	OP_SPAN_KIND_SERVER = 2,
	OP_SPAN_KIND_CLIENT = 3,
	OP_SPAN_KIND_PRODUCER = 4,
	OP_SPAN_KIND_CONSUMER = 5,
};

/* Values as OTLP's Status.StatusCode numbers them. */
enum op_status {
	OP_STATUS_UNSET = 0,
	OP_STATUS_OK = 1,
	OP_STATUS_ERROR = 2,
};

enum op_attr_type {
	OP_ATTR_STRING,
	OP_ATTR_BOOL,
	OP_ATTR_INT,
	OP_ATTR_DOUBLE,
};

/* op_attr.heap bits: which strings were allocated on their own (and are freed). */
#define OP_ATTR_HEAP_KEY   0x1
#define OP_ATTR_HEAP_VALUE 0x2

struct op_attr {
	char *key;
	enum op_attr_type type;
	uint8_t heap;
	uint16_t klen;          /* strlen(key), capped: a cheap first test in lookups */
	union {
		char *s;
		bool b;
		int64_t i;
		double d;
	} v;
};

/*
 * A growable attribute list with the configured limits applied on insert:
 * past the count limit an attribute is counted in `dropped`, a string
 * longer than the value limit is cut (on a UTF-8 boundary).
 *
 * A span's list starts in storage inside the span (an array and a string
 * arena), so recording a dozen attributes costs no allocation; what does
 * not fit goes to the heap.
 */
struct op_attrs {
	struct op_attr *v;
	uint32_t n;
	uint32_t cap;
	uint32_t dropped;
	uint32_t count_limit;
	uint32_t value_len_limit;
	bool v_inline;          /* `v` is the owner's storage, not the heap */
	uint64_t key_seen;      /* bit key_bit(key) set for every key held: most lookups stop here */
	char *arena;            /* strings go here while they fit, NULL: heap only */
	uint32_t arena_cap;
	uint32_t arena_used;
};

#define OP_TRACE_FLAG_SAMPLED 0x01

/* The part of a span that crosses process boundaries. */
struct op_span_ctx {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t flags;   /* W3C trace-flags */
	bool remote;     /* extracted from a peer, not created here */
};

/* Attributes and string bytes a span holds without allocating. */
#define OP_SPAN_INLINE_ATTRS 16
#define OP_SPAN_ARENA 1024

struct op_span {
	struct op_span_ctx ctx;
	uint8_t parent_span_id[8]; /* all zero for a root span */
	bool parent_remote;        /* the parent context was extracted from a peer */
	char *name;                /* in `arena` unless name_heap */
	bool name_heap;
	enum op_span_kind kind;
	int64_t start_ns;          /* Unix epoch, nanoseconds */
	int64_t end_ns;
	enum op_status status;
	char *status_message;      /* only with OP_STATUS_ERROR, may be NULL */
	struct op_attrs attrs;
	/* A CLIENT span's caller, captured raw (preload/codeattr.h); heap, NULL if none. */
	struct op_code_ips *code;
	/* Storage behind `attrs` and `name`; left uninitialised until used. */
	struct op_attr inline_attrs[OP_SPAN_INLINE_ATTRS];
	char arena[OP_SPAN_ARENA];
};

/*
 * Starts a span now. `parent` is NULL for a root span. The sampler decides
 * whether it records; an unsampled span still has valid IDs (it is
 * propagated with flags 00) but records nothing (no name, attributes,
 * status or timestamps: it has no storage for them) and op_span_end()
 * drops it. Returns NULL only when memory runs out; every op_span_* call
 * accepts NULL and does nothing.
 */
struct op_span *op_span_start(const char *name, enum op_span_kind kind,
			      const struct op_span_ctx *parent);

/* Same, with a start time observed earlier (a request's first byte). */
struct op_span *op_span_start_at(const char *name, enum op_span_kind kind,
				 const struct op_span_ctx *parent, int64_t start_ns);

static inline bool op_span_sampled(const struct op_span *s)
{
	return s && (s->ctx.flags & OP_TRACE_FLAG_SAMPLED);
}

/*
 * The span holds `key` by pointer, uncopied: it must outlive the span (every
 * caller passes a string literal). Values are copied.
 */
void op_span_set_str(struct op_span *s, const char *key, const char *value);
void op_span_set_strn(struct op_span *s, const char *key, const char *value, size_t len);
void op_span_set_int(struct op_span *s, const char *key, int64_t value);
void op_span_set_bool(struct op_span *s, const char *key, bool value);
void op_span_set_double(struct op_span *s, const char *key, double value);
/* Renames the span (known only at its end, like a libcurl transfer's method). */
void op_span_set_name(struct op_span *s, const char *name);
void op_span_set_status(struct op_span *s, enum op_status status, const char *message);

/* Ends the span now and hands it to the batch span processor (or frees it). */
void op_span_end(struct op_span *s);
/* Same with an explicit end time, for spans whose end was observed earlier. */
void op_span_end_at(struct op_span *s, int64_t end_ns);

void op_span_free(struct op_span *s);

/* Attribute lists, shared by spans and the resource. */
void op_attrs_init(struct op_attrs *a, uint32_t count_limit, uint32_t value_len_limit);
int op_attrs_set_str(struct op_attrs *a, const char *key, const char *value, size_t len);
int op_attrs_set_int(struct op_attrs *a, const char *key, int64_t value);
int op_attrs_set_bool(struct op_attrs *a, const char *key, bool value);
int op_attrs_set_double(struct op_attrs *a, const char *key, double value);
const struct op_attr *op_attrs_get(const struct op_attrs *a, const char *key);
void op_attrs_free(struct op_attrs *a);

#endif
