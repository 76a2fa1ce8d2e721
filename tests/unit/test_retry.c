/*
 * The exporter's retry rules (OTLP specification): which HTTP statuses and
 * gRPC codes are retried, Retry-After in its two forms and the three
 * HTTP-date formats, the jittered backoff's bounds, and RetryInfo found in
 * grpc-status-details-bin.
 */
#include <stdint.h>
#include <string.h>

#include "exporter/grpc.h"
#include "exporter/retry.h"

#include "cu.h"

/* Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110. */
#define T0 784111777LL

static int64_t ra(const char *v, int64_t now)
{
	return op_retry_after_ms(v, strlen(v), now);
}

static void test_retry_after_seconds(void)
{
	OP_ASSERT_INT(ra("1", T0), 1000);
	OP_ASSERT_INT(ra(" 120 \r\n", T0), 120000);
	OP_ASSERT_INT(ra("0", T0), 0);
	/* Absurd values are capped at a day; the export deadline cuts them further. */
	OP_ASSERT_INT(ra("99999999999999999999", T0), 24 * 3600 * 1000LL);
	OP_ASSERT_INT(ra("-1", T0), -1);
	OP_ASSERT_INT(ra("1.5", T0), -1);
	OP_ASSERT_INT(ra("", T0), -1);
	OP_ASSERT_INT(ra("soon", T0), -1);
}

static void test_retry_after_dates(void)
{
	OP_ASSERT_INT(ra("Sun, 06 Nov 1994 08:49:37 GMT", T0 - 10), 10000);
	OP_ASSERT_INT(ra("Sunday, 06-Nov-94 08:49:37 GMT", T0 - 3), 3000);
	OP_ASSERT_INT(ra("Sun Nov  6 08:49:37 1994", T0 - 2), 2000);
	/* A date in the past: retry now. */
	OP_ASSERT_INT(ra("Sun, 06 Nov 1994 08:49:37 GMT", T0 + 100), 0);
	/* Across a month and a year boundary. */
	OP_ASSERT_INT(ra("Thu, 01 Jan 2026 00:00:05 GMT", 1767225600LL), 5000);
	OP_ASSERT_INT(ra("Sun, 06 Nov 1994 08:49:37 UTC", T0), -1);
	OP_ASSERT_INT(ra("Sun, 06 Foo 1994 08:49:37 GMT", T0), -1);
	OP_ASSERT_INT(ra("Sun, 06 Nov 1994 25:49:37 GMT", T0), -1);
	OP_ASSERT_INT(ra("Sun, 06 Nov 1994 08:49 GMT", T0), -1);
	OP_ASSERT_INT(ra("Sun, 06 Nov 1994 08:49:37 GMT trailing", T0), -1);
}

static void test_backoff(void)
{
	static const uint32_t rnds[] = { 0, 1, 0x80000000u, 0xffffffffu, 12345 };
	int64_t lo_prev = 0;

	for (unsigned attempt = 1; attempt <= 12; attempt++) {
		int64_t base = OP_BACKOFF_INITIAL_MS;

		for (unsigned i = 1; i < attempt && base < OP_BACKOFF_MAX_MS; i++)
			base = base * 3 / 2;
		if (base > OP_BACKOFF_MAX_MS)
			base = OP_BACKOFF_MAX_MS;
		for (size_t i = 0; i < sizeof rnds / sizeof rnds[0]; i++) {
			int64_t ms = op_backoff_ms(attempt, rnds[i]);

			CU_ASSERT(ms >= base / 2);
			CU_ASSERT(ms < base || (base == 0 && ms == 0));
		}
		/* The floor never shrinks, and stops at half the maximum. */
		CU_ASSERT(op_backoff_ms(attempt, 0) >= lo_prev);
		lo_prev = op_backoff_ms(attempt, 0);
	}
	OP_ASSERT_INT(op_backoff_ms(1, 0), OP_BACKOFF_INITIAL_MS / 2);
	OP_ASSERT_INT(op_backoff_ms(40, 0), OP_BACKOFF_MAX_MS / 2);
	/* Jitter spreads: different draws, different waits. */
	CU_ASSERT(op_backoff_ms(3, 0x10000000u) != op_backoff_ms(3, 0xe0000000u));
}

static void test_http_statuses(void)
{
	static const long retried[] = { 429, 502, 503, 504 };
	static const long final[] = { 200, 204, 400, 401, 403, 404, 408, 413, 500, 501, 505 };

	for (size_t i = 0; i < sizeof retried / sizeof retried[0]; i++)
		CU_ASSERT_TRUE(op_http_status_retryable(retried[i]));
	for (size_t i = 0; i < sizeof final / sizeof final[0]; i++)
		CU_ASSERT_FALSE(op_http_status_retryable(final[i]));
}

static void test_grpc_codes(void)
{
	for (int code = 0; code <= 16; code++) {
		bool want = code == 1 || code == 4 || code == 10 || code == 11 || code == 14 ||
			    code == 15;

		CU_ASSERT_EQUAL(op_grpc_code_retryable(code, false), want);
		CU_ASSERT_EQUAL(op_grpc_code_retryable(code, true), want || code == 8);
	}
	OP_ASSERT_INT(op_grpc_code_from_http(503), OP_GRPC_UNAVAILABLE);
	OP_ASSERT_INT(op_grpc_code_from_http(429), OP_GRPC_UNAVAILABLE);
	OP_ASSERT_INT(op_grpc_code_from_http(404), OP_GRPC_UNIMPLEMENTED);
	OP_ASSERT_INT(op_grpc_code_from_http(401), OP_GRPC_UNAUTHENTICATED);
	OP_ASSERT_INT(op_grpc_code_from_http(500), OP_GRPC_UNKNOWN);
}

/*
 * google.rpc.Status{code: 8, message: "slow down", details: [DebugInfo,
 * RetryInfo{retry_delay: 2.5s}]}, built by hand from the .proto field
 * numbers.
 */
static const char status_b64[] =
	"CAgSCXNsb3cgZG93bho0Cih0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuRGVidWdJbmZvEggSBmRldGFp"
	"bBo2Cih0eXBlLmdvb2dsZWFwaXMuY29tL2dvb2dsZS5ycGMuUmV0cnlJbmZvEgoKCAgCEIDKte4B";
/* A RetryInfo without a delay. */
static const char empty_info_b64[] = "CAgaLAoodHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLlJldHJ5SW5mbxIA";
/* Only a DebugInfo. */
static const char no_info_b64[] =
	"CAgSB25vIGluZm8aNAoodHlwZS5nb29nbGVhcGlzLmNvbS9nb29nbGUucnBjLkRlYnVnSW5mbxIIEgZkZXRhaWw=";

static void test_retry_info(void)
{
	int64_t ms = 0;

	CU_ASSERT_TRUE(op_grpc_retry_info(status_b64, strlen(status_b64), &ms));
	OP_ASSERT_INT(ms, 2500);
	CU_ASSERT_TRUE(op_grpc_retry_info(empty_info_b64, strlen(empty_info_b64), &ms));
	OP_ASSERT_INT(ms, -1);
	CU_ASSERT_FALSE(op_grpc_retry_info(no_info_b64, strlen(no_info_b64), &ms));
	/* Padding is optional. */
	CU_ASSERT_FALSE(op_grpc_retry_info(no_info_b64, strlen(no_info_b64) - 1, &ms));
	CU_ASSERT_FALSE(op_grpc_retry_info("", 0, &ms));
	CU_ASSERT_FALSE(op_grpc_retry_info("!!!!", 4, &ms));
	/* Cut short: the length prefixes point past the end. */
	CU_ASSERT_FALSE(op_grpc_retry_info(status_b64, 60, &ms));
}

static void test_framing(void)
{
	uint8_t buf[OP_GRPC_PREFIX + 3] = { 0 };
	const uint8_t *msg;
	size_t len;

	op_grpc_prefix(buf, true, 0x01020304u);
	CU_ASSERT(buf[0] == 1 && buf[1] == 1 && buf[2] == 2 && buf[3] == 3 && buf[4] == 4);
	op_grpc_prefix(buf, false, 3);
	memcpy(buf + OP_GRPC_PREFIX, "abc", 3);
	CU_ASSERT_EQUAL(op_grpc_unframe(buf, sizeof buf, &msg, &len), 0);
	OP_ASSERT_INT(len, 3);
	CU_ASSERT(msg == buf + OP_GRPC_PREFIX);
	/* Truncated, too long, or compressed: not one plain message. */
	CU_ASSERT_EQUAL(op_grpc_unframe(buf, sizeof buf - 1, &msg, &len), -1);
	CU_ASSERT_EQUAL(op_grpc_unframe(buf, 4, &msg, &len), -1);
	buf[0] = 1;
	CU_ASSERT_EQUAL(op_grpc_unframe(buf, sizeof buf, &msg, &len), -1);
}

static CU_TestInfo tests[] = {
	{ "Retry-After in seconds", test_retry_after_seconds },
	{ "Retry-After as an HTTP-date", test_retry_after_dates },
	{ "jittered exponential backoff", test_backoff },
	{ "HTTP statuses that are retried", test_http_statuses },
	{ "gRPC codes that are retried", test_grpc_codes },
	{ "RetryInfo in grpc-status-details-bin", test_retry_info },
	{ "gRPC message framing", test_framing },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("retry", tests);
}
