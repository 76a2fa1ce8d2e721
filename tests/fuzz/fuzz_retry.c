/*
 * The exporter's retry rules (exporter/retry.c, exporter/grpc.c): the
 * Retry-After parser, the google.rpc.Status/RetryInfo reader of
 * grpc-status-details-bin, gRPC message unframing and the backoff.
 *
 * Input: a mode byte, then bytes whose meaning depends on it:
 *   0 raw Retry-After value          1 a time written as an HTTP-date
 *   2 raw base64 details value       3 a Status built here, base64'd
 *   4 a gRPC-framed body             5+ all of the small rules
 * Raw values must give results in range; built ones must read back: a
 * time formatted in each of RFC 9110's three date forms (with
 * strftime/gmtime, not the parser's code) is the delay the parser returns,
 * and a RetryInfo placed anywhere in a Status (among other details, in
 * standard or URL-safe base64, padded or not) is found with its delay.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporter/grpc.h"
#include "exporter/retry.h"

#include "fuzz.h"

#define DAY_MS (24 * 3600 * 1000LL)
/* Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date: "now" for every value. */
#define NOW 784111777LL

static void check_raw_retry_after(const uint8_t *v, size_t len)
{
	int64_t ms = op_retry_after_ms((const char *)v, len, NOW);
	size_t s = 0, e = len;
	bool digits = true;

	FUZZ_CHECK(ms == -1 || (ms >= 0 && ms <= DAY_MS && ms % 1000 == 0), "Retry-After \"%s\": %lld",
		   fz_show(v, len), (long long)ms);
	/* delta-seconds = 1*DIGIT, OWS around it (and a CR LF left by a header reader). */
	while (s < e && (v[s] == ' ' || v[s] == '\t'))
		s++;
	while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t' || v[e - 1] == '\r' || v[e - 1] == '\n'))
		e--;
	for (size_t i = s; i < e; i++)
		digits &= v[i] >= '0' && v[i] <= '9';
	if (e > s && digits) {
		int64_t secs = 0;

		for (size_t i = s; i < e && secs <= 86400; i++)
			secs = secs * 10 + (v[i] - '0');
		FUZZ_CHECK(ms == (secs > 86400 ? 86400 : secs) * 1000, "Retry-After \"%s\": %lld ms",
			   fz_show(v, len), (long long)ms);
	} else if (e == s) {
		FUZZ_CHECK(ms == -1, "empty Retry-After \"%s\": %lld", fz_show(v, len), (long long)ms);
	}
}

static void check_date(struct fz *f)
{
	/* Any second from 0001-01-01 to 9999-12-31 (the four-digit years the forms can hold). */
	const int64_t lo = -62135596800LL, hi = 253402300799LL;
	int64_t t = lo + (int64_t)(fz_u64(f) % (uint64_t)(hi - lo + 1));
	time_t tt = (time_t)t;
	struct tm tm;
	char text[3][96];
	const char *forms[3] = { "%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y" };
	int64_t want = t > NOW ? t - NOW : 0;
	uint8_t pad = fz_u8(f);

	if (!gmtime_r(&tt, &tm))
		return;
	if (want > 86400)
		want = 86400;
	for (int k = 0; k < 3; k++) {
		size_t n;
		int64_t got;

		/* RFC 850 has two-digit years, read as 1970-2069. */
		if (k == 1 && (tm.tm_year < 70 || tm.tm_year > 169))
			continue;
		/* Four digits or nothing: years before 1000 have no IMF-fixdate or asctime form. */
		if (k != 1 && tm.tm_year < 1000 - 1900)
			continue;
		n = strftime(text[k], sizeof text[k] - 8, forms[k], &tm);
		FUZZ_CHECK(n > 0, "strftime");
		/* Surrounding white space and a header reader's CR LF are allowed. */
		if (pad & 1) {
			memmove(text[k] + 2, text[k], n + 1);
			memcpy(text[k], " \t", 2);
			n += 2;
		}
		if (pad & 2) {
			memcpy(text[k] + n, " \r\n", 4);
			n += 3;
		}
		got = op_retry_after_ms(text[k], n, NOW);
		FUZZ_CHECK(got == want * 1000, "Retry-After \"%s\" (t=%lld): %lld ms, not %lld", text[k],
			   (long long)t, (long long)got, (long long)want * 1000);
	}
}

/* ---- a protobuf writer and base64, for Status values built here ----------------- */

struct pbw {
	uint8_t b[8192];
	size_t n;
};

static void w_byte(struct pbw *w, uint8_t c)
{
	if (w->n < sizeof w->b)
		w->b[w->n++] = c;
}

static void w_varint(struct pbw *w, uint64_t v)
{
	do {
		w_byte(w, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
		v >>= 7;
	} while (v);
}

static void w_bytes(struct pbw *w, uint32_t field, const void *p, size_t len)
{
	w_varint(w, (uint64_t)field << 3 | 2);
	w_varint(w, len);
	for (size_t i = 0; i < len; i++)
		w_byte(w, ((const uint8_t *)p)[i]);
}

static size_t b64(const uint8_t *in, size_t n, char *out, bool url, bool pad)
{
	const char *abc = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			      : "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		out[o++] = abc[v >> 18];
		out[o++] = abc[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = abc[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < n)
			out[o++] = abc[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	return o;
}

static void check_built_status(struct fz *f)
{
	static const char type[] = "type.googleapis.com/google.rpc.RetryInfo";
	struct pbw st = { .n = 0 }, any, ri, dur;
	uint8_t flags = fz_u8(f), before = fz_u8(f) % 4;
	uint64_t secs = fz_u32(f) % 200000, nanos = fz_u32(f) % 1000000000u;
	static char text[4 * sizeof st.b / 3 + 8];
	int64_t got = -2, want;
	bool found;
	size_t n;

	/* Status.code and message, then some other details before the RetryInfo. */
	w_varint(&st, 1 << 3 | 0);
	w_varint(&st, fz_u8(f) % 17);
	w_bytes(&st, 2, "retry later", 11);
	for (uint8_t i = 0; i < before; i++) {
		struct pbw other = { .n = 0 };

		w_bytes(&other, 1, "type.googleapis.com/google.rpc.DebugInfo", 40);
		w_bytes(&other, 2, f->p, fz_left(f) < 16 ? fz_left(f) : 16);
		w_bytes(&st, 3, other.b, other.n);
	}
	dur.n = ri.n = any.n = 0;
	if (flags & 1) {
		w_varint(&dur, 1 << 3 | 0);
		w_varint(&dur, secs);
	}
	if (flags & 2) {
		w_varint(&dur, 2 << 3 | 0);
		w_varint(&dur, nanos);
	}
	if (flags & 4)
		w_bytes(&ri, 1, dur.b, dur.n);
	w_bytes(&any, 1, type, sizeof type - 1);
	w_bytes(&any, 2, ri.b, ri.n);
	w_bytes(&st, 3, any.b, any.n);
	n = b64(st.b, st.n, text, flags & 8, flags & 16);
	if (flags & 32) {
		memcpy(text + n, "\r\n", 2);
		n += 2;
	}
	found = op_grpc_retry_info(text, n, &got);
	/* A field not written is zero (proto3). */
	if (!(flags & 1))
		secs = 0;
	if (!(flags & 2))
		nanos = 0;
	if (!(flags & 4))
		want = -1;        /* a RetryInfo without retry_delay */
	else if (secs > 86400)
		want = -2;        /* refused */
	else
		want = (int64_t)secs * 1000 + (int64_t)nanos / 1000000;
	if (want == -2)
		FUZZ_CHECK(!found, "RetryInfo of %llu s accepted", (unsigned long long)secs);
	else
		FUZZ_CHECK(found && got == want, "RetryInfo (%llu s, %llu ns, flags %#x) read as %d, %lld",
			   (unsigned long long)secs, (unsigned long long)nanos, flags, found, (long long)got);
}

static void check_raw_details(const uint8_t *v, size_t len)
{
	int64_t ms = -7;
	bool found = op_grpc_retry_info((const char *)v, len, &ms);

	if (found)
		FUZZ_CHECK(ms == -1 || (ms >= 0 && ms <= DAY_MS + 2148), "RetryInfo delay %lld", (long long)ms);
}

static void check_unframe(const uint8_t *b, size_t n)
{
	const uint8_t *msg = NULL;
	size_t len = 0;
	int rc = op_grpc_unframe(b, n, &msg, &len);
	bool ok = n >= 5 && b[0] == 0 &&
		  ((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 8 | b[4]) == n - 5;

	FUZZ_CHECK((rc == 0) == ok, "unframe of %zu bytes: %d", n, rc);
	if (ok)
		FUZZ_CHECK(msg == b + 5 && len == n - 5, "unframed message");
}

static void check_rules(struct fz *f)
{
	unsigned attempt = fz_u8(f);
	uint32_t rnd = fz_u32(f);
	long status = (long)(int32_t)fz_u32(f);
	int code = (int)(int8_t)fz_u8(f);
	int64_t base = 1000, ms = op_backoff_ms(attempt, rnd);

	for (unsigned a = 1; a < attempt && base < 5000; a++)
		base = base * 3 / 2;
	if (base > 5000)
		base = 5000;
	FUZZ_CHECK(ms >= base / 2 && ms < base, "backoff %lld for attempt %u (base %lld)", (long long)ms,
		   attempt, (long long)base);
	FUZZ_CHECK(op_http_status_retryable(status) ==
		   (status == 429 || status == 502 || status == 503 || status == 504), "HTTP %ld", status);
	FUZZ_CHECK(!op_grpc_code_retryable(code, false) || (code >= 1 && code <= 15),
		   "gRPC code %d retryable", code);
	FUZZ_CHECK(op_grpc_code_retryable(8, true) && !op_grpc_code_retryable(8, false), "RESOURCE_EXHAUSTED");
	FUZZ_CHECK(op_grpc_code_from_http(status) >= 0 && op_grpc_code_from_http(status) <= 16,
		   "HTTP %ld as gRPC %d", status, op_grpc_code_from_http(status));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, data + size };
	uint8_t mode = fz_u8(&f);

	switch (mode % 6) {
	case 0:
		check_raw_retry_after(f.p, fz_left(&f));
		break;
	case 1:
		check_date(&f);
		break;
	case 2:
		check_raw_details(f.p, fz_left(&f));
		break;
	case 3:
		check_built_status(&f);
		break;
	case 4:
		check_unframe(f.p, fz_left(&f));
		break;
	default:
		check_rules(&f);
		break;
	}
	return 0;
}
