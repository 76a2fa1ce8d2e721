/*
 * The receive and send flags on traced TCP sockets, client and server:
 * MSG_DONTWAIT on an empty socket (EAGAIN), MSG_PEEK before the bytes are
 * read (they are seen once: one span per request, with its status),
 * MSG_WAITALL waiting for bytes that come later, MSG_TRUNC discarding,
 * MSG_MORE and MSG_NOSIGNAL on sends, recvfrom, recvmsg with msg_flags,
 * and recvmmsg and sendmmsg on a stream socket. The bytes that come later
 * are sent by a thread 30 ms after the call starts waiting: the result
 * does not depend on when they come.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sem.h"

struct later {
	pthread_t t;
	int fd;
	const char *p;
	size_t n;
};

static void *later_run(void *arg)
{
	struct later *l = arg;

	usleep(30000);
	peer_send(l->fd, l->p, l->n);
	return NULL;
}

/* Sends p from the peer in a thread, 30 ms from now. */
static void send_later(struct later *l, int fd, const char *p, size_t n)
{
	*l = (struct later){ .fd = fd, .p = p, .n = n };
	if (pthread_create(&l->t, NULL, later_run, l))
		fatal("pthread_create");
}

static void sent_later(struct later *l)
{
	pthread_join(l->t, NULL);
}

static void recv_say(const char *what, int fd, char *buf, size_t n, int flags)
{
	errno = SEM_SENTINEL;
	ssize_t r = recv(fd, buf, n, flags);
	int err = errno;

	if (r >= 0) {
		check(err == SEM_SENTINEL, "%s = %zd (sum %08x), errno kept", what, r,
		      buf ? sum(buf, (size_t)r) : 0);
	} else {
		sayret(what, r, err);
	}
}

static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, SEM_WAIT_MS) != 1)
		fatal("nothing to read");
}

static int listener, port;

static void client(void)
{
	int fd = app_dial(port, 0);
	struct peer p = { .fd = peer_accept(listener) };
	struct bytes req = { 0 }, req2 = { 0 };
	char resp[512], got[512];
	size_t rlen;
	struct later l;
	ssize_t r;

	say("-- client");
	http_request(&req, "GET", "/flags/one", 0, 1);
	want_span("client", "GET", "/flags/one", 200, false);
	errno = SEM_SENTINEL;
	r = send(fd, req.p, req.len, MSG_NOSIGNAL);
	check(r == (ssize_t)req.len && errno == SEM_SENTINEL, "send(MSG_NOSIGNAL) = %zd", r);
	peer_expect(&p, req.p, req.len, INJ_YES, "the first request");
	recv_say("recv(MSG_DONTWAIT) before the response", fd, got, sizeof got, MSG_DONTWAIT);
	recv_say("recv(MSG_PEEK|MSG_DONTWAIT) before the response", fd, got, sizeof got,
		 MSG_PEEK | MSG_DONTWAIT);
	rlen = http_response(resp, sizeof resp, 200, 150, 1);
	peer_send(p.fd, resp, 20);
	wait_readable(fd);
	recv_say("recv(10, MSG_PEEK)", fd, got, 10, MSG_PEEK);
	recv_say("recv(100, MSG_PEEK)", fd, got, 100, MSG_PEEK);
	send_later(&l, p.fd, resp + 20, rlen - 20);
	recv_say("recv(all, MSG_WAITALL)", fd, got, rlen, MSG_WAITALL);
	sent_later(&l);
	check(!memcmp(got, resp, rlen), "MSG_WAITALL: the whole response, as sent");
	recv_say("recv(MSG_DONTWAIT) after the response", fd, got, sizeof got, MSG_DONTWAIT);

	/* The same connection: a head with MSG_MORE, its body, a response read in pieces. */
	http_request(&req2, "POST", "/flags/two", 40, 2);
	want_span("client", "POST", "/flags/two", 404, false);
	size_t head = (size_t)((char *)memmem(req2.p, req2.len, "\r\n\r\n", 4) - req2.p) + 4;

	errno = SEM_SENTINEL;
	r = send(fd, req2.p, head, MSG_MORE);
	check(r == (ssize_t)head && errno == SEM_SENTINEL, "send(head, MSG_MORE) = %zd", r);
	r = sendto(fd, req2.p + head, req2.len - head, 0, NULL, 0);
	check(r == (ssize_t)(req2.len - head) && errno == SEM_SENTINEL, "sendto(body) = %zd", r);
	peer_expect(&p, req2.p, req2.len, INJ_YES, "the second request");
	rlen = http_response(resp, sizeof resp, 404, 60, 2);
	peer_send(p.fd, resp, 30);
	wait_readable(fd);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;

	errno = SEM_SENTINEL;
	r = recvfrom(fd, got, 8, MSG_PEEK, (struct sockaddr *)&ss, &sl);
	check(r == 8 && errno == SEM_SENTINEL, "recvfrom(8, MSG_PEEK) = %zd, address length %u", r,
	      (unsigned)sl);
	struct iovec v[3] = { { got, 5 }, { got + 5, 7 }, { got + 12, rlen - 12 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 3 };

	send_later(&l, p.fd, resp + 30, rlen - 30);
	errno = SEM_SENTINEL;
	r = recvmsg(fd, &m, MSG_WAITALL);
	sent_later(&l);
	check(r == (ssize_t)rlen && !memcmp(got, resp, rlen) && errno == SEM_SENTINEL,
	      "recvmsg(3 iovecs, MSG_WAITALL) = %zd, msg_flags %#x, the whole response", r,
	      (unsigned)m.msg_flags);

	/* A third request by sendmmsg, its response read by recvmmsg. */
	struct bytes req3 = { 0 };

	http_request(&req3, "PUT", "/flags/three", 12, 3);
	want_span("client", "PUT", "/flags/three", 201, false);
	size_t line = (size_t)((char *)memmem(req3.p, req3.len, "\r\n", 2) - req3.p) + 2;
	struct iovec sv[3] = { { req3.p, line }, { req3.p + line, req3.len - line - 12 },
			       { req3.p + req3.len - 12, 12 } };
	struct mmsghdr mm[3] = { { .msg_hdr = { .msg_iov = &sv[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &sv[1], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &sv[2], .msg_iovlen = 1 } } };

	errno = SEM_SENTINEL;
	int k = sendmmsg(fd, mm, 3, 0);
	check(k == 3 && errno == SEM_SENTINEL, "sendmmsg(3 messages) = %d, lengths %u %u %u", k,
	      mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
	peer_expect(&p, req3.p, req3.len, INJ_YES, "the sendmmsg request");
	rlen = http_response(resp, sizeof resp, 201, 20, 3);
	peer_send(p.fd, resp, rlen);
	wait_readable(fd);
	char a[16], b[16], c[512];
	struct iovec rv[3] = { { a, sizeof a }, { b, sizeof b }, { c, sizeof c } };
	struct mmsghdr rm[3] = { { .msg_hdr = { .msg_iov = &rv[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &rv[1], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &rv[2], .msg_iovlen = 1 } } };

	errno = SEM_SENTINEL;
	k = recvmmsg(fd, rm, 2, MSG_DONTWAIT, NULL);
	check(k == 2 && errno == SEM_SENTINEL, "recvmmsg(2 x 16 bytes, MSG_DONTWAIT) = %d, lengths %u %u",
	      k, rm[0].msg_len, rm[1].msg_len);
	memcpy(got, a, 16);
	memcpy(got + 16, b, 16);
	if (app_read_exact(fd, got + 32, rlen - 32))
		check(!memcmp(got, resp, rlen), "then read(): the response, %zu bytes", rlen);

	/* A fourth whose response is partly thrown away with MSG_TRUNC. */
	struct bytes req4 = { 0 };

	http_request(&req4, "GET", "/flags/four", 0, 4);
	/* The engine loses the stream (it cannot see discarded bytes): no span is required. */
	want_span("client", "GET", "/flags/four", 200, true);
	app_send_all(fd, req4.p, req4.len, WC_WRITE, 0, NULL);
	peer_expect(&p, req4.p, req4.len, INJ_YES, "the fourth request");
	rlen = http_response(resp, sizeof resp, 200, 80, 4);
	peer_send(p.fd, resp, rlen);
	if (app_read_exact(fd, got, 20)) {
		recv_say("recv(NULL, 30, MSG_TRUNC) discards", fd, NULL, 30, MSG_TRUNC);
		if (app_read_exact(fd, got + 50, rlen - 50))
			check(!memcmp(got, resp, 20) && !memcmp(got + 50, resp + 50, rlen - 50),
			      "the bytes around the discarded ones, as sent");
	}
	recv_say("recv(MSG_DONTWAIT) at the end", fd, got, sizeof got, MSG_DONTWAIT);
	check(peer_idle(p.fd), "the peer received nothing more");
	check(close(fd) == 0, "close");
	raw_close(p.fd);
	bytes_free(&p.in);
	bytes_free(&req);
	bytes_free(&req2);
	bytes_free(&req3);
	bytes_free(&req4);
}

static void server(void)
{
	int lport, l = app_listen(&lport), peer = peer_dial(lport), c;
	char req[256], got[512], resp[256];
	int n;
	struct later lt;
	ssize_t r;

	say("-- server");
	c = accept(l, NULL, NULL);
	if (c < 0)
		fatal("accept: %s", strerror(errno));
	n = snprintf(req, sizeof req, "GET /flags/server/one HTTP/1.1\r\nHost: sem.test\r\n"
		     "User-Agent: sem/1\r\n\r\n");
	want_span("server", "GET", "/flags/server/one", 200, false);
	recv_say("server recv(MSG_DONTWAIT) before the request", c, got, sizeof got, MSG_DONTWAIT);
	peer_send(peer, req, 10);
	wait_readable(c);
	recv_say("server recv(4, MSG_PEEK)", c, got, 4, MSG_PEEK);
	recv_say("server recv(100, MSG_PEEK|MSG_DONTWAIT)", c, got, 100, MSG_PEEK | MSG_DONTWAIT);
	send_later(&lt, peer, req + 10, (size_t)n - 10);
	recv_say("server recv(all, MSG_WAITALL)", c, got, (size_t)n, MSG_WAITALL);
	sent_later(&lt);
	check(!memcmp(got, req, (size_t)n), "the server read the request as sent");
	recv_say("server recv(MSG_DONTWAIT) after it", c, got, sizeof got, MSG_DONTWAIT);
	size_t rlen = http_response(resp, sizeof resp, 200, 33, 5);
	size_t h = rlen - 33;

	errno = SEM_SENTINEL;
	r = send(c, resp, h, MSG_MORE | MSG_NOSIGNAL);
	check(r == (ssize_t)h && errno == SEM_SENTINEL, "server send(head, MSG_MORE|MSG_NOSIGNAL) = %zd", r);
	r = send(c, resp + h, 33, MSG_NOSIGNAL);
	check(r == 33 && errno == SEM_SENTINEL, "server send(body) = %zd", r);
	check(peer_recv_exact(peer, got, rlen) && !memcmp(got, resp, rlen),
	      "the peer received the response as sent");

	/* A second request, peeked with recvfrom and read with recvmmsg; the response by sendmmsg. */
	n = snprintf(req, sizeof req, "POST /flags/server/two HTTP/1.1\r\nHost: sem.test\r\n"
		     "Content-Length: 5\r\n\r\nhello");
	want_span("server", "POST", "/flags/server/two", 500, false);
	peer_send(peer, req, (size_t)n);
	wait_readable(c);
	r = recvfrom(c, got, 4, MSG_PEEK, NULL, NULL);
	check(r == 4, "server recvfrom(4, MSG_PEEK) = %zd", r);
	char a[20], b[200];
	struct iovec rv[2] = { { a, sizeof a }, { b, sizeof b } };
	struct mmsghdr rm[2] = { { .msg_hdr = { .msg_iov = &rv[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &rv[1], .msg_iovlen = 1 } } };
	int k = recvmmsg(c, rm, 2, MSG_DONTWAIT, NULL);

	check(k >= 1 && rm[0].msg_len == 20, "server recvmmsg(MSG_DONTWAIT) = %d, first %u bytes",
	      k, rm[0].msg_len);
	size_t have = k == 2 ? 20 + rm[1].msg_len : 20;

	memcpy(got, a, 20);
	if (k == 2)
		memcpy(got + 20, b, rm[1].msg_len);
	if (have < (size_t)n && app_read_exact(c, got + have, (size_t)n - have))
		have = (size_t)n;
	check(have == (size_t)n && !memcmp(got, req, (size_t)n), "the server read the request as sent");
	rlen = http_response(resp, sizeof resp, 500, 7, 6);
	struct iovec sv[2] = { { resp, rlen - 7 }, { resp + rlen - 7, 7 } };
	struct mmsghdr sm[2] = { { .msg_hdr = { .msg_iov = &sv[0], .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &sv[1], .msg_iovlen = 1 } } };

	k = sendmmsg(c, sm, 2, MSG_NOSIGNAL);
	check(k == 2, "server sendmmsg(head, body) = %d, lengths %u %u", k, sm[0].msg_len,
	      sm[1].msg_len);
	check(peer_recv_exact(peer, got, rlen) && !memcmp(got, resp, rlen),
	      "the peer received the response as sent");
	check(close(c) == 0, "server close");
	close(l);
	raw_close(peer);
}

int main(void)
{
	sem_start();
	listener = peer_listen(&port, 0);
	client();
	server();
	return sem_end();
}
