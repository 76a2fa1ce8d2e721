/*
 * The URL helpers of the protocol engine (preload/engine.c):
 * op_http_redact_url and op_http_redact_query, which must never let
 * credentials reach url.full or url.query, and op_http_split_host, which
 * splits a Host header into server.address and server.port.
 *
 * Input: a byte giving the output buffer's size (1-256; the buffer is
 * exactly that large, so AddressSanitizer sees any write past it), a byte
 * choosing the default port, then the URL or host text (up to a NUL).
 *
 * What is held, whatever else the redaction rules come to say:
 *  - the output ends within the buffer, and a smaller buffer gives a
 *    prefix of what a large one gets (a cut never shows more of a secret);
 *  - userinfo: when scheme://authority (RFC 3986 scheme) has an '@' in
 *    its authority, the output starts with scheme:// and
 *    REDACTED:REDACTED@, and no other '@' is left in the authority (the
 *    userinfo ends at the LAST '@': RFC 3986 allows none inside it, so a
 *    raw one belongs to the password, as WHATWG URL, Python and Go read it);
 *  - the value of AWSAccessKeyId, Signature, sig and X-Goog-Signature
 *    query keys is REDACTED, the keys and the other parameters are kept;
 *  - a URL with neither userinfo nor a query comes out unchanged;
 *  - a host name never holds userinfo ('@'), is a piece of the text, and
 *    a port taken is the decimal number the text gives after its colon.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/engine.h"

#include "fuzz.h"

#define BIG 65536

static const char *const secret_keys[] = { "AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature" };

/* RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ); the length of "scheme://" or 0. */
static size_t scheme_len(const char *u)
{
	size_t i = 0;

	if (!((u[0] >= 'a' && u[0] <= 'z') || (u[0] >= 'A' && u[0] <= 'Z')))
		return 0;
	while ((u[i] >= 'a' && u[i] <= 'z') || (u[i] >= 'A' && u[i] <= 'Z') ||
	       (u[i] >= '0' && u[i] <= '9') || u[i] == '+' || u[i] == '-' || u[i] == '.')
		i++;
	return !strncmp(u + i, "://", 3) ? i + 3 : 0;
}

/* Each secret key's parameters in `q` (up to '#' or the end) have the value REDACTED. */
static void check_query(const char *q, size_t qlen, const char *in, size_t inlen)
{
	size_t i = 0, params = 0, in_params = 0;

	for (size_t k = 0; k < inlen; k++)
		in_params += in[k] == '&';
	while (i <= qlen) {
		size_t n = i, klen;
		const char *eq;

		while (n < qlen && q[n] != '&')
			n++;
		eq = memchr(q + i, '=', n - i);
		klen = eq ? (size_t)(eq - (q + i)) : n - i;
		for (size_t s = 0; eq && s < sizeof secret_keys / sizeof *secret_keys; s++)
			if (strlen(secret_keys[s]) == klen && !memcmp(q + i, secret_keys[s], klen))
				FUZZ_CHECK(n - (size_t)(eq + 1 - q) == 8 && !memcmp(eq + 1, "REDACTED", 8),
					   "%s=\"%s\" left in the query", secret_keys[s],
					   fz_show(eq + 1, n - (size_t)(eq + 1 - q)));
		params++;
		i = n + 1;
	}
	FUZZ_CHECK(params == in_params + 1, "query \"%s\" has %zu parameters, \"%s\" %zu", fz_show(in, inlen),
		   in_params + 1, fz_show(q, qlen), params);
}

static void check_redact(const char *url, size_t cap)
{
	static char full[BIG];
	char *out = malloc(cap);
	size_t pre = scheme_len(url), alen, flen, olen;
	const char *auth = url + pre, *at = NULL;

	if (!out)
		abort();
	memset(out, 0x5a, cap);
	op_http_redact_url(url, out, cap);
	FUZZ_CHECK(memchr(out, '\0', cap), "redacted URL not terminated within %zu bytes", cap);
	op_http_redact_url(url, full, sizeof full);
	flen = strlen(full);
	olen = strlen(out);
	FUZZ_CHECK(olen == (flen < cap ? flen : cap - 1) && !memcmp(out, full, olen),
		   "with %zu bytes \"%s\", with more \"%s\"", cap, fz_show(out, olen), fz_show(full, flen));
	free(out);
	if (flen >= sizeof full - 1)
		return;

	alen = pre ? strcspn(auth, "/?#") : 0;
	for (size_t i = 0; i < alen; i++)
		if (auth[i] == '@')
			at = auth + i;
	if (at) {
		size_t oalen;

		FUZZ_CHECK(!strncmp(full, url, pre) && !strncmp(full + pre, "REDACTED:REDACTED@", 18),
			   "\"%s\" redacted as \"%s\"", fz_show(url, strlen(url)), fz_show(full, flen));
		oalen = strcspn(full + pre + 18, "/?#");
		FUZZ_CHECK(!memchr(full + pre + 18, '@', oalen), "userinfo left in \"%s\" from \"%s\"",
			   fz_show(full, flen), fz_show(url, strlen(url)));
	}
	if (pre) {
		const char *q = strchr(auth + alen, '?'), *oq = strchr(full + pre, '?');

		if (q && (!strchr(auth + alen, '#') || q < strchr(auth + alen, '#'))) {
			FUZZ_CHECK(oq, "the query of \"%s\" is gone", fz_show(url, strlen(url)));
			check_query(oq + 1, strcspn(oq + 1, "#"), q + 1, strcspn(q + 1, "#"));
		}
	}
	if (!at && !strchr(url, '?'))
		FUZZ_CHECK(!strcmp(full, url), "\"%s\" changed into \"%s\"", fz_show(url, strlen(url)),
			   fz_show(full, flen));
}

static void check_query_alone(const char *q, size_t cap)
{
	static char full[BIG];
	char *out = malloc(cap);
	size_t qlen = strlen(q), n, fn;

	if (!out)
		abort();
	n = op_http_redact_query(q, qlen, out, cap);
	FUZZ_CHECK(n < cap && out[n] == '\0' && strlen(out) == n, "redacted query of %zu bytes in %zu", n, cap);
	fn = op_http_redact_query(q, qlen, full, sizeof full);
	FUZZ_CHECK(n == (fn < cap ? fn : cap - 1) && !memcmp(out, full, n), "a cut query is not a prefix");
	if (fn < sizeof full - 1 && !memchr(q, '#', qlen))
		check_query(full, fn, q, qlen);
	free(out);
}

static void check_split(const char *host, size_t cap, int def)
{
	char *name = malloc(cap), *e;
	const char *colon = NULL;
	int port = -12345;
	size_t nlen;
	long p;

	if (!name)
		abort();
	memset(name, 0x5a, cap);
	op_http_split_host(host, name, cap, &port, def);
	FUZZ_CHECK(memchr(name, '\0', cap), "host name not terminated within %zu bytes", cap);
	nlen = strlen(name);
	FUZZ_CHECK(port == def || (port >= 1 && port <= 65535), "port %d", port);
	FUZZ_CHECK(!strchr(name, '@'), "userinfo in the host name \"%s\" of \"%s\"", fz_show(name, nlen),
		   fz_show(host, strlen(host)));
	FUZZ_CHECK(nlen == 0 || strstr(host, name), "host name \"%s\" is not in \"%s\"", fz_show(name, nlen),
		   fz_show(host, strlen(host)));

	/* The plain case: reg-name or IPv4 [":" port], no brackets, no userinfo. */
	if (host[0] != '[' && !strchr(host, '@')) {
		colon = strchr(host, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;   /* a bare IPv6 address: no port */
		{
			size_t want = colon ? (size_t)(colon - host) : strlen(host);

			if (want > cap - 1)
				want = cap - 1;
			FUZZ_CHECK(nlen == want && !strncmp(name, host, want), "host \"%s\": name \"%s\"",
				   fz_show(host, strlen(host)), fz_show(name, nlen));
		}
	}
	if (port != def) {
		/* A port taken is the number after a colon that follows the name. */
		const char *c = strrchr(host, ':');

		FUZZ_CHECK(c, "port %d from \"%s\" without a colon", port, fz_show(host, strlen(host)));
		p = strtol(c + 1, &e, 10);
		FUZZ_CHECK(!*e && p == port, "port %d from \"%s\"", port, fz_show(host, strlen(host)));
	}
	if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
	    strlen(colon + 1) <= 5 && atoi(colon + 1) >= 1 && atoi(colon + 1) <= 65535)
		FUZZ_CHECK(port == atoi(colon + 1), "port of \"%s\" read as %d", fz_show(host, strlen(host)),
			   port);
	free(name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, data + size };
	size_t cap = (size_t)fz_u8(&f) + 1;
	int def = fz_u8(&f) % 2 ? 443 : 80;
	char *text = fz_cstr(&f, '\0');

	check_redact(text, cap);
	check_query_alone(text, cap);
	check_split(text, cap, def);
	free(text);
	return 0;
}
