/*
 * close_range() over traced connections: a range that closes them (the
 * numbers then serve new connections, traced afresh), CLOSE_RANGE_UNSHARE,
 * CLOSE_RANGE_CLOEXEC (nothing closes: the connections stay open and
 * traced, marked close-on-exec), and the calls the kernel refuses (first
 * above last, an unknown flag): nothing is closed, and the connections
 * stay traced. The connections live at 500 and up (moved there by dup2) so
 * the ranges touch nothing else.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <sys/socket.h>

#include "sem.h"

#define BASE 500

static int listener, port;
static struct peer peers[4];

/* Opens connection i at BASE + i (its peer in peers[i]). */
static void open_at(int i)
{
	int fd = app_dial(port, 0);

	peers[i] = (struct peer){ .fd = peer_accept(listener) };
	if (dup2(fd, BASE + i) != BASE + i)
		fatal("dup2: %s", strerror(errno));
	close(fd);
}

static void drop(int i)
{
	raw_close(peers[i].fd);
	bytes_free(&peers[i].in);
}

static void exchange(int i, const char *path, int status, const char *what)
{
	struct bytes req = { 0 };
	char resp[128], got[128];
	size_t rlen;

	http_request(&req, "GET", path, 0, (unsigned)status);
	want_span("client", "GET", path, status, false);
	app_send_all(BASE + i, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(&peers[i], req.p, req.len, INJ_YES, what);
	rlen = http_response(resp, sizeof resp, status, 21, (unsigned)status);
	peer_send(peers[i].fd, resp, rlen);
	if (app_read_exact(BASE + i, got, rlen))
		check(!memcmp(got, resp, rlen), "%s: the response, %zu bytes", what, rlen);
	bytes_free(&req);
}

static bool is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void range(unsigned lo, unsigned hi, unsigned flags, const char *what)
{
	errno = SEM_SENTINEL;
	int r = close_range(lo, hi, (int)flags);

	if (r == 0)
		check(errno == SEM_SENTINEL, "%s = 0", what);
	else
		say("%s = %d %s", what, r, ename(errno));
}

int main(void)
{
	struct bytes req = { 0 };

	sem_start();
	listener = peer_listen(&port, 0);

	/* Two connections, one mid-request, closed by one range. */
	open_at(0);
	open_at(1);
	exchange(0, "/range/a", 200, "connection 0");
	http_request(&req, "GET", "/range/waiting", 0, 1);
	want_span("client", "GET", "/range/waiting", 0, false);
	app_send_all(BASE + 1, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(&peers[1], req.p, req.len, INJ_YES, "connection 1, left waiting");
	range(BASE, BASE + 1, 0, "close_range(500, 501, 0)");
	check(!is_open(BASE) && !is_open(BASE + 1), "both are closed");
	check(peer_idle(peers[0].fd) && peer_idle(peers[1].fd), "their peers got nothing more");
	drop(0);
	drop(1);
	open_at(0);
	open_at(1);
	exchange(0, "/range/b", 201, "a new connection at 500");
	exchange(1, "/range/c", 202, "a new connection at 501");

	/* CLOSE_RANGE_CLOEXEC closes nothing. */
	range(BASE, BASE + 3, CLOSE_RANGE_CLOEXEC, "close_range(500, 503, CLOSE_RANGE_CLOEXEC)");
	check(fcntl(BASE, F_GETFD) == FD_CLOEXEC && fcntl(BASE + 1, F_GETFD) == FD_CLOEXEC,
	      "both open, close-on-exec");
	exchange(0, "/range/d", 200, "500 after CLOSE_RANGE_CLOEXEC");
	exchange(1, "/range/e", 201, "501 after CLOSE_RANGE_CLOEXEC");

	/* Refused calls close nothing. */
	range(BASE + 1, BASE, 0, "close_range(501, 500, 0)");
	range(BASE, BASE + 1, 0x40000000u, "close_range(500, 501, an unknown flag)");
	check(is_open(BASE) && is_open(BASE + 1), "both still open");
	exchange(0, "/range/f", 202, "500 after the refused calls");
	exchange(1, "/range/g", 203, "501 after the refused calls");

	/* CLOSE_RANGE_UNSHARE closes like 0. */
	range(BASE, BASE + 1, CLOSE_RANGE_UNSHARE, "close_range(500, 501, CLOSE_RANGE_UNSHARE)");
	check(!is_open(BASE) && !is_open(BASE + 1), "both are closed");
	drop(0);
	drop(1);
	open_at(0);
	exchange(0, "/range/h", 200, "a new connection at 500 after UNSHARE");
	range(BASE, BASE, 0, "close_range(500, 500, 0)");
	drop(0);
	bytes_free(&req);
	return sem_end();
}
