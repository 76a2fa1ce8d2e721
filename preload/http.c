#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "op.h"

void op_http_init(struct op_http_parser *p, enum op_http_role role)
{
	memset(p, 0, sizeof *p);
	p->role = (uint8_t)role;
	p->state = OP_HTTP_START;
}

void op_http_free(struct op_http_parser *p)
{
	free(p->line);
	p->line = NULL;
	p->line_len = p->line_cap = 0;
	p->line_total = 0;
}

bool op_http_may_start(enum op_http_role role, unsigned char c)
{
	return role == OP_HTTP_REQUEST ? (c >= 'A' && c <= 'Z') : c == 'H';
}

bool op_http_name_eq(const char *s, const char *name, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char a = (unsigned char)s[i], b = (unsigned char)name[i];

		if (a >= 'A' && a <= 'Z')
			a += 'a' - 'A';
		if (b >= 'A' && b <= 'Z')
			b += 'a' - 'A';
		if (a != b)
			return false;
	}
	return true;
}

static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/*
 * ASCII upper-case letters of a word made lower case, all bytes at once:
 * a byte gets 0x20 when it is in 'A'..'Z' (bytes past 0x7f never change).
 */
static inline uint64_t fold8(uint64_t x)
{
	uint64_t low7 = x & 0x7f7f7f7f7f7f7f7full;
	uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3full;   /* bit 7: byte >= 'A' */
	uint64_t gt_z = low7 + 0x2525252525252525ull;   /* bit 7: byte > 'Z' */

	return x | ((ge_a & ~gt_z & ~x & 0x8080808080808080ull) >> 2);
}

static inline uint32_t fold4(uint32_t x)
{
	uint32_t low7 = x & 0x7f7f7f7fu;
	uint32_t ge_a = low7 + 0x3f3f3f3fu, gt_z = low7 + 0x25252525u;

	return x | ((ge_a & ~gt_z & ~x & 0x80808080u) >> 2);
}

/*
 * `s` (`len` bytes, any case) is `lit` (lower case, at least `len` bytes):
 * with a literal and a constant length, a few word compares.
 */
static inline bool lit_eq(const char *s, const char *lit, size_t len)
{
	uint64_t a, b;
	uint32_t c, d;

	if (len >= 8) {
		size_t i;

		for (i = 0; i + 8 <= len; i += 8) {
			memcpy(&a, s + i, 8);
			memcpy(&b, lit + i, 8);
			if (fold8(a) != b)
				return false;
		}
		if (i == len)
			return true;
		memcpy(&a, s + len - 8, 8);
		memcpy(&b, lit + len - 8, 8);
		return fold8(a) == b;
	}
	if (len >= 4) {
		memcpy(&c, s, 4);
		memcpy(&d, lit, 4);
		if (fold4(c) != d)
			return false;
		memcpy(&c, s + len - 4, 4);
		memcpy(&d, lit + len - 4, 4);
		return fold4(c) == d;
	}
	return op_http_name_eq(s, lit, len);
}

/* `s` is the lower-case literal `lit`, whose length `len` already matched. */
#define IS(lit) lit_eq(s, lit, sizeof lit - 1)

enum op_http_hdr op_http_header_id(const char *s, size_t len)
{
	unsigned char c0 = len ? lower((unsigned char)s[0]) : 0;

	switch (len) {
	case 2:
		if (c0 == 'b' && IS("b3"))
			return OP_HDR_B3;
		break;
	case 4:
		if (c0 == 'h' && IS("host"))
			return OP_HDR_HOST;
		break;
	case 7:
		if (c0 == 'b' && IS("baggage"))
			return OP_HDR_BAGGAGE;
		break;
	case 10:
		if (c0 == 'u' && IS("user-agent"))
			return OP_HDR_USER_AGENT;
		if (c0 == 't' && IS("tracestate"))
			return OP_HDR_TRACESTATE;
		if (c0 == 'x' && IS("x-b3-flags"))
			return OP_HDR_X_B3_FLAGS;
		break;
	case 11:
		if (c0 == 't' && IS("traceparent"))
			return OP_HDR_TRACEPARENT;
		if (c0 == 'x' && IS("x-b3-spanid"))
			return OP_HDR_X_B3_SPANID;
		break;
	case 12:
		if (c0 == 'x' && IS("x-b3-traceid"))
			return OP_HDR_X_B3_TRACEID;
		if (c0 == 'x' && IS("x-b3-sampled"))
			return OP_HDR_X_B3_SAMPLED;
		break;
	case 13:
		if (c0 == 'u' && IS("uber-trace-id"))
			return OP_HDR_UBER_TRACE_ID;
		break;
	case 14:
		if (c0 == 'c' && IS("content-length"))
			return OP_HDR_CONTENT_LENGTH;
		break;
	case 17:
		if (c0 == 't' && IS("transfer-encoding"))
			return OP_HDR_TRANSFER_ENCODING;
		if (c0 == 'x' && IS("x-b3-parentspanid"))
			return OP_HDR_X_B3_PARENTSPANID;
		break;
	default:
		break;
	}
	if (len > 8 && c0 == 'u' && lit_eq(s, "uberctx-", 8))
		return OP_HDR_UBERCTX;
	return OP_HDR_OTHER;
}
#undef IS

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c > ' ' && c < 0x7f && strchr("!#$%&'*+-.^_`|~", c));
}

#define ONES 0x0101010101010101ull

/* Some byte of the eight is <= ' ' or DEL: not a request-target byte (exact for "some"). */
static inline bool has_ctl_or_space(uint64_t x)
{
	uint64_t y = x ^ 0x7f * ONES;

	return (((x - 0x21 * ONES) & ~x) | ((y - ONES) & ~y)) & 0x80 * ONES;
}

/*
 * The target is what lies between the method's space and the " HTTP/1.x"
 * the line must end with; it must be at least one byte, none of them
 * white space, a control byte or DEL (bytes past 0x7f are let through).
 */
int op_http_parse_request_line(const char *line, size_t len, struct op_http_request_line *rl)
{
	size_t i = 0, t, e, k;

	while (i < len && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i >= len || line[i] != ' ')
		return -1;
	rl->method = line;
	rl->method_len = i;
	t = i + 1;
	if (len < t + 10)
		return -1;
	e = len - 9;
	if (line[e] != ' ' || memcmp(line + e + 1, "HTTP/1.", 7) ||
	    (line[len - 1] != '0' && line[len - 1] != '1'))
		return -1;
	if (e - t >= 8) {
		uint64_t x;

		/* Word by word, the last word overlapping the one before. */
		for (k = t; k + 8 <= e; k += 8) {
			memcpy(&x, line + k, 8);
			if (has_ctl_or_space(x))
				return -1;
		}
		memcpy(&x, line + e - 8, 8);
		if (has_ctl_or_space(x))
			return -1;
	} else {
		for (k = t; k < e; k++)
			if ((unsigned char)line[k] <= ' ' || line[k] == 0x7f)
				return -1;
	}
	rl->target = line + t;
	rl->target_len = e - t;
	rl->minor = line[len - 1];
	return 0;
}

int op_http_parse_status_line(const char *line, size_t len, char *minor)
{
	int code = 0;

	if (len < 12 || memcmp(line, "HTTP/1.", 7) || (line[7] != '0' && line[7] != '1') ||
	    line[8] != ' ')
		return -1;
	for (int i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return -1;
		code = code * 10 + (line[i] - '0');
	}
	if (len > 12 && line[12] != ' ')
		return -1;
	if (code < 100)
		return -1;
	*minor = line[7];
	return code;
}

/* Keeps up to OP_HTTP_LINE_MAX bytes of a line that continues in a later call. */
static void keep(struct op_http_parser *p, const char *s, size_t n)
{
	size_t room;

	p->line_total += n;
	if (p->line_len + n > p->line_cap && p->line_cap < OP_HTTP_LINE_MAX) {
		size_t cap = p->line_cap ? p->line_cap : 256;
		char *grown;

		while (cap < p->line_len + n && cap < OP_HTTP_LINE_MAX)
			cap *= 2;
		if (cap > OP_HTTP_LINE_MAX)
			cap = OP_HTTP_LINE_MAX;
		grown = realloc(p->line, cap);
		if (grown) {
			p->line = grown;
			p->line_cap = (uint32_t)cap;
		}
	}
	room = p->line_cap - p->line_len;
	if (n > room) {
		n = room;
		p->line_cut = true;
	}
	if (n) {
		memcpy(p->line + p->line_len, s, n);
		p->line_len += (uint32_t)n;
	}
}

static void message_end(struct op_http_parser *p, const struct op_http_cb *cb, void *arg)
{
	p->state = OP_HTTP_START;
	p->chunked = p->has_length = p->has_te = p->bad_length = false;
	p->remaining = 0;
	cb->on_message_end(arg);
}

/*
 * Transfer-Encoding: chunked is the final coding when present. The field
 * is a list whose empty elements are ignored (RFC 9110 5.6.1): "chunked, "
 * ends in chunked, and a line with no element leaves what earlier lines said.
 */
static void te_line(struct op_http_parser *p, const char *v, size_t len)
{
	size_t end = len;

	for (;;) {
		size_t start = end, l;
		const char *el;

		while (start > 0 && v[start - 1] != ',')
			start--;
		l = end - start;
		el = op_trim_ows(v + start, &l);
		if (l) {
			p->chunked = op_http_name_is(el, l, "chunked");
			return;
		}
		if (start == 0)
			return;
		end = start - 1;
	}
}

/* op_trim_ows, the length kept in a local rather than stored through the pointer at each step. */
static inline const char *trim(const char *s, size_t *lenp)
{
	size_t len = *lenp;

	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	*lenp = len;
	return s;
}

static void header_line(struct op_http_parser *p, const char *line, size_t len,
			const struct op_http_cb *cb, void *arg)
{
	const char *colon = memchr(line, ':', len), *v;
	size_t nlen, vlen;

	if (!colon)
		return;    /* not a field line: tolerated, ignored */
	nlen = (size_t)(colon - line);
	v = colon + 1;
	vlen = len - nlen - 1;
	v = trim(v, &vlen);
	p->hdr = (uint8_t)op_http_header_id(line, nlen);
	if (p->line_cut && (p->hdr == OP_HDR_TRANSFER_ENCODING || p->hdr == OP_HDR_CONTENT_LENGTH)) {
		/* A framing field not read whole (leading zeros, say): the framing is unknown. */
		p->state = OP_HTTP_DEAD;
		return;
	}
	if (p->hdr == OP_HDR_TRANSFER_ENCODING) {
		p->has_te = true;
		te_line(p, v, vlen);
	} else if (p->hdr == OP_HDR_CONTENT_LENGTH) {
		uint64_t n = 0;
		size_t i;

		for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9' && n < (UINT64_MAX - 9) / 10; i++)
			n = n * 10 + (uint64_t)(v[i] - '0');
		/*
		 * RFC 9112 6.3: a value that is not a number, or a second one that
		 * differs, leaves the framing unknown. (A repeated equal value is fine.)
		 */
		if (i != vlen || vlen == 0 || (p->has_length && n != p->remaining)) {
			p->bad_length = true;
		} else {
			p->has_length = true;
			p->remaining = n;
		}
	}
	cb->on_header(arg, line, nlen, v, vlen);
}

static void head_end(struct op_http_parser *p, const struct op_http_cb *cb, void *arg)
{
	enum op_http_body body = cb->on_head_end(arg);

	if (body == OP_HTTP_BODY_UPGRADE) {
		p->state = OP_HTTP_DEAD;
	} else if (body == OP_HTTP_BODY_NONE) {
		message_end(p, cb, arg);
	} else if (p->chunked) {
		p->state = OP_HTTP_CHUNK_SIZE;
		p->remaining = 0;
	} else if (p->has_te) {
		/*
		 * RFC 9112 6.3: Transfer-Encoding overrides Content-Length; without
		 * chunked last, a response runs to the connection's end and a
		 * request cannot be framed at all.
		 */
		p->state = p->role == OP_HTTP_RESPONSE ? OP_HTTP_BODY_CLOSE : OP_HTTP_DEAD;
	} else if (p->bad_length) {
		p->state = OP_HTTP_DEAD;
	} else if (p->has_length && p->remaining > 0) {
		p->state = OP_HTTP_BODY_LENGTH;
	} else if (p->has_length || p->role == OP_HTTP_REQUEST) {
		message_end(p, cb, arg);
	} else {
		p->state = OP_HTTP_BODY_CLOSE;
	}
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void line_done(struct op_http_parser *p, const char *line, size_t len,
		      const struct op_http_cb *cb, void *arg)
{
	uint64_t size = 0;
	size_t i;
	int h;

	if (len && line[len - 1] == '\r')
		len--;
	switch (p->state) {
	case OP_HTTP_LINE:
		p->chunked = p->has_length = p->has_te = p->bad_length = false;
		p->remaining = 0;
		if (cb->on_start(arg, line, len) < 0)
			p->state = OP_HTTP_DEAD;
		else
			p->state = OP_HTTP_HEADERS;
		break;
	case OP_HTTP_HEADERS:
		if (len == 0)
			head_end(p, cb, arg);
		else
			header_line(p, line, len, cb, arg);
		break;
	case OP_HTTP_CHUNK_SIZE:
		for (i = 0; i < len && (h = hexval(line[i])) >= 0; i++) {
			if (size >> 59) {
				p->state = OP_HTTP_DEAD;
				return;
			}
			size = size * 16 + (uint64_t)h;
		}
		/* A size cut at OP_HTTP_LINE_MAX (leading zeros) may miss digits. */
		if (i == 0 || (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t') ||
		    (i == len && p->line_cut)) {
			p->state = OP_HTTP_DEAD;
			return;
		}
		if (size == 0) {
			p->state = OP_HTTP_TRAILERS;
		} else {
			p->remaining = size;
			p->state = OP_HTTP_CHUNK_DATA;
		}
		break;
	case OP_HTTP_CHUNK_CRLF:
		p->state = len == 0 ? OP_HTTP_CHUNK_SIZE : OP_HTTP_DEAD;
		break;
	case OP_HTTP_TRAILERS:
		if (len == 0)
			message_end(p, cb, arg);
		break;
	default:
		break;
	}
}

void op_http_feed(struct op_http_parser *p, const char *buf, size_t n,
		  const struct op_http_cb *cb, void *arg)
{
	uint64_t base = p->pos;
	size_t i = 0;

	/* Whatever happens below, these bytes count as followed. */
	p->pos = base + n;
	while (i < n) {
		const char *nl, *line;
		size_t take, line_len;

		switch (p->state) {
		case OP_HTTP_DEAD:
		case OP_HTTP_BODY_CLOSE:
			return;
		case OP_HTTP_START:
			/* RFC 9112 2.2: empty lines before a request line are ignored. */
			while (i < n && (buf[i] == '\r' || buf[i] == '\n'))
				i++;
			if (i == n)
				return;
			if (!op_http_may_start((enum op_http_role)p->role, (unsigned char)buf[i])) {
				p->state = OP_HTTP_DEAD;
				return;
			}
			p->state = OP_HTTP_LINE;
			break;
		case OP_HTTP_BODY_LENGTH:
		case OP_HTTP_CHUNK_DATA:
			take = n - i < p->remaining ? n - i : (size_t)p->remaining;
			i += take;
			p->remaining -= take;
			if (p->remaining == 0) {
				if (p->state == OP_HTTP_CHUNK_DATA) {
					p->state = OP_HTTP_CHUNK_CRLF;
				} else {
					p->pos = base + i;
					message_end(p, cb, arg);
					p->pos = base + n;
				}
			}
			break;
		default:
			nl = memchr(buf + i, '\n', n - i);
			if (!nl) {
				keep(p, buf + i, n - i);
				return;
			}
			take = (size_t)(nl - (buf + i));
			p->pos = base + i + take + 1;
			p->line_pos = base + i - p->line_total;
			line = buf + i;
			line_len = take;
			if (p->line_total) {
				keep(p, buf + i, take);
				line = p->line;
				line_len = p->line_len;
			} else if (take > OP_HTTP_LINE_MAX) {
				/* Cut here too, so a line reads the same however it was split. */
				p->line_cut = true;
				line_len = OP_HTTP_LINE_MAX;
			}
			/* One call site: the compiler inlines it into this loop. */
			line_done(p, line, line_len, cb, arg);
			p->line_total = 0;
			p->line_len = 0;
			p->line_cut = false;
			i += take + 1;
			p->pos = base + n;
			break;
		}
	}
}

void op_http_skip(struct op_http_parser *p, size_t n, const struct op_http_cb *cb, void *arg)
{
	p->pos += n;
	while (n > 0) {
		size_t take;

		switch (p->state) {
		case OP_HTTP_BODY_CLOSE:
		case OP_HTTP_DEAD:
			return;
		case OP_HTTP_BODY_LENGTH:
		case OP_HTTP_CHUNK_DATA:
			take = n < p->remaining ? n : (size_t)p->remaining;
			n -= take;
			p->remaining -= take;
			if (p->remaining == 0) {
				if (p->state == OP_HTTP_CHUNK_DATA)
					p->state = OP_HTTP_CHUNK_CRLF;
				else
					message_end(p, cb, arg);
			}
			/* What follows a skipped body would have to be shown. */
			if (n > 0)
				p->state = OP_HTTP_DEAD;
			return;
		default:
			p->state = OP_HTTP_DEAD;
			return;
		}
	}
}

bool op_http_eof(struct op_http_parser *p, const struct op_http_cb *cb, void *arg)
{
	if (p->state == OP_HTTP_BODY_CLOSE) {
		message_end(p, cb, arg);
		p->state = OP_HTTP_DEAD;
		return true;
	}
	return op_http_idle(p);
}
