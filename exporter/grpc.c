#include <stdlib.h>
#include <string.h>

#include "grpc.h"

#define RETRY_INFO_TYPE "type.googleapis.com/google.rpc.RetryInfo"

/* Details larger than this are not decoded: RetryInfo is a few bytes. */
#define OP_GRPC_DETAILS_MAX 4096

int op_grpc_unframe(const uint8_t *body, size_t blen, const uint8_t **msg, size_t *len)
{
	uint32_t n;

	if (blen < OP_GRPC_PREFIX || body[0] != 0)
		return -1;
	n = (uint32_t)body[1] << 24 | (uint32_t)body[2] << 16 | (uint32_t)body[3] << 8 | body[4];
	if (n != blen - OP_GRPC_PREFIX)
		return -1;
	*msg = body + OP_GRPC_PREFIX;
	*len = n;
	return 0;
}

static int b64val(char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' :
	       c >= 'a' && c <= 'z' ? c - 'a' + 26 :
	       c >= '0' && c <= '9' ? c - '0' + 52 :
	       c == '+' || c == '-' ? 62 :
	       c == '/' || c == '_' ? 63 : -1;
}

/* Standard or URL-safe base64, padding optional. Returns the length, or -1. */
static long b64_decode(const char *s, size_t len, uint8_t *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0;
	size_t n = 0;

	while (len && (s[len - 1] == '=' || s[len - 1] == '\r' || s[len - 1] == '\n' ||
		       s[len - 1] == ' '))
		len--;
	for (size_t i = 0; i < len; i++) {
		int v = b64val(s[i]);

		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (uint8_t)(acc >> bits);
		}
	}
	return (long)n;
}

/* A protobuf reader over [p, end): only what Status, Any, RetryInfo and Duration use. */
struct pb {
	const uint8_t *p, *end;
};

static int varint(struct pb *b, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (b->p < b->end && shift < 64) {
		uint8_t c = *b->p++;

		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
		shift += 7;
	}
	return -1;
}

/*
 * The next field: its number, wire type, and for length-delimited ones the
 * bytes; other wire types are skipped over. Returns 1 for a field, 0 at the
 * end, -1 on malformed input.
 */
static int next_field(struct pb *b, uint32_t *num, unsigned *wt, uint64_t *val, struct pb *sub)
{
	uint64_t key, n;

	if (b->p == b->end)
		return 0;
	if (varint(b, &key))
		return -1;
	*num = (uint32_t)(key >> 3);
	*wt = key & 7;
	switch (*wt) {
	case 0:
		return varint(b, val) ? -1 : 1;
	case 1:
		if (b->end - b->p < 8)
			return -1;
		b->p += 8;
		return 1;
	case 2:
		if (varint(b, &n) || n > (uint64_t)(b->end - b->p))
			return -1;
		sub->p = b->p;
		sub->end = b->p + n;
		b->p += n;
		return 1;
	case 5:
		if (b->end - b->p < 4)
			return -1;
		b->p += 4;
		return 1;
	default:
		return -1;
	}
}

/*
 * RetryInfo { Duration retry_delay = 1; }, Duration { int64 seconds = 1;
 * int32 nanos = 2; }. A RetryInfo without a delay leaves *ms at -1.
 */
static bool retry_delay(struct pb ri, int64_t *ms)
{
	struct pb sub, dur;
	uint64_t v, secs = 0, nanos = 0;
	uint32_t num;
	unsigned wt;
	int r;

	*ms = -1;
	while ((r = next_field(&ri, &num, &wt, &v, &sub)) == 1) {
		if (num != 1 || wt != 2)
			continue;
		dur = sub;
		while ((r = next_field(&dur, &num, &wt, &v, &sub)) == 1) {
			if (num == 1 && wt == 0)
				secs = v;
			else if (num == 2 && wt == 0)
				nanos = v;
		}
		if (r < 0 || (int64_t)secs < 0 || secs > 24 * 3600 || (int64_t)(int32_t)nanos < 0)
			return false;
		*ms = (int64_t)secs * 1000 + (int64_t)(int32_t)nanos / 1000000;
	}
	return r == 0;
}

bool op_grpc_retry_info(const char *b64, size_t len, int64_t *delay_ms)
{
	uint8_t buf[OP_GRPC_DETAILS_MAX];
	struct pb st, sub, any, type, value;
	uint64_t v;
	uint32_t num;
	unsigned wt;
	long n;

	n = b64_decode(b64, len, buf, sizeof buf);
	if (n < 0)
		return false;
	st.p = buf;
	st.end = buf + n;
	/* Status { int32 code = 1; string message = 2; repeated Any details = 3; } */
	while (next_field(&st, &num, &wt, &v, &sub) == 1) {
		if (num != 3 || wt != 2)
			continue;
		/* Any { string type_url = 1; bytes value = 2; } */
		type.p = value.p = NULL;
		type.end = value.end = NULL;
		any = sub;
		while (next_field(&any, &num, &wt, &v, &sub) == 1) {
			if (num == 1 && wt == 2)
				type = sub;
			else if (num == 2 && wt == 2)
				value = sub;
		}
		if (type.p && (size_t)(type.end - type.p) == sizeof RETRY_INFO_TYPE - 1 &&
		    !memcmp(type.p, RETRY_INFO_TYPE, sizeof RETRY_INFO_TYPE - 1) && value.p &&
		    retry_delay(value, delay_ms))
			return true;
	}
	return false;
}
