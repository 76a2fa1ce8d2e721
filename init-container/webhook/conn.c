/*
 * One connection of otelpreload-webhook: the TLS handshake, then HTTP/1.1
 * requests with keep-alive until either side closes.
 *
 *   POST /mutate            AdmissionReview v1 in, AdmissionReview v1 out;
 *                           a pod without an annotation of its own is
 *                           selected by its namespace's (namespaces.c)
 *   POST /mutate-namespace  the same, for pods of a namespace that opted in
 *                           (the second webhook of deploy/, whose
 *                           namespaceSelector picked the namespace)
 *   GET|HEAD /healthz       200 while the process serves
 *   GET|HEAD /readyz        200, or 503 once SIGTERM has come
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * deadline of the phase (server.h), so a slow client is cut off. Bodies
 * need a Content-Length no larger than --max-body; anything this server
 * does not support is answered with a 4xx and the connection closed, and
 * only a request it has read whole keeps the connection open.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "server.h"

/* A request head: the API server's is about 300 bytes; 8 KiB is what
 * common servers accept by default (nginx's large_client_header_buffers). */
#define HEAD_MAX 8192
/* After an error answer, unread input is drained for this long (or this
 * much) before the close, so the client reads the answer instead of a
 * reset: a close with unread data makes the kernel send RST, and the client
 * may lose our response with it. */
#define LINGER_MS 1000
#define LINGER_BYTES (1u << 20)
/* Log fields cut to this length: a path is the client's text. */
#define LOG_PATH_MAX 80
#define LOG_UID_MAX 64

/* The answer when op_k8s_review() has no memory left: still allowed, so the
 * pod is created (the API server rejects the empty uid and, with
 * failurePolicy Ignore, admits the pod unmutated). */
static const char fallback_review[] =
	"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
	"\"response\":{\"uid\":\"\",\"allowed\":true}}";

/* What a namespace that opted in looks like to op_k8s_review(). */
static const char namespace_selected[] = "{\"otelpreload.dev/inject\":\"true\"}";

enum io { IO_OK, IO_EOF, IO_TIMEOUT, IO_ERROR };

struct conn {
	struct op_wh_conn *t;  /* the table's view */
	SSL *ssl;
	bool tls_up;  /* handshake done, no fatal error since: close_notify is due */
	/* Bytes read and not used yet: the head being read, then what followed
	 * it (the start of the body, a pipelined request). */
	char buf[HEAD_MAX];
	size_t len;
};

struct request {
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	size_t path_len;  /* the target up to '?' */
	bool http10;
	bool has_length;
	unsigned long long length;
	bool chunked;  /* any Transfer-Encoding */
	bool has_host;
	bool expect_continue;
	bool bad_expect;
	bool close;
	bool json;  /* no Content-Type, or application/json */
	size_t head_len;
};

int64_t op_wh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until `fd` is ready for `events`: false when `deadline` passes
 * first or poll() fails. Readiness includes errors and hang-ups, which the
 * next read or write then reports. */
static bool wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - op_wh_now_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (left <= 0)
			return false;
		r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return true;
		if (r == 0 || errno != EINTR)
			return false;
	}
}

/* One TLS operation (the handshake, a read or a write), repeated after
 * waiting for the socket as OpenSSL asks, until `deadline`. A fatal error
 * also ends the TLS session: no close_notify may follow it. */
enum tls_op { TLS_ACCEPT, TLS_READ, TLS_WRITE };

static enum io tls_io(struct conn *c, enum tls_op op, void *buf, int n, int *done,
		      int64_t deadline)
{
	for (;;) {
		int r, e;

		ERR_clear_error();
		switch (op) {
		case TLS_ACCEPT:
			r = SSL_accept(c->ssl);
			break;
		case TLS_READ:
			r = SSL_read(c->ssl, buf, n);
			break;
		default:
			r = SSL_write(c->ssl, buf, n);
			break;
		}
		if (r > 0) {
			if (done)
				*done = r;
			return IO_OK;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ) {
			if (!wait_fd(c->t->fd, POLLIN, deadline))
				return IO_TIMEOUT;
		} else if (e == SSL_ERROR_WANT_WRITE) {
			if (!wait_fd(c->t->fd, POLLOUT, deadline))
				return IO_TIMEOUT;
		} else if (e == SSL_ERROR_ZERO_RETURN) {
			return IO_EOF;
		} else if (e == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && r == 0) {
			return IO_EOF; /* closed without close_notify */
		} else {
			c->tls_up = false;
			return IO_ERROR;
		}
	}
}

static enum io write_all(struct conn *c, const void *p, size_t n, int64_t deadline)
{
	const char *s = p;

	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n, done = 0;
		enum io r = tls_io(c, TLS_WRITE, (void *)s, chunk, &done, deadline);

		if (r != IO_OK)
			return r;
		s += done;
		n -= (size_t)done;
	}
	return IO_OK;
}

/* Closes the connection's TLS (close_notify, best effort) and, when the
 * client may still be sending, drains its input for a moment (LINGER_MS)
 * so that our last answer is read rather than lost to a reset. */
static void finish(struct conn *c, bool linger)
{
	if (c->tls_up) {
		ERR_clear_error();
		SSL_shutdown(c->ssl);
	}
	if (linger && shutdown(c->t->fd, SHUT_WR) == 0) {
		int64_t deadline = op_wh_now_ms() + LINGER_MS;
		size_t drained = 0;
		char sink[4096];

		while (drained < LINGER_BYTES && wait_fd(c->t->fd, POLLIN, deadline)) {
			ssize_t r = read(c->t->fd, sink, sizeof sink);
			if (r > 0)
				drained += (size_t)r;
			else if (r == 0 || (errno != EINTR && errno != EAGAIN))
				break;
		}
	}
	SSL_free(c->ssl);
	op_wh_conn_done(c->t);
	free(c);
}

/* The path for the log: printable ASCII only, cut to LOG_PATH_MAX. */
static void log_path(char *out, size_t size, const char *p, size_t n)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 4 < size && i < LOG_PATH_MAX; i++)
		out[o++] = p[i] > 0x20 && p[i] < 0x7f ? p[i] : '?';
	if (i < n && o + 4 < size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, size, "-");
}

/* The uid of a review response, for the log: the value of its first "uid"
 * member (op_k8s_review() writes response.uid before any warning text),
 * characters outside a UUID's set replaced. */
static void log_uid(char *out, size_t size, const char *json, size_t n)
{
	const char *end = json + n, *p = memmem(json, n, "\"uid\"", 5);
	size_t o = 0;

	snprintf(out, size, "-");
	if (!p)
		return;
	p += 5;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p >= end || *p++ != ':')
		return;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	if (p >= end || *p++ != '"')
		return;
	for (; p < end && *p != '"' && o + 1 < size && o < LOG_UID_MAX; p++) {
		char ch = *p;
		bool ok = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
			  (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_' || ch == '.';
		out[o++] = ok ? ch : '?';
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, size, "\"\"");
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* Writes a response: `extra` is more header lines (each ending in CRLF).
 * `head_only` for HEAD requests. */
static enum io respond(struct conn *c, int status, const char *type, const char *extra,
		       const char *body, size_t body_len, bool head_only, bool keep)
{
	char head[512];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 %d %s\r\n"
			 "Content-Type: %s\r\n"
			 "Content-Length: %zu\r\n"
			 "%s"
			 "Connection: %s\r\n"
			 "\r\n",
			 status, reason_phrase(status), type, body_len, extra ? extra : "",
			 keep ? "keep-alive" : "close");
	int64_t deadline = op_wh_now_ms() + OP_WH_WRITE_MS;
	enum io r;

	if (n < 0 || (size_t)n >= sizeof head)
		return IO_ERROR;
	r = write_all(c, head, (size_t)n, deadline);
	if (r == IO_OK && !head_only && body_len > 0)
		r = write_all(c, body, body_len, deadline);
	return r;
}

static void log_request(struct conn *c, const struct request *q, int status, const char *more)
{
	char path[LOG_PATH_MAX + 8], method[16];

	log_path(method, sizeof method, q->method, q->method_len);
	log_path(path, sizeof path, q->target, q->path_len);
	fprintf(stderr, OP_WH_NAME ": %s %s %s %d%s%s\n", c->t->peer, method, path, status,
		more ? " " : "", more ? more : "");
}

/* An error answer: logged, written, and the connection closed. */
static void refuse(struct conn *c, const struct request *q, int status, const char *why,
		   const char *extra)
{
	char body[160];
	int n = snprintf(body, sizeof body, "%s\n", why);

	if (n < 0 || (size_t)n >= sizeof body)
		n = (int)strlen(body);
	log_request(c, q, status, why);
	respond(c, status, "text/plain; charset=utf-8", extra, body, (size_t)n, false, false);
}

static bool is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool token_eq(const char *p, size_t n, const char *word)
{
	return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/* Paths compare with case, methods and header names without. */
static bool path_eq(const struct request *q, const char *path)
{
	return strlen(path) == q->path_len && memcmp(q->target, path, q->path_len) == 0;
}

/* Whether the comma-separated list `v` (`n` bytes) holds `word`. */
static bool list_has(const char *v, size_t n, const char *word)
{
	const char *end = v + n;

	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v)), *e = comma ? comma : end;
		const char *s = v;

		while (s < e && (*s == ' ' || *s == '\t'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (token_eq(s, (size_t)(e - s), word))
			return true;
		v = comma ? comma + 1 : end;
	}
	return false;
}

/* Parses the head in c->buf (its end, CRLF CRLF, at head_len). Returns 0 or
 * the status to refuse it with; *why says why. */
static int parse_head(struct conn *c, struct request *q, const char **why)
{
	const char *p = c->buf, *end = c->buf + q->head_len - 2, *eol, *sp;

	/* request-line = method SP request-target SP HTTP-version */
	eol = memmem(p, (size_t)(end - p), "\r\n", 2);
	sp = memchr(p, ' ', (size_t)(eol - p));
	*why = "malformed request line";
	if (!sp || sp == p)
		return 400;
	q->method = p;
	q->method_len = (size_t)(sp - p);
	for (size_t i = 0; i < q->method_len; i++)
		if (!is_tchar((unsigned char)p[i]))
			return 400;
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(eol - p));
	if (!sp || sp == p)
		return 400;
	q->target = p;
	q->target_len = (size_t)(sp - p);
	for (size_t i = 0; i < q->target_len; i++)
		if ((unsigned char)p[i] <= 0x20 || p[i] == 0x7f)
			return 400;
	{
		const char *qm = memchr(p, '?', q->target_len);
		q->path_len = qm ? (size_t)(qm - p) : q->target_len;
	}
	p = sp + 1;
	if (eol - p == 8 && memcmp(p, "HTTP/1.1", 8) == 0) {
		q->http10 = false;
	} else if (eol - p == 8 && memcmp(p, "HTTP/1.0", 8) == 0) {
		q->http10 = true;
		q->close = true; /* no keep-alive for HTTP/1.0 */
	} else if (eol - p == 8 && strncmp(p, "HTTP/", 5) == 0) {
		*why = "only HTTP/1.1 and HTTP/1.0 are served";
		return 505;
	} else {
		return 400;
	}
	q->json = true;

	/* field-line = field-name ":" OWS field-value OWS, CRLF-terminated;
	 * no obsolete line folding, no bare CR or LF. */
	for (p = eol + 2; p < end; p = eol + 2) {
		const char *colon, *v, *ve;
		size_t nlen, vlen;

		eol = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
		colon = memchr(p, ':', (size_t)(eol - p));
		*why = "malformed header field";
		if (!colon || colon == p)
			return 400;
		nlen = (size_t)(colon - p);
		for (size_t i = 0; i < nlen; i++)
			if (!is_tchar((unsigned char)p[i]))
				return 400;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		vlen = (size_t)(ve - v);
		for (size_t i = 0; i < vlen; i++)
			if (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')
				return 400;

		if (token_eq(p, nlen, "content-length")) {
			unsigned long long n = 0;

			*why = "malformed content-length";
			if (vlen == 0 || vlen > 18)
				return 400;
			for (size_t i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9')
					return 400;
				n = n * 10 + (unsigned)(v[i] - '0');
			}
			if (q->has_length && n != q->length)
				return 400;
			q->has_length = true;
			q->length = n;
		} else if (token_eq(p, nlen, "transfer-encoding")) {
			q->chunked = true;
		} else if (token_eq(p, nlen, "host")) {
			q->has_host = true;
		} else if (token_eq(p, nlen, "connection")) {
			if (list_has(v, vlen, "close"))
				q->close = true;
		} else if (token_eq(p, nlen, "expect")) {
			if (token_eq(v, vlen, "100-continue"))
				q->expect_continue = true;
			else
				q->bad_expect = true;
		} else if (token_eq(p, nlen, "content-type")) {
			const char *semi = memchr(v, ';', vlen);
			const char *te = semi ? semi : v + vlen;

			while (te > v && (te[-1] == ' ' || te[-1] == '\t'))
				te--;
			q->json = token_eq(v, (size_t)(te - v), "application/json");
		}
	}
	if (!q->http10 && !q->has_host) {
		*why = "no host header";
		return 400;
	}
	return 0;
}

/* Drops the first `n` bytes of c->buf. */
static void consume(struct conn *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

/* Empty lines before a request line are ignored, as RFC 9112 (2.2) asks
 * of servers: some clients send a CRLF after a body. */
static void skip_empty_lines(struct conn *c)
{
	size_t n = 0;

	while (n < c->len && (c->buf[n] == '\r' || c->buf[n] == '\n'))
		n++;
	consume(c, n);
}

/* Reads until c->buf holds a whole head. */
static enum io read_head(struct conn *c, size_t *head_len, int64_t deadline)
{
	size_t scanned = 0;

	for (;;) {
		char *e;
		int got = 0;
		enum io r;

		if (scanned == 0)
			skip_empty_lines(c);
		if (c->len >= 4) {
			size_t from = scanned >= 3 ? scanned - 3 : 0;
			e = memmem(c->buf + from, c->len - from, "\r\n\r\n", 4);
			if (e) {
				*head_len = (size_t)(e - c->buf) + 4;
				return IO_OK;
			}
			scanned = c->len;
		}
		if (c->len == sizeof c->buf) {
			*head_len = 0; /* too large */
			return IO_OK;
		}
		r = tls_io(c, TLS_READ, c->buf + c->len, (int)(sizeof c->buf - c->len), &got,
			   deadline);
		if (r != IO_OK)
			return r;
		c->len += (size_t)got;
	}
}

/* POST /mutate: reads the body, asks op_k8s_review(), answers. Returns
 * whether the connection may serve another request. */
static bool mutate(struct conn *c, struct request *q, bool ns_selected, bool *linger)
{
	size_t n = (size_t)q->length, have, out_len = 0;
	char *body, *resp, more[LOG_UID_MAX + 160], uid[LOG_UID_MAX + 4];
	char ns[OP_K8S_NAMESPACE_MAX + 1], ns_annotations[OP_WH_NS_ANN_MAX];
	const char *why = NULL;
	struct op_k8s_options opt = op_wh_cfg.k8s;
	bool keep = !q->close && !op_wh_draining();
	enum io r = IO_OK;

	if (!op_wh_reserve_body(n)) {
		refuse(c, q, 503, "too many requests in progress", "Retry-After: 1\r\n");
		return false;
	}
	body = malloc(n ? n : 1);
	if (!body) {
		op_wh_release_body(n);
		refuse(c, q, 503, "out of memory", "Retry-After: 1\r\n");
		return false;
	}
	if (q->expect_continue && n > 0 && c->len == q->head_len) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		r = write_all(c, cont, sizeof cont - 1, op_wh_now_ms() + OP_WH_WRITE_MS);
	}
	have = c->len - q->head_len < n ? c->len - q->head_len : n;
	memcpy(body, c->buf + q->head_len, have);
	consume(c, q->head_len + have);
	{
		int64_t deadline = op_wh_now_ms() + OP_WH_BODY_MS;
		while (r == IO_OK && have < n) {
			size_t want = n - have;
			int got = 0;

			r = tls_io(c, TLS_READ, body + have, want > INT_MAX ? INT_MAX : (int)want,
				   &got, deadline);
			have += (size_t)got;
		}
	}
	if (r != IO_OK) {
		free(body);
		op_wh_release_body(n);
		*linger = false;
		if (r == IO_TIMEOUT) {
			refuse(c, q, 408, "the body did not arrive in time", NULL);
		} else {
			log_request(c, q, 400, op_wh_evicted(c->t) ? "closed by the server"
								   : "the body was cut short");
		}
		return false;
	}
	if (!op_wh_phase(c->t, OP_WH_WORKING))
		keep = false;
	if (ns_selected)
		opt.namespace_annotations = namespace_selected;
	else if (op_wh_ns_enabled() && op_k8s_review_namespace(body, n, ns, sizeof ns) &&
		 op_wh_ns_annotations(ns, ns_annotations, sizeof ns_annotations))
		opt.namespace_annotations = ns_annotations;
	resp = op_k8s_review(body, n, &opt, &out_len, &why);
	free(body);
	op_wh_release_body(n);
	if (!resp) {
		why = "out of memory";
		log_uid(uid, sizeof uid, "", 0);
	} else {
		log_uid(uid, sizeof uid, resp, out_len);
	}
	if (why)
		snprintf(more, sizeof more, "uid=%s not patched: %s", uid, why);
	else
		snprintf(more, sizeof more, "uid=%s patched", uid);
	log_request(c, q, 200, more);
	r = respond(c, 200, "application/json", NULL, resp ? resp : fallback_review,
		    resp ? out_len : sizeof fallback_review - 1, false, keep);
	free(resp);
	return r == IO_OK && keep;
}

/* GET /healthz and /readyz. */
static bool health(struct conn *c, struct request *q, bool ready_check)
{
	bool head_only = token_eq(q->method, q->method_len, "HEAD");
	bool ok = !ready_check || !op_wh_draining();
	/* A body on a GET is not read: answer, then close. */
	bool keep = !q->close && !q->has_length && !q->chunked && !op_wh_draining();
	const char *text = ok ? "ok\n" : "shutting down\n";

	log_request(c, q, ok ? 200 : 503, NULL);
	consume(c, q->head_len);
	return respond(c, ok ? 200 : 503, "text/plain; charset=utf-8", NULL, text, strlen(text),
		       head_only, keep) == IO_OK &&
	       keep;
}

/* Serves one request whose first bytes have arrived. Returns whether the
 * connection may serve another. */
static bool serve_request(struct conn *c, bool *linger)
{
	struct request q = { .method = "-", .method_len = 1, .target = "-", .path_len = 1 };
	int64_t deadline = op_wh_now_ms() + OP_WH_HEAD_MS;
	const char *why = NULL;
	enum io r;
	int status;
	bool is_mutate, is_ns, is_health, is_ready;

	/* Closing after an answer lingers (finish()) unless the client has
	 * stopped sending: it timed out, closed or broke the connection. */
	*linger = true;
	r = read_head(c, &q.head_len, deadline);
	if (r != IO_OK) {
		*linger = false;
		if (c->len == 0)
			return false; /* closed between requests: nothing to say */
		if (r == IO_TIMEOUT)
			refuse(c, &q, 408, "the request head did not arrive in time", NULL);
		else
			log_request(c, &q, 400, op_wh_evicted(c->t) ? "closed by the server"
								    : "the request head was cut short");
		return false;
	}
	if (q.head_len == 0) {
		refuse(c, &q, 431, "the request head is larger than 8 KiB", NULL);
		return false;
	}
	status = parse_head(c, &q, &why);
	if (status) {
		refuse(c, &q, status, why, NULL);
		return false;
	}

	is_mutate = path_eq(&q, "/mutate");
	is_ns = path_eq(&q, "/mutate-namespace");
	is_health = path_eq(&q, "/healthz");
	is_ready = path_eq(&q, "/readyz");
	if (is_health || is_ready) {
		if (!token_eq(q.method, q.method_len, "GET") &&
		    !token_eq(q.method, q.method_len, "HEAD")) {
			refuse(c, &q, 405, "use GET or HEAD", "Allow: GET, HEAD\r\n");
			return false;
		}
		return health(c, &q, is_ready);
	}
	if (!is_mutate && !is_ns) {
		refuse(c, &q, 404, "no such path (POST /mutate)", NULL);
		return false;
	}
	if (!token_eq(q.method, q.method_len, "POST")) {
		refuse(c, &q, 405, "use POST", "Allow: POST\r\n");
		return false;
	}
	if (q.chunked) {
		refuse(c, &q, 411, "send the body with a content-length, not a transfer-encoding",
		       NULL);
		return false;
	}
	if (!q.has_length) {
		refuse(c, &q, 411, "a content-length is required", NULL);
		return false;
	}
	if (q.bad_expect) {
		refuse(c, &q, 417, "only 100-continue is supported", NULL);
		return false;
	}
	if (!q.json) {
		refuse(c, &q, 415, "send application/json", NULL);
		return false;
	}
	if (q.length > op_wh_cfg.max_body) {
		char msg[96];
		snprintf(msg, sizeof msg, "the body is larger than --max-body (%zu bytes)",
			 op_wh_cfg.max_body);
		refuse(c, &q, 413, msg, NULL);
		return false;
	}
	return mutate(c, &q, is_ns, linger);
}

/* Why a handshake failed, for the log: OpenSSL's reason text (static, never
 * the client's bytes). */
static const char *handshake_reason(enum io r, char *buf, size_t size)
{
	unsigned long e = ERR_peek_error();

	if (r == IO_TIMEOUT)
		return "timed out";
	if (r == IO_EOF || !e)
		return "closed by the client";
	snprintf(buf, size, "%s", ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "?");
	return buf;
}

/* A plain HTTP request on the TLS port: say so in plain HTTP, best effort
 * (one non-blocking write), as nginx does. */
static void plain_http_answer(int fd)
{
	static const char msg[] = "HTTP/1.1 400 Bad Request\r\n"
				  "Content-Type: text/plain\r\n"
				  "Content-Length: 39\r\n"
				  "Connection: close\r\n"
				  "\r\n"
				  "this port speaks HTTPS, not plain HTTP\n";
	ssize_t r = send(fd, msg, sizeof msg - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)r;
}

void *op_wh_serve(void *arg)
{
	struct conn *c = calloc(1, sizeof *c);
	struct op_wh_conn *t = arg;
	int64_t deadline = op_wh_now_ms() + OP_WH_HANDSHAKE_MS;
	bool first = true, linger = false; /* see serve_request() */
	enum io r;

	if (!c || !(c->ssl = op_wh_certs_new_ssl()) || !SSL_set_fd(c->ssl, t->fd)) {
		fprintf(stderr, OP_WH_NAME ": %s: out of memory for the connection\n", t->peer);
		if (c)
			SSL_free(c->ssl);
		free(c);
		op_wh_conn_done(t);
		return NULL;
	}
	c->t = t;
	r = tls_io(c, TLS_ACCEPT, NULL, 0, NULL, deadline);
	if (r != IO_OK) {
		char why[128];
		unsigned long e = ERR_peek_error();

		bool plain = ERR_GET_LIB(e) == ERR_LIB_SSL &&
			     ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST;

		if (plain)
			plain_http_answer(t->fd);
		if (!op_wh_evicted(t))
			fprintf(stderr, OP_WH_NAME ": %s tls handshake failed: %s\n", t->peer,
				handshake_reason(r, why, sizeof why));
		ERR_clear_error();
		finish(c, plain);
		return NULL;
	}
	c->tls_up = true;
	for (;;) {
		skip_empty_lines(c);
		if (c->len == 0 && SSL_pending(c->ssl) == 0) {
			/* The first request comes right after the handshake; a
			 * kept-alive connection may wait longer for the next. */
			int64_t wait = first ? OP_WH_HEAD_MS : OP_WH_IDLE_MS;

			if (!op_wh_phase(t, OP_WH_IDLE))
				break;
			if (!wait_fd(t->fd, POLLIN, op_wh_now_ms() + wait))
				break;
		}
		if (!op_wh_phase(t, OP_WH_HEAD))
			break;
		first = false;
		if (!serve_request(c, &linger))
			break;
		linger = false;
	}
	finish(c, linger);
	return NULL;
}
