/* The semantics programs' shared code: see sem.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <sys/uio.h>

#include "sem.h"

bool sem_inject;
static FILE *side_file;
static unsigned n_checks, n_failed;

void sem_start(void)
{
	const char *v = getenv("SEM_INJECT"), *path = getenv("SEM_SIDE");

	sem_inject = v && !strcmp(v, "1");
	if (path && *path) {
		side_file = fopen(path, "a");
		if (!side_file)
			fatal("cannot open SEM_SIDE=%s: %s", path, strerror(errno));
		setvbuf(side_file, NULL, _IOLBF, 0);
	}
	/* Line by line: a crash leaves the transcript up to the call that crashed. */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

void sem_before_closing_all(void)
{
	if (side_file)
		fflush(side_file);
}

void sem_reopen(void)
{
	const char *path = getenv("SEM_SIDE");

	/* The old FILE's descriptor is gone: abandon it, never flush or close it again. */
	if (side_file && path && *path) {
		side_file = fopen(path, "a");
		if (!side_file)
			fatal("cannot reopen SEM_SIDE=%s: %s", path, strerror(errno));
		setvbuf(side_file, NULL, _IOLBF, 0);
	}
}

int sem_end(void)
{
	say("checks: %u, failed: %u", n_checks, n_failed);
	fflush(stdout);
	if (side_file)
		fclose(side_file);
	return n_failed ? 1 : 0;
}

void say(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	errno = saved;
}

void side(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	if (!side_file)
		return;
	va_start(ap, fmt);
	vfprintf(side_file, fmt, ap);
	va_end(ap);
	fputc('\n', side_file);
	errno = saved;
}

bool check(bool ok, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	n_checks++;
	if (!ok)
		n_failed++;
	fputs(ok ? "ok: " : "FAILED: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	errno = saved;
	return ok;
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("setup failed: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	exit(2);
}

const char *ename(int e)
{
	static char other[16];

	switch (e) {
	case 0: return "0";
	case EAGAIN: return "EAGAIN";
	case EINTR: return "EINTR";
	case EBADF: return "EBADF";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EPIPE: return "EPIPE";
	case ENOTSOCK: return "ENOTSOCK";
	case ENOTCONN: return "ENOTCONN";
	case EISCONN: return "EISCONN";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case EMSGSIZE: return "EMSGSIZE";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case ESPIPE: return "ESPIPE";
	case EMFILE: return "EMFILE";
	case ENOENT: return "ENOENT";
	case SEM_SENTINEL: return "SENTINEL";
	default:
		snprintf(other, sizeof other, "E#%d", e);
		return other;
	}
}

void sayret(const char *what, ssize_t r, int err)
{
	if (r < 0)
		say("%s = %zd %s", what, r, ename(err));
	else
		say("%s = %zd", what, r);
}

void want_span(const char *kind, const char *method, const char *path, int status, bool maybe)
{
	if (status)
		side("span%s %s %s %s %d", maybe ? "?" : "", kind, method, path, status);
	else
		side("span%s %s %s %s -", maybe ? "?" : "", kind, method, path);
}

uint32_t sum(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}

void bytes_add(struct bytes *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			fatal("out of memory");
	}
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

void bytes_free(struct bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* ---- raw system calls ------------------------------------------------------ */

ssize_t raw_read(int fd, void *p, size_t n)
{
	return syscall(SYS_read, fd, p, n);
}

ssize_t raw_write(int fd, const void *p, size_t n)
{
	return syscall(SYS_write, fd, p, n);
}

int raw_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

int raw_socket(int domain, int type, int proto)
{
	return (int)syscall(SYS_socket, domain, type, proto);
}

int raw_connect(int fd, const struct sockaddr *a, socklen_t len)
{
	return (int)syscall(SYS_connect, fd, a, len);
}

int raw_accept(int fd, int flags)
{
	return (int)syscall(SYS_accept4, fd, NULL, NULL, flags);
}

/* ---- endpoints --------------------------------------------------------------- */

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

static int bound_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof a;

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		fatal("getsockname: %s", strerror(errno));
	return ntohs(a.sin_port);
}

int peer_listen(int *port, int rcvbuf)
{
	struct sockaddr_in a = loopback(0);
	int l = raw_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l < 0)
		fatal("socket: %s", strerror(errno));
	if (rcvbuf > 0 && setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf))
		fatal("SO_RCVBUF: %s", strerror(errno));
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 64))
		fatal("bind/listen: %s", strerror(errno));
	*port = bound_port(l);
	return l;
}

static bool wait_for(int fd, short events, int ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

int peer_accept(int listener)
{
	int fd;

	if (!wait_for(listener, POLLIN, SEM_WAIT_MS))
		fatal("no connection to accept");
	fd = raw_accept(listener, SOCK_CLOEXEC);
	if (fd < 0)
		fatal("accept: %s", strerror(errno));
	return fd;
}

int peer_dial(int port)
{
	struct sockaddr_in a = loopback(port);
	int fd = raw_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || raw_connect(fd, (struct sockaddr *)&a, sizeof a))
		fatal("peer connect: %s", strerror(errno));
	return fd;
}

void peer_send(int fd, const void *p, size_t n)
{
	const char *s = p;

	while (n) {
		ssize_t r = raw_write(fd, s, n);

		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_for(fd, POLLOUT, SEM_WAIT_MS))
				fatal("the peer cannot send: the application does not read");
			continue;
		}
		if (r <= 0)
			fatal("peer write: %s", strerror(errno));
		s += r;
		n -= (size_t)r;
	}
}

bool peer_recv_exact(int fd, void *p, size_t n)
{
	char *s = p;

	while (n) {
		ssize_t r = raw_read(fd, s, n);

		if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!wait_for(fd, POLLIN, SEM_WAIT_MS))
				return false;
			continue;
		}
		if (r <= 0)
			return false;
		s += r;
		n -= (size_t)r;
	}
	return true;
}

bool peer_idle(int fd)
{
	char c;

	/* Readable at the end of the stream too: only bytes count. */
	return !wait_for(fd, POLLIN, 0) ||
	       syscall(SYS_recvfrom, fd, &c, 1, MSG_PEEK | MSG_DONTWAIT, NULL, NULL) <= 0;
}

int app_dial(int port, int sndbuf)
{
	struct sockaddr_in a = loopback(port);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		fatal("socket: %s", strerror(errno));
	if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf))
		fatal("SO_SNDBUF: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&a, sizeof a))
		fatal("connect: %s", strerror(errno));
	return fd;
}

int app_listen(int *port)
{
	struct sockaddr_in a = loopback(0);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (l < 0)
		fatal("socket: %s", strerror(errno));
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 64))
		fatal("bind/listen: %s", strerror(errno));
	*port = bound_port(l);
	return l;
}

void set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK))
		fatal("fcntl(O_NONBLOCK): %s", strerror(errno));
}

/* ---- what the peer receives --------------------------------------------- */

void peer_drain(struct peer *p)
{
	char buf[65536];
	ssize_t r;

	while ((r = raw_read(p->fd, buf, sizeof buf)) > 0)
		bytes_add(&p->in, buf, (size_t)r);
}

/* The library's line: "traceparent: 00-<32 hex>-<16 hex>-<2 hex>\r\n". */
#define TP_NAME "traceparent: "
#define TP_LINE 70

static bool hexes(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool traceparent_line(const char *s)
{
	return !memcmp(s, TP_NAME "00-", 16) && hexes(s + 16, 32) && s[48] == '-' &&
	       hexes(s + 49, 16) && s[65] == '-' && hexes(s + 66, 2) && !memcmp(s + 68, "\r\n", 2);
}

/* Where the request starting at a[0] ends: its head and Content-Length body. */
static size_t request_end(const char *a, size_t n)
{
	const char *end = memmem(a, n, "\r\n\r\n", 4), *line;
	size_t head, body = 0;

	if (!end)
		fatal("the application's request has no end of head");
	head = (size_t)(end - a) + 4;
	for (line = a; line < end; line = memchr(line, '\n', (size_t)(end - line)) + 1) {
		if (!strncasecmp(line, "content-length:", 15))
			body = strtoul(line + 15, NULL, 10);
		if (!memchr(line, '\n', (size_t)(end - line)))
			break;
	}
	if (head + body > n)
		fatal("the application's request is cut short");
	return head + body;
}

/* Compares what arrived with what is due: 1 all there, 0 more needed, -1 different. */
static int same(const char *r, size_t avail, const char *a, size_t n)
{
	size_t k = avail < n ? avail : n;

	if (memcmp(r, a, k))
		return -1;
	return avail >= n ? 1 : 0;
}

/*
 * Matches the requests `a` against the received bytes from `r`: 1 with
 * *used and the counts set, 0 when more bytes are needed, -1 on a
 * difference (described in `why`).
 */
static int match(const char *r, size_t rlen, const char *a, size_t alen, enum inj inj,
		 size_t *used, unsigned *injected, unsigned *nreq, char *why, size_t wcap)
{
	size_t ai = 0, ri = 0;
	unsigned allowed = sem_inject && inj != INJ_NO ? 1 : 0;

	*injected = *nreq = 0;
	while (ai < alen) {
		size_t end = ai + request_end(a + ai, alen - ai);
		const char *le = memmem(a + ai, end - ai, "\r\n", 2);
		size_t line = (size_t)(le + 2 - (a + ai));
		unsigned k = 0;
		int s = same(r + ri, rlen - ri, a + ai, line);

		if (s <= 0) {
			snprintf(why, wcap, "request %u's line differs", *nreq);
			return s;
		}
		ri += line;
		ai += line;
		for (;;) {
			size_t avail = rlen - ri, m = avail < strlen(TP_NAME) ? avail : strlen(TP_NAME);

			if (memcmp(r + ri, TP_NAME, m))
				break;
			if (avail < TP_LINE)
				return 0;
			if (!traceparent_line(r + ri)) {
				snprintf(why, wcap, "request %u: malformed line %.*s", *nreq, TP_LINE, r + ri);
				return -1;
			}
			ri += TP_LINE;
			k++;
		}
		if (k > allowed || (inj == INJ_YES && k < allowed)) {
			snprintf(why, wcap, "request %u carries %u traceparent lines, expected %s%u", *nreq,
				 k, inj == INJ_ANY ? "at most " : "", allowed);
			return -1;
		}
		s = same(r + ri, rlen - ri, a + ai, end - ai);
		if (s < 0) {
			size_t i = 0;

			while (r[ri + i] == a[ai + i])
				i++;
			snprintf(why, wcap, "request %u differs %zu bytes after its request line: got %.20s",
				 *nreq, i, r + ri + i);
			return -1;
		}
		if (s == 0)
			return 0;
		ri += end - ai;
		ai = end;
		*injected += k;
		(*nreq)++;
	}
	*used = ri;
	return 1;
}

bool peer_expect(struct peer *p, const void *app, size_t len, enum inj inj, const char *what)
{
	char why[256] = "";
	size_t used = 0;
	unsigned injected = 0, nreq = 0;
	int m;

	for (;;) {
		m = match(p->in.p ? p->in.p + p->at : "", p->in.len - p->at, app, len, inj, &used,
			  &injected, &nreq, why, sizeof why);
		if (m != 0)
			break;
		if (!wait_for(p->fd, POLLIN, SEM_WAIT_MS)) {
			snprintf(why, sizeof why, "timed out with %zu bytes received", p->in.len - p->at);
			break;
		}
		char buf[65536];
		ssize_t r = raw_read(p->fd, buf, sizeof buf);

		if (r <= 0) {
			snprintf(why, sizeof why, "end of stream after %zu bytes (%s)", p->in.len - p->at,
				 r < 0 ? ename(errno) : "EOF");
			break;
		}
		bytes_add(&p->in, buf, (size_t)r);
	}
	if (m == 1) {
		p->at += used;
		p->injected += injected;
		p->requests += nreq;
		side("inject %s: %u of %u requests", what, injected, nreq);
	}
	return check(m == 1, "peer received %s: the application's %zu bytes%s%s", what, len,
		     m == 1 ? "" : ": ", m == 1 ? "" : why);
}

bool peer_expect_raw(struct peer *p, const void *app, size_t len, const char *what)
{
	while (p->in.len - p->at < len) {
		char buf[65536];
		ssize_t r;

		if (!wait_for(p->fd, POLLIN, SEM_WAIT_MS))
			break;
		r = raw_read(p->fd, buf, sizeof buf);
		if (r <= 0)
			break;
		bytes_add(&p->in, buf, (size_t)r);
	}
	bool ok = p->in.len - p->at >= len && (len == 0 || !memcmp(p->in.p + p->at, app, len));

	if (ok)
		p->at += len;
	return check(ok, "peer received %s: exactly the application's %zu bytes", what, len);
}

size_t http_response(char *out, size_t cap, int status, size_t n, unsigned seed)
{
	int h = snprintf(out, cap, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n", status, n);

	if (h < 0 || (size_t)h + n > cap)
		fatal("response too large");
	for (size_t i = 0; i < n; i++)
		out[h + i] = (char)('a' + (seed + i * 7) % 26);
	return (size_t)h + n;
}

size_t http_request(struct bytes *out, const char *method, const char *target, size_t n,
		    unsigned seed)
{
	char head[512];
	size_t start = out->len;
	int h;

	if (n)
		h = snprintf(head, sizeof head,
			     "%s %s HTTP/1.1\r\nHost: sem.test\r\nUser-Agent: sem/1\r\n"
			     "Content-Length: %zu\r\n\r\n", method, target, n);
	else
		h = snprintf(head, sizeof head,
			     "%s %s HTTP/1.1\r\nHost: sem.test\r\nUser-Agent: sem/1\r\n\r\n",
			     method, target);
	bytes_add(out, head, (size_t)h);
	for (size_t i = 0; i < n; i++) {
		char c = (char)((seed * 131 + i * 17) & 0xff);

		bytes_add(out, &c, 1);
	}
	return out->len - start;
}

bool app_read_exact(int fd, void *p, size_t n)
{
	char *s = p;

	while (n) {
		errno = SEM_SENTINEL;
		ssize_t r = read(fd, s, n);

		if (r < 0 && errno == EAGAIN) {
			if (!wait_for(fd, POLLIN, SEM_WAIT_MS))
				return check(false, "read: the response never came");
			continue;
		}
		if (r <= 0)
			return check(false, "read = %zd %s before the response was complete", r,
				     ename(errno));
		if ((size_t)r > n)
			return check(false, "read = %zd: more than asked", r);
		if (errno != SEM_SENTINEL)
			check(false, "read = %zd changed errno to %s", r, ename(errno));
		s += r;
		n -= (size_t)r;
	}
	return true;
}

const char *const wcall_name[WC_COUNT] = { "write", "send", "sendto", "sendmsg", "writev" };

ssize_t app_send1(int fd, const void *p, size_t n, enum wcall how, int flags)
{
	struct iovec v[3];
	struct msghdr m = { .msg_iov = v, .msg_iovlen = 3 };
	size_t a = n / 3, b = n - n / 3;

	v[0] = (struct iovec){ (void *)p, a };
	v[1] = (struct iovec){ (char *)p + a, b - a };
	v[2] = (struct iovec){ (char *)p + b, n - b };
	switch (how) {
	case WC_WRITE: return write(fd, p, n);
	case WC_SEND: return send(fd, p, n, flags);
	case WC_SENDTO: return sendto(fd, p, n, flags, NULL, 0);
	case WC_SENDMSG: return sendmsg(fd, &m, flags);
	case WC_WRITEV: return writev(fd, v, 3);
	default: fatal("no such call");
	}
}

unsigned app_send_all(int fd, const void *p, size_t n, enum wcall how, int flags,
		      struct peer *drain)
{
	const char *s = p;
	unsigned eagains = 0;

	while (n) {
		errno = SEM_SENTINEL;
		ssize_t r = app_send1(fd, s, n, how, flags);
		int err = errno;

		if (r < 0 && err == EAGAIN) {
			eagains++;
			if (drain)
				peer_drain(drain);
			if (!wait_for(fd, POLLOUT, SEM_WAIT_MS))
				fatal("the socket never became writable");
			continue;
		}
		if (r <= 0 || (size_t)r > n) {
			check(false, "%s(%zu) = %zd %s: not a count in [1, asked]", wcall_name[how], n, r,
			      ename(err));
			return eagains;
		}
		/* The bytes went: carry on, so one broken rule does not hide the others. */
		if (err != SEM_SENTINEL)
			check(false, "%s(%zu) = %zd changed errno to %s", wcall_name[how], n, r,
			      ename(err));
		s += r;
		n -= (size_t)r;
	}
	return eagains;
}
