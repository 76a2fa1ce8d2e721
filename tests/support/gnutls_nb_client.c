/*
 * A GnuTLS client on a non-blocking socket with a small send buffer, for
 * tests/integration/tls_wantwrite.sh: the GnuTLS counterpart of
 * tls_nb_client.c's "one" mode. One large HTTP/1.1 request is written with
 * gnutls_record_send against a peer that is slow to read, so that the call
 * fails with GNUTLS_E_AGAIN and must be retried the way GnuTLS requires it.
 *
 *   gnutls_nb_client MODE HOST PORT OUTDIR
 *
 * The request is "POST /upload HTTP/1.1", Host HOST:PORT, Content-Length
 * 2000000 and a 2,000,000-byte patterned body (the same bytes as
 * tls_nb_client's), head and body in one buffer. MODE:
 *
 *   one   gnutls_record_send(session, data + off, len - off); after
 *         GNUTLS_E_AGAIN or GNUTLS_E_INTERRUPTED, poll() in the direction
 *         gnutls_record_get_direction names and retry with exactly the same
 *         pointer and length
 *   null  the same, but each retry after GNUTLS_E_AGAIN/INTERRUPTED is
 *         gnutls_record_send(session, NULL, 0), the documented alternative
 *
 * GnuTLS sends at most one record per call, so a positive return is
 * normally less than the length given: each one advances by the returned
 * count (in "null" mode too, where the count belongs to the data of the
 * call that failed). Certificate verification is off.
 *
 * The response is read with gnutls_record_recv on the same non-blocking
 * socket until its head and Content-Length body are complete; then
 * close_notify is sent (gnutls_bye GNUTLS_SHUT_WR, once) and the socket
 * closed.
 *
 * Writes OUTDIR/app.bin (the request bytes, as the application meant to
 * send them) and OUTDIR/read.bin (every response byte read). Prints on
 * stdout
 *
 *   mode=gnutls-MODE total=BYTES written=SUM calls=N want_write=W want_read=R first=F
 *   status=STATUS LINE
 *
 * (tls_nb_client's format) where SUM is the sum of the counts
 * gnutls_record_send returned, N the number of calls that returned a
 * count, F the first count, W how often the request's calls returned
 * GNUTLS_E_AGAIN and R how many of those W asked to wait for reading
 * (gnutls_record_get_direction 0). Exit status 0 when SUM equals BYTES and
 * a complete response was read, 1 on any failure (described on stderr), 2
 * on a usage error.
 */
#include <errno.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mode { ONE, NUL };

static enum mode mode;

#include "nb_client.h"

/* A failure, with GnuTLS's code `gerr` when it is one. */
static void gfail(const char *what, int gerr)
{
	fprintf(stderr, "gnutls_nb_client %s: %s", mode_name, what);
	if (gerr)
		fprintf(stderr, " (GnuTLS %d: %s)", gerr, gnutls_strerror(gerr));
	else if (errno)
		fprintf(stderr, " (errno %d: %s)", errno, strerror(errno));
	fputc('\n', stderr);
	exit(1);
}

static void fail(const char *what)
{
	gfail(what, 0);
}

/* After GNUTLS_E_AGAIN: wait in the direction GnuTLS names. */
static void wait_session(gnutls_session_t s, int fd)
{
	if (gnutls_record_get_direction(s))
		wait_fd(fd, POLLOUT, "timed out waiting to write");
	else
		wait_fd(fd, POLLIN, "timed out waiting to read");
}

/* data[0, len) through as many gnutls_record_send calls as it takes. */
static void write_all(gnutls_session_t s, int fd, const char *data, size_t len)
{
	size_t off = 0;
	int retry = 0; /* the previous call failed with E_AGAIN/E_INTERRUPTED */

	while (off < len) {
		size_t n = len - off;
		ssize_t r;
		if (retry && mode == NUL)
			r = gnutls_record_send(s, NULL, 0);
		else
			r = gnutls_record_send(s, data + off, n);
		if (r > 0) {
			calls++;
			written += (size_t)r;
			if (first < 0)
				first = r;
			if ((size_t)r > n) {
				fprintf(stderr, "gnutls_nb_client %s: gnutls_record_send returned %zd "
						"with %zu bytes left to send\n", mode_name, r, n);
				exit(1);
			}
			off += (size_t)r;
			retry = 0;
			continue;
		}
		if (r == GNUTLS_E_AGAIN) {
			want_write++;
			if (!gnutls_record_get_direction(s))
				want_read++;
			wait_session(s, fd);
			retry = 1;
			continue;
		}
		if (r == GNUTLS_E_INTERRUPTED) {
			retry = 1;
			continue;
		}
		if (r == 0) {
			errno = 0;
			fail("gnutls_record_send returned 0");
		}
		errno = 0;
		gfail("gnutls_record_send", (int)r);
	}
}

/* Reads one response: its head and Content-Length body. */
static void read_response(gnutls_session_t s, int fd, struct response *resp)
{
	for (;;) {
		ssize_t r = gnutls_record_recv(s, resp->buf + resp->len, response_room(resp));

		if (r > 0) {
			if (response_add(resp, (size_t)r))
				return;
			continue;
		}
		if (r == 0) {
			errno = 0;
			fail("the server closed the connection before the response was complete");
		}
		if (r == GNUTLS_E_AGAIN) {
			wait_session(s, fd);
			continue;
		}
		if (r == GNUTLS_E_INTERRUPTED)
			continue;
		errno = 0;
		gfail("gnutls_record_recv", (int)r);
	}
}

int main(int argc, char **argv)
{
	static const char *names[] = {"gnutls-one", "gnutls-null"};
	char *req;
	struct response resp = {0};
	size_t total;
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	int fd, r;

	if (argc != 5) {
		fprintf(stderr, "usage: gnutls_nb_client one|null HOST PORT OUTDIR\n");
		return 2;
	}
	if (strcmp(argv[1], "one") == 0)
		mode = ONE;
	else if (strcmp(argv[1], "null") == 0)
		mode = NUL;
	else {
		fprintf(stderr, "gnutls_nb_client: unknown mode %s\n", argv[1]);
		return 2;
	}
	mode_name = names[mode];

	req = make_request("gnutls_nb_client/1.0", "/upload", argv[2], argv[3], argv[4], NULL, &total);

	if ((r = gnutls_global_init()) < 0)
		gfail("gnutls_global_init", r);
	if ((r = gnutls_certificate_allocate_credentials(&cred)) < 0)
		gfail("gnutls_certificate_allocate_credentials", r);
	if ((r = gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK)) < 0)
		gfail("gnutls_init", r);
	if ((r = gnutls_set_default_priority(s)) < 0)
		gfail("gnutls_set_default_priority", r);
	/* No gnutls_session_set_verify_cert: the certificate is not checked. */
	if ((r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred)) < 0)
		gfail("gnutls_credentials_set", r);
	fd = tcp_connect(argv[2], argv[3]);
	gnutls_transport_set_int(s, fd);
	gnutls_handshake_set_timeout(s, 0);
	for (;;) {
		r = gnutls_handshake(s);
		if (r == GNUTLS_E_SUCCESS)
			break;
		if (r == GNUTLS_E_AGAIN)
			wait_session(s, fd);
		else if (r != GNUTLS_E_INTERRUPTED && gnutls_error_is_fatal(r))
			gfail("gnutls_handshake", r);
	}

	write_all(s, fd, req, total);
	read_response(s, fd, &resp);

	gnutls_bye(s, GNUTLS_SHUT_WR); /* close_notify, once; not awaited */
	gnutls_deinit(s);
	gnutls_certificate_free_credentials(cred);
	gnutls_global_deinit();
	close(fd);

	free(req);
	return report("gnutls_nb_client", "gnutls_record_send", argv[4], total, &resp);
}
