/* The suite's HTTP/1.1 (hp.h). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "hp.h"

uint32_t hp_fnv(const void *p, size_t n, uint32_t h)
{
	const unsigned char *c = p;

	while (n--) {
		h ^= *c++;
		h *= 16777619u;
	}
	return h;
}

size_t hp_answer(const char *path, size_t body_len, uint32_t body_sum, char *out, size_t cap)
{
	size_t pad = hp_fnv(path, strlen(path), HP_FNV_INIT) % 2000, n;
	int k = snprintf(out, cap, "%s %zu %08x\n", path, body_len, body_sum);

	if (k < 0 || (size_t)k >= cap)
		return 0;
	n = (size_t)k;
	for (size_t i = 0; i < pad && n + 1 < cap; i++)
		out[n++] = (char)('a' + (i + body_len) % 26);
	out[n] = '\0';
	return n;
}

long long hp_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hp_connect(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -1;
	do {
		r = connect(fd, (struct sockaddr *)&a, sizeof a);
	} while (r < 0 && errno == EINTR);
	if (r < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int hp_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes the two pieces with the calls of `io`, finishing short writes. */
static int send_pieces(int fd, enum hp_io io, const char *a, size_t alen, const char *b, size_t blen)
{
	struct iovec v[2] = { { (void *)a, alen }, { (void *)b, blen } };
	struct iovec *iov = v;
	int cnt = blen ? 2 : 1;

	while (cnt > 0) {
		ssize_t w;

		if (iov[0].iov_len == 0) {
			iov++, cnt--;
			continue;
		}
		switch (io) {
		case HP_IO_RW:
			w = write(fd, iov[0].iov_base, iov[0].iov_len);
			break;
		case HP_IO_SEND:
			w = send(fd, iov[0].iov_base, iov[0].iov_len, MSG_NOSIGNAL);
			break;
		case HP_IO_VEC:
			w = writev(fd, iov, cnt);
			break;
		default: {
			struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };

			w = sendmsg(fd, &m, MSG_NOSIGNAL);
		}
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (w > 0 && cnt > 0) {
			size_t take = (size_t)w < iov[0].iov_len ? (size_t)w : iov[0].iov_len;

			iov[0].iov_base = (char *)iov[0].iov_base + take;
			iov[0].iov_len -= take;
			w -= (ssize_t)take;
			if (iov[0].iov_len == 0)
				iov++, cnt--;
		}
	}
	return 0;
}

/* One read with the call of `io`; odd sizes so answers come in pieces. */
static ssize_t read_some(int fd, enum hp_io io, char *p, size_t n)
{
	ssize_t r;

	do {
		switch (io) {
		case HP_IO_RW:
			r = read(fd, p, n);
			break;
		case HP_IO_SEND:
			r = recv(fd, p, n, 0);
			break;
		case HP_IO_VEC: {
			size_t half = n > 1 ? n / 2 : n;
			struct iovec v[2] = { { p, half }, { p + half, n - half } };

			r = readv(fd, v, n > 1 ? 2 : 1);
			break;
		}
		default: {
			struct iovec v = { p, n };
			struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

			r = recvmsg(fd, &m, 0);
		}
		}
	} while (r < 0 && errno == EINTR);
	return r;
}

static int why_set(char *why, size_t ws, const char *fmt, const char *arg)
{
	if (why && ws)
		snprintf(why, ws, fmt, arg);
	return -1;
}

/* Value of header `name` in a head, copied to out; 0 if present. */
static int header(const char *head, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p && p[2] != '\r') {
		const char *line = p + 2, *end = strstr(line, "\r\n");

		if (!end)
			break;
		if ((size_t)(end - line) > nl && !strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;
			size_t len;

			while (*v == ' ')
				v++;
			len = (size_t)(end - v);
			if (len >= cap)
				len = cap - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return 0;
		}
		p = end;
	}
	return -1;
}

int hp_request(int fd, const char *path, size_t body_len, enum hp_io io, int *tp,
	       char *why, size_t ws)
{
	char head[HP_HEAD_MAX], want[HP_BODY_MAX], v[64];
	static __thread char *body, *in;
	static __thread size_t body_cap;
	size_t hlen, have = 0, wlen, clen, cap = HP_HEAD_MAX + HP_BODY_MAX + 1;
	uint32_t sum = HP_FNV_INIT;
	char *end = NULL;
	int k;

	if (body_len > HP_REQ_BODY_MAX)
		return why_set(why, ws, "%s: body too long", path);
	if (!in && !(in = malloc(cap)))
		return why_set(why, ws, "%s: out of memory", path);
	if (body_cap < body_len) {
		free(body);
		body_cap = 0;
		if (!(body = malloc(body_len)))
			return why_set(why, ws, "%s: out of memory", path);
		body_cap = body_len;
	}
	for (size_t i = 0; i < body_len; i++)
		body[i] = hp_body_byte(i);
	sum = hp_fnv(body, body_len, sum);
	if (body_len)
		k = snprintf(head, sizeof head, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Sum: %08x\r\n"
			     "Content-Length: %zu\r\n\r\n", path, sum, body_len);
	else
		k = snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Sum: %08x\r\n\r\n",
			     path, sum);
	if (k < 0 || (size_t)k >= sizeof head)
		return why_set(why, ws, "%s: path too long", path);
	hlen = (size_t)k;
	if (send_pieces(fd, io, head, hlen, body, body_len))
		return why_set(why, ws, "%s: cannot send the request", path);

	/* The head of the answer. */
	while (!end) {
		ssize_t r = read_some(fd, io, in + have, cap - 1 - have);

		if (r < 0)
			return why_set(why, ws, "%s: read error", path);
		if (r == 0)
			return why_set(why, ws, "%s: connection closed before the answer's head ended", path);
		have += (size_t)r;
		in[have] = '\0';
		end = strstr(in, "\r\n\r\n");
		if (!end && have >= HP_HEAD_MAX)
			return why_set(why, ws, "%s: answer head too long", path);
	}
	end += 4;
	if (strncmp(in, "HTTP/1.1 200 ", 13))
		return why_set(why, ws, "%s: answer is not 200", path);
	if (header(in, "Content-Length", v, sizeof v))
		return why_set(why, ws, "%s: no Content-Length", path);
	clen = strtoul(v, NULL, 10);
	if (clen > HP_BODY_MAX)
		return why_set(why, ws, "%s: Content-Length too large", path);
	if (tp)
		*tp = header(in, "X-Tp", v, sizeof v) ? -1 : atoi(v);
	/* The body, and not one byte more: the server never sends more. */
	while ((size_t)(in + have - end) < clen) {
		size_t off = (size_t)(end - in);
		ssize_t r = read_some(fd, io, in + have, off + clen - have);

		if (r < 0)
			return why_set(why, ws, "%s: read error in the body", path);
		if (r == 0)
			return why_set(why, ws, "%s: connection closed in the body", path);
		have += (size_t)r;
	}
	if ((size_t)(in + have - end) != clen)
		return why_set(why, ws, "%s: bytes after the answer's body", path);
	wlen = hp_answer(path, body_len, sum, want, sizeof want);
	if (wlen != clen || memcmp(want, end, clen))
		return why_set(why, ws, "%s: the answer's body is not the expected one", path);
	return 0;
}

int hp_get(int port, const char *path, char *why, size_t ws)
{
	int fd = hp_connect(port), rc;

	if (fd < 0)
		return why_set(why, ws, "%s: cannot connect", path);
	rc = hp_request(fd, path, 0, HP_IO_RW, NULL, why, ws);
	close(fd);
	return rc;
}

/* --- server ------------------------------------------------------------ */

int hp_listen(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 512) ||
	    getsockname(fd, (struct sockaddr *)&a, &len)) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int valid_traceparent(const char *v)
{
	/* 00-<32 hex>-<16 hex>-<2 hex> */
	static const char shape[] = "00-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-xxxxxxxxxxxxxxxx-xx";

	if (strlen(v) != sizeof shape - 1)
		return 0;
	for (size_t i = 0; shape[i]; i++) {
		if (shape[i] == 'x' ? !isxdigit((unsigned char)v[i]) || isupper((unsigned char)v[i])
				    : v[i] != shape[i])
			return 0;
	}
	return 1;
}

/*
 * Checks a request head (NUL-terminated, without the final blank line's
 * CRLF pair); fills in what it found. 0 if acceptable.
 */
static int check_head(char *head, char *path, size_t pcap, size_t *clen, uint32_t *sum, int *tps,
		      int *stats_req, const char **why)
{
	char *line = head, *eol, *sp1, *sp2;
	int have_host = 0, have_sum = 0, have_len = 0, bad_tp = 0;

	*clen = 0;
	*tps = 0;
	*stats_req = 0;
	eol = strstr(line, "\r\n");
	if (!eol)
		return *why = "no request line", -1;
	*eol = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || strcmp(sp2 + 1, "HTTP/1.1"))
		return *why = "bad request line", -1;
	*sp1 = *sp2 = '\0';
	if (strcmp(line, "GET") && strcmp(line, "POST"))
		return *why = "unexpected method", -1;
	if ((size_t)(sp2 - sp1 - 1) >= pcap || sp1[1] != '/')
		return *why = "bad path", -1;
	strcpy(path, sp1 + 1);
	*stats_req = !strcmp(path, "/__stats");
	for (line = eol + 2; *line; line = eol + 2) {
		char *colon, *v;

		eol = strstr(line, "\r\n");
		if (!eol)
			return *why = "header line without CRLF", -1;
		*eol = '\0';
		colon = strchr(line, ':');
		if (!colon)
			return *why = "header line without a colon", -1;
		*colon = '\0';
		for (v = colon + 1; *v == ' '; v++)
			;
		if (!strcasecmp(line, "host")) {
			have_host++;
		} else if (!strcasecmp(line, "x-sum")) {
			have_sum++;
			*sum = (uint32_t)strtoul(v, NULL, 16);
		} else if (!strcasecmp(line, "content-length")) {
			have_len++;
			*clen = strtoul(v, NULL, 10);
		} else if (!strcasecmp(line, "traceparent")) {
			++*tps;
			bad_tp |= !valid_traceparent(v);
		} else if (strcasecmp(line, "tracestate") && strcasecmp(line, "baggage") &&
			   strcasecmp(line, "user-agent") && strcasecmp(line, "accept") && !*stats_req) {
			return *why = "unexpected header", -1;
		}
	}
	if (*stats_req)
		return 0;
	if (have_host != 1 || have_sum != 1 || have_len > 1)
		return *why = "missing or repeated Host, X-Sum or Content-Length", -1;
	if (*tps > 1 || bad_tp)
		return *why = "repeated or malformed traceparent", -1;
	if (*clen > HP_REQ_BODY_MAX)
		return *why = "body too long", -1;
	return 0;
}

static void stats_json(struct hp_stats *st, char *out, size_t cap)
{
	snprintf(out, cap, "{\"conns\":%ld,\"reqs\":%ld,\"tp0\":%ld,\"tp1\":%ld,\"bad\":%ld,\"idle\":%ld}\n",
		 atomic_load(&st->conns), atomic_load(&st->reqs), atomic_load(&st->tp0),
		 atomic_load(&st->tp1), atomic_load(&st->bad), atomic_load(&st->idle));
}

void hp_serve(int fd, struct hp_stats *st)
{
	size_t cap = HP_HEAD_MAX + HP_REQ_BODY_MAX + 1, have = 0, total = 0;
	char *buf = malloc(cap);
	char path[2048], out[HP_HEAD_MAX + HP_BODY_MAX];

	atomic_fetch_add(&st->conns, 1);
	while (buf) {
		char *end;
		ssize_t r;
		size_t hlen, clen, need, blen;
		uint32_t sum = 0, got;
		int tps, stats_req, n;
		const char *why = NULL;

		/* Head. */
		buf[have] = '\0';
		while (!(end = strstr(buf, "\r\n\r\n"))) {
			if (have >= HP_HEAD_MAX) {
				why = "head too long";
				break;
			}
			r = read(fd, buf + have, cap - 1 - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				if (have)
					why = "connection ended inside a head";
				else if (!total)
					atomic_fetch_add(&st->idle, 1);
				goto done;
			}
			have += (size_t)r;
			total += (size_t)r;
			buf[have] = '\0';
		}
		if (why)
			goto bad;
		hlen = (size_t)(end - buf) + 4;
		end[2] = '\0';
		if (check_head(buf, path, sizeof path, &clen, &sum, &tps, &stats_req, &why))
			goto bad;
		need = hlen + clen;
		while (have < need) {
			r = read(fd, buf + have, need - have);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				why = "connection ended inside a body";
				goto bad;
			}
			have += (size_t)r;
			total += (size_t)r;
		}
		got = hp_fnv(buf + hlen, clen, HP_FNV_INIT);
		for (size_t i = 0; i < clen; i++)
			if (buf[hlen + i] != hp_body_byte(i)) {
				why = "body bytes differ";
				goto bad;
			}
		if (!stats_req && got != sum) {
			why = "body sum differs from X-Sum";
			goto bad;
		}
		if (stats_req) {
			char js[256];

			stats_json(st, js, sizeof js);
			n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
				     "Content-Type: application/json\r\n\r\n%s", strlen(js), js);
		} else {
			char body[HP_BODY_MAX];

			blen = hp_answer(path, clen, got, body, sizeof body);
			n = snprintf(out, sizeof out, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nX-Tp: %d\r\n\r\n",
				     blen, tps);
			memcpy(out + n, body, blen);
			n += (int)blen;
			atomic_fetch_add(&st->reqs, 1);
			atomic_fetch_add(tps ? &st->tp1 : &st->tp0, 1);
		}
		if (hp_write_all(fd, out, (size_t)n))
			goto done;
		memmove(buf, buf + need, have - need);
		have -= need;
		continue;
bad:
		atomic_fetch_add(&st->bad, 1);
		fprintf(stderr, "hp: bad request on a connection (%s): %.200s\n", why, buf);
		n = snprintf(out, sizeof out, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
			     "Connection: close\r\n\r\n");
		(void)hp_write_all(fd, out, (size_t)n);
		break;
	}
done:
	free(buf);
	close(fd);
}

struct conn_arg {
	int fd;
	struct hp_stats *st;
};

static void *conn_main(void *p)
{
	struct conn_arg a = *(struct conn_arg *)p;

	free(p);
	hp_serve(a.fd, a.st);
	return NULL;
}

static void *accept_main(void *p)
{
	struct conn_arg l = *(struct conn_arg *)p;

	free(p);
	for (;;) {
		int fd = accept4(l.fd, NULL, NULL, SOCK_CLOEXEC);
		struct conn_arg *a;
		pthread_attr_t attr;
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			return NULL;
		}
		a = malloc(sizeof *a);
		if (!a) {
			close(fd);
			continue;
		}
		a->fd = fd;
		a->st = l.st;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 256 * 1024);
		if (pthread_create(&t, &attr, conn_main, a)) {
			close(fd);
			free(a);
		}
		pthread_attr_destroy(&attr);
	}
}

int hp_serve_background(int lfd, struct hp_stats *st)
{
	struct conn_arg *a = malloc(sizeof *a);
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (!a)
		return -1;
	a->fd = lfd;
	a->st = st;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, accept_main, a);
	pthread_attr_destroy(&attr);
	if (rc)
		free(a);
	return rc ? -1 : 0;
}

/* --- looking at ourselves ------------------------------------------------ */

int hp_worker_tid(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int tid = 0;

	if (!d)
		return 0;
	while (!tid && (e = readdir(d))) {
		char p[64], comm[32] = "";
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "/proc/self/task/%s/comm", e->d_name);
		f = fopen(p, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof comm, f) && !strcmp(comm, "otelpreload\n"))
			tid = atoi(e->d_name);
		fclose(f);
	}
	closedir(d);
	return tid;
}

int hp_worker_exporting(int tid)
{
	char p[64], s[256] = "";
	long nr;
	FILE *f;

	snprintf(p, sizeof p, "/proc/self/task/%d/syscall", tid);
	f = fopen(p, "re");
	if (!f)
		return 0;
	if (!fgets(s, sizeof s, f))
		s[0] = '\0';
	fclose(f);
	if (!isdigit((unsigned char)s[0]))
		return 0;
	nr = strtol(s, NULL, 10);
#ifdef SYS_poll
	if (nr == SYS_poll)
		return 1;
#endif
	return nr == SYS_ppoll;
}

int hp_wait_exporting(long ms)
{
	long long start = hp_mono_ms(), until = start + ms;
	int tid = 0;

	do {
		if (!tid)
			tid = hp_worker_tid();
		/* No worker soon after the spans: untraced, or not exporting at all. */
		if (!tid && hp_mono_ms() > start + 50)
			return 0;
		if (tid && hp_worker_exporting(tid))
			return 1;
		usleep(500);
	} while (hp_mono_ms() < until);
	return 0;
}

int hp_library_copies(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *path = strchr(line, '/'), *base;
		unsigned long long off;

		/* A loaded object maps its file from offset 0 once. */
		if (!path || sscanf(line, "%*s %*s %llx", &off) != 1 || off != 0)
			continue;
		path[strcspn(path, "\n")] = '\0';
		base = strrchr(path, '/') + 1;
		if (!strncmp(base, "libotelpreload", 14) && !strstr(base, "exporter"))
			n++;
	}
	fclose(f);
	return n;
}

int hp_exporter_mapped(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof line, f))
		found = strstr(line, "/libotelpreload-exporter.so") != NULL;
	fclose(f);
	return found;
}
