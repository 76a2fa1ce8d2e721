/*
 * Spans and attributes built by hand, without the SDK, for the encoder
 * fixtures (encode_fixture.c, zipkin_fixture.c): the encoders are then the
 * only project code in those programs, as in the exporter module. Memory
 * is allocated one piece at a time and freed with fixture_span_free().
 */
#ifndef OP_TEST_FIXTURE_SPANS_H
#define OP_TEST_FIXTURE_SPANS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "preload/span.h"

static inline struct op_attr *fixture_add(struct op_attrs *a, const char *key,
					  enum op_attr_type type)
{
	struct op_attr *v;

	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 8;
		a->v = realloc(a->v, a->cap * sizeof *a->v);
		if (!a->v)
			exit(2);
	}
	v = &a->v[a->n++];
	memset(v, 0, sizeof *v);
	v->key = strdup(key);
	v->type = type;
	return v;
}

static inline void set_str(struct op_attrs *a, const char *key, const char *value)
{
	fixture_add(a, key, OP_ATTR_STRING)->v.s = strdup(value);
}

static inline void set_int(struct op_attrs *a, const char *key, int64_t value)
{
	fixture_add(a, key, OP_ATTR_INT)->v.i = value;
}

static inline void set_bool(struct op_attrs *a, const char *key, bool value)
{
	fixture_add(a, key, OP_ATTR_BOOL)->v.b = value;
}

static inline void set_double(struct op_attrs *a, const char *key, double value)
{
	fixture_add(a, key, OP_ATTR_DOUBLE)->v.d = value;
}

static inline void attrs_free(struct op_attrs *a)
{
	for (uint32_t i = 0; i < a->n; i++) {
		free(a->v[i].key);
		if (a->v[i].type == OP_ATTR_STRING)
			free(a->v[i].v.s);
	}
	free(a->v);
	memset(a, 0, sizeof *a);
}

/*
 * A sampled span whose IDs count up from the given first bytes (a zero
 * `parent_first`: a root span).
 */
static inline struct op_span *fixture_span(const char *name, enum op_span_kind kind,
					   uint8_t trace_first, uint8_t span_first,
					   uint8_t parent_first)
{
	struct op_span *s = calloc(1, sizeof *s);
	int i;

	if (!s)
		exit(2);
	for (i = 0; i < 16; i++)
		s->ctx.trace_id[i] = (uint8_t)(trace_first + i);
	for (i = 0; i < 8; i++)
		s->ctx.span_id[i] = (uint8_t)(span_first + i);
	if (parent_first)
		for (i = 0; i < 8; i++)
			s->parent_span_id[i] = (uint8_t)(parent_first + i);
	s->ctx.flags = OP_TRACE_FLAG_SAMPLED;
	s->name = strdup(name);
	s->kind = kind;
	return s;
}

static inline void fixture_span_free(struct op_span *s)
{
	attrs_free(&s->attrs);
	free(s->name);
	free(s->status_message);
	free(s);
}

#endif
