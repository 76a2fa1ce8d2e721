/*
 * The Zipkin v2 JSON encoding of spans (OTEL_TRACES_EXPORTER=zipkin), as
 * the OpenTelemetry specification maps spans to Zipkin: one JSON array of
 * span objects, POSTed to OTEL_EXPORTER_ZIPKIN_ENDPOINT by the HTTP sender.
 */
#ifndef OP_EXPORTER_ZIPKIN_H
#define OP_EXPORTER_ZIPKIN_H

#include <stddef.h>

#include "../preload/resource.h"
#include "../preload/span.h"
#include "json.h"

/* Appends the JSON array for the batch to `b` (errors sticky in `b`). */
void op_zipkin_encode(struct op_buf *b, struct op_span *const *spans, size_t n,
		      const struct op_resource *res);

#endif
