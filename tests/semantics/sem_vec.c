/*
 * readv and writev (and recvmsg/sendmsg with several iovecs) on traced
 * connections: a request written as iovecs split at every offset, with
 * empty and NULL-based empty iovecs among them; IOV_MAX one-byte iovecs;
 * responses read into iovecs of every size; a server reading with readv
 * and answering with writev. Then the calls the kernel refuses: iovcnt 0,
 * -1 and IOV_MAX + 1 (0, EINVAL, EINVAL), write(NULL, 0), on a fresh
 * connection and after a request. (Buffers the kernel cannot read are
 * sem_fault's.)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sem.h"

static int listener, port;

/* Values the compiler must not see: the calls are wrong on purpose. */
static volatile int minus_one = -1;
static void *volatile null_ptr;

/* One exchange: the request as iovecs [0,i) [i,i) (NULL base) [i,j) [j,len). */
static void split_exchange(int fd, struct peer *p, const struct bytes *req, size_t i, size_t j,
			   const char *what)
{
	struct iovec v[4] = { { req->p, i }, { NULL, 0 }, { req->p + i, j - i },
			      { req->p + j, req->len - j } };
	char resp[256], got[256];
	size_t rlen = http_response(resp, sizeof resp, 200, 1 + (i + j) % 60, (unsigned)(i * 7 + j));
	ssize_t r;

	errno = SEM_SENTINEL;
	r = writev(fd, v, 4);
	if (!check(r == (ssize_t)req->len && errno == SEM_SENTINEL, "%s: writev = %zd", what, r))
		return;
	peer_expect(p, req->p, req->len, INJ_YES, what);
	peer_send(p->fd, resp, rlen);
	/* The response into iovecs of i % 7 + 1 bytes, then the rest. */
	size_t a = i % 7 + 1 < rlen ? i % 7 + 1 : rlen;
	struct iovec rv[3] = { { got, a }, { got + a, 0 }, { got + a, rlen - a } };
	size_t have = 0;

	while (have < rlen) {
		errno = SEM_SENTINEL;
		r = readv(fd, rv, 3);
		if (r <= 0 || errno != SEM_SENTINEL) {
			check(false, "%s: readv = %zd %s", what, r, ename(errno));
			return;
		}
		have += (size_t)r;
		/* Move the iovecs past what was read. */
		size_t k = (size_t)r;

		for (int x = 0; x < 3; x++) {
			size_t t = k < rv[x].iov_len ? k : rv[x].iov_len;

			rv[x].iov_base = (char *)rv[x].iov_base + t;
			rv[x].iov_len -= t;
			k -= t;
		}
	}
	check(!memcmp(got, resp, rlen), "%s: readv read the %zu-byte response", what, rlen);
}

static void splits(void)
{
	struct bytes req = { 0 };
	int fd = app_dial(port, 0), n = 0;
	struct peer p = { .fd = peer_accept(listener) };
	char what[64];

	http_request(&req, "POST", "/vec/split", 6, 1);
	say("one request, %zu bytes, as iovecs split at every offset", req.len);
	for (size_t i = 0; i <= req.len; i++) {
		static const size_t ds[] = { 0, 1, 2, 7, 40 };

		for (size_t d = 0; d < sizeof ds / sizeof ds[0]; d++) {
			size_t j = i + ds[d] <= req.len ? i + ds[d] : req.len;

			/* A fresh connection now and then, keep-alive otherwise. */
			if (++n % 50 == 0) {
				close(fd);
				raw_close(p.fd);
				bytes_free(&p.in);
				fd = app_dial(port, 0);
				p = (struct peer){ .fd = peer_accept(listener) };
			}
			snprintf(what, sizeof what, "iovecs at %zu and %zu", i, j);
			split_exchange(fd, &p, &req, i, j, what);
			want_span("client", "POST", "/vec/split", 200, false);
		}
	}
	close(fd);
	raw_close(p.fd);
	bytes_free(&p.in);
	bytes_free(&req);
}

/* IOV_MAX iovecs of one byte each: a request of exactly IOV_MAX bytes. */
static void many(void)
{
	struct bytes req = { 0 };
	static struct iovec v[IOV_MAX];
	int fd = app_dial(port, 0);
	struct peer p = { .fd = peer_accept(listener) };
	char pad[IOV_MAX];
	char resp[128], got[128];
	size_t rlen;

	http_request(&req, "GET", "/vec/many", 0, 2);
	/* Pad the head with a header to exactly IOV_MAX bytes. */
	size_t fill = IOV_MAX - req.len - strlen("X-Pad: \r\n");

	memset(pad, 'p', fill);
	req.len -= 2;
	bytes_add(&req, "X-Pad: ", 7);
	bytes_add(&req, pad, fill);
	bytes_add(&req, "\r\n\r\n", 4);
	if (req.len != IOV_MAX)
		fatal("the padded request has %zu bytes", req.len);
	for (int i = 0; i < IOV_MAX; i++)
		v[i] = (struct iovec){ req.p + i, 1 };
	errno = SEM_SENTINEL;
	ssize_t r = writev(fd, v, IOV_MAX);

	check(r == IOV_MAX && errno == SEM_SENTINEL, "writev(IOV_MAX one-byte iovecs) = %zd", r);
	/* No room for more iovecs: the library may send this one as it is. */
	peer_expect(&p, req.p, req.len, INJ_ANY, "IOV_MAX iovecs");
	want_span("client", "GET", "/vec/many", 200, true);
	rlen = http_response(resp, sizeof resp, 200, 5, 3);
	peer_send(p.fd, resp, rlen);
	if (app_read_exact(fd, got, rlen))
		check(!memcmp(got, resp, rlen), "its response, %zu bytes", rlen);
	close(fd);
	raw_close(p.fd);
	bytes_free(&p.in);
	bytes_free(&req);
}

/* A server reading with readv into small iovecs and answering with writev. */
static void server(void)
{
	int lport, l = app_listen(&lport), peer = peer_dial(lport), c = accept(l, NULL, NULL);
	char req[128], got[128], resp[128], a[3], b[5], rest[128];
	int n = snprintf(req, sizeof req, "PUT /vec/server HTTP/1.1\r\nHost: sem.test\r\n"
			 "Content-Length: 3\r\n\r\nabc");
	struct iovec rv[3] = { { a, 3 }, { b, 5 }, { rest, sizeof rest } };
	size_t have = 0;

	if (c < 0)
		fatal("accept: %s", strerror(errno));
	want_span("server", "PUT", "/vec/server", 201, false);
	peer_send(peer, req, (size_t)n);
	while (have < (size_t)n) {
		errno = SEM_SENTINEL;
		ssize_t r = readv(c, rv, 3);

		if (r <= 0 || errno != SEM_SENTINEL) {
			check(false, "server readv = %zd %s", r, ename(errno));
			break;
		}
		have += (size_t)r;
		if (have < 8)
			fatal("short readv");
		rv[0].iov_len = rv[1].iov_len = 0;
		rv[2].iov_base = rest + (have - 8);
		rv[2].iov_len = sizeof rest - (have - 8);
	}
	memcpy(got, a, 3);
	memcpy(got + 3, b, 5);
	memcpy(got + 8, rest, have - 8);
	check(have == (size_t)n && !memcmp(got, req, (size_t)n), "server readv: the request, %zu bytes",
	      have);
	size_t rlen = http_response(resp, sizeof resp, 201, 9, 4);
	struct iovec wv[4] = { { resp, 4 }, { resp + 4, 0 }, { resp + 4, rlen - 13 },
			       { resp + rlen - 9, 9 } };

	errno = SEM_SENTINEL;
	ssize_t r = writev(c, wv, 4);

	check(r == (ssize_t)rlen && errno == SEM_SENTINEL, "server writev = %zd", r);
	check(peer_recv_exact(peer, got, rlen) && !memcmp(got, resp, rlen),
	      "the peer received the response as sent");
	close(c);
	close(l);
	raw_close(peer);
}

static void refused(int fd, const char *when)
{
	static struct iovec big[IOV_MAX + 1];
	struct iovec v[2] = { { (char *)"GET /vec/x HTTP/1.1\r\n", 21 }, { NULL, 0 } };
	char what[96];

	for (int i = 0; i <= IOV_MAX; i++)
		big[i] = (struct iovec){ (char *)"G", 1 };
#define TRY(label, expr) \
	do { \
		errno = SEM_SENTINEL; \
		ssize_t r_ = (expr); \
		snprintf(what, sizeof what, "%s: %s", when, label); \
		sayret(what, r_, errno); \
	} while (0)
	TRY("writev(iovcnt 0)", writev(fd, v, 0));
	TRY("writev(iovcnt -1)", writev(fd, v, minus_one));
	TRY("writev(IOV_MAX + 1 iovecs)", writev(fd, big, IOV_MAX + 1));
	TRY("write(NULL, 0)", write(fd, null_ptr, 0));
	TRY("readv(iovcnt -1)", readv(fd, v, minus_one));
}

int main(void)
{
	sem_start();
	listener = peer_listen(&port, 0);
	splits();
	many();
	server();

	int fresh = app_dial(port, 0), fresh_peer = peer_accept(listener);
	int used = app_dial(port, 0);
	struct peer p = { .fd = peer_accept(listener) };
	struct bytes req = { 0 };

	http_request(&req, "GET", "/vec/used", 0, 5);
	want_span("client", "GET", "/vec/used", 0, true);
	app_send_all(used, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(&p, req.p, req.len, INJ_YES, "a request before the refused calls");
	refused(fresh, "fresh connection");
	refused(used, "after a request");
	close(fresh);
	close(used);
	raw_close(fresh_peer);
	raw_close(p.fd);
	bytes_free(&p.in);
	bytes_free(&req);
	return sem_end();
}
