/*
 * The protocol engine: turns the bytes the hooks see on a TCP connection
 * into HTTP/1.x spans, injects the trace headers into outbound requests and
 * extracts them from inbound ones. It does not know which hook fed it.
 *
 * One engine serves both ends: on a connect()ed socket the application is
 * the client (requests out, responses in); on an accept()ed one it is the
 * server (requests in, responses out).
 */
#ifndef OP_ENGINE_H
#define OP_ENGINE_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "fdtable.h"

#include <stdbool.h>
#include <stdint.h>

struct op_span_ctx;

/*
 * The application's own send, for the calls the engine does not rewrite,
 * and how bytes with the engine's changes go out on that stream.
 */
struct op_plain {
	ssize_t (*fn)(const struct op_plain *p);
	/*
	 * Sends `c` iovecs of application and header bytes in one call:
	 * the count taken (maybe partial), or -1 with errno (EAGAIN when the
	 * call is to be retried). NULL: sendmsg(fd, flags).
	 */
	ssize_t (*vec)(const struct op_plain *p, const struct iovec *v, int c);
	void *ctx;              /* the caller's, for fn and vec */
	int fd;                 /* the socket; -1 for a stream with none */
	const void *buf;        /* write, send, sendto */
	size_t len;
	int flags;
	const struct sockaddr *addr;
	socklen_t addrlen;
	const struct iovec *iov; /* writev */
	int iovcnt;
	const struct msghdr *msg; /* sendmsg */
};

/*
 * An outbound call on a tracked fd: `iov` is what the application passes
 * (one element for write/send), `plain` performs its call unchanged.
 * Returns what the application must see: the count of its own bytes the
 * kernel took, or -1 with errno. Header bytes the engine adds are never
 * counted, and bytes are never lost or doubled across partial writes.
 * `can_inject` is false for calls whose form the engine must not rewrite
 * (sendmsg with ancillary data).
 */
ssize_t op_engine_send(struct op_fd *f, const struct iovec *iov, int iovcnt, int flags,
		       int can_inject, const struct op_plain *plain);

/* An inbound call returned `r` (bytes in `iov`, or -1 with `err`, or 0 at EOF). */
void op_engine_recv(struct op_fd *f, int fd, const struct iovec *iov, int iovcnt,
		    ssize_t r, int err);

/* Bytes went by unseen (recv with MSG_TRUNC): stop following the connection. */
void op_engine_lost(struct op_fd *f);

/* sendfile() moved `r` bytes of a body on `f`. */
void op_engine_sendfile(struct op_fd *f, ssize_t r);

/* shutdown(how) succeeded. */
void op_engine_shutdown(struct op_fd *f, int how);

/* In a forked child: state created before the fork is the parent's. */
void op_engine_atfork_child(void);

/*
 * The propagation header lines ("Name: value\r\n" each) for an outbound
 * request whose span has context `ctx`: every configured format, then the
 * serving request's `inherit` lines, leaving out the names for which
 * `has` is true (the request has them already). A heap string, maybe
 * empty, or NULL when out of memory.
 */
char *op_propagation_lines(const struct op_span_ctx *ctx, bool debug, const char *inherit,
			   bool (*has)(void *arg, const char *name, size_t nlen), void *arg,
			   uint32_t *len);

/* One of the methods of RFC 9110 and RFC 5789 (PATCH): the span name, else "HTTP". */
bool op_http_method_known(const char *m);

/*
 * `url` as the semantic conventions want url.full: userinfo replaced by
 * REDACTED:REDACTED@, and the values of the query keys AWSAccessKeyId,
 * Signature, sig and X-Goog-Signature by REDACTED. Writes at most `cap`
 * bytes, NUL included.
 *   "https://u:p@h/x?a=1&sig=abc" -> "https://REDACTED:REDACTED@h/x?a=1&sig=REDACTED"
 */
void op_http_redact_url(const char *url, char *out, size_t cap);

/*
 * The query (without '?') `q` of `len` bytes with the same keys' values
 * replaced by REDACTED, for url.query. Writes at most `cap` bytes, NUL
 * included; returns the length written.
 */
size_t op_http_redact_query(const char *q, size_t len, char *out, size_t cap);

/* host[:port] (IPv6 literals in brackets): the name, and the port or `def`. */
void op_http_split_host(const char *host, char *name, size_t cap, int *port, int def);

/* The connection's last fd is gone: finish what is open and free `h`. */
void op_engine_free(struct op_http *h);

#endif
