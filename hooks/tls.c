/*
 * TLS record hooks: OpenSSL's SSL_read/SSL_write family and GnuTLS's
 * gnutls_record_recv/send. Below them the socket carries ciphertext; here
 * is the plaintext, which goes to the same HTTP/1.x engine as a plain
 * socket's bytes, with the same header injection. The socket layer stays
 * silent for these connections: its first bytes are a TLS handshake, not
 * HTTP, and the real TLS calls run under the guard.
 *
 * The TLS APIs have rules of their own that the application relies on:
 * - A write that returned WANT_WRITE/WANT_READ (OpenSSL) or
 *   GNUTLS_E_AGAIN must be retried with the same buffer and length. When
 *   we added header bytes, the real library saw our buffer, not the
 *   application's: each session keeps that buffer (`flat`), and a retry
 *   lays out the same bytes at the same address again (the engine's
 *   accounting has not moved, so they are the same bytes).
 * - With SSL_MODE_ENABLE_PARTIAL_WRITE a write may take part of the
 *   buffer: the application is told only its own bytes (engine's account).
 * - SSL_get_error() must answer as it would without us: a failed call
 *   returns the real call's value, with the session state it left.
 *
 * Sessions are keyed by their object's address. The libraries forbid
 * using one session from two threads at once (reads and writes from two
 * threads are tolerated: the engine state has its own lock, and only
 * writes touch `flat`), and SSL_free/gnutls_deinit end our state before
 * the real call, so the address can be reused at once.
 *
 * ALPN "h2" sessions are left alone: HTTP/2 framing is not HTTP/1.x (the
 * engine would also reject its connection preface). libcurl's sessions
 * are left alone too: libcurl is traced at its own API (hooks/curl.c),
 * and its sessions are created while a thread is inside libcurl.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../preload/dso.h"
#include "../preload/ptrmap.h"
#include "hook.h"

/* OpenSSL's SSL_get_error() values (ssl.h), stable since 1.0. */
#define OSSL_ERROR_NONE        0
#define OSSL_ERROR_SSL         1
#define OSSL_ERROR_WANT_READ   2
#define OSSL_ERROR_WANT_WRITE  3
#define OSSL_ERROR_SYSCALL     5
#define OSSL_ERROR_ZERO_RETURN 6

/* GnuTLS's codes (gnutls.h). */
#define GTLS_E_AGAIN        (-28)
#define GTLS_E_INTERRUPTED  (-52)
#define GTLS_E_REHANDSHAKE  (-37)

typedef struct ssl_st SSL;
typedef struct gnutls_session_int *gnutls_session_t;
struct gtls_datum {
	unsigned char *data;
	unsigned int size;
};

/* The hooks, with the libraries' own signatures. */
int SSL_write(SSL *ssl, const void *buf, int num);
int SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written);
int SSL_read(SSL *ssl, void *buf, int num);
int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *got);
int SSL_peek(SSL *ssl, void *buf, int num);
int SSL_peek_ex(SSL *ssl, void *buf, size_t num, size_t *got);
int SSL_shutdown(SSL *ssl);
void SSL_free(SSL *ssl);
ssize_t gnutls_record_send(gnutls_session_t s, const void *data, size_t size);
ssize_t gnutls_record_recv(gnutls_session_t s, void *data, size_t size);
int gnutls_bye(gnutls_session_t s, int how);
void gnutls_deinit(gnutls_session_t s);

/* One session's state. */
struct tls_conn {
	struct op_fd *f;        /* the plaintext's engine state; NULL: not followed */
	int fd;                 /* the socket under it, when we track it; else -1 */
	char *flat;             /* the last write laid out with our header bytes */
	size_t flat_cap;
	/* GnuTLS: a traced send awaits its retry, which may come as (NULL, 0). */
	const void *pend_buf;
	size_t pend_len;
};

static struct op_ptrmap conns = OP_PTRMAP_INIT;

/* ---- resolution ------------------------------------------------------------- */

/*
 * Each hook resolves its own function (a provider may lack one: GnuTLS's
 * OpenSSL compatibility library has SSL_write but no SSL_write_ex), with
 * the helpers it needs from the same object's scope.
 */
#define OSSL_HELPERS "SSL_get_error", "SSL_get_fd", "SSL_get0_alpn_selected"
enum { F_REAL, F_ERROR, F_FD, F_ALPN };
#define GTLS_HELPERS "gnutls_transport_get_int", "gnutls_alpn_get_selected_protocol"
enum { G_REAL, G_FD, G_ALPN };

#define OP_DSO_DEF(var, lib, name, ...) \
	static struct op_dso var = { lib, (const char *const[]){ name, __VA_ARGS__, NULL }, \
				     { NULL }, NULL, 0 }

OP_DSO_DEF(d_ssl_write, "OpenSSL", "SSL_write", OSSL_HELPERS);
OP_DSO_DEF(d_ssl_write_ex, "OpenSSL", "SSL_write_ex", OSSL_HELPERS);
OP_DSO_DEF(d_ssl_read, "OpenSSL", "SSL_read", OSSL_HELPERS);
OP_DSO_DEF(d_ssl_read_ex, "OpenSSL", "SSL_read_ex", OSSL_HELPERS);
OP_DSO_DEF(d_ssl_peek, "OpenSSL", "SSL_peek", OSSL_HELPERS);
OP_DSO_DEF(d_ssl_peek_ex, "OpenSSL", "SSL_peek_ex", OSSL_HELPERS);
OP_DSO_DEF(d_ssl_shutdown, "OpenSSL", "SSL_shutdown", OSSL_HELPERS);
OP_DSO_DEF(d_ssl_free, "OpenSSL", "SSL_free", OSSL_HELPERS);
OP_DSO_DEF(d_gtls_send, "GnuTLS", "gnutls_record_send", GTLS_HELPERS);
OP_DSO_DEF(d_gtls_recv, "GnuTLS", "gnutls_record_recv", GTLS_HELPERS);
OP_DSO_DEF(d_gtls_bye, "GnuTLS", "gnutls_bye", GTLS_HELPERS);
OP_DSO_DEF(d_gtls_deinit, "GnuTLS", "gnutls_deinit", GTLS_HELPERS);

#define CALLER __builtin_return_address(0)

/*
 * A function the caller's library must have (it called us with one of its
 * objects), but if it cannot be found the call fails the way the API
 * reports a broken connection, once logged.
 */
#define RESOLVE(fns, d) \
	void *const *fns = op_dso_fns(&(d), CALLER)

/* ---- sessions ------------------------------------------------------------- */

static bool is_h2(const unsigned char *p, unsigned len)
{
	return len == 2 && p[0] == 'h' && p[1] == '2';
}

/* Our socket state for `fd`, when it is a TCP socket we track: its peer names the span. */
static int socket_of(int fd)
{
	struct op_fd *s = op_fd_get(fd);
	uint8_t unknown = OP_PROTO_UNKNOWN;

	if (fd < 0 || !s)
		return -1;
	/* Its bytes are ciphertext: the socket layer need not even look. */
	atomic_compare_exchange_strong_explicit(&s->proto, &unknown, OP_PROTO_OTHER,
						memory_order_acq_rel, memory_order_relaxed);
	return fd;
}

/*
 * The session's state, created by its first data call: followed unless
 * the thread is inside libcurl or ALPN chose h2. NULL when out of memory
 * (the call then goes through untraced).
 */
static struct tls_conn *conn_of(const void *key, void *const *fns, bool gnutls)
{
	struct tls_conn *c = op_ptrmap_get(&conns, key);
	bool follow = !op_quiet;

	if (c)
		return c;
	if (!(c = malloc(sizeof *c)))
		return NULL;
	memset(c, 0, sizeof *c);
	c->fd = -1;
	if (follow && !gnutls) {
		const unsigned char *p = NULL;
		unsigned len = 0;

		if (fns[F_ALPN])
			((void (*)(const SSL *, const unsigned char **, unsigned *))fns[F_ALPN])(key, &p, &len);
		follow = !is_h2(p, len);
		if (follow && fns[F_FD])
			c->fd = socket_of(((int (*)(const SSL *))fns[F_FD])(key));
	} else if (follow) {
		struct gtls_datum p = { NULL, 0 };

		if (fns[G_ALPN] &&
		    ((int (*)(gnutls_session_t, struct gtls_datum *))fns[G_ALPN])((gnutls_session_t)key, &p) == 0)
			follow = !is_h2(p.data, p.size);
		/* A transport set as a pointer reads as a meaningless int: socket_of() filters it. */
		if (follow && fns[G_FD])
			c->fd = socket_of(((int (*)(gnutls_session_t))fns[G_FD])((gnutls_session_t)key));
	}
	if (follow)
		c->f = op_fd_new(OP_FD_TLS);
	if (op_ptrmap_put(&conns, key, c) < 0) {
		if (c->f)
			op_fd_release(c->f);
		free(c);
		return NULL;
	}
	return c;
}

/* The session's engine state when its bytes are followed, else NULL. */
static struct op_fd *followed(struct tls_conn *c)
{
	return c && c->f && atomic_load_explicit(&c->f->proto, memory_order_relaxed) != OP_PROTO_OTHER
		       ? c->f : NULL;
}

static void conn_end(const void *key)
{
	struct tls_conn *c = op_ptrmap_take(&conns, key);

	if (!c)
		return;
	if (c->f)
		op_fd_release(c->f);    /* ends what is open, as a closed socket would */
	free(c->flat);
	free(c);
}

/* ---- writes ------------------------------------------------------------------ */

enum tls_api { API_SSL_WRITE, API_SSL_WRITE_EX, API_GNUTLS_SEND };

/* One application write, as the engine's op_plain callbacks see it. */
struct tls_call {
	enum tls_api api;
	void *const *fns;
	void *obj;
	struct tls_conn *c;
	long ret;               /* the last real call's return value */
	size_t done;            /* SSL_write_ex: its count */
	int err;                /* errno after the last real call */
};

/*
 * One real write of [buf, buf + len): the count taken, or -1 with errno
 * EAGAIN/EINTR when the application is to retry, another errno when the
 * session failed. The real value and errno stay in `t` for the caller.
 */
static ssize_t tls_write(struct tls_call *t, const void *buf, size_t len)
{
	int e;

	switch (t->api) {
	case API_SSL_WRITE:
		t->ret = ((int (*)(SSL *, const void *, int))t->fns[F_REAL])(
			t->obj, buf, len > INT_MAX ? INT_MAX : (int)len);
		t->err = errno;
		if (t->ret > 0)
			return t->ret;
		break;
	case API_SSL_WRITE_EX:
		t->ret = ((int (*)(SSL *, const void *, size_t, size_t *))t->fns[F_REAL])(
			t->obj, buf, len, &t->done);
		t->err = errno;
		if (t->ret == 1)
			return (ssize_t)t->done;
		break;
	case API_GNUTLS_SEND:
		t->ret = ((ssize_t (*)(gnutls_session_t, const void *, size_t))t->fns[G_REAL])(
			t->obj, buf, len);
		t->err = errno;
		if (t->ret >= 0)
			return t->ret;
		errno = t->ret == GTLS_E_AGAIN ? EAGAIN : t->ret == GTLS_E_INTERRUPTED ? EINTR : EPROTO;
		return -1;
	}
	/* OpenSSL: what failed, without changing the session or its error queue. */
	e = ((int (*)(const SSL *, int))t->fns[F_ERROR])(t->obj, (int)t->ret);
	switch (e) {
	case OSSL_ERROR_SYSCALL:
		errno = t->err ? t->err : ECONNRESET;
		break;
	case OSSL_ERROR_SSL:
		errno = EPROTO;
		break;
	case OSSL_ERROR_ZERO_RETURN:
		errno = EPIPE;
		break;
	default:
		/* WANT_READ, WANT_WRITE and the other WANT_* states: call again. */
		errno = EAGAIN;
		break;
	}
	return -1;
}

static ssize_t plain_tls(const struct op_plain *p)
{
	return tls_write(p->ctx, p->buf, p->len);
}

/* The laid-out bytes, flat in the session's own buffer. */
static ssize_t vec_tls(const struct op_plain *p, const struct iovec *v, int c)
{
	struct tls_call *t = p->ctx;
	struct tls_conn *conn = t->c;
	size_t n = 0, at = 0;

	for (int i = 0; i < c; i++)
		n += v[i].iov_len;
	if (n > conn->flat_cap) {
		/* Only a longer write moves it; a retry is never longer (OpenSSL forbids it). */
		char *grown = realloc(conn->flat, n);

		if (!grown) {
			errno = ENOMEM;
			return -2;
		}
		conn->flat = grown;
		conn->flat_cap = n;
	}
	for (int i = 0; i < c; i++) {
		/* A retry copies the same bytes onto themselves: memmove. */
		memmove(conn->flat + at, v[i].iov_base, v[i].iov_len);
		at += v[i].iov_len;
	}
	return tls_write(t, conn->flat, n);
}

/*
 * A traced write: the engine decides whether header bytes go with the
 * application's. Returns the application's count (>= 0), or -1 when the
 * real call failed (its value is t->ret).
 */
static ssize_t write_traced(struct tls_call *t, struct op_fd *f, const void *buf, size_t len)
{
	struct iovec v = { (void *)buf, len };
	struct op_plain pl = { .fn = plain_tls, .vec = vec_tls, .ctx = t, .fd = t->c->fd,
			       .buf = buf, .len = len };
	ssize_t r;

	OP_GUARD_ENTER();
	r = op_engine_send(f, &v, 1, 0, 1, &pl);
	OP_GUARD_LEAVE();
	errno = t->err;
	return r;
}

OP_EXPORT int SSL_write(SSL *ssl, const void *buf, int num)
{
	RESOLVE(fns, d_ssl_write);
	struct tls_call t = { API_SSL_WRITE, fns, ssl, NULL, 0, 0, 0 };
	struct op_fd *f;
	ssize_t r;

	if (OP_UNLIKELY(!fns))
		return -1;
	if (op_guard || op_disabled || num <= 0 ||
	    !(f = followed(t.c = conn_of(ssl, fns, false))))
		return ((int (*)(SSL *, const void *, int))fns[F_REAL])(ssl, buf, num);
	r = write_traced(&t, f, buf, (size_t)num);
	return r > 0 ? (int)r : (int)t.ret;
}

OP_EXPORT int SSL_write_ex(SSL *ssl, const void *buf, size_t num, size_t *written)
{
	RESOLVE(fns, d_ssl_write_ex);
	struct tls_call t = { API_SSL_WRITE_EX, fns, ssl, NULL, 0, 0, 0 };
	struct op_fd *f;
	ssize_t r;

	if (OP_UNLIKELY(!fns || !fns[F_REAL]))
		return 0;
	if (op_guard || op_disabled || num == 0 ||
	    !(f = followed(t.c = conn_of(ssl, fns, false))))
		return ((int (*)(SSL *, const void *, size_t, size_t *))fns[F_REAL])(ssl, buf, num,
										    written);
	r = write_traced(&t, f, buf, num);
	if (r > 0) {
		if (written)
			*written = (size_t)r;
		return 1;
	}
	return (int)t.ret;
}

OP_EXPORT ssize_t gnutls_record_send(gnutls_session_t s, const void *data, size_t size)
{
	RESOLVE(fns, d_gtls_send);
	struct tls_call t = { API_GNUTLS_SEND, fns, s, NULL, 0, 0, 0 };
	struct op_fd *f;
	ssize_t r;

	if (OP_UNLIKELY(!fns))
		return GTLS_E_INTERRUPTED - 1;   /* GNUTLS_E_PUSH_ERROR (-53): a fatal write error */
	if (op_guard || op_disabled || !(f = followed(t.c = conn_of(s, fns, true))))
		return ((ssize_t (*)(gnutls_session_t, const void *, size_t))fns[G_REAL])(s, data,
											   size);
	/* The documented retry form: no data, meaning "the same as before". */
	if (!data && size == 0 && t.c->pend_buf) {
		data = t.c->pend_buf;
		size = t.c->pend_len;
	}
	if (size == 0)
		return ((ssize_t (*)(gnutls_session_t, const void *, size_t))fns[G_REAL])(s, data,
											   size);
	r = write_traced(&t, f, data, size);
	if (r < 0 && (t.ret == GTLS_E_AGAIN || t.ret == GTLS_E_INTERRUPTED)) {
		t.c->pend_buf = data;
		t.c->pend_len = size;
	} else {
		t.c->pend_buf = NULL;
	}
	return r >= 0 ? r : (ssize_t)t.ret;
}

/* ---- reads ---------------------------------------------------------------------- */

/*
 * What a read returned, told to the engine: bytes, nothing yet (retry),
 * or the end of the stream. A TLS failure ends the stream as a closed
 * socket would, which also completes a close-delimited response (peers
 * that close without close_notify are common).
 */
static void read_seen(struct tls_conn *c, struct op_fd *f, void *buf, ssize_t got, bool again)
{
	struct iovec v = { buf, got > 0 ? (size_t)got : 0 };

	if (again)
		return;
	OP_GUARD_ENTER();
	op_engine_recv(f, c->fd, &v, 1, got > 0 ? got : 0, 0);
	OP_GUARD_LEAVE();
}

static bool ossl_again(void *const *fns, SSL *ssl, int ret)
{
	int e = ((int (*)(const SSL *, int))fns[F_ERROR])(ssl, ret);

	return e != OSSL_ERROR_ZERO_RETURN && e != OSSL_ERROR_SYSCALL && e != OSSL_ERROR_SSL;
}

OP_EXPORT int SSL_read(SSL *ssl, void *buf, int num)
{
	RESOLVE(fns, d_ssl_read);
	int (*fn)(SSL *, void *, int);
	struct tls_conn *c;
	struct op_fd *f;
	int r, err;

	if (OP_UNLIKELY(!fns))
		return -1;
	fn = (int (*)(SSL *, void *, int))fns[F_REAL];
	if (op_guard || op_disabled || !(f = followed(c = conn_of(ssl, fns, false))))
		return fn(ssl, buf, num);
	OP_GUARD_ENTER();
	r = fn(ssl, buf, num);
	err = errno;
	OP_GUARD_LEAVE();
	read_seen(c, f, buf, r, r <= 0 && ossl_again(fns, ssl, r));
	errno = err;
	return r;
}

OP_EXPORT int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *got)
{
	RESOLVE(fns, d_ssl_read_ex);
	int (*fn)(SSL *, void *, size_t, size_t *);
	struct tls_conn *c;
	struct op_fd *f;
	int r, err;

	if (OP_UNLIKELY(!fns || !fns[F_REAL]))
		return 0;
	fn = (int (*)(SSL *, void *, size_t, size_t *))fns[F_REAL];
	if (op_guard || op_disabled || !got || !(f = followed(c = conn_of(ssl, fns, false))))
		return fn(ssl, buf, num, got);
	OP_GUARD_ENTER();
	r = fn(ssl, buf, num, got);
	err = errno;
	OP_GUARD_LEAVE();
	if (r == 1)
		read_seen(c, f, buf, (ssize_t)*got, false);
	else
		read_seen(c, f, buf, 0, ossl_again(fns, ssl, r));
	errno = err;
	return r;
}

OP_EXPORT ssize_t gnutls_record_recv(gnutls_session_t s, void *data, size_t size)
{
	RESOLVE(fns, d_gtls_recv);
	ssize_t (*fn)(gnutls_session_t, void *, size_t);
	struct tls_conn *c;
	struct op_fd *f;
	ssize_t r;
	int err;

	if (OP_UNLIKELY(!fns))
		return GTLS_E_INTERRUPTED - 2;   /* GNUTLS_E_PULL_ERROR (-54) */
	fn = (ssize_t (*)(gnutls_session_t, void *, size_t))fns[G_REAL];
	if (op_guard || op_disabled || !(f = followed(c = conn_of(s, fns, true))))
		return fn(s, data, size);
	OP_GUARD_ENTER();
	r = fn(s, data, size);
	err = errno;
	OP_GUARD_LEAVE();
	read_seen(c, f, data, r, r == GTLS_E_AGAIN || r == GTLS_E_INTERRUPTED ||
				 r == GTLS_E_REHANDSHAKE);
	errno = err;
	return r;
}

/* Peeked bytes are read again later: the engine sees them then. */
OP_EXPORT int SSL_peek(SSL *ssl, void *buf, int num)
{
	RESOLVE(fns, d_ssl_peek);
	int r, err;

	if (OP_UNLIKELY(!fns))
		return -1;
	OP_GUARD_ENTER();
	r = ((int (*)(SSL *, void *, int))fns[F_REAL])(ssl, buf, num);
	err = errno;
	OP_GUARD_LEAVE();
	errno = err;
	return r;
}

OP_EXPORT int SSL_peek_ex(SSL *ssl, void *buf, size_t num, size_t *got)
{
	RESOLVE(fns, d_ssl_peek_ex);
	int r, err;

	if (OP_UNLIKELY(!fns || !fns[F_REAL]))
		return 0;
	OP_GUARD_ENTER();
	r = ((int (*)(SSL *, void *, size_t, size_t *))fns[F_REAL])(ssl, buf, num, got);
	err = errno;
	OP_GUARD_LEAVE();
	errno = err;
	return r;
}

/* ---- the end of a session ----------------------------------------------------- */

/* A server's close_notify ends a close-delimited response, as shutdown(SHUT_WR) does. */
static void closing(const void *key)
{
	struct tls_conn *c = op_ptrmap_get(&conns, key);
	struct op_fd *f = followed(c);

	if (f) {
		OP_GUARD_ENTER();
		op_engine_shutdown(f, SHUT_WR);
		OP_GUARD_LEAVE();
	}
}

OP_EXPORT int SSL_shutdown(SSL *ssl)
{
	RESOLVE(fns, d_ssl_shutdown);
	int r, err;

	if (OP_UNLIKELY(!fns))
		return -1;
	OP_GUARD_ENTER();
	r = ((int (*)(SSL *))fns[F_REAL])(ssl);
	err = errno;
	OP_GUARD_LEAVE();
	if (r >= 0 && !op_guard && !op_disabled)
		closing(ssl);
	errno = err;
	return r;
}

OP_EXPORT int gnutls_bye(gnutls_session_t s, int how)
{
	RESOLVE(fns, d_gtls_bye);
	int r, err;

	if (OP_UNLIKELY(!fns))
		return GTLS_E_INTERRUPTED - 1;
	OP_GUARD_ENTER();
	r = ((int (*)(gnutls_session_t, int))fns[G_REAL])(s, how);
	err = errno;
	OP_GUARD_LEAVE();
	if (r == 0 && !op_guard && !op_disabled)
		closing(s);
	errno = err;
	return r;
}

/* Our state goes first: the address may belong to a new session right after. */
OP_EXPORT void SSL_free(SSL *ssl)
{
	RESOLVE(fns, d_ssl_free);
	int err = errno;

	if (ssl && !op_disabled) {
		OP_GUARD_ENTER();
		conn_end(ssl);
		OP_GUARD_LEAVE();
	}
	errno = err;
	if (OP_LIKELY(fns != NULL))
		((void (*)(SSL *))fns[F_REAL])(ssl);
}

OP_EXPORT void gnutls_deinit(gnutls_session_t s)
{
	RESOLVE(fns, d_gtls_deinit);
	int err = errno;

	if (s && !op_disabled) {
		OP_GUARD_ENTER();
		conn_end(s);
		OP_GUARD_LEAVE();
	}
	errno = err;
	if (OP_LIKELY(fns != NULL))
		((void (*)(gnutls_session_t))fns[G_REAL])(s);
}

/* ---- fork ---------------------------------------------------------------------- */

void op_tls_atfork_prepare(void)
{
	op_ptrmap_atfork_prepare(&conns);
}

void op_tls_atfork_parent(void)
{
	op_ptrmap_atfork_parent(&conns);
}

void op_tls_atfork_child(void)
{
	op_ptrmap_atfork_child(&conns);
}
