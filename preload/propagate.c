#include <string.h>

#include "propagate.h"

static int lowerhex(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* `n` lower-case hex digits into n/2 bytes; -1 on a bad digit or all zeros. */
static int hex_field(const char *s, size_t n, uint8_t *out)
{
	uint8_t any = 0;

	for (size_t i = 0; i < n; i += 2) {
		int hi = lowerhex(s[i]), lo = lowerhex(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
		any |= out[i / 2];
	}
	return any ? 0 : -1;
}

int op_traceparent_parse(const char *v, size_t len, struct op_span_ctx *ctx)
{
	struct op_span_ctx out;
	int vh, vl, fh, fl;

	/* Optional whitespace around the value is not part of it. */
	while (len && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
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
	static const char digits[] = "0123456789abcdef";
	char *o = out;

	*o++ = '0';
	*o++ = '0';
	*o++ = '-';
	for (int i = 0; i < 16; i++) {
		*o++ = digits[ctx->trace_id[i] >> 4];
		*o++ = digits[ctx->trace_id[i] & 15];
	}
	*o++ = '-';
	for (int i = 0; i < 8; i++) {
		*o++ = digits[ctx->span_id[i] >> 4];
		*o++ = digits[ctx->span_id[i] & 15];
	}
	*o++ = '-';
	*o++ = '0';
	*o++ = (ctx->flags & OP_TRACE_FLAG_SAMPLED) ? '1' : '0';
	*o = '\0';
}

int op_tracestate_valid(const char *v, size_t len)
{
	if (len == 0 || len > OP_TRACESTATE_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return 0;
	return 1;
}
