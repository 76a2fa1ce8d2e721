/*
 * Unix sockets are not traced, and behave exactly as without the library
 * while carrying HTTP: a stream socketpair and a named stream socket with
 * accept() (a listener the library classifies by asking the kernel), both
 * with requests and responses read in small pieces and a half-close; an
 * abstract-namespace socket; SOCK_SEQPACKET message boundaries and
 * MSG_TRUNC; a datagram socket that reports its sender's path; a
 * non-blocking stream filled until EAGAIN. Nothing is inserted anywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sem.h"

static const char req[] = "POST /unix HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\nping";
static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\npong";

/* Reads exactly n bytes in pieces of `piece` with read(). */
static bool read_pieces(int fd, char *p, size_t n, size_t piece)
{
	size_t got = 0;

	while (got < n) {
		errno = SEM_SENTINEL;
		ssize_t r = read(fd, p + got, n - got < piece ? n - got : piece);

		if (r <= 0 || errno != SEM_SENTINEL)
			return check(false, "read = %zd %s", r, ename(errno));
		got += (size_t)r;
	}
	return true;
}

/* An HTTP exchange over a connected stream pair: client a, server b. */
static void exchange(int a, int b, const char *what)
{
	char buf[256];
	ssize_t r;

	errno = SEM_SENTINEL;
	r = write(a, req, sizeof req - 1);
	check(r == sizeof req - 1 && errno == SEM_SENTINEL, "%s: write(request) = %zd", what, r);
	if (read_pieces(b, buf, sizeof req - 1, 7))
		check(!memcmp(buf, req, sizeof req - 1), "%s: the server read the request as written", what);
	r = send(b, resp, sizeof resp - 1, 0);
	check(r == sizeof resp - 1, "%s: send(response) = %zd", what, r);
	if (read_pieces(a, buf, sizeof resp - 1, 5))
		check(!memcmp(buf, resp, sizeof resp - 1), "%s: the client read the response as sent", what);
	check(shutdown(a, SHUT_WR) == 0, "%s: shutdown(SHUT_WR)", what);
	r = read(b, buf, sizeof buf);
	sayret("read after the half-close", r, errno);
	r = recv(a, buf, sizeof buf, MSG_DONTWAIT);
	sayret("client recv(MSG_DONTWAIT), nothing sent", r, errno);
}

static socklen_t unix_addr(struct sockaddr_un *a, const char *path, bool abstract)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (abstract) {
		snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "%s", path);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path));
	}
	snprintf(a->sun_path, sizeof a->sun_path, "%s", path);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static void named(const char *path, bool abstract, const char *what)
{
	struct sockaddr_un a;
	socklen_t len = unix_addr(&a, path, abstract);
	int l = socket(AF_UNIX, SOCK_STREAM, 0), c = socket(AF_UNIX, SOCK_STREAM, 0), s;

	unlink(path);
	if (bind(l, (struct sockaddr *)&a, len) || listen(l, 4) || connect(c, (struct sockaddr *)&a, len))
		fatal("%s: %s", what, strerror(errno));
	s = accept(l, NULL, NULL);
	check(s >= 0, "%s: accept", what);
	exchange(c, s, what);
	close(c);
	close(s);
	close(l);
	if (!abstract)
		unlink(path);
}

int main(void)
{
	int sv[2];
	char buf[512];
	ssize_t r;

	sem_start();
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		fatal("socketpair: %s", strerror(errno));
	exchange(sv[0], sv[1], "stream socketpair");
	close(sv[0]);
	close(sv[1]);
	named("unix.sock", false, "named stream socket");
	char abstract[64];

	snprintf(abstract, sizeof abstract, "otelpreload-sem-%d", (int)getpid());
	named(abstract, true, "abstract stream socket");

	/* Message boundaries. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		fatal("socketpair: %s", strerror(errno));
	r = send(sv[0], req, 20, MSG_EOR);
	sayret("seqpacket send(20)", r, errno);
	r = send(sv[0], req, sizeof req - 1, 0);
	sayret("seqpacket send(all)", r, errno);
	r = recv(sv[1], buf, sizeof buf, 0);
	sayret("seqpacket recv: the first message only", r, errno);
	struct iovec v = { buf, 10 };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

	r = recvmsg(sv[1], &m, 0);
	say("seqpacket recvmsg(10) = %zd, msg_flags%s%s", r, m.msg_flags & MSG_TRUNC ? " MSG_TRUNC" : "",
	    m.msg_flags & MSG_EOR ? " MSG_EOR" : "");
	close(sv[0]);
	close(sv[1]);

	/* Datagrams with a bound sender. */
	struct sockaddr_un da, db, from;
	socklen_t dal = unix_addr(&da, "dgram.a", false), dbl = unix_addr(&db, "dgram.b", false), fl;
	int a = socket(AF_UNIX, SOCK_DGRAM, 0), b = socket(AF_UNIX, SOCK_DGRAM, 0);

	unlink("dgram.a");
	unlink("dgram.b");
	if (bind(a, (struct sockaddr *)&da, dal) || bind(b, (struct sockaddr *)&db, dbl))
		fatal("bind: %s", strerror(errno));
	r = sendto(a, req, sizeof req - 1, 0, (struct sockaddr *)&db, dbl);
	sayret("datagram sendto", r, errno);
	fl = sizeof from;
	r = recvfrom(b, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
	check(r == sizeof req - 1 && !memcmp(buf, req, (size_t)r) && !strcmp(from.sun_path, "dgram.a"),
	      "datagram recvfrom = %zd from %s, as sent", r, from.sun_path);
	close(a);
	close(b);
	unlink("dgram.a");
	unlink("dgram.b");

	/* A non-blocking stream filled until EAGAIN, then drained to the last byte. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		fatal("socketpair: %s", strerror(errno));
	int small = 4096;

	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
	size_t sent = 0, got = 0;
	unsigned s = 0;

	for (;;) {
		errno = SEM_SENTINEL;
		r = write(sv[0], req, sizeof req - 1);
		if (r < 0)
			break;
		sent += (size_t)r;
	}
	check(errno == EAGAIN, "the full socket says %s", ename(errno));
	side("figure unix bytes before EAGAIN: %zu", sent);
	while ((r = read(sv[1], buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < r; i++)
			s = s * 31 + (unsigned char)buf[i];
		got += (size_t)r;
	}
	check(got == sent && errno == EAGAIN, "every byte written was read, then %s", ename(errno));
	close(sv[0]);
	close(sv[1]);
	return sem_end();
}
