/*
 * The streaming HTTP/1.x scanner. Every callback is written into a text log
 * with the parser's pos and line_pos, and the logs are compared; each
 * callback also checks that [line_pos, pos) of the whole stream is the line
 * it was given. The central property: however the stream is cut into calls
 * (every split into two or three feeds, one byte at a time), the log is the
 * one a single call gives.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/engine.h"
#include "preload/http.h"

#include "cu.h"

struct rec {
	struct op_http_parser p;
	enum op_http_role role;
	const char *stream;    /* the whole stream, to check offsets against */
	size_t n;
	const char *methods;   /* responses: the requests answered, 'H' for HEAD */
	size_t answered;
	int code;              /* status code of the current response */
	bool mpos;             /* log pos at on_message_end too */
	char *log;
	size_t len, cap;
	int bad;               /* offset checks that failed */
	char why[256];         /* the first of them */
};

static const char *const state_names[] = {
	"START", "LINE", "HEADERS", "BODY_LENGTH", "CHUNK_SIZE", "CHUNK_DATA",
	"CHUNK_CRLF", "TRAILERS", "BODY_CLOSE", "DEAD",
};

static void say(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fault(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(struct rec *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (r->len + (size_t)n + 1 > r->cap) {
		while (r->len + (size_t)n + 1 > r->cap)
			r->cap = r->cap ? r->cap * 2 : 1024;
		r->log = realloc(r->log, r->cap);
		if (!r->log)
			abort();
	}
	va_start(ap, fmt);
	vsnprintf(r->log + r->len, r->cap - r->len, fmt, ap);
	va_end(ap);
	r->len += (size_t)n;
}

static void fault(struct rec *r, const char *fmt, ...)
{
	va_list ap;

	if (r->bad++)
		return;
	va_start(ap, fmt);
	vsnprintf(r->why, sizeof r->why, fmt, ap);
	va_end(ap);
}

/* pos is just past a '\n' of the stream and line_pos before it. */
static bool check_end(struct rec *r, const char *what)
{
	uint64_t pos = r->p.pos, lp = r->p.line_pos;

	if (pos == 0 || pos > r->n || lp >= pos || r->stream[pos - 1] != '\n') {
		fault(r, "%s: pos %llu, line_pos %llu do not bound a line", what,
		      (unsigned long long)pos, (unsigned long long)lp);
		return false;
	}
	return true;
}

/* `s` is what the stream holds at `off`, inside the current line. */
static void check_at(struct rec *r, const char *what, uint64_t off, const char *s, size_t len)
{
	if (off + len >= r->p.pos || memcmp(r->stream + off, s, len))
		fault(r, "%s \"%.*s\" is not at offset %llu (line_pos %llu, pos %llu)", what,
		      (int)(len < 40 ? len : 40), s, (unsigned long long)off,
		      (unsigned long long)r->p.line_pos, (unsigned long long)r->p.pos);
}

static const char *cut(const struct rec *r)
{
	return r->p.line_cut ? " cut" : "";
}

static int on_start(void *arg, const char *line, size_t len)
{
	struct rec *r = arg;
	struct op_http_request_line rl;
	char minor;
	bool ok;

	if (check_end(r, "start line")) {
		size_t whole = (size_t)(r->p.pos - r->p.line_pos - 1);

		if (whole && r->stream[r->p.pos - 2] == '\r')
			whole--;
		check_at(r, "start line", r->p.line_pos, line, len);
		if (r->p.line_cut ? len != OP_HTTP_LINE_MAX || whole <= len : whole != len)
			fault(r, "start line of %zu bytes given as %zu%s", whole, len, cut(r));
	}
	if (r->role == OP_HTTP_REQUEST) {
		ok = op_http_parse_request_line(line, len, &rl) == 0;
	} else {
		r->code = op_http_parse_status_line(line, len, &minor);
		ok = r->code >= 0;
	}
	say(r, "S %llu %llu%s %.*s%s\n", (unsigned long long)r->p.pos,
	    (unsigned long long)r->p.line_pos, cut(r), (int)len, line, ok ? "" : " REJECTED");
	return ok ? 0 : -1;
}

static void on_header(void *arg, const char *name, size_t nlen, const char *value, size_t vlen)
{
	struct rec *r = arg;

	if (check_end(r, "header")) {
		check_at(r, "header name", r->p.line_pos, name, nlen);
		check_at(r, "header value", r->p.line_pos + (uint64_t)(value - name), value, vlen);
	}
	say(r, "H %llu %llu%s %.*s[%.*s]\n", (unsigned long long)r->p.pos,
	    (unsigned long long)r->p.line_pos, cut(r), (int)nlen, name, (int)vlen, value);
}

/*
 * Requests: the headers frame the body. Responses: the caller's knowledge
 * as RFC 9112 6.3 has it (no body after HEAD, 1xx, 204, 304; 101 leaves
 * HTTP).
 */
static enum op_http_body on_head_end(void *arg)
{
	struct rec *r = arg;
	enum op_http_body body = OP_HTTP_BODY_FRAMED;
	bool head = false;

	if (check_end(r, "head end") && (r->p.pos - r->p.line_pos > 2 ||
					 (r->stream[r->p.line_pos] != '\r' &&
					  r->stream[r->p.line_pos] != '\n')))
		fault(r, "head end: [%llu, %llu) is not an empty line",
		      (unsigned long long)r->p.line_pos, (unsigned long long)r->p.pos);
	if (r->role == OP_HTTP_RESPONSE) {
		if (r->code >= 200 && r->methods && r->methods[r->answered])
			head = r->methods[r->answered++] == 'H';
		if (r->code == 101)
			body = OP_HTTP_BODY_UPGRADE;
		else if (r->code < 200 || r->code == 204 || r->code == 304 || head)
			body = OP_HTTP_BODY_NONE;
	}
	say(r, "E %llu %llu %s\n", (unsigned long long)r->p.pos, (unsigned long long)r->p.line_pos,
	    body == OP_HTTP_BODY_FRAMED ? "framed" : body == OP_HTTP_BODY_NONE ? "none" : "upgrade");
	return body;
}

static void on_message_end(void *arg)
{
	struct rec *r = arg;

	if (r->mpos)
		say(r, "M %llu\n", (unsigned long long)r->p.pos);
	else
		say(r, "M\n");
}

static const struct op_http_cb cb = { on_start, on_header, on_head_end, on_message_end };

static void rec_begin(struct rec *r, enum op_http_role role, const char *methods,
		      const char *s, size_t n)
{
	op_http_free(&r->p);
	op_http_init(&r->p, role);
	r->role = role;
	r->methods = methods;
	r->answered = 0;
	r->code = 0;
	r->stream = s;
	r->n = n;
	r->len = 0;
	r->bad = 0;
	r->why[0] = '\0';
	say(r, "%s", "");
}

/* The last line of every log: where the scanner stopped. */
static void rec_finish(struct rec *r, bool eof)
{
	if (eof)
		say(r, "eof %d\n", op_http_eof(&r->p, &cb, r));
	say(r, "end %s %llu\n", state_names[r->p.state], (unsigned long long)r->p.pos);
}

static void rec_free(struct rec *r)
{
	op_http_free(&r->p);
	free(r->log);
	memset(r, 0, sizeof *r);
}

static void feed(struct rec *r, size_t from, size_t to)
{
	op_http_feed(&r->p, r->stream + from, to - from, &cb, r);
}

/* Scans `s` fed as [0, k1), [k1, k2), [k2, n), then ends it when `eof`. */
static void scan3(struct rec *r, enum op_http_role role, const char *methods, const char *s,
		  size_t n, size_t k1, size_t k2, bool eof)
{
	rec_begin(r, role, methods, s, n);
	feed(r, 0, k1);
	feed(r, k1, k2);
	feed(r, k2, n);
	rec_finish(r, eof);
}

static void scan(struct rec *r, enum op_http_role role, const char *methods, const char *s,
		 bool eof)
{
	size_t n = strlen(s);

	scan3(r, role, methods, s, n, n, n, eof);
}

static void scan_bytes(struct rec *r, enum op_http_role role, const char *methods,
		       const char *s, size_t n, bool eof)
{
	rec_begin(r, role, methods, s, n);
	for (size_t i = 0; i < n; i++)
		feed(r, i, i + 1);
	rec_finish(r, eof);
}

/* Compares a log with the expected one; on a difference shows the first differing line. */
static bool same_log(const struct rec *r, const char *want, const char *what)
{
	const char *a = r->log, *b = want;
	size_t la, lb;

	if (!strcmp(a, b))
		return true;
	while (*a && *b) {
		la = strcspn(a, "\n");
		lb = strcspn(b, "\n");
		if (la != lb || memcmp(a, b, la))
			break;
		a += la + (a[la] != 0);
		b += lb + (b[lb] != 0);
	}
	la = strcspn(a, "\n");
	lb = strcspn(b, "\n");
	fprintf(stderr, "\n%s: log differs at\n  got:  %.*s%s\n  want: %.*s%s\n", what,
		(int)(la < 160 ? la : 160), a, la > 160 ? "..." : "",
		(int)(lb < 160 ? lb : 160), b, lb > 160 ? "..." : "");
	return false;
}

static bool clean(const struct rec *r, const char *what)
{
	if (r->bad)
		fprintf(stderr, "\n%s: %d offset faults, first: %s\n", what, r->bad, r->why);
	return r->bad == 0;
}

/* Scans `s` whole and checks the log. */
static void expect(enum op_http_role role, const char *methods, const char *s, bool eof,
		   const char *want)
{
	struct rec r = { 0 };
	char what[64];

	snprintf(what, sizeof what, "\"%.*s\"", (int)strcspn(s, "\r\n"), s);
	scan(&r, role, methods, s, eof);
	CU_ASSERT_TRUE(same_log(&r, want, what));
	CU_ASSERT_TRUE(clean(&r, what));
	rec_free(&r);
}

/*
 * Scans `s` split in every way into two parts (and three when `pairs`),
 * and byte by byte; returns how many logs differ from `want`.
 */
static int splits(enum op_http_role role, const char *methods, const char *s, size_t n,
		  bool eof, bool mpos, bool pairs, const char *want, const char *name)
{
	struct rec r = { 0 };
	char what[160];
	int wrong = 0;

	r.mpos = mpos;
	for (size_t k1 = 0; k1 <= n; k1++)
		for (size_t k2 = pairs ? k1 : n; k2 <= n; k2++) {
			scan3(&r, role, methods, s, n, k1, k2, eof);
			if (r.bad == 0 && !strcmp(r.log, want))
				continue;
			/* Show the first few. */
			if (wrong++ < 3) {
				snprintf(what, sizeof what, "%s, fed [0,%zu) [%zu,%zu) [%zu,%zu)",
					 name, k1, k1, k2, k2, n);
				clean(&r, what);
				same_log(&r, want, what);
			}
		}
	scan_bytes(&r, role, methods, s, n, eof);
	snprintf(what, sizeof what, "%s, byte by byte", name);
	if (!clean(&r, what) || !same_log(&r, want, what))
		wrong++;
	rec_free(&r);
	return wrong;
}

/* ---- framing ------------------------------------------------------------- */

static const char req_length[] =
	"POST /submit HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
	"GET /next HTTP/1.1\r\nHost: a\r\n\r\n";

static void test_request_content_length(void)
{
	struct rec r = { 0 };

	expect(OP_HTTP_REQUEST, NULL, req_length, false,
	       "S 23 0 POST /submit HTTP/1.1\n"
	       "H 32 23 Host[a]\n"
	       "H 51 32 Content-Length[5]\n"
	       "E 53 51 framed\n"
	       "M\n"
	       "S 78 58 GET /next HTTP/1.1\n"
	       "H 87 78 Host[a]\n"
	       "E 89 87 framed\n"
	       "M\n"
	       "end START 89\n");

	/* Three bytes into the body: the message is not over. */
	rec_begin(&r, OP_HTTP_REQUEST, NULL, req_length, sizeof req_length - 1);
	feed(&r, 0, 56);
	CU_ASSERT_PTR_NULL(strstr(r.log, "M\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_BODY_LENGTH);
	OP_ASSERT_INT(r.p.remaining, 2);
	CU_ASSERT_FALSE(op_http_idle(&r.p));
	feed(&r, 56, 58);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.log, "M\n"));
	CU_ASSERT_TRUE(op_http_idle(&r.p));
	rec_free(&r);

	/* Content-Length: 0 ends the message with the head. */
	expect(OP_HTTP_REQUEST, NULL, "PUT /z HTTP/1.1\r\nContent-Length: 0\r\n\r\n", false,
	       "S 17 0 PUT /z HTTP/1.1\n"
	       "H 36 17 Content-Length[0]\n"
	       "E 38 36 framed\n"
	       "M\n"
	       "end START 38\n");
}

static const char req_chunked[] =
	"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	"5;name=val\r\nhello\r\n"
	"6 ; x=\"y\"\r\n world\r\n"
	"A\r\n0123456789\r\n"
	"0;last\r\nX-Trailer: t\r\n\r\n"
	"GET /after HTTP/1.0\r\n\r\n";

static void test_request_chunked(void)
{
	struct rec r = { 0 };

	/* Trailer fields are not reported as headers. */
	expect(OP_HTTP_REQUEST, NULL, req_chunked, false,
	       "S 19 0 POST /up HTTP/1.1\n"
	       "H 47 19 Transfer-Encoding[chunked]\n"
	       "E 49 47 framed\n"
	       "M\n"
	       "S 147 126 GET /after HTTP/1.0\n"
	       "E 149 147 framed\n"
	       "M\n"
	       "end START 149\n");

	/* Everything but the blank line ending the trailers: not over yet. */
	rec_begin(&r, OP_HTTP_REQUEST, NULL, req_chunked, sizeof req_chunked - 1);
	feed(&r, 0, 124);
	CU_ASSERT_PTR_NULL(strstr(r.log, "M\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_TRAILERS);
	feed(&r, 124, 126);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.log, "M\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_START);
	rec_free(&r);

	/* Chunk data bytes that look like framing are data. */
	expect(OP_HTTP_REQUEST, NULL,
	       "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n", false,
	       "S 17 0 POST / HTTP/1.1\n"
	       "H 45 17 Transfer-Encoding[chunked]\n"
	       "E 47 45 framed\n"
	       "M\n"
	       "end START 64\n");
}

static void test_chunked_framing_errors(void)
{
	static const char *const bad[] = {
		"zz\r\nhello\r\n0\r\n\r\n",          /* not a size */
		"\r\nhello\r\n0\r\n\r\n",            /* empty size */
		"5x\r\nhello\r\n0\r\n\r\n",          /* junk after the size */
		"5\r\nhelloXY\r\n0\r\n\r\n",         /* no CRLF after the data */
		"10000000000000000\r\n",             /* 2^64: does not fit */
	};
	char s[256];
	struct rec r = { 0 };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(s, sizeof s, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n%s"
			 "GET / HTTP/1.1\r\n\r\n", bad[i]);
		scan(&r, OP_HTTP_REQUEST, NULL, s, false);
		if (r.p.state != OP_HTTP_DEAD)
			fprintf(stderr, "\nbody \"%s\" left the scanner in %s\n", bad[i],
				state_names[r.p.state]);
		OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
		CU_ASSERT_PTR_NULL(strstr(r.log, "M\n"));
		CU_ASSERT_PTR_NULL(strstr(r.log, "GET"));
	}
	rec_free(&r);
}

/* Methods answered: G = GET, H = HEAD (the 4th final response). */
static const char resp_mix[] =
	"HTTP/1.1 100 Continue\r\n\r\n"
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
	"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n"
	"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"
	"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	"HTTP/1.0 200 OK\r\n\r\nuntil close\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";

static const char resp_mix_log[] =
	"S 23 0 HTTP/1.1 100 Continue\n"
	"E 25 23 none\n"
	"M\n"
	"S 42 25 HTTP/1.1 200 OK\n"
	"H 61 42 Content-Length[3]\n"
	"E 63 61 framed\n"
	"M\n"
	"S 91 66 HTTP/1.1 204 No Content\n"
	"H 110 91 Content-Length[7]\n"
	"E 112 110 none\n"
	"M\n"
	"S 139 112 HTTP/1.1 304 Not Modified\n"
	"H 159 139 Content-Length[10]\n"
	"E 161 159 none\n"
	"M\n"
	"S 178 161 HTTP/1.1 200 OK\n"
	"H 197 178 Content-Length[4]\n"
	"E 199 197 none\n"
	"M\n"
	"S 216 199 HTTP/1.1 200 OK\n"
	"H 250 216 Transfer-Encoding[gzip, chunked]\n"
	"E 252 250 framed\n"
	"M\n"
	"S 282 265 HTTP/1.0 200 OK\n"
	"E 284 282 framed\n"
	"M\n"
	"eof 1\n"
	"end DEAD 318\n";

static void test_responses(void)
{
	expect(OP_HTTP_RESPONSE, "GGGHGG", resp_mix, true, resp_mix_log);
}

static void test_close_delimited(void)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"
				"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\r\n\r\n";
	struct rec r = { 0 };

	rec_begin(&r, OP_HTTP_RESPONSE, NULL, s, sizeof s - 1);
	feed(&r, 0, sizeof s - 1);
	/* Whatever follows the head is body, even what looks like a response. */
	OP_ASSERT_INT(r.p.state, OP_HTTP_BODY_CLOSE);
	CU_ASSERT_FALSE(op_http_idle(&r.p));
	CU_ASSERT_PTR_NULL(strstr(r.log, "M\n"));
	OP_ASSERT_INT(r.p.pos, sizeof s - 1);
	CU_ASSERT_TRUE(op_http_eof(&r.p, &cb, &r));
	rec_finish(&r, false);
	CU_ASSERT_TRUE(same_log(&r,
		"S 17 0 HTTP/1.1 200 OK\n"
		"H 43 17 Content-Type[text/plain]\n"
		"E 45 43 framed\n"
		"M\n"
		"end DEAD 89\n", "close-delimited"));
	rec_free(&r);

	/* A request without framing has no body: never close-delimited. */
	expect(OP_HTTP_REQUEST, NULL, "GET / HTTP/1.1\r\n\r\n", true,
	       "S 16 0 GET / HTTP/1.1\n"
	       "E 18 16 framed\n"
	       "M\n"
	       "eof 1\n"
	       "end START 18\n");
}

static void test_eof_elsewhere(void)
{
	/* Nothing under way: true, no event. */
	expect(OP_HTTP_RESPONSE, NULL, "", true, "eof 1\nend START 0\n");
	expect(OP_HTTP_RESPONSE, NULL, "HTTP/1.1 204 No Content\r\n\r\n", true,
	       "S 25 0 HTTP/1.1 204 No Content\n"
	       "E 27 25 none\n"
	       "M\n"
	       "eof 1\n"
	       "end START 27\n");
	/* Cut inside a start line, the headers, or a counted body: false. */
	expect(OP_HTTP_RESPONSE, NULL, "HTTP/1.1 2", true, "eof 0\nend LINE 10\n");
	expect(OP_HTTP_RESPONSE, NULL, "HTTP/1.1 200 OK\r\nContent-Le", true,
	       "S 17 0 HTTP/1.1 200 OK\n"
	       "eof 0\n"
	       "end HEADERS 27\n");
	expect(OP_HTTP_RESPONSE, NULL, "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", true,
	       "S 17 0 HTTP/1.1 200 OK\n"
	       "H 36 17 Content-Length[9]\n"
	       "E 38 36 framed\n"
	       "eof 0\n"
	       "end BODY_LENGTH 41\n");
}

static void test_head_response(void)
{
	/* Content-Length of a HEAD response describes the GET one: no body. */
	expect(OP_HTTP_RESPONSE, "HG",
	       "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
	       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false,
	       "S 17 0 HTTP/1.1 200 OK\n"
	       "H 39 17 Content-Length[1000]\n"
	       "E 41 39 none\n"
	       "M\n"
	       "S 58 41 HTTP/1.1 200 OK\n"
	       "H 77 58 Content-Length[2]\n"
	       "E 79 77 framed\n"
	       "M\n"
	       "end START 81\n");
}

static void test_upgrade(void)
{
	static const char s[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				"Connection: Upgrade\r\n\r\n\x81\x05hello\r\n\r\n"
				"HTTP/1.1 200 OK\r\n\r\n";
	struct rec r = { 0 };

	/* No message end: the caller closes the exchange itself. */
	expect(OP_HTTP_RESPONSE, NULL, s, false,
	       "S 34 0 HTTP/1.1 101 Switching Protocols\n"
	       "H 54 34 Upgrade[websocket]\n"
	       "H 75 54 Connection[Upgrade]\n"
	       "E 77 75 upgrade\n"
	       "end DEAD 107\n");

	/* Dead for good: a later feed finds nothing, and still counts. */
	rec_begin(&r, OP_HTTP_RESPONSE, NULL, s, sizeof s - 1);
	feed(&r, 0, 77);
	OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
	feed(&r, 77, sizeof s - 1);
	OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
	OP_ASSERT_INT(r.p.pos, sizeof s - 1);
	CU_ASSERT_PTR_NULL(strstr(r.log, "S 105 88"));
	CU_ASSERT_PTR_NULL(strstr(r.log, "M\n"));
	rec_free(&r);
}

static void test_pipelined(void)
{
	expect(OP_HTTP_REQUEST, NULL,
	       "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\nA: 1\r\n\r\n"
	       "POST /3 HTTP/1.1\r\nContent-Length: 2\r\n\r\nxyHEAD /4 HTTP/1.1\r\n\r\n", false,
	       "S 17 0 GET /1 HTTP/1.1\n"
	       "E 19 17 framed\n"
	       "M\n"
	       "S 36 19 GET /2 HTTP/1.1\n"
	       "H 42 36 A[1]\n"
	       "E 44 42 framed\n"
	       "M\n"
	       "S 62 44 POST /3 HTTP/1.1\n"
	       "H 81 62 Content-Length[2]\n"
	       "E 83 81 framed\n"
	       "M\n"
	       "S 103 85 HEAD /4 HTTP/1.1\n"
	       "E 105 103 framed\n"
	       "M\n"
	       "end START 105\n");
}

static const char req_blank_lines[] =
	"\r\n\r\n\nGET /a HTTP/1.1\nHost:x\n\n\r\nDELETE /b?c=d HTTP/1.0\r\nX: \t y \t\r\n\r\n";

/* RFC 9112 2.2: blank lines before a request line are skipped, bare LF ends a line. */
static void test_leading_blank_lines(void)
{
	expect(OP_HTTP_REQUEST, NULL, req_blank_lines, false,
	       "S 21 5 GET /a HTTP/1.1\n"
	       "H 28 21 Host[x]\n"
	       "E 29 28 framed\n"
	       "M\n"
	       "S 55 31 DELETE /b?c=d HTTP/1.0\n"
	       "H 65 55 X[y]\n"
	       "E 67 65 framed\n"
	       "M\n"
	       "end START 67\n");
}

/* ---- the core property: any split gives the same log ----------------------- */

/*
 * `mpos`: log pos at on_message_end too, which tells a message ending early
 * (then a skipped blank line) from one ending on time. Off where a
 * Content-Length body ends: that pos is test_pos_at_message_end's subject.
 */
struct sample {
	const char *name;
	enum op_http_role role;
	const char *methods;
	const char *s;
	bool eof;
	bool mpos;
};

static const struct sample samples[] = {
	{ "request with Content-Length, pipelined", OP_HTTP_REQUEST, NULL, req_length, false,
	  false },
	{ "request chunked with extensions and trailers", OP_HTTP_REQUEST, NULL, req_chunked,
	  false, true },
	{ "requests after blank lines, bare LF", OP_HTTP_REQUEST, NULL, req_blank_lines, false,
	  true },
	{ "responses of every framing", OP_HTTP_RESPONSE, "GGGHGG", resp_mix, true, false },
	{ "responses chunked, none, close", OP_HTTP_RESPONSE, "GGG",
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n"
	  "T2: 2\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
	  "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nbody\r\n", true, true },
	{ "101 upgrade", OP_HTTP_RESPONSE, NULL,
	  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0\r\n\r\n", true,
	  true },
	{ "RESP, not HTTP", OP_HTTP_REQUEST, NULL, "*1\r\n$4\r\nPING\r\n", false, true },
	{ "SSH, not HTTP", OP_HTTP_RESPONSE, NULL, "SSH-2.0-OpenSSH_9.6\r\n", true, true },
	{ "rejected request line", OP_HTTP_REQUEST, NULL,
	  "GET /x HTTP/2.0\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\n\r\n", false, true },
	{ "cut inside a body", OP_HTTP_RESPONSE, NULL,
	  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123", true, true },
};

static void test_every_split(void)
{
	struct rec r = { 0 };

	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		const struct sample *sm = &samples[i];
		size_t n = strlen(sm->s);
		char *want;
		int wrong;

		r.mpos = sm->mpos;
		scan(&r, sm->role, sm->methods, sm->s, sm->eof);
		CU_ASSERT_TRUE(clean(&r, sm->name));
		want = strdup(r.log);
		wrong = splits(sm->role, sm->methods, sm->s, n, sm->eof, sm->mpos, true, want,
			       sm->name);
		if (wrong)
			fprintf(stderr, "\n%s: %d splits differ from one feed\n", sm->name, wrong);
		OP_ASSERT_INT(wrong, 0);
		free(want);
	}
	rec_free(&r);
}

/*
 * After a Content-Length body, pos is where the body ends, not how far the
 * call that finished it reaches (that would depend on the split).
 */
static void test_pos_at_message_end(void)
{
	static const char want[] =
		"S 23 0 POST /submit HTTP/1.1\n"
		"H 32 23 Host[a]\n"
		"H 51 32 Content-Length[5]\n"
		"E 53 51 framed\n"
		"M 58\n"
		"S 78 58 GET /next HTTP/1.1\n"
		"H 87 78 Host[a]\n"
		"E 89 87 framed\n"
		"M 89\n"
		"end START 89\n";

	OP_ASSERT_INT(splits(OP_HTTP_REQUEST, NULL, req_length, sizeof req_length - 1, false,
			     true, false, want, "pos at message end"), 0);
}

/* ---- lines and offsets ------------------------------------------------------ */

/* The offsets of each callback, fed in two parts cut inside a header. */
static void test_offsets_across_feeds(void)
{
	static const char s[] = "GET /a HTTP/1.1\r\nHost: example.com\r\nX-Id:  42 \r\n\r\n";
	struct rec r = { 0 };

	/* 22 is inside the Host line, 47 between the '\r' and '\n' of the X-Id line. */
	rec_begin(&r, OP_HTTP_REQUEST, NULL, s, sizeof s - 1);
	feed(&r, 0, 22);
	OP_ASSERT_INT(r.p.pos, 22);
	feed(&r, 22, 47);
	OP_ASSERT_INT(r.p.pos, 47);
	feed(&r, 47, sizeof s - 1);
	rec_finish(&r, false);
	CU_ASSERT_TRUE(same_log(&r,
		"S 17 0 GET /a HTTP/1.1\n"
		"H 36 17 Host[example.com]\n"
		"H 48 36 X-Id[42]\n"
		"E 50 48 framed\n"
		"M\n"
		"end START 50\n", "offsets"));
	CU_ASSERT_TRUE(clean(&r, "offsets"));
	rec_free(&r);
}

static void long_line_stream(char *s, size_t cap, const char *before, size_t fill,
			     const char *after)
{
	size_t b = strlen(before);

	if (b + fill + strlen(after) + 1 > cap)
		abort();
	memcpy(s, before, b);
	memset(s + b, 'a', fill);
	strcpy(s + b + fill, after);
}

/*
 * A header line longer than OP_HTTP_LINE_MAX is reported cut to that
 * length (line_cut set, line_pos still its first byte), and the messages
 * after it are found, however the stream is fed.
 */
static void test_long_header_line(void)
{
	static char s[OP_HTTP_LINE_MAX + 4096], want[2 * OP_HTTP_LINE_MAX];
	size_t fill = OP_HTTP_LINE_MAX + 1808, n;
	int w;

	long_line_stream(s, sizeof s, "GET /a HTTP/1.1\r\nX-Long: ", fill,
			 "\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	n = strlen(s);
	w = snprintf(want, sizeof want, "S 17 0 GET /a HTTP/1.1\nH %zu 17 cut X-Long[", 17 + 8 + fill + 2);
	memset(want + w, 'a', OP_HTTP_LINE_MAX - 8);
	w += OP_HTTP_LINE_MAX - 8;
	snprintf(want + w, sizeof want - (size_t)w,
		 "]\nH %zu %zu Host[h]\nE %zu %zu framed\nM\n"
		 "S %zu %zu GET /b HTTP/1.1\nE %zu %zu framed\nM\nend START %zu\n",
		 n - 21, n - 30, n - 19, n - 21, n - 2, n - 19, n, n - 2, n);

	OP_ASSERT_INT(splits(OP_HTTP_REQUEST, NULL, s, n, false, false, false, want,
			     "long header line"), 0);
}

/* The same for a request line: cut, so not a request line any more. */
static void test_long_request_line(void)
{
	static char s[OP_HTTP_LINE_MAX + 4096], want[2 * OP_HTTP_LINE_MAX];
	size_t fill = OP_HTTP_LINE_MAX + 500, n;
	int w;

	long_line_stream(s, sizeof s, "GET /", fill, " HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n");
	n = strlen(s);
	w = snprintf(want, sizeof want, "S %zu 0 cut GET /", 5 + fill + 11);
	memset(want + w, 'a', OP_HTTP_LINE_MAX - 5);
	w += OP_HTTP_LINE_MAX - 5;
	snprintf(want + w, sizeof want - (size_t)w, " REJECTED\nend DEAD %zu\n", n);

	OP_ASSERT_INT(splits(OP_HTTP_REQUEST, NULL, s, n, false, false, false, want,
			     "long request line"), 0);
}

/* A line of exactly OP_HTTP_LINE_MAX bytes (CR included) is whole. */
static void test_line_at_limit(void)
{
	static char s[OP_HTTP_LINE_MAX + 256];
	struct rec r = { 0 };
	size_t n;

	long_line_stream(s, sizeof s, "GET /a HTTP/1.1\r\nX: ", OP_HTTP_LINE_MAX - 4,
			 "\r\n\r\n");
	n = strlen(s);
	scan3(&r, OP_HTTP_REQUEST, NULL, s, n, 100, 100, false);
	CU_ASSERT_PTR_NULL(strstr(r.log, " cut "));
	CU_ASSERT_PTR_NOT_NULL(strstr(r.log, "\nE "));
	CU_ASSERT_TRUE(clean(&r, "line at the limit"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_START);
	rec_free(&r);
}

/* ---- not HTTP, or not HTTP/1.x ---------------------------------------------- */

static void test_not_http(void)
{
	static const struct { enum op_http_role role; const char *s; } cases[] = {
		{ OP_HTTP_REQUEST, "*1\r\n$4\r\nPING\r\n" },
		{ OP_HTTP_REQUEST, "\x16\x03\x01\x02" },
		{ OP_HTTP_REQUEST, "get / HTTP/1.1\r\n\r\n" },
		{ OP_HTTP_REQUEST, "\r\n/ HTTP/1.1\r\n\r\n" },
		{ OP_HTTP_RESPONSE, "SSH-2.0-OpenSSH_9.6\r\n" },
		{ OP_HTTP_RESPONSE, "http/1.1 200 OK\r\n\r\n" },
	};
	struct rec r = { 0 };
	char want[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		scan(&r, cases[i].role, NULL, cases[i].s, false);
		snprintf(want, sizeof want, "end DEAD %zu\n", strlen(cases[i].s));
		CU_ASSERT_TRUE(same_log(&r, want, cases[i].s));
		/* Dead stays dead. */
		op_http_feed(&r.p, "GET / HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", 37, &cb, &r);
		OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
	}
	rec_free(&r);
}

/* on_start refusing the line (op_http_parse_request_line failing) kills the scanner. */
static void test_malformed_request_lines(void)
{
	static const char *const lines[] = {
		"GET /x HTTP/2.0",
		"GET  /x HTTP/1.1",
		"GET /x  HTTP/1.1",
		"GET /x HTTP/1.1 ",
		"GET /x HTTP/1.2",
		"GET /x HTTP/1.10",
		"GET /x",
		"GET /x http/1.1",
		"G(T /x HTTP/1.1",
		"GET /a\x01z HTTP/1.1",
		"GET",
	};
	char s[128], want[256];
	struct rec r = { 0 };

	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		int n = snprintf(s, sizeof s, "%s\r\nHost: a\r\n\r\n", lines[i]);

		scan(&r, OP_HTTP_REQUEST, NULL, s, false);
		snprintf(want, sizeof want, "S %zu 0 %s REJECTED\nend DEAD %d\n",
			 strlen(lines[i]) + 2, lines[i], n);
		CU_ASSERT_TRUE(same_log(&r, want, lines[i]));
	}
	rec_free(&r);
}

/* ---- framing headers ---------------------------------------------------------- */

/* Returns whether `te` makes the response body chunked (else close-delimited). */
static bool response_chunked(const char *headers)
{
	char s[512];
	struct rec r = { 0 };
	bool chunked;

	snprintf(s, sizeof s, "HTTP/1.1 200 OK\r\n%s\r\n3\r\nabc\r\n0\r\n\r\n", headers);
	scan(&r, OP_HTTP_RESPONSE, NULL, s, false);
	chunked = strstr(r.log, "M\n") != NULL && r.p.state == OP_HTTP_START;
	if (!chunked && r.p.state != OP_HTTP_BODY_CLOSE)
		fprintf(stderr, "\n\"%s\": neither chunked nor close-delimited (%s)\n", headers,
			state_names[r.p.state]);
	rec_free(&r);
	return chunked;
}

static void test_transfer_encoding(void)
{
	/* RFC 9112 6.3: chunked only when it is the final coding. */
	CU_ASSERT_TRUE(response_chunked("Transfer-Encoding: chunked\r\n"));
	CU_ASSERT_TRUE(response_chunked("Transfer-Encoding: gzip, chunked\r\n"));
	CU_ASSERT_TRUE(response_chunked("Transfer-Encoding: gzip,chunked \r\n"));
	CU_ASSERT_TRUE(response_chunked("transfer-encoding: CHUNKED\r\n"));
	CU_ASSERT_TRUE(response_chunked("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"));
	CU_ASSERT_FALSE(response_chunked("Transfer-Encoding: chunked, gzip\r\n"));
	CU_ASSERT_FALSE(response_chunked("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"));
	CU_ASSERT_FALSE(response_chunked("Transfer-Encoding: gzip\r\n"));
	CU_ASSERT_FALSE(response_chunked("Transfer-Encoding: xchunked\r\n"));
	CU_ASSERT_FALSE(response_chunked("X-Transfer-Encoding: chunked\r\n"));
	/* Transfer-Encoding overrides Content-Length, in either order. */
	CU_ASSERT_TRUE(response_chunked("Content-Length: 100\r\nTransfer-Encoding: chunked\r\n"));
	CU_ASSERT_TRUE(response_chunked("Transfer-Encoding: chunked\r\nContent-Length: 100\r\n"));

	/* The same for a request. */
	expect(OP_HTTP_REQUEST, NULL,
	       "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	       "GET / HTTP/1.1\r\n\r\n", false,
	       "S 17 0 POST / HTTP/1.1\n"
	       "H 51 17 Transfer-Encoding[gzip, chunked]\n"
	       "E 53 51 framed\n"
	       "M\n"
	       "S 82 66 GET / HTTP/1.1\n"
	       "E 84 82 framed\n"
	       "M\n"
	       "end START 84\n");
}

static void test_content_length_values(void)
{
	struct rec r = { 0 };
	const char *head;

	/* Large but representable: followed as a body. */
	head = "HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000\r\n\r\n0123456789";
	scan(&r, OP_HTTP_RESPONSE, NULL, head, false);
	OP_ASSERT_INT(r.p.state, OP_HTTP_BODY_LENGTH);
	CU_ASSERT(r.p.remaining == 1000000000000000000ull - 10);

	/*
	 * Past 2^64 (18446744073709551617 is 2^64 + 1): never wrapped to a small
	 * length, so no message ends after a byte or two of body.
	 */
	head = "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551617\r\n\r\nAB";
	scan(&r, OP_HTTP_RESPONSE, NULL, head, false);
	CU_ASSERT_PTR_NULL(strstr(r.log, "M\n"));
	CU_ASSERT(r.p.state != OP_HTTP_START && r.p.state != OP_HTTP_HEADERS);
	CU_ASSERT(r.p.state != OP_HTTP_BODY_LENGTH || r.p.remaining > 1000000);

	head = "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999999\r\n\r\nAB";
	scan(&r, OP_HTTP_RESPONSE, NULL, head, false);
	CU_ASSERT_PTR_NULL(strstr(r.log, "M\n"));
	CU_ASSERT(r.p.state != OP_HTTP_BODY_LENGTH || r.p.remaining > 1000000);

	/* A request: "A" is not taken as a one-byte body. */
	head = "POST / HTTP/1.1\r\nContent-Length: 18446744073709551617\r\n\r\n";
	rec_begin(&r, OP_HTTP_REQUEST, NULL, head, strlen(head));
	feed(&r, 0, strlen(head));
	CU_ASSERT(r.p.state != OP_HTTP_BODY_LENGTH || r.p.remaining > 1000000);
	{
		size_t before = r.len;

		op_http_feed(&r.p, "A", 1, &cb, &r);
		CU_ASSERT_PTR_NULL(strstr(r.log + before, "M\n"));
	}

	/*
	 * RFC 9112 6.3: a Content-Length that is not a number, or two that
	 * differ, leave the framing unknown: the scanner stops following the
	 * stream. The same value twice is one length.
	 */
	head = "HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nxyz";
	scan(&r, OP_HTTP_RESPONSE, NULL, head, false);
	OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
	head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 50\r\n\r\nokHTTP/1.1 204 x\r\n\r\n";
	scan(&r, OP_HTTP_RESPONSE, NULL, head, false);
	CU_ASSERT_PTR_NULL(strstr(r.log, "S 76 60 HTTP/1.1 204 x\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
	head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 204 x\r\n\r\n";
	scan(&r, OP_HTTP_RESPONSE, NULL, head, false);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.log, "HTTP/1.1 204 x\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_START);
	/* Transfer-Encoding without chunked last: a response runs to the close... */
	head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 2\r\n\r\nokmore";
	scan(&r, OP_HTTP_RESPONSE, NULL, head, false);
	OP_ASSERT_INT(r.p.state, OP_HTTP_BODY_CLOSE);
	/* ...and a request cannot be framed. */
	head = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nxx";
	scan(&r, OP_HTTP_REQUEST, NULL, head, false);
	OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
	rec_free(&r);
}

/* ---- op_http_skip -------------------------------------------------------------- */

static void test_skip(void)
{
	static const char s[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
	static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
	struct rec r = { 0 };
	size_t before;

	/* Three bytes shown, seven sent by sendfile: the message ends there. */
	rec_begin(&r, OP_HTTP_RESPONSE, NULL, s, sizeof s - 1);
	feed(&r, 0, sizeof s - 1);
	op_http_feed(&r.p, "abc", 3, &cb, &r);
	before = r.len;
	op_http_skip(&r.p, 6, &cb, &r);
	CU_ASSERT_PTR_NULL(strstr(r.log + before, "M\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_BODY_LENGTH);
	OP_ASSERT_INT(r.p.pos, sizeof s - 1 + 9);
	op_http_skip(&r.p, 1, &cb, &r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.log + before, "M\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_START);
	OP_ASSERT_INT(r.p.pos, sizeof s - 1 + 10);
	/* And the next response is found. */
	op_http_feed(&r.p, "HTTP/1.1 204 No Content\r\n\r\n", 27, &cb, &r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.log, "S 74 49 HTTP/1.1 204 No Content\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_START);
	rec_free(&r);

	/* More skipped than the body holds: the message ends, the rest is lost. */
	rec_begin(&r, OP_HTTP_RESPONSE, NULL, s, sizeof s - 1);
	feed(&r, 0, sizeof s - 1);
	op_http_skip(&r.p, 11, &cb, &r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.log, "M\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
	OP_ASSERT_INT(r.p.pos, sizeof s - 1 + 11);
	rec_free(&r);

	/* Inside a chunk: the framing that follows is shown again. */
	rec_begin(&r, OP_HTTP_RESPONSE, NULL, chunked, sizeof chunked - 1);
	feed(&r, 0, sizeof chunked - 1);
	op_http_skip(&r.p, 5, &cb, &r);
	OP_ASSERT_INT(r.p.state, OP_HTTP_CHUNK_CRLF);
	op_http_feed(&r.p, "\r\n0\r\n\r\n", 7, &cb, &r);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.log, "M\n"));
	OP_ASSERT_INT(r.p.state, OP_HTTP_START);
	rec_free(&r);

	/* Outside a body the thread is lost. */
	rec_begin(&r, OP_HTTP_RESPONSE, NULL, s, sizeof s - 1);
	feed(&r, 0, 10);
	op_http_skip(&r.p, 5, &cb, &r);
	OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
	rec_free(&r);

	rec_begin(&r, OP_HTTP_RESPONSE, NULL, s, sizeof s - 1);
	op_http_skip(&r.p, 1, &cb, &r);
	OP_ASSERT_INT(r.p.state, OP_HTTP_DEAD);
	rec_free(&r);

	/* Skipping nothing changes nothing. */
	rec_begin(&r, OP_HTTP_RESPONSE, NULL, s, sizeof s - 1);
	op_http_skip(&r.p, 0, &cb, &r);
	OP_ASSERT_INT(r.p.state, OP_HTTP_START);
	OP_ASSERT_INT(r.p.pos, 0);
	rec_free(&r);
}

/* ---- the line parsers ------------------------------------------------------------ */

static void test_parse_request_line(void)
{
	static const char *const bad[] = {
		"", "GET", "GET ", "GET /", "GET / ", " GET / HTTP/1.1", "GET / HTTP/1.1 ",
		"GET  / HTTP/1.1", "GET /  HTTP/1.1", "GET / HTTP/2.0", "GET / HTTP/1.2",
		"GET / HTTP/1.", "GET / HTTP/1.11", "GET / HTTP/1", "GET / HTTPS/1.1",
		"GET\t/ HTTP/1.1", "GET /a\tb HTTP/1.1", "GET /a\x7f HTTP/1.1", "G@T / HTTP/1.1",
		"GET / http/1.1",
	};
	struct op_http_request_line rl;
	const char *line = "OPTIONS * HTTP/1.0";

	OP_ASSERT_INT(op_http_parse_request_line("GET /a/b?c=d%20e HTTP/1.1", 25, &rl), 0);
	OP_ASSERT_INT(rl.method_len, 3);
	CU_ASSERT_NSTRING_EQUAL(rl.method, "GET", 3);
	OP_ASSERT_INT(rl.target_len, 12);
	CU_ASSERT_NSTRING_EQUAL(rl.target, "/a/b?c=d%20e", 12);
	OP_ASSERT_INT(rl.minor, '1');

	OP_ASSERT_INT(op_http_parse_request_line(line, strlen(line), &rl), 0);
	CU_ASSERT_PTR_EQUAL(rl.method, line);
	OP_ASSERT_INT(rl.method_len, 7);
	CU_ASSERT_PTR_EQUAL(rl.target, line + 8);
	OP_ASSERT_INT(rl.target_len, 1);
	OP_ASSERT_INT(rl.minor, '0');

	/* Any token is a method; absolute and authority forms are targets. */
	OP_ASSERT_INT(op_http_parse_request_line("M-SEARCH * HTTP/1.1", 19, &rl), 0);
	OP_ASSERT_INT(op_http_parse_request_line("CONNECT db:5432 HTTP/1.1", 24, &rl), 0);
	CU_ASSERT_NSTRING_EQUAL(rl.target, "db:5432", 7);
	OP_ASSERT_INT(op_http_parse_request_line("GET http://h/x HTTP/1.1", 23, &rl), 0);
	OP_ASSERT_INT(rl.target_len, 10);

	/* `len` bounds the line: what follows it is not read. */
	OP_ASSERT_INT(op_http_parse_request_line("GET / HTTP/1.1garbage", 14, &rl), 0);
	OP_ASSERT_INT(op_http_parse_request_line("GET / HTTP/1.1", 13, &rl), -1);

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int got = op_http_parse_request_line(bad[i], strlen(bad[i]), &rl);

		if (got != -1)
			fprintf(stderr, "\n\"%s\" was accepted\n", bad[i]);
		OP_ASSERT_INT(got, -1);
	}
}

static void test_parse_status_line(void)
{
	static const struct { const char *line; int code; char minor; } cases[] = {
		{ "HTTP/1.1 200 OK", 200, '1' },
		{ "HTTP/1.0 404 Not Found", 404, '0' },
		{ "HTTP/1.1 101 Switching Protocols", 101, '1' },
		{ "HTTP/1.1 204", 204, '1' },
		{ "HTTP/1.1 500 ", 500, '1' },
		{ "HTTP/1.1 100 Continue", 100, '1' },
		{ "HTTP/1.1 599 x", 599, '1' },
	};
	static const char *const bad[] = {
		"", "HTTP/1.1", "HTTP/1.1 ", "HTTP/1.1 20", "HTTP/1.1 2000 OK", "HTTP/1.1 20x OK",
		"HTTP/1.1 099 x", "HTTP/2 200 OK", "HTTP/1.2 200 OK", "HTTP/1.1  200 OK",
		"http/1.1 200 OK", "HTTP/1.1 200\tOK", "ICY 200 OK", "HTTP/1.1 -20 OK",
	};
	char minor;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		minor = 'x';
		OP_ASSERT_INT(op_http_parse_status_line(cases[i].line, strlen(cases[i].line), &minor),
			      cases[i].code);
		OP_ASSERT_INT(minor, cases[i].minor);
	}
	/* `len` bounds the line. */
	OP_ASSERT_INT(op_http_parse_status_line("HTTP/1.1 2000", 12, &minor), 200);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int got = op_http_parse_status_line(bad[i], strlen(bad[i]), &minor);

		if (got != -1)
			fprintf(stderr, "\n\"%s\" gave %d\n", bad[i], got);
		OP_ASSERT_INT(got, -1);
	}
}

static void test_name_is(void)
{
	CU_ASSERT_TRUE(op_http_name_is("Content-Length", 14, "content-length"));
	CU_ASSERT_TRUE(op_http_name_is("CONTENT-LENGTH", 14, "content-length"));
	CU_ASSERT_TRUE(op_http_name_is("content-length", 14, "Content-Length"));
	CU_ASSERT_TRUE(op_http_name_is("Content-Length: 5", 14, "content-length"));
	CU_ASSERT_TRUE(op_http_name_is("", 0, ""));
	CU_ASSERT_FALSE(op_http_name_is("Content-Len", 11, "content-length"));
	CU_ASSERT_FALSE(op_http_name_is("Content-Lengths", 15, "content-length"));
	CU_ASSERT_FALSE(op_http_name_is("Content_Length", 14, "content-length"));
	CU_ASSERT_FALSE(op_http_name_is("", 0, "host"));
	CU_ASSERT_FALSE(op_http_name_is("host", 4, ""));
	/* Only ASCII letters fold: '[' is not '{'. */
	CU_ASSERT_FALSE(op_http_name_is("[", 1, "{"));
}

static void test_may_start(void)
{
	for (int c = 0; c < 256; c++) {
		bool req = c >= 'A' && c <= 'Z';

		if (op_http_may_start(OP_HTTP_REQUEST, (unsigned char)c) != req ||
		    op_http_may_start(OP_HTTP_RESPONSE, (unsigned char)c) != (c == 'H'))
			fprintf(stderr, "\nop_http_may_start wrong for byte 0x%02x\n", c);
		CU_ASSERT_EQUAL(op_http_may_start(OP_HTTP_REQUEST, (unsigned char)c), req);
		CU_ASSERT_EQUAL(op_http_may_start(OP_HTTP_RESPONSE, (unsigned char)c), c == 'H');
	}
}

/* url.full as the semantic conventions want it: userinfo and signature values redacted. */
static void test_redact_url(void)
{
	static const char *const cases[][2] = {
		{ "http://h/x", "http://h/x" },
		{ "http://u:p@h:8080/x?a=1", "http://REDACTED:REDACTED@h:8080/x?a=1" },
		{ "https://user@h/", "https://REDACTED:REDACTED@h/" },
		/* The last '@' ends the userinfo: nothing of the password is left. */
		{ "http://u:p@ss@h/x", "http://REDACTED:REDACTED@h/x" },
		{ "http://u:p@h", "http://REDACTED:REDACTED@h" },
		{ "http://u:p@h?sig=1", "http://REDACTED:REDACTED@h?sig=REDACTED" },
		/* An '@' after the authority is no userinfo. */
		{ "http://h/a@b?c=d@e", "http://h/a@b?c=d@e" },
		{ "http://h/p?color=blue&sig=secret", "http://h/p?color=blue&sig=REDACTED" },
		{ "http://h/p?AWSAccessKeyId=AKIA1&Signature=s2&Expires=3",
		  "http://h/p?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=3" },
		{ "https://h/o?X-Goog-Signature=abc&X-Goog-Date=1",
		  "https://h/o?X-Goog-Signature=REDACTED&X-Goog-Date=1" },
		{ "http://h/?sig=", "http://h/?sig=REDACTED" },
		{ "http://h/?sig", "http://h/?sig" },
		{ "http://h/?sig=a=b&&sig=c", "http://h/?sig=REDACTED&&sig=REDACTED" },
		/* Keys are compared exactly, as the services spell them. */
		{ "http://h/?SIG=a&signature=b&xsig=c&sig2=d", "http://h/?SIG=a&signature=b&xsig=c&sig2=d" },
		{ "http://h/?q=sig=x", "http://h/?q=sig=x" },
		{ "http://h/p?sig=abc#frag", "http://h/p?sig=REDACTED#frag" },
		{ "http://h/p#f?sig=abc", "http://h/p#f?sig=abc" },
		{ "http://h?", "http://h?" },
		/* No scheme: nothing is an authority, the query is still redacted. */
		{ "h/p?u=http://a:b@c&sig=1", "h/p?u=http://a:b@c&sig=REDACTED" },
		{ "", "" },
	};
	char out[256];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		op_http_redact_url(cases[i][0], out, sizeof out);
		OP_ASSERT_STR(out, cases[i][1]);
	}
}

/* Cut short, the result never holds more of a secret than the whole would. */
static void test_redact_url_cut(void)
{
	const char *url = "http://user:hunter2@h/p?sig=topsecret&a=1";
	const char *want = "http://REDACTED:REDACTED@h/p?sig=REDACTED&a=1";
	char out[128];

	for (size_t cap = 1; cap <= strlen(want) + 1; cap++) {
		memset(out, 'x', sizeof out);
		op_http_redact_url(url, out, cap);
		OP_ASSERT_INT(strlen(out), cap - 1);
		CU_ASSERT_EQUAL(strncmp(out, want, cap - 1), 0);
		CU_ASSERT_EQUAL(out[cap], 'x');
		CU_ASSERT_PTR_NULL(strstr(out, "hunter2"));
		CU_ASSERT_PTR_NULL(strstr(out, "topsecret"));
	}
	/* A long URL: every value of a secret key goes, however many. */
	{
		char big[8192], res[16384];
		size_t n = (size_t)snprintf(big, sizeof big, "http://h/p?");

		while (n + 32 < sizeof big)
			n += (size_t)snprintf(big + n, sizeof big - n, "sig=SECRET%04zu&x=1&", n);
		op_http_redact_url(big, res, sizeof res);
		CU_ASSERT_PTR_NULL(strstr(res, "SECRET"));
		CU_ASSERT_PTR_NOT_NULL(strstr(res, "sig=REDACTED&x=1&"));
	}
}

static void test_redact_query(void)
{
	char out[64];

	OP_ASSERT_INT(op_http_redact_query("a=1&sig=2", 9, out, sizeof out), 16);
	OP_ASSERT_STR(out, "a=1&sig=REDACTED");
	/* Only `len` bytes are read. */
	OP_ASSERT_INT(op_http_redact_query("Signature=x&rest", 11, out, sizeof out), 18);
	OP_ASSERT_STR(out, "Signature=REDACTED");
	OP_ASSERT_INT(op_http_redact_query("", 0, out, sizeof out), 0);
	OP_ASSERT_STR(out, "");
	OP_ASSERT_INT(op_http_redact_query("sig=abc", 7, out, 8), 7);
	OP_ASSERT_STR(out, "sig=RED");
}

/* A Host (or URL authority) with userinfo never names the server by it. */
static void test_split_host_userinfo(void)
{
	char name[64];
	int port;

	op_http_split_host("user:pw@example.com:8080", name, sizeof name, &port, 80);
	OP_ASSERT_STR(name, "example.com");
	OP_ASSERT_INT(port, 8080);
	op_http_split_host("a@b:c@[::1]:9", name, sizeof name, &port, 80);
	OP_ASSERT_STR(name, "::1");
	OP_ASSERT_INT(port, 9);
	op_http_split_host("user@", name, sizeof name, &port, 443);
	OP_ASSERT_STR(name, "");
	OP_ASSERT_INT(port, 443);
}

static CU_TestInfo tests[] = {
	{ "request with Content-Length", test_request_content_length },
	{ "request chunked with extensions and trailers", test_request_chunked },
	{ "chunked framing errors", test_chunked_framing_errors },
	{ "responses: length, none, 1xx, HEAD, chunked, close", test_responses },
	{ "close-delimited response ends on eof", test_close_delimited },
	{ "eof elsewhere", test_eof_elsewhere },
	{ "HEAD response has no body", test_head_response },
	{ "101 upgrade leaves HTTP", test_upgrade },
	{ "pipelined messages in one buffer", test_pipelined },
	{ "blank lines before a request", test_leading_blank_lines },
	{ "every split gives the same log", test_every_split },
	{ "pos at message end", test_pos_at_message_end },
	{ "offsets across feeds", test_offsets_across_feeds },
	{ "header line longer than OP_HTTP_LINE_MAX", test_long_header_line },
	{ "request line longer than OP_HTTP_LINE_MAX", test_long_request_line },
	{ "line of exactly OP_HTTP_LINE_MAX", test_line_at_limit },
	{ "not HTTP", test_not_http },
	{ "malformed request lines", test_malformed_request_lines },
	{ "Transfer-Encoding", test_transfer_encoding },
	{ "Content-Length values", test_content_length_values },
	{ "op_http_skip", test_skip },
	{ "op_http_parse_request_line", test_parse_request_line },
	{ "op_http_parse_status_line", test_parse_status_line },
	{ "op_http_name_is", test_name_is },
	{ "op_http_may_start", test_may_start },
	{ "op_http_redact_url", test_redact_url },
	{ "op_http_redact_url cut short", test_redact_url_cut },
	{ "op_http_redact_query", test_redact_query },
	{ "op_http_split_host with userinfo", test_split_host_userinfo },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("http", tests);
}
