/*
 * dup2, dup3, dup and fcntl(F_DUPFD) over and from traced connections. A
 * number that named a traced connection and now names a pipe, a file or a
 * Unix socket carries HTTP-looking bytes untouched (no header, no
 * ENOTSOCK); one that now names another connection follows that one; a
 * copy of a traced connection is traced like it, before and after the
 * original closes; the calls the kernel refuses (dup3 onto itself, dup2
 * from a closed fd) change nothing, and the connection stays traced.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "sem.h"

static int listener, port;
static const char http_like[] = "GET /dup/not-a-request HTTP/1.1\r\nHost: sem.test\r\n\r\n";

struct conn {
	int fd;
	struct peer p;
};

static struct conn open_conn(void)
{
	struct conn c = { .fd = app_dial(port, 0) };

	c.p = (struct peer){ .fd = peer_accept(listener) };
	return c;
}

static void close_conn(struct conn *c, bool app_too)
{
	if (app_too)
		close(c->fd);
	raw_close(c->p.fd);
	bytes_free(&c->p.in);
}

/* An exchange written and read through `fd`, which names c's connection. */
static void exchange(int fd, struct conn *c, const char *path, int status, const char *what)
{
	struct bytes req = { 0 };
	char resp[128], got[128];
	size_t rlen;

	http_request(&req, "GET", path, 0, (unsigned)status);
	want_span("client", "GET", path, status, false);
	app_send_all(fd, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(&c->p, req.p, req.len, INJ_YES, what);
	rlen = http_response(resp, sizeof resp, status, 17, (unsigned)status);
	peer_send(c->p.fd, resp, rlen);
	if (app_read_exact(fd, got, rlen))
		check(!memcmp(got, resp, rlen), "%s: the response, %zu bytes", what, rlen);
	bytes_free(&req);
}

/* HTTP-looking bytes written to `fd`, read back from `back`: exactly those. */
static void untouched(int fd, int back, const char *what)
{
	char got[128];
	ssize_t r;

	errno = SEM_SENTINEL;
	r = write(fd, http_like, sizeof http_like - 1);
	check(r == sizeof http_like - 1 && errno == SEM_SENTINEL, "%s: write = %zd %s", what, r,
	      r < 0 ? ename(errno) : "");
	if (back >= 0) {
		r = read(back, got, sizeof got);
		check(r == sizeof http_like - 1 && !memcmp(got, http_like, (size_t)r),
		      "%s: read back exactly, %zd bytes", what, r);
	}
}

int main(void)
{
	struct conn a, b;
	int pp[2], sv[2], file, r;
	char buf[256];

	sem_start();
	listener = peer_listen(&port, 0);

	/* A pipe over a traced connection with one exchange behind it. */
	a = open_conn();
	exchange(a.fd, &a, "/dup/a1", 200, "a");
	if (pipe(pp))
		fatal("pipe: %s", strerror(errno));
	r = dup2(pp[1], a.fd);
	check(r == a.fd, "dup2(pipe, a) = a");
	untouched(a.fd, pp[0], "a, now the pipe");
	check(peer_idle(a.p.fd), "a's peer: the connection closed, nothing more");
	close(pp[1]);
	close_conn(&a, true);

	/* Another connection over a traced one. */
	a = open_conn();
	b = open_conn();
	exchange(a.fd, &a, "/dup/a2", 201, "a");
	exchange(b.fd, &b, "/dup/b1", 202, "b");
	r = dup2(b.fd, a.fd);
	check(r == a.fd, "dup2(b, a) = a");
	exchange(a.fd, &b, "/dup/b2", 203, "b through a's number");
	exchange(b.fd, &b, "/dup/b3", 204 + 2, "b through its own");
	close(a.fd);
	exchange(b.fd, &b, "/dup/b4", 207, "b after a's number closed");
	close_conn(&a, false);
	close_conn(&b, true);

	/* A file over a traced connection, close-on-exec by dup3. */
	file = open("dup.file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file < 0)
		fatal("dup.file: %s", strerror(errno));
	a = open_conn();
	exchange(a.fd, &a, "/dup/a3", 200, "a");
	r = dup3(file, a.fd, O_CLOEXEC);
	check(r == a.fd && fcntl(a.fd, F_GETFD) == FD_CLOEXEC, "dup3(file, a, O_CLOEXEC) = a, FD_CLOEXEC");
	untouched(a.fd, -1, "a, now the file");
	check(pread(file, buf, sizeof buf, 0) == sizeof http_like - 1 &&
	      !memcmp(buf, http_like, sizeof http_like - 1), "the file holds exactly the bytes written");
	close(a.fd);
	close(file);
	unlink("dup.file");
	close_conn(&a, false);

	/* A Unix socket over a traced connection waiting for its response. */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		fatal("socketpair: %s", strerror(errno));
	a = open_conn();
	struct bytes req = { 0 };

	http_request(&req, "GET", "/dup/abandoned", 0, 1);
	want_span("client", "GET", "/dup/abandoned", 0, false);
	app_send_all(a.fd, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(&a.p, req.p, req.len, INJ_YES, "a request whose connection is replaced");
	bytes_free(&req);
	r = dup2(sv[0], a.fd);
	check(r == a.fd, "dup2(unix socket, a) = a");
	untouched(a.fd, sv[1], "a, now a Unix socket");
	close(a.fd);
	close(sv[0]);
	close(sv[1]);
	close_conn(&a, false);

	/* Refused calls change nothing. */
	b = open_conn();
	errno = SEM_SENTINEL;
	r = dup3(b.fd, b.fd, 0);
	check(r == -1 && errno == EINVAL, "dup3(b, b) = %d %s", r, ename(errno));
	errno = SEM_SENTINEL;
	r = dup2(b.fd, b.fd);
	check(r == b.fd && errno == SEM_SENTINEL, "dup2(b, b) = b");
	int closed = dup(b.fd);

	close(closed);
	errno = SEM_SENTINEL;
	r = dup2(closed, b.fd);
	check(r == -1 && errno == EBADF, "dup2(a closed fd, b) = %d %s", r, ename(errno));
	exchange(b.fd, &b, "/dup/b5", 200, "b after the refused calls");

	/* Copies: dup, dup2 to a high number, F_DUPFD and F_DUPFD_CLOEXEC, the original closed. */
	int c1 = dup(b.fd), c2 = dup2(b.fd, 300), c3 = fcntl(b.fd, F_DUPFD, 200),
	    c4 = fcntl(b.fd, F_DUPFD_CLOEXEC, 250);

	check(c1 >= 0 && c2 == 300 && c3 >= 200 && c4 >= 250 && fcntl(c4, F_GETFD) == FD_CLOEXEC,
	      "dup, dup2 to 300, F_DUPFD from 200, F_DUPFD_CLOEXEC from 250");
	exchange(c1, &b, "/dup/c1", 201, "b through dup()");
	exchange(c2, &b, "/dup/c2", 202, "b through dup2()");
	close(b.fd);
	exchange(c3, &b, "/dup/c3", 203, "b through F_DUPFD, the original closed");
	close(c1);
	close(c2);
	close(c3);
	exchange(c4, &b, "/dup/c4", 205, "b through F_DUPFD_CLOEXEC, the last copy");
	close(c4);
	close_conn(&b, false);
	return sem_end();
}
