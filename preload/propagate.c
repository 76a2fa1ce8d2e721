#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "op.h"
#include "propagate.h"

static int lowerhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

#define ONES 0x0101010101010101ull

/* The word tricks below read lane 0 as the first byte in memory. */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LE64(x) __builtin_bswap64(x)
#define LE32(x) __builtin_bswap32(x)
#else
#define LE64(x) (x)
#define LE32(x) (x)
#endif

/*
 * Eight lower-case hex digits (a little-endian load of them) into four
 * bytes, all lanes at once: a traceparent's 48 digits, read on every
 * inbound request, take six rounds instead of 48 table lookups. Returns
 * false when a byte is not one of 0-9a-f.
 *
 * A digit is 0x3X with X <= 9, a letter 0x6X with 1 <= X <= 6; its value
 * is X, plus 9 for a letter, which is 10..15 exactly for a valid letter
 * and 0..9 for a valid digit. No lane ever carries into the next.
 */
static inline bool hex8(uint64_t x, uint8_t out[4])
{
	uint64_t letter = (x >> 6) & ONES;                  /* 1 in the lanes of 0x4X-0x7X, 0xcX-0xfX */
	uint64_t val = (x & 0x0f * ONES) + 9 * letter;      /* 0..24 per lane */
	uint64_t ge10 = ((val + 6 * ONES) >> 4) & ONES;     /* val >= 10 (or > 15, caught below) */
	uint64_t hi = (x >> 4) & 0x0f * ONES;
	uint32_t w;

	if (hi != 3 * ONES + 3 * letter || (val & 0x10 * ONES) || ge10 != letter)
		return false;
	/* Lanes b0..b7: 16-bit lanes b0 << 4 | b1, then their low bytes side by side. */
	val = (val & 0x000f000f000f000full) << 4 | (val & 0x0f000f000f000f00ull) >> 8;
	val = (val & 0x000000ff000000ffull) | (val & 0x00ff000000ff0000ull) >> 8;
	w = LE32((uint32_t)((val & 0xffff) | (val >> 16 & 0xffff0000u)));
	memcpy(out, &w, 4);
	return true;
}

static inline uint64_t load8(const char *s)
{
	uint64_t x;

	memcpy(&x, s, 8);
	return LE64(x);
}

/* `n` (16 or 32) lower-case hex digits into n/2 bytes; -1 on a bad digit or all zeros. */
static inline int hex_field(const char *s, size_t n, uint8_t *out)
{
	uint8_t tmp[16];
	uint64_t any = 0;

	for (size_t i = 0; i < n; i += 8)
		if (!hex8(load8(s + i), tmp + i / 2))
			return -1;
	for (size_t i = 0; i < n / 2; i += 8)
		any |= load8((const char *)tmp + i);
	if (!any)
		return -1;
	memcpy(out, tmp, n / 2);
	return 0;
}

/*
 * Four bytes into eight lower-case hex digits, all lanes at once: each
 * nibble gets '0', and 'a' - 10 when it is 10 or more.
 */
static inline void hex4(const uint8_t in[4], char *out)
{
	uint32_t w;
	uint64_t x, ge10;

	memcpy(&w, in, 4);
	x = LE32(w);
	/* Byte k of `in` becomes lanes 2k (high nibble) and 2k + 1 (low nibble). */
	x = (x | x << 16) & 0x0000ffff0000ffffull;
	x = (x | x << 8) & 0x00ff00ff00ff00ffull;
	x = (x >> 4 & 0x000f000f000f000full) | (x << 8 & 0x0f000f000f000f00ull);
	ge10 = ((x + 6 * ONES) >> 4) & ONES;
	x = LE64(x + '0' * ONES + ge10 * ('a' - '0' - 10));
	memcpy(out, &x, 8);
}

static inline void hex_bytes(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i += 4)
		hex4(b + i, out + 2 * i);
}

int op_traceparent_parse(const char *v, size_t len, struct op_span_ctx *ctx)
{
	struct op_span_ctx out;
	int vh, vl, fh, fl;

	/* Optional whitespace around the value is not part of it. */
	v = op_trim_ows(v, &len);
	if (len < OP_TRACEPARENT_LEN || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return -1;
	vh = lowerhex(v[0]);
	vl = lowerhex(v[1]);
	if (vh < 0 || vl < 0 || (vh == 15 && vl == 15))
		return -1;
	if (vh == 0 && vl == 0 && len != OP_TRACEPARENT_LEN)
		return -1;
	if (len > OP_TRACEPARENT_LEN && v[OP_TRACEPARENT_LEN] != '-')
		return -1;
	/* Parsed aside: a value rejected half-way must leave `ctx` untouched. */
	if (hex_field(v + 3, 32, out.trace_id) || hex_field(v + 36, 16, out.span_id))
		return -1;
	fh = lowerhex(v[53]);
	fl = lowerhex(v[54]);
	if (fh < 0 || fl < 0)
		return -1;
	out.flags = (uint8_t)(fh << 4 | fl);
	out.remote = true;
	*ctx = out;
	return 0;
}

void op_traceparent_format(const struct op_span_ctx *ctx, char out[OP_TRACEPARENT_LEN + 1])
{
	memcpy(out, "00-", 3);
	hex_bytes(ctx->trace_id, 16, out + 3);
	out[35] = '-';
	hex_bytes(ctx->span_id, 8, out + 36);
	out[52] = '-';
	out[53] = '0';
	out[54] = (ctx->flags & OP_TRACE_FLAG_SAMPLED) ? '1' : '0';
	out[55] = '\0';
}

int op_header_value_ok(const char *v, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return 0;
	return 1;
}

static bool ts_keychar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       c == '*' || c == '/';
}

/* key = lcalpha 0*255(keychar) / (lcalpha|DIGIT) 0*240(keychar) "@" lcalpha 0*13(keychar) */
static bool ts_key(const char *k, size_t n)
{
	const char *at = memchr(k, '@', n);

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (k + i != at && !ts_keychar(k[i]))
			return false;
	if (!at)
		return k[0] >= 'a' && k[0] <= 'z' && n <= 256;
	{
		size_t tenant = (size_t)(at - k), system = n - tenant - 1;

		return tenant >= 1 && tenant <= 241 && ((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')) &&
		       system >= 1 && system <= 14 && at[1] >= 'a' && at[1] <= 'z' &&
		       !memchr(at + 1, '@', system);
	}
}

/* value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr; nblk-chr excludes ',' and '=' */
static bool ts_value(const char *v, size_t n)
{
	if (n == 0 || n > 256 || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

int op_tracestate_valid(const char *v, size_t len)
{
	const char *keys[32];
	size_t klens[32], members = 0;
	const char *p = v, *end = v + len;

	if (len == 0 || len > OP_TRACESTATE_MAX)
		return 0;
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end, *s = p, *eq;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (s < e) {
			eq = memchr(s, '=', (size_t)(e - s));
			if (!eq || members == 32 || !ts_key(s, (size_t)(eq - s)) ||
			    !ts_value(eq + 1, (size_t)(e - eq - 1)))
				return 0;
			for (size_t k = 0; k < members; k++)
				if (klens[k] == (size_t)(eq - s) && !memcmp(keys[k], s, klens[k]))
					return 0;
			keys[members] = s;
			klens[members++] = (size_t)(eq - s);
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return members > 0;
}

int op_baggage_valid(const char *v, size_t len)
{
	size_t members = 1;

	if (len == 0 || len > OP_BAGGAGE_MAX_BYTES)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return 0;
		if (v[i] == ',' && ++members > OP_BAGGAGE_MAX_MEMBERS)
			return 0;
	}
	return 1;
}

static int anyhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* `len` hex digits right-aligned into `size` bytes (left-padded); -1 if bad or zero. */
static int hex_padded(const char *s, size_t len, uint8_t *out, size_t size)
{
	uint8_t any = 0;

	if (len == 0 || len > 2 * size)
		return -1;
	memset(out, 0, size);
	for (size_t i = 0; i < len; i++) {
		int d = anyhex(s[len - 1 - i]);
		uint8_t *b = &out[size - 1 - i / 2];

		if (d < 0)
			return -1;
		*b |= (uint8_t)(i % 2 ? d << 4 : d);
		any |= (uint8_t)d;
	}
	return any ? 0 : -1;
}

int op_hex_trace_id(const char *s, size_t len, uint8_t out[16])
{
	return len == 32 || len == 16 ? hex_padded(s, len, out, 16) : -1;
}

int op_hex_span_id(const char *s, size_t len, uint8_t out[8])
{
	return hex_padded(s, len, out, 8);
}

int op_b3_parse(const char *v, size_t len, struct op_span_ctx *ctx, bool *debug)
{
	struct op_span_ctx out = { 0 };
	const char *d1, *d2, *end;
	size_t rest;

	v = op_trim_ows(v, &len);
	end = v + len;
	d1 = memchr(v, '-', len);
	if (!d1)
		return -1;       /* "0", "1", "d": a sampling decision without ids */
	d2 = memchr(d1 + 1, '-', (size_t)(end - d1 - 1));
	if (op_hex_trace_id(v, (size_t)(d1 - v), out.trace_id) ||
	    op_hex_span_id(d1 + 1, (size_t)((d2 ? d2 : end) - d1 - 1), out.span_id) ||
	    (size_t)((d2 ? d2 : end) - d1 - 1) != 16)
		return -1;
	*debug = false;
	out.flags = OP_TRACE_FLAG_SAMPLED;  /* no decision: defer, which we take as sampled */
	if (d2) {
		rest = (size_t)(end - d2 - 1);
		if (rest == 0)
			return -1;
		if (d2[1] == '1')
			out.flags = OP_TRACE_FLAG_SAMPLED;
		else if (d2[1] == '0')
			out.flags = 0;
		else if (d2[1] == 'd')
			*debug = true;
		else
			return -1;
		if (rest > 1 && d2[2] != '-')
			return -1;
	}
	out.remote = true;
	*ctx = out;
	return 0;
}

int op_jaeger_parse(const char *v, size_t len, struct op_span_ctx *ctx, bool *debug)
{
	char buf[128];
	const char *f[4];
	size_t flen[4], n = 0, i, k = 0;
	struct op_span_ctx out = { 0 };
	long flags = 0;

	v = op_trim_ows(v, &len);
	/* Decode %3A (the value is sometimes URL-encoded) into a local copy. */
	for (i = 0; i < len && n < sizeof buf - 1; i++) {
		if (v[i] == '%' && i + 2 < len && v[i + 1] == '3' && (v[i + 2] == 'A' || v[i + 2] == 'a')) {
			buf[n++] = ':';
			i += 2;
		} else {
			buf[n++] = v[i];
		}
	}
	if (i < len)
		return -1;
	buf[n] = '\0';
	f[0] = buf;
	for (i = 0; i <= n && k < 4; i++) {
		if (i == n || buf[i] == ':') {
			flen[k] = (size_t)(buf + i - f[k]);
			if (++k < 4)
				f[k] = buf + i + 1;
		}
	}
	if (k != 4 || (f[3] + flen[3]) != buf + n || flen[0] > 32 || flen[3] == 0 || flen[3] > 2)
		return -1;
	/* Jaeger drops leading zeros: pad the trace id to 32 digits. */
	{
		char tid[33];

		memset(tid, '0', 32);
		memcpy(tid + 32 - flen[0], f[0], flen[0]);
		if (flen[0] == 0 || hex_padded(tid, 32, out.trace_id, 16) ||
		    op_hex_span_id(f[1], flen[1], out.span_id))
			return -1;
	}
	for (i = 0; i < flen[3]; i++) {
		int d = anyhex(f[3][i]);

		if (d < 0)
			return -1;
		flags = flags * 16 + d;
	}
	out.flags = (flags & 1) ? OP_TRACE_FLAG_SAMPLED : 0;
	*debug = (flags & 2) != 0;
	if (*debug)
		out.flags = OP_TRACE_FLAG_SAMPLED;
	out.remote = true;
	*ctx = out;
	return 0;
}

void op_hex_ids(const struct op_span_ctx *ctx, char trace[33], char span[17])
{
	hex_bytes(ctx->trace_id, 16, trace);
	trace[32] = '\0';
	hex_bytes(ctx->span_id, 8, span);
	span[16] = '\0';
}
