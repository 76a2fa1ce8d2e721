/*
 * A streaming HTTP/1.x message scanner: it follows one direction of a
 * connection byte by byte, across any split of the stream into calls, and
 * reports the start line, each header, the end of the head and the end of
 * each message. It never copies more than one partial line (bounded by
 * OP_HTTP_LINE_MAX) and never changes the bytes it is shown.
 *
 * Framing follows RFC 9112: chunked (with trailers), Content-Length, or
 * (responses only) close-delimited; requests without either have no body.
 * Which responses have no body (HEAD, 1xx, 204, 304) and which end HTTP on
 * the connection (101, a 2xx to CONNECT) is the caller's knowledge, given
 * back from on_head_end.
 */
#ifndef OP_HTTP_H
#define OP_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Longest start or header line kept whole. Longer lines are still followed
 * (the stream stays in sync) but reported cut to this length.
 */
#define OP_HTTP_LINE_MAX 16384   /* a full W3C baggage header (8192 bytes of value) fits */

enum op_http_role {
	OP_HTTP_REQUEST,
	OP_HTTP_RESPONSE,
};

/* What on_head_end tells the scanner about the body that follows. */
enum op_http_body {
	OP_HTTP_BODY_FRAMED,   /* from the headers (chunked, length, or close) */
	OP_HTTP_BODY_NONE,     /* no body whatever the headers say */
	OP_HTTP_BODY_UPGRADE,  /* the bytes after the head are not HTTP any more */
};

struct op_http_cb {
	/* The start line, without CRLF. Return -1 when it is not HTTP/1.x. */
	int (*on_start)(void *arg, const char *line, size_t len);
	void (*on_header)(void *arg, const char *name, size_t nlen,
			  const char *value, size_t vlen);
	enum op_http_body (*on_head_end)(void *arg);
	void (*on_message_end)(void *arg);
};

enum op_http_state {
	OP_HTTP_START,         /* before a message: blank lines are skipped */
	OP_HTTP_LINE,          /* inside the start line */
	OP_HTTP_HEADERS,
	OP_HTTP_BODY_LENGTH,
	OP_HTTP_CHUNK_SIZE,
	OP_HTTP_CHUNK_DATA,
	OP_HTTP_CHUNK_CRLF,
	OP_HTTP_TRAILERS,
	OP_HTTP_BODY_CLOSE,    /* a response ending with the connection */
	OP_HTTP_DEAD,          /* not HTTP/1.x (any more): ignore the rest */
};

/*
 * The header names the library acts on, told apart by op_http_header_id().
 * Every request header goes through it once, so it dispatches on the
 * length and the first byte before comparing.
 */
enum op_http_hdr {
	OP_HDR_OTHER,
	OP_HDR_HOST,
	OP_HDR_USER_AGENT,
	OP_HDR_CONTENT_LENGTH,
	OP_HDR_TRANSFER_ENCODING,
	OP_HDR_TRACEPARENT,
	OP_HDR_TRACESTATE,
	OP_HDR_BAGGAGE,
	OP_HDR_B3,
	OP_HDR_X_B3_TRACEID,
	OP_HDR_X_B3_SPANID,
	OP_HDR_X_B3_SAMPLED,
	OP_HDR_X_B3_FLAGS,
	OP_HDR_X_B3_PARENTSPANID,
	OP_HDR_UBER_TRACE_ID,
	OP_HDR_UBERCTX,        /* "uberctx-" and at least one more byte */
};

/* Which of those `name` (`len` bytes, any case) is. */
enum op_http_hdr op_http_header_id(const char *name, size_t len);

struct op_http_parser {
	uint8_t role;          /* enum op_http_role */
	uint8_t state;         /* enum op_http_state */
	uint8_t hdr;           /* inside on_header: op_http_header_id() of the name */
	bool chunked;          /* the current head said Transfer-Encoding: chunked */
	bool has_te;           /* ...or any Transfer-Encoding at all */
	bool has_length;
	bool bad_length;       /* an invalid or conflicting Content-Length */
	bool line_cut;         /* the partial line outgrew OP_HTTP_LINE_MAX */
	uint64_t remaining;    /* body or chunk bytes still to come */
	/*
	 * Bytes of the stream followed so far. Inside on_start it is the
	 * offset just past the start line's '\n': where a header can go.
	 */
	uint64_t pos;
	/*
	 * Inside a callback, the stream offset of the line's first byte: a
	 * header value lies at line_pos + (value - name), unless the line was
	 * cut (line_cut).
	 */
	uint64_t line_pos;
	char *line;            /* partial line carried between calls (heap) */
	uint64_t line_total;   /* bytes of that line seen so far, kept or not */
	uint32_t line_len;
	uint32_t line_cap;
};

void op_http_init(struct op_http_parser *p, enum op_http_role role);
void op_http_free(struct op_http_parser *p);

/* Follows `n` more bytes of the stream. */
void op_http_feed(struct op_http_parser *p, const char *buf, size_t n,
		  const struct op_http_cb *cb, void *arg);

/*
 * `n` bytes went out without being shown (sendfile): fine inside a body,
 * anything else loses the thread of the stream and kills the scanner.
 */
void op_http_skip(struct op_http_parser *p, size_t n,
		  const struct op_http_cb *cb, void *arg);

/*
 * The stream ended. Returns true when that completed a close-delimited
 * message (on_message_end was called) or no message was under way.
 */
bool op_http_eof(struct op_http_parser *p, const struct op_http_cb *cb, void *arg);

/* True between messages: nothing of the next one seen yet. */
static inline bool op_http_idle(const struct op_http_parser *p)
{
	return p->state == OP_HTTP_START && p->line_total == 0;
}

/* Request line parts. Returns 0, or -1 when it is not "METHOD SP TARGET SP HTTP/1.x". */
struct op_http_request_line {
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	char minor;            /* '0' or '1' */
};
int op_http_parse_request_line(const char *line, size_t len, struct op_http_request_line *rl);

/* Status line: returns the status code, or -1 when it is not "HTTP/1.x NNN ...". */
int op_http_parse_status_line(const char *line, size_t len, char *minor);

/* Case-insensitive comparison of `len` bytes. */
bool op_http_name_eq(const char *s, const char *name, size_t len);

/*
 * Case-insensitive comparison of a header name of length `len` with the
 * string `name`. Inline, so a literal's length is known at compile time and
 * most names are told apart by their length alone (this runs for every
 * header of every request).
 */
static inline bool op_http_name_is(const char *s, size_t len, const char *name)
{
	return strlen(name) == len && op_http_name_eq(s, name, len);
}

/* A plausible first byte of an HTTP/1.x start line for `role`. */
bool op_http_may_start(enum op_http_role role, unsigned char c);

#endif
