/*
 * OTLP/JSON. Every field the protobuf encoder (otlp_encode.c) sets is
 * written here under its lowerCamelCase name, with the same rules for what
 * is left out (a root span's parent, zero dropped counts, an empty status
 * message), so a receiver gets the same request whichever encoding it is
 * sent in. tests/integration/encode_decode.mjs holds the two to that.
 */
#include <string.h>

#include "../preload/op.h"
#include "otlp_encode.h"
#include "otlp_json.h"

static void str(struct op_buf *b, const char *s)
{
	op_json_str(b, s, s ? strlen(s) : 0);
}

/* proto3 leaves a zero count out, and so do we. */
static void dropped(struct op_buf *b, uint32_t n)
{
	if (n)
		op_buf_addf(b, ",\"droppedAttributesCount\":%u", n);
}

static void id(struct op_buf *b, const char *key, const uint8_t *p, size_t n)
{
	op_buf_adds(b, key);
	op_buf_addc(b, '"');
	op_buf_add_hex(b, p, n);
	op_buf_addc(b, '"');
}

void op_otlp_json_attrs(struct op_buf *b, const struct op_attrs *a)
{
	uint32_t i;

	op_buf_addc(b, '[');
	for (i = 0; i < a->n; i++) {
		const struct op_attr *at = &a->v[i];

		if (i)
			op_buf_addc(b, ',');
		op_buf_adds(b, "{\"key\":");
		str(b, at->key);
		op_buf_adds(b, ",\"value\":{");
		switch (at->type) {
		case OP_ATTR_STRING:
			op_buf_adds(b, "\"stringValue\":");
			str(b, at->v.s);
			break;
		case OP_ATTR_BOOL:
			op_buf_adds(b, at->v.b ? "\"boolValue\":true" : "\"boolValue\":false");
			break;
		case OP_ATTR_INT:
			/* int64 is a string in the protobuf JSON mapping: JavaScript numbers stop at 2^53. */
			op_buf_addf(b, "\"intValue\":\"%lld\"", (long long)at->v.i);
			break;
		case OP_ATTR_DOUBLE:
			op_buf_adds(b, "\"doubleValue\":");
			op_json_double(b, at->v.d);
			break;
		}
		op_buf_adds(b, "}}");
	}
	op_buf_addc(b, ']');
}

void op_otlp_json_resource(struct op_buf *b, const struct op_resource *res)
{
	op_buf_adds(b, "{\"attributes\":");
	if (res) {
		op_otlp_json_attrs(b, &res->attrs);
		dropped(b, res->attrs.dropped);
	} else {
		op_buf_adds(b, "[]");
	}
	op_buf_addc(b, '}');
}

void op_otlp_json_scope(struct op_buf *b)
{
	op_buf_adds(b, "{\"name\":\"" OP_SCOPE_NAME "\",\"version\":");
	str(b, OP_VERSION);
	op_buf_addc(b, '}');
}

void op_otlp_json_span(struct op_buf *b, const struct op_span *s)
{
	/* Hex, not protobuf's base64: the one deviation OTLP/JSON makes for IDs. */
	id(b, "{\"traceId\":", s->ctx.trace_id, sizeof s->ctx.trace_id);
	id(b, ",\"spanId\":", s->ctx.span_id, sizeof s->ctx.span_id);
	/* A root span has no parent at all, not sixteen zeros. */
	if (op_span_has_parent(s))
		id(b, ",\"parentSpanId\":", s->parent_span_id, sizeof s->parent_span_id);
	op_buf_adds(b, ",\"name\":");
	str(b, s->name);
	/* fixed64 times are strings in the protobuf JSON mapping, like int64. */
	op_buf_addf(b, ",\"kind\":%d,\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\",\"attributes\":",
		    (int)s->kind, (unsigned long long)s->start_ns,
		    (unsigned long long)s->end_ns);
	op_otlp_json_attrs(b, &s->attrs);
	dropped(b, s->attrs.dropped);
	op_buf_addf(b, ",\"status\":{\"code\":%d", (int)s->status);
	if (s->status_message && *s->status_message) {
		op_buf_adds(b, ",\"message\":");
		str(b, s->status_message);
	}
	op_buf_addf(b, "},\"flags\":%u}", (unsigned)op_span_otlp_flags(s));
}

void op_otlp_json_request(struct op_buf *b, struct op_span *const *spans, size_t n,
			  const struct op_resource *res)
{
	size_t i;

	op_buf_adds(b, "{\"resourceSpans\":[{\"resource\":");
	op_otlp_json_resource(b, res);
	op_buf_adds(b, ",\"scopeSpans\":[{\"scope\":");
	op_otlp_json_scope(b);
	op_buf_adds(b, ",\"spans\":[");
	for (i = 0; i < n; i++) {
		if (i)
			op_buf_addc(b, ',');
		op_otlp_json_span(b, spans[i]);
	}
	op_buf_adds(b, "]}]}]}");
}
