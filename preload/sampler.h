/*
 * Head sampling as the SDK specification defines the built-in samplers
 * (OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG).
 */
#ifndef OP_SAMPLER_H
#define OP_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "span.h"

/*
 * Decides whether a new span with `trace_id` records and is exported.
 * `parent` is NULL for a root span. parentbased_* follow the parent's
 * sampled flag (remote or local alike) and use their root sampler
 * otherwise.
 *
 * traceidratio compares the trace ID's randomness (its last 7 bytes, the
 * 56 random bits W3C Trace Context level 2 guarantees) with the threshold
 * (1 - ratio) * 2^56, so every service with the same ratio takes the same
 * decision for a trace.
 */
bool op_sampler_should_sample(enum op_sampler sampler, double ratio,
			      const struct op_span_ctx *parent,
			      const uint8_t trace_id[16]);

#endif
