#include "sampler.h"

/* The 56 random bits of a W3C (level 2) trace ID: its last 7 bytes. */
static uint64_t randomness(const uint8_t id[16])
{
	uint64_t r = 0;

	for (int i = 9; i < 16; i++)
		r = (r << 8) | id[i];
	return r;
}

static bool ratio_sample(double ratio, const uint8_t trace_id[16])
{
	const double max = 72057594037927936.0; /* 2^56 */
	uint64_t threshold;

	if (!(ratio > 0.0))
		return false;
	if (ratio >= 1.0)
		return true;
	/* Sample when randomness >= (1 - ratio) * 2^56. */
	threshold = (uint64_t)((1.0 - ratio) * max + 0.5); /* no libm: libc only */
	return randomness(trace_id) >= threshold;
}

bool op_sampler_should_sample(enum op_sampler sampler, double ratio,
			      const struct op_span_ctx *parent,
			      const uint8_t trace_id[16])
{
	switch (sampler) {
	case OP_SAMPLER_ALWAYS_ON:
		return true;
	case OP_SAMPLER_ALWAYS_OFF:
		return false;
	case OP_SAMPLER_TRACEIDRATIO:
		return ratio_sample(ratio, trace_id);
	case OP_SAMPLER_PARENTBASED_ALWAYS_ON:
		return parent ? (parent->flags & OP_TRACE_FLAG_SAMPLED) != 0 : true;
	case OP_SAMPLER_PARENTBASED_ALWAYS_OFF:
		return parent ? (parent->flags & OP_TRACE_FLAG_SAMPLED) != 0 : false;
	case OP_SAMPLER_PARENTBASED_TRACEIDRATIO:
		return parent ? (parent->flags & OP_TRACE_FLAG_SAMPLED) != 0
			      : ratio_sample(ratio, trace_id);
	}
	return true;
}
