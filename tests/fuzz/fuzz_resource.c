/*
 * OTEL_RESOURCE_ATTRIBUTES: the list parser (op_kv_list_parse, also used
 * for OTEL_EXPORTER_OTLP_HEADERS) and the resource built from it
 * (op_resource_build).
 *
 * Input: fields separated by '\n' (by NUL when the input holds one): the
 * list, OTEL_SERVICE_NAME (empty: unset), the executable's name, the host
 * name.
 *
 * The list parser is held to its contract (config.h) by a separate reading
 * of it: members split at ',', a member without '=' must be blank, key and
 * value split at the first '=', trimmed, percent-decoded (a '%' not
 * followed by two hex digits, or an empty key, makes the list malformed);
 * the same pairs in the same order, the same verdict. The resource must
 * then hold each key once, service.name as the specification orders it
 * (OTEL_SERVICE_NAME, else the list, else unknown_service:<executable>),
 * every pair of a well-formed list (the last value of a repeated key) and
 * nothing of a malformed one, the detected attributes where the user set
 * none, telemetry.sdk.* always, and errno as it was.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "preload/config.h"
#include "preload/op.h"
#include "preload/resource.h"

#include "fuzz.h"

#define MAX_PAIRS 4096

struct pairs {
	char *k[MAX_PAIRS], *v[MAX_PAIRS];
	int n;
	int stop_at;           /* each() fails on this pair (to test the early stop); -1: never */
};

static int collect(void *arg, const char *key, const char *value)
{
	struct pairs *p = arg;

	if (p->n == MAX_PAIRS || p->n == p->stop_at)
		return -1;
	p->k[p->n] = strdup(key);
	p->v[p->n] = strdup(value);
	if (!p->k[p->n] || !p->v[p->n])
		abort();
	p->n++;
	return 0;
}

static void pairs_free(struct pairs *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->k[i]);
		free(p->v[i]);
	}
	p->n = 0;
}

static int hex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Trimmed and percent-decoded; NULL on a bad escape. Cut at a decoded NUL, as a C string is. */
static char *ref_decode(const char *s, size_t len)
{
	char *out, *o;

	while (len && isspace((unsigned char)*s))
		s++, len--;
	while (len && isspace((unsigned char)s[len - 1]))
		len--;
	o = out = malloc(len + 1);
	if (!out)
		abort();
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
		} else if (i + 2 < len && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
			*o++ = (char)(hex(s[i + 1]) << 4 | hex(s[i + 2]));
			i += 2;
		} else {
			free(out);
			return NULL;
		}
	}
	*o = '\0';
	return out;
}

static int ref_parse(const char *list, struct pairs *p)
{
	const char *m = list;

	for (;;) {
		const char *comma = strchr(m, ','), *end = comma ? comma : m + strlen(m);
		const char *eq = memchr(m, '=', (size_t)(end - m));

		if (!eq) {
			for (const char *c = m; c < end; c++)
				if (!isspace((unsigned char)*c))
					return -1;
		} else {
			char *k = ref_decode(m, (size_t)(eq - m)), *v = ref_decode(eq + 1, (size_t)(end - eq - 1));
			int rc = k && v && *k ? collect(p, k, v) : -1;

			free(k);
			free(v);
			if (rc)
				return -1;
		}
		if (!comma)
			return 0;
		m = comma + 1;
	}
}

static const struct op_attr *get(const struct op_resource *r, const char *key)
{
	const struct op_attr *found = NULL;
	int n = 0;

	for (uint32_t i = 0; i < r->attrs.n; i++) {
		if (!strcmp(r->attrs.v[i].key, key)) {
			found = &r->attrs.v[i];
			n++;
		}
	}
	FUZZ_CHECK(n <= 1, "resource key \"%s\" %d times", fz_show(key, strlen(key)), n);
	return found;
}

static void want_str(const struct op_resource *r, const char *key, const char *value)
{
	const struct op_attr *a = get(r, key);

	FUZZ_CHECK(a && a->type == OP_ATTR_STRING && !strcmp(a->v.s, value), "resource %s: \"%s\", not \"%s\"",
		   key, a && a->type == OP_ATTR_STRING ? fz_show(a->v.s, strlen(a->v.s)) : "?",
		   fz_show(value, strlen(value)));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* The one warning here is a fixed text; the fuzzer's output stays readable without it. */
	op_log_level = OP_LOG_NONE;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, data + size };
	uint8_t sep = memchr(data, '\0', size) ? '\0' : '\n';
	char *list = fz_cstr(&f, sep), *service = fz_cstr(&f, sep), *exe = fz_cstr(&f, sep);
	char *host = fz_cstr(&f, sep);
	static struct pairs got, want;
	struct op_config cfg;
	struct op_resource res;
	int rc, wrc;
	char buf[300];

	/* The list parser against its contract, once to the end and once stopped by each(). */
	got.stop_at = want.stop_at = -1;
	rc = op_kv_list_parse(list, collect, &got);
	wrc = ref_parse(list, &want);
	FUZZ_CHECK(rc == wrc && got.n == want.n, "list \"%s\": %d with %d pairs, not %d with %d",
		   fz_show(list, strlen(list)), rc, got.n, wrc, want.n);
	for (int i = 0; i < got.n; i++)
		FUZZ_CHECK(!strcmp(got.k[i], want.k[i]) && !strcmp(got.v[i], want.v[i]),
			   "pair %d: \"%s\"=\"%s\", not \"%s\"=\"%s\"", i, fz_show(got.k[i], strlen(got.k[i])),
			   fz_show(got.v[i], strlen(got.v[i])), fz_show(want.k[i], strlen(want.k[i])),
			   fz_show(want.v[i], strlen(want.v[i])));
	if (got.n > 0) {
		struct pairs part = { .n = 0, .stop_at = got.n - 1 };

		FUZZ_CHECK(op_kv_list_parse(list, collect, &part) == -1 && part.n == got.n - 1,
			   "each() failing on pair %d: %d pairs taken", got.n - 1, part.n);
		pairs_free(&part);
	}

	/* The resource. */
	memset(&cfg, 0, sizeof cfg);
	cfg.service_name = *service ? service : NULL;
	cfg.resource_attributes = list;
	errno = 1234;
	op_resource_build(&res, &cfg, exe, host, 4242);
	FUZZ_CHECK(errno == 1234, "errno changed to %d", errno);
	if (cfg.service_name) {
		want_str(&res, "service.name", service);
	} else {
		const char *from_list = NULL;

		for (int i = 0; rc == 0 && i < got.n; i++)
			if (!strcmp(got.k[i], "service.name"))
				from_list = got.v[i];
		snprintf(buf, sizeof buf, "unknown_service:%s", exe);
		want_str(&res, "service.name", from_list ? from_list : buf);
	}
	if (rc == 0) {
		for (int i = 0; i < got.n; i++) {
			const char *k = got.k[i], *last = got.v[i];

			if (!strcmp(k, "service.name") || !strcmp(k, "telemetry.sdk.name") ||
			    !strcmp(k, "telemetry.sdk.language") || !strcmp(k, "telemetry.sdk.version"))
				continue;
			for (int j = i + 1; j < got.n; j++)
				if (!strcmp(got.k[j], k))
					last = got.v[j];
			want_str(&res, k, last);
		}
	} else {
		/* Discarded whole: nothing but service.name and what is detected. */
		static const char *const own[] = {
			"service.name", "process.pid", "process.executable.name", "host.name",
			"telemetry.sdk.name", "telemetry.sdk.language", "telemetry.sdk.version",
		};

		for (uint32_t i = 0; i < res.attrs.n; i++) {
			bool ok = false;

			for (size_t k = 0; k < sizeof own / sizeof *own; k++)
				ok |= !strcmp(res.attrs.v[i].key, own[k]);
			FUZZ_CHECK(ok, "\"%s\" kept from a malformed list",
				   fz_show(res.attrs.v[i].key, strlen(res.attrs.v[i].key)));
		}
	}
	{
		const struct op_attr *pid = get(&res, "process.pid");
		bool user_pid = false, user_exe = false, user_host = false;

		for (int i = 0; rc == 0 && i < got.n; i++) {
			user_pid |= !strcmp(got.k[i], "process.pid");
			user_exe |= !strcmp(got.k[i], "process.executable.name");
			user_host |= !strcmp(got.k[i], "host.name");
		}
		if (!user_pid)
			FUZZ_CHECK(pid && pid->type == OP_ATTR_INT && pid->v.i == 4242, "process.pid");
		if (!user_exe)
			want_str(&res, "process.executable.name", exe);
		if (!user_host && *host)
			want_str(&res, "host.name", host);
		if (!user_host && !*host)
			FUZZ_CHECK(!get(&res, "host.name"), "an empty host.name");
	}
	want_str(&res, "telemetry.sdk.name", "otelpreload");
	want_str(&res, "telemetry.sdk.language", "cpp");
	want_str(&res, "telemetry.sdk.version", OP_VERSION);
	for (uint32_t i = 0; i < res.attrs.n; i++)
		get(&res, res.attrs.v[i].key);

	op_resource_free(&res);
	pairs_free(&got);
	pairs_free(&want);
	free(list);
	free(service);
	free(exe);
	free(host);
	return 0;
}
