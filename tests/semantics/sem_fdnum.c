/*
 * POSIX gives a new descriptor the lowest number not open, and a
 * single-threaded program may count on it: the daemon idiom close(0);
 * open("/dev/null") expects 0 back, and a loop that closes a connection
 * and opens the next expects the same number. The library's exporter
 * thread must not take those numbers from the program, not even for a
 * moment: this loop makes HTTP requests (spans to export) and, between
 * each close and the next open, lets 1 ms pass, as a program busy with
 * other work would.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sem.h"

#define ROUNDS 300

int main(void)
{
	int port, l, fd, old, null, missed_socket = 0, missed_null = 0;
	struct bytes req = { 0 };
	char resp[128], got[128];
	size_t rlen;

	sem_start();
	l = peer_listen(&port, 0);
	http_request(&req, "GET", "/fdnum", 0, 1);
	rlen = http_response(resp, sizeof resp, 200, 10, 1);
	fd = app_dial(port, 0);
	for (int i = 0; i < ROUNDS; i++) {
		struct peer p = { .fd = peer_accept(l) };

		want_span("client", "GET", "/fdnum", 200, false);
		app_send_all(fd, req.p, req.len, WC_WRITE, 0, NULL);
		char what[32];

		snprintf(what, sizeof what, "round %d", i);
		peer_expect(&p, req.p, req.len, INJ_YES, what);
		peer_send(p.fd, resp, rlen);
		if (!app_read_exact(fd, got, rlen) || memcmp(got, resp, rlen))
			check(false, "round %d: the response", i);
		raw_close(p.fd);
		bytes_free(&p.in);
		old = fd;
		close(fd);
		usleep(1000);
		fd = app_dial(port, 0);
		if (fd != old) {
			missed_socket++;
			check(false, "round %d: the new connection got another number than the one closed", i);
			break;
		}
		close(0);
		usleep(1000);
		null = open("/dev/null", O_RDONLY);
		if (null != 0) {
			missed_null++;
			check(false, "round %d: close(0); open(\"/dev/null\") returned another number", i);
			break;
		}
	}
	close(fd);
	check(missed_socket + missed_null == 0, "%d rounds: the lowest free number every time", ROUNDS);
	side("figure another got the number: socket %d, /dev/null %d", missed_socket, missed_null);
	bytes_free(&req);
	raw_close(l);
	return sem_end();
}
