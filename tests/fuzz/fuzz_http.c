/*
 * The HTTP/1.x scanner (preload/http.c) on arbitrary byte streams.
 *
 * Input: one flags byte, a four-byte seed, then the stream. The stream is
 * fed four ways: in one call, one byte per call, in pieces whose sizes the
 * seed draws, and in such pieces again with body bytes passed to
 * op_http_skip() (sendfile) instead of shown. Every callback is logged
 * with the parser's offsets, and the four logs must be the same: however
 * the stream is cut, the scanner reports the same lines at the same
 * offsets. Each callback is checked against the stream (the line it gets
 * is the one at line_pos, a header value lies at line_pos + (value - name)
 * unless the line was cut, as the engine relies on when it replaces a
 * traceparent), the parser's fields are checked after every call, and
 * where each message ends is checked against a framing model written here
 * from RFC 9112 (6.3, 7.1) over the raw stream, so a line cut at
 * OP_HTTP_LINE_MAX cannot hide a miscount.
 *
 * flags: bit 0 response role; bits 1-2 how on_head_end answers (0 as the
 * engine does, 1 a pattern drawn from the seed, 2-3 always FRAMED); bit 3
 * on_start takes any line (framing is then reached without a valid start
 * line); bit 4 the skip run may also skip past a body, which must kill the
 * scanner; bit 5 op_http_eof() at the end.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/http.h"

#include "fuzz.h"

enum { OUT_NONE, OUT_END_AT, OUT_CLOSE, OUT_DEAD, OUT_INCOMPLETE };

static const char *const outcome_names[] = { "none", "end", "close", "dead", "incomplete" };

/* Where the model says the message whose head just ended stops. */
struct outcome {
	int kind;
	uint64_t at;            /* OUT_END_AT: stream offset just past the message */
	bool may_die;           /* the scanner may give up instead (a bound of its own) */
};

struct run {
	struct op_http_parser p;
	const uint8_t *s;       /* the whole stream */
	size_t n;
	size_t fed;             /* bytes given to the parser so far (shown or skipped) */
	uint8_t flags;
	uint32_t seed;
	unsigned messages;      /* heads ended so far */
	int status;             /* response: the current status code */
	bool over;              /* on_start refused or upgrade: no callback may follow */
	bool skip_past;         /* inside a skip past the body: pos is past the message */
	uint64_t last_end;      /* where the last message ended */
	/* What the current head's framing fields say, read from the raw stream. */
	bool te, te_chunked, cl, cl_bad, framing_cut, cl_huge;
	uint64_t cl_value;
	struct outcome want;
	bool want_open;         /* `want` not yet settled by a message end */
	/* The callback log. */
	uint8_t *log;
	size_t len, cap;
};

static void put(struct run *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		while (r->len + n > r->cap)
			r->cap = r->cap ? r->cap * 2 : 4096;
		r->log = realloc(r->log, r->cap);
		if (!r->log)
			abort();
	}
	memcpy(r->log + r->len, p, n);
	r->len += n;
}

static void put64(struct run *r, uint64_t v)
{
	put(r, &v, sizeof v);
}

static bool ieq(const uint8_t *s, size_t len, const char *name)
{
	size_t n = strlen(name);

	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int c = s[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != name[i])
			return false;
	}
	return true;
}

static bool ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* A line of the stream that ends at `nl` (its '\n'), without the '\n' and one '\r'. */
static size_t raw_line(const struct run *r, uint64_t from, uint64_t nl)
{
	size_t len = (size_t)(nl - from);

	if (len && r->s[from + len - 1] == '\r')
		len--;
	return len;
}

/*
 * The line a callback is given for the line that ends at `pos` - 1: the
 * bytes from line_pos, at most OP_HTTP_LINE_MAX of them (line_cut when
 * there were more), without a last '\r'. Checks the parser's offsets and
 * returns that length.
 */
static size_t check_line(struct run *r, const char *line, const char *what)
{
	uint64_t pos = r->p.pos, lp = r->p.line_pos;
	size_t raw, len;

	FUZZ_CHECK(!r->over, "%s after the scanner was told to stop", what);
	FUZZ_CHECK(pos >= 1 && pos <= r->fed && lp < pos, "%s: pos %llu line_pos %llu fed %zu", what,
		   (unsigned long long)pos, (unsigned long long)lp, r->fed);
	FUZZ_CHECK(r->s[pos - 1] == '\n', "%s: pos %llu is not past a newline", what,
		   (unsigned long long)pos);
	raw = (size_t)(pos - 1 - lp);
	FUZZ_CHECK(memchr(r->s + lp, '\n', raw) == NULL, "%s: line_pos %llu is not a line start",
		   what, (unsigned long long)lp);
	if (what[0] == 's') {
		/* A start line: only CR and LF between the previous message and it. */
		FUZZ_CHECK(lp >= r->last_end, "start line at %llu inside the message ending at %llu",
			   (unsigned long long)lp, (unsigned long long)r->last_end);
		for (uint64_t i = r->last_end; i < lp; i++)
			FUZZ_CHECK(r->s[i] == '\r' || r->s[i] == '\n',
				   "start line at %llu after 0x%02x at %llu", (unsigned long long)lp,
				   r->s[i], (unsigned long long)i);
	} else {
		FUZZ_CHECK(lp > 0 && r->s[lp - 1] == '\n', "header line at %llu after no newline",
			   (unsigned long long)lp);
	}
	FUZZ_CHECK(r->p.line_cut == (raw > OP_HTTP_LINE_MAX), "%s: line of %zu bytes, line_cut %d",
		   what, raw, r->p.line_cut);
	len = raw > OP_HTTP_LINE_MAX ? OP_HTTP_LINE_MAX : raw;
	if (len && r->s[lp + len - 1] == '\r')
		len--;
	FUZZ_CHECK(!memcmp(line, r->s + lp, len), "%s: got \"%s\", the stream has \"%s\" at %llu",
		   what, fz_show(line, len), fz_show(r->s + lp, len), (unsigned long long)lp);
	return len;
}

/* RFC 9112 3: method SP request-target SP HTTP-version, as a separate reading. */
static bool request_line_ok(const char *l, size_t len)
{
	static const char tspecial[] = "!#$%&'*+-.^_`|~";
	size_t i = 0, t;

	while (i < len && ((l[i] >= 'a' && l[i] <= 'z') || (l[i] >= 'A' && l[i] <= 'Z') ||
			   (l[i] >= '0' && l[i] <= '9') || (l[i] && strchr(tspecial, l[i]))))
		i++;
	if (i == 0 || i == len || l[i] != ' ')
		return false;
	t = ++i;
	while (i < len && (unsigned char)l[i] > ' ' && l[i] != 0x7f)
		i++;
	if (i == t || i == len || l[i] != ' ')
		return false;
	i++;
	return len - i == 8 && !memcmp(l + i, "HTTP/1.", 7) && (l[i + 7] == '0' || l[i + 7] == '1');
}

static int on_start(void *arg, const char *line, size_t len)
{
	struct run *r = arg;
	uint8_t tag = 'S';
	int rc = 0;

	FUZZ_CHECK(check_line(r, line, "start line") == len, "start line of %zu bytes", len);
	FUZZ_CHECK(!r->want_open, "a start line at %llu before the previous message ended (%s)",
		   (unsigned long long)r->p.line_pos, outcome_names[r->want.kind]);
	FUZZ_CHECK(op_http_may_start((enum op_http_role)r->p.role, (unsigned char)line[0]),
		   "start line begins with 0x%02x", (unsigned char)line[0]);
	r->te = r->te_chunked = r->cl = r->cl_bad = r->framing_cut = r->cl_huge = false;
	r->cl_value = 0;
	r->status = 0;
	if (r->p.role == OP_HTTP_REQUEST) {
		struct op_http_request_line rl;
		bool ok = op_http_parse_request_line(line, len, &rl) == 0;

		FUZZ_CHECK(ok == request_line_ok(line, len), "request line \"%s\": parser says %d",
			   fz_show(line, len), ok);
		if (ok) {
			FUZZ_CHECK(rl.method == line && rl.target == line + rl.method_len + 1 &&
				   rl.method_len + rl.target_len + 10 == len &&
				   rl.minor == line[len - 1], "request line parts of \"%s\"",
				   fz_show(line, len));
		}
		rc = ok ? 0 : -1;
	} else {
		char minor = 0;
		int code = op_http_parse_status_line(line, len, &minor);
		bool ok = len >= 12 && !memcmp(line, "HTTP/1.", 7) && (line[7] == '0' || line[7] == '1') &&
			  line[8] == ' ' && line[9] >= '1' && line[9] <= '9' && line[10] >= '0' &&
			  line[10] <= '9' && line[11] >= '0' && line[11] <= '9' &&
			  (len == 12 || line[12] == ' ');

		FUZZ_CHECK(ok == (code >= 0), "status line \"%s\": parser says %d", fz_show(line, len),
			   code);
		if (ok) {
			FUZZ_CHECK(code == (line[9] - '0') * 100 + (line[10] - '0') * 10 + line[11] - '0' &&
				   minor == line[7], "status line \"%s\" read as %d", fz_show(line, len), code);
			r->status = code;
		}
		rc = ok ? 0 : -1;
	}
	if (r->flags & 8)
		rc = 0;
	if (rc < 0)
		r->over = true;
	put(r, &tag, 1);
	put64(r, r->p.pos);
	put64(r, r->p.line_pos);
	put(r, &r->p.line_cut, 1);
	put64(r, len);
	put(r, line, len);
	return rc;
}

/*
 * The head's framing fields, read from the raw line in the stream (a cut
 * line's value is not what the peer will act on).
 */
static void model_header(struct run *r)
{
	uint64_t lp = r->p.line_pos;
	size_t len = raw_line(r, lp, r->p.pos - 1), nlen, vlen;
	const uint8_t *line = r->s + lp, *colon = memchr(line, ':', len), *v;

	if (!colon)
		return;
	nlen = (size_t)(colon - line);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen && ows(v[0]))
		v++, vlen--;
	while (vlen && ows(v[vlen - 1]))
		vlen--;
	if (ieq(line, nlen, "transfer-encoding")) {
		/* RFC 9110 5.6.1: a list; empty elements are ignored; the last coding is the final one. */
		const uint8_t *e = v + vlen, *el = v;

		r->te = true;
		r->framing_cut |= r->p.line_cut;
		while (el <= e) {
			const uint8_t *c = memchr(el, ',', (size_t)(e - el)), *t = c ? c : e, *b0 = el;

			while (b0 < t && ows(*b0))
				b0++;
			while (t > b0 && ows(t[-1]))
				t--;
			if (t > b0)
				r->te_chunked = ieq(b0, (size_t)(t - b0), "chunked");
			if (!c)
				break;
			el = c + 1;
		}
	} else if (ieq(line, nlen, "content-length")) {
		uint64_t n = 0;
		size_t i, sig = 0;

		r->framing_cut |= r->p.line_cut;
		for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9'; i++) {
			if (sig || v[i] != '0')
				sig++;
			if (sig <= 18)
				n = n * 10 + (uint64_t)(v[i] - '0');
		}
		if (i != vlen || vlen == 0) {
			r->cl_bad = true;
		} else if (sig > 18) {
			r->cl_huge = true;     /* beyond any stream: the scanner may refuse it */
		} else if (r->cl && n != r->cl_value) {
			r->cl_bad = true;
		} else {
			r->cl = true;
			r->cl_value = n;
		}
	}
}

static void on_header(void *arg, const char *name, size_t nlen, const char *v, size_t vlen)
{
	struct run *r = arg;
	uint64_t lp = r->p.line_pos;
	uint8_t tag = 'H';
	uint64_t voff = (uint64_t)(v - name);
	/* The parser hands over the line itself as `name`. */
	size_t len = check_line(r, name, "header");

	FUZZ_CHECK(nlen < len && name[nlen] == ':' && !memchr(name, ':', nlen),
		   "header name of %zu bytes in \"%s\"", nlen, fz_show(name, len));
	FUZZ_CHECK(v >= name + nlen + 1 && v + vlen <= name + len, "header value outside its line");
	FUZZ_CHECK(vlen == 0 || (!ows((uint8_t)v[0]) && !ows((uint8_t)v[vlen - 1])),
		   "header value \"%s\" not trimmed", fz_show(v, vlen));
	for (const char *c = name + nlen + 1; c < v; c++)
		FUZZ_CHECK(ows((uint8_t)*c), "value of \"%s\" starts late", fz_show(name, len));
	for (const char *c = v + vlen; c < name + len; c++)
		FUZZ_CHECK(ows((uint8_t)*c), "value of \"%s\" ends early", fz_show(name, len));
	if (!r->p.line_cut)
		FUZZ_CHECK(!memcmp(r->s + lp + voff, v, vlen),
			   "value \"%s\" is not at line_pos + %llu", fz_show(v, vlen),
			   (unsigned long long)voff);
	model_header(r);
	put(r, &tag, 1);
	put64(r, r->p.pos);
	put64(r, lp);
	put(r, &r->p.line_cut, 1);
	put64(r, nlen);
	put(r, name, nlen);
	put64(r, voff);
	put64(r, vlen);
	put(r, v, vlen);
}

/*
 * Where a chunked body starting at `at` ends (RFC 9112 7.1), or why it
 * does not. A chunk-size line longer than OP_HTTP_LINE_MAX may make the
 * scanner give up (may_die): it keeps no more of a line than that.
 */
static struct outcome model_chunked(const struct run *r, uint64_t at)
{
	const uint8_t *s = r->s;
	size_t n = r->n;
	bool may_die = false;

#define OUTCOME(k, a) return (struct outcome){ (k), (a), may_die }
	for (;;) {
		const uint8_t *nl = at < n ? memchr(s + at, '\n', n - at) : NULL;
		uint64_t size = 0, end;
		size_t len, i, sig = 0;

		if (!nl)
			OUTCOME(OUT_INCOMPLETE, 0);
		end = (uint64_t)(nl - s);
		len = raw_line(r, at, end);
		if (end - at > OP_HTTP_LINE_MAX)
			may_die = true;
		for (i = 0; i < len; i++) {
			uint8_t c = s[at + i];
			int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

			if (d < 0)
				break;
			if (sig || d)
				sig++;
			if (sig <= 14)
				size = size * 16 + (uint64_t)d;
		}
		if (i == 0 || (i < len && s[at + i] != ';' && !ows(s[at + i])))
			OUTCOME(OUT_DEAD, 0);
		at = end + 1;
		if (sig > 14) {
			/* Larger than any stream: incomplete, unless the scanner refuses such a size. */
			may_die = true;
			OUTCOME(OUT_INCOMPLETE, 0);
		}
		if (size == 0) {
			/* Trailer section: lines up to an empty one. */
			for (;;) {
				nl = at < n ? memchr(s + at, '\n', n - at) : NULL;
				if (!nl)
					OUTCOME(OUT_INCOMPLETE, 0);
				end = (uint64_t)(nl - s);
				len = raw_line(r, at, end);
				at = end + 1;
				if (len == 0)
					OUTCOME(OUT_END_AT, at);
			}
		}
		if (at + size > n)
			OUTCOME(OUT_INCOMPLETE, 0);
		at += size;
		nl = at < n ? memchr(s + at, '\n', n - at) : NULL;
		if (!nl)
			OUTCOME(OUT_INCOMPLETE, 0);
		end = (uint64_t)(nl - s);
		if (raw_line(r, at, end) != 0)
			OUTCOME(OUT_DEAD, 0);
		at = end + 1;
	}
#undef OUTCOME
}

/* RFC 9112 6.3, for the head that ended at `h` with the caller's answer `body`. */
static struct outcome model_framing(const struct run *r, uint64_t h, enum op_http_body body)
{
	struct outcome o = { OUT_DEAD, 0, false };

	if (body == OP_HTTP_BODY_UPGRADE)
		return o;
	if (body == OP_HTTP_BODY_NONE)
		return (struct outcome){ OUT_END_AT, h, false };
	if (r->te) {
		if (r->te_chunked)
			o = model_chunked(r, h);
		else if (r->p.role == OP_HTTP_RESPONSE)
			o.kind = OUT_CLOSE;
		else
			o.kind = OUT_DEAD;
	} else if (r->cl_bad) {
		o.kind = OUT_DEAD;
	} else if (r->cl_huge) {
		o.kind = OUT_INCOMPLETE;
		o.may_die = true;
	} else if (r->cl) {
		if (h + r->cl_value <= r->n)
			o = (struct outcome){ OUT_END_AT, h + r->cl_value, false };
		else
			o.kind = OUT_INCOMPLETE;
	} else if (r->p.role == OP_HTTP_REQUEST) {
		o = (struct outcome){ OUT_END_AT, h, false };
	} else {
		o.kind = OUT_CLOSE;
	}
	/* A framing field cut at OP_HTTP_LINE_MAX was not read whole: giving up is right. */
	if (r->framing_cut)
		o.may_die = true;
	return o;
}

static enum op_http_body decide(struct run *r)
{
	unsigned i = r->messages;

	switch ((r->flags >> 1) & 3) {
	case 0:
		/* As the engine: requests are framed; 101 upgrades; HEAD, 1xx, 204, 304 have no body. */
		if (r->p.role == OP_HTTP_REQUEST)
			return OP_HTTP_BODY_FRAMED;
		if (r->status == 101)
			return OP_HTTP_BODY_UPGRADE;
		if (r->status < 200 || r->status == 204 || r->status == 304 || ((r->seed >> (i % 32)) & 1))
			return OP_HTTP_BODY_NONE;
		return OP_HTTP_BODY_FRAMED;
	case 1:
		switch ((r->seed >> (2 * (i % 16))) & 3) {
		case 2:
			return OP_HTTP_BODY_NONE;
		case 3:
			return OP_HTTP_BODY_UPGRADE;
		default:
			return OP_HTTP_BODY_FRAMED;
		}
	default:
		return OP_HTTP_BODY_FRAMED;
	}
}

static enum op_http_body on_head_end(void *arg)
{
	struct run *r = arg;
	uint8_t tag = 'E';
	enum op_http_body body;

	FUZZ_CHECK(!r->over, "head end after the scanner was told to stop");
	FUZZ_CHECK(r->p.state == OP_HTTP_HEADERS, "head end in state %d", r->p.state);
	FUZZ_CHECK(r->p.pos >= 1 && r->p.pos <= r->fed && r->s[r->p.pos - 1] == '\n',
		   "head end at %llu", (unsigned long long)r->p.pos);
	body = decide(r);
	r->messages++;
	r->want = model_framing(r, r->p.pos, body);
	r->want_open = true;
	if (body == OP_HTTP_BODY_UPGRADE)
		r->over = true;
	put(r, &tag, 1);
	put64(r, r->p.pos);
	put(r, &body, sizeof body);
	return body;
}

static void on_message_end(void *arg)
{
	struct run *r = arg;
	uint8_t tag = 'M';

	FUZZ_CHECK(!r->over, "message end after the scanner was told to stop");
	FUZZ_CHECK(r->want_open, "message end at %llu without a head", (unsigned long long)r->p.pos);
	FUZZ_CHECK(r->p.pos <= r->fed, "message end at %llu past %zu", (unsigned long long)r->p.pos,
		   r->fed);
	if (r->skip_past)
		FUZZ_CHECK(r->want.kind == OUT_END_AT && r->want.at < r->p.pos,
			   "a skip past the body ended the message at %llu, the model says %s at %llu",
			   (unsigned long long)r->p.pos, outcome_names[r->want.kind],
			   (unsigned long long)r->want.at);
	else if (r->want.kind == OUT_CLOSE)
		FUZZ_CHECK(r->p.pos == r->n && r->fed == r->n,
			   "close-delimited message ended at %llu of %zu", (unsigned long long)r->p.pos,
			   r->n);
	else
		FUZZ_CHECK(r->want.kind == OUT_END_AT && r->want.at == r->p.pos,
			   "message ended at %llu; the model says %s at %llu", (unsigned long long)r->p.pos,
			   outcome_names[r->want.kind], (unsigned long long)r->want.at);
	r->want_open = false;
	r->last_end = r->p.pos;
	put(r, &tag, 1);
	put64(r, r->p.pos);
}

static const struct op_http_cb cb = {
	.on_start = on_start,
	.on_header = on_header,
	.on_head_end = on_head_end,
	.on_message_end = on_message_end,
};

/* The parser's own fields, between calls. */
static void check_parser(const struct run *r)
{
	const struct op_http_parser *p = &r->p;

	FUZZ_CHECK(p->pos == r->fed, "pos %llu after %zu bytes", (unsigned long long)p->pos, r->fed);
	FUZZ_CHECK(p->state <= OP_HTTP_DEAD, "state %d", p->state);
	FUZZ_CHECK(p->line_len <= p->line_cap && p->line_cap <= OP_HTTP_LINE_MAX &&
		   p->line_len <= p->line_total, "line_len %u cap %u total %llu", p->line_len,
		   p->line_cap, (unsigned long long)p->line_total);
	switch (p->state) {
	case OP_HTTP_START:
		FUZZ_CHECK(!p->chunked && !p->has_length && !p->has_te && !p->bad_length &&
			   p->remaining == 0, "START with framing left over");
		break;
	case OP_HTTP_BODY_LENGTH:
	case OP_HTTP_CHUNK_DATA:
		FUZZ_CHECK(p->remaining > 0, "state %d with nothing remaining", p->state);
		/* fall through */
	case OP_HTTP_BODY_CLOSE:
		FUZZ_CHECK(p->line_total == 0, "a partial line in body state %d", p->state);
		break;
	default:
		break;
	}
	if (p->state >= OP_HTTP_CHUNK_SIZE && p->state <= OP_HTTP_TRAILERS)
		FUZZ_CHECK(p->chunked, "chunk state %d without chunked", p->state);
	if (r->want_open && r->want.kind == OUT_END_AT && r->want.at > r->fed && p->state != OP_HTTP_DEAD &&
	    p->state == OP_HTTP_BODY_LENGTH)
		FUZZ_CHECK(p->remaining == r->want.at - r->fed, "%llu body bytes left, the model says %llu",
			   (unsigned long long)p->remaining,
			   (unsigned long long)(r->want.at - r->fed));
}

/* The end of a run: what is left open must be what the model expects. */
static void check_end(struct run *r)
{
	const struct op_http_parser *p = &r->p;

	if (r->over) {
		FUZZ_CHECK(p->state == OP_HTTP_DEAD, "told to stop, state %d", p->state);
		return;
	}
	if (!r->want_open)
		return;
	if (p->state == OP_HTTP_DEAD) {
		FUZZ_CHECK(r->want.kind == OUT_DEAD || r->want.may_die,
			   "the scanner gave up on a message the model frames as %s at %llu",
			   outcome_names[r->want.kind], (unsigned long long)r->want.at);
		return;
	}
	FUZZ_CHECK(r->want.kind != OUT_DEAD, "the scanner follows a message that cannot be framed (state %d)",
		   p->state);
	FUZZ_CHECK(r->want.kind != OUT_END_AT, "the message the model ends at %llu is still open (state %d)",
		   (unsigned long long)r->want.at, p->state);
	if (r->want.kind == OUT_CLOSE)
		FUZZ_CHECK(p->state == OP_HTTP_BODY_CLOSE, "close-delimited body in state %d", p->state);
	else
		FUZZ_CHECK(p->state != OP_HTTP_BODY_CLOSE && p->state != OP_HTTP_START,
			   "incomplete body in state %d", p->state);
}

static void finish(struct run *r)
{
	check_end(r);
	if (r->flags & 0x20) {
		bool idle = op_http_idle(&r->p), close = r->p.state == OP_HTTP_BODY_CLOSE;
		bool done = op_http_eof(&r->p, &cb, r);
		uint8_t tag = 'F';

		FUZZ_CHECK(done == (idle || close), "eof says %d (idle %d, close-delimited %d)", done,
			   idle, close);
		FUZZ_CHECK(!close || r->p.state == OP_HTTP_DEAD, "eof left state %d", r->p.state);
		put(r, &tag, 1);
		put(r, &done, 1);
	}
}

static void run_init(struct run *r, const uint8_t *s, size_t n, uint8_t flags, uint32_t seed)
{
	memset(r, 0, sizeof *r);
	op_http_init(&r->p, flags & 1 ? OP_HTTP_RESPONSE : OP_HTTP_REQUEST);
	r->s = s;
	r->n = n;
	r->flags = flags;
	r->seed = seed;
}

static void feed(struct run *r, size_t len)
{
	r->fed += len;
	op_http_feed(&r->p, (const char *)r->s + r->fed - len, len, &cb, r);
	check_parser(r);
}

/* Piece sizes: mostly small, sometimes large, from the seed. */
static size_t piece(uint32_t *st, size_t left)
{
	uint32_t x = fz_rand(st);
	size_t len = (x & 3) == 0 ? (x >> 2) % 4096 + 1 : (x >> 2) % 24 + 1;

	return len < left ? len : left;
}

static void compare(const struct run *a, const struct run *b, const char *how)
{
	size_t i = 0;

	if (a->len == b->len && (a->len == 0 || !memcmp(a->log, b->log, a->len)))
		return;
	while (i < a->len && i < b->len && a->log[i] == b->log[i])
		i++;
	FUZZ_CHECK(0, "fed %s, the callbacks differ from one call's at log byte %zu of %zu/%zu", how, i,
		   a->len, b->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, data + size };
	uint8_t flags = fz_u8(&f);
	uint32_t seed = fz_u32(&f), st;
	const uint8_t *s = f.p;
	size_t n = fz_left(&f);
	/* The runs are static: their logs keep their memory from input to input. */
	static struct run whole, bytes, pieces, skips;
	uint8_t *logs[4] = { whole.log, bytes.log, pieces.log, skips.log };
	size_t caps[4] = { whole.cap, bytes.cap, pieces.cap, skips.cap };
	struct run *runs[4] = { &whole, &bytes, &pieces, &skips };
	bool skipped_past = false;

	for (int i = 0; i < 4; i++) {
		run_init(runs[i], s, n, flags, seed);
		runs[i]->log = logs[i];
		runs[i]->cap = caps[i];
	}

	if (n)
		feed(&whole, n);
	finish(&whole);

	for (size_t i = 0; i < n; i++)
		feed(&bytes, 1);
	finish(&bytes);
	compare(&whole, &bytes, "one byte at a time");

	st = seed;
	while (pieces.fed < n)
		feed(&pieces, piece(&st, n - pieces.fed));
	finish(&pieces);
	compare(&whole, &pieces, "in pieces");

	/* Body bytes skipped (sendfile) instead of shown: the same, as long as they are body. */
	st = seed ^ 0x5bd1e995u;
	while (skips.fed < n) {
		size_t len = piece(&st, n - skips.fed);
		uint8_t state = skips.p.state;
		bool body = state == OP_HTTP_BODY_LENGTH || state == OP_HTTP_CHUNK_DATA;

		if (body && (fz_rand(&st) & 1) && (len <= skips.p.remaining || (flags & 0x10))) {
			bool past = len > skips.p.remaining;

			skips.fed += len;
			skips.skip_past = past;
			op_http_skip(&skips.p, len, &cb, &skips);
			if (past) {
				FUZZ_CHECK(skips.p.state == OP_HTTP_DEAD,
					   "a skip past the body left state %d", skips.p.state);
				skipped_past = true;
				break;
			}
			check_parser(&skips);
		} else {
			feed(&skips, len);
		}
	}
	if (!skipped_past) {
		finish(&skips);
		compare(&whole, &skips, "with body bytes skipped");
	}

	for (int i = 0; i < 4; i++)
		op_http_free(&runs[i]->p);
	return 0;
}
