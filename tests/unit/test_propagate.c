/*
 * W3C Trace Context level 1: traceparent values accepted and rejected as
 * the specification's processing model says, the written form, and the
 * tracestate bounds.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "preload/propagate.h"

#include "cu.h"

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define SPAN "00f067aa0ba902b7"
#define VALID "00-" TRACE "-" SPAN "-01"

static const uint8_t trace_bytes[16] = {
	0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
	0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36,
};
static const uint8_t span_bytes[8] = { 0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };

static int parse(const char *v, struct op_span_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
	return op_traceparent_parse(v, strlen(v), ctx);
}

static void test_valid(void)
{
	struct op_span_ctx ctx;

	OP_ASSERT_INT(strlen(VALID), OP_TRACEPARENT_LEN);
	OP_ASSERT_INT(parse(VALID, &ctx), 0);
	CU_ASSERT_EQUAL(memcmp(ctx.trace_id, trace_bytes, 16), 0);
	CU_ASSERT_EQUAL(memcmp(ctx.span_id, span_bytes, 8), 0);
	OP_ASSERT_INT(ctx.flags, 0x01);
	CU_ASSERT_TRUE(ctx.remote);

	OP_ASSERT_INT(parse("00-" TRACE "-" SPAN "-00", &ctx), 0);
	OP_ASSERT_INT(ctx.flags & OP_TRACE_FLAG_SAMPLED, 0);
	CU_ASSERT_TRUE(ctx.remote);

	/* Flags this version does not define are no reason to reject. */
	OP_ASSERT_INT(parse("00-" TRACE "-" SPAN "-09", &ctx), 0);
	OP_ASSERT_INT(ctx.flags & OP_TRACE_FLAG_SAMPLED, 1);
	OP_ASSERT_INT(parse("00-" TRACE "-" SPAN "-fe", &ctx), 0);
	OP_ASSERT_INT(ctx.flags & OP_TRACE_FLAG_SAMPLED, 0);

	/* Optional whitespace around a header value is not part of it. */
	OP_ASSERT_INT(parse("  " VALID, &ctx), 0);
	OP_ASSERT_INT(parse(VALID " \t", &ctx), 0);
	OP_ASSERT_INT(parse("\t " VALID "  ", &ctx), 0);
	CU_ASSERT_EQUAL(memcmp(ctx.trace_id, trace_bytes, 16), 0);
	CU_ASSERT_EQUAL(memcmp(ctx.span_id, span_bytes, 8), 0);

	/* One non-zero byte anywhere is enough for an ID. */
	OP_ASSERT_INT(parse("00-00000000000000000000000000000001-0000000000000001-01", &ctx), 0);
	OP_ASSERT_INT(ctx.trace_id[15], 1);
	OP_ASSERT_INT(ctx.span_id[7], 1);
	OP_ASSERT_INT(parse("00-10000000000000000000000000000000-1000000000000000-01", &ctx), 0);
	OP_ASSERT_INT(ctx.trace_id[0], 0x10);

	/* `len` bounds the value: what follows it is not read. */
	{
		const char *v = VALID "-and-more";

		memset(&ctx, 0, sizeof ctx);
		OP_ASSERT_INT(op_traceparent_parse(v, OP_TRACEPARENT_LEN, &ctx), 0);
		OP_ASSERT_INT(op_traceparent_parse(v, OP_TRACEPARENT_LEN - 1, &ctx), -1);
	}
}

/*
 * A version above 00 may carry more fields: its first four are read when
 * the value is exactly 55 characters or the 56th is '-'.
 */
static void test_higher_version(void)
{
	struct op_span_ctx ctx;

	OP_ASSERT_INT(parse("cc-" TRACE "-" SPAN "-01", &ctx), 0);
	CU_ASSERT_EQUAL(memcmp(ctx.trace_id, trace_bytes, 16), 0);
	OP_ASSERT_INT(ctx.flags & OP_TRACE_FLAG_SAMPLED, 1);
	OP_ASSERT_INT(parse("cc-" TRACE "-" SPAN "-01-what-the-future-will-be-like", &ctx), 0);
	CU_ASSERT_EQUAL(memcmp(ctx.trace_id, trace_bytes, 16), 0);
	CU_ASSERT_EQUAL(memcmp(ctx.span_id, span_bytes, 8), 0);
	OP_ASSERT_INT(ctx.flags & OP_TRACE_FLAG_SAMPLED, 1);
	OP_ASSERT_INT(parse("01-" TRACE "-" SPAN "-00-", &ctx), 0);
	OP_ASSERT_INT(ctx.flags & OP_TRACE_FLAG_SAMPLED, 0);
	OP_ASSERT_INT(parse("fe-" TRACE "-" SPAN "-01-x", &ctx), 0);

	OP_ASSERT_INT(parse("cc-" TRACE "-" SPAN "-01extra", &ctx), -1);
	OP_ASSERT_INT(parse("cc-" TRACE "-" SPAN "-01.extra", &ctx), -1);
	/* The fields it shares with version 00 follow the same rules. */
	OP_ASSERT_INT(parse("cc-00000000000000000000000000000000-" SPAN "-01-x", &ctx), -1);
	OP_ASSERT_INT(parse("cc-" TRACE "-" SPAN "-0g-x", &ctx), -1);
	OP_ASSERT_INT(parse("cc-" TRACE "-" SPAN, &ctx), -1);
}

static void test_invalid(void)
{
	static const char *const bad[] = {
		"",
		"   ",
		/* Version ff is forbidden; version 00 has exactly four fields. */
		"ff-" TRACE "-" SPAN "-01",
		VALID "-",
		VALID "-extra",
		VALID "0",
		VALID "\r\n",
		/* Upper-case or non-hex digits. */
		"0A-" TRACE "-" SPAN "-01",
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-" SPAN "-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473A-" SPAN "-01",
		"00-" TRACE "-00F067AA0BA902B7-01",
		"00-" TRACE "-" SPAN "-0A",
		"00-" TRACE "-" SPAN "-0g",
		"00-4bf92f3577b34da6a3ce929d0e0e473g-" SPAN "-01",
		"00-" TRACE "-00f067aa0ba902bz-01",
		"0x-" TRACE "-" SPAN "-01",
		/* All-zero IDs. */
		"00-00000000000000000000000000000000-" SPAN "-01",
		"00-" TRACE "-0000000000000000-01",
		/* Wrong field lengths. */
		"00-4bf92f3577b34da6a3ce929d0e0e473-" SPAN "-01",
		"00-4bf92f3577b34da6a3ce929d0e0e47366-" SPAN "-01",
		"00-" TRACE "-00f067aa0ba902b-01",
		"00-" TRACE "-00f067aa0ba902b77-01",
		"00-" TRACE "-" SPAN "-1",
		"00-" TRACE "-" SPAN "-001",
		"0-" TRACE "-" SPAN "-01",
		"000-" TRACE "-" SPAN "-01",
		"00-" TRACE "-" SPAN,
		/* Wrong separators. */
		"00_" TRACE "-" SPAN "-01",
		"00-" TRACE "_" SPAN "-01",
		"00-" TRACE "-" SPAN "_01",
		"00 " TRACE " " SPAN " 01",
		"00." TRACE "." SPAN ".01",
		/* Whitespace inside the value, or other than SP and HTAB around it. */
		"00- " TRACE "-" SPAN "-01",
		"\n" VALID,
		VALID "\n",
	};
	struct op_span_ctx ctx;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int got = parse(bad[i], &ctx);

		if (got != -1)
			fprintf(stderr, "\n\"%s\" was accepted\n", bad[i]);
		OP_ASSERT_INT(got, -1);
	}
}

static void test_format(void)
{
	struct op_span_ctx ctx, back;
	char out[OP_TRACEPARENT_LEN + 1];

	memset(&ctx, 0, sizeof ctx);
	memcpy(ctx.trace_id, trace_bytes, 16);
	memcpy(ctx.span_id, span_bytes, 8);
	ctx.flags = OP_TRACE_FLAG_SAMPLED;
	memset(out, 'x', sizeof out);
	op_traceparent_format(&ctx, out);
	OP_ASSERT_STR(out, VALID);

	ctx.flags = 0;
	op_traceparent_format(&ctx, out);
	OP_ASSERT_STR(out, "00-" TRACE "-" SPAN "-00");

	/* Only the sampled flag is written: version 00 defines no other. */
	ctx.flags = 0xff;
	op_traceparent_format(&ctx, out);
	OP_ASSERT_STR(out, "00-" TRACE "-" SPAN "-01");
	ctx.flags = 0xfe;
	op_traceparent_format(&ctx, out);
	OP_ASSERT_STR(out, "00-" TRACE "-" SPAN "-00");

	/* Round trips: parse(format(x)) == x, format(parse(v)) == v. */
	for (int sampled = 0; sampled <= 1; sampled++) {
		for (int i = 0; i < 16; i++)
			ctx.trace_id[i] = (uint8_t)(0xf0 + i * 7 + sampled);
		for (int i = 0; i < 8; i++)
			ctx.span_id[i] = (uint8_t)(0x0f * i + 1);
		ctx.flags = (uint8_t)sampled;
		op_traceparent_format(&ctx, out);
		OP_ASSERT_INT(strlen(out), OP_TRACEPARENT_LEN);
		memset(&back, 0, sizeof back);
		OP_ASSERT_INT(op_traceparent_parse(out, strlen(out), &back), 0);
		CU_ASSERT_EQUAL(memcmp(back.trace_id, ctx.trace_id, 16), 0);
		CU_ASSERT_EQUAL(memcmp(back.span_id, ctx.span_id, 8), 0);
		OP_ASSERT_INT(back.flags, sampled);
		CU_ASSERT_TRUE(back.remote);
	}
	OP_ASSERT_INT(parse("00-" TRACE "-" SPAN "-00", &back), 0);
	op_traceparent_format(&back, out);
	OP_ASSERT_STR(out, "00-" TRACE "-" SPAN "-00");
	/* A higher version is answered in the version this library writes. */
	OP_ASSERT_INT(parse("cc-" TRACE "-" SPAN "-01-extra", &back), 0);
	op_traceparent_format(&back, out);
	OP_ASSERT_STR(out, VALID);
}

/*
 * The ID digits are read and written a word at a time: every byte value
 * in every position reads back as written, and every byte that is not a
 * lower-case hex digit, in every digit position, is refused.
 */
static void test_every_digit(void)
{
	struct op_span_ctx ctx, back;
	char out[OP_TRACEPARENT_LEN + 1], v[OP_TRACEPARENT_LEN + 1];
	int mismatches = 0, accepted = 0;

	for (int b = 0; b < 256; b++) {
		for (int pos = 0; pos < 24; pos++) {
			memset(&ctx, 0, sizeof ctx);
			memset(ctx.trace_id, 0x11, 16);
			memset(ctx.span_id, 0x22, 8);
			if (pos < 16)
				ctx.trace_id[pos] = (uint8_t)b;
			else
				ctx.span_id[pos - 16] = (uint8_t)b;
			op_traceparent_format(&ctx, out);
			snprintf(v, sizeof v, "%02x", b);
			if (strlen(out) != OP_TRACEPARENT_LEN ||
			    memcmp(out + (pos < 16 ? 3 + 2 * pos : 36 + 2 * (pos - 16)), v, 2))
				mismatches++;
			memset(&back, 0, sizeof back);
			if (op_traceparent_parse(out, strlen(out), &back) ||
			    memcmp(back.trace_id, ctx.trace_id, 16) || memcmp(back.span_id, ctx.span_id, 8))
				mismatches++;
		}
	}
	OP_ASSERT_INT(mismatches, 0);
	for (int pos = 0; pos < 48; pos++) {
		for (int c = 0; c < 256; c++) {
			int at = pos < 32 ? 3 + pos : 36 + pos - 32;
			bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');

			memcpy(v, VALID, sizeof v);
			v[at] = (char)c;
			if ((op_traceparent_parse(v, OP_TRACEPARENT_LEN, &back) == 0) != hex)
				accepted++;
		}
	}
	OP_ASSERT_INT(accepted, 0);
}

static void test_tracestate(void)
{
	char v[OP_TRACESTATE_MAX + 2];

	OP_ASSERT_INT(OP_TRACESTATE_MAX, 512);
	CU_ASSERT_TRUE(op_tracestate_valid("congo=t61rcWkgMzE", 17));
	CU_ASSERT_TRUE(op_tracestate_valid("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", 39));
	CU_ASSERT_TRUE(op_tracestate_valid("a=1, b=2", 8));

	/* 512 bytes: "k0=" + 125 'a' + "," ... four members of 128 bytes each. */
	memset(v, 'a', sizeof v);
	for (int m = 0; m < 4; m++) {
		v[m * 128] = 'k';
		v[m * 128 + 1] = (char)('0' + m);
		v[m * 128 + 2] = '=';
		if (m)
			v[m * 128 - 1] = ',';
	}
	CU_ASSERT_TRUE(op_tracestate_valid(v, 512));
	CU_ASSERT_FALSE(op_tracestate_valid(v, 513));

	/* The W3C grammar: keys, values, member count, uniqueness. */
	CU_ASSERT_TRUE(op_tracestate_valid("tenant@vendor=x", 15));
	CU_ASSERT_TRUE(op_tracestate_valid("a=1,,b=2", 8));
	CU_ASSERT_TRUE(op_tracestate_valid("a=va lue", 8));
	CU_ASSERT_FALSE(op_tracestate_valid("A=1", 3));
	CU_ASSERT_FALSE(op_tracestate_valid("a=1,a=2", 7));
	CU_ASSERT_FALSE(op_tracestate_valid("a=1=2", 5));
	CU_ASSERT_FALSE(op_tracestate_valid("a=1 ,b", 6));
	CU_ASSERT_FALSE(op_tracestate_valid("@v=1", 4));
	CU_ASSERT_FALSE(op_tracestate_valid("t@V=1", 5));
	CU_ASSERT_FALSE(op_tracestate_valid("t@abcdefghijklmno=1", 19));
	{
		char many[33 * 6 + 1];
		size_t n = 0, at32 = 0;

		for (int m = 0; m < 33; m++) {
			if (m == 32)
				at32 = n;
			n += (size_t)snprintf(many + n, sizeof many - n, "%sk%d=1", m ? "," : "", m);
		}
		CU_ASSERT_TRUE(op_tracestate_valid(many, at32));   /* 32 members */
		CU_ASSERT_FALSE(op_tracestate_valid(many, n));     /* 33 members */
	}

	CU_ASSERT_FALSE(op_tracestate_valid("", 0));
	CU_ASSERT_FALSE(op_tracestate_valid("a=1\r\nX-Injected: 1", 19));
	CU_ASSERT_FALSE(op_tracestate_valid("a=1\n", 4));
	CU_ASSERT_FALSE(op_tracestate_valid("a=1\r", 4));
	CU_ASSERT_FALSE(op_tracestate_valid("a=\x01", 3));
	CU_ASSERT_FALSE(op_tracestate_valid("a=\x7f", 3));
	CU_ASSERT_FALSE(op_tracestate_valid("a=caf\xc3\xa9", 7));
	CU_ASSERT_FALSE(op_tracestate_valid("a=1\0b", 5));
	/* `len` bounds the value. */
	CU_ASSERT_TRUE(op_tracestate_valid("a=1\r\n", 3));
}

static int b3(const char *v, struct op_span_ctx *ctx, bool *debug)
{
	memset(ctx, 0, sizeof *ctx);
	*debug = false;
	return op_b3_parse(v, strlen(v), ctx, debug);
}

static void test_b3_single(void)
{
	struct op_span_ctx c;
	bool debug;
	uint8_t padded[16] = { 0 };

	OP_ASSERT_INT(b3(TRACE "-" SPAN "-1", &c, &debug), 0);
	CU_ASSERT(!memcmp(c.trace_id, trace_bytes, 16) && !memcmp(c.span_id, span_bytes, 8));
	OP_ASSERT_INT(c.flags, OP_TRACE_FLAG_SAMPLED);
	OP_ASSERT_INT(debug, false);
	CU_ASSERT(c.remote);

	OP_ASSERT_INT(b3(TRACE "-" SPAN "-0", &c, &debug), 0);
	OP_ASSERT_INT(c.flags, 0);
	OP_ASSERT_INT(b3(TRACE "-" SPAN "-d", &c, &debug), 0);
	OP_ASSERT_INT(debug, true);
	OP_ASSERT_INT(b3(TRACE "-" SPAN "-1-" SPAN, &c, &debug), 0);
	OP_ASSERT_INT(b3(" " TRACE "-" SPAN " ", &c, &debug), 0);

	/* 64-bit trace ids are padded on the left. */
	OP_ASSERT_INT(b3("a3ce929d0e0e4736-" SPAN "-1", &c, &debug), 0);
	memcpy(padded + 8, trace_bytes + 8, 8);
	CU_ASSERT(!memcmp(c.trace_id, padded, 16));

	/* A decision without ids, and malformed values. */
	OP_ASSERT_INT(b3("1", &c, &debug), -1);
	OP_ASSERT_INT(b3("d", &c, &debug), -1);
	OP_ASSERT_INT(b3(TRACE "-" SPAN "-x", &c, &debug), -1);
	OP_ASSERT_INT(b3(TRACE "-" SPAN "-", &c, &debug), -1);
	OP_ASSERT_INT(b3(TRACE "-00f067aa0ba902b", &c, &debug), -1);
	OP_ASSERT_INT(b3("00000000000000000000000000000000-" SPAN, &c, &debug), -1);
	OP_ASSERT_INT(b3(TRACE "-0000000000000000-1", &c, &debug), -1);
	OP_ASSERT_INT(b3("4bf92f3577b34da6a3ce929d0e0e473-" SPAN, &c, &debug), -1);
}

static int jaeger(const char *v, struct op_span_ctx *ctx, bool *debug)
{
	memset(ctx, 0, sizeof *ctx);
	*debug = false;
	return op_jaeger_parse(v, strlen(v), ctx, debug);
}

static void test_jaeger(void)
{
	struct op_span_ctx c;
	bool debug;
	uint8_t want[16] = { 0 };

	OP_ASSERT_INT(jaeger(TRACE ":" SPAN ":0:1", &c, &debug), 0);
	CU_ASSERT(!memcmp(c.trace_id, trace_bytes, 16) && !memcmp(c.span_id, span_bytes, 8));
	OP_ASSERT_INT(c.flags, OP_TRACE_FLAG_SAMPLED);
	OP_ASSERT_INT(jaeger(TRACE "%3A" SPAN "%3a0%3A0", &c, &debug), 0);
	OP_ASSERT_INT(c.flags, 0);
	OP_ASSERT_INT(jaeger(TRACE ":" SPAN ":0:3", &c, &debug), 0);
	OP_ASSERT_INT(debug, true);
	OP_ASSERT_INT(c.flags, OP_TRACE_FLAG_SAMPLED);
	/* Jaeger drops leading zeros: short ids are padded. */
	OP_ASSERT_INT(jaeger("abc:def:0:1", &c, &debug), 0);
	want[14] = 0x0a;
	want[15] = 0xbc;
	CU_ASSERT(!memcmp(c.trace_id, want, 16));
	OP_ASSERT_INT(c.span_id[6], 0x0d);
	OP_ASSERT_INT(c.span_id[7], 0xef);

	OP_ASSERT_INT(jaeger(TRACE ":" SPAN ":0", &c, &debug), -1);
	OP_ASSERT_INT(jaeger(TRACE ":" SPAN ":0:1:9", &c, &debug), -1);
	OP_ASSERT_INT(jaeger("0:" SPAN ":0:1", &c, &debug), -1);
	OP_ASSERT_INT(jaeger(TRACE ":" SPAN ":0:zz", &c, &debug), -1);
	OP_ASSERT_INT(jaeger(TRACE "0:" SPAN ":0:1", &c, &debug), -1);
}

static void test_ids_and_baggage(void)
{
	uint8_t t[16], sp[8];
	char th[33], sh[17];
	struct op_span_ctx c = { 0 };
	char big[OP_BAGGAGE_MAX_BYTES + 2];

	OP_ASSERT_INT(op_hex_trace_id(TRACE, 32, t), 0);
	OP_ASSERT_INT(op_hex_trace_id("4BF92F3577B34DA6A3CE929D0E0E4736", 32, t), 0);
	CU_ASSERT(!memcmp(t, trace_bytes, 16));
	OP_ASSERT_INT(op_hex_trace_id(TRACE, 31, t), -1);
	OP_ASSERT_INT(op_hex_span_id(SPAN, 16, sp), 0);
	OP_ASSERT_INT(op_hex_span_id("0000000000000000", 16, sp), -1);
	OP_ASSERT_INT(op_hex_span_id("00f067aa0ba902b7a", 17, sp), -1);

	memcpy(c.trace_id, trace_bytes, 16);
	memcpy(c.span_id, span_bytes, 8);
	op_hex_ids(&c, th, sh);
	OP_ASSERT_STR(th, TRACE);
	OP_ASSERT_STR(sh, SPAN);

	OP_ASSERT_INT(op_baggage_valid("k1=v1,k2=v2;p=1", 15), 1);
	OP_ASSERT_INT(op_baggage_valid("", 0), 0);
	OP_ASSERT_INT(op_baggage_valid("k=v\r\nx: y", 10), 0);
	memset(big, 'a', sizeof big);
	OP_ASSERT_INT(op_baggage_valid(big, OP_BAGGAGE_MAX_BYTES), 1);
	OP_ASSERT_INT(op_baggage_valid(big, OP_BAGGAGE_MAX_BYTES + 1), 0);
	for (int i = 0; i < 180 * 2; i += 2)
		big[i] = 'k', big[i + 1] = ',';
	OP_ASSERT_INT(op_baggage_valid(big, 179 * 2 + 1), 1);   /* 180 members */
	OP_ASSERT_INT(op_baggage_valid(big, 180 * 2 + 1), 0);   /* 181 members */
}

static CU_TestInfo tests[] = {
	{ "valid traceparent", test_valid },
	{ "higher traceparent version", test_higher_version },
	{ "invalid traceparent", test_invalid },
	{ "traceparent format and round trip", test_format },
	{ "every digit of the ids, written and read", test_every_digit },
	{ "tracestate bounds", test_tracestate },
	{ "b3 single header", test_b3_single },
	{ "jaeger uber-trace-id", test_jaeger },
	{ "hex ids and baggage limits", test_ids_and_baggage },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("propagate", tests);
}
