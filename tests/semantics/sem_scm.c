/*
 * Descriptors passed with SCM_RIGHTS over Unix sockets: a file, a pipe, a
 * traced TCP client connection in the middle of its keep-alive life and a
 * traced accepted connection arrive intact (one byte of data, the control
 * message's level, type and count, FD_CLOEXEC from MSG_CMSG_CLOEXEC) and
 * work: the file reads back, the pipe carries bytes, both connections
 * carry their next HTTP exchange with every byte in place. A control
 * buffer too small for the fds sets MSG_CTRUNC, as the kernel decides.
 * Then a connection is passed while the original fd stays open and both
 * numbers write requests in turn.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sem.h"

static int listener, port;

/* Sends one byte with `n` fds attached; returns sendmsg's result. */
static ssize_t pass(int sock, const int *fds, int n)
{
	char data = 'F';
	struct iovec v = { &data, 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(8 * sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = u.b,
			    .msg_controllen = CMSG_SPACE((size_t)n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	memset(&u, 0, sizeof u);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
	errno = SEM_SENTINEL;
	return sendmsg(sock, &m, 0);
}

/* Receives one byte and up to `room` fds; returns the fd count (-1: failed). */
static int take(int sock, int *fds, int room, int flags, const char *what)
{
	char data = 0;
	struct iovec v = { &data, 1 };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(8 * sizeof(int))];
	} u;
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1, .msg_control = u.b,
			    .msg_controllen = CMSG_SPACE((size_t)room * sizeof(int)) };
	int n = 0;

	errno = SEM_SENTINEL;
	ssize_t r = recvmsg(sock, &m, flags);
	int err = errno;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); r > 0 && c; c = CMSG_NXTHDR(&m, c)) {
		say("%s: control message level %d type %d, %zu bytes of fds", what, c->cmsg_level,
		    c->cmsg_type, (size_t)(c->cmsg_len - CMSG_LEN(0)));
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
			n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			memcpy(fds, CMSG_DATA(c), (size_t)n * sizeof(int));
		}
	}
	check(r == 1 && data == 'F' && err == SEM_SENTINEL,
	      "%s: recvmsg = %zd %s, data '%c', msg_flags%s%s, %d fds", what, r,
	      r < 0 ? ename(err) : "", data ? data : '?', m.msg_flags & MSG_CTRUNC ? " CTRUNC" : "",
	      m.msg_flags & MSG_TRUNC ? " TRUNC" : "", n);
	return r == 1 ? n : -1;
}

/* One keep-alive exchange on an application client fd. */
static void exchange(int fd, struct peer *p, const char *path, int status, enum inj inj,
		     const char *what)
{
	struct bytes req = { 0 };
	char resp[256], got[256];
	size_t rlen;

	http_request(&req, "GET", path, 0, 1);
	want_span("client", "GET", path, status, inj != INJ_YES);
	app_send_all(fd, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(p, req.p, req.len, inj, what);
	rlen = http_response(resp, sizeof resp, status, 25, (unsigned)status);
	peer_send(p->fd, resp, rlen);
	if (app_read_exact(fd, got, rlen))
		check(!memcmp(got, resp, rlen), "%s: the response, %zu bytes", what, rlen);
	bytes_free(&req);
}

int main(void)
{
	int sv[2], pipefd[2], file, cl, lport, srv_l, srv, srv_peer, got[8], n;
	struct peer p;
	char buf[128];
	static const char content[] = "the file's own bytes\n";

	sem_start();
	listener = peer_listen(&port, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) || pipe(pipefd))
		fatal("socketpair/pipe: %s", strerror(errno));
	file = open("scm.file", O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (file < 0 || write(file, content, sizeof content - 1) != sizeof content - 1)
		fatal("scm.file: %s", strerror(errno));

	/* A client connection with one exchange done, a server one with none yet. */
	cl = app_dial(port, 0);
	p = (struct peer){ .fd = peer_accept(listener) };
	exchange(cl, &p, "/scm/before", 200, INJ_YES, "the client before passing");
	srv_l = app_listen(&lport);
	srv_peer = peer_dial(lport);
	srv = accept(srv_l, NULL, NULL);
	if (srv < 0)
		fatal("accept: %s", strerror(errno));

	int out[4] = { file, pipefd[1], cl, srv };
	ssize_t r = pass(sv[0], out, 4);

	check(r == 1 && errno == SEM_SENTINEL, "sendmsg(1 byte, 4 fds) = %zd", r);
	for (int i = 0; i < 4; i++)
		check(close(out[i]) == 0, "the sender closes its copy %d", i);
	n = take(sv[1], got, 8, MSG_CMSG_CLOEXEC, "4 fds");
	if (n != 4)
		fatal("expected 4 fds");
	for (int i = 0; i < 4; i++)
		check(fcntl(got[i], F_GETFD) == FD_CLOEXEC, "received fd %d has FD_CLOEXEC", i);
	check(pread(got[0], buf, sizeof buf, 0) == sizeof content - 1 &&
	      !memcmp(buf, content, sizeof content - 1), "the file reads back");
	check(write(got[1], "through the pipe", 16) == 16 && read(pipefd[0], buf, 16) == 16 &&
	      !memcmp(buf, "through the pipe", 16), "the pipe carries bytes");
	/* The passed connection has a number the library never saw: traced or not, intact. */
	exchange(got[2], &p, "/scm/after", 404, INJ_ANY, "the passed client");

	char req[128], resp[128], in[128];
	int rn = snprintf(req, sizeof req, "GET /scm/server HTTP/1.1\r\nHost: sem.test\r\n\r\n");
	size_t rlen = http_response(resp, sizeof resp, 200, 10, 9);

	want_span("server", "GET", "/scm/server", 200, true);
	peer_send(srv_peer, req, (size_t)rn);
	if (app_read_exact(got[3], in, (size_t)rn))
		check(!memcmp(in, req, (size_t)rn), "the passed server connection reads the request");
	app_send_all(got[3], resp, rlen, WC_WRITE, 0, NULL);
	check(peer_recv_exact(srv_peer, in, rlen) && !memcmp(in, resp, rlen),
	      "the passed server connection's response arrives");
	for (int i = 0; i < 4; i++)
		close(got[i]);
	raw_close(p.fd);
	bytes_free(&p.in);
	raw_close(srv_peer);
	close(srv_l);

	/*
	 * Control room for one fd (CMSG_SPACE rounds it up to two), three sent:
	 * the kernel passes what fits, closes the rest and says MSG_CTRUNC.
	 */
	int three[3] = { pipefd[0], pipefd[0], pipefd[0] };

	r = pass(sv[0], three, 3);
	check(r == 1, "sendmsg(1 byte, 3 fds) = %zd", r);
	n = take(sv[1], got, 1, 0, "control room for 1 fd, 3 sent");
	for (int i = 0; i < n; i++)
		close(got[i]);

	/* Over a datagram socketpair. */
	int dv[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, dv))
		fatal("socketpair: %s", strerror(errno));
	r = pass(dv[0], &pipefd[0], 1);
	check(r == 1, "datagram sendmsg(1 byte, 1 fd) = %zd", r);
	n = take(dv[1], got, 4, 0, "datagram, 1 fd");
	if (n == 1)
		close(got[0]);

	/* Passed while the original stays open: both numbers write requests in turn. */
	cl = app_dial(port, 0);
	p = (struct peer){ .fd = peer_accept(listener) };
	exchange(cl, &p, "/scm/one", 200, INJ_YES, "the original, first");
	r = pass(sv[0], &cl, 1);
	n = take(sv[1], got, 4, 0, "a copy of an open connection");
	if (n != 1)
		fatal("expected 1 fd");
	exchange(got[0], &p, "/scm/two", 201, INJ_ANY, "the copy");
	exchange(cl, &p, "/scm/three", 202, INJ_YES, "the original again");
	exchange(got[0], &p, "/scm/four", 203, INJ_ANY, "the copy again");
	close(got[0]);
	exchange(cl, &p, "/scm/five", 207, INJ_YES, "the original, last");
	close(cl);
	check(peer_idle(p.fd), "the peer received nothing more");
	raw_close(p.fd);
	bytes_free(&p.in);
	close(pipefd[0]);
	close(sv[0]);
	close(sv[1]);
	close(dv[0]);
	close(dv[1]);
	unlink("scm.file");
	return sem_end();
}
