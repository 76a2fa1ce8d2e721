/*
 * The built-in samplers: always_on/off, traceidratio (statistically and at
 * the exact threshold), and the parent-based variants.
 */
#include <stdint.h>
#include <string.h>

#include "preload/ids.h"
#include "preload/sampler.h"

#include "cu.h"

/* A trace ID whose 56 random bits (bytes 9..15, big-endian) are `r`. */
static void trace_with_randomness(uint8_t id[16], uint64_t r, uint8_t fill)
{
	int i;

	memset(id, fill, 9);
	for (i = 15; i >= 9; i--) {
		id[i] = (uint8_t)(r & 0xff);
		r >>= 8;
	}
}

static double sampled_fraction(enum op_sampler s, double ratio, int n)
{
	uint8_t id[16];
	int i, yes = 0;

	for (i = 0; i < n; i++) {
		op_ids_trace(id);
		yes += op_sampler_should_sample(s, ratio, NULL, id);
	}
	return (double)yes / n;
}

static void test_always(void)
{
	uint8_t id[16];
	int i;

	for (i = 0; i < 1000; i++) {
		op_ids_trace(id);
		CU_ASSERT_TRUE(op_sampler_should_sample(OP_SAMPLER_ALWAYS_ON, 1.0, NULL, id));
		CU_ASSERT_FALSE(op_sampler_should_sample(OP_SAMPLER_ALWAYS_OFF, 1.0, NULL, id));
	}
}

static void test_ratio_extremes(void)
{
	uint8_t id[16];

	CU_ASSERT_DOUBLE_EQUAL(sampled_fraction(OP_SAMPLER_TRACEIDRATIO, 0.0, 20000), 0.0, 0);
	CU_ASSERT_DOUBLE_EQUAL(sampled_fraction(OP_SAMPLER_TRACEIDRATIO, 1.0, 20000), 1.0, 0);

	/* The largest and smallest randomness at both ends. */
	trace_with_randomness(id, 0xffffffffffffffull, 0xff);
	CU_ASSERT_FALSE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO, 0.0, NULL, id));
	CU_ASSERT_TRUE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO, 1.0, NULL, id));
	trace_with_randomness(id, 0, 0x01);
	CU_ASSERT_FALSE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO, 0.0, NULL, id));
	CU_ASSERT_TRUE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO, 1.0, NULL, id));
}

/*
 * 200k random IDs: the standard deviation of the fraction is at most
 * 0.0011, so 0.01 is a tolerance of about nine of them.
 */
static void test_ratio_statistics(void)
{
	static const double ratios[] = { 0.5, 0.1, 0.9, 0.01 };
	size_t i;
	double f;

	for (i = 0; i < sizeof ratios / sizeof ratios[0]; i++) {
		f = sampled_fraction(OP_SAMPLER_TRACEIDRATIO, ratios[i], 200000);
		if (f < ratios[i] - 0.01 || f > ratios[i] + 0.01)
			fprintf(stderr, "\nratio %g sampled %g\n", ratios[i], f);
		CU_ASSERT_DOUBLE_EQUAL(f, ratios[i], 0.01);
	}
}

/*
 * Threshold T = (1 - ratio) * 2^56; a trace is sampled when its randomness
 * R >= T. Checked one step either side of T, and with the first nine bytes
 * (which carry no randomness guarantee) changed: they must not matter.
 */
static void test_ratio_threshold(void)
{
	static const struct { double ratio; uint64_t t; } cases[] = {
		{ 0.5, 0x80000000000000ull },
		{ 0.25, 0xc0000000000000ull },
		{ 0.75, 0x40000000000000ull },
		{ 0.125, 0xe0000000000000ull },
	};
	uint8_t id[16];
	size_t i;
	int fill;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		for (fill = 0; fill < 256; fill += 85) {
			trace_with_randomness(id, cases[i].t, (uint8_t)fill);
			CU_ASSERT_TRUE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO,
								cases[i].ratio, NULL, id));
			trace_with_randomness(id, cases[i].t - 1, (uint8_t)fill);
			CU_ASSERT_FALSE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO,
								 cases[i].ratio, NULL, id));
			trace_with_randomness(id, 0xffffffffffffffull, (uint8_t)fill);
			CU_ASSERT_TRUE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO,
								cases[i].ratio, NULL, id));
			trace_with_randomness(id, 0, (uint8_t)(fill | 1));
			CU_ASSERT_FALSE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO,
								 cases[i].ratio, NULL, id));
		}
	}
}

static struct op_span_ctx parent(bool sampled, bool remote)
{
	struct op_span_ctx p;

	memset(&p, 0, sizeof p);
	op_ids_trace(p.trace_id);
	op_ids_span(p.span_id);
	p.flags = sampled ? OP_TRACE_FLAG_SAMPLED : 0;
	p.remote = remote;
	return p;
}

static void test_parent_based(void)
{
	static const enum op_sampler pb[] = {
		OP_SAMPLER_PARENTBASED_ALWAYS_ON,
		OP_SAMPLER_PARENTBASED_ALWAYS_OFF,
		OP_SAMPLER_PARENTBASED_TRACEIDRATIO,
	};
	static const double ratios[] = { 0.0, 0.5, 1.0 };
	size_t i, r;
	int remote;
	uint8_t id[16];

	/* With a parent, remote or local, its sampled flag decides. */
	for (i = 0; i < 3; i++)
		for (r = 0; r < 3; r++)
			for (remote = 0; remote < 2; remote++) {
				struct op_span_ctx yes = parent(true, remote);
				struct op_span_ctx no = parent(false, remote);

				trace_with_randomness(id, 0xffffffffffffffull, 0);
				CU_ASSERT_TRUE(op_sampler_should_sample(pb[i], ratios[r], &yes, yes.trace_id));
				CU_ASSERT_TRUE(op_sampler_should_sample(pb[i], ratios[r], &yes, id));
				CU_ASSERT_FALSE(op_sampler_should_sample(pb[i], ratios[r], &no, no.trace_id));
				CU_ASSERT_FALSE(op_sampler_should_sample(pb[i], ratios[r], &no, id));
			}

	/* Without one, the root sampler decides. */
	op_ids_trace(id);
	CU_ASSERT_TRUE(op_sampler_should_sample(OP_SAMPLER_PARENTBASED_ALWAYS_ON, 1.0, NULL, id));
	CU_ASSERT_FALSE(op_sampler_should_sample(OP_SAMPLER_PARENTBASED_ALWAYS_OFF, 1.0, NULL, id));
	CU_ASSERT_DOUBLE_EQUAL(sampled_fraction(OP_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.0, 5000),
			       0.0, 0);
	CU_ASSERT_DOUBLE_EQUAL(sampled_fraction(OP_SAMPLER_PARENTBASED_TRACEIDRATIO, 1.0, 5000),
			       1.0, 0);
	CU_ASSERT_DOUBLE_EQUAL(sampled_fraction(OP_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, 200000),
			       0.5, 0.01);
	trace_with_randomness(id, 0x80000000000000ull, 0x33);
	CU_ASSERT_TRUE(op_sampler_should_sample(OP_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, NULL, id));
	trace_with_randomness(id, 0x7fffffffffffffull, 0x33);
	CU_ASSERT_FALSE(op_sampler_should_sample(OP_SAMPLER_PARENTBASED_TRACEIDRATIO, 0.5, NULL, id));
}

/* The non-parent-based samplers ignore the parent entirely. */
static void test_root_samplers_ignore_parent(void)
{
	struct op_span_ctx no = parent(false, true), yes = parent(true, false);
	uint8_t id[16];

	CU_ASSERT_TRUE(op_sampler_should_sample(OP_SAMPLER_ALWAYS_ON, 1.0, &no, no.trace_id));
	CU_ASSERT_FALSE(op_sampler_should_sample(OP_SAMPLER_ALWAYS_OFF, 1.0, &yes, yes.trace_id));
	trace_with_randomness(id, 0xffffffffffffffull, 0);
	CU_ASSERT_TRUE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO, 0.5, &no, id));
	trace_with_randomness(id, 0, 0);
	CU_ASSERT_FALSE(op_sampler_should_sample(OP_SAMPLER_TRACEIDRATIO, 0.5, &yes, id));
}

static CU_TestInfo tests[] = {
	{ "always_on / always_off", test_always },
	{ "traceidratio 0 and 1", test_ratio_extremes },
	{ "traceidratio statistics", test_ratio_statistics },
	{ "traceidratio threshold", test_ratio_threshold },
	{ "parent-based", test_parent_based },
	{ "root samplers ignore the parent", test_root_samplers_ignore_parent },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("sampler", tests);
}
