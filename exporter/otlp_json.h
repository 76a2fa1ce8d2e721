/*
 * The OTLP/JSON encoding: the protobuf JSON mapping with the exceptions the
 * OTLP specification makes (trace and span IDs as hex strings, enums as
 * integers, lowerCamelCase field names, 64-bit integers as decimal
 * strings). Shared by the http/json transport, the file exporter
 * (OTELPRELOAD_FILE) and the console exporter.
 *
 * Every function appends to `b`; errors are sticky in `b` (json.h).
 */
#ifndef OP_EXPORTER_OTLP_JSON_H
#define OP_EXPORTER_OTLP_JSON_H

#include <stddef.h>

#include "../preload/resource.h"
#include "../preload/span.h"
#include "json.h"

/* [{"key":"k","value":{"stringValue":"v"}},...] */
void op_otlp_json_attrs(struct op_buf *b, const struct op_attrs *a);

/* {"attributes":[...]} and droppedAttributesCount when non-zero; NULL: no attributes. */
void op_otlp_json_resource(struct op_buf *b, const struct op_resource *res);

/* {"name":"otelpreload","version":"..."} */
void op_otlp_json_scope(struct op_buf *b);

/* One Span object: {"traceId":"...","spanId":"...",...} */
void op_otlp_json_span(struct op_buf *b, const struct op_span *s);

/*
 * One ExportTraceServiceRequest with one ResourceSpans and one ScopeSpans:
 * {"resourceSpans":[{"resource":{...},"scopeSpans":[{"scope":{...},
 * "spans":[...]}]}]}, without a newline.
 */
void op_otlp_json_request(struct op_buf *b, struct op_span *const *spans, size_t n,
			  const struct op_resource *res);

#endif
