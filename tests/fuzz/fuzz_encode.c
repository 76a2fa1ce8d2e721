/*
 * The OTLP/JSON encoder (exporter/otlp_json.c, the http/json transport and
 * the file exporter) and the Zipkin v2 encoder (exporter/zipkin.c) on spans
 * and a resource built from the fuzzer's bytes through the SDK's attribute
 * setters (so the count and value length limits apply as in the library):
 * names, keys and values of any bytes (invalid UTF-8, control characters,
 * quotes), any double, any IDs, times and statuses.
 *
 * Each document must be one strict RFC 8259 value in well-formed UTF-8
 * with no repeated key in any object (json_check.c, which shares no code
 * with the encoders), and must read back as the spans: IDs, times, kind,
 * status, every attribute with its type and value (strings exactly when
 * they were well-formed UTF-8, doubles to the same bits), Zipkin's tags,
 * endpoints and durations. The attribute setters are checked on the way:
 * the limits hold, and a cut value is a prefix that stays well-formed.
 */
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/otlp_json.h"
#include "exporter/zipkin.h"
#include "preload/span.h"

#include "fuzz.h"
#include "json_check.h"

#define MAX_SPANS 6

/* Keys the encoders treat specially, chosen by index; any other key is fuzzer bytes. */
static const char *const known_keys[] = {
	"service.name", "process.executable.name", "peer.service", "server.address",
	"net.peer.name", "network.peer.address", "network.peer.port", "server.socket.domain",
	"server.socket.address", "server.socket.port", "net.sock.peer.addr", "net.sock.peer.port",
	"client.address", "client.port", "db.name", "error", "otel.status_code",
	"otel.dropped_attributes_count", "otel.scope.name", "otel.library.version",
	"http.request.method", "url.full",
};

/* A string of the fuzzer's bytes: a length byte (255: two more), cut at a NUL. */
static char *str(struct fz *f, size_t *len)
{
	size_t n = fz_u8(f);
	char *s;

	if (n == 255)
		n = (size_t)fz_u8(f) << 8 | fz_u8(f);
	if (n > fz_left(f))
		n = fz_left(f);
	s = malloc(n + 1);
	if (!s)
		abort();
	memcpy(s, f->p, n);
	s[n] = '\0';
	f->p += n;
	*len = strlen(s);
	return s;
}

static double dbl(struct fz *f)
{
	uint64_t bits = fz_u64(f);
	double d;

	memcpy(&d, &bits, sizeof d);
	return d;
}

/* Adds attributes through the SDK's setters and checks what they kept. */
static void fill_attrs(struct fz *f, struct op_attrs *a, unsigned count)
{
	for (unsigned i = 0; i < count && fz_left(f); i++) {
		uint8_t type = fz_u8(f), pick = fz_u8(f);
		size_t klen, vlen;
		char *key = pick < 0xc0 ? strdup(known_keys[pick % (sizeof known_keys / sizeof *known_keys)])
					: str(f, &klen);
		uint32_t before = a->n, dropped = a->dropped;
		const struct op_attr *at;
		char *v;

		if (!key)
			abort();
		switch (type % 4) {
		case 0:
			v = str(f, &vlen);
			op_attrs_set_str(a, key, v, vlen);
			at = op_attrs_get(a, key);
			if (at) {
				size_t got = strlen(at->v.s);

				FUZZ_CHECK(at->type == OP_ATTR_STRING && got <= vlen && !memcmp(at->v.s, v, got),
					   "string attribute \"%s\" kept as \"%s\"", fz_show(v, vlen),
					   fz_show(at->v.s, got));
				FUZZ_CHECK(got == vlen || !json_utf8_ok(v, vlen) || json_utf8_ok(at->v.s, got),
					   "well-formed \"%s\" cut into ill-formed \"%s\"", fz_show(v, vlen),
					   fz_show(at->v.s, got));
				FUZZ_CHECK(got >= (vlen < a->value_len_limit ? vlen : a->value_len_limit),
					   "\"%s\" cut to %zu bytes under a limit of %u characters",
					   fz_show(v, vlen), got, a->value_len_limit);
			}
			free(v);
			break;
		case 1:
			op_attrs_set_int(a, key, (int64_t)fz_u64(f));
			break;
		case 2:
			op_attrs_set_bool(a, key, fz_u8(f) & 1);
			break;
		default:
			op_attrs_set_double(a, key, dbl(f));
			break;
		}
		FUZZ_CHECK(a->n <= a->count_limit && a->n <= before + 1 && a->dropped <= dropped + 1 &&
			   (a->n == before + 1) + (a->dropped == dropped + 1) <= 1,
			   "attribute count %u (limit %u), dropped %u", a->n, a->count_limit, a->dropped);
		free(key);
	}
}

static struct op_span *make_span(struct fz *f)
{
	struct op_span *s = calloc(1, sizeof *s);
	uint8_t b;
	size_t len;
	uint32_t count_limit, value_limit;

	if (!s)
		abort();
	for (int i = 0; i < 16; i++)
		s->ctx.trace_id[i] = fz_u8(f);
	for (int i = 0; i < 8; i++)
		s->ctx.span_id[i] = fz_u8(f);
	b = fz_u8(f);
	for (int i = 0; i < 8; i++)
		s->parent_span_id[i] = b & 1 ? fz_u8(f) : 0;
	s->parent_remote = b & 2;
	s->ctx.flags = fz_u8(f);
	s->kind = (enum op_span_kind)(1 + fz_u8(f) % 5);
	/* Times from a clock that may have been set anywhere in [1970, 2262). */
	s->start_ns = (int64_t)(fz_u64(f) & INT64_MAX);
	s->end_ns = (int64_t)(fz_u64(f) & INT64_MAX);
	b = fz_u8(f);
	s->status = (enum op_status)(b % 3);
	if (s->status == OP_STATUS_ERROR && (b & 4))
		s->status_message = str(f, &len);
	s->name = str(f, &len);
	s->name_heap = true;
	b = fz_u8(f);
	count_limit = b & 0x80 ? 128 : b & 0x1f;
	b = fz_u8(f);
	value_limit = b & 0x80 ? UINT32_MAX : b;
	/* As op_span_start lays out a span: inline attributes and string arena first. */
	op_attrs_init(&s->attrs, count_limit, value_limit);
	s->attrs.v = s->inline_attrs;
	s->attrs.cap = OP_SPAN_INLINE_ATTRS;
	s->attrs.v_inline = true;
	s->attrs.arena = s->arena;
	s->attrs.arena_cap = OP_SPAN_ARENA;
	fill_attrs(f, &s->attrs, fz_u8(f) % 40);
	return s;
}

/* ---- reading the documents back ------------------------------------------- */

static const struct json *need(const struct json *obj, const char *key, enum json_type type)
{
	const struct json *v = json_member(obj, key);

	FUZZ_CHECK(v && v->type == type, "member \"%s\" missing or of type %d", key, v ? (int)v->type : -1);
	return v;
}

/* A decoded string against what was encoded: equal when that was well-formed. */
static void same_text(const struct json *v, const char *want, const char *what)
{
	size_t wlen = want ? strlen(want) : 0;

	FUZZ_CHECK(v && v->type == JSON_STRING, "%s is not a string", what);
	if (json_utf8_ok(want ? want : "", wlen))
		FUZZ_CHECK(v->len == wlen && !memcmp(v->s, want, wlen), "%s \"%s\" came back as \"%s\"",
			   what, fz_show(want, wlen), fz_show(v->s, v->len));
}

static void same_hex(const struct json *v, const uint8_t *id, size_t n, const char *what)
{
	char want[33];

	for (size_t i = 0; i < n; i++)
		sprintf(want + 2 * i, "%02x", id[i]);
	FUZZ_CHECK(v && v->type == JSON_STRING && v->len == 2 * n && !memcmp(v->s, want, 2 * n),
		   "%s is not %s", what, want);
}

static void same_number_text(const struct json *v, const char *want, const char *what)
{
	FUZZ_CHECK(v && v->len == strlen(want) && !memcmp(v->s, want, v->len), "%s: %s, not %s", what,
		   v ? fz_show(v->s, v->len) : "missing", want);
}

/* A double as OTLP/JSON writes it: a number that reads back exactly, or NaN/Infinity by name. */
static void same_double(const struct json *v, double d, bool quoted_finite, const char *what)
{
	if (isnan(d) || isinf(d)) {
		const char *name = isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity";

		FUZZ_CHECK(v && v->type == JSON_STRING && !strcmp(v->s, name), "%s: non-finite %g", what, d);
		return;
	}
	FUZZ_CHECK(v && v->type == (quoted_finite ? JSON_STRING : JSON_NUMBER), "%s: double %g", what, d);
	if (quoted_finite) {
		/* A Zipkin tag: the JSON number's text inside a string. */
		const char *why;
		size_t at;
		struct json *n = json_parse(v->s, v->len, &why, &at);

		FUZZ_CHECK(n && n->type == JSON_NUMBER, "%s: \"%s\" is not a number", what, v->s);
		json_free(n);
	}
	{
		double back = strtod(v->s, NULL);

		FUZZ_CHECK(back == d && signbit(back) == signbit(d), "%s: %.17g written as %s", what, d, v->s);
	}
}

static void check_otlp_attr(const struct json *kv, const struct op_attr *at)
{
	const struct json *val = need(kv, "value", JSON_OBJECT);
	char num[32];

	same_text(need(kv, "key", JSON_STRING), at->key, "attribute key");
	FUZZ_CHECK(val->n == 1, "attribute value with %zu members", val->n);
	switch (at->type) {
	case OP_ATTR_STRING:
		same_text(json_member(val, "stringValue"), at->v.s, "stringValue");
		break;
	case OP_ATTR_BOOL:
		FUZZ_CHECK(need(val, "boolValue", JSON_BOOL)->b == at->v.b, "boolValue");
		break;
	case OP_ATTR_INT:
		snprintf(num, sizeof num, "%" PRId64, at->v.i);
		same_number_text(need(val, "intValue", JSON_STRING), num, "intValue");
		break;
	case OP_ATTR_DOUBLE:
		same_double(json_member(val, "doubleValue"), at->v.d, false, "doubleValue");
		break;
	}
}

static void check_otlp_attrs(const struct json *arr, const struct op_attrs *a)
{
	FUZZ_CHECK(arr && arr->type == JSON_ARRAY && arr->n == a->n, "%zu attributes written of %u",
		   arr ? arr->n : 0, a->n);
	for (uint32_t i = 0; i < a->n; i++)
		check_otlp_attr(json_item(arr, i), &a->v[i]);
}

static bool has_parent(const struct op_span *s)
{
	for (int i = 0; i < 8; i++)
		if (s->parent_span_id[i])
			return true;
	return false;
}

static void check_otlp(const struct json *doc, struct op_span *const *spans, size_t n,
		       const struct op_resource *res)
{
	const struct json *rs = json_item(need(doc, "resourceSpans", JSON_ARRAY), 0);
	const struct json *resource = need(rs, "resource", JSON_OBJECT);
	const struct json *ss = json_item(need(rs, "scopeSpans", JSON_ARRAY), 0);
	const struct json *list = need(ss, "spans", JSON_ARRAY);
	char num[32];

	if (res) {
		check_otlp_attrs(json_member(resource, "attributes"), &res->attrs);
	} else {
		FUZZ_CHECK(need(resource, "attributes", JSON_ARRAY)->n == 0, "attributes without a resource");
	}
	FUZZ_CHECK(list->n == n, "%zu spans written of %zu", list->n, n);
	for (size_t i = 0; i < n; i++) {
		const struct op_span *s = spans[i];
		const struct json *js = json_item(list, i), *st = need(js, "status", JSON_OBJECT), *d;

		same_hex(json_member(js, "traceId"), s->ctx.trace_id, 16, "traceId");
		same_hex(json_member(js, "spanId"), s->ctx.span_id, 8, "spanId");
		if (has_parent(s))
			same_hex(json_member(js, "parentSpanId"), s->parent_span_id, 8, "parentSpanId");
		else
			FUZZ_CHECK(!json_member(js, "parentSpanId"), "a root span with a parentSpanId");
		same_text(json_member(js, "name"), s->name, "name");
		snprintf(num, sizeof num, "%d", (int)s->kind);
		same_number_text(json_member(js, "kind"), num, "kind");
		snprintf(num, sizeof num, "%" PRIu64, (uint64_t)s->start_ns);
		same_number_text(need(js, "startTimeUnixNano", JSON_STRING), num, "startTimeUnixNano");
		snprintf(num, sizeof num, "%" PRIu64, (uint64_t)s->end_ns);
		same_number_text(need(js, "endTimeUnixNano", JSON_STRING), num, "endTimeUnixNano");
		check_otlp_attrs(json_member(js, "attributes"), &s->attrs);
		d = json_member(js, "droppedAttributesCount");
		if (s->attrs.dropped) {
			snprintf(num, sizeof num, "%u", s->attrs.dropped);
			same_number_text(d, num, "droppedAttributesCount");
		} else {
			FUZZ_CHECK(!d, "droppedAttributesCount 0 written");
		}
		snprintf(num, sizeof num, "%d", (int)s->status);
		same_number_text(json_member(st, "code"), num, "status.code");
		if (s->status_message && *s->status_message)
			same_text(json_member(st, "message"), s->status_message, "status.message");
		else
			FUZZ_CHECK(!json_member(st, "message"), "an empty status message written");
		snprintf(num, sizeof num, "%u",
			 s->ctx.flags | 0x100u | (s->parent_remote ? 0x200u : 0));
		same_number_text(json_member(js, "flags"), num, "flags");
	}
}

static bool reserved_tag(const char *key)
{
	static const char *const own[] = {
		"error", "otel.status_code", "otel.dropped_attributes_count", "otel.scope.name",
		"otel.scope.version", "otel.library.name", "otel.library.version",
	};

	for (size_t i = 0; i < sizeof own / sizeof *own; i++)
		if (!strcmp(key, own[i]))
			return true;
	return false;
}

static const struct op_attr *find(const struct op_attrs *a, const char *key)
{
	for (uint32_t i = 0; a && i < a->n; i++)
		if (!strcmp(a->v[i].key, key))
			return &a->v[i];
	return NULL;
}

static void check_tag(const struct json *tags, const struct op_attr *at)
{
	const struct json *v = json_member(tags, at->key);
	char num[32];

	/* Only a well-formed key can be looked up as it was set. */
	if (!json_utf8_ok(at->key, strlen(at->key)))
		return;
	FUZZ_CHECK(v && v->type == JSON_STRING, "tag \"%s\" missing", fz_show(at->key, strlen(at->key)));
	switch (at->type) {
	case OP_ATTR_STRING:
		same_text(v, at->v.s, "tag");
		break;
	case OP_ATTR_BOOL:
		FUZZ_CHECK(!strcmp(v->s, at->v.b ? "true" : "false"), "bool tag %s", v->s);
		break;
	case OP_ATTR_INT:
		snprintf(num, sizeof num, "%" PRId64, at->v.i);
		FUZZ_CHECK(!strcmp(v->s, num), "int tag %s, not %s", v->s, num);
		break;
	case OP_ATTR_DOUBLE:
		same_double(v, at->v.d, true, "double tag");
		break;
	}
}

static void check_zipkin(const struct json *doc, struct op_span *const *spans, size_t n,
			 const struct op_resource *res)
{
	static const char *const kinds[] = { NULL, NULL, "SERVER", "CLIENT", "PRODUCER", "CONSUMER" };

	FUZZ_CHECK(doc->type == JSON_ARRAY && doc->n == n, "zipkin: %zu spans of %zu", doc->n, n);
	for (size_t i = 0; i < n; i++) {
		const struct op_span *s = spans[i];
		const struct json *js = json_item(doc, i), *tags = need(js, "tags", JSON_OBJECT), *v;
		int64_t ts = s->start_ns / 1000, dur = (s->end_ns - s->start_ns) / 1000;
		char num[32];

		same_hex(json_member(js, "traceId"), s->ctx.trace_id, 16, "traceId");
		same_hex(json_member(js, "id"), s->ctx.span_id, 8, "id");
		if (has_parent(s))
			same_hex(json_member(js, "parentId"), s->parent_span_id, 8, "parentId");
		else
			FUZZ_CHECK(!json_member(js, "parentId"), "a root span with a parentId");
		if (s->name[0])
			same_text(json_member(js, "name"), s->name, "name");
		else
			FUZZ_CHECK(!json_member(js, "name"), "an empty name written");
		v = json_member(js, "kind");
		if (kinds[s->kind])
			FUZZ_CHECK(v && v->type == JSON_STRING && !strcmp(v->s, kinds[s->kind]), "kind");
		else
			FUZZ_CHECK(!v, "an INTERNAL span with a kind");
		v = json_member(js, "timestamp");
		if (ts > 0) {
			snprintf(num, sizeof num, "%" PRId64, ts);
			same_number_text(v, num, "timestamp");
		} else {
			FUZZ_CHECK(!v, "timestamp 0 written");
		}
		snprintf(num, sizeof num, "%" PRId64, dur < 1 ? (int64_t)1 : dur);
		same_number_text(json_member(js, "duration"), num, "duration");
		need(need(js, "localEndpoint", JSON_OBJECT), "serviceName", JSON_STRING);
		v = json_member(js, "remoteEndpoint");
		if (v) {
			const struct json *port = json_member(v, "port");

			FUZZ_CHECK(v->type == JSON_OBJECT && v->n > 0, "an empty remoteEndpoint");
			if (port)
				FUZZ_CHECK(port->type == JSON_NUMBER && atoi(port->s) >= 1 && atoi(port->s) <= 65535,
					   "remoteEndpoint port %s", port->s);
		}
		for (size_t k = 0; k < tags->n; k++)
			FUZZ_CHECK(tags->items[k].type == JSON_STRING, "a tag that is not a string");
		for (uint32_t k = 0; k < s->attrs.n; k++)
			if (!reserved_tag(s->attrs.v[k].key))
				check_tag(tags, &s->attrs.v[k]);
		for (uint32_t k = 0; res && k < res->attrs.n; k++) {
			const struct op_attr *at = &res->attrs.v[k];

			if (!reserved_tag(at->key) && strcmp(at->key, "service.name") && !find(&s->attrs, at->key))
				check_tag(tags, at);
		}
		v = json_member(tags, "error");
		FUZZ_CHECK(!v == (s->status != OP_STATUS_ERROR), "error tag with status %d", s->status);
	}
}

static struct json *parse_doc(const struct op_buf *b, const char *what)
{
	const char *why = NULL;
	size_t at = 0;
	struct json *doc;

	FUZZ_CHECK(!b->err && b->p, "%s: the encoder failed", what);
	doc = json_parse(b->p, b->len, &why, &at);
	FUZZ_CHECK(doc, "%s is not valid JSON: %s at byte %zu: ...%s...", what, why, at,
		   fz_show(b->p + (at > 40 ? at - 40 : 0), b->len - (at > 40 ? at - 40 : 0) < 80 ?
		   b->len - (at > 40 ? at - 40 : 0) : 80));
	FUZZ_CHECK(strlen(b->p) == b->len, "%s holds a NUL", what);
	return doc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, data + size };
	struct op_span *spans[MAX_SPANS];
	struct op_resource res;
	struct op_buf b = OP_BUF_INIT;
	struct json *doc;
	uint8_t head = fz_u8(&f);
	size_t n = (head & 0x7f) % (MAX_SPANS + 1);
	bool with_res = !(head & 0x80);

	op_attrs_init(&res.attrs, UINT32_MAX, UINT32_MAX);
	if (with_res)
		fill_attrs(&f, &res.attrs, fz_u8(&f) % 24);
	for (size_t i = 0; i < n; i++)
		spans[i] = make_span(&f);

	op_otlp_json_request(&b, spans, n, with_res ? &res : NULL);
	doc = parse_doc(&b, "OTLP/JSON");
	check_otlp(doc, spans, n, with_res ? &res : NULL);
	json_free(doc);

	op_buf_reset(&b);
	op_zipkin_encode(&b, spans, n, with_res ? &res : NULL);
	doc = parse_doc(&b, "Zipkin");
	check_zipkin(doc, spans, n, with_res ? &res : NULL);
	json_free(doc);

	op_buf_free(&b);
	for (size_t i = 0; i < n; i++)
		op_span_free(spans[i]);
	op_attrs_free(&res.attrs);
	return 0;
}
