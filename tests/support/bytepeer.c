/*
 * An HTTP/1.1 client that writes and reads its requests in awkward ways, so
 * a test can check byte for byte what an interposing library lets through.
 *
 *   bytepeer VARIANT HOST PORT OUTDIR
 *
 * Connects to HOST:PORT (tests/support/http_peer.py), runs VARIANT, and
 * writes OUTDIR/app.bin (the bytes it meant to send, each exactly once) and
 * OUTDIR/read.bin (every byte it read, in order). It checks its own
 * accounting as it goes: every write-family call returns -1 or a count in
 * [0, asked], the counts add up to app.bin, a failed call sets the errno the
 * kernel gives (EAGAIN on the non-blocking variant) and a successful one
 * leaves errno alone. It prints one summary line and exits 0, or names the
 * broken rule on stderr and exits 1 (2 for usage and connection errors).
 *
 * Variants:
 *   nonblock  SO_SNDBUF 4096, O_NONBLOCK: three pipelined requests (a POST
 *             with a 20 KiB head and a 1 MiB body, a GET, a 200 kB POST)
 *             as one stream written with write() and poll() on EAGAIN
 *   split     three requests cut into many write() calls: the request line
 *             in pieces ("GE", "T /x HT", ...), the headers one byte at a time
 *   writev    requests as writev() calls of many tiny iovecs, empty ones
 *             too, one of IOV_MAX iovecs
 *   pipeline  three requests in one write(), then the answers read to EOF
 *   chunked   a 100 kB chunked answer and two more, read in odd-sized pieces
 *   flags     send() with MSG_MORE and MSG_NOSIGNAL, sendmsg(), sendto();
 *             answers read with recv() (after a MSG_PEEK), recvfrom(),
 *             recvmsg(), readv() and read(); built with _FORTIFY_SOURCE the
 *             reads into fixed buffers go through __read_chk, __recv_chk and
 *             __recvfrom_chk
 *   sendfile  a head by write() and its 64 KiB body by sendfile(), then a GET
 *   dup       one connection used through dup(), dup2() and F_DUPFD_CLOEXEC
 *   lateown   the request line alone, then a head with its own traceparent;
 *             then an ordinary request
 *   pipeline20  twenty pipelined requests in one write()
 *   longline  a 12 kB request target, then a short request
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* errno as a successful call must leave it: no call sets this one. */
#define SENTINEL_ERRNO ENOTRECOVERABLE

struct buf {
	char *p;
	size_t len, cap;
};

static struct buf app;      /* what this program sent, by the return values */
static struct buf got;      /* what it read */
static long calls, eagains;
static const char *host;
static const char *port;

static void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("bytepeer: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(code);
}

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			die(2, "out of memory");
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void putf(struct buf *b, const char *fmt, ...)
{
	char *tmp;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		die(2, "out of memory");
	put(b, tmp, (size_t)n);
	free(tmp);
}

/*
 * The result of one write-family call asking for `asked` bytes of which
 * `done` have gone out: checks the accounting rules and records the bytes
 * the call says it sent.
 */
static size_t sent(const char *what, ssize_t r, const char *p, size_t asked)
{
	calls++;
	if (r < 0)
		die(1, "%s(%zu bytes) failed: %s", what, asked, strerror(errno));
	if ((size_t)r > asked)
		die(1, "%s(%zu bytes) returned %zd: more than asked", what, asked, r);
	if (errno != SENTINEL_ERRNO)
		die(1, "%s returned %zd but changed errno to %d", what, r, errno);
	put(&app, p, (size_t)r);
	return (size_t)r;
}

/* Records `r` bytes read into `p` by `what`; returns r (0 at end of stream). */
static size_t took(const char *what, ssize_t r, const char *p)
{
	calls++;
	if (r < 0)
		die(1, "%s failed: %s", what, strerror(errno));
	if (errno != SENTINEL_ERRNO)
		die(1, "%s returned %zd but changed errno to %d", what, r, errno);
	put(&got, p, (size_t)r);
	return (size_t)r;
}

/* write() until all of p is out, on a blocking socket. */
static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		errno = SENTINEL_ERRNO;
		size_t k = sent("write", write(fd, p, n), p, n);
		p += k;
		n -= k;
	}
}

/* writev() until every byte of iov is out, advancing over partial writes. */
static void writev_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt) {
		size_t asked = 0;
		int i;

		for (i = 0; i < cnt; i++)
			asked += iov[i].iov_len;
		errno = SENTINEL_ERRNO;
		ssize_t r = writev(fd, iov, cnt);
		calls++;
		if (r < 0)
			die(1, "writev(%d iovecs) failed: %s", cnt, strerror(errno));
		if ((size_t)r > asked)
			die(1, "writev returned %zd for %zu bytes", r, asked);
		if (errno != SENTINEL_ERRNO)
			die(1, "writev returned %zd but changed errno", r);
		size_t k = (size_t)r;
		while (cnt && k >= iov->iov_len) {
			put(&app, iov->iov_base, iov->iov_len);
			k -= iov->iov_len;
			iov++;
			cnt--;
		}
		if (k) {
			put(&app, iov->iov_base, k);
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= k;
		}
		while (cnt && iov->iov_len == 0) {
			iov++;
			cnt--;
		}
	}
}

/*
 * Reads of at most `n` bytes into a fixed buffer; `n` (at most 16384) is not
 * known to fit at compile time, so a fortified build calls __read_chk,
 * __recv_chk and __recvfrom_chk here.
 */
static size_t do_read(int fd, size_t n)
{
	char tmp[16384];

	errno = SENTINEL_ERRNO;
	return took("read", read(fd, tmp, n), tmp);
}

static size_t do_recv(int fd, size_t n)
{
	char tmp[16384];

	errno = SENTINEL_ERRNO;
	return took("recv", recv(fd, tmp, n, 0), tmp);
}

static size_t do_recvfrom(int fd, size_t n)
{
	char tmp[16384];

	errno = SENTINEL_ERRNO;
	return took("recvfrom", recvfrom(fd, tmp, n, 0, NULL, NULL), tmp);
}

static size_t do_recvmsg(int fd, size_t n)
{
	char a[3], b[4096];
	struct iovec iov[2] = { { a, sizeof a }, { b, n > sizeof a ? n - sizeof a : 1 } };
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };

	if (iov[1].iov_len > sizeof b)
		iov[1].iov_len = sizeof b;
	errno = SENTINEL_ERRNO;
	ssize_t r = recvmsg(fd, &m, 0);
	calls++;
	if (r < 0)
		die(1, "recvmsg failed: %s", strerror(errno));
	if (errno != SENTINEL_ERRNO)
		die(1, "recvmsg returned %zd but changed errno", r);
	put(&got, a, (size_t)r < sizeof a ? (size_t)r : sizeof a);
	if ((size_t)r > sizeof a)
		put(&got, b, (size_t)r - sizeof a);
	return (size_t)r;
}

static size_t do_readv(int fd, size_t n)
{
	char a[5], b[4096];
	struct iovec iov[3] = { { a, sizeof a }, { NULL, 0 }, { b, sizeof b } };

	(void)n;
	errno = SENTINEL_ERRNO;
	ssize_t r = readv(fd, iov, 3);
	calls++;
	if (r < 0)
		die(1, "readv failed: %s", strerror(errno));
	if (errno != SENTINEL_ERRNO)
		die(1, "readv returned %zd but changed errno", r);
	put(&got, a, (size_t)r < sizeof a ? (size_t)r : sizeof a);
	if ((size_t)r > sizeof a)
		put(&got, b, (size_t)r - sizeof a);
	return (size_t)r;
}

typedef size_t (*reader)(int fd, size_t n);

/*
 * Reads one response that has a Content-Length body (or no body: 1xx, 204,
 * 304), `piece` bytes at most per call. The peer sends nothing unasked, so
 * reading stops exactly at the end of the response.
 */
static void read_response(int fd, reader rd, size_t piece)
{
	size_t start = got.len, need = 0;
	int have_head = 0;

	for (;;) {
		if (!have_head && got.len - start >= 4) {
			char *e = memmem(got.p + start, got.len - start, "\r\n\r\n", 4);
			if (e) {
				size_t head = (size_t)(e + 4 - (got.p + start));
				int status = atoi(got.p + start + 9);
				char *cl = memmem(got.p + start, head, "Content-Length: ", 16);
				if (status < 200) {             /* interim: the real one follows */
					start += head;
					continue;
				}
				need = head;
				if (cl && status != 204 && status != 304)
					need += strtoul(cl + 16, NULL, 10);
				have_head = 1;
			}
		}
		if (have_head && got.len - start >= need)
			break;
		size_t want = have_head ? need - (got.len - start) : piece;
		if (want > piece)
			want = piece;
		if (rd(fd, want) == 0)
			die(1, "end of stream inside a response");
	}
	if (got.len - start != need)
		die(1, "read past the end of a response");
}

/* Reads until end of stream in pieces whose sizes cycle through `sizes`. */
static void read_to_eof(int fd, reader rd, const size_t *sizes, size_t nsizes)
{
	size_t i = 0;

	while (rd(fd, sizes[i++ % nsizes]))
		;
}

static void head(struct buf *b, const char *method, const char *path, const char *extra)
{
	putf(b, "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: bytepeer/1\r\n"
	     "Accept: */*\r\n%s\r\n", method, path,
	     strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port, extra);
}

static int dial(int sndbuf)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
	struct addrinfo *ai;
	int fd;

	if (getaddrinfo(host, port, &hints, &ai) != 0)
		die(2, "bad address %s port %s", host, port);
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0)
		die(2, "socket: %s", strerror(errno));
	if (sndbuf && setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0)
		die(2, "SO_SNDBUF: %s", strerror(errno));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		die(2, "connect to %s port %s: %s", host, port, strerror(errno));
	freeaddrinfo(ai);
	return fd;
}

/* A request with `pads` 200-byte X-Pad headers and a `body`-byte patterned body. */
static void big_request(struct buf *b, const char *method, const char *path, const char *extra,
			size_t pads, size_t body)
{
	char pad[201];
	size_t i;

	memset(pad, 'p', 200);
	pad[200] = 0;
	head(b, method, path, extra);
	b->len -= 2; /* before the blank line: more headers, then the length */
	for (i = 0; i < pads; i++)
		putf(b, "X-Pad-%03zu: %s\r\n", i, pad);
	putf(b, "Content-Length: %zu\r\n\r\n", body);
	for (i = 0; i < body; i++) {
		char c = (char)('a' + (i * 7 + i / 1000) % 26);
		put(b, &c, 1);
	}
}

/*
 * Three pipelined requests as one stream, written with whatever the kernel
 * takes each time, so writes start and end anywhere: inside a head, inside
 * a request line, across two requests.
 */
static void variant_nonblock(void)
{
	struct buf req = { 0 };
	size_t off = 0;
	int fd = dial(4096);

	big_request(&req, "POST", "/len?big=1", "Content-Type: application/octet-stream\r\n",
		    100, 1 << 20);
	big_request(&req, "GET", "/404?second", "", 30, 0);
	big_request(&req, "POST", "/500?third", "Connection: close\r\n", 5, 200000);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		die(2, "O_NONBLOCK: %s", strerror(errno));
	while (off < req.len) {
		errno = SENTINEL_ERRNO;
		ssize_t r = write(fd, req.p + off, req.len - off);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { fd, POLLOUT, 0 };
			calls++;
			eagains++;
			if (poll(&pfd, 1, 20000) != 1)
				die(1, "poll(POLLOUT) timed out after %zu bytes", off);
			continue;
		}
		off += sent("write", r, req.p + off, req.len - off);
	}
	if (eagains == 0)
		die(1, "no EAGAIN: the send buffer never filled, the test proves nothing");
	for (;;) {
		char tmp[1500];
		errno = SENTINEL_ERRNO;
		ssize_t r = read(fd, tmp, sizeof tmp);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd pfd = { fd, POLLIN, 0 };
			calls++;
			if (poll(&pfd, 1, 20000) != 1)
				die(1, "poll(POLLIN) timed out");
			continue;
		}
		if (took("read", r, tmp) == 0)
			break;
	}
	close(fd);
	free(req.p);
}

/* write() `p` cut at each offset of `cuts` (ascending), then the rest. */
static void write_cut(int fd, const char *p, size_t n, const size_t *cuts, size_t ncuts)
{
	size_t at = 0, i;

	for (i = 0; i < ncuts; i++) {
		write_all(fd, p + at, cuts[i] - at);
		at = cuts[i];
	}
	write_all(fd, p + at, n - at);
}

static void variant_split(void)
{
	struct buf r = { 0 };
	int fd = dial(0);
	size_t line, i, cuts[4096], n = 0;

	/* "GE" | "T /split1?a=1 HT" | "TP/1.1\r\n" | the head one byte a call */
	head(&r, "GET", "/split1?a=1", "X-Test: split\r\n");
	line = (size_t)((char *)memchr(r.p, '\n', r.len) - r.p) + 1;
	cuts[n++] = 2;
	cuts[n++] = 18;
	for (i = line; i < r.len; i++)
		cuts[n++] = i;
	write_cut(fd, r.p, r.len, cuts, n);
	read_response(fd, do_read, 4096);

	/* The request line one byte a call, CR and LF apart; head and body together. */
	r.len = n = 0;
	head(&r, "POST", "/split2", "Content-Length: 11\r\n");
	put(&r, "hello=world", 11);
	line = (size_t)((char *)memchr(r.p, '\n', r.len) - r.p) + 1;
	for (i = 1; i <= line; i++)
		cuts[n++] = i;
	write_cut(fd, r.p, r.len, cuts, n);
	read_response(fd, do_read, 4096);

	/* All but the LF, then the rest. */
	r.len = n = 0;
	head(&r, "GET", "/404", "Connection: close\r\n");
	line = (size_t)((char *)memchr(r.p, '\n', r.len) - r.p);
	cuts[n++] = line;
	write_cut(fd, r.p, r.len, cuts, n);
	read_response(fd, do_read, 4096);
	close(fd);
	free(r.p);
}

static void variant_writev(void)
{
	struct buf r = { 0 }, body = { 0 };
	struct iovec iov[IOV_MAX];
	int fd = dial(0), cnt = 0;
	size_t line, i;

	/* One iovec per byte, with empty ones among those of the request line. */
	head(&r, "GET", "/vec1", "X-Test: writev\r\n");
	line = (size_t)((char *)memchr(r.p, '\n', r.len) - r.p) + 1;
	for (i = 0; i < line; i++) {
		iov[cnt++] = (struct iovec){ r.p + i, 1 };
		if (i % 4 == 0)
			iov[cnt++] = (struct iovec){ r.p, 0 };
	}
	for (i = line; i < r.len; i++)
		iov[cnt++] = (struct iovec){ r.p + i, 1 };
	writev_all(fd, iov, cnt);
	read_response(fd, do_read, 4096);

	/* Head and a 64 KiB body as two iovecs, the first starting empty. */
	r.len = 0;
	for (i = 0; i < 65536; i++)
		put(&body, "0123456789abcdef" + i % 16, 1);
	head(&r, "PUT", "/vec2", "Content-Length: 65536\r\n");
	iov[0] = (struct iovec){ r.p, 0 };
	iov[1] = (struct iovec){ r.p, r.len };
	iov[2] = (struct iovec){ body.p, body.len };
	writev_all(fd, iov, 3);
	read_response(fd, do_read, 4096);

	/* IOV_MAX iovecs: one byte each, the last one the rest of the head. */
	r.len = 0;
	head(&r, "GET", "/vecmax", "X-Long: ");
	r.len -= 2;
	for (i = 0; i < 1100; i++)
		put(&r, "x", 1);
	put(&r, "\r\n\r\n", 4);
	for (cnt = 0; cnt < IOV_MAX - 1; cnt++)
		iov[cnt] = (struct iovec){ r.p + cnt, 1 };
	iov[cnt] = (struct iovec){ r.p + cnt, r.len - (size_t)cnt };
	writev_all(fd, iov, IOV_MAX);
	read_response(fd, do_read, 4096);

	/* The request line alone in the first iovec. */
	r.len = 0;
	head(&r, "DELETE", "/500", "Connection: close\r\n");
	line = (size_t)((char *)memchr(r.p, '\n', r.len) - r.p) + 1;
	iov[0] = (struct iovec){ r.p, line };
	iov[1] = (struct iovec){ r.p + line, r.len - line };
	writev_all(fd, iov, 2);
	read_response(fd, do_read, 4096);
	close(fd);
	free(r.p);
	free(body.p);
}

static void variant_pipeline(void)
{
	static const size_t sizes[] = { 1, 2, 3, 5, 8, 13, 21, 34, 55, 89 };
	struct buf r = { 0 };
	int fd = dial(0);

	head(&r, "GET", "/len", "");
	head(&r, "GET", "/chunked", "");
	head(&r, "GET", "/500", "Connection: close\r\n");
	write_all(fd, r.p, r.len);
	read_to_eof(fd, do_read, sizes, 10);
	close(fd);
	free(r.p);
}

static void variant_chunked(void)
{
	static const size_t sizes[] = { 7, 1, 13, 4093, 2, 555, 3, 8191 };
	struct buf r = { 0 };
	int fd = dial(0);

	head(&r, "GET", "/bigchunked", "");
	write_all(fd, r.p, r.len);
	r.len = 0;
	head(&r, "GET", "/chunked", "");
	write_all(fd, r.p, r.len);
	r.len = 0;
	head(&r, "GET", "/len", "Connection: close\r\n");
	write_all(fd, r.p, r.len);
	read_to_eof(fd, do_recv, sizes, 8);
	close(fd);
	free(r.p);
}

static void variant_flags(void)
{
	struct buf r = { 0 };
	int fd = dial(0);
	char peek[8];
	size_t off, k;

	/* send(MSG_MORE) part of the request line, send(MSG_NOSIGNAL) the rest. */
	head(&r, "GET", "/flags1", "");
	for (off = 0; off < 10; off += k) {
		errno = SENTINEL_ERRNO;
		k = sent("send(MSG_MORE)", send(fd, r.p + off, 10 - off, MSG_MORE), r.p + off, 10 - off);
	}
	for (; off < r.len; off += k) {
		errno = SENTINEL_ERRNO;
		k = sent("send(MSG_NOSIGNAL)", send(fd, r.p + off, r.len - off, MSG_NOSIGNAL),
			 r.p + off, r.len - off);
	}
	/* A peek is not a read: the same bytes come again. */
	errno = SENTINEL_ERRNO;
	ssize_t p = recv(fd, peek, sizeof peek, MSG_PEEK);
	if (p <= 0 || errno != SENTINEL_ERRNO)
		die(1, "recv(MSG_PEEK) returned %zd", p);
	calls++;
	read_response(fd, do_recv, 5);
	if (memcmp(peek, got.p, (size_t)p) != 0)
		die(1, "recv(MSG_PEEK) saw other bytes than the read after it");

	/* sendmsg() of three iovecs. */
	r.len = 0;
	head(&r, "GET", "/404", "");
	{
		struct iovec iov[3] = { { r.p, 3 }, { r.p + 3, 9 }, { r.p + 12, r.len - 12 } };
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 3 };
		errno = SENTINEL_ERRNO;
		k = sent("sendmsg", sendmsg(fd, &m, MSG_NOSIGNAL), r.p, r.len);
		if (k != r.len)
			write_all(fd, r.p + k, r.len - k);
	}
	read_response(fd, do_recvfrom, 100);

	/* sendto() without an address, as on any connected socket. */
	r.len = 0;
	head(&r, "GET", "/304", "");
	for (off = 0; off < r.len; off += k) {
		errno = SENTINEL_ERRNO;
		k = sent("sendto", sendto(fd, r.p + off, r.len - off, MSG_NOSIGNAL, NULL, 0),
			 r.p + off, r.len - off);
	}
	read_response(fd, do_recvmsg, 4096);

	/* send(MSG_NOSIGNAL | MSG_MORE) the head, send() the body. */
	r.len = 0;
	head(&r, "POST", "/500", "Content-Length: 4\r\n");
	for (off = 0; off < r.len; off += k) {
		errno = SENTINEL_ERRNO;
		k = sent("send(MSG_MORE)", send(fd, r.p + off, r.len - off, MSG_NOSIGNAL | MSG_MORE),
			 r.p + off, r.len - off);
	}
	for (off = 0; off < 4; off += k) {
		errno = SENTINEL_ERRNO;
		k = sent("send", send(fd, "body" + off, 4 - off, 0), "body" + off, 4 - off);
	}
	read_response(fd, do_readv, 4096);

	/* write(), read() to the end with recvfrom() and read(). */
	r.len = 0;
	head(&r, "GET", "/close", "");
	write_all(fd, r.p, r.len);
	while (do_recvfrom(fd, 7) && do_read(fd, 3))
		;
	close(fd);
	free(r.p);
}

/* Twenty pipelined requests in one write(), more than a connection may queue. */
static void variant_pipeline20(void)
{
	static const char *const paths[] = { "/len", "/404", "/500", "/chunked" };
	static const size_t sizes[] = { 4096, 3, 1000 };
	struct buf r = { 0 };
	char path[64];
	int fd = dial(0), i;

	for (i = 0; i < 20; i++) {
		snprintf(path, sizeof path, "%s?i=%d", paths[i % 4], i);
		head(&r, "GET", path, i == 19 ? "Connection: close\r\n" : "");
	}
	write_all(fd, r.p, r.len);
	read_to_eof(fd, do_read, sizes, 3);
	close(fd);
	free(r.p);
}

/*
 * The request line alone, then the rest of a head that carries the
 * application's own traceparent; then an ordinary request on the same
 * connection.
 */
static void variant_lateown(void)
{
	struct buf r = { 0 };
	int fd = dial(0);
	size_t line;

	head(&r, "GET", "/late", "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n");
	line = (size_t)((char *)memchr(r.p, '\n', r.len) - r.p) + 1;
	write_cut(fd, r.p, r.len, &line, 1);
	read_response(fd, do_read, 4096);
	r.len = 0;
	head(&r, "GET", "/404?after", "Connection: close\r\n");
	write_all(fd, r.p, r.len);
	read_response(fd, do_read, 4096);
	close(fd);
	free(r.p);
}

/* A body sent by sendfile() after a head sent by write(), then another request. */
static void variant_sendfile(void)
{
	struct buf r = { 0 }, body = { 0 };
	char tmpl[] = "/tmp/bytepeer.XXXXXX";
	int fd = dial(0), file = mkstemp(tmpl);
	size_t i, left = 65536;
	off_t at = 0;

	if (file < 0)
		die(2, "mkstemp: %s", strerror(errno));
	unlink(tmpl);
	for (i = 0; i < left; i++)
		put(&body, "sendfile" + i % 8, 1);
	if (write(file, body.p, body.len) != (ssize_t)body.len)
		die(2, "cannot write the temporary file");
	head(&r, "POST", "/sendfile", "Content-Length: 65536\r\n");
	write_all(fd, r.p, r.len);
	while (left) {
		errno = SENTINEL_ERRNO;
		ssize_t n = sendfile(fd, file, &at, left);
		size_t k = sent("sendfile", n, body.p + body.len - left, left);
		left -= k;
	}
	read_response(fd, do_read, 4096);
	r.len = 0;
	head(&r, "GET", "/404?after", "Connection: close\r\n");
	write_all(fd, r.p, r.len);
	read_response(fd, do_read, 4096);
	close(file);
	close(fd);
	free(r.p);
	free(body.p);
}

/*
 * One connection through two descriptors: the request line on the
 * socket, the rest on its dup(); the answer read from the dup; then the
 * original closed and a second exchange on the dup alone, moved by dup2()
 * to a high descriptor and by fcntl(F_DUPFD_CLOEXEC) once more.
 */
static void variant_dup(void)
{
	struct buf r = { 0 };
	int fd = dial(0), d = dup(fd), d2;
	size_t line;

	if (d < 0)
		die(2, "dup: %s", strerror(errno));
	head(&r, "GET", "/dup1", "");
	line = (size_t)((char *)memchr(r.p, '\n', r.len) - r.p) + 1;
	write_all(fd, r.p, line);
	write_all(d, r.p + line, r.len - line);
	read_response(d, do_read, 4096);
	close(fd);
	if (dup2(d, 200) != 200)
		die(2, "dup2: %s", strerror(errno));
	close(d);
	d2 = fcntl(200, F_DUPFD_CLOEXEC, 300);
	if (d2 < 300)
		die(2, "F_DUPFD_CLOEXEC: %s", strerror(errno));
	close(200);
	r.len = 0;
	head(&r, "GET", "/500?dup2", "Connection: close\r\n");
	write_all(d2, r.p, r.len);
	read_response(d2, do_recv, 4096);
	close(d2);
	free(r.p);
}

/* A 12 kB request target, longer than any line buffer should be, then a short request. */
static void variant_longline(void)
{
	struct buf r = { 0 }, path = { 0 };
	int fd = dial(0);
	size_t i;

	put(&path, "/long?", 6);
	for (i = 0; i < 12000; i++)
		put(&path, "abcdefghij" + i % 10, 1);
	put(&path, "", 1);
	head(&r, "GET", path.p, "");
	write_all(fd, r.p, 5000);
	write_all(fd, r.p + 5000, r.len - 5000);
	read_response(fd, do_read, 4096);
	r.len = 0;
	head(&r, "GET", "/404?short", "Connection: close\r\n");
	write_all(fd, r.p, r.len);
	read_response(fd, do_read, 4096);
	close(fd);
	free(r.p);
	free(path.p);
}

static void save(const char *dir, const char *name, const struct buf *b)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b->p, 1, b->len, f) != b->len || fclose(f) != 0)
		die(2, "cannot write %s", path);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} variants[] = {
		{ "nonblock", variant_nonblock }, { "split", variant_split },
		{ "writev", variant_writev },     { "pipeline", variant_pipeline },
		{ "chunked", variant_chunked },   { "flags", variant_flags },
		{ "pipeline20", variant_pipeline20 }, { "lateown", variant_lateown },
		{ "sendfile", variant_sendfile }, { "dup", variant_dup },
		{ "longline", variant_longline },
	};
	size_t i;

	if (argc != 5)
		die(2, "usage: bytepeer VARIANT HOST PORT OUTDIR");
	host = argv[2];
	port = argv[3];
	for (i = 0; i < sizeof variants / sizeof variants[0]; i++) {
		if (strcmp(argv[1], variants[i].name) == 0) {
			variants[i].run();
			save(argv[4], "app.bin", &app);
			save(argv[4], "read.bin", &got);
			printf("%s: sent %zu bytes, read %zu, %ld calls, %ld EAGAIN\n",
			       argv[1], app.len, got.len, calls, eagains);
			return 0;
		}
	}
	die(2, "unknown variant %s", argv[1]);
	return 2;
}
