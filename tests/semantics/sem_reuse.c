/*
 * A number freed by close() and given to something new: the new socket,
 * accepted connection, pipe, socketpair or file must not inherit the old
 * connection's state. Old states: a request waiting for its response, a
 * request head cut in the middle, a server connection half-way through
 * reading a request, a connection found not to be HTTP. New HTTP
 * connections must be traced from their own first byte; anything else
 * carries HTTP-looking bytes untouched (no header, no ENOTSOCK).
 *
 * Then the ways a program frees a number without calling close(): glibc's
 * closefrom() (close_range inside libc), fclose() of a FILE made with
 * fdopen() (libc's internal close) and syscall(SYS_close). The next
 * socketpair or file at that number must work just the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "sem.h"

static int listener, port;
static const char http_like[] = "GET /reuse/not-a-request HTTP/1.1\r\nHost: sem.test\r\n\r\n";

static void exchange(int fd, struct peer *p, const char *path, int status, const char *what)
{
	struct bytes req = { 0 };
	char resp[128], got[128];
	size_t rlen;

	http_request(&req, "GET", path, 0, (unsigned)status);
	want_span("client", "GET", path, status, false);
	app_send_all(fd, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(p, req.p, req.len, INJ_YES, what);
	rlen = http_response(resp, sizeof resp, status, 13, (unsigned)status);
	peer_send(p->fd, resp, rlen);
	if (app_read_exact(fd, got, rlen))
		check(!memcmp(got, resp, rlen), "%s: the response, %zu bytes", what, rlen);
	bytes_free(&req);
}

/* Notes whether `fd` got the number `old` (it does, unless another thread took it). */
static void same_number(int fd, int old, const char *what)
{
	side("figure %s gets the old number: %s", what, fd == old ? "yes" : "no");
}

/* A fresh traced connection whose number is about to be freed; its peer in *p. */
static int doomed(struct peer *p, const char *first, size_t n)
{
	int fd = app_dial(port, 0);

	*p = (struct peer){ .fd = peer_accept(listener) };
	if (n)
		app_send_all(fd, first, n, WC_WRITE, 0, NULL);
	return fd;
}

/* HTTP-looking bytes through whatever now has the number: a socketpair and a file. */
static void after(int old, const char *how)
{
	int sv[2];
	char got[128], what[96];
	ssize_t r;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		fatal("socketpair: %s", strerror(errno));
	snprintf(what, sizeof what, "socketpair after %s", how);
	same_number(sv[0], old, what);
	errno = SEM_SENTINEL;
	r = write(sv[0], http_like, sizeof http_like - 1);
	check(r == sizeof http_like - 1 && errno == SEM_SENTINEL, "%s: write = %zd %s", what, r,
	      r < 0 ? ename(errno) : "");
	r = recv(sv[1], got, sizeof got, MSG_DONTWAIT);
	check(r == sizeof http_like - 1 && !memcmp(got, http_like, sizeof http_like - 1),
	      "%s: the other end reads exactly the bytes written (%zd)", what, r);
	close(sv[0]);
	close(sv[1]);
}

static void after_file(int old, const char *how)
{
	char got[128], what[96];
	int f = open("reuse.file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	ssize_t r;

	snprintf(what, sizeof what, "file after %s", how);
	same_number(f, old, what);
	errno = SEM_SENTINEL;
	r = write(f, http_like, sizeof http_like - 1);
	check(r == sizeof http_like - 1 && errno == SEM_SENTINEL, "%s: write = %zd %s", what, r,
	      r < 0 ? ename(errno) : "");
	check(pread(f, got, sizeof got, 0) == sizeof http_like - 1 &&
	      !memcmp(got, http_like, sizeof http_like - 1), "%s: holds exactly the bytes written", what);
	close(f);
	unlink("reuse.file");
}

int main(void)
{
	struct peer p, q;
	struct bytes req = { 0 };
	int fd, nfd, pp[2];
	char buf[256];

	sem_start();
	listener = peer_listen(&port, 0);

	/* A request waiting for its response; the next socket gets the number. */
	http_request(&req, "GET", "/reuse/waiting", 0, 1);
	want_span("client", "GET", "/reuse/waiting", 0, false);
	fd = doomed(&p, req.p, req.len);
	peer_expect(&p, req.p, req.len, INJ_YES, "a request left waiting");
	check(close(fd) == 0, "close the waiting connection");
	nfd = app_dial(port, 0);
	same_number(nfd, fd, "socket after a waiting request");
	q = (struct peer){ .fd = peer_accept(listener) };
	exchange(nfd, &q, "/reuse/next1", 200, "the new connection");
	close(nfd);
	raw_close(p.fd), raw_close(q.fd);
	bytes_free(&p.in), bytes_free(&q.in);

	/* A head cut in the middle. */
	fd = doomed(&p, req.p, 22);
	check(close(fd) == 0, "close a connection in the middle of a head");
	nfd = app_dial(port, 0);
	same_number(nfd, fd, "socket after half a head");
	q = (struct peer){ .fd = peer_accept(listener) };
	exchange(nfd, &q, "/reuse/next2", 201, "the new connection");
	close(nfd);
	raw_close(p.fd), raw_close(q.fd);
	bytes_free(&p.in), bytes_free(&q.in);

	/* Not HTTP. */
	fd = doomed(&p, "PING\r\n", 6);
	check(close(fd) == 0, "close a connection that is not HTTP");
	nfd = app_dial(port, 0);
	same_number(nfd, fd, "socket after a non-HTTP connection");
	q = (struct peer){ .fd = peer_accept(listener) };
	exchange(nfd, &q, "/reuse/next3", 202, "the new connection");
	close(nfd);
	raw_close(p.fd), raw_close(q.fd);
	bytes_free(&p.in), bytes_free(&q.in);

	/* A server connection half-way through a request; the next accept gets the number. */
	int lport, l = app_listen(&lport), peer = peer_dial(lport), s = accept(l, NULL, NULL);
	static const char sreq[] = "GET /reuse/server HTTP/1.1\r\nHost: sem.test\r\n\r\n";
	char resp[128];
	size_t rlen;

	peer_send(peer, sreq, 20);
	check(app_read_exact(s, buf, 20), "the server read 20 bytes of a request");
	check(close(s) == 0, "close the server connection");
	raw_close(peer);
	peer = peer_dial(lport);
	nfd = accept(l, NULL, NULL);
	same_number(nfd, s, "accept after half a request");
	want_span("server", "GET", "/reuse/server", 200, false);
	peer_send(peer, sreq, sizeof sreq - 1);
	if (app_read_exact(nfd, buf, sizeof sreq - 1))
		check(!memcmp(buf, sreq, sizeof sreq - 1), "the new server connection reads its request");
	rlen = http_response(resp, sizeof resp, 200, 8, 1);
	app_send_all(nfd, resp, rlen, WC_WRITE, 0, NULL);
	check(peer_recv_exact(peer, buf, rlen) && !memcmp(buf, resp, rlen), "its response arrives");
	close(nfd);
	raw_close(peer);
	close(l);

	/* Freed by close(): a pipe, a socketpair, a file. */
	fd = doomed(&p, NULL, 0);
	close(fd);
	if (pipe(pp))
		fatal("pipe: %s", strerror(errno));
	same_number(pp[0], fd, "pipe after close()");
	check(write(pp[1], http_like, sizeof http_like - 1) == sizeof http_like - 1 &&
	      read(pp[0], buf, sizeof buf) == sizeof http_like - 1 &&
	      !memcmp(buf, http_like, sizeof http_like - 1), "pipe after close(): bytes untouched");
	close(pp[0]);
	close(pp[1]);
	raw_close(p.fd), bytes_free(&p.in);
	fd = doomed(&p, NULL, 0);
	close(fd);
	after(fd, "close()");
	raw_close(p.fd), bytes_free(&p.in);
	fd = doomed(&p, NULL, 0);
	close(fd);
	after_file(fd, "close()");
	raw_close(p.fd), bytes_free(&p.in);

	/* Freed without close(). */
	fd = doomed(&p, NULL, 0);
	closefrom(fd);
	after(fd, "closefrom()");
	raw_close(p.fd), bytes_free(&p.in);
	fd = doomed(&p, NULL, 0);
	closefrom(fd);
	after_file(fd, "closefrom()");
	raw_close(p.fd), bytes_free(&p.in);

	fd = doomed(&p, NULL, 0);
	fclose(fdopen(fd, "r+"));
	after(fd, "fclose(fdopen())");
	raw_close(p.fd), bytes_free(&p.in);
	fd = doomed(&p, NULL, 0);
	fclose(fdopen(fd, "r+"));
	after_file(fd, "fclose(fdopen())");
	raw_close(p.fd), bytes_free(&p.in);

	fd = doomed(&p, NULL, 0);
	syscall(SYS_close, fd);
	after(fd, "syscall(SYS_close)");
	raw_close(p.fd), bytes_free(&p.in);

	bytes_free(&req);
	return sem_end();
}
