/*
 * An OpenSSL client on a non-blocking socket with a small send buffer, for
 * tests/integration/tls_wantwrite.sh: one large HTTP/1.1 request written
 * with SSL_write against a peer that is slow to read, so that SSL_write
 * fails with SSL_ERROR_WANT_WRITE and must be retried the way OpenSSL
 * requires it.
 *
 *   tls_nb_client MODE HOST PORT OUTDIR
 *
 * The request is "POST /upload HTTP/1.1" (but see "straddle"), Host
 * HOST:PORT, Content-Length
 * 2000000 and a 2,000,000-byte patterned body. MODE:
 *
 *   one      head and body in one SSL_write call; after WANT_WRITE or
 *            WANT_READ, poll() and retry with the same pointer and length
 *   partial  SSL_MODE_ENABLE_PARTIAL_WRITE and 1 KiB records (so that
 *            calls return partial counts): each success advances by the
 *            returned count; a retry repeats the same pointer and length
 *   moving   SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: each retry passes a copy
 *            of the data at another address (same length), and the
 *            previous one (the original buffer first) is overwritten with
 *            'X' bytes, which the mode allows
 *   ex       as "one", with SSL_write_ex
 *   split    the head in one SSL_write call, the body in a second one
 *   straddle as "partial" with 512-byte records (OpenSSL's smallest) and
 *            a request line of 490 bytes (target "/upload?pad=aaa..."),
 *            so that the first record ends 22 bytes after the request
 *            line: inside a traceparent line inserted after it
 *
 * Without PARTIAL_WRITE a successful call must report the whole length;
 * anything else is an error. The response is read with SSL_read on the
 * same non-blocking socket until its head and Content-Length body are
 * complete; then close_notify is sent and the socket closed.
 *
 * Writes OUTDIR/app.bin (the request bytes, as the application meant to
 * send them) and OUTDIR/read.bin (every response byte read). Prints on
 * stdout
 *
 *   mode=MODE total=BYTES written=SUM calls=N want_write=W want_read=R first=F
 *   status=STATUS LINE
 *
 * where SUM is the sum of the counts SSL_write/SSL_write_ex returned, N
 * the number of successful calls, F the count the first one returned, and
 * W and R how often the request's calls failed with WANT_WRITE/WANT_READ. Exit status 0 when SUM equals BYTES
 * and a complete response was read, 1 on any failure (described on
 * stderr with OpenSSL's error queue), 2 on a usage error.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mode { ONE, PARTIAL, MOVING, EX, SPLIT, STRADDLE };

static enum mode mode;

#include "nb_client.h"

static void fail(const char *what)
{
	fprintf(stderr, "tls_nb_client %s: %s", mode_name, what);
	if (errno)
		fprintf(stderr, " (errno %d: %s)", errno, strerror(errno));
	fputc('\n', stderr);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* After a call that returned r <= 0: wait as OpenSSL asks, or fail. */
static void wait_ssl(SSL *ssl, int fd, int r, const char *what)
{
	switch (SSL_get_error(ssl, r)) {
	case SSL_ERROR_WANT_WRITE:
		want_write++;
		wait_fd(fd, POLLOUT, "timed out waiting to write");
		return;
	case SSL_ERROR_WANT_READ:
		want_read++;
		wait_fd(fd, POLLIN, "timed out waiting to read");
		return;
	default:
		errno = 0;
		fail(what);
	}
}

/* One application write of data[0, len) through as many SSL_write calls
 * as the mode needs, retried the way OpenSSL requires. */
static void write_all(SSL *ssl, int fd, const char *data, size_t len)
{
	char *copy[2] = {NULL, NULL};
	const char *base = data; /* where the pending call's data lives */
	int which = 0;
	size_t off = 0;

	if (mode == MOVING) {
		copy[0] = malloc(len);
		copy[1] = malloc(len);
		if (!copy[0] || !copy[1])
			fail("out of memory");
	}
	while (off < len) {
		size_t n = len - off;
		int r;
		if (n > 1 << 30)
			n = 1 << 30;
		if (mode == EX) {
			size_t w = 0;
			r = SSL_write_ex(ssl, base + off, n, &w);
			if (r == 1) {
				if (w == 0 || w > n)
					fail("SSL_write_ex reported an impossible count");
				r = (int)w;
			}
		} else {
			r = SSL_write(ssl, base + off, (int)n);
		}
		if (r > 0) {
			calls++;
			written += (size_t)r;
			if (first < 0)
				first = r;
			if ((size_t)r > n)
				fail("SSL_write returned more than it was given");
			if (mode != PARTIAL && mode != STRADDLE && (size_t)r != n) {
				fprintf(stderr, "tls_nb_client %s: SSL_write of %zu bytes returned %d without "
						"SSL_MODE_ENABLE_PARTIAL_WRITE\n", mode_name, n, r);
				exit(1);
			}
			off += (size_t)r;
			continue;
		}
		wait_ssl(ssl, fd, r, mode == EX ? "SSL_write_ex" : "SSL_write");
		if (mode == MOVING) {
			/* The retry comes from another address; the old copy is no
			 * longer the library's to read. */
			char *to = copy[which];
			which ^= 1;
			memcpy(to + off, base + off, len - off);
			memset((char *)base + off, 'X', len - off);
			base = to;
		}
	}
	free(copy[0]);
	free(copy[1]);
}

/* Reads one response: its head and Content-Length body. */
static void read_response(SSL *ssl, int fd, struct response *resp)
{
	for (;;) {
		size_t room = response_room(resp);
		int r = SSL_read(ssl, resp->buf + resp->len, room > INT_MAX ? INT_MAX : (int)room);

		if (r > 0) {
			if (response_add(resp, (size_t)r))
				return;
			continue;
		}
		if (SSL_get_error(ssl, r) == SSL_ERROR_ZERO_RETURN) {
			errno = 0;
			fail("the server closed the connection before the response was complete");
		}
		wait_ssl(ssl, fd, r, "SSL_read");
	}
}

int main(int argc, char **argv)
{
	static const char *names[] = {"one", "partial", "moving", "ex", "split", "straddle"};
	char target[512], *req;
	struct response resp = {0};
	size_t head_len, total, i;
	SSL_CTX *ctx;
	SSL *ssl;
	int fd, r;

	if (argc != 5) {
		fprintf(stderr, "usage: tls_nb_client one|partial|moving|ex|split|straddle HOST PORT "
				"OUTDIR\n");
		return 2;
	}
	for (i = 0; i < sizeof names / sizeof *names; i++)
		if (strcmp(argv[1], names[i]) == 0)
			break;
	if (i == sizeof names / sizeof *names) {
		fprintf(stderr, "tls_nb_client: unknown mode %s\n", argv[1]);
		return 2;
	}
	mode = (enum mode)i;
	mode_name = names[i];

	if (mode == STRADDLE) {
		/* "POST " + target + " HTTP/1.1\r\n" is 490 bytes. */
		strcpy(target, "/upload?pad=");
		memset(target + 12, 'a', 462);
		target[474] = 0;
	} else {
		strcpy(target, "/upload");
	}
	req = make_request("tls_nb_client/1.0", target, argv[2], argv[3], argv[4], &head_len, &total);

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		fail("SSL_CTX_new");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	if (mode == PARTIAL || mode == STRADDLE) {
		/* Records small enough for the send buffer to take whole, so
		 * that calls do return partial counts between the waits. */
		SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE);
		if (!SSL_CTX_set_max_send_fragment(ctx, mode == PARTIAL ? 1024 : 512))
			fail("SSL_CTX_set_max_send_fragment");
	}
	if (mode == MOVING)
		SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	fd = tcp_connect(argv[2], argv[3]);
	ssl = SSL_new(ctx);
	if (!ssl || !SSL_set_fd(ssl, fd))
		fail("SSL_new");
	while ((r = SSL_connect(ssl)) != 1)
		wait_ssl(ssl, fd, r, "SSL_connect");
	want_write = want_read = 0; /* count the request's waits only */

	if (mode == SPLIT) {
		write_all(ssl, fd, req, head_len);
		write_all(ssl, fd, req + head_len, BODY_LEN);
	} else {
		write_all(ssl, fd, req, total);
	}
	read_response(ssl, fd, &resp);

	SSL_shutdown(ssl); /* close_notify, once; the answer is not awaited */
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);

	free(req);
	return report("tls_nb_client", "SSL_write", argv[4], total, &resp);
}
