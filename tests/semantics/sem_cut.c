/*
 * A partial write and then EAGAIN at every byte offset of the wire stream,
 * inside the library's own header line too.
 *
 * Run with tests/semantics/cutshim.c preloaded after the library: for each
 * offset `at` of the bytes that go out on the connection (the request,
 * plus the traceparent line when the library injects one) the shim makes
 * the call that crosses `at` take only the bytes before it and the next
 * call fail with EAGAIN. Each request is sent with each of write, send,
 * sendto, sendmsg and writev on a non-blocking socket, then two pipelined
 * requests in one buffer with write. Whatever the cut, the application
 * must see counts in [1, asked] that add up to its request, EAGAIN only
 * as -1 with errno EAGAIN, errno untouched on success, and the peer must
 * receive its bytes plus the library's lines, nothing lost or doubled.
 *
 * The calls' results go to the side file: with OTEL_PROPAGATORS=none they
 * must match the run without the library call for call.
 */
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "sem.h"

/* The wire stream is at most this much longer than the application's bytes. */
#define EXTRA 80

static void (*arm)(int fd, long long at);
static int (*fired)(void);
static int listener, port;
static unsigned n_fired;

static void exchange(const struct bytes *req, int nreq, long long at, enum wcall how,
		     const char *what)
{
	int fd = app_dial(port, 0);
	struct peer p = { .fd = peer_accept(listener) };
	char calls[512] = "", resp[2][256], got[512];
	size_t used = 0, done = 0, rlen[2], total = 0;
	bool ok = true;

	set_nonblock(fd, true);
	arm(fd, at);
	while (done < req->len && ok) {
		errno = SEM_SENTINEL;
		ssize_t r = app_send1(fd, req->p + done, req->len - done, how, 0);
		int err = errno;

		used += (size_t)snprintf(calls + used, sizeof calls - used, " %zd%s%s", r,
					 r < 0 ? " " : "", r < 0 ? ename(err) : "");
		if (used >= sizeof calls)
			fatal("too many calls");
		if (r < 0 && err == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			poll(&pf, 1, SEM_WAIT_MS);
			continue;
		}
		ok = r > 0 && (size_t)r <= req->len - done && err == SEM_SENTINEL;
		if (ok)
			done += (size_t)r;
	}
	check(ok && done == req->len, "%s: the application's calls took its %zu bytes", what,
	      req->len);
	if (fired())
		n_fired++;
	side("%s: calls%s%s", what, calls, fired() ? "" : " (no cut)");
	peer_expect(&p, req->p, req->len, INJ_YES, what);
	for (int i = 0; i < nreq; i++) {
		rlen[i] = http_response(resp[i], sizeof resp[i], 200 + i, 5 + (size_t)(at % 50),
					(unsigned)at);
		peer_send(p.fd, resp[i], rlen[i]);
		total += rlen[i];
	}
	if (app_read_exact(fd, got, total))
		check(!memcmp(got, resp[0], rlen[0]) && (nreq < 2 || !memcmp(got + rlen[0], resp[1], rlen[1])),
		      "%s: the client read the %zu bytes the peer sent", what, total);
	close(fd);
	raw_close(p.fd);
	bytes_free(&p.in);
}

int main(void)
{
	struct bytes one = { 0 }, two = { 0 };
	char what[64];

	sem_start();
	arm = (void (*)(int, long long))dlsym(RTLD_DEFAULT, "semcut_arm");
	fired = (int (*)(void))dlsym(RTLD_DEFAULT, "semcut_fired");
	if (!arm || !fired)
		fatal("libsemcut.so is not preloaded");
	listener = peer_listen(&port, 0);

	http_request(&one, "POST", "/cut", 9, 7);
	say("one request: %zu bytes; cuts at 0..%zu", one.len, one.len + EXTRA);
	for (int how = 0; how < WC_COUNT; how++)
		for (long long at = 0; at <= (long long)(one.len + EXTRA); at++) {
			snprintf(what, sizeof what, "%s, cut at %lld", wcall_name[how], at);
			exchange(&one, 1, at, (enum wcall)how, what);
			want_span("client", "POST", "/cut", 200, false);
		}

	http_request(&two, "GET", "/cut/first", 0, 8);
	http_request(&two, "PUT", "/cut/second", 5, 9);
	say("two pipelined requests: %zu bytes; cuts at 0..%zu", two.len, two.len + 2 * EXTRA);
	for (long long at = 0; at <= (long long)(two.len + 2 * EXTRA); at++) {
		snprintf(what, sizeof what, "pipelined, cut at %lld", at);
		exchange(&two, 2, at, WC_WRITE, what);
		want_span("client", "GET", "/cut/first", 200, false);
		want_span("client", "PUT", "/cut/second", 201, false);
	}
	/* Every cut inside the application's bytes happens with or without the library. */
	check(n_fired >= (WC_COUNT * (one.len + 1) + two.len + 1), "the shim cut the stream");
	side("figure cuts: %u", n_fired);
	bytes_free(&one);
	bytes_free(&two);
	return sem_end();
}
