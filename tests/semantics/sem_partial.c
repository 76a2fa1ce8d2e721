/*
 * Partial writes and EAGAIN around every byte of an HTTP request.
 *
 * A non-blocking client with a small send buffer, against a peer with a
 * small receive buffer that reads only when the client is told EAGAIN,
 * writes a POST (a 64 KiB body, so the socket fills every time) in two
 * pieces split at offset k, for every k from 0 through the head and into
 * the body; then two pipelined requests split at every offset of the
 * first and of the second's head. The call that writes rotates through
 * write, send(MSG_DONTWAIT) on a blocking socket, sendto, sendmsg and
 * writev. Each request must reach the peer as the application's bytes
 * (plus the library's traceparent line when it injects), and the response
 * must come back whole.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "sem.h"

#define BODY (64 * 1024)

static int listener, port;
static unsigned eagains_total;

/*
 * One connection: `stream` written in two pieces split at k, the peer
 * checks it holds `nreq` requests, answers each, and the client reads the
 * answers back.
 */
static void exchange(const struct bytes *stream, size_t k, int nreq, enum wcall how,
		     const char *what)
{
	int fd = app_dial(port, 4096);
	struct peer p = { .fd = peer_accept(listener) };
	int flags = 0;
	unsigned eagains = 0;
	char resp[2][512], got[1024];
	size_t rlen[2], total = 0;

	set_nonblock(p.fd, true);
	if (how == WC_SEND)
		flags = MSG_DONTWAIT;   /* the socket stays blocking */
	else
		set_nonblock(fd, true);
	if (k == 0) {
		errno = SEM_SENTINEL;
		ssize_t r = app_send1(fd, stream->p, 0, how, flags);

		check(r == 0 && errno == SEM_SENTINEL, "%s: an empty %s = %zd %s", what,
		      wcall_name[how], r, ename(errno));
	} else {
		eagains += app_send_all(fd, stream->p, k, how, flags, &p);
	}
	eagains += app_send_all(fd, stream->p + k, stream->len - k, how, flags, &p);
	peer_expect(&p, stream->p, stream->len, INJ_YES, what);
	for (int i = 0; i < nreq; i++) {
		rlen[i] = http_response(resp[i], sizeof resp[i], 200, 10 + (k + (size_t)i) % 200,
					(unsigned)k);
		peer_send(p.fd, resp[i], rlen[i]);
		total += rlen[i];
	}
	if (app_read_exact(fd, got, total))
		check(!memcmp(got, resp[0], rlen[0]) && (nreq < 2 || !memcmp(got + rlen[0], resp[1], rlen[1])),
		      "%s: the client read the %zu bytes the peer sent (sum %08x)", what, total,
		      sum(got, total));
	check(close(fd) == 0, "%s: close", what);
	raw_close(p.fd);
	bytes_free(&p.in);
	side("eagain %s: %u", what, eagains);
	eagains_total += eagains;
}

int main(void)
{
	struct bytes one = { 0 }, two = { 0 };
	size_t head, head2, k;
	char what[64];
	int n = 0;

	sem_start();
	listener = peer_listen(&port, 2048);

	http_request(&one, "POST", "/split/one", BODY, 1);
	head = (size_t)((char *)memmem(one.p, one.len, "\r\n\r\n", 4) - one.p) + 4;
	say("one request: %zu bytes, head %zu", one.len, head);
	for (k = 0; k <= one.len; k++) {
		if (k > head + 16 && k != head + 1000 && k != one.len - 1 && k != one.len)
			continue;
		snprintf(what, sizeof what, "one, split at %zu", k);
		exchange(&one, k, 1, (enum wcall)(n++ % WC_COUNT), what);
		want_span("client", "POST", "/split/one", 200, false);
	}

	http_request(&two, "GET", "/split/first", 0, 2);
	head2 = two.len;
	http_request(&two, "POST", "/split/second", BODY, 3);
	head = head2 + (size_t)((char *)memmem(two.p + head2, two.len - head2, "\r\n\r\n", 4) -
				(two.p + head2)) + 4;
	say("two pipelined requests: %zu bytes, the second from %zu, its head to %zu", two.len,
	    head2, head);
	for (k = 1; k <= head + 8; k++) {
		snprintf(what, sizeof what, "two, split at %zu", k);
		exchange(&two, k, 2, (enum wcall)(n++ % WC_COUNT), what);
		want_span("client", "GET", "/split/first", 200, false);
		want_span("client", "POST", "/split/second", 200, false);
	}
	/* The kernel said EAGAIN on every connection: the socket did fill. */
	check(eagains_total > 0, "the writers met EAGAIN");
	side("figure eagains: %u", eagains_total);
	bytes_free(&one);
	bytes_free(&two);
	return sem_end();
}
