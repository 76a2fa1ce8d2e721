/*
 * zipkin_fixture OUT_FIXED OUT_DEFAULT_NAME OUT_EMPTY OUT_MANY
 *
 * Encodes known spans with the Zipkin encoder: the edge cases real programs
 * rarely produce (every attribute type, invalid UTF-8, keys the encoder
 * owns, each span kind, every remote endpoint rule, sub-microsecond and
 * backwards durations) to OUT_FIXED; a span under a resource without
 * service.name to OUT_DEFAULT_NAME; an empty batch to OUT_EMPTY; 1000 spans
 * to OUT_MANY. tests/integration/zipkin.sh checks each file with the strict
 * Zipkin v2 validator of tests/support/zipkin_v2.mjs and then field by
 * field.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/zipkin.h"

#include "fixture_spans.h"

/* With start and end times. */
static struct op_span *mk(const char *name, enum op_span_kind kind, uint8_t trace_first,
			  uint8_t span_first, uint8_t parent_first, int64_t start_ns, int64_t end_ns)
{
	struct op_span *s = fixture_span(name, kind, trace_first, span_first, parent_first);

	s->start_ns = start_ns;
	s->end_ns = end_ns;
	return s;
}

static int encode_to(const char *path, struct op_span *const *spans, size_t n,
		     const struct op_resource *res)
{
	struct op_buf b = OP_BUF_INIT;
	FILE *f;
	int rc = 0;

	op_zipkin_encode(&b, spans, n, res);
	if (b.err || !b.p) {
		fprintf(stderr, "zipkin_fixture: op_zipkin_encode failed for %zu spans\n", n);
		op_buf_free(&b);
		return -1;
	}
	f = fopen(path, "wb");
	if (!f || fwrite(b.p, 1, b.len, f) != b.len || fclose(f) != 0) {
		fprintf(stderr, "zipkin_fixture: cannot write %s\n", path);
		rc = -1;
	}
	op_buf_free(&b);
	return rc;
}

int main(int argc, char **argv)
{
	struct op_resource res, bare;
	struct op_span *fixed[7], **many;
	size_t i;
	int rc;

	if (argc != 5) {
		fprintf(stderr, "usage: zipkin_fixture OUT_FIXED OUT_DEFAULT_NAME OUT_EMPTY OUT_MANY\n");
		return 64;
	}

	memset(&res, 0, sizeof res);
	set_str(&res.attrs, "service.name", "zipkin-fixture");
	set_str(&res.attrs, "service.namespace", "shop");
	set_int(&res.attrs, "process.pid", 4242);
	set_bool(&res.attrs, "res.bool", true);
	set_double(&res.attrs, "res.double", 0.5);
	/* The span's own attribute of the same name wins. */
	set_str(&res.attrs, "http.request.method", "FROM-RESOURCE");
	/* Keys the encoder owns: never taken from the resource. */
	set_str(&res.attrs, "otel.scope.name", "resource-spoof");
	set_str(&res.attrs, "error", "resource-spoof");

	/* A CLIENT span with a parent, every attribute type, drops, an error. */
	fixed[0] = mk("GET", OP_SPAN_KIND_CLIENT, 0x01, 0xa1, 0xb1,
		      1700000000123456789, 1700000000987654321);
	set_str(&fixed[0]->attrs, "http.request.method", "GET");
	set_int(&fixed[0]->attrs, "http.response.status_code", 503);
	set_int(&fixed[0]->attrs, "int.max", INT64_MAX);
	set_int(&fixed[0]->attrs, "int.min", INT64_MIN);
	set_bool(&fixed[0]->attrs, "bool.true", true);
	set_bool(&fixed[0]->attrs, "bool.false", false);
	set_double(&fixed[0]->attrs, "double.value", 3.25);
	set_double(&fixed[0]->attrs, "double.tiny", -1e-300);
	set_double(&fixed[0]->attrs, "double.third", 1.0 / 3);
	set_double(&fixed[0]->attrs, "double.nan", NAN);
	set_double(&fixed[0]->attrs, "double.inf", INFINITY);
	set_double(&fixed[0]->attrs, "double.ninf", -INFINITY);
	set_str(&fixed[0]->attrs, "string.utf8", "caf\xc3\xa9 \xe2\x9c\x93");
	set_str(&fixed[0]->attrs, "string.bad", "a\xc3(");
	set_str(&fixed[0]->attrs, "string.escapes", "tab\there \"q\" back\\slash \x01");
	/* Left out: a key that is not UTF-8 could repair into another tag's key. */
	set_str(&fixed[0]->attrs, "key.bad\xff", "v");
	set_str(&fixed[0]->attrs, "server.address", "api.example");
	set_int(&fixed[0]->attrs, "server.port", 8443);
	set_str(&fixed[0]->attrs, "network.peer.address", "::ffff:10.1.2.3");
	set_int(&fixed[0]->attrs, "network.peer.port", 8443);
	set_str(&fixed[0]->attrs, "otel.scope.name", "span-spoof");
	set_bool(&fixed[0]->attrs, "error", false);
	fixed[0]->attrs.dropped = 7;
	fixed[0]->status = OP_STATUS_ERROR;
	fixed[0]->status_message = strdup("upstream failed");

	/* Its SERVER child: 1 ns long, the peer is the client, server.address is ours. */
	fixed[1] = mk("GET /x", OP_SPAN_KIND_SERVER, 0x01, 0xc1, 0xa1,
		      1700000001000000000, 1700000001000000001);
	set_str(&fixed[1]->attrs, "server.address", "srv.example");
	set_str(&fixed[1]->attrs, "network.peer.address", "2001:DB8:0::0:1");
	set_int(&fixed[1]->attrs, "network.peer.port", 0);
	set_str(&fixed[1]->attrs, "client.address", "192.0.2.99");
	set_str(&fixed[1]->attrs, "error", "false");
	set_str(&fixed[1]->attrs, "otel.status_code", "spoof");
	fixed[1]->status = OP_STATUS_OK;

	/* INTERNAL root without a name, ending before it started (the clock was set back). */
	fixed[2] = mk("", OP_SPAN_KIND_INTERNAL, 0x21, 0xd1, 0, 1700000002000000000,
		      1700000001999995000);
	set_bool(&fixed[2]->attrs, "error", true);
	set_str(&fixed[2]->attrs, "otel.status_code", "spoof");
	set_str(&fixed[2]->attrs, "network.peer.address", "10.0.0.1");

	/* PRODUCER: peer.service outranks server.address; a socket path is no IP. */
	fixed[3] = mk("publish", OP_SPAN_KIND_PRODUCER, 0x31, 0xe1, 0, 1700000003000000000,
		      1700000003000001234);
	set_str(&fixed[3]->attrs, "server.address", "mq.example");
	set_str(&fixed[3]->attrs, "peer.service", "billing");
	set_str(&fixed[3]->attrs, "network.peer.address", "/run/mq.sock");
	set_int(&fixed[3]->attrs, "network.peer.port", 5672);
	fixed[3]->status = OP_STATUS_ERROR;

	/* CONSUMER with only the legacy socket attributes, the port a string. */
	fixed[4] = mk("receive", OP_SPAN_KIND_CONSUMER, 0x41, 0xf1, 0, 1700000004000000000,
		      1700000004500000000);
	set_str(&fixed[4]->attrs, "net.sock.peer.addr", "192.0.2.7");
	set_str(&fixed[4]->attrs, "net.sock.peer.port", "5672");
	set_int(&fixed[4]->attrs, "otel.dropped_attributes_count", 99);

	/* CLIENT: a zoned link-local peer, a port out of range, a name that is not UTF-8. */
	fixed[5] = mk("caf\xe9", OP_SPAN_KIND_CLIENT, 0x51, 0x11, 0x22, 1700000005000000000,
		      1700000005000999999);
	set_str(&fixed[5]->attrs, "network.peer.address", "fe80::1%eth0");
	set_int(&fixed[5]->attrs, "network.peer.port", 70000);

	/* SERVER that knows no peer: no remoteEndpoint at all. */
	fixed[6] = mk("GET", OP_SPAN_KIND_SERVER, 0x61, 0x71, 0, 1700000006000000000,
		      1700000006000002000);
	set_str(&fixed[6]->attrs, "url.path", "/");

	rc = encode_to(argv[1], fixed, 7, &res);

	/* No service.name: the default resource's, from the executable name. */
	memset(&bare, 0, sizeof bare);
	set_str(&bare.attrs, "process.executable.name", "fixture-exe");
	if (rc == 0)
		rc = encode_to(argv[2], &fixed[2], 1, &bare);
	if (rc == 0)
		rc = encode_to(argv[3], fixed, 0, &res);

	many = calloc(1000, sizeof *many);
	if (!many)
		return 2;
	for (i = 0; i < 1000; i++) {
		char name[32];

		snprintf(name, sizeof name, "span-%zu", i);
		many[i] = mk(name, OP_SPAN_KIND_CLIENT, (uint8_t)(i + 1), 0x80, 0,
			     1700000000000000000 + (int64_t)i * 1000, 1700000000000000000 + (int64_t)i * 2000);
		many[i]->ctx.span_id[6] = (uint8_t)(i >> 8);
		many[i]->ctx.span_id[7] = (uint8_t)i;
		set_int(&many[i]->attrs, "index", (int64_t)i);
	}
	if (rc == 0)
		rc = encode_to(argv[4], many, 1000, &res);

	for (i = 0; i < 1000; i++)
		fixture_span_free(many[i]);
	free(many);
	for (i = 0; i < 7; i++)
		fixture_span_free(fixed[i]);
	attrs_free(&res.attrs);
	attrs_free(&bare.attrs);
	return rc ? 1 : 0;
}
