/*
 * export_driver: how many spans one exporter thread encodes and ships.
 *
 *   export_driver MODULE SECONDS [BATCH]
 *
 * Loads MODULE (libotelpreload-exporter.so) the way the batch span
 * processor's worker does (dlopen RTLD_LOCAL, exporter/plugin.h), builds
 * the exporters from the OTEL_* environment with the library's own
 * configuration parser, and calls export_spans() with batches of BATCH
 * (default 512) spans from this one thread, back to back, for SECONDS after
 * a warm-up of three batches (module, libcurl, connection). The spans look
 * like the library's HTTP client spans: kind CLIENT, named after the
 * method, eleven attributes (http.request.method, url.full, url.scheme,
 * server.address, server.port, network.peer.address, network.peer.port,
 * network.protocol.name, network.protocol.version, user_agent.original,
 * http.response.status_code), a parent in one span of four, each with its
 * own IDs and times: eight batches of distinct spans are used in turn.
 *
 * Prints one line of NAME=VALUE figures on stdout: batches, spans, failed
 * (batches the module reported failed), wall_s, cpu_s (the process: every
 * thread libcurl might start included), thread_cpu_s (this thread),
 * spans_per_s, cpu_us_per_span. Exit status 2 when the warm-up export
 * fails (the protocol is not supported, nothing listens, ...), 1 on other
 * errors. Built and run by bench/exporter.sh against build/libop_sdk.a.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exporter/plugin.h"
#include "preload/config.h"
#include "preload/op.h"
#include "preload/resource.h"
#include "preload/span.h"

#define POOL_BATCHES 8

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = next();

		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static const char *env(const char *name)
{
	return getenv(name);
}

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A span as the HTTP engine makes it for a client request (engine.c). */
static struct op_span *client_span(const struct op_config *cfg, long i, int64_t now_ns)
{
	static const char *const methods[] = { "GET", "GET", "GET", "POST" };
	static const char *const hosts[] = { "api.internal.example.com", "payments.svc.cluster.local",
					     "10.42.7.19", "inventory" };
	const char *method = methods[i % 4], *host = hosts[(i / 4) % 4];
	struct op_span *s = calloc(1, sizeof *s);
	char url[256], peer[32];
	int port = i % 3 ? 8080 : 443;

	if (!s)
		return NULL;
	fill(s->ctx.trace_id, sizeof s->ctx.trace_id);
	fill(s->ctx.span_id, sizeof s->ctx.span_id);
	s->ctx.flags = OP_TRACE_FLAG_SAMPLED;
	if (i % 4 == 0)
		fill(s->parent_span_id, sizeof s->parent_span_id);
	s->kind = OP_SPAN_KIND_CLIENT;
	op_attrs_init(&s->attrs, cfg->attr_count_limit, cfg->attr_value_len_limit);
	s->attrs.v = s->inline_attrs;
	s->attrs.cap = OP_SPAN_INLINE_ATTRS;
	s->attrs.v_inline = true;
	s->attrs.arena = s->arena;
	s->attrs.arena_cap = OP_SPAN_ARENA;
	/* The name goes first in the arena, as op_span_start() puts it. */
	s->name = s->arena;
	strcpy(s->name, method);
	s->attrs.arena_used = (uint32_t)strlen(method) + 1;
	s->start_ns = now_ns - 5000000 - (int64_t)(next() % 50000000);
	s->end_ns = s->start_ns + 300000 + (int64_t)(next() % 20000000);

	snprintf(url, sizeof url, "%s://%s:%d/v2/orders/%ld/items?page=%ld&limit=50",
		 port == 443 ? "https" : "http", host, port, 100000 + i, i % 7);
	snprintf(peer, sizeof peer, "10.42.%ld.%ld", (i / 256) % 256, i % 256);
	op_attrs_set_str(&s->attrs, "http.request.method", method, strlen(method));
	op_attrs_set_str(&s->attrs, "url.full", url, strlen(url));
	op_attrs_set_str(&s->attrs, "url.scheme", port == 443 ? "https" : "http", port == 443 ? 5 : 4);
	op_attrs_set_str(&s->attrs, "server.address", host, strlen(host));
	op_attrs_set_int(&s->attrs, "server.port", port);
	op_attrs_set_str(&s->attrs, "network.peer.address", peer, strlen(peer));
	op_attrs_set_int(&s->attrs, "network.peer.port", port);
	op_attrs_set_str(&s->attrs, "network.protocol.name", "http", 4);
	op_attrs_set_str(&s->attrs, "network.protocol.version", "1.1", 3);
	op_attrs_set_str(&s->attrs, "user_agent.original", "python-urllib/3.11", 18);
	op_attrs_set_int(&s->attrs, "http.response.status_code", i % 50 ? 200 : 503);
	if (i % 50 == 0) {
		op_attrs_set_str(&s->attrs, "error.type", "503", 3);
		s->status = OP_STATUS_ERROR;
	}
	return s;
}

int main(int argc, char **argv)
{
	static struct op_config cfg;
	const struct op_exporter_api *api;
	op_exporter_entry_fn entry;
	struct op_span **pool;
	struct op_resource res;
	long batch = 512, batches = 0, failed = 0, i;
	double seconds, w0, c0, t0, w1, c1, t1;
	void *module, *ctx;
	int64_t now_ns;

	if (argc < 3 || argc > 4 || (seconds = atof(argv[2])) <= 0 ||
	    (argc == 4 && (batch = atol(argv[3])) <= 0)) {
		fprintf(stderr, "usage: %s MODULE SECONDS [BATCH]\n", argv[0]);
		return 1;
	}
	op_log_init();
	op_config_parse(&cfg, env);
	cfg.console_fd = -1;
	if (!(cfg.exporters & OP_EXPORTER_OTLP)) {
		fprintf(stderr, "export_driver: OTEL_TRACES_EXPORTER must include otlp\n");
		return 1;
	}
	module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!module) {
		fprintf(stderr, "export_driver: %s\n", dlerror());
		return 1;
	}
	entry = (op_exporter_entry_fn)dlsym(module, OP_EXPORTER_ENTRY);
	api = entry ? entry() : NULL;
	if (!api || api->abi != OP_EXPORTER_ABI) {
		fprintf(stderr, "export_driver: %s is not an exporter module of this tree\n", argv[1]);
		return 1;
	}
	ctx = api->create(&cfg, op_log_level, NULL);
	if (!ctx) {
		fprintf(stderr, "export_driver: the exporter module set up no exporter\n");
		return 2;
	}
	op_resource_build(&res, &cfg, "export_driver", NULL, (long)getpid());

	pool = malloc(sizeof *pool * (size_t)(batch * POOL_BATCHES));
	if (!pool)
		return 1;
	now_ns = (int64_t)(clock_s(CLOCK_REALTIME) * 1e9);
	for (i = 0; i < batch * POOL_BATCHES; i++)
		if (!(pool[i] = client_span(&cfg, i, now_ns)))
			return 1;

	for (i = 0; i < 3; i++) {
		int64_t deadline = (int64_t)(clock_s(CLOCK_MONOTONIC) * 1e9) + 10000000000;

		if (api->export_spans(ctx, pool + (i % POOL_BATCHES) * batch, (size_t)batch, &res,
				      deadline, 0) != OP_EXPORT_OK) {
			fprintf(stderr, "export_driver: the warm-up export failed\n");
			return 2;
		}
	}

	w0 = clock_s(CLOCK_MONOTONIC);
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	do {
		int64_t deadline = (int64_t)(clock_s(CLOCK_MONOTONIC) * 1e9) + 10000000000;

		if (api->export_spans(ctx, pool + (batches % POOL_BATCHES) * batch, (size_t)batch,
				      &res, deadline, 0) != OP_EXPORT_OK)
			failed++;
		batches++;
		w1 = clock_s(CLOCK_MONOTONIC);
	} while (w1 - w0 < seconds);
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	t1 = clock_s(CLOCK_THREAD_CPUTIME_ID);

	printf("batches=%ld spans=%ld failed=%ld wall_s=%.3f cpu_s=%.3f thread_cpu_s=%.3f "
	       "spans_per_s=%.0f cpu_us_per_span=%.3f\n",
	       batches, batches * batch, failed, w1 - w0, c1 - c0, t1 - t0,
	       (double)((batches - failed) * batch) / (w1 - w0),
	       (c1 - c0) * 1e6 / (double)(batches * batch));

	api->destroy(ctx);
	for (i = 0; i < batch * POOL_BATCHES; i++)
		op_span_free(pool[i]);
	free(pool);
	op_resource_free(&res);
	op_config_free(&cfg);
	return 0;
}
