/*
 * Buffers the kernel cannot read: write(NULL, 10), send((void *)1, 5),
 * writev with a bad iovec, sendmsg with one, on a traced TCP client
 * connection, fresh and after a request. The kernel answers -1 EFAULT and
 * the program goes on; a library that reads the application's buffer
 * before the kernel has checked it crashes the program instead.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "sem.h"

/* Pointers the compiler must not see: the calls are wrong on purpose. */
static void *volatile null_ptr;
static void *volatile bad_ptr = (void *)8;

static void faults(int fd, const char *when)
{
	struct iovec bad[2] = { { (char *)"GET /", 5 }, { bad_ptr, 10 } };
	struct iovec first_bad[1] = { { bad_ptr, 10 } };
	struct msghdr m = { .msg_iov = first_bad, .msg_iovlen = 1 };
	char what[96];

#define TRY(label, expr) \
	do { \
		errno = SEM_SENTINEL; \
		ssize_t r_ = (expr); \
		snprintf(what, sizeof what, "%s: %s", when, label); \
		sayret(what, r_, errno); \
	} while (0)
	TRY("write(NULL, 10)", write(fd, null_ptr, 10));
	TRY("send((void *)8, 5)", send(fd, bad_ptr, 5, 0));
	TRY("writev(a bad iovec)", writev(fd, first_bad, 1));
	TRY("writev(5 good bytes, a bad iovec)", writev(fd, bad, 2));
	TRY("sendmsg(a bad iovec)", sendmsg(fd, &m, 0));
#undef TRY
}

int main(void)
{
	int port, l, fresh, fresh_peer, used;
	struct peer p;
	struct bytes req = { 0 };
	char resp[128], got[128];
	size_t rlen;

	sem_start();
	l = peer_listen(&port, 0);
	fresh = app_dial(port, 0);
	fresh_peer = peer_accept(l);
	used = app_dial(port, 0);
	p = (struct peer){ .fd = peer_accept(l) };
	http_request(&req, "GET", "/fault/used", 0, 1);
	want_span("client", "GET", "/fault/used", 200, false);
	app_send_all(used, req.p, req.len, WC_WRITE, 0, NULL);
	peer_expect(&p, req.p, req.len, INJ_YES, "a request before the faults");
	rlen = http_response(resp, sizeof resp, 200, 5, 1);
	peer_send(p.fd, resp, rlen);
	if (app_read_exact(used, got, rlen))
		check(!memcmp(got, resp, rlen), "its response, %zu bytes", rlen);
	faults(fresh, "fresh connection");
	faults(used, "after a request");
	check(peer_idle(fresh_peer) && peer_idle(p.fd), "the peers received nothing");
	close(fresh);
	close(used);
	raw_close(fresh_peer);
	raw_close(p.fd);
	bytes_free(&p.in);
	bytes_free(&req);
	return sem_end();
}
