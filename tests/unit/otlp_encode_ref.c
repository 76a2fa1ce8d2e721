/*
 * The OTLP protobuf encoder as it was before exporter/otlp_encode.c wrote
 * the wire format itself: protobuf-c message structs for the whole batch,
 * packed by protobuf-c. Kept for tests only, as the oracle the new encoder
 * must match byte for byte (test_otlp_encode.c).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "preload/op.h"
#include "exporter/json.h"
#include "exporter/otlp_encode.h"

#include "otlp_encode_ref.h"

/* protoc-c's names spell out the whole package; these keep the code legible. */
typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Common__V1__KeyValue pb_kv;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope pb_scope;
typedef Opentelemetry__Proto__Resource__V1__Resource pb_resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_resource_spans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_scope_spans;
typedef Opentelemetry__Proto__Trace__V1__Span pb_span;
typedef Opentelemetry__Proto__Trace__V1__Status pb_status;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest pb_request;

/*
 * An empty string value that is not protobuf_c_empty_string: protobuf-c
 * leaves a oneof string out of the output when it points at the
 * descriptor's default, which would turn an attribute set to "" into an
 * attribute with no value at all.
 */
static char empty_value[] = "";

/*
 * Scratch state for one request. Messages live in a few arrays sized for
 * the whole batch (one slot per span, one per attribute), so a batch costs
 * a constant number of allocations however many attributes it carries;
 * only strings that need repairing get their own.
 */
struct enc {
	pb_kv *kvs;            /* one per attribute, resource included */
	pb_any *anys;          /* the value of kvs[i] */
	pb_kv **kv_ptrs;       /* protobuf-c wants arrays of pointers */
	size_t kv_used;

	char **repaired;       /* UTF-8-repaired copies, freed after packing */
	size_t n_repaired;
	size_t cap_repaired;
	bool oom;
};

/*
 * Returns `s` itself when it is valid UTF-8 (the usual case, no copy), a
 * repaired copy owned by `e` otherwise, and `empty` for NULL.
 */
static char *text(struct enc *e, const char *s, char *empty)
{
	struct op_buf b = OP_BUF_INIT;
	size_t len;
	char **grown, *copy;

	if (!s)
		return empty;
	len = strlen(s);
	if (op_utf8_valid(s, len))
		return (char *)s;
	if (e->n_repaired == e->cap_repaired) {
		size_t cap = e->cap_repaired ? 2 * e->cap_repaired : 8;

		grown = realloc(e->repaired, cap * sizeof *grown);
		if (!grown)
			goto oom;
		e->repaired = grown;
		e->cap_repaired = cap;
	}
	op_buf_add_utf8(&b, s, len);
	copy = op_buf_detach(&b);
	if (!copy)
		goto oom;
	e->repaired[e->n_repaired++] = copy;
	return copy;
oom:
	e->oom = true;
	return empty;
}

/* Fills the next kvs slots from `a`; returns the first pointer slot. */
static pb_kv **attrs(struct enc *e, const struct op_attrs *a)
{
	pb_kv **first = e->kv_ptrs + e->kv_used;
	uint32_t i;

	for (i = 0; i < a->n; i++) {
		const struct op_attr *src = &a->v[i];
		pb_kv *kv = &e->kvs[e->kv_used];
		pb_any *any = &e->anys[e->kv_used];

		opentelemetry__proto__common__v1__key_value__init(kv);
		opentelemetry__proto__common__v1__any_value__init(any);
		kv->key = text(e, src->key, (char *)protobuf_c_empty_string);
		kv->value = any;
		switch (src->type) {
		case OP_ATTR_STRING:
			any->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
			any->string_value = text(e, src->v.s, empty_value);
			break;
		case OP_ATTR_BOOL:
			any->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
			any->bool_value = src->v.b;
			break;
		case OP_ATTR_INT:
			any->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
			any->int_value = src->v.i;
			break;
		case OP_ATTR_DOUBLE:
			any->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
			any->double_value = src->v.d;
			break;
		}
		e->kv_ptrs[e->kv_used++] = kv;
	}
	return first;
}

static void span(struct enc *e, pb_span *out, pb_status *status,
		 const struct op_span *s)
{
	opentelemetry__proto__trace__v1__span__init(out);
	opentelemetry__proto__trace__v1__status__init(status);

	out->trace_id.data = (uint8_t *)s->ctx.trace_id;
	out->trace_id.len = sizeof s->ctx.trace_id;
	out->span_id.data = (uint8_t *)s->ctx.span_id;
	out->span_id.len = sizeof s->ctx.span_id;
	/* OTLP's root span marker is an absent parent, not eight zero bytes. */
	if (op_span_has_parent(s)) {
		out->parent_span_id.data = (uint8_t *)s->parent_span_id;
		out->parent_span_id.len = sizeof s->parent_span_id;
	}
	out->flags = op_span_otlp_flags(s);
	out->name = text(e, s->name, (char *)protobuf_c_empty_string);
	/* Our enum uses OTLP's numbers (span.h). */
	out->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)s->kind;
	out->start_time_unix_nano = (uint64_t)s->start_ns;
	out->end_time_unix_nano = (uint64_t)s->end_ns;
	out->n_attributes = s->attrs.n;
	out->attributes = attrs(e, &s->attrs);
	out->dropped_attributes_count = s->attrs.dropped;

	status->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)s->status;
	if (s->status_message && *s->status_message)
		status->message = text(e, s->status_message,
				       (char *)protobuf_c_empty_string);
	out->status = status;
}

/* Grows a scratch array to hold `n` elements of `size` bytes; -1 out of memory. */
static int reserve(void **arr, size_t *cap, size_t n, size_t size)
{
	void *grown;
	size_t want = *cap ? *cap : 16;

	if (n <= *cap)
		return 0;
	while (want < n)
		want *= 2;
	grown = realloc(*arr, want * size);
	if (!grown)
		return -1;
	*arr = grown;
	*cap = want;
	return 0;
}

/* The old struct op_otlp_scratch. */
struct ref_scratch {
	void *spans, *span_ptrs, *statuses, *kvs, *anys, *kv_ptrs;
	size_t cap_spans, cap_span_ptrs, cap_statuses, cap_kvs, cap_anys, cap_kv_ptrs;
	uint8_t *buf;
	size_t cap_buf;
};

/* One for the program, which encodes from one thread. */
static struct ref_scratch scratch;

int op_otlp_encode_ref_into(struct op_span *const *spans, size_t n, const struct op_resource *res,
			    const uint8_t **out, size_t *out_len)
{
	pb_request req = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	pb_resource_spans rs = OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
	pb_resource resource = OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
	pb_scope_spans ss = OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
	pb_scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	pb_resource_spans *rs_ptr = &rs;
	pb_scope_spans *ss_ptr = &ss;
	struct enc e = { 0 };
	pb_span *pspans, **span_ptrs;
	pb_status *statuses;
	size_t i, n_attrs, len;
	struct ref_scratch *sc = &scratch;
	int ret = -1;

	n_attrs = res ? res->attrs.n : 0;
	for (i = 0; i < n; i++)
		n_attrs += spans[i]->attrs.n;

	/*
	 * The arrays are the scratch's, kept from batch to batch: a batch of
	 * hundreds of spans would otherwise map, fault in and unmap as much
	 * memory again every time.
	 */
	if (reserve(&sc->spans, &sc->cap_spans, n ? n : 1, sizeof(pb_span)) ||
	    reserve(&sc->span_ptrs, &sc->cap_span_ptrs, n ? n : 1, sizeof(pb_span *)) ||
	    reserve(&sc->statuses, &sc->cap_statuses, n ? n : 1, sizeof(pb_status)) ||
	    reserve(&sc->kvs, &sc->cap_kvs, n_attrs ? n_attrs : 1, sizeof(pb_kv)) ||
	    reserve(&sc->anys, &sc->cap_anys, n_attrs ? n_attrs : 1, sizeof(pb_any)) ||
	    reserve(&sc->kv_ptrs, &sc->cap_kv_ptrs, n_attrs ? n_attrs : 1, sizeof(pb_kv *)))
		return -1;
	pspans = sc->spans;
	span_ptrs = sc->span_ptrs;
	statuses = sc->statuses;
	e.kvs = sc->kvs;
	e.anys = sc->anys;
	e.kv_ptrs = sc->kv_ptrs;

	if (res) {
		resource.n_attributes = res->attrs.n;
		resource.attributes = attrs(&e, &res->attrs);
		resource.dropped_attributes_count = res->attrs.dropped;
	}
	rs.resource = &resource;
	rs.n_scope_spans = 1;
	rs.scope_spans = &ss_ptr;

	scope.name = (char *)OP_SCOPE_NAME;
	scope.version = (char *)OP_VERSION;
	ss.scope = &scope;
	ss.n_spans = n;
	ss.spans = span_ptrs;
	for (i = 0; i < n; i++) {
		span(&e, &pspans[i], &statuses[i], spans[i]);
		span_ptrs[i] = &pspans[i];
	}
	if (e.oom)
		goto out;

	req.n_resource_spans = 1;
	req.resource_spans = &rs_ptr;

	len = opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(&req);
	if (reserve((void **)&sc->buf, &sc->cap_buf, len ? len : 1, 1))
		goto out;
	if (opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(&req, sc->buf) != len)
		goto out;
	*out = sc->buf;
	*out_len = len;
	ret = 0;
out:
	for (i = 0; i < e.n_repaired; i++)
		free(e.repaired[i]);
	free(e.repaired);
	return ret;
}

void op_otlp_encode_ref_free(void)
{
	free(scratch.spans);
	free(scratch.span_ptrs);
	free(scratch.statuses);
	free(scratch.kvs);
	free(scratch.anys);
	free(scratch.kv_ptrs);
	free(scratch.buf);
	memset(&scratch, 0, sizeof scratch);
}

int op_otlp_encode_ref(struct op_span *const *spans, size_t n, const struct op_resource *res,
		       uint8_t **out, size_t *out_len)
{
	const uint8_t *body;
	size_t len;

	if (op_otlp_encode_ref_into(spans, n, res, &body, &len))
		return -1;
	*out = malloc(len ? len : 1);
	if (!*out)
		return -1;
	memcpy(*out, body, len);
	*out_len = len;
	return 0;
}
