/*
 * EINTR: a SIGALRM handler installed without SA_RESTART interrupts
 * blocking read, recv, recvmsg, readv, accept, connect and write on traced
 * sockets; with SA_RESTART the same reads and accept restart and return
 * what the handler made available. The timer repeats every 20 ms until the
 * call returns, so the outcome does not depend on when the first signal
 * lands: a call that cannot complete is interrupted, and one the handler
 * completes completes either way.
 *
 * The interrupted connect() goes on in the kernel: the program then sees
 * EALREADY, waits for the connection, sees EISCONN, and sends a request on
 * it, which the library should trace like any other.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "sem.h"

/* What the handler does once, besides counting: send bytes or dial. */
static volatile sig_atomic_t signals;
static int act_fd = -1, act_port;
static const char *act_buf;
static size_t act_len;
static int dialled = -1;

static void on_alarm(int sig)
{
	int saved = errno;

	signals++;
	if (act_fd >= 0 && act_buf) {
		raw_write(act_fd, act_buf, act_len);
		act_buf = NULL;
	}
	if (act_port) {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)act_port) };

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		dialled = raw_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		raw_connect(dialled, (struct sockaddr *)&a, sizeof a);
		act_port = 0;
	}
	errno = saved;
}

static void handler(bool restart)
{
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = restart ? SA_RESTART : 0 };

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL))
		fatal("sigaction: %s", strerror(errno));
}

static void ticking(bool on)
{
	struct itimerval t = { { 0, on ? 20000 : 0 }, { 0, on ? 20000 : 0 } };

	setitimer(ITIMER_REAL, &t, NULL);
}

enum rcall { RC_READ, RC_RECV, RC_RECVMSG, RC_READV, RC_N };
static const char *const rname[RC_N] = { "read", "recv", "recvmsg", "readv" };

static ssize_t app_recv1(int fd, char *p, size_t n, enum rcall how)
{
	struct iovec v[2] = { { p, n / 2 }, { p + n / 2, n - n / 2 } };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 2 };

	switch (how) {
	case RC_READ: return read(fd, p, n);
	case RC_RECV: return recv(fd, p, n, 0);
	case RC_RECVMSG: return recvmsg(fd, &m, 0);
	default: return readv(fd, v, 2);
	}
}

/* One blocking read-family call, with the timer ticking until it returns. */
static ssize_t interrupted(int fd, char *p, size_t n, enum rcall how, int *err)
{
	ssize_t r;

	ticking(true);
	errno = SEM_SENTINEL;
	r = app_recv1(fd, p, n, how);
	*err = errno;
	ticking(false);
	return r;
}

static int listener, port;

/* A traced client's reads, interrupted while waiting for the response. */
static void client_reads(bool restart)
{
	for (int how = 0; how < RC_N; how++) {
		char what[64], resp[256], got[256];
		struct bytes req = { 0 };
		int fd = app_dial(port, 0), err;
		struct peer p = { .fd = peer_accept(listener) };
		size_t rlen;
		ssize_t r;

		snprintf(what, sizeof what, "%s%s", rname[how], restart ? " (SA_RESTART)" : "");
		snprintf(resp, sizeof resp, "/eintr/%s/%s", rname[how], restart ? "restart" : "plain");
		http_request(&req, "GET", resp, 0, 1);
		want_span("client", "GET", resp, 200, false);
		app_send_all(fd, req.p, req.len, WC_WRITE, 0, NULL);
		peer_expect(&p, req.p, req.len, INJ_YES, what);
		rlen = http_response(resp, sizeof resp, 200, 30, (unsigned)how);
		if (restart) {
			act_fd = p.fd, act_buf = resp, act_len = rlen;
			r = interrupted(fd, got, rlen, how, &err);
			act_fd = -1;
			check(r > 0 && err == SEM_SENTINEL, "%s: restarted and returned bytes (%s)", what,
			      r > 0 ? "yes" : ename(err));
		} else {
			r = interrupted(fd, got, rlen, how, &err);
			check(r == -1 && err == EINTR, "%s = %zd %s: interrupted", what, r, ename(err));
			peer_send(p.fd, resp, rlen);
			r = 0;
		}
		if (r >= 0 && app_read_exact(fd, got + r, rlen - (size_t)r))
			check(!memcmp(got, resp, rlen), "%s: then the response, %zu bytes", what, rlen);
		close(fd);
		raw_close(p.fd);
		bytes_free(&p.in);
		bytes_free(&req);
	}
}

/* accept() interrupted, then a traced server connection whose read is too. */
static void server_side(bool restart)
{
	int lport, l = app_listen(&lport), c, err, peer = -1;
	char req[128], got[256], resp[256];
	const char *what = restart ? "accept (SA_RESTART)" : "accept";
	int n;

	ticking(true);
	if (restart)
		act_port = lport;
	errno = SEM_SENTINEL;
	c = accept(l, NULL, NULL);
	err = errno;
	ticking(false);
	if (restart) {
		check(c >= 0 && err == SEM_SENTINEL, "%s: restarted and returned a connection (%s)",
		      what, c >= 0 ? "yes" : ename(err));
		peer = dialled;
		set_nonblock(peer, false);
	} else {
		check(c == -1 && err == EINTR, "%s = %d %s: interrupted", what, c < 0 ? c : 0,
		      ename(err));
		peer = peer_dial(lport);
		c = accept(l, NULL, NULL);
		check(c >= 0, "accept after EINTR: a connection");
	}
	if (c < 0)
		fatal("no connection");
	n = snprintf(req, sizeof req, "GET /eintr/server/%s HTTP/1.1\r\nHost: sem.test\r\n\r\n",
		     restart ? "restart" : "plain");
	want_span("server", "GET", restart ? "/eintr/server/restart" : "/eintr/server/plain", 200,
		  false);
	/* The server's read: interrupted, or restarted when the handler sends the request. */
	if (restart)
		act_fd = peer, act_buf = req, act_len = (size_t)n;
	ssize_t r = interrupted(c, got, (size_t)n, RC_READ, &err);
	act_fd = -1;
	if (restart) {
		check(r > 0, "server read (SA_RESTART): restarted and returned the request's bytes");
	} else {
		check(r == -1 && err == EINTR, "server read = %zd %s: interrupted", r, ename(err));
		peer_send(peer, req, (size_t)n);
		r = 0;
	}
	if (r >= 0 && app_read_exact(c, got + r, (size_t)n - (size_t)r))
		check(!memcmp(got, req, (size_t)n), "server read the request, %d bytes", n);
	size_t rlen = http_response(resp, sizeof resp, 200, 12, 3);

	app_send_all(c, resp, rlen, WC_WRITE, 0, NULL);
	check(peer_recv_exact(peer, got, rlen) && !memcmp(got, resp, rlen),
	      "the peer received the server's %zu-byte response", rlen);
	close(c);
	close(l);
	raw_close(peer);
}

/* A full accept queue: a blocking connect() waits for a SYN that is dropped. */
static void connect_interrupted(void)
{
	int lport, l = peer_listen(&lport, 0), fd, rc, err, fillers[8], nf = 0, one = 0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)lport) };
	struct tcp_info ti;
	socklen_t tl;
	struct pollfd pf;
	struct bytes req = { 0 };
	char resp[128], got[128];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listen(l, 0))
		fatal("listen: %s", strerror(errno));
	/* Fill the queue: a listener's tcpi_unacked is its queue, tcpi_sacked its bound. */
	for (;;) {
		tl = sizeof ti;
		if (getsockopt(l, IPPROTO_TCP, TCP_INFO, &ti, &tl))
			fatal("TCP_INFO: %s", strerror(errno));
		if (ti.tcpi_unacked > ti.tcpi_sacked)
			break;
		if (nf == 8)
			fatal("the accept queue does not fill");
		fillers[nf] = raw_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		raw_connect(fillers[nf], (struct sockaddr *)&a, sizeof a);
		pf = (struct pollfd){ .fd = fillers[nf++], .events = POLLOUT };
		poll(&pf, 1, 1000);
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ticking(true);
	errno = SEM_SENTINEL;
	rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	err = errno;
	ticking(false);
	check(rc == -1 && err == EINTR, "connect = %d %s: interrupted", rc, ename(err));
	/* A blocking connect() would wait again: ask without blocking. */
	set_nonblock(fd, true);
	errno = SEM_SENTINEL;
	rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	check(rc == -1 && errno == EALREADY, "non-blocking connect again = %d %s: still in progress",
	      rc, ename(errno));
	/* Make room: the retransmitted SYN (after about a second) gets in. */
	for (int i = 0; i < nf; i++)
		raw_close(fillers[i]);
	for (int i = 0; i < nf; i++) {
		pf = (struct pollfd){ .fd = l, .events = POLLIN };
		if (poll(&pf, 1, 0) <= 0)
			break;
		raw_close(raw_accept(l, 0));
	}
	/* What applications do with a connection in progress: poll, then SO_ERROR. */
	pf = (struct pollfd){ .fd = fd, .events = POLLOUT };
	check(poll(&pf, 1, SEM_WAIT_MS) == 1, "the interrupted connection completes");
	tl = sizeof one;
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &one, &tl);
	check(one == 0, "SO_ERROR = %s", ename(one));
	set_nonblock(fd, false);

	struct peer p = { .fd = peer_accept(l) };

	http_request(&req, "GET", "/eintr/connect", 0, 2);
	want_span("client", "GET", "/eintr/connect", 200, false);
	app_send_all(fd, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(&p, req.p, req.len, INJ_YES, "a request on the interrupted connection");
	size_t rlen = http_response(resp, sizeof resp, 200, 9, 4);

	peer_send(p.fd, resp, rlen);
	if (app_read_exact(fd, got, rlen))
		check(!memcmp(got, resp, rlen), "its response, %zu bytes", rlen);
	/* The kernel reports the completed connect once, then EISCONN. */
	errno = SEM_SENTINEL;
	rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	check(rc == 0 && errno == SEM_SENTINEL, "connect on the completed connection = %d", rc);
	rc = connect(fd, (struct sockaddr *)&a, sizeof a);
	check(rc == -1 && errno == EISCONN, "and again = %d %s", rc, ename(errno));
	close(fd);
	raw_close(p.fd);
	raw_close(l);
	bytes_free(&p.in);
	bytes_free(&req);
}

/* A blocking write of a 1 MiB request the peer does not read yet. */
static void write_interrupted(void)
{
	struct bytes req = { 0 };
	int fd = app_dial(port, 4096), err;
	struct peer p = { .fd = peer_accept(listener) };
	char resp[128], got[128];
	ssize_t r;
	size_t done;

	http_request(&req, "PUT", "/eintr/write", 1 << 20, 5);
	want_span("client", "PUT", "/eintr/write", 201, false);
	ticking(true);
	errno = SEM_SENTINEL;
	r = write(fd, req.p, req.len);
	err = errno;
	ticking(false);
	check(r > 0 && (size_t)r < req.len && err == SEM_SENTINEL,
	      "write(1 MiB request): interrupted after part of it (%s)",
	      r < 0 ? ename(err) : (size_t)r < req.len ? "partial" : "all of it");
	side("figure first write: %zd", r);
	done = r > 0 ? (size_t)r : 0;
	/* The buffers are full now: the next blocking write waits at once. */
	ticking(true);
	errno = SEM_SENTINEL;
	r = write(fd, req.p + done, req.len - done);
	err = errno;
	ticking(false);
	/* Linux may still fit a little into the last segment (2048 bytes on 6.x). */
	check((r == -1 && err == EINTR) || (r > 0 && (size_t)r < req.len - done && err == SEM_SENTINEL),
	      "write(the rest): interrupted, -1 EINTR or a part");
	side("figure second write: %zd %s", r, r < 0 ? ename(err) : "");
	if (r > 0)
		done += (size_t)r;
	set_nonblock(fd, true);
	set_nonblock(p.fd, true);
	app_send_all(fd, req.p + done, req.len - done, WC_WRITE, 0, &p);
	peer_expect(&p, req.p, req.len, INJ_YES, "the 1 MiB request");
	size_t rlen = http_response(resp, sizeof resp, 201, 7, 6);

	peer_send(p.fd, resp, rlen);
	if (app_read_exact(fd, got, rlen))
		check(!memcmp(got, resp, rlen), "its response, %zu bytes", rlen);
	close(fd);
	raw_close(p.fd);
	bytes_free(&p.in);
	bytes_free(&req);
}

/* recv(MSG_WAITALL) interrupted after part of what it waits for: that part. */
static void waitall_interrupted(void)
{
	struct bytes req = { 0 };
	int fd = app_dial(port, 0), err;
	struct peer p = { .fd = peer_accept(listener) };
	char resp[256], got[256];
	size_t rlen = http_response(resp, sizeof resp, 200, 100, 7);
	ssize_t r;

	http_request(&req, "GET", "/eintr/waitall", 0, 3);
	want_span("client", "GET", "/eintr/waitall", 200, false);
	app_send_all(fd, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(&p, req.p, req.len, INJ_YES, "the MSG_WAITALL request");
	peer_send(p.fd, resp, 40);
	/* The 40 bytes must be in the socket before the call: recv(MSG_PEEK) waits for them. */
	recv(fd, got, 1, MSG_PEEK);
	ticking(true);
	errno = SEM_SENTINEL;
	r = recv(fd, got, rlen, MSG_WAITALL);
	err = errno;
	ticking(false);
	check(r == 40 && err == SEM_SENTINEL, "recv(%zu, MSG_WAITALL) = %zd %s: the 40 bytes there",
	      rlen, r, r < 0 ? ename(err) : "");
	peer_send(p.fd, resp + 40, rlen - 40);
	if (r >= 0 && app_read_exact(fd, got + r, rlen - (size_t)r))
		check(!memcmp(got, resp, rlen), "then the rest, %zu bytes in all", rlen);
	close(fd);
	raw_close(p.fd);
	bytes_free(&p.in);
	bytes_free(&req);
}

int main(void)
{
	sem_start();
	listener = peer_listen(&port, 4096);
	handler(false);
	client_reads(false);
	server_side(false);
	connect_interrupted();
	write_interrupted();
	waitall_interrupted();
	handler(true);
	client_reads(true);
	server_side(true);
	check(signals > 0, "the handler ran");
	return sem_end();
}
