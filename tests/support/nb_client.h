/*
 * What tls_nb_client.c (OpenSSL) and gnutls_nb_client.c (GnuTLS) share:
 * the non-blocking socket with a small send buffer, the request they send,
 * the response they read and the summary line they print. Each client
 * defines fail(what) before including this file.
 */
#ifndef OP_TEST_NB_CLIENT_H
#define OP_TEST_NB_CLIENT_H

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_LEN 2000000
#define SNDBUF 4096
#define WAIT_MS 20000

static const char *mode_name;
static long want_write, want_read, calls, first = -1;
static size_t written;

static void fail(const char *what);

static void wait_fd(int fd, short events, const char *why)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;
	do {
		r = poll(&p, 1, WAIT_MS);
	} while (r < 0 && errno == EINTR);
	if (r == 0) {
		errno = 0;
		fail(why);
	}
	if (r < 0)
		fail("poll");
}

static void save(const char *dir, const char *name, const void *p, size_t len)
{
	char path[4096];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0)
		fail(path);
}

/* A non-blocking TCP connection to HOST:PORT with an SNDBUF-byte send buffer. */
static int tcp_connect(const char *host, const char *port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST};
	struct addrinfo *ai;
	int fd, size = SNDBUF, err = 0;
	socklen_t len = sizeof err;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		fail("getaddrinfo");
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		fail("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) != 0)
		fail("SO_SNDBUF");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		fail("O_NONBLOCK");
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS)
			fail("connect");
		wait_fd(fd, POLLOUT, "connect timed out");
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			fail("SO_ERROR");
		if (err) {
			errno = err;
			fail("connect");
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/*
 * "POST TARGET HTTP/1.1" to HOST:PORT as AGENT with a BODY_LEN-byte
 * patterned body, in one buffer, also saved as OUTDIR/app.bin. *head_len
 * (when not NULL) is the head's length.
 */
static char *make_request(const char *agent, const char *target, const char *host,
			  const char *port, const char *outdir, size_t *head_len, size_t *total)
{
	char head[1024], *req;
	size_t i, n;

	n = (size_t)snprintf(head, sizeof head,
			     "POST %s HTTP/1.1\r\nHost: %s:%s\r\n"
			     "User-Agent: %s\r\n"
			     "Content-Type: application/octet-stream\r\n"
			     "Content-Length: %d\r\n\r\n",
			     target, host, port, agent, BODY_LEN);
	if (head_len)
		*head_len = n;
	*total = n + BODY_LEN;
	req = malloc(*total);
	if (!req)
		fail("out of memory");
	memcpy(req, head, n);
	for (i = 0; i < BODY_LEN; i++) /* no run repeats within 251 bytes */
		req[n + i] = (char)('!' + (i * 7 + i / 251) % 90);
	save(outdir, "app.bin", req, *total);
	return req;
}

/* The response being read: its head, then Content-Length bytes. */
struct response {
	char *buf;
	size_t cap, len, want;
};

/* Room for the next read: at least one byte at buf + len. */
static size_t response_room(struct response *r)
{
	if (!r->buf) {
		r->cap = 1 << 16;
		if (!(r->buf = malloc(r->cap + 1)))
			fail("out of memory");
	} else if (r->len == r->cap) {
		char *b = realloc(r->buf, 2 * r->cap + 1);
		if (!b)
			fail("out of memory");
		r->buf = b;
		r->cap *= 2;
	}
	return r->cap - r->len;
}

/* `n` more bytes were read into buf + len: true once the response is complete. */
static bool response_add(struct response *r, size_t n)
{
	r->len += n;
	r->buf[r->len] = 0;
	if (!r->want) {
		char *end = strstr(r->buf, "\r\n\r\n"), *cl;
		if (end) {
			*end = 0;
			cl = strcasestr(r->buf, "\r\ncontent-length:");
			r->want = (size_t)(end - r->buf) + 4 + (cl ? strtoul(cl + 17, NULL, 10) : 0);
			*end = '\r';
		}
	}
	if (r->want && r->len > r->want) {
		errno = 0;
		fail("more bytes than one response");
	}
	return r->want && r->len == r->want;
}

/*
 * Prints the summary (mode, counts, status line), saves the response as
 * OUTDIR/read.bin; 0 when CALL reported the application's byte count.
 */
static int report(const char *prog, const char *call, const char *outdir, size_t total,
		  struct response *resp)
{
	char *eol;

	save(outdir, "read.bin", resp->buf, resp->len);
	eol = strstr(resp->buf, "\r\n");
	if (eol)
		*eol = 0;
	printf("mode=%s total=%zu written=%zu calls=%ld want_write=%ld want_read=%ld first=%ld\n",
	       mode_name, total, written, calls, want_write, want_read, first);
	printf("status=%s\n", resp->buf);
	free(resp->buf);
	if (written != total) {
		fprintf(stderr, "%s %s: %s reported %zu bytes written, the application gave %zu\n",
			prog, mode_name, call, written, total);
		return 1;
	}
	return 0;
}

#endif
