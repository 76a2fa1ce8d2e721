#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "codeattr.h"
#include "config.h"
#include "context.h"
#include "engine.h"
#include "http.h"
#include "op.h"
#include "propagate.h"
#include "real.h"
#include "sdk.h"
#include "span.h"

/*
 * Requests in flight on one connection (pipelining), and stream changes
 * waiting to go out (pipelined requests in one write). Both arrays grow on
 * demand up to these bounds; past them the connection is no longer traced.
 */
#define OP_PIPELINE_MAX 1024
#define OP_INJECT_MAX 1024
/* Bounded copies of the request head's fields, each cut at its bound. */
#define OP_METHOD_MAX 24
#define OP_HOST_MAX 256
#define OP_UA_MAX 512
#define OP_TARGET_MAX 2048
/* A mesh header's value passed on (OTELPRELOAD_FORWARD_HEADERS). */
#define OP_FORWARD_VALUE_MAX 1024
/* Header lines a request passes on (tracestate, baggage, uberctx-*, mesh headers). */
#define OP_INHERIT_MAX (2 * OP_BAGGAGE_MAX_BYTES)
/* Names of the propagation headers a client request already has, "\n"-separated. */
#define OP_SEEN_MAX 512
/* A url.full with its query redacted: REDACTED may be longer than what it replaces. */
#define OP_URL_BUF (2 * OP_TARGET_MAX + OP_HOST_MAX + 64)
/* iovecs the engine builds on the stack; more goes to the heap (up to IOV_MAX). */
#define OP_IOV_STACK 32

enum side { SIDE_CLIENT, SIDE_SERVER };

/* One request/response exchange, in the order requests went out or came in. */
struct txn {
	struct op_span *span;   /* NULL: not traced (ignored, or the app traces itself) */
	uint16_t status;
	bool head;              /* HEAD: the response has no body */
	bool connect;           /* CONNECT: a 2xx response starts a tunnel */
};

/*
 * A change to the outbound stream at an application offset: header bytes
 * inserted there, or (`replace`) the application's bytes [at, at + len)
 * sent as `bytes` instead, byte for byte, which count as its own.
 * Records are kept in stream order.
 */
struct inject {
	uint64_t at;            /* offset in the application's byte stream */
	char *bytes;            /* NULL until built (insertions: at the head's end) */
	uint32_t len;
	uint32_t cap;           /* insertion: the allocation behind `bytes` */
	uint32_t done;          /* insertion: bytes already taken by the kernel */
	bool replace;
	bool started;           /* some bytes are out: it can no longer be withdrawn */
	/* What an insertion is built from. */
	struct op_span_ctx ctx;
	bool debug;
	char *inherit;          /* the serving request's lines to pass on, or NULL */
};

/* The request head being scanned, until its end. */
struct head {
	char method[OP_METHOD_MAX];
	char *target;           /* heap, OP_TARGET_MAX at most */
	char minor;
	int64_t start_ns;
	int inject;             /* client: index in op_http.inj, or -1 */
	bool inject_out;        /* client: bytes of this head's header went out */
	size_t seen_len;        /* client: bytes used in `seen` */
	bool seen_full;         /* client: a name did not fit in `seen` */
	/* Server: what each format found, decided between at the head's end. */
	struct op_span_ctx tp, b3, jg;
	int tp_count;           /* traceparent headers: more than one is invalid */
	bool tp_ok, b3_ok, b3_debug, jg_ok, jg_debug;
	uint8_t b3m_trace[16], b3m_span[8];
	bool b3m_has_trace, b3m_has_span, b3m_debug;
	int b3m_sampled;        /* -1: not said */
	char *tracestate;       /* combined tracestate values (heap), or NULL */
	char *baggage;          /* combined baggage values (heap), or NULL */
	char *forward;          /* uberctx-* and mesh header lines (heap), or NULL */
	size_t forward_len;
	/* The string buffers last: head_reset() clears only their first byte. */
	char host[OP_HOST_MAX];
	char ua[OP_UA_MAX];
	/* Client: propagation header names the application's request has. */
	char seen[OP_SEEN_MAX];
	bool clean;             /* reset, and nothing written since: the next reset is free */
};

/*
 * A connection's HTTP state. `lock` must be held for every field except
 * `side` and `gen` (set at creation); it is never held across a system
 * call that may block (a reader blocked on it while a writer waits for the
 * peer would deadlock a program that works without us), and no other lock
 * is taken under it except the span pipeline's (queue, then worker).
 */
struct op_http {
	pthread_mutex_t lock;
	uint8_t side;
	unsigned gen;            /* fork generation that created it */
	bool dead;               /* no longer HTTP: nothing more is traced */
	bool tls;                /* the plaintext of a TLS session: https */
	int fd;                  /* the socket, for its peer's address; -1: none */
	struct op_fd *owner;
	struct op_http_parser req;   /* the request direction */
	struct op_http_parser resp;  /* the response direction */
	struct txn *q;           /* ring of q_cap */
	unsigned q_cap, q_head, q_len;
	struct head head;
	/* Where head.target is kept, reused by every request (OP_TARGET_MAX + 1 at most). */
	char *target_buf;
	uint32_t target_cap;
	char *url_buf;          /* client: a redacted url.full, OP_URL_BUF bytes, or NULL */
	/* Client: the outbound stream, in application bytes. */
	uint64_t out_sent;       /* taken by the kernel */
	struct inject *inj;      /* in stream order */
	unsigned inj_cap, n_inj;
	/* An insertion's buffer kept for the next one: no allocation per request. */
	char *spare;
	uint32_t spare_cap;
	/* The peer, looked up once. */
	bool peer_known;
	char peer[INET6_ADDRSTRLEN];
	int peer_port;
	/*
	 * Server: first byte of the request being read, when its head did not
	 * come whole in that read (else the head's end, in the same hook call,
	 * gives the time: one clock read less, and none for an unsampled span).
	 */
	int64_t in_first_ns;
};

/* Bumped in a forked child: state created before the fork is the parent's. */
static unsigned fork_gen;

void op_engine_atfork_child(void)
{
	fork_gen++;
}

static const char *const known_methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY",
};

bool op_http_method_known(const char *m)
{
	/* Most requests are GETs. */
	if (m[0] == 'G' && m[1] == 'E' && m[2] == 'T' && !m[3])
		return true;
	for (size_t i = 0; i < sizeof known_methods / sizeof known_methods[0]; i++)
		if (!strcmp(m, known_methods[i]))
			return true;
	return false;
}

static void copy_bounded(char *dst, size_t cap, const char *s, size_t len)
{
	if (len > cap - 1)
		len = cap - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static void peer_lookup(struct op_http *h)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int saved = errno;

	h->peer_known = true;
	h->peer[0] = '\0';
	if (h->fd >= 0 && getpeername(h->fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &in->sin_addr, h->peer, sizeof h->peer);
			h->peer_port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &in6->sin6_addr, h->peer, sizeof h->peer);
			h->peer_port = ntohs(in6->sin6_port);
		}
	}
	errno = saved;
}

/* ---- the transaction queue ---------------------------------------------- */

static struct txn *q_front(struct op_http *h)
{
	return h->q_len ? &h->q[h->q_head] : NULL;
}

static struct txn *q_push(struct op_http *h)
{
	struct txn *t;

	if (h->q_len == h->q_cap) {
		unsigned cap = h->q_cap ? h->q_cap * 2 : 4;
		struct txn *q;

		if (cap > OP_PIPELINE_MAX || !(q = malloc(cap * sizeof *q)))
			return NULL;
		for (unsigned i = 0; i < h->q_len; i++)
			q[i] = h->q[(h->q_head + i) % h->q_cap];
		free(h->q);
		h->q = q;
		h->q_cap = cap;
		h->q_head = 0;
	}
	t = &h->q[(h->q_head + h->q_len++) % h->q_cap];
	memset(t, 0, sizeof *t);
	return t;
}

static void q_pop(struct op_http *h)
{
	h->q_head = (h->q_head + 1) % h->q_cap;
	h->q_len--;
}

/* Room for one more stream change; NULL past OP_INJECT_MAX or out of memory. */
static struct inject *inj_add(struct op_http *h)
{
	struct inject *in;

	if (h->n_inj == h->inj_cap) {
		unsigned cap = h->inj_cap ? h->inj_cap * 2 : 2;
		struct inject *grown;

		if (cap > OP_INJECT_MAX || !(grown = realloc(h->inj, cap * sizeof *grown)))
			return NULL;
		h->inj = grown;
		h->inj_cap = cap;
	}
	in = &h->inj[h->n_inj];
	memset(in, 0, sizeof *in);
	return in;
}

static const char *errno_type(int err)
{
	switch (err) {
	case ECONNRESET: return "ECONNRESET";
	case EPIPE: return "EPIPE";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNABORTED: return "ECONNABORTED";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case ENETUNREACH: return "ENETUNREACH";
	case ENETDOWN: return "ENETDOWN";
	default: return "_OTHER";
	}
}

/* Ends an exchange: `status` from the response, or `error` when there is none. */
static void finish(struct op_http *h, struct txn *t, const char *error)
{
	struct op_span *s = t->span;

	t->span = NULL;
	if (!s)
		return;
	/* A non-recording span takes no attributes: none are built. */
	if (t->status && op_span_sampled(s)) {
		char code[8];

		op_span_set_int(s, "http.response.status_code", t->status);
		if (t->status >= (h->side == SIDE_CLIENT ? 400 : 500)) {
			snprintf(code, sizeof code, "%u", t->status);
			op_span_set_str(s, "error.type", code);
			op_span_set_status(s, OP_STATUS_ERROR, NULL);
		}
	}
	if (error && op_span_sampled(s)) {
		op_span_set_str(s, "error.type", error);
		op_span_set_status(s, OP_STATUS_ERROR, NULL);
	}
	if (h->side == SIDE_SERVER)
		op_context_clear_if(s->ctx.span_id);
	op_span_end(s);
}

/* Ends every open exchange, as the connection ends or stops being HTTP. */
static void finish_all(struct op_http *h, const char *error)
{
	while (h->q_len) {
		finish(h, q_front(h), error);
		q_pop(h);
	}
}

static void inject_free(struct op_http *h, struct inject *in)
{
	if (in->bytes && !in->replace && !h->spare) {
		h->spare = in->bytes;
		h->spare_cap = in->cap;
	} else if (in->bytes) {
		free(in->bytes);
	}
	if (in->inherit)
		free(in->inherit);
	in->bytes = in->inherit = NULL;
}

static void drop_injections(struct op_http *h)
{
	for (unsigned i = 0; i < h->n_inj; i++)
		inject_free(h, &h->inj[i]);
	h->n_inj = 0;
}

/*
 * An insertion the kernel has taken part of must be finished: the peer
 * already has the start of a header line. True while one is owed.
 */
static bool owes_insertion(const struct op_http *h)
{
	return h->n_inj && h->inj[0].started && h->inj[0].done < h->inj[0].len;
}

/* Drops the insertions not yet started, keeping one that is owed. */
static void drop_unstarted(struct op_http *h)
{
	unsigned keep = owes_insertion(h) ? 1 : 0;

	for (unsigned i = keep; i < h->n_inj; i++)
		inject_free(h, &h->inj[i]);
	h->n_inj = keep;
}

/*
 * Called with the lock held when the stream is no longer followed (not
 * HTTP after all, a pipeline past OP_PIPELINE_MAX). The open exchanges
 * have no outcome to report: their spans are dropped, not exported empty.
 */
static void go_dead(struct op_http *h)
{
	if (h->dead)
		return;
	h->dead = true;
	while (h->q_len) {
		struct txn *t = q_front(h);

		if (t->span && h->side == SIDE_SERVER)
			op_context_clear_if(t->span->ctx.span_id);
		op_span_free(t->span);
		t->span = NULL;
		q_pop(h);
	}
	drop_unstarted(h);
	atomic_store_explicit(&h->owner->proto, OP_PROTO_OTHER, memory_order_release);
}

/* ---- attributes ----------------------------------------------------------- */

static void set_method(struct op_span *s, const char *m)
{
	if (op_http_method_known(m)) {
		op_span_set_str(s, "http.request.method", m);
	} else {
		op_span_set_str(s, "http.request.method", "_OTHER");
		op_span_set_str(s, "http.request.method_original", m);
	}
}

/*
 * What strtol(s, &e, 10) would accept as a whole string and what is a port:
 * leading white space and a sign allowed, every other byte a digit, the
 * value in 1..65535. Else `def`.
 */
static int port_number(const char *s, int def)
{
	unsigned long v = 0;
	bool neg = false;
	const char *d;

	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (d = s; *s >= '0' && *s <= '9'; s++)
		if ((v = v * 10 + (unsigned long)(*s - '0')) > 65535)
			v = 65536;
	if (s == d || *s || neg || v == 0 || v > 65535)
		return def;
	return (int)v;
}

/* host[:port] from a Host header or a URL (IPv6 literals in brackets). */
void op_http_split_host(const char *host, char *name, size_t cap, int *port, int def)
{
	const char *colon = NULL, *end, *at;

	*port = def;
	/* "user:password@host" is not a Host (RFC 9110 7.2): never take userinfo for a name. */
	if ((at = strrchr(host, '@')))
		host = at + 1;
	if (host[0] == '[') {
		end = strchr(host, ']');
		if (!end) {
			copy_bounded(name, cap, host, strlen(host));
			return;
		}
		copy_bounded(name, cap, host + 1, (size_t)(end - host - 1));
		if (end[1] == ':')
			colon = end + 1;
	} else {
		colon = strchr(host, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;   /* a bare IPv6 address */
		copy_bounded(name, cap, host, colon ? (size_t)(colon - host) : strlen(host));
	}
	if (colon && colon[1])
		*port = port_number(colon + 1, *port);
}

static void set_peer(struct op_http *h, struct op_span *s)
{
	if (!h->peer_known)
		peer_lookup(h);
	if (!h->peer[0])
		return;
	op_span_set_str(s, "network.peer.address", h->peer);
	op_span_set_int(s, "network.peer.port", h->peer_port);
	if (h->side == SIDE_SERVER)
		op_span_set_str(s, "client.address", h->peer);
}

/*
 * Query keys whose values the semantic conventions (url.full, url.query)
 * replace with REDACTED: pre-signed URLs of S3 (AWSAccessKeyId,
 * Signature), Azure SAS tokens (sig) and Google Cloud Storage
 * (X-Goog-Signature). Compared exactly, as those services spell them.
 */
static const char *const secret_keys[] = { "AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature" };

static bool secret_key(const char *k, size_t len)
{
	for (size_t i = 0; i < sizeof secret_keys / sizeof secret_keys[0]; i++)
		if (strlen(secret_keys[i]) == len && !memcmp(k, secret_keys[i], len))
			return true;
	return false;
}

/* Appends `n` bytes of `s` to out[*len], cut at `cap` - 1 (room for the NUL). */
static void put_cut(char *out, size_t cap, size_t *len, const char *s, size_t n)
{
	if (n > cap - 1 - *len)
		n = cap - 1 - *len;
	memcpy(out + *len, s, n);
	*len += n;
}

size_t op_http_redact_query(const char *q, size_t qlen, char *out, size_t cap)
{
	size_t len = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < qlen;) {
		size_t n = i, klen;
		const char *eq;

		while (n < qlen && q[n] != '&')
			n++;
		eq = memchr(q + i, '=', n - i);
		klen = eq ? (size_t)(eq - (q + i)) : n - i;
		if (eq && secret_key(q + i, klen)) {
			put_cut(out, cap, &len, q + i, klen + 1);
			put_cut(out, cap, &len, "REDACTED", 8);
		} else {
			put_cut(out, cap, &len, q + i, n - i);
		}
		if (n < qlen)
			put_cut(out, cap, &len, "&", 1);
		i = n + 1;
	}
	out[len] = '\0';
	return len;
}

/* Length of "scheme://" at the start of `url`, or 0 when it has none. */
static size_t scheme_prefix(const char *url)
{
	size_t i = 0;

	while ((url[i] >= 'a' && url[i] <= 'z') || (url[i] >= 'A' && url[i] <= 'Z') ||
	       (i > 0 && ((url[i] >= '0' && url[i] <= '9') || url[i] == '+' || url[i] == '-' ||
			  url[i] == '.')))
		i++;
	return i > 0 && !strncmp(url + i, "://", 3) ? i + 3 : 0;
}

/*
 * The semantic conventions' url.full: user:password@ (any userinfo) becomes
 * REDACTED:REDACTED@, and the values of the secret query keys REDACTED;
 * everything else is kept, the key names included. Cut at `cap` - 1 bytes;
 * a cut never shows more of a secret than the whole would.
 */
void op_http_redact_url(const char *url, char *out, size_t cap)
{
	size_t pre = scheme_prefix(url), len = 0, alen, plen;
	const char *auth = url + pre, *at = NULL, *rest, *frag;

	if (!cap)
		return;
	alen = pre ? strcspn(auth, "/?#") : 0;
	/* The last '@': an unencoded '@' in a password must not leave its tail behind. */
	for (size_t i = 0; i < alen; i++)
		if (auth[i] == '@')
			at = auth + i;
	put_cut(out, cap, &len, url, pre);
	if (at) {
		put_cut(out, cap, &len, "REDACTED:REDACTED@", 18);
		put_cut(out, cap, &len, at + 1, (size_t)(auth + alen - at - 1));
	} else {
		put_cut(out, cap, &len, auth, alen);
	}
	rest = auth + alen;
	plen = strcspn(rest, "?#");
	put_cut(out, cap, &len, rest, plen);
	rest += plen;
	if (*rest == '?') {
		size_t qlen = strcspn(rest + 1, "#");

		put_cut(out, cap, &len, "?", 1);
		len += op_http_redact_query(rest + 1, qlen, out + len, cap - len);
		rest += 1 + qlen;
	}
	frag = rest;
	put_cut(out, cap, &len, frag, strlen(frag));
	out[len] = '\0';
}

static void set_url_full(struct op_http *h, struct op_span *s, const char *scheme,
			 const char *host, const char *target)
{
	char url[OP_TARGET_MAX + OP_HOST_MAX + 64], *shown;
	size_t sl = strlen(scheme), hl = 0, tl = 0;

	if (!strncmp(target, "http://", 7) || !strncmp(target, "https://", 8)) {
		op_http_redact_url(target, url, sizeof url);
		op_span_set_str(s, "url.full", url);
		return;
	}
	/* The common case, per request: plain copies, no format parsing. */
	hl = strlen(host);
	if (target[0] != '/')
		target = "/";
	tl = strlen(target);
	if (hl > OP_HOST_MAX + 48)
		hl = OP_HOST_MAX + 48;
	if (tl > OP_TARGET_MAX)
		tl = OP_TARGET_MAX;
	memcpy(url, scheme, sl);
	memcpy(url + sl, "://", 3);
	memcpy(url + sl + 3, host, hl);
	memcpy(url + sl + 3 + hl, target, tl);
	url[sl + 3 + hl + tl] = '\0';
	/*
	 * Only a query (or a Host with userinfo) can hold what must be
	 * redacted; REDACTED may be longer than what it replaces, hence a
	 * larger buffer, off the application's stack: the connection's, kept
	 * for its next request. Without it, no url.full.
	 */
	if (!memchr(target, '?', tl) && !memchr(host, '@', hl)) {
		op_span_set_str(s, "url.full", url);
	} else if ((shown = h->url_buf) || (shown = h->url_buf = malloc(OP_URL_BUF))) {
		op_http_redact_url(url, shown, OP_URL_BUF);
		op_span_set_str(s, "url.full", shown);
	}
}

static const char *scheme_of(const struct op_http *h)
{
	return h->tls ? "https" : "http";
}

static void set_protocol(const struct head *hd, struct op_span *s)
{
	op_span_set_str(s, "network.protocol.name", "http");
	op_span_set_str(s, "network.protocol.version", hd->minor == '0' ? "1.0" : "1.1");
}

static void client_attributes(struct op_http *h, struct op_span *s)
{
	struct head *hd = &h->head;
	char name[OP_HOST_MAX], peer_hostport[OP_HOST_MAX + 48];
	const char *target = hd->target ? hd->target : "/", *hostport = hd->host;
	int port;

	set_peer(h, s);
	set_method(s, hd->method);
	if (hd->host[0]) {
		op_http_split_host(hd->host, name, sizeof name, &port, h->tls ? 443 : 80);
	} else {
		char *hostport_buf = peer_hostport;

		snprintf(name, sizeof name, "%s", h->peer);
		port = h->peer_port;
		if (strchr(h->peer, ':'))
			snprintf(hostport_buf, sizeof peer_hostport, "[%s]:%d", h->peer, port);
		else
			snprintf(hostport_buf, sizeof peer_hostport, "%s:%d", h->peer, port);
		hostport = hostport_buf;
	}
	if (name[0]) {
		op_span_set_str(s, "server.address", name);
		op_span_set_int(s, "server.port", port);
	}
	set_url_full(h, s, scheme_of(h), hostport, target);
	op_span_set_str(s, "url.scheme", scheme_of(h));
	set_protocol(hd, s);
	if (hd->ua[0])
		op_span_set_str(s, "user_agent.original", hd->ua);
}

static void server_attributes(struct op_http *h, struct op_span *s)
{
	struct head *hd = &h->head;
	const char *target = hd->target ? hd->target : "/", *q;
	char name[OP_HOST_MAX], query[OP_TARGET_MAX + 256];
	size_t pre = scheme_prefix(target);
	int port;

	/* An absolute-form target (a proxy's request): the path starts after the authority. */
	if (pre)
		target += pre + strcspn(target + pre, "/?#");
	q = strchr(target, '?');
	set_method(s, hd->method);
	op_span_set_str(s, "url.scheme", scheme_of(h));
	if (target[0] && target[0] != '?')
		op_span_set_strn(s, "url.path", target, q ? (size_t)(q - target) : strlen(target));
	if (q && q[1]) {
		op_http_redact_query(q + 1, strlen(q + 1), query, sizeof query);
		op_span_set_str(s, "url.query", query);
	}
	if (hd->host[0]) {
		op_http_split_host(hd->host, name, sizeof name, &port, h->tls ? 443 : 80);
		op_span_set_str(s, "server.address", name);
		op_span_set_int(s, "server.port", port);
	}
	set_peer(h, s);
	set_protocol(hd, s);
	if (hd->ua[0])
		op_span_set_str(s, "user_agent.original", hd->ua);
}

/* ---- the request direction ------------------------------------------------ */

static void head_reset(struct head *hd)
{
	if (hd->clean)
		return;
	/* Most requests have none of these: no call at all then. */
	if (hd->tracestate)
		free(hd->tracestate);
	if (hd->baggage)
		free(hd->baggage);
	if (hd->forward)
		free(hd->forward);
	/*
	 * Everything up to the string buffers is cleared; the buffers only
	 * need their first byte (this runs twice per request, and the buffers
	 * are over a kilobyte).
	 */
	memset(hd, 0, offsetof(struct head, host));
	hd->host[0] = hd->ua[0] = hd->seen[0] = '\0';
	hd->seen_full = false;
	hd->inject = -1;
	hd->b3m_sampled = -1;
	hd->clean = true;
}

/*
 * Appends `v` to a comma-joined value (a header sent more than once),
 * bounded. A value with a control character other than HTAB, or a byte
 * past ASCII, is not joined (tracestate and baggage are ASCII); HTAB, only
 * ever whitespace around list members, becomes a space.
 */
static void join_value(char **dst, const char *v, size_t vlen, size_t max)
{
	size_t old = *dst ? strlen(*dst) : 0;
	char *grown;

	for (size_t i = 0; i < vlen; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || (unsigned char)v[i] > 0x7e)
			return;
	if (old + (old ? 1 : 0) + vlen > max || !(grown = realloc(*dst, old + vlen + 2)))
		return;
	if (old)
		grown[old++] = ',';
	for (size_t i = 0; i < vlen; i++)
		grown[old + i] = v[i] == '\t' ? ' ' : v[i];
	grown[old + vlen] = '\0';
	*dst = grown;
}

/* `forward` has a line for `name` already (names compared without case). */
static bool forward_has(const struct head *hd, const char *name, size_t nlen)
{
	for (const char *l = hd->forward; l && *l;) {
		const char *end = strstr(l, "\r\n");

		if (!strncasecmp(l, name, nlen) && l[nlen] == ':')
			return true;
		if (!end)
			break;
		l = end + 2;
	}
	return false;
}

/*
 * Appends "name: value\r\n" to the lines the request passes on, bounded;
 * a repeated name is passed on once, with its first value.
 */
static void add_forward(struct head *hd, const char *name, size_t nlen, const char *v, size_t vlen)
{
	size_t need = nlen + vlen + 4;
	char *grown;

	if (forward_has(hd, name, nlen) || hd->forward_len + need > OP_INHERIT_MAX ||
	    !(grown = realloc(hd->forward, hd->forward_len + need + 1)))
		return;
	hd->forward = grown;
	memcpy(grown + hd->forward_len, name, nlen);
	memcpy(grown + hd->forward_len + nlen, ": ", 2);
	memcpy(grown + hd->forward_len + nlen + 2, v, vlen);
	memcpy(grown + hd->forward_len + nlen + 2 + vlen, "\r\n", 3);
	hd->forward_len += need;
}

/* RFC 9110 token characters only. */
static bool token_name(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c && strchr("!#$%&'*+-.^_`|~", c))))
			return false;
	}
	return len > 0;
}

/*
 * The request already has header `name`, in any case: the seen names are
 * lower case, a forwarded name keeps the spelling it came with.
 */
static bool seen_has(const struct head *hd, const char *name, size_t nlen)
{
	const char *p = hd->seen;

	/* Names were lost: claim them all rather than risk sending one twice. */
	if (hd->seen_full)
		return true;
	if (!hd->seen_len)
		return false;
	while ((p = strstr(p, "\n")) && p[1]) {
		if (!strncasecmp(p + 1, name, nlen) && p[1 + nlen] == '\n')
			return true;
		p++;
	}
	return false;
}

static bool has_prop(enum op_propagator p)
{
	return (op_cfg.propagator_bits >> p) & 1;
}

static inline bool is_forwarded_name(const char *name, size_t nlen)
{
	unsigned char c0 = nlen ? (unsigned char)name[0] : 0;

	if (c0 >= 'A' && c0 <= 'Z')
		c0 = (unsigned char)(c0 + ('a' - 'A'));
	/* The configured names are lower case: the first byte rules most out. */
	for (char **f = op_cfg.forward_headers; f && *f; f++)
		if ((unsigned char)(*f)[0] == c0 && op_http_name_is(name, nlen, *f))
			return true;
	return false;
}

/*
 * A name op_propagation_lines() may ask about: a header some propagator
 * writes, or one the serving request passes on (uberctx-*, the configured
 * forwarded names). Only these are kept in `seen`, so no number of other
 * headers can crowd them out.
 */
static bool propagation_name(enum op_http_hdr id, const char *name, size_t nlen)
{
	switch (id) {
	case OP_HDR_TRACEPARENT:
	case OP_HDR_TRACESTATE:
	case OP_HDR_BAGGAGE:
	case OP_HDR_B3:
	case OP_HDR_X_B3_TRACEID:
	case OP_HDR_X_B3_SPANID:
	case OP_HDR_X_B3_SAMPLED:
	case OP_HDR_X_B3_FLAGS:
	case OP_HDR_X_B3_PARENTSPANID:
	case OP_HDR_UBER_TRACE_ID:
		return true;
	case OP_HDR_UBERCTX:
		return token_name(name, nlen);
	default:
		return is_forwarded_name(name, nlen);
	}
}

/* `id` is op_http_header_id(name, nlen). */
static void seen_add(struct head *hd, enum op_http_hdr id, const char *name, size_t nlen)
{
	if (!propagation_name(id, name, nlen))
		return;
	if (hd->seen_len + nlen + 2 > OP_SEEN_MAX) {
		hd->seen_full = true;
		return;
	}
	if (!hd->seen_len)
		hd->seen[hd->seen_len++] = '\n';
	for (size_t i = 0; i < nlen; i++) {
		char c = name[i];

		hd->seen[hd->seen_len++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	hd->seen[hd->seen_len++] = '\n';
	hd->seen[hd->seen_len] = '\0';
}

/* Appends a formatted line to a growable buffer; false when out of memory. */
static inline bool put_line(char **buf, size_t *len, size_t *cap, const char *line, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		char *grown;

		while (c < *len + n + 1)
			c *= 2;
		if (!(grown = realloc(*buf, c)))
			return false;
		*buf = grown;
		*cap = c;
	}
	memcpy(*buf + *len, line, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

/*
 * The header lines one outbound request gets: its span's context in every
 * configured format, then what the serving request passes on, leaving out
 * every header the application's request already has, written into `buf`
 * (heap, *bufcap bytes; NULL and 0 for a new one), which it may grow.
 * Returns the string (maybe empty), its allocation's size in *bufcap, or
 * NULL when out of memory. The engine hands it the buffer of the
 * connection's previous request.
 */
static char *lines_into(char *buf, size_t *bufcap, const struct op_span_ctx *ctx, bool debug,
			const char *inherit, bool (*has)(void *arg, const char *name, size_t nlen),
			void *arg, uint32_t *out_len)
{
	char trace[33], span[17], line[160];
	size_t len = 0, cap = *bufcap;
	bool sampled = (ctx->flags & OP_TRACE_FLAG_SAMPLED) != 0;
	int n;

	if (op_cfg.propagator_bits & ((1u << OP_PROP_B3) | (1u << OP_PROP_B3MULTI) | (1u << OP_PROP_JAEGER)))
		op_hex_ids(ctx, trace, span);
	if (!put_line(&buf, &len, &cap, "", 0))
		return NULL;
	if (has_prop(OP_PROP_TRACECONTEXT) && !has(arg, "traceparent", 11)) {
		/* "traceparent: " + 55 + CRLF, assembled without printf. */
		memcpy(line, "traceparent: ", 13);
		op_traceparent_format(ctx, line + 13);
		memcpy(line + 13 + OP_TRACEPARENT_LEN, "\r\n", 2);
		put_line(&buf, &len, &cap, line, 13 + OP_TRACEPARENT_LEN + 2);
	}
	if (has_prop(OP_PROP_B3) && !has(arg, "b3", 2)) {
		n = snprintf(line, sizeof line, "b3: %s-%s-%s\r\n", trace, span,
			     debug ? "d" : sampled ? "1" : "0");
		put_line(&buf, &len, &cap, line, (size_t)n);
	}
	/* The group goes in whole or not at all: one of its headers from the application wins. */
	if (has_prop(OP_PROP_B3MULTI) && !has(arg, "x-b3-traceid", 12) &&
	    !has(arg, "x-b3-spanid", 11) && !has(arg, "x-b3-sampled", 12) &&
	    !has(arg, "x-b3-flags", 10) && !has(arg, "x-b3-parentspanid", 17)) {
		n = snprintf(line, sizeof line, "x-b3-traceid: %s\r\nx-b3-spanid: %s\r\n%s\r\n",
			     trace, span, debug ? "x-b3-flags: 1" : sampled ? "x-b3-sampled: 1"
									: "x-b3-sampled: 0");
		put_line(&buf, &len, &cap, line, (size_t)n);
	}
	if (has_prop(OP_PROP_JAEGER) && !has(arg, "uber-trace-id", 13)) {
		n = snprintf(line, sizeof line, "uber-trace-id: %s:%s:0:%d\r\n", trace, span,
			     debug ? 3 : sampled ? 1 : 0);
		put_line(&buf, &len, &cap, line, (size_t)n);
	}
	/* The serving request's lines, each unless the application sends its own. */
	for (const char *l = inherit; l && *l;) {
		const char *colon = strchr(l, ':'), *end = strstr(l, "\r\n");

		if (!colon || !end)
			break;
		if (!has(arg, l, (size_t)(colon - l)))
			put_line(&buf, &len, &cap, l, (size_t)(end + 2 - l));
		l = end + 2;
	}
	*out_len = (uint32_t)len;
	*bufcap = cap;
	return buf;
}

char *op_propagation_lines(const struct op_span_ctx *ctx, bool debug, const char *inherit,
			   bool (*has)(void *arg, const char *name, size_t nlen), void *arg,
			   uint32_t *out_len)
{
	size_t cap = 0;

	return lines_into(NULL, &cap, ctx, debug, inherit, has, arg, out_len);
}

static bool head_has(void *arg, const char *name, size_t nlen)
{
	return seen_has(arg, name, nlen);
}

/*
 * A request line cut at OP_HTTP_LINE_MAX (a very long URL) lost its
 * version: take the method and the start of the target, and assume 1.1.
 */
static bool lenient_request_line(struct op_http *h, const char *line, size_t len,
				 struct op_http_request_line *rl)
{
	const char *sp = memchr(line, ' ', len);

	if (!h->req.line_cut || !sp || sp == line || (size_t)(sp - line) >= OP_METHOD_MAX)
		return false;
	for (const char *c = line; c < sp; c++)
		if (*c < 'A' || *c > 'Z')
			return false;
	rl->method = line;
	rl->method_len = (size_t)(sp - line);
	rl->target = sp + 1;
	rl->target_len = len - rl->method_len - 1;
	rl->minor = '1';
	return true;
}

/* Requests may be ignored by their path or user agent (OTELPRELOAD_IGNORE_*). */
static bool ignore_configured(void)
{
	return (op_cfg.ignore_paths && *op_cfg.ignore_paths) ||
	       (op_cfg.ignore_user_agents && *op_cfg.ignore_user_agents);
}

/*
 * The head's strings (target, Host, User-Agent) are wanted: on a server
 * always (its span is decided at the head's end), on a client only for a
 * recording span's attributes or the ignore rules. `t` is the request's
 * exchange.
 */
static bool head_strings_wanted(const struct op_http *h, const struct txn *t)
{
	return h->side == SIDE_SERVER || (t && op_span_sampled(t->span)) || ignore_configured();
}

/*
 * The request target as a string (cut at OP_TARGET_MAX; a NUL in it, which
 * only a cut line can bring, ends it), in the connection's buffer.
 */
static void keep_target(struct op_http *h, const char *target, size_t len)
{
	const char *nul = h->req.line_cut ? memchr(target, '\0', len) : NULL;

	if (nul)
		len = (size_t)(nul - target);
	if (len > OP_TARGET_MAX)
		len = OP_TARGET_MAX;
	if (len + 1 > h->target_cap) {
		uint32_t cap = h->target_cap ? h->target_cap : 64;
		char *grown;

		while (cap < len + 1)
			cap *= 2;
		if (!(grown = realloc(h->target_buf, cap))) {
			h->head.target = NULL;
			return;
		}
		h->target_buf = grown;
		h->target_cap = cap;
	}
	memcpy(h->target_buf, target, len);
	h->target_buf[len] = '\0';
	h->head.target = h->target_buf;
}

static int req_start(void *arg, const char *line, size_t len)
{
	struct op_http *h = arg;
	struct op_http_request_line rl;
	struct txn *t;

	if (op_http_parse_request_line(line, len, &rl) < 0 && !lenient_request_line(h, line, len, &rl))
		return -1;
	head_reset(&h->head);
	h->head.clean = false;
	copy_bounded(h->head.method, sizeof h->head.method, rl.method, rl.method_len);
	h->head.minor = rl.minor;
	t = q_push(h);
	if (!t)
		return -1;     /* too deep a pipeline: stop tracing this connection */
	t->head = rl.method_len == 4 && !memcmp(rl.method, "HEAD", 4);
	t->connect = rl.method_len == 7 && !memcmp(rl.method, "CONNECT", 7);
	if (h->side == SIDE_SERVER) {
		keep_target(h, rl.target, rl.target_len);
		/* 0: the head's end (or op_engine_recv, if it comes later) reads the clock. */
		h->head.start_ns = h->in_first_ns;
		return 0;
	}

	/*
	 * Client: the span exists from the request line on, because the
	 * header naming it goes right after that line, before the rest of the
	 * head has even been seen.
	 */
	{
		const char *inherit = NULL;
		bool debug = false;
		const struct op_span_ctx *parent = op_context_get(&inherit, &debug);
		struct inject *in;

		t->span = op_span_start(op_http_method_known(h->head.method) ? h->head.method : "HTTP",
					OP_SPAN_KIND_CLIENT, parent);
		/* The application's call site (OTELPRELOAD_CODE_ATTRIBUTES): on its thread, its stack. */
		op_code_capture(t->span);
		if (head_strings_wanted(h, t))
			keep_target(h, rl.target, rl.target_len);
		if (!t->span || (!op_cfg.n_propagators && !inherit))
			return 0;
		if (!(in = inj_add(h)))
			return 0;
		/* Built once the head (or this write of it) has been seen: see build_injection. */
		in->at = h->req.pos;
		in->ctx = t->span->ctx;
		in->debug = debug;
		in->inherit = inherit ? strdup(inherit) : NULL;
		h->head.inject = (int)h->n_inj++;
	}
	return 0;
}

static struct txn *q_back(struct op_http *h)
{
	return h->q_len ? &h->q[(h->q_head + h->q_len - 1) % h->q_cap] : NULL;
}

/* Some of the current head's header is on the wire: it can no longer be taken back. */
static bool header_out(struct op_http *h)
{
	return h->head.inject_out || (h->head.inject >= 0 && h->inj[h->head.inject].started);
}

/*
 * Takes back the current head's insertion if none of it has gone out.
 * Returns true when nothing of it remains planned.
 */
static bool unplan(struct op_http *h)
{
	int i = h->head.inject;

	if (header_out(h))
		return false;
	if (i < 0)
		return true;
	inject_free(h, &h->inj[i]);
	memmove(&h->inj[i], &h->inj[i + 1], (h->n_inj - (unsigned)i - 1) * sizeof h->inj[0]);
	h->n_inj--;
	h->head.inject = -1;
	return true;
}

/*
 * The outbound request already has a traceparent. When it is the one this
 * thread's request came in with, the application is a proxy forwarding
 * headers: the value is replaced by our client span's (same length, so
 * the application's byte counts hold) and the trace stays connected.
 * Otherwise the application traces itself: our header and span go.
 */
static void client_traceparent(struct op_http *h, const char *name, const char *v, size_t vlen)
{
	struct txn *t = q_back(h);
	struct op_span_ctx out;
	uint64_t at = h->req.line_pos + (uint64_t)(v - name);
	char tp[OP_TRACEPARENT_LEN + 1];

	if (t && t->span && vlen == OP_TRACEPARENT_LEN && !h->req.line_cut &&
	    at >= h->out_sent && op_traceparent_parse(v, vlen, &out) == 0 &&
	    op_context_forwarded(&out)) {
		int i = h->head.inject;
		struct inject *in;

		/* Our insertion (other formats) stays, rebuilt without traceparent. */
		if (i >= 0 && !h->inj[i].started && h->inj[i].bytes) {
			free(h->inj[i].bytes);
			h->inj[i].bytes = NULL;
			h->inj[i].len = 0;
		}
		in = inj_add(h);
		op_traceparent_format(&t->span->ctx, tp);
		if (in && (in->bytes = strdup(tp))) {
			in->at = at;
			in->len = OP_TRACEPARENT_LEN;
			in->replace = true;
			h->n_inj++;
		}
		return;
	}
	/* A header of ours already on the wire names this span: it must exist. */
	if (unplan(h) && t && t->span) {
		op_span_free(t->span);
		t->span = NULL;
	}
}

/*
 * Builds the current head's planned insertion from what the head has
 * shown so far; an insertion with nothing left to say is dropped.
 */
static void build_injection(struct op_http *h)
{
	int i = h->head.inject;
	struct inject *in;
	size_t cap;

	if (i < 0 || h->inj[i].bytes || h->inj[i].replace)
		return;
	in = &h->inj[i];
	cap = h->spare_cap;
	in->bytes = lines_into(h->spare, &cap, &in->ctx, in->debug, in->inherit, head_has, &h->head,
			       &in->len);
	h->spare = NULL;
	h->spare_cap = 0;
	in->cap = (uint32_t)cap;
	if (!in->bytes || in->len == 0) {
		free(in->inherit);
		in->inherit = NULL;
		unplan(h);
	}
}

static void req_header(void *arg, const char *name, size_t nlen, const char *v, size_t vlen)
{
	struct op_http *h = arg;
	struct head *hd = &h->head;
	enum op_http_hdr id = (enum op_http_hdr)h->req.hdr;

	if (id == OP_HDR_HOST || id == OP_HDR_USER_AGENT) {
		if (head_strings_wanted(h, q_back(h))) {
			if (id == OP_HDR_HOST)
				copy_bounded(hd->host, sizeof hd->host, v, vlen);
			else
				copy_bounded(hd->ua, sizeof hd->ua, v, vlen);
		}
		return;
	}
	if (h->side == SIDE_CLIENT) {
		/* Names only: what the application sends itself is never duplicated. */
		seen_add(hd, id, name, nlen);
		if (id == OP_HDR_TRACEPARENT)
			client_traceparent(h, name, v, vlen);
		return;
	}
	/* A value cut at OP_HTTP_LINE_MAX is not the one that was sent: never pass it on. */
	if (h->req.line_cut)
		return;
	switch (id) {
	case OP_HDR_TRACEPARENT:
		hd->tp_ok = ++hd->tp_count == 1 && op_traceparent_parse(v, vlen, &hd->tp) == 0;
		break;
	case OP_HDR_TRACESTATE:
		join_value(&hd->tracestate, v, vlen, OP_TRACESTATE_MAX);
		break;
	case OP_HDR_BAGGAGE:
		join_value(&hd->baggage, v, vlen, OP_BAGGAGE_MAX_BYTES);
		break;
	case OP_HDR_B3:
		hd->b3_ok = op_b3_parse(v, vlen, &hd->b3, &hd->b3_debug) == 0;
		break;
	case OP_HDR_X_B3_TRACEID:
		hd->b3m_has_trace = op_hex_trace_id(v, vlen, hd->b3m_trace) == 0;
		break;
	case OP_HDR_X_B3_SPANID:
		hd->b3m_has_span = vlen == 16 && op_hex_span_id(v, vlen, hd->b3m_span) == 0;
		break;
	case OP_HDR_X_B3_SAMPLED:
		hd->b3m_sampled = (vlen == 1 && v[0] == '1') || op_http_name_is(v, vlen, "true") ? 1 :
				  (vlen == 1 && v[0] == '0') || op_http_name_is(v, vlen, "false") ? 0 : -1;
		break;
	case OP_HDR_X_B3_FLAGS:
		hd->b3m_debug = vlen == 1 && v[0] == '1';
		break;
	case OP_HDR_UBER_TRACE_ID:
		hd->jg_ok = op_jaeger_parse(v, vlen, &hd->jg, &hd->jg_debug) == 0;
		break;
	case OP_HDR_UBERCTX:
		/* The name is forwarded as it came: it must be a token, no CR or LF in it. */
		if (has_prop(OP_PROP_JAEGER) && token_name(name, nlen) &&
		    op_header_value_ok(v, vlen, OP_FORWARD_VALUE_MAX))
			add_forward(hd, name, nlen, v, vlen);
		break;
	default:
		break;
	}
	if (is_forwarded_name(name, nlen) && op_header_value_ok(v, vlen, OP_FORWARD_VALUE_MAX))
		add_forward(hd, name, nlen, v, vlen);
}

/*
 * The inbound context, format by format in OTEL_PROPAGATORS order: a later
 * format that found a valid context wins (OpenTelemetry's composite
 * propagator). Returns the winner or NULL; *from_tp tells whether it came
 * from traceparent (tracestate only goes with it), *debug B3/Jaeger debug.
 */
static const struct op_span_ctx *extracted(struct head *hd, bool *from_tp, bool *debug)
{
	const struct op_span_ctx *ctx = NULL;

	*from_tp = *debug = false;
	for (unsigned i = 0; i < op_cfg.n_propagators; i++) {
		switch (op_cfg.propagators[i]) {
		case OP_PROP_TRACECONTEXT:
			if (hd->tp_ok && hd->tp_count == 1) {
				ctx = &hd->tp;
				*from_tp = true;
				*debug = false;
			}
			break;
		case OP_PROP_B3:
		case OP_PROP_B3MULTI:
			/*
			 * Both B3 propagators read both encodings (OpenTelemetry's B3
			 * specification); the single header first.
			 */
			if (hd->b3_ok) {
				ctx = &hd->b3;
				*from_tp = false;
				*debug = hd->b3_debug;
			} else if (hd->b3m_has_trace && hd->b3m_has_span) {
				memcpy(hd->b3.trace_id, hd->b3m_trace, 16);
				memcpy(hd->b3.span_id, hd->b3m_span, 8);
				/* Not saying is deferring the decision; we take it as sampled. */
				hd->b3.flags = hd->b3m_debug || hd->b3m_sampled != 0 ? OP_TRACE_FLAG_SAMPLED : 0;
				hd->b3.remote = true;
				ctx = &hd->b3;
				*from_tp = false;
				*debug = hd->b3m_debug;
			}
			break;
		case OP_PROP_JAEGER:
			if (hd->jg_ok) {
				ctx = &hd->jg;
				*from_tp = false;
				*debug = hd->jg_debug;
			}
			break;
		default:
			break;
		}
	}
	return ctx;
}

/* The lines the serving request passes on to its outbound requests. */
static char *inherited_lines(struct head *hd, bool from_tp, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	/* The common case, nothing to pass on, costs no allocation. */
	if (!hd->tracestate && !hd->baggage && !hd->forward)
		return NULL;
	if (!put_line(&buf, len, &cap, "", 0))
		return NULL;
	if (from_tp && has_prop(OP_PROP_TRACECONTEXT) && hd->tracestate &&
	    op_tracestate_valid(hd->tracestate, strlen(hd->tracestate))) {
		put_line(&buf, len, &cap, "tracestate: ", 12);
		put_line(&buf, len, &cap, hd->tracestate, strlen(hd->tracestate));
		put_line(&buf, len, &cap, "\r\n", 2);
	}
	if (has_prop(OP_PROP_BAGGAGE) && hd->baggage &&
	    op_baggage_valid(hd->baggage, strlen(hd->baggage))) {
		put_line(&buf, len, &cap, "baggage: ", 9);
		put_line(&buf, len, &cap, hd->baggage, strlen(hd->baggage));
		put_line(&buf, len, &cap, "\r\n", 2);
	}
	if (hd->forward)
		put_line(&buf, len, &cap, hd->forward, hd->forward_len);
	return buf;
}

static bool head_ignored(struct head *hd)
{
	const char *target = hd->target ? hd->target : "/";
	const char *q;

	/* Nothing configured (the usual case): nothing to look at. */
	if (!ignore_configured())
		return false;
	q = strchr(target, '?');

	return op_config_ignored(&op_cfg, target, q ? (size_t)(q - target) : strlen(target),
				 hd->ua[0] ? hd->ua : NULL, strlen(hd->ua));
}

static enum op_http_body req_head_end(void *arg)
{
	struct op_http *h = arg;
	struct head *hd = &h->head;
	struct txn *t = q_back(h);

	if (!t)
		return OP_HTTP_BODY_FRAMED;
	if (h->side == SIDE_CLIENT) {
		/*
		 * An ignored request goes out untouched and untraced, unless our
		 * header already left (a head split across writes): then the span
		 * it names is kept, so the trace has no dangling parent.
		 */
		if (t->span && head_ignored(hd) && unplan(h)) {
			op_span_free(t->span);
			t->span = NULL;
		} else if (t->span) {
			build_injection(h);
			/* A non-recording span only propagates: no attribute is built for it. */
			if (op_span_sampled(t->span))
				client_attributes(h, t->span);
		}
		return OP_HTTP_BODY_FRAMED;
	}

	/* Server: the parent is known only now that the whole head is in. */
	if (!head_ignored(hd)) {
		char *inherit;
		bool from_tp, debug;
		const struct op_span_ctx *parent = extracted(hd, &from_tp, &debug);
		size_t inherit_len;

		t->span = op_span_start_at(op_http_method_known(hd->method) ? hd->method : "HTTP",
					   OP_SPAN_KIND_SERVER, parent, hd->start_ns);
		if (t->span) {
			if (op_span_sampled(t->span))
				server_attributes(h, t->span);
			inherit = inherited_lines(hd, from_tp, &inherit_len);
			op_context_set(&t->span->ctx, from_tp ? parent : NULL, debug, inherit, inherit_len);
			free(inherit);
		}
	}
	return OP_HTTP_BODY_FRAMED;
}

static void req_end(void *arg)
{
	struct op_http *h = arg;

	h->in_first_ns = 0;
	head_reset(&h->head);
}

static const struct op_http_cb req_cb = {
	.on_start = req_start,
	.on_header = req_header,
	.on_head_end = req_head_end,
	.on_message_end = req_end,
};

/* ---- the response direction ----------------------------------------------- */

static int resp_start(void *arg, const char *line, size_t len)
{
	struct op_http *h = arg;
	struct txn *t = q_front(h);
	char minor;
	int code = op_http_parse_status_line(line, len, &minor);

	/* A response with no request before it: not a conversation we follow. */
	if (code < 0 || !t)
		return -1;
	t->status = (uint16_t)code;
	return 0;
}

static void resp_header(void *arg, const char *name, size_t nlen, const char *v, size_t vlen)
{
}

static enum op_http_body resp_head_end(void *arg)
{
	struct op_http *h = arg;
	struct txn *t = q_front(h);

	if (!t)
		return OP_HTTP_BODY_UPGRADE;
	if (t->status == 101 || (t->connect && t->status >= 200 && t->status < 300)) {
		finish(h, t, NULL);
		q_pop(h);
		return OP_HTTP_BODY_UPGRADE;
	}
	if (t->status < 200 || t->head || t->status == 204 || t->status == 304)
		return OP_HTTP_BODY_NONE;
	return OP_HTTP_BODY_FRAMED;
}

static void resp_end(void *arg)
{
	struct op_http *h = arg;
	struct txn *t = q_front(h);

	/* An interim (1xx) response: the final one is still to come. */
	if (!t || t->status < 200)
		return;
	finish(h, t, NULL);
	q_pop(h);
}

static const struct op_http_cb resp_cb = {
	.on_start = resp_start,
	.on_header = resp_header,
	.on_head_end = resp_head_end,
	.on_message_end = resp_end,
};

/* ---- feeding ------------------------------------------------------------- */

/* Shows `n` bytes of `iov`, starting `skip` bytes in, to a scanner. */
static void feed(struct op_http *h, struct op_http_parser *p, const struct op_http_cb *cb,
		 const struct iovec *iov, int iovcnt, size_t skip, size_t n)
{
	for (int i = 0; i < iovcnt && n > 0 && !h->dead; i++) {
		size_t len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		len -= skip;
		if (len > n)
			len = n;
		op_http_feed(p, (const char *)iov[i].iov_base + skip, len, cb, h);
		n -= len;
		skip = 0;
		if (p->state == OP_HTTP_DEAD)
			go_dead(h);
	}
}

static size_t iov_total(const struct iovec *iov, int iovcnt)
{
	size_t n = 0;

	for (int i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

static int first_byte(const struct iovec *iov, int iovcnt)
{
	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_len)
			return *(const unsigned char *)iov[i].iov_base;
	return -1;
}

/*
 * The connection's HTTP state, created by its first bytes when they can
 * start the right kind of message; NULL when the fd is not (or no longer)
 * followed. `out` tells the direction of those bytes.
 */
static struct op_http *http_of(struct op_fd *f, int fd, bool out, int c)
{
	struct op_http *h = atomic_load_explicit(&f->http, memory_order_acquire), *none = NULL;
	enum side side;

	if (h) {
		bool owed;

		if (h->gen != fork_gen)
			return NULL;
		if (!h->dead)
			return h;
		/* A dead stream is left alone, once an insertion it owes is out. */
		if (!out)
			return NULL;
		pthread_mutex_lock(&h->lock);
		owed = owes_insertion(h);
		pthread_mutex_unlock(&h->lock);
		return owed ? h : NULL;
	}
	if (atomic_load_explicit(&f->proto, memory_order_acquire) != OP_PROTO_UNKNOWN || c < 0)
		return NULL;
	if ((f->kind == OP_FD_TCP_CLIENT || f->kind == OP_FD_TLS) && out)
		side = SIDE_CLIENT;
	else if ((f->kind == OP_FD_TCP_SERVER || f->kind == OP_FD_TLS) && !out)
		side = SIDE_SERVER;
	else
		side = (enum side)-1;
	op_sdk_init();
	if ((int)side < 0 || !op_sdk_enabled() ||
	    !op_http_may_start(OP_HTTP_REQUEST, (unsigned char)c)) {
		/* The other end spoke first, or these are not HTTP bytes. */
		if (f->kind != OP_FD_TCP)
			atomic_store_explicit(&f->proto, OP_PROTO_OTHER, memory_order_release);
		return NULL;
	}
	h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->side = (uint8_t)side;
	h->gen = fork_gen;
	h->tls = f->kind == OP_FD_TLS;
	h->fd = fd;
	h->owner = f;
	h->head.inject = -1;
	op_http_init(&h->req, OP_HTTP_REQUEST);
	op_http_init(&h->resp, OP_HTTP_RESPONSE);
	if (!atomic_compare_exchange_strong_explicit(&f->http, &none, h, memory_order_acq_rel,
						     memory_order_acquire)) {
		op_http_free(&h->req);
		op_http_free(&h->resp);
		free(h);
		return none->gen == fork_gen && !none->dead ? none : NULL;
	}
	atomic_store_explicit(&f->proto, OP_PROTO_HTTP, memory_order_release);
	return h;
}

/* Walks the application's iovecs of one call. */
struct cursor {
	const struct iovec *iov;
	int iovcnt;
	int i;
	size_t off;
};

/* Up to `max` contiguous application bytes at the cursor; advances it. */
static size_t cursor_take(struct cursor *c, size_t max, const char **at)
{
	while (c->i < c->iovcnt && c->off == c->iov[c->i].iov_len) {
		c->i++;
		c->off = 0;
	}
	if (c->i == c->iovcnt)
		return 0;
	if (max > c->iov[c->i].iov_len - c->off)
		max = c->iov[c->i].iov_len - c->off;
	*at = (const char *)c->iov[c->i].iov_base + c->off;
	c->off += max;
	return max;
}

/*
 * Lays out the application's `n` bytes of this call with the changes that
 * fall inside them. Returns the number of iovecs, or -1 when they do not
 * fit in `cap`.
 */
static int layout(struct op_http *h, const struct iovec *iov, int iovcnt, size_t n,
		  struct iovec *v, int cap)
{
	struct cursor cur = { iov, iovcnt, 0, 0 };
	uint64_t p = h->out_sent, end = p + n;
	unsigned k = 0;
	int c = 0;

#define EMIT(ptr, len) \
	do { \
		if (c == cap) \
			return -1; \
		v[c].iov_base = (void *)(ptr); \
		v[c++].iov_len = (len); \
	} while (0)

	for (;;) {
		const char *at;
		uint64_t lim;

		while (k < h->n_inj && !h->inj[k].replace && h->inj[k].at == p) {
			EMIT(h->inj[k].bytes + h->inj[k].done, h->inj[k].len - h->inj[k].done);
			k++;
		}
		if (p == end)
			break;
		if (k < h->n_inj && h->inj[k].replace && h->inj[k].at <= p) {
			struct inject *in = &h->inj[k];
			uint64_t upto = in->at + in->len < end ? in->at + in->len : end;

			if (upto > p) {
				size_t len = (size_t)(upto - p), skipped = 0, got;

				EMIT(in->bytes + (p - in->at), len);
				while (skipped < len && (got = cursor_take(&cur, len - skipped, &at)))
					skipped += got;
				p = upto;
			}
			if (in->at + in->len <= p)
				k++;
			continue;
		}
		lim = k < h->n_inj && h->inj[k].at < end ? h->inj[k].at : end;
		while (p < lim) {
			size_t got = cursor_take(&cur, (size_t)(lim - p), &at);

			if (!got)
				return c;
			EMIT(at, got);
			p += got;
		}
	}
#undef EMIT
	return c;
}

/*
 * Accounts for `r` bytes the kernel took from a layout: inserted bytes
 * advance their insertion, all others (replaced ones too) are the
 * application's. Returns the application's count.
 */
static size_t account(struct op_http *h, size_t n, size_t r)
{
	size_t app = 0;
	unsigned k = 0, d = 0;

	while (r > 0) {
		uint64_t p = h->out_sent + app;
		size_t limit, take;

		while (k < h->n_inj && (h->inj[k].replace || h->inj[k].done == h->inj[k].len))
			k++;
		if (k < h->n_inj && h->inj[k].at == p) {
			struct inject *in = &h->inj[k];

			take = in->len - in->done < r ? in->len - in->done : r;
			in->done += (uint32_t)take;
			in->started = true;
			r -= take;
			continue;
		}
		limit = n - app;
		if (k < h->n_inj && h->inj[k].at - p < limit)
			limit = (size_t)(h->inj[k].at - p);
		take = limit < r ? limit : r;
		if (take == 0)
			break;
		app += take;
		r -= take;
	}
	h->out_sent += app;
	/* Changes wholly behind the stream leave the list. */
	while (d < h->n_inj && (h->inj[d].replace ? h->inj[d].at + h->inj[d].len <= h->out_sent
						   : h->inj[d].done == h->inj[d].len)) {
		if ((int)d == h->head.inject)
			h->head.inject_out = true;
		inject_free(h, &h->inj[d++]);
	}
	if (d) {
		memmove(h->inj, h->inj + d, (h->n_inj - d) * sizeof h->inj[0]);
		h->n_inj -= d;
		if (h->head.inject >= 0)
			h->head.inject = h->head.inject >= (int)d ? h->head.inject - (int)d : -1;
	}
	return app;
}

static bool inject_due(struct op_http *h, size_t n)
{
	return h->n_inj && h->inj[0].at <= h->out_sent + n;
}

/*
 * Called with the lock held, which it releases: the first layout uses the
 * caller's hold of it (one lock round trip less per request).
 */
static ssize_t send_injected(struct op_http *h, const struct op_plain *plain,
			     const struct iovec *iov, int iovcnt, size_t n, int flags)
{
	struct iovec stack[OP_IOV_STACK], *v = stack;
	int cap = OP_IOV_STACK, c;
	bool locked = true;
	ssize_t r;
	size_t app;

	if (iovcnt + 2 * (int)h->n_inj + 2 > OP_IOV_STACK) {
		cap = iovcnt + 2 * (int)h->n_inj + 2;
		if (cap > IOV_MAX || !(v = malloc((size_t)cap * sizeof *v))) {
			pthread_mutex_unlock(&h->lock);
			return -2;
		}
	}
	for (;;) {
		struct msghdr m = { 0 };

		if (!locked)
			pthread_mutex_lock(&h->lock);
		locked = false;
		c = layout(h, iov, iovcnt, n, v, cap);
		pthread_mutex_unlock(&h->lock);
		if (c < 0) {
			r = -2;
			break;
		}
		if (plain->vec) {
			r = plain->vec(plain, v, c);
		} else {
			m.msg_iov = v;
			m.msg_iovlen = (size_t)c;
			r = REAL(sendmsg)(plain->fd, &m, flags);
		}
		if (r < 0)
			break;
		pthread_mutex_lock(&h->lock);
		app = account(h, n, (size_t)r);
		pthread_mutex_unlock(&h->lock);
		/*
		 * Only header bytes went: the application must not see 0 for a
		 * non-empty write. Go again; a full non-blocking socket now
		 * answers EAGAIN, which is what the application gets.
		 */
		if (app > 0 || r == 0 || n == 0) {
			r = (ssize_t)app;
			break;
		}
	}
	if (v != stack)
		free(v);
	return r;
}

/* The application's call as it made it; its bytes advance the outbound stream. */
static ssize_t send_plain(struct op_http *h, const struct op_plain *plain, int *err)
{
	ssize_t r = plain->fn(plain);

	*err = errno;
	if (r > 0) {
		pthread_mutex_lock(&h->lock);
		h->out_sent += (uint64_t)r;
		pthread_mutex_unlock(&h->lock);
	}
	return r;
}

/*
 * Addresses below this are never mapped (Linux's default vm.mmap_min_addr):
 * an application passing one (NULL, a small offset) gets EFAULT from the
 * kernel, and must get it with the library too, not a crash in our scan.
 */
#define OP_MIN_MAPPED_ADDR ((uintptr_t)65536)

static bool iov_plausible(const struct iovec *iov, int iovcnt)
{
	if (iovcnt > 0 && (uintptr_t)iov < OP_MIN_MAPPED_ADDR)
		return false;
	for (int i = 0; i < iovcnt; i++)
		if (iov[i].iov_len && (uintptr_t)iov[i].iov_base < OP_MIN_MAPPED_ADDR)
			return false;
	return true;
}

ssize_t op_engine_send(struct op_fd *f, const struct iovec *iov, int iovcnt, int flags,
		       int can_inject, const struct op_plain *plain)
{
	size_t n, parsed;
	struct op_http *h;
	ssize_t r;
	int err;

	/* Bad buffers are the kernel's to refuse; reading them would crash the host. */
	if (!iov_plausible(iov, iovcnt))
		return plain->fn(plain);
	n = iov_total(iov, iovcnt);
	h = http_of(f, plain->fd, true, first_byte(iov, iovcnt));
	if (!h)
		return plain->fn(plain);

	if (h->side == SIDE_SERVER) {
		r = plain->fn(plain);
		err = errno;
		pthread_mutex_lock(&h->lock);
		if (r > 0 && !h->dead)
			feed(h, &h->resp, &resp_cb, iov, iovcnt, 0, (size_t)r);
		pthread_mutex_unlock(&h->lock);
		errno = err;
		return r;
	}

	/*
	 * Client: the request scanner reads ahead of what the kernel takes, so
	 * every header insertion in these bytes is known before they go out.
	 * A partial write is retried by the application with the bytes the
	 * kernel did not take; the scanner has seen those already.
	 */
	pthread_mutex_lock(&h->lock);
	parsed = h->req.pos > h->out_sent ? (size_t)(h->req.pos - h->out_sent) : 0;
	if (!h->dead && parsed < n)
		feed(h, &h->req, &req_cb, iov, iovcnt, parsed, n - parsed);
	/* A head that continues in a later write gets what is known by now. */
	if (!h->dead)
		build_injection(h);
	if ((h->dead && !owes_insertion(h)) || !inject_due(h, n) || !can_inject) {
		if (!can_inject)
			drop_injections(h);
		pthread_mutex_unlock(&h->lock);
		r = send_plain(h, plain, &err);
		goto out;
	}
	r = send_injected(h, plain, iov, iovcnt, n, flags);
	err = errno;
	if (r == -2) {
		/* Too many pieces to lay out: this request goes without the header. */
		pthread_mutex_lock(&h->lock);
		drop_injections(h);
		pthread_mutex_unlock(&h->lock);
		r = send_plain(h, plain, &err);
	}
out:
	if (r < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
		pthread_mutex_lock(&h->lock);
		finish_all(h, errno_type(err));
		pthread_mutex_unlock(&h->lock);
	}
	errno = err;
	return r;
}

/*
 * After a server's read: a request head that continues in a later read
 * starts now (in this hook call, as the read returned), unless an earlier
 * read started it. A head that ended in this read took the time at its
 * end, in this same call.
 */
static void first_byte_time(struct op_http *h, const struct op_http_parser *p)
{
	if (p->state == OP_HTTP_LINE && !h->in_first_ns)
		h->in_first_ns = op_now_ns();
	else if (p->state == OP_HTTP_HEADERS && !h->head.start_ns)
		h->head.start_ns = op_now_ns();
}

void op_engine_recv(struct op_fd *f, int fd, const struct iovec *iov, int iovcnt,
		    ssize_t r, int err)
{
	struct op_http *h = http_of(f, fd, false, r > 0 ? first_byte(iov, iovcnt) : -1);
	struct op_http_parser *p;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	p = h->side == SIDE_SERVER ? &h->req : &h->resp;
	if (h->dead) {
		/* nothing */
	} else if (r > 0) {
		feed(h, p, h->side == SIDE_SERVER ? &req_cb : &resp_cb, iov, iovcnt, 0, (size_t)r);
		if (h->side == SIDE_SERVER && !h->dead)
			first_byte_time(h, p);
	} else if (r == 0 && h->side == SIDE_CLIENT) {
		op_http_eof(p, &resp_cb, h);
		finish_all(h, "connection_closed");
	} else if (r < 0 && err != EAGAIN && err != EWOULDBLOCK && err != EINTR &&
		   h->side == SIDE_CLIENT) {
		finish_all(h, errno_type(err));
	}
	pthread_mutex_unlock(&h->lock);
}

void op_engine_lost(struct op_fd *f)
{
	struct op_http *h = atomic_load_explicit(&f->http, memory_order_acquire);

	if (!h) {
		/* Nothing followed yet: the first bytes are gone, so never start. */
		atomic_store_explicit(&f->proto, OP_PROTO_OTHER, memory_order_release);
		return;
	}
	if (h->gen != fork_gen)
		return;
	pthread_mutex_lock(&h->lock);
	go_dead(h);
	pthread_mutex_unlock(&h->lock);
}

void op_engine_sendfile(struct op_fd *f, ssize_t r)
{
	struct op_http *h = atomic_load_explicit(&f->http, memory_order_acquire);

	if (!h || h->gen != fork_gen || r <= 0)
		return;
	pthread_mutex_lock(&h->lock);
	if (!h->dead && h->side == SIDE_SERVER) {
		op_http_skip(&h->resp, (size_t)r, &resp_cb, h);
		if (h->resp.state == OP_HTTP_DEAD)
			go_dead(h);
	} else if (!h->dead) {
		/* A request body from a file: the scanner cannot follow the stream past it. */
		h->out_sent += (uint64_t)r;
		op_http_skip(&h->req, (size_t)r, &req_cb, h);
		if (h->req.state == OP_HTTP_DEAD)
			go_dead(h);
	}
	pthread_mutex_unlock(&h->lock);
}

void op_engine_shutdown(struct op_fd *f, int how)
{
	struct op_http *h = atomic_load_explicit(&f->http, memory_order_acquire);

	if (!h || h->gen != fork_gen || how == SHUT_RD)
		return;
	pthread_mutex_lock(&h->lock);
	/* A server ending its side completes a close-delimited response. */
	if (!h->dead && h->side == SIDE_SERVER)
		op_http_eof(&h->resp, &resp_cb, h);
	pthread_mutex_unlock(&h->lock);
}

void op_engine_free(struct op_http *h)
{
	if (h->gen == fork_gen) {
		/*
		 * A signal handler that closes this socket while its thread is
		 * inside the engine may find the lock held by that very thread:
		 * waiting would deadlock the host. The state is then left
		 * behind (a leak of one connection's state, never a hang).
		 */
		if (pthread_mutex_trylock(&h->lock) != 0) {
			if (op_guard)
				return;
			pthread_mutex_lock(&h->lock);
		}
		if (!h->dead) {
			op_http_eof(&h->resp, &resp_cb, h);
			finish_all(h, "connection_closed");
		}
		pthread_mutex_unlock(&h->lock);
	} else {
		/* The parent's exchanges: the parent ends and exports them. */
		for (unsigned i = 0; i < h->q_len; i++)
			op_span_free(h->q[(h->q_head + i) % h->q_cap].span);
		h->q_len = 0;
		pthread_mutex_init(&h->lock, NULL);
	}
	drop_injections(h);
	free(h->inj);
	free(h->q);
	head_reset(&h->head);
	free(h->target_buf);
	free(h->url_buf);
	free(h->spare);
	op_http_free(&h->req);
	op_http_free(&h->resp);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
