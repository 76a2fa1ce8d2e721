/*
 * encode_fixture DIR
 *
 * Encodes a known set of spans, then 1000 generated ones, with each of the
 * project's OTLP encoders: the protobuf encoder into DIR/fixed.bin and
 * DIR/many.bin, the file exporter (OTLP/JSON) into DIR/requests.jsonl, two
 * lines, and the console exporter into DIR/console.jsonl, one line per
 * fixed span. tests/integration/encode_decode.mjs decodes them all with
 * the official OpenTelemetry JS decoder (generated from the OTLP protos),
 * checks every field and holds the encodings to each other: the encoders
 * are judged by code we did not write.
 */
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exporter/console.h"
#include "exporter/file.h"
#include "exporter/otlp_encode.h"
#include "preload/resource.h"
#include "preload/span.h"

#include "fixture_spans.h"

#define mk fixture_span

static int write_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "encode_fixture: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

static int encode_to(const char *dir, const char *name, struct op_span *const *spans,
		     size_t n, const struct op_resource *res)
{
	char path[4096];
	uint8_t *out = NULL;
	size_t len = 0;
	int rc;

	if (op_otlp_encode(spans, n, res, &out, &len) != 0 || !out || len == 0) {
		fprintf(stderr, "encode_fixture: op_otlp_encode failed for %zu spans\n", n);
		return -1;
	}
	snprintf(path, sizeof path, "%s/%s", dir, name);
	rc = write_file(path, out, len);
	free(out);
	return rc;
}

/* The same batch through the file exporter (one OTLP/JSON line) and the console's. */
static int json_to(const char *dir, struct op_span *const *spans, size_t n,
		   const struct op_resource *res, bool console)
{
	char path[4096];
	struct op_file *f;
	struct op_console *c;
	int fd, rc;

	snprintf(path, sizeof path, "%s/requests.jsonl", dir);
	f = op_file_create(path);
	if (!f)
		return -1;
	rc = op_file_export(f, spans, n, res);
	op_file_destroy(f);
	if (rc || !console) {
		if (rc)
			fprintf(stderr, "encode_fixture: op_file_export failed for %zu spans\n", n);
		return rc;
	}
	snprintf(path, sizeof path, "%s/console.jsonl", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	c = fd >= 0 ? op_console_create(fd) : NULL;
	rc = c ? op_console_export(c, spans, n, res) : -1;
	op_console_destroy(c);
	if ((fd >= 0 && close(fd)) || rc) {
		fprintf(stderr, "encode_fixture: cannot write %s\n", path);
		return -1;
	}
	return 0;
}

#define N_FIXED 5

int main(int argc, char **argv)
{
	static const char utf8[] = "caf\xc3\xa9 \xe2\x9c\x93";
	struct op_resource res;
	struct op_span *fixed[N_FIXED], **many;
	size_t i;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: encode_fixture DIR\n");
		return 64;
	}

	memset(&res, 0, sizeof res);
	set_str(&res.attrs, "service.name", "encode-test");
	set_int(&res.attrs, "process.pid", 12345);
	set_str(&res.attrs, "host.name", "fixture-host");
	set_bool(&res.attrs, "res.bool", true);
	set_double(&res.attrs, "res.double", 0.5);
	res.attrs.dropped = 2;

	/* A client span with a parent, every attribute type, drops, an error. */
	fixed[0] = mk("GET /checkout", OP_SPAN_KIND_CLIENT, 0x01, 0xa1, 0xb1);
	fixed[0]->start_ns = 1700000000123456789;
	fixed[0]->end_ns = 1700000000987654321;
	set_str(&fixed[0]->attrs, "http.request.method", "GET");
	set_int(&fixed[0]->attrs, "http.response.status_code", 503);
	set_int(&fixed[0]->attrs, "int.max", INT64_MAX);
	set_int(&fixed[0]->attrs, "int.min", INT64_MIN);
	set_int(&fixed[0]->attrs, "int.negative", -7);
	set_bool(&fixed[0]->attrs, "bool.true", true);
	set_double(&fixed[0]->attrs, "double.value", 3.25);
	set_double(&fixed[0]->attrs, "double.negative", -1e-300);
	set_str(&fixed[0]->attrs, "string.utf8", utf8);
	fixed[0]->attrs.dropped = 7;
	fixed[0]->status = OP_STATUS_ERROR;
	fixed[0]->status_message = strdup("upstream failed");

	/* Its child, a server span under a remote parent: zero values must still be present. */
	fixed[1] = mk("server", OP_SPAN_KIND_SERVER, 0x01, 0xc1, 0xa1);
	fixed[1]->parent_remote = true;
	fixed[1]->start_ns = 1700000001000000000;
	fixed[1]->end_ns = 1700000001000000001;
	set_bool(&fixed[1]->attrs, "bool.false", false);
	set_int(&fixed[1]->attrs, "int.zero", 0);
	set_double(&fixed[1]->attrs, "double.zero", 0.0);
	set_str(&fixed[1]->attrs, "string.empty", "");
	fixed[1]->status = OP_STATUS_OK;

	/* A root span without attributes or status. */
	fixed[2] = mk("root", OP_SPAN_KIND_INTERNAL, 0x21, 0xd1, 0);
	fixed[2]->start_ns = 1;
	fixed[2]->end_ns = 2;

	/* Producer/consumer kinds, an error status without a message. */
	fixed[3] = mk("consume", OP_SPAN_KIND_CONSUMER, 0x31, 0xe1, 0);
	fixed[3]->start_ns = 1700000002000000000;
	fixed[3]->end_ns = 1700000003000000000;
	fixed[3]->status = OP_STATUS_ERROR;

	/*
	 * What text encodings get wrong: invalid UTF-8 (a stray byte, a
	 * truncated sequence, an overlong form, a surrogate) in the name, a
	 * key, a value and the status message; characters JSON must escape;
	 * doubles JSON has no numbers for; integers a double cannot hold; an
	 * unsampled context (only the W3C flags byte differs).
	 */
	fixed[4] = mk("edge \xff name \xe2\x82", OP_SPAN_KIND_CLIENT, 0x41, 0xf1, 0x51);
	fixed[4]->ctx.flags = 0;
	fixed[4]->parent_remote = true;
	fixed[4]->start_ns = INT64_MAX;
	fixed[4]->end_ns = INT64_MAX;
	set_str(&fixed[4]->attrs, "key.\xed\xa0\x80.surrogate", "value \xc0\xaf overlong");
	set_str(&fixed[4]->attrs, "json.escapes", "quote\" backslash\\ nl\n tab\t cr\r \x01\x1f\x7f /");
	set_str(&fixed[4]->attrs, "unicode", "\xe2\x80\xa8 \xe2\x80\xa9 \xf0\x9f\x98\x80 \xef\xbf\xbf \xe4\xb8\xad");
	set_double(&fixed[4]->attrs, "double.nan", NAN);
	set_double(&fixed[4]->attrs, "double.inf", INFINITY);
	set_double(&fixed[4]->attrs, "double.neginf", -INFINITY);
	set_double(&fixed[4]->attrs, "double.negzero", -0.0);
	set_double(&fixed[4]->attrs, "double.max", DBL_MAX);
	set_double(&fixed[4]->attrs, "double.subnormal", 4.9406564584124654e-324);
	set_double(&fixed[4]->attrs, "double.tenth", 0.1);
	set_double(&fixed[4]->attrs, "double.big", 1e21);
	set_double(&fixed[4]->attrs, "double.third", 1.0 / 3.0);
	set_int(&fixed[4]->attrs, "int.2^53+1", 9007199254740993);
	set_int(&fixed[4]->attrs, "int.-2^53-1", -9007199254740993);
	fixed[4]->attrs.dropped = 1;
	fixed[4]->status = OP_STATUS_ERROR;
	fixed[4]->status_message = strdup("bad \xff \"status\"\n");

	rc = encode_to(argv[1], "fixed.bin", fixed, N_FIXED, &res);
	if (rc == 0)
		rc = json_to(argv[1], fixed, N_FIXED, &res, true);

	many = calloc(1000, sizeof *many);
	if (!many)
		return 2;
	for (i = 0; i < 1000; i++) {
		char name[32];

		snprintf(name, sizeof name, "span-%zu", i);
		many[i] = mk(name, OP_SPAN_KIND_PRODUCER, (uint8_t)(i + 1), (uint8_t)i, 0);
		/* Distinct span IDs: the index in the last two bytes. */
		many[i]->ctx.span_id[6] = (uint8_t)(i >> 8);
		many[i]->ctx.span_id[7] = (uint8_t)i;
		many[i]->ctx.span_id[0] = 0x80;
		many[i]->start_ns = 1700000000000000000 + (int64_t)i;
		many[i]->end_ns = many[i]->start_ns + 1000;
		set_int(&many[i]->attrs, "index", (int64_t)i);
	}
	if (rc == 0)
		rc = encode_to(argv[1], "many.bin", many, 1000, &res);
	if (rc == 0)
		rc = json_to(argv[1], many, 1000, &res, false);

	for (i = 0; i < 1000; i++)
		fixture_span_free(many[i]);
	free(many);
	for (i = 0; i < N_FIXED; i++)
		fixture_span_free(fixed[i]);
	attrs_free(&res.attrs);
	return rc ? 1 : 0;
}
