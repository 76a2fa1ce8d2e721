/*
 * The protocol engine (preload/engine.c) end to end, as the hooks drive
 * it, with the first law as the invariant: a server connection reads an
 * inbound request (which sets the thread's context: traceparent, B3,
 * Jaeger, tracestate, baggage, uberctx-*, x-request-id), then a client
 * connection on the same thread writes an outbound request through
 * op_engine_send while a fake kernel takes a fuzzer-chosen number of bytes
 * per call (partial writes, EAGAIN, a reset).
 *
 * The engine hands the kernel iovecs that point either into the
 * application's buffer or at its own header bytes, so every byte that goes
 * out is known for what it is. Checked: the application's bytes go out
 * once each, in order, none lost (a traceparent value replaced in place
 * counts as its own bytes); every call returns how many of them were
 * taken, or -1 with the kernel's errno; the inserted bytes are complete
 * header lines (a token name, a value of printable ASCII: nothing a peer
 * could read as a line break or reject as malformed), placed right after a
 * request line, never repeating (case-insensitively, as HTTP compares
 * names) a header that request has when the whole head went in one write,
 * nor each other; a replaced traceparent is a valid one.
 *
 * Input: a flags byte, a split byte, the inbound stream and the outbound
 * stream (each a two-byte big-endian length and the bytes), then the
 * kernel's schedule, a byte per call: < 8 EAGAIN, 255 ECONNRESET, else
 * that many bytes (bit 7: all of them).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

#include "preload/engine.h"
#include "preload/fdtable.h"
#include "preload/propagate.h"

#include "fuzz.h"


struct kernel {
	struct fz sched;
	const char *app;        /* the application's whole outbound stream */
	size_t n;
	size_t app_pos;         /* next application offset expected on the wire */
	char *foreign;          /* engine bytes since the last application bytes */
	size_t flen, fcap;
	size_t taken;           /* application bytes taken in the current call */
	struct insertion { size_t at; char *bytes; size_t len; } *ins; /* one per request head at most */
	int n_ins, cap_ins;
	bool reset;
};

static void foreign_add(struct kernel *k, const char *p, size_t len)
{
	if (k->flen + len > k->fcap) {
		k->fcap = (k->flen + len) * 2;
		k->foreign = realloc(k->foreign, k->fcap);
		if (!k->foreign)
			abort();
	}
	memcpy(k->foreign + k->flen, p, len);
	k->flen += len;
}

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Application bytes at offset `o`: what the engine sent since the last ones was inserted or replaced. */
static void app_piece(struct kernel *k, size_t o, size_t len)
{
	FUZZ_CHECK(o >= k->app_pos, "application bytes at %zu sent again (next expected %zu)", o, k->app_pos);
	if (o == k->app_pos) {
		if (k->flen) {
			if (k->n_ins == k->cap_ins) {
				k->cap_ins = k->cap_ins ? 2 * k->cap_ins : 16;
				k->ins = realloc(k->ins, (size_t)k->cap_ins * sizeof *k->ins);
				if (!k->ins)
					abort();
			}
			k->ins[k->n_ins].at = o;
			k->ins[k->n_ins].bytes = malloc(k->flen);
			if (!k->ins[k->n_ins].bytes)
				abort();
			memcpy(k->ins[k->n_ins].bytes, k->foreign, k->flen);
			k->ins[k->n_ins++].len = k->flen;
		}
	} else {
		struct op_span_ctx ctx;

		/* Skipped application bytes: only a traceparent value replaced by one of the same length. */
		FUZZ_CHECK(k->flen == o - k->app_pos && k->flen == OP_TRACEPARENT_LEN,
			   "application bytes [%zu, %zu) lost (%zu engine bytes in their place)", k->app_pos, o,
			   k->flen);
		FUZZ_CHECK(op_traceparent_parse(k->foreign, k->flen, &ctx) == 0 &&
			   op_traceparent_parse(k->app + k->app_pos, k->flen, &ctx) == 0,
			   "replaced \"%s\" with \"%s\"", fz_show(k->app + k->app_pos, k->flen),
			   fz_show(k->foreign, k->flen));
		FUZZ_CHECK(k->app_pos >= 13 && !strncasecmp(k->app + k->app_pos - 13, "traceparent: ", 13),
			   "replaced bytes at %zu are not a traceparent value", k->app_pos);
		k->taken += k->flen;
	}
	k->flen = 0;
	k->app_pos = o + len;
	k->taken += len;
}

/* The fake kernel: takes a prefix of `v` as the schedule says. */
static ssize_t kernel_take(struct kernel *k, const struct iovec *v, int c)
{
	size_t total = 0, want;
	uint8_t b;

	for (int i = 0; i < c; i++)
		total += v[i].iov_len;
	b = fz_left(&k->sched) ? fz_u8(&k->sched) : 0x80;
	if (k->reset) {
		errno = ECONNRESET;
		return -1;
	}
	if (b < 8 && total) {
		errno = EAGAIN;
		return -1;
	}
	if (b == 255) {
		k->reset = true;
		errno = ECONNRESET;
		return -1;
	}
	want = b & 0x80 ? total : b;
	if (want > total)
		want = total;
	for (int i = 0, left = (int)want; i < c && left > 0; i++) {
		size_t len = v[i].iov_len < (size_t)left ? v[i].iov_len : (size_t)left;
		const char *p = v[i].iov_base;

		if (p >= k->app && p < k->app + k->n)
			app_piece(k, (size_t)(p - k->app), len);
		else
			foreign_add(k, p, len);
		left -= (int)len;
	}
	return (ssize_t)want;
}

static ssize_t plain_fn(const struct op_plain *p)
{
	return kernel_take(p->ctx, p->iov, p->iovcnt);
}

static ssize_t plain_vec(const struct op_plain *p, const struct iovec *v, int c)
{
	return kernel_take(p->ctx, v, c);
}

/*
 * Header names of the head starting at `at`, up to its empty line: is
 * `name` among them? Only whole lines count: a line the write cut is not
 * known to be a header yet (README, "Limitations").
 */
static bool head_has(const char *s, size_t n, size_t at, const char *name, size_t nlen)
{
	while (at < n) {
		const char *nl = memchr(s + at, '\n', n - at), *colon;
		size_t len;

		if (!nl)
			return false;
		len = (size_t)(nl - (s + at));

		if (len && s[at + len - 1] == '\r')
			len--;
		if (len == 0)
			return false;
		colon = memchr(s + at, ':', len);
		if (colon && (size_t)(colon - (s + at)) == nlen && !strncasecmp(s + at, name, nlen))
			return true;
		at = (size_t)(nl - s) + 1;
	}
	return false;
}

static void check_insertions(const struct kernel *k, bool one_write)
{
	for (int i = 0; i < k->n_ins; i++) {
		const char *b = k->ins[i].bytes;
		size_t len = k->ins[i].len, at = k->ins[i].at, l = 0, ls;
		char names[64][64];
		int nn = 0;

		FUZZ_CHECK(at > 0 && k->app[at - 1] == '\n', "header bytes inserted at %zu, not after a line", at);
		ls = at - 1;
		while (ls > 0 && k->app[ls - 1] != '\n')
			ls--;
		FUZZ_CHECK(memmem(k->app + ls, at - ls, " HTTP/1.", 8), "header bytes inserted after \"%s\"",
			   fz_show(k->app + ls, at - ls));
		while (l < len) {
			const char *nl = memchr(b + l, '\n', len - l), *colon;
			size_t ll, nlen;

			/* After the application's last byte the rest waits for its next write. */
			if (!nl && at == k->n)
				break;
			FUZZ_CHECK(nl && nl > b + l && nl[-1] == '\r', "inserted bytes \"%s\" are not CRLF lines",
				   fz_show(b, len));
			ll = (size_t)(nl - (b + l)) - 1;
			colon = memchr(b + l, ':', ll);
			FUZZ_CHECK(colon && colon > b + l, "inserted line \"%s\" has no name", fz_show(b + l, ll));
			nlen = (size_t)(colon - (b + l));
			for (size_t c = 0; c < nlen; c++)
				FUZZ_CHECK(tchar(b[l + c]), "inserted header name \"%s\" is not a token",
					   fz_show(b + l, nlen));
			for (size_t c = nlen + 1; c < ll; c++)
				FUZZ_CHECK((unsigned char)b[l + c] >= 0x20 && (unsigned char)b[l + c] < 0x7f,
					   "inserted line \"%s\" holds 0x%02x", fz_show(b + l, ll),
					   (unsigned char)b[l + c]);
			if (one_write)
				FUZZ_CHECK(!head_has(k->app, k->n, at, b + l, nlen),
					   "inserted \"%s\" though the request has that header",
					   fz_show(b + l, nlen));
			for (int j = 0; j < nn; j++)
				FUZZ_CHECK(strlen(names[j]) != nlen || strncasecmp(names[j], b + l, nlen),
					   "\"%s\" inserted twice", fz_show(b + l, nlen));
			if (nn < 64 && nlen < 64) {
				memcpy(names[nn], b + l, nlen);
				names[nn++][nlen] = '\0';
			}
			if (nlen == 11 && !strncasecmp(b + l, "traceparent", 11)) {
				struct op_span_ctx ctx;

				FUZZ_CHECK(op_traceparent_parse(colon + 1, ll - nlen - 1, &ctx) == 0,
					   "inserted traceparent \"%s\"", fz_show(b + l, ll));
			}
			l += ll + 2;
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* Spans are made and dropped: no exporter, no worker thread. */
	setenv("OTEL_TRACES_EXPORTER", "none", 1);
	setenv("OTEL_PROPAGATORS", "tracecontext,baggage,b3,b3multi,jaeger", 1);
	setenv("OTELPRELOAD_FORWARD_HEADERS", "x-request-id,X-Correlation-ID", 1);
	setenv("OTEL_LOG_LEVEL", "none", 1);
	return 0;
}

static const char *section(struct fz *f, size_t *len)
{
	size_t n = (size_t)fz_u8(f) << 8 | fz_u8(f);
	const char *p = (const char *)f->p;

	if (n > fz_left(f))
		n = fz_left(f);
	f->p += n;
	*len = n;
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, data + size };
	uint8_t flags = fz_u8(&f), split = fz_u8(&f);
	size_t in_len, out_len, cut;
	const char *in = section(&f, &in_len), *out = section(&f, &out_len);
	struct kernel k = { .sched = f, .app = out, .n = out_len };
	struct op_fd *server = op_fd_new(OP_FD_TLS), *client = op_fd_new(OP_FD_TLS);
	char *copy = malloc(in_len + 1);
	size_t sent = 0;
	bool one_write = !(flags & 2);

	if (!server || !client || !copy)
		abort();
	/* The inbound request, read in two parts; the engine never changes what the application reads. */
	memcpy(copy, in, in_len);
	cut = in_len * split / 256;
	if (in_len) {
		struct iovec v[2] = { { copy, cut }, { copy + cut, in_len - cut } };

		for (int i = 0; i < 2; i++)
			if (v[i].iov_len)
				op_engine_recv(server, -1, &v[i], 1, (ssize_t)v[i].iov_len, 0);
		FUZZ_CHECK(!memcmp(copy, in, in_len), "the engine changed bytes the application read");
	}

	/* The outbound request: written whole, retried from where the kernel stopped. */
	while (sent < out_len && !k.reset) {
		size_t want = out_len - sent, r;
		struct iovec v[3];
		int c = 0;
		ssize_t got;
		struct op_plain plain;

		/* A second write of the rest of the head, when asked; up to three iovecs each. */
		if (!one_write && sent == 0 && out_len > 1)
			want = 1 + (out_len - 1) * split / 256;
		for (size_t pos = sent, left = want; left > 0 && c < 3; c++) {
			size_t len = c == 2 ? left : (left + 1) / 2;

			if (!(flags & 4) || c == 2)
				len = left;
			v[c].iov_base = (void *)(out + pos);
			v[c].iov_len = len;
			pos += len;
			left -= len;
		}
		memset(&plain, 0, sizeof plain);
		plain.fn = plain_fn;
		plain.vec = plain_vec;
		plain.ctx = &k;
		plain.fd = -1;
		plain.iov = v;
		plain.iovcnt = c;
		k.taken = 0;
		errno = 0;
		got = op_engine_send(client, v, c, 0, 1, &plain);
		if (got < 0) {
			FUZZ_CHECK(errno == EAGAIN || errno == ECONNRESET, "send failed with errno %d", errno);
			continue;
		}
		r = (size_t)got;
		FUZZ_CHECK(r <= want, "send returned %zu for %zu bytes", r, want);
		FUZZ_CHECK(r > 0 || want == 0, "send returned 0 for %zu bytes", want);
		sent += r;
		/* Every application byte on the wire was reported, and no other (a replacement may be pending). */
		FUZZ_CHECK(k.app_pos <= sent && sent <= k.app_pos + k.flen,
			   "%zu bytes reported sent, %zu went out (%zu engine bytes pending)", sent, k.app_pos,
			   k.flen);
	}
	if (!k.reset) {
		/* The engine's bytes after the last application byte were an insertion at the end. */
		app_piece(&k, out_len, 0);
		FUZZ_CHECK(k.app_pos == out_len && sent == out_len, "%zu of %zu application bytes went out",
			   k.app_pos, out_len);
		check_insertions(&k, one_write);
	}

	/* The end of both connections ends their spans and the thread's context. */
	op_fd_release(client);
	op_fd_release(server);
	for (int i = 0; i < k.n_ins; i++)
		free(k.ins[i].bytes);
	free(k.ins);
	free(k.foreign);
	free(copy);
	return 0;
}
