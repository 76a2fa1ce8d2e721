/*
 * The OTLP protobuf encoder (exporter/otlp_encode.c, which writes the wire
 * format itself) against the protobuf-c encoder it replaced
 * (otlp_encode_ref.c): hand-made edge cases and pseudo-random batches of
 * every attribute type, empty, NULL, invalid and long strings, root and
 * child spans, with and without a resource, must come out byte for byte
 * the same, and protobuf-c must read the new bytes back. Out of memory at
 * each allocation in turn must fail cleanly and leave the scratch usable.
 * "unit_otlp_encode bench" prints what each encoder costs per span.
 */
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

#include "exporter/otlp_encode.h"
#include "preload/op.h"
#include "preload/resource.h"
#include "preload/span.h"

#include "cu.h"
#include "fixture_spans.h"
#include "otlp_encode_ref.h"

/* --- allocation failures ------------------------------------------------------
 * The test is linked with --wrap=malloc,--wrap=realloc: the code of this
 * program (the encoder, json.c) allocates through these, libraries do not.
 * fail_after >= 0 lets that many allocations succeed, then fails all.
 */
void *__real_malloc(size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_realloc(void *p, size_t size);

static long fail_after = -1;
static long allocations;

void *__wrap_malloc(size_t size)
{
	allocations++;
	if (fail_after >= 0 && allocations > fail_after)
		return NULL;
	return __real_malloc(size);
}

void *__wrap_realloc(void *p, size_t size)
{
	allocations++;
	if (fail_after >= 0 && allocations > fail_after)
		return NULL;
	return __real_realloc(p, size);
}

/* --- pseudo-random batches ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: small, and the same sequence everywhere for a seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

/* Pieces strings are made of: ASCII, valid UTF-8 and each kind of bad UTF-8. */
static const char *const pieces[] = {
	"a", "GET", "/api/v1/items?id=42", "0123456", "01234567", "012345678",
	"caf\xc3\xa9", "\xe2\x9c\x93", "\xf0\x9f\x98\x80", "\xef\xbf\xbd", "\xc2\x80",
	"\xf4\x8f\xbf\xbf",
	"\xff",             /* never valid */
	"\xc3",             /* truncated two-byte sequence */
	"\xe2\x9c",         /* truncated three-byte sequence */
	"\xf0\x9f\x98",     /* truncated four-byte sequence */
	"\x80",             /* lone continuation byte */
	"\xc0\xaf",         /* overlong '/' */
	"\xe0\x80\xaf",     /* overlong, three bytes */
	"\xf0\x80\x80\xaf", /* overlong, four bytes */
	"\xed\xa0\x80",     /* UTF-16 surrogate */
	"\xed\xbf\xbf",     /* UTF-16 surrogate */
	"\xf4\x90\x80\x80", /* above U+10FFFF */
	"\xf8\x88\x80\x80\x80",
};

static bool want_bad = true;

/* A malloc'd string: "" sometimes, up to 40 KiB (multi-byte length varints). */
static char *rnd_string(void)
{
	size_t len = 0, cap, n, i;
	char *s;

	switch (below(8)) {
	case 0:
		return strdup("");
	case 1:
		cap = 1 + below(300);
		break;
	default:
		cap = 1 + below(40);
		break;
	}
	if (below(400) == 0)
		cap = 16384 + below(24 * 1024);
	s = malloc(cap + 32); /* the last piece may go past `cap` */
	if (!s)
		exit(2);
	while (len < cap) {
		unsigned k = below(4) ? 0 : below(sizeof pieces / sizeof *pieces);
		const char *p;

		if (k >= 12 && !want_bad)
			k = 0;
		if (k == 0) {
			/* A run of printable ASCII, long enough to cross word boundaries. */
			n = 1 + below(20);
			for (i = 0; i < n && len < cap; i++)
				s[len++] = (char)(0x20 + below(95));
			continue;
		}
		p = pieces[k];
		n = strlen(p);
		memcpy(s + len, p, n);
		len += n;
	}
	s[len] = '\0';
	return s;
}

static char *rnd_string_or_null(unsigned null_one_in)
{
	return below(null_one_in) == 0 ? NULL : rnd_string();
}

static int64_t rnd_int(void)
{
	static const int64_t edge[] = { 0, 1, -1, 127, 128, -128, INT64_MIN, INT64_MAX,
					INT32_MIN, INT32_MAX, 300, -300 };

	if (below(2))
		return edge[below(sizeof edge / sizeof *edge)];
	return (int64_t)(rnd() >> below(64));
}

static double rnd_double(void)
{
	static const double edge[] = { 0.0, -0.0, 1.0, -2.5, DBL_MIN, DBL_MAX, DBL_EPSILON,
				       4.9e-324, 0.1 };
	uint64_t bits;
	double d;

	switch (below(6)) {
	case 0:
		return NAN;
	case 1:
		return below(2) ? INFINITY : -INFINITY;
	case 2:
		return edge[below(sizeof edge / sizeof *edge)];
	case 3:
		bits = rnd(); /* any bit pattern: signalling NaNs and payloads too */
		memcpy(&d, &bits, sizeof d);
		return d;
	default:
		return ((double)(int64_t)rnd()) / 1e6;
	}
}

static void rnd_attrs(struct op_attrs *a, unsigned max)
{
	unsigned i, n = below(max + 1);

	for (i = 0; i < n; i++) {
		enum op_attr_type type = (enum op_attr_type)below(4);
		char *key = rnd_string_or_null(20);
		struct op_attr *v = fixture_add(a, "", type);

		/* fixture_add() copied ""; the key may be NULL or bad UTF-8 here. */
		free(v->key);
		v->key = key;
		switch (type) {
		case OP_ATTR_STRING:
			v->v.s = rnd_string_or_null(10);
			break;
		case OP_ATTR_BOOL:
			v->v.b = below(2);
			break;
		case OP_ATTR_INT:
			v->v.i = rnd_int();
			break;
		case OP_ATTR_DOUBLE:
			v->v.d = rnd_double();
			break;
		}
	}
	switch (below(4)) {
	case 0:
		a->dropped = below(1000);
		break;
	case 1:
		a->dropped = (uint32_t)rnd();
		break;
	default:
		a->dropped = 0;
	}
}

static struct op_span *rnd_span(void)
{
	struct op_span *s = fixture_span("x", (enum op_span_kind)below(6), 0, 0, 0);
	unsigned i;

	free(s->name);
	s->name = rnd_string_or_null(20);
	for (i = 0; i < sizeof s->ctx.trace_id; i++)
		s->ctx.trace_id[i] = below(8) ? (uint8_t)rnd() : 0;
	for (i = 0; i < sizeof s->ctx.span_id; i++)
		s->ctx.span_id[i] = (uint8_t)rnd();
	s->ctx.flags = below(2) ? (uint8_t)rnd() : OP_TRACE_FLAG_SAMPLED;
	switch (below(4)) {
	case 0: /* a root span */
		break;
	case 1: /* a parent whose ID has one non-zero byte, the last */
		s->parent_span_id[7] = 1;
		break;
	default:
		for (i = 0; i < sizeof s->parent_span_id; i++)
			s->parent_span_id[i] = (uint8_t)rnd();
	}
	s->parent_remote = below(2);
	s->start_ns = below(10) ? (int64_t)(1700000000000000000ull + (rnd() >> 20)) :
				  (below(2) ? 0 : (int64_t)rnd());
	s->end_ns = below(10) ? s->start_ns + (int64_t)below(1000000000) :
				(below(2) ? 0 : (int64_t)rnd());
	s->status = (enum op_status)below(3);
	s->status_message = below(3) ? NULL : rnd_string();
	rnd_attrs(&s->attrs, below(8) ? 20 : 3);
	return s;
}

/* --- comparing --------------------------------------------------------------------- */

static struct op_otlp_scratch reused; /* one scratch across all batches, as an exporter keeps */

/* The request decoded by protobuf-c matches the batch's shape. */
static void check_unpack(const uint8_t *buf, size_t len, struct op_span *const *spans, size_t n,
			 const struct op_resource *res)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest *req;
	Opentelemetry__Proto__Trace__V1__ScopeSpans *ss;
	size_t i;

	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, len, buf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(req);
	CU_ASSERT_FATAL(req->n_resource_spans == 1 && req->resource_spans[0]->resource &&
			req->resource_spans[0]->n_scope_spans == 1);
	OP_ASSERT_INT(req->resource_spans[0]->resource->n_attributes, res ? res->attrs.n : 0);
	ss = req->resource_spans[0]->scope_spans[0];
	OP_ASSERT_STR(ss->scope->name, OP_SCOPE_NAME);
	OP_ASSERT_INT(ss->n_spans, n);
	for (i = 0; i < ss->n_spans && i < n; i++) {
		OP_ASSERT_INT(ss->spans[i]->n_attributes, spans[i]->attrs.n);
		CU_ASSERT(ss->spans[i]->span_id.len == 8 &&
			  memcmp(ss->spans[i]->span_id.data, spans[i]->ctx.span_id, 8) == 0);
		OP_ASSERT_INT(ss->spans[i]->start_time_unix_nano, (uint64_t)spans[i]->start_ns);
		OP_ASSERT_INT(ss->spans[i]->flags, op_span_otlp_flags(spans[i]));
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		req, NULL);
}

/* Both encoders, fresh and with the reused scratch: the same bytes. */
static void check_batch(struct op_span *const *spans, size_t n, const struct op_resource *res,
			const char *what)
{
	uint8_t *want = NULL, *got = NULL;
	const uint8_t *into = NULL;
	size_t want_len = 0, got_len = 0, into_len = 0, i;

	CU_ASSERT_FATAL(op_otlp_encode_ref(spans, n, res, &want, &want_len) == 0);
	CU_ASSERT_FATAL(op_otlp_encode(spans, n, res, &got, &got_len) == 0);
	CU_ASSERT_FATAL(op_otlp_encode_into(&reused, spans, n, res, &into, &into_len) == 0);
	if (got_len != want_len || memcmp(got, want, want_len) != 0) {
		size_t same_tail = 0;

		for (i = 0; i < got_len && i < want_len && got[i] == want[i]; i++)
			;
		while (same_tail < got_len && same_tail < want_len &&
		       got[got_len - 1 - same_tail] == want[want_len - 1 - same_tail])
			same_tail++;
		/* The encoder writes backwards: the end says more than the start. */
		fprintf(stderr, "\n%s (%zu spans, seed state %016" PRIx64 "): %zu bytes, "
			"expected %zu; first difference at offset %zu: 0x%02x, expected 0x%02x; "
			"the last %zu bytes are the same\n",
			what, n, rng_state, got_len, want_len, i, i < got_len ? got[i] : 0,
			i < want_len ? want[i] : 0, same_tail);
		CU_FAIL("op_otlp_encode() differs from the protobuf-c encoder");
	}
	CU_ASSERT(into_len == want_len && memcmp(into, want, want_len) == 0);
	check_unpack(got, got_len, spans, n, res);
	free(want);
	free(got);
}

static void free_batch(struct op_span **spans, size_t n, struct op_resource *res)
{
	size_t i;

	for (i = 0; i < n; i++)
		fixture_span_free(spans[i]);
	free(spans);
	if (res)
		attrs_free(&res->attrs);
}

static struct op_span **rnd_batch(size_t n)
{
	struct op_span **spans = calloc(n ? n : 1, sizeof *spans);
	size_t i;

	if (!spans)
		exit(2);
	for (i = 0; i < n; i++)
		spans[i] = rnd_span();
	return spans;
}

/* --- tests ---------------------------------------------------------------------- */

static void test_edge_cases(void)
{
	struct op_resource res;
	struct op_span *s[4];
	struct op_attr *v;

	memset(&res, 0, sizeof res);
	check_batch(NULL, 0, NULL, "no spans, no resource");
	check_batch(NULL, 0, &res, "no spans, empty resource");
	set_str(&res.attrs, "service.name", "svc");
	res.attrs.dropped = 3;
	check_batch(NULL, 0, &res, "no spans, a resource");

	/* A root span with nothing set but its IDs. */
	s[0] = fixture_span("", OP_SPAN_KIND_INTERNAL, 1, 2, 0);
	s[0]->kind = 0;
	check_batch(s, 1, NULL, "bare root span");

	/* NULL name, key, value and message; "" as a value and as a key. */
	s[1] = fixture_span("child", OP_SPAN_KIND_SERVER, 1, 9, 2);
	free(s[1]->name);
	s[1]->name = NULL;
	v = fixture_add(&s[1]->attrs, "k", OP_ATTR_STRING);
	v->v.s = NULL;
	set_str(&s[1]->attrs, "empty", "");
	set_str(&s[1]->attrs, "", "no key");
	v = fixture_add(&s[1]->attrs, "k", OP_ATTR_INT);
	free(v->key);
	v->key = NULL;
	v->v.i = -1;
	s[1]->status = OP_STATUS_ERROR;
	s[1]->status_message = strdup("");
	s[1]->parent_remote = true;
	check_batch(&s[1], 1, &res, "NULL and empty strings");

	/* Every scalar at its edges. */
	s[2] = fixture_span("scalars", OP_SPAN_KIND_CLIENT, 3, 4, 5);
	s[2]->start_ns = -1;
	s[2]->end_ns = INT64_MAX;
	set_int(&s[2]->attrs, "min", INT64_MIN);
	set_int(&s[2]->attrs, "zero", 0);
	set_bool(&s[2]->attrs, "false", false);
	set_double(&s[2]->attrs, "nan", NAN);
	set_double(&s[2]->attrs, "-inf", -INFINITY);
	set_double(&s[2]->attrs, "-0", -0.0);
	s[2]->attrs.dropped = UINT32_MAX;
	s[2]->status = OP_STATUS_OK;
	check_batch(&s[2], 1, &res, "scalar edges");

	/* Bad UTF-8 everywhere a string goes. */
	s[3] = fixture_span("bad \xff name \xc3", OP_SPAN_KIND_CONSUMER, 6, 7, 8);
	set_str(&s[3]->attrs, "k\xed\xa0\x80", "v\xe0\x80\xaf");
	set_str(&s[3]->attrs, "\xc0", "\x80");
	s[3]->status = OP_STATUS_ERROR;
	s[3]->status_message = strdup("\xf4\x90\x80\x80 failed");
	set_str(&res.attrs, "host\xfe", "\xe2\x9c");
	check_batch(s, 4, &res, "hand-made batch");

	for (int i = 0; i < 4; i++)
		fixture_span_free(s[i]);
	attrs_free(&res.attrs);
}

/* Batches of every size that matters, as random as the seed makes them. */
static void test_random_batches(void)
{
	static const size_t sizes[] = { 0, 1, 1, 1, 2, 3, 7, 16, 600 };
	unsigned round, failures = CU_get_number_of_failures();

	rng_state = 0x9e3779b97f4a7c15ull;
	for (round = 0; round < 400; round++) {
		size_t n = sizes[round % (sizeof sizes / sizeof *sizes)];
		struct op_span **spans;
		struct op_resource res;
		bool with_res = below(4) != 0;

		want_bad = below(3) != 0;
		memset(&res, 0, sizeof res);
		if (with_res)
			rnd_attrs(&res.attrs, 12);
		spans = rnd_batch(n);
		check_batch(spans, n, with_res ? &res : NULL, "random batch");
		free_batch(spans, n, with_res ? &res : NULL);
		if (CU_get_number_of_failures() != failures)
			break; /* the first difference says enough */
	}
}

/*
 * A string long enough for a three-byte length, in a span that forces the
 * buffer to grow several times while the request is half written.
 */
static void test_long_strings(void)
{
	size_t sizes[] = { 127, 128, 16383, 16384, 2097151, 2097152, 3000000 };
	struct op_span *s = fixture_span("long", OP_SPAN_KIND_SERVER, 1, 2, 3);
	unsigned i;

	for (i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		char *v = malloc(sizes[i] + 1);

		CU_ASSERT_FATAL(v != NULL);
		memset(v, 'x', sizes[i]);
		v[sizes[i]] = '\0';
		if (i % 2)
			v[sizes[i] / 2] = '\xff';
		set_str(&s->attrs, "long", v);
		free(v);
	}
	op_otlp_scratch_free(&reused);
	check_batch(&s, 1, NULL, "long strings");
	fixture_span_free(s);
}

/* Each allocation failing in turn: -1, nothing half done, the scratch still good. */
static void test_out_of_memory(void)
{
	struct op_span **spans;
	struct op_resource res;
	struct op_otlp_scratch sc = { 0 };
	const uint8_t *out;
	uint8_t *copy;
	size_t len, n = 50;
	long k, total;
	int rc;

	rng_state = 42;
	want_bad = true;
	memset(&res, 0, sizeof res);
	rnd_attrs(&res.attrs, 12);
	spans = rnd_batch(n);

	/* How many allocations a first encoding makes. */
	allocations = 0;
	CU_ASSERT_FATAL(op_otlp_encode(spans, n, &res, &copy, &len) == 0);
	total = allocations;
	free(copy);
	CU_ASSERT(total > 2);

	for (k = 0; k < total; k++) {
		allocations = 0;
		fail_after = k;
		rc = op_otlp_encode(spans, n, &res, &copy, &len);
		fail_after = -1;
		OP_ASSERT_INT(rc, -1);
		if (rc == 0)
			free(copy);

		allocations = 0;
		fail_after = k;
		rc = op_otlp_encode_into(&sc, spans, n, &res, &out, &len);
		fail_after = -1;
		if (rc == 0)
			continue; /* the scratch kept enough from the last attempt */
		OP_ASSERT_INT(rc, -1);
	}
	CU_ASSERT(op_otlp_encode_into(&sc, spans, n, &res, &out, &len) == 0);
	op_otlp_scratch_free(&sc);
	check_batch(spans, n, &res, "after failures");
	free_batch(spans, n, &res);
}

/* --- unit_otlp_encode bench: encoding alone, ns per span ----------------------- */

/* A client span as bench/export_driver.c makes it (the HTTP engine's). */
static struct op_span *client_span(long i)
{
	static const char *const methods[] = { "GET", "GET", "GET", "POST" };
	static const char *const hosts[] = { "api.internal.example.com", "payments.svc.cluster.local",
					     "10.42.7.19", "inventory" };
	const char *method = methods[i % 4], *host = hosts[(i / 4) % 4];
	struct op_span *s = fixture_span(method, OP_SPAN_KIND_CLIENT, (uint8_t)rnd(),
					 (uint8_t)rnd(), i % 4 ? 0 : (uint8_t)(1 + below(255)));
	char url[256], peer[32];
	int port = i % 3 ? 8080 : 443;

	s->start_ns = 1700000000000000000 + (int64_t)(rnd() >> 8);
	s->end_ns = s->start_ns + 300000 + (int64_t)below(20000000);
	snprintf(url, sizeof url, "%s://%s:%d/v2/orders/%ld/items?page=%ld&limit=50",
		 port == 443 ? "https" : "http", host, port, 100000 + i, i % 7);
	snprintf(peer, sizeof peer, "10.42.%ld.%ld", (i / 256) % 256, i % 256);
	set_str(&s->attrs, "http.request.method", method);
	set_str(&s->attrs, "url.full", url);
	set_str(&s->attrs, "url.scheme", port == 443 ? "https" : "http");
	set_str(&s->attrs, "server.address", host);
	set_int(&s->attrs, "server.port", port);
	set_str(&s->attrs, "network.peer.address", peer);
	set_int(&s->attrs, "network.peer.port", port);
	set_str(&s->attrs, "network.protocol.name", "http");
	set_str(&s->attrs, "network.protocol.version", "1.1");
	set_str(&s->attrs, "user_agent.original", "python-urllib/3.11");
	set_int(&s->attrs, "http.response.status_code", i % 50 ? 200 : 503);
	if (i % 50 == 0) {
		set_str(&s->attrs, "error.type", "503");
		s->status = OP_STATUS_ERROR;
	}
	return s;
}

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define BENCH_POOL 8
#define BENCH_ROUNDS 5

/*
 * Thread CPU time per span of each encoder over batches of `batch` spans
 * (eight batches of distinct spans in turn), for about `seconds` per
 * encoder and round, alternating; prints the medians.
 */
static int bench(double seconds, long batch)
{
	struct op_span **pool[BENCH_POOL];
	struct op_resource res;
	double t[2][BENCH_ROUNDS], bytes = 0;
	const uint8_t *out;
	size_t len;
	long b, i, done;
	int r, which;

	rng_state = 1;
	memset(&res, 0, sizeof res);
	set_str(&res.attrs, "service.name", "bench");
	set_str(&res.attrs, "telemetry.sdk.name", "otelpreload");
	set_str(&res.attrs, "telemetry.sdk.language", "cpp");
	set_str(&res.attrs, "telemetry.sdk.version", OP_VERSION);
	set_int(&res.attrs, "process.pid", 4242);
	set_str(&res.attrs, "process.executable.name", "nginx");
	set_str(&res.attrs, "host.name", "bench-host");
	for (b = 0; b < BENCH_POOL; b++) {
		pool[b] = calloc((size_t)batch, sizeof *pool[b]);
		if (!pool[b])
			return 2;
		for (i = 0; i < batch; i++)
			pool[b][i] = client_span(b * batch + i);
	}
	for (r = 0; r < BENCH_ROUNDS; r++) {
		for (which = 0; which < 2; which++) {
			double t0 = cpu_ns(), t1;

			done = 0;
			do {
				int rc = which ? op_otlp_encode_into(&reused, pool[done % BENCH_POOL],
								     (size_t)batch, &res, &out, &len) :
						 op_otlp_encode_ref_into(pool[done % BENCH_POOL],
									 (size_t)batch, &res, &out, &len);

				if (rc)
					return 1;
				done++;
				t1 = cpu_ns();
			} while (t1 - t0 < seconds * 1e9);
			t[which][r] = (t1 - t0) / (double)(done * batch);
			bytes = (double)len / (double)batch;
		}
	}
	qsort(t[0], BENCH_ROUNDS, sizeof t[0][0], cmp_double);
	qsort(t[1], BENCH_ROUNDS, sizeof t[1][0], cmp_double);
	printf("otlp_encode: batches of %ld HTTP client spans (11 attributes), %.0f bytes/span, "
	       "thread CPU, median of %d\n", batch, bytes, BENCH_ROUNDS);
	printf("  protobuf-c (old)  %8.1f ns/span\n", t[0][BENCH_ROUNDS / 2]);
	printf("  direct (new)      %8.1f ns/span\n", t[1][BENCH_ROUNDS / 2]);
	printf("  old / new         %8.2f\n", t[0][BENCH_ROUNDS / 2] / t[1][BENCH_ROUNDS / 2]);
	for (b = 0; b < BENCH_POOL; b++)
		free_batch(pool[b], (size_t)batch, NULL);
	attrs_free(&res.attrs);
	return 0;
}

/*
 * unit_otlp_encode           the tests
 * unit_otlp_encode bench [SECONDS [BATCH]]
 *                            figures: both encoders' CPU time per span
 */
int main(int argc, char **argv)
{
	CU_TestInfo tests[] = {
		{ "edge cases", test_edge_cases },
		{ "random batches", test_random_batches },
		{ "long strings", test_long_strings },
		{ "out of memory", test_out_of_memory },
		CU_TEST_INFO_NULL,
	};
	int rc;

	if (argc > 1 && strcmp(argv[1], "bench") == 0)
		rc = bench(argc > 2 ? atof(argv[2]) : 0.5, argc > 3 ? atol(argv[3]) : 512);
	else
		rc = op_cu_run("otlp_encode", tests);
	op_otlp_scratch_free(&reused);
	op_otlp_encode_ref_free();
	return rc;
}
