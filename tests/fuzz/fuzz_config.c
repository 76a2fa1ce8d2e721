/*
 * The configuration parser (preload/config.c, op_config_parse) on an
 * environment the fuzzer writes: records NAME=VALUE separated by '\n', or
 * by NUL when the input holds one (so values can hold newlines); later
 * records win. Unknown names are simply never asked for; PATH_PROBE and
 * UA_PROBE are not configuration but a request path and user agent for
 * op_config_ignored().
 *
 * Checked: every field within the bounds the SDK specification and
 * config.h give (sampler ratio in [0, 1], batch <= queue, timeouts > 0,
 * URLs http(s) with a host, at most 32 OTLP headers with valid names and
 * no CR/LF in values, distinct propagators matching their bits, lower-case
 * token forward headers, ignore paths starting with '/'); a well-formed
 * number, boolean, sampler or endpoint read as this file reads it from the
 * specification; every warning one line of at most 512 bytes starting
 * "otelpreload: " with no control character in it (the host's stderr
 * must not get forged or broken lines); op_config_ignored() against a
 * separate prefix and glob matcher; a second parse of the same environment
 * gives the same configuration, and nothing leaks (LeakSanitizer).
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sanitizer/common_interface_defs.h>

#include "preload/config.h"
#include "preload/op.h"

#include "fuzz.h"

#define MAX_VARS 64

static char *names[MAX_VARS], *values[MAX_VARS];
static int nvars;

static const char *fake_getenv(const char *name)
{
	for (int i = nvars - 1; i >= 0; i--)
		if (!strcmp(names[i], name))
			return values[i];
	return NULL;
}

static const char *nonempty(const char *name)
{
	const char *v = fake_getenv(name);

	return v && *v ? v : NULL;
}

/* Warnings go to fd 2 by a raw write: a memory file stands in for it while the parser runs. */
static int capture_fd = -1, stderr_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	capture_fd = memfd_create("otelpreload-fuzz-stderr", MFD_CLOEXEC);
	stderr_fd = dup(2);
	if (capture_fd < 0 || stderr_fd < 0)
		abort();
	/* Sanitizer reports keep going to the real stderr. */
	__sanitizer_set_report_fd((void *)(intptr_t)stderr_fd);
	op_log_level = OP_LOG_WARN;
	return 0;
}

static char *parse_captured(struct op_config *cfg, size_t *len)
{
	static char out[1 << 16];
	ssize_t n;

	if (ftruncate(capture_fd, 0) || lseek(capture_fd, 0, SEEK_SET) || dup2(capture_fd, 2) < 0)
		abort();
	op_config_parse(cfg, fake_getenv);
	if (dup2(stderr_fd, 2) < 0)
		abort();
	n = pread(capture_fd, out, sizeof out - 1, 0);
	*len = n > 0 ? (size_t)n : 0;
	out[*len] = '\0';
	return out;
}

static void check_warnings(const char *w, size_t len)
{
	while (len) {
		const char *nl = memchr(w, '\n', len);
		size_t l = nl ? (size_t)(nl - w) : len;

		FUZZ_CHECK(nl, "a warning without its newline: \"%s\"", fz_show(w, l));
		FUZZ_CHECK(l + 1 <= 512, "a warning of %zu bytes", l + 1);
		FUZZ_CHECK(l >= 13 && !memcmp(w, "otelpreload: ", 13), "a line without the prefix: \"%s\"",
			   fz_show(w, l));
		for (size_t i = 0; i < l; i++)
			FUZZ_CHECK((unsigned char)w[i] >= 0x20 && w[i] != 0x7f,
				   "a control character 0x%02x in the warning \"%s\"", (unsigned char)w[i],
				   fz_show(w, l));
		w += l + 1;
		len -= l + 1;
	}
}

/* A plain decimal, spaces around allowed, within [min, max]: what the specification's integers look like. */
static bool plain_int(const char *v, int64_t min, int64_t max, int64_t *out)
{
	int64_t n = 0;
	const char *p = v;
	bool any = false;

	while (isspace((unsigned char)*p))
		p++;
	for (; *p >= '0' && *p <= '9'; p++, any = true) {
		if (n > (INT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (*p - '0');
	}
	while (isspace((unsigned char)*p))
		p++;
	if (!any || *p || n < min || n > max)
		return false;
	*out = n;
	return true;
}

static void check_int(const char *name, int64_t got, int64_t def, int64_t min, int64_t max)
{
	const char *v = nonempty(name);
	int64_t want;

	FUZZ_CHECK(got >= min && got <= max, "%s: %lld outside [%lld, %lld]", name, (long long)got,
		   (long long)min, (long long)max);
	if (!v)
		FUZZ_CHECK(got == def, "%s unset: %lld, not %lld", name, (long long)got, (long long)def);
	else if (plain_int(v, min, max, &want))
		FUZZ_CHECK(got == want, "%s=%s read as %lld", name, fz_show(v, strlen(v)), (long long)got);
	else
		FUZZ_CHECK(got == def, "%s=%s (invalid) gave %lld, not the default %lld", name,
			   fz_show(v, strlen(v)), (long long)got, (long long)def);
}

/* An http(s) URL with something after the scheme. */
static bool http_url(const char *u)
{
	return u && ((!strncasecmp(u, "http://", 7) && u[7]) || (!strncasecmp(u, "https://", 8) && u[8]));
}

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* '*' matches any run of characters; as a table over prefixes, not backtracking. */
static bool glob(const char *g, const char *s, size_t len)
{
	size_t gl = strlen(g);
	bool *row = calloc(len + 1, sizeof *row), *next = calloc(len + 1, sizeof *next), r;

	if (!row || !next)
		abort();
	row[0] = true;   /* empty pattern matches the empty prefix */
	for (size_t i = 0; i < gl; i++) {
		next[0] = g[i] == '*' && row[0];
		for (size_t j = 1; j <= len; j++)
			next[j] = g[i] == '*' ? row[j] || next[j - 1] : row[j - 1] && s[j - 1] == g[i];
		memcpy(row, next, (len + 1) * sizeof *row);
	}
	r = row[len];
	free(row);
	free(next);
	return r;
}

static void check_config(const struct op_config *c)
{
	const char *v, *probe_path, *probe_ua;
	char *url;

	v = nonempty("OTEL_SDK_DISABLED");
	FUZZ_CHECK(c->sdk_disabled == (v && !strcasecmp(v, "true")), "OTEL_SDK_DISABLED");
	FUZZ_CHECK(c->sampler <= OP_SAMPLER_PARENTBASED_TRACEIDRATIO, "sampler %d", c->sampler);
	FUZZ_CHECK(c->sampler_ratio >= 0.0 && c->sampler_ratio <= 1.0, "ratio %g", c->sampler_ratio);
	if ((v = nonempty("OTEL_TRACES_SAMPLER")) && !strcasecmp(v, "always_off"))
		FUZZ_CHECK(c->sampler == OP_SAMPLER_ALWAYS_OFF, "always_off");
	if (!v)
		FUZZ_CHECK(c->sampler == OP_SAMPLER_PARENTBASED_ALWAYS_ON, "default sampler");
	FUZZ_CHECK(!(c->exporters & ~0xfu), "exporters %#x", c->exporters);

	check_int("OTEL_BSP_SCHEDULE_DELAY", c->bsp_schedule_delay_ms, 5000, 0, INT32_MAX);
	check_int("OTEL_BSP_EXPORT_TIMEOUT", c->bsp_export_timeout_ms, 30000, 1, INT32_MAX);
	check_int("OTEL_BSP_MAX_QUEUE_SIZE", c->bsp_max_queue_size, 2048, 1, 1 << 24);
	FUZZ_CHECK(c->bsp_max_export_batch >= 1 && c->bsp_max_export_batch <= c->bsp_max_queue_size,
		   "batch %u, queue %u", c->bsp_max_export_batch, c->bsp_max_queue_size);
	if (!nonempty("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT") && !nonempty("OTEL_ATTRIBUTE_COUNT_LIMIT"))
		FUZZ_CHECK(c->attr_count_limit == 128, "attribute count limit %u", c->attr_count_limit);
	check_int("OTEL_EXPORTER_ZIPKIN_TIMEOUT", c->zipkin_timeout_ms, 10000, 1, INT32_MAX);
	FUZZ_CHECK(c->otlp_timeout_ms >= 1 && c->otlp_timeout_ms <= INT32_MAX, "otlp timeout");

	/* Endpoints. */
	FUZZ_CHECK(c->otlp_protocol <= OP_OTLP_GRPC, "protocol %d", c->otlp_protocol);
	FUZZ_CHECK(http_url(c->otlp_traces_url), "OTLP URL %s",
		   c->otlp_traces_url ? fz_show(c->otlp_traces_url, strlen(c->otlp_traces_url)) : "NULL");
	url = c->otlp_traces_url;
	if (c->otlp_protocol == OP_OTLP_GRPC) {
		const char *path = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
		size_t ul = strlen(url), pl = strlen(path);

		FUZZ_CHECK(ul > pl && !strcmp(url + ul - pl, path), "gRPC URL %s", fz_show(url, ul));
	} else {
		const char *spec = nonempty("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
		const char *gen = nonempty("OTEL_EXPORTER_OTLP_ENDPOINT");
		char want[8192];

		if (http_url(spec))
			snprintf(want, sizeof want, "%s", spec);
		else if (http_url(gen))
			snprintf(want, sizeof want, "%s%sv1/traces", gen, gen[strlen(gen) - 1] == '/' ? "" : "/");
		else
			snprintf(want, sizeof want, "http://localhost:4318/v1/traces");
		if (strlen(want) < sizeof want - 1)
			FUZZ_CHECK(!strcmp(url, want), "OTLP URL %s, not %s", fz_show(url, strlen(url)),
				   fz_show(want, strlen(want)));
	}
	v = nonempty("OTEL_EXPORTER_ZIPKIN_ENDPOINT");
	FUZZ_CHECK(http_url(c->zipkin_url) && (!http_url(v) || !strcmp(c->zipkin_url, v)), "Zipkin URL");

	/* OTLP headers. */
	FUZZ_CHECK(c->otlp_header_count <= OP_MAX_HEADERS, "%u headers", c->otlp_header_count);
	for (unsigned i = 0; i < c->otlp_header_count; i++) {
		const struct op_header *h = &c->otlp_headers[i];

		FUZZ_CHECK(h->name && h->value && h->name[0], "header %u empty", i);
		for (const char *k = h->name; *k; k++)
			FUZZ_CHECK((unsigned char)*k > ' ' && *k != ':' && *k != 0x7f, "header name \"%s\"",
				   fz_show(h->name, strlen(h->name)));
		FUZZ_CHECK(!strpbrk(h->value, "\r\n"), "CR or LF in a header value");
		for (unsigned j = 0; j < i; j++)
			FUZZ_CHECK(strcasecmp(h->name, c->otlp_headers[j].name), "header \"%s\" twice",
				   fz_show(h->name, strlen(h->name)));
	}

	/* Propagators. */
	FUZZ_CHECK(c->n_propagators <= OP_PROP_COUNT, "%u propagators", c->n_propagators);
	{
		uint32_t bits = 0;

		for (unsigned i = 0; i < c->n_propagators; i++) {
			FUZZ_CHECK(c->propagators[i] < OP_PROP_COUNT && !(bits & (1u << c->propagators[i])),
				   "propagator %u repeated or unknown", c->propagators[i]);
			bits |= 1u << c->propagators[i];
		}
		FUZZ_CHECK(bits == c->propagator_bits, "propagator bits %#x for %#x", c->propagator_bits, bits);
		if (!nonempty("OTEL_PROPAGATORS"))
			FUZZ_CHECK(c->n_propagators == 2 && c->propagators[0] == OP_PROP_TRACECONTEXT &&
				   c->propagators[1] == OP_PROP_BAGGAGE, "default propagators");
	}

	/* Lists. */
	if (!fake_getenv("OTELPRELOAD_FORWARD_HEADERS"))
		FUZZ_CHECK(c->forward_headers && c->forward_headers[0] &&
			   !strcmp(c->forward_headers[0], "x-request-id") && !c->forward_headers[1],
			   "default forward headers");
	for (char **h = c->forward_headers; h && *h; h++) {
		FUZZ_CHECK(**h, "an empty forward header");
		for (const char *k = *h; *k; k++)
			FUZZ_CHECK(tchar(*k) && !(*k >= 'A' && *k <= 'Z'), "forward header \"%s\"",
				   fz_show(*h, strlen(*h)));
	}
	for (char **p = c->ignore_paths; p && *p; p++)
		FUZZ_CHECK((*p)[0] == '/', "ignore path \"%s\"", fz_show(*p, strlen(*p)));
	for (char **g = c->ignore_user_agents; g && *g; g++) {
		FUZZ_CHECK(**g, "an empty user agent glob");
		for (const char *k = *g; *k; k++)
			FUZZ_CHECK((unsigned char)*k >= 0x20 && *k != 0x7f, "control character in a glob");
	}

	/* Which requests are ignored. */
	probe_path = fake_getenv("PATH_PROBE");
	probe_ua = fake_getenv("UA_PROBE");
	if (probe_path) {
		bool want = false, got;
		size_t plen = strlen(probe_path);

		for (char **p = c->ignore_paths; p && *p; p++)
			want |= !strncmp(probe_path, *p, strlen(*p));
		for (char **g = c->ignore_user_agents; probe_ua && g && *g; g++)
			want |= glob(*g, probe_ua, strlen(probe_ua));
		got = op_config_ignored(c, probe_path, plen, probe_ua, probe_ua ? strlen(probe_ua) : 0);
		FUZZ_CHECK(got == want, "path \"%s\", user agent \"%s\": ignored %d", fz_show(probe_path, plen),
			   probe_ua ? fz_show(probe_ua, strlen(probe_ua)) : "(none)", got);
	}
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static bool same_list(char **a, char **b)
{
	for (; a && b && *a && *b; a++, b++)
		if (strcmp(*a, *b))
			return false;
	return (!a || !*a) == (!b || !*b);
}

static void compare(const struct op_config *a, const struct op_config *b)
{
	FUZZ_CHECK(a->sdk_disabled == b->sdk_disabled && a->sampler == b->sampler &&
		   a->sampler_ratio == b->sampler_ratio && a->exporters == b->exporters &&
		   a->bsp_schedule_delay_ms == b->bsp_schedule_delay_ms &&
		   a->bsp_max_queue_size == b->bsp_max_queue_size &&
		   a->bsp_max_export_batch == b->bsp_max_export_batch &&
		   a->attr_count_limit == b->attr_count_limit &&
		   a->attr_value_len_limit == b->attr_value_len_limit &&
		   a->otlp_protocol == b->otlp_protocol && a->otlp_timeout_ms == b->otlp_timeout_ms &&
		   a->otlp_header_count == b->otlp_header_count && a->n_propagators == b->n_propagators &&
		   a->propagator_bits == b->propagator_bits && same_str(a->otlp_traces_url, b->otlp_traces_url) &&
		   same_str(a->zipkin_url, b->zipkin_url) && same_str(a->service_name, b->service_name) &&
		   same_str(a->file_path, b->file_path) && same_list(a->ignore_paths, b->ignore_paths) &&
		   same_list(a->ignore_user_agents, b->ignore_user_agents) &&
		   same_list(a->forward_headers, b->forward_headers),
		   "the same environment parsed twice gave two configurations");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, data + size };
	uint8_t sep = memchr(data, '\0', size) ? '\0' : '\n';
	struct op_config a, b;
	const char *w;
	size_t wlen;

	nvars = 0;
	while (fz_left(&f) && nvars < MAX_VARS) {
		char *rec = fz_cstr(&f, sep), *eq = strchr(rec, '=');

		if (!eq) {
			free(rec);
			continue;
		}
		*eq = '\0';
		names[nvars] = rec;
		values[nvars++] = eq + 1;
	}

	memset(&a, 0xa5, sizeof a);
	w = parse_captured(&a, &wlen);
	check_warnings(w, wlen);
	check_config(&a);
	memset(&b, 0x5a, sizeof b);
	parse_captured(&b, &wlen);
	compare(&a, &b);
	op_config_free(&a);
	op_config_free(&b);

	for (int i = 0; i < nvars; i++)
		free(names[i]);
	return 0;
}
