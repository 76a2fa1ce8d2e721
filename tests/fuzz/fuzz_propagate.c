/*
 * Every propagation header parser of preload/propagate.c on the same
 * arbitrary value, each judged against a reading of its specification
 * written here (W3C Trace Context level 1 for traceparent and tracestate,
 * W3C Baggage's limits, B3, Jaeger's uber-trace-id): both must accept the
 * same values and find the same ids, and a rejected value leaves the
 * caller's context as it was. Whatever a parser accepts goes through the
 * writer (op_traceparent_format, op_propagation_lines) and must read back
 * as the same context: extract, inject, extract.
 *
 * Input: the header value is the whole input. Its first 26 bytes (zero
 * padded) are also a context (trace id, span id, flags, a debug bit, and
 * which headers the outbound request already has) for the writer, and the
 * lines of the rest ('\n'-separated) are header lines a serving request
 * passes on, with the names and values made valid as the engine makes them.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/config.h"
#include "preload/engine.h"
#include "preload/propagate.h"

#include "fuzz.h"

static const uint8_t sentinel[sizeof(struct op_span_ctx)] = {
	0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
	0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
};

static int hexdigit(uint8_t c, bool upper_ok)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (upper_ok && c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* `len` hex digits right-aligned into `size` bytes; false if not hex or all zeros. */
static bool hex_right(const uint8_t *s, size_t len, bool upper_ok, uint8_t *out, size_t size)
{
	bool any = false;

	if (len == 0 || len > 2 * size)
		return false;
	memset(out, 0, size);
	for (size_t i = 0; i < len; i++) {
		int d = hexdigit(s[i], upper_ok);
		size_t bit = (2 * size - len + i);   /* nibble index from the left */

		if (d < 0)
			return false;
		out[bit / 2] |= (uint8_t)(bit % 2 ? d : d << 4);
		any |= d != 0;
	}
	return any;
}

static const uint8_t *trim(const uint8_t *s, size_t *len)
{
	while (*len && (s[0] == ' ' || s[0] == '\t'))
		s++, (*len)--;
	while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return s;
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static bool same_ids(const struct op_span_ctx *a, const struct op_span_ctx *b)
{
	return !memcmp(a->trace_id, b->trace_id, 16) && !memcmp(a->span_id, b->span_id, 8);
}

/* ---- W3C traceparent ---------------------------------------------------- */

static bool ref_traceparent(const uint8_t *v, size_t len, struct op_span_ctx *out)
{
	v = trim(v, &len);
	if (len < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-')
		return false;
	if (hexdigit(v[0], false) < 0 || hexdigit(v[1], false) < 0 || (v[0] == 'f' && v[1] == 'f'))
		return false;
	if (v[0] == '0' && v[1] == '0' ? len != 55 : len > 55 && v[55] != '-')
		return false;
	if (!hex_right(v + 3, 32, false, out->trace_id, 16) ||
	    !hex_right(v + 36, 16, false, out->span_id, 8) || hexdigit(v[53], false) < 0 ||
	    hexdigit(v[54], false) < 0)
		return false;
	out->flags = (uint8_t)(hexdigit(v[53], false) << 4 | hexdigit(v[54], false));
	out->remote = true;
	return true;
}

static void check_traceparent(const uint8_t *v, size_t len)
{
	struct op_span_ctx got, want, again;
	char text[OP_TRACEPARENT_LEN + 1], expect[OP_TRACEPARENT_LEN + 1];
	bool ok;

	memcpy(&got, sentinel, sizeof got);
	memset(&want, 0, sizeof want);
	ok = op_traceparent_parse((const char *)v, len, &got) == 0;
	FUZZ_CHECK(ok == ref_traceparent(v, len, &want), "traceparent \"%s\": parser says %d",
		   fz_show(v, len), ok);
	if (!ok) {
		FUZZ_CHECK(!memcmp(&got, sentinel, sizeof got), "rejected traceparent changed the context");
		return;
	}
	FUZZ_CHECK(same_ids(&got, &want) && got.flags == want.flags && got.remote,
		   "traceparent \"%s\" read wrong", fz_show(v, len));
	/* Inject and extract again: the same ids, the sampled flag kept, version 00. */
	op_traceparent_format(&got, text);
	memcpy(expect, "00-", 3);
	hex(got.trace_id, 16, expect + 3);
	expect[35] = '-';
	hex(got.span_id, 8, expect + 36);
	snprintf(expect + 52, 4, "-0%c", got.flags & 1 ? '1' : '0');
	FUZZ_CHECK(!strcmp(text, expect), "traceparent written as \"%s\", not \"%s\"", text, expect);
	FUZZ_CHECK(op_traceparent_parse(text, strlen(text), &again) == 0 && same_ids(&again, &got) &&
		   again.flags == (got.flags & 1), "traceparent \"%s\" does not read back", text);
}

/* ---- W3C tracestate ------------------------------------------------------ */

static bool keychar(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
	       c == '/';
}

/*
 * simple-key = lcalpha 0*255(keychar)
 * multi-tenant-key = (lcalpha / DIGIT) 0*240(keychar) "@" lcalpha 0*13(keychar)
 */
static bool ref_ts_key(const uint8_t *k, size_t n)
{
	const uint8_t *at = memchr(k, '@', n);
	size_t t, s;

	if (!at) {
		if (n < 1 || n > 256 || !(k[0] >= 'a' && k[0] <= 'z'))
			return false;
		for (size_t i = 1; i < n; i++)
			if (!keychar(k[i]))
				return false;
		return true;
	}
	t = (size_t)(at - k);
	s = n - t - 1;
	if (t < 1 || t > 241 || s < 1 || s > 14)
		return false;
	if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= '0' && k[0] <= '9')) ||
	    !(at[1] >= 'a' && at[1] <= 'z'))
		return false;
	for (size_t i = 1; i < t; i++)
		if (!keychar(k[i]))
			return false;
	for (size_t i = 2; i <= s; i++)
		if (!keychar(at[i]))
			return false;
	return true;
}

/* value = 0*255(chr) nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E; chr = %x20 / nblk-chr */
static bool ref_ts_value(const uint8_t *v, size_t n)
{
	if (n < 1 || n > 256 || v[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] > 0x7e || v[i] == ',' || v[i] == '=')
			return false;
	return true;
}

/* At most 512 bytes and 32 members (empty ones, OWS only, allowed and not counted), keys unique. */
static bool ref_tracestate(const uint8_t *v, size_t len)
{
	const uint8_t *keys[40];
	size_t klens[40], members = 0, start = 0;

	if (len == 0 || len > OP_TRACESTATE_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		const uint8_t *m, *eq;
		size_t mlen;

		if (i < len && v[i] != ',')
			continue;
		mlen = i - start;
		m = trim(v + start, &mlen);
		start = i + 1;
		if (!mlen)
			continue;
		eq = memchr(m, '=', mlen);
		if (!eq || !ref_ts_key(m, (size_t)(eq - m)) ||
		    !ref_ts_value(eq + 1, mlen - (size_t)(eq - m) - 1))
			return false;
		if (members == 32)
			return false;
		for (size_t k = 0; k < members; k++)
			if (klens[k] == (size_t)(eq - m) && !memcmp(keys[k], m, klens[k]))
				return false;
		keys[members] = m;
		klens[members++] = (size_t)(eq - m);
	}
	return members > 0;
}

/* ---- B3 -------------------------------------------------------------------- */

/* "T-S[-sampling[-P]]": T 16 or 32 hex, S 16 hex, sampling 0, 1 or d; P is not read. */
static bool ref_b3(const uint8_t *v, size_t len, struct op_span_ctx *out, bool *debug)
{
	const uint8_t *d1, *d2, *end;

	v = trim(v, &len);
	end = v + len;
	d1 = memchr(v, '-', len);
	if (!d1)
		return false;
	d2 = memchr(d1 + 1, '-', (size_t)(end - d1 - 1));
	if ((d1 - v != 16 && d1 - v != 32) || !hex_right(v, (size_t)(d1 - v), true, out->trace_id, 16))
		return false;
	if ((d2 ? d2 : end) - d1 - 1 != 16 || !hex_right(d1 + 1, 16, true, out->span_id, 8))
		return false;
	out->flags = 1;
	*debug = false;
	if (d2) {
		/* One sampling character, then the end or '-' and a parent id that is not read. */
		if (d2 + 1 == end || (end - d2 > 2 && d2[2] != '-'))
			return false;
		if (d2[1] == '0')
			out->flags = 0;
		else if (d2[1] == 'd')
			*debug = true;
		else if (d2[1] != '1')
			return false;
	}
	out->remote = true;
	return true;
}

/* ---- Jaeger ---------------------------------------------------------------- */

/* "T:S:P:F" (':' may come as %3A): T 1-32 hex, S 1-16 hex, F 1-2 hex; at most 127 bytes decoded. */
static bool ref_jaeger(const uint8_t *v, size_t len, struct op_span_ctx *out, bool *debug)
{
	uint8_t d[256];
	size_t n = 0, f[5], k = 0;
	int flags = 0;

	v = trim(v, &len);
	for (size_t i = 0; i < len; i++) {
		if (n == 127)
			return false;
		if (i + 2 < len && v[i] == '%' && v[i + 1] == '3' && (v[i + 2] == 'A' || v[i + 2] == 'a')) {
			d[n++] = ':';
			i += 2;
		} else {
			d[n++] = v[i];
		}
	}
	/* f[i]: start of field i; f[k] for k fields found. */
	f[k++] = 0;
	for (size_t i = 0; i < n; i++) {
		if (d[i] == ':') {
			if (k == 4)
				return false;
			f[k++] = i + 1;
		}
	}
	if (k != 4)
		return false;
	f[4] = n + 1;
	if (!hex_right(d + f[0], f[1] - f[0] - 1, true, out->trace_id, 16) ||
	    !hex_right(d + f[1], f[2] - f[1] - 1, true, out->span_id, 8))
		return false;
	if (f[4] - f[3] - 1 < 1 || f[4] - f[3] - 1 > 2)
		return false;
	for (size_t i = f[3]; i < n; i++) {
		int x = hexdigit(d[i], true);

		if (x < 0)
			return false;
		flags = flags * 16 + x;
	}
	*debug = (flags & 2) != 0;
	out->flags = (flags & 3) ? 1 : 0;
	out->remote = true;
	return true;
}

static void check_b3_jaeger(const uint8_t *v, size_t len)
{
	struct op_span_ctx got, want;
	bool ok, rok, debug = false, rdebug = false;

	memcpy(&got, sentinel, sizeof got);
	memset(&want, 0, sizeof want);
	ok = op_b3_parse((const char *)v, len, &got, &debug) == 0;
	rok = ref_b3(v, len, &want, &rdebug);
	FUZZ_CHECK(ok == rok, "b3 \"%s\": parser says %d", fz_show(v, len), ok);
	if (ok)
		FUZZ_CHECK(same_ids(&got, &want) && got.flags == want.flags && debug == rdebug && got.remote,
			   "b3 \"%s\" read wrong", fz_show(v, len));
	else
		FUZZ_CHECK(!memcmp(&got, sentinel, sizeof got), "rejected b3 changed the context");

	memcpy(&got, sentinel, sizeof got);
	memset(&want, 0, sizeof want);
	ok = op_jaeger_parse((const char *)v, len, &got, &debug) == 0;
	rok = ref_jaeger(v, len, &want, &rdebug);
	FUZZ_CHECK(ok == rok, "uber-trace-id \"%s\": parser says %d", fz_show(v, len), ok);
	if (ok)
		FUZZ_CHECK(same_ids(&got, &want) && got.flags == want.flags && debug == rdebug && got.remote,
			   "uber-trace-id \"%s\" read wrong", fz_show(v, len));
	else
		FUZZ_CHECK(!memcmp(&got, sentinel, sizeof got), "rejected uber-trace-id changed the context");
}

static void check_simple(const uint8_t *v, size_t len, size_t max)
{
	uint8_t id[16], want[16];
	bool ok, rok, printable = true;
	size_t commas = 0;

	for (size_t i = 0; i < len; i++) {
		printable &= v[i] >= 0x20 && v[i] <= 0x7e;
		commas += v[i] == ',';
	}
	FUZZ_CHECK(op_baggage_valid((const char *)v, len) ==
		   (len >= 1 && len <= OP_BAGGAGE_MAX_BYTES && printable && commas < OP_BAGGAGE_MAX_MEMBERS),
		   "baggage \"%s\"", fz_show(v, len));
	FUZZ_CHECK(op_header_value_ok((const char *)v, len, max) == (len >= 1 && len <= max && printable),
		   "header value \"%s\" (max %zu)", fz_show(v, len), max);
	FUZZ_CHECK(op_tracestate_valid((const char *)v, len) == ref_tracestate(v, len),
		   "tracestate \"%s\": parser says %d", fz_show(v, len),
		   op_tracestate_valid((const char *)v, len));

	ok = op_hex_trace_id((const char *)v, len, id) == 0;
	rok = (len == 16 || len == 32) && hex_right(v, len, true, want, 16);
	FUZZ_CHECK(ok == rok && (!ok || !memcmp(id, want, 16)), "x-b3-traceid \"%s\": %d",
		   fz_show(v, len), ok);
	ok = op_hex_span_id((const char *)v, len, id) == 0;
	rok = hex_right(v, len, true, want, 8);
	FUZZ_CHECK(ok == rok && (!ok || !memcmp(id, want, 8)), "span id \"%s\": %d", fz_show(v, len),
		   ok);
}

/* ---- the writer ----------------------------------------------------------- */

struct inherit {
	char *lines;           /* "name: value\r\n"... */
	size_t len;
	char names[32][24];
	bool present[32];      /* the outbound request has this one already */
	int n;
	unsigned has_mask;     /* traceparent, b3, x-b3-traceid, uber-trace-id present */
};

static const char *const own[] = { "traceparent", "b3", "x-b3-traceid", "uber-trace-id" };

static bool has(void *arg, const char *name, size_t nlen)
{
	struct inherit *in = arg;

	for (int i = 0; i < 4; i++)
		if (strlen(own[i]) == nlen && !memcmp(name, own[i], nlen))
			return (in->has_mask >> i) & 1;
	for (int i = 0; i < in->n; i++)
		if (strlen(in->names[i]) == nlen && !memcmp(name, in->names[i], nlen))
			return in->present[i];
	return false;
}

/* Header lines made from the input's lines: a token name and a printable value, as the engine forwards. */
static void build_inherit(struct inherit *in, struct fz *f)
{
	static const char tchars[] = "abcdefghijklmnopqrstuvwxyz0123456789-_.ABCXYZ!#$%&'*+^`|~";
	size_t cap = 0;

	in->lines = NULL;
	in->len = 0;
	in->n = 0;
	while (fz_left(f) && in->n < 32) {
		size_t len, nlen, need;
		const char *l = fz_field(f, '\n', &len);
		char *name = in->names[in->n], *grown;
		bool dup = false;

		nlen = len < 8 ? len : 8;
		if (nlen == 0)
			continue;
		for (size_t i = 0; i < nlen; i++)
			name[i] = tchars[(uint8_t)l[i] % (sizeof tchars - 1)];
		name[nlen] = '\0';
		for (int i = 0; i < in->n; i++)
			dup |= !strcmp(in->names[i], name);
		for (int i = 0; i < 4; i++)
			dup |= !strcmp(own[i], name);
		if (dup)
			continue;
		in->present[in->n] = (uint8_t)l[0] & 1;
		need = in->len + nlen + 2 + (len - nlen) + 3 + 1;
		if (need > cap) {
			cap = need * 2;
			if (!(grown = realloc(in->lines, cap)))
				abort();
			in->lines = grown;
		}
		in->len += (size_t)sprintf(in->lines + in->len, "%s: ", name);
		for (size_t i = nlen; i < len; i++)
			in->lines[in->len++] = (char)(0x20 + (uint8_t)l[i] % 0x5f);
		if (len == nlen)
			in->lines[in->len++] = 'v';
		memcpy(in->lines + in->len, "\r\n", 3);
		in->len += 2;
		in->n++;
	}
}

static void expect_bytes(char **p, const char *want, size_t n, size_t *left)
{
	FUZZ_CHECK(*left >= n && !memcmp(*p, want, n), "expected \"%s\", got \"%s\"", fz_show(want, n),
		   fz_show(*p, *left < n ? *left : n));
	*p += n;
	*left -= n;
}

static void expect_line(char **p, const char *want, size_t *left)
{
	expect_bytes(p, want, strlen(want), left);
}

/* Every format written for `ctx`, checked byte for byte, then read back. */
static void check_writer(const struct op_span_ctx *ctx, bool debug, struct inherit *in)
{
	char trace[33], span[17], want[256], *out, *p;
	bool sampled = ctx->flags & 1, zero_t = true, zero_s = true;
	uint32_t len = 0;
	size_t left;
	struct op_span_ctx back;
	bool d;

	op_cfg.propagator_bits = (1u << OP_PROP_TRACECONTEXT) | (1u << OP_PROP_BAGGAGE) |
				 (1u << OP_PROP_B3) | (1u << OP_PROP_B3MULTI) | (1u << OP_PROP_JAEGER);
	out = op_propagation_lines(ctx, debug, in->lines, has, in, &len);
	FUZZ_CHECK(out && strlen(out) == len, "op_propagation_lines: %p, length %u", (void *)out, len);
	hex(ctx->trace_id, 16, trace);
	hex(ctx->span_id, 8, span);
	for (int i = 0; i < 16; i++)
		zero_t &= ctx->trace_id[i] == 0;
	for (int i = 0; i < 8; i++)
		zero_s &= ctx->span_id[i] == 0;
	p = out;
	left = len;
	if (!(in->has_mask & 1)) {
		snprintf(want, sizeof want, "traceparent: 00-%s-%s-0%c\r\n", trace, span, sampled ? '1' : '0');
		expect_line(&p, want, &left);
		FUZZ_CHECK((op_traceparent_parse(want + 13, 55, &back) == 0) == (!zero_t && !zero_s),
			   "written traceparent %s", want);
	}
	if (!(in->has_mask & 2)) {
		snprintf(want, sizeof want, "b3: %s-%s-%s\r\n", trace, span, debug ? "d" : sampled ? "1" : "0");
		expect_line(&p, want, &left);
		if (!zero_t && !zero_s) {
			FUZZ_CHECK(op_b3_parse(want + 4, strlen(want) - 6, &back, &d) == 0 &&
				   same_ids(&back, ctx) && d == debug &&
				   (back.flags & 1) == (sampled || debug), "b3 %s does not read back", want);
		}
	}
	if (!(in->has_mask & 4)) {
		snprintf(want, sizeof want, "x-b3-traceid: %s\r\nx-b3-spanid: %s\r\n%s\r\n", trace, span,
			 debug ? "x-b3-flags: 1" : sampled ? "x-b3-sampled: 1" : "x-b3-sampled: 0");
		expect_line(&p, want, &left);
		if (!zero_t && !zero_s) {
			uint8_t t[16], s[8];

			FUZZ_CHECK(op_hex_trace_id(trace, 32, t) == 0 && !memcmp(t, ctx->trace_id, 16) &&
				   op_hex_span_id(span, 16, s) == 0 && !memcmp(s, ctx->span_id, 8),
				   "x-b3 ids do not read back");
		}
	}
	if (!(in->has_mask & 8)) {
		snprintf(want, sizeof want, "uber-trace-id: %s:%s:0:%d\r\n", trace, span,
			 debug ? 3 : sampled ? 1 : 0);
		expect_line(&p, want, &left);
		if (!zero_t && !zero_s) {
			FUZZ_CHECK(op_jaeger_parse(want + 15, strlen(want) - 17, &back, &d) == 0 &&
				   same_ids(&back, ctx) && d == debug && (back.flags & 1) == (sampled || debug),
				   "uber-trace-id %s does not read back", want);
		}
	}
	/* The serving request's lines, in order, without those the request has. */
	for (const char *l = in->lines; l && *l;) {
		const char *end = strstr(l, "\r\n");
		size_t nlen = (size_t)(strchr(l, ':') - l);

		if (!has(in, l, nlen))
			expect_bytes(&p, l, (size_t)(end + 2 - l), &left);
		l = end + 2;
	}
	FUZZ_CHECK(left == 0, "%zu unexpected bytes: \"%s\"", left, fz_show(p, left));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, data + size };
	uint8_t head[26] = { 0 };
	struct op_span_ctx ctx = { 0 }, got;
	struct inherit in;
	bool debug;

	/* Every reader on the whole input. */
	check_traceparent(data, size);
	check_b3_jaeger(data, size);
	check_simple(data, size, size ? data[0] : 0);

	/* Extract, inject, extract: each format that accepted the value, written back. */
	memset(&in, 0, sizeof in);
	if (op_traceparent_parse((const char *)data, size, &got) == 0)
		check_writer(&got, false, &in);
	if (op_b3_parse((const char *)data, size, &got, &debug) == 0)
		check_writer(&got, debug, &in);
	if (op_jaeger_parse((const char *)data, size, &got, &debug) == 0)
		check_writer(&got, debug, &in);

	/* A context from the input's bytes, with lines to pass on. */
	memcpy(head, data, size < sizeof head ? size : sizeof head);
	f.p += size < sizeof head ? size : sizeof head;
	memcpy(ctx.trace_id, head, 16);
	memcpy(ctx.span_id, head + 16, 8);
	ctx.flags = head[24];
	build_inherit(&in, &f);
	in.has_mask = head[25] & 15;
	check_writer(&ctx, (head[25] >> 4) & 1, &in);
	free(in.lines);
	return 0;
}
