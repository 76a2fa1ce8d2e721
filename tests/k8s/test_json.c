/*
 * The webhook's JSON tree (init-container/webhook/json.c): RFC 8259
 * parsing and its limits, member order, string escaping both ways, the
 * compact and indented writers, JSON Pointer tokens and base64, and a
 * deterministic mutation fuzz loop (whatever parses writes back out as
 * text that parses to the same thing).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#include "cu.h"

static struct op_json *parse(const char *s)
{
	return op_json_parse(s, strlen(s), NULL, NULL);
}

/* `s` parsed and written compactly, in a static buffer ("(error)" when it does not parse). */
static const char *roundtrip(const char *s, size_t len, int indent)
{
	static char out[4096];
	struct op_buf b = OP_BUF_INIT;
	struct op_json *v = op_json_parse(s, len, NULL, NULL);

	if (!v)
		return "(error)";
	op_json_write(&b, v, indent);
	snprintf(out, sizeof out, "%s", b.err ? "(write error)" : b.p);
	op_buf_free(&b);
	op_json_free(v);
	return out;
}

#define RT(s) roundtrip((s), strlen(s), 0)

static void test_values(void)
{
	OP_ASSERT_STR(RT("{\"a\":[1,-2.5e3,0,1E+2,true,false,null,\"x\"],\"b\":{},\"c\":[]}"),
		      "{\"a\":[1,-2.5e3,0,1E+2,true,false,null,\"x\"],\"b\":{},\"c\":[]}");
	OP_ASSERT_STR(RT(" \t\r\n 42 \n"), "42");
	OP_ASSERT_STR(RT("\"\""), "\"\"");
	/* Members keep their order; numbers keep their text. */
	OP_ASSERT_STR(RT("{ \"z\" : 1 , \"a\" : 2.50 }"), "{\"z\":1,\"a\":2.50}");
	OP_ASSERT_STR(RT("123456789012345678901234567890"), "123456789012345678901234567890");
}

static void test_lookup(void)
{
	struct op_json *v = parse("{\"a\":1,\"b\":\"two\",\"a\":3}");

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	/* A repeated key: the last one counts, as in Go. */
	OP_ASSERT_STR(op_json_get(v, "a")->s, "3");
	OP_ASSERT_STR(op_json_get_str(v, "b"), "two");
	CU_ASSERT_PTR_NULL(op_json_get_str(v, "a"));
	CU_ASSERT_PTR_NULL(op_json_get(v, "c"));
	CU_ASSERT_PTR_NULL(op_json_get(op_json_get(v, "b"), "x"));
	CU_ASSERT_PTR_NULL(op_json_get(NULL, "x"));
	OP_ASSERT_INT(op_json_find(v, "a"), 2);
	op_json_free(v);
}

static void test_strings(void)
{
	struct op_json *v = parse("\"q\\\"b\\\\s\\/b\\bf\\fn\\nr\\rt\\tA\\u0041\\u00e9\\u20ac"
				  "\\ud83d\\ude00z\"");

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	OP_ASSERT_STR(v->s, "q\"b\\s/b\bf\fn\nr\rt\tAA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z");
	op_json_free(v);

	/* Control characters come back escaped, everything else as UTF-8. */
	OP_ASSERT_STR(RT("\"a\\nb\\u0001\\\"\\\\\\/\\u00e9\""), "\"a\\u000ab\\u0001\\\"\\\\/\xc3\xa9\"");

	/* An escaped NUL is kept, with the length. */
	v = parse("\"a\\u0000b\"");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	OP_ASSERT_INT(v->len, 3);
	CU_ASSERT(v->s[1] == '\0' && v->s[2] == 'b');
	op_json_free(v);
	OP_ASSERT_STR(RT("{\"k\\u0000\":\"a\\u0000b\"}"), "{\"k\\u0000\":\"a\\u0000b\"}");

	/* Lone surrogates become U+FFFD, as Go's decoder makes them. */
	OP_ASSERT_STR(RT("\"\\ud800x\""), "\"\xef\xbf\xbdx\"");
	OP_ASSERT_STR(RT("\"\\udc00\""), "\"\xef\xbf\xbd\"");
	OP_ASSERT_STR(RT("\"\\ud800\\u0041\""), "\"\xef\xbf\xbd" "A\"");
	/* Raw UTF-8 passes through. */
	OP_ASSERT_STR(RT("\"\xf0\x9f\x98\x80\""), "\"\xf0\x9f\x98\x80\"");
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"", " ", "{", "}", "[", "]", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}",
		"{\"a\":1,}", "{,}", "[1 2]", "{\"a\":1 \"b\":2}", "01", "1.", ".5", "-", "+1",
		"1e", "1e+", "--1", "0x10", "tru", "nul", "fals", "True", "NaN", "Infinity",
		"\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"a\nb\"", "\"a\tb\"", "\"\\",
		"1 2", "{} {}", "\"\xc3\x28\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf5\x80\x80\x80\"",
		"\"\xe2\x82\"", "'a'", "[1]x", "\xef\xbb\xbf{}", "{\"a\":[}", "nulll",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct op_json_error e = { 0, NULL };
		struct op_json *v = op_json_parse(bad[i], strlen(bad[i]), NULL, &e);

		if (v)
			fprintf(stderr, "\nparsed malformed input #%zu \"%s\"\n", i, bad[i]);
		CU_ASSERT_PTR_NULL(v);
		op_json_free(v);
		CU_ASSERT_PTR_NOT_NULL(e.msg);
		CU_ASSERT(e.offset <= strlen(bad[i]));
	}
	{
		struct op_json_error e;

		CU_ASSERT_PTR_NULL(op_json_parse("{\"a\" 1}", 7, NULL, &e));
		OP_ASSERT_STR(e.msg, "expected ':' after an object key");
		OP_ASSERT_INT(e.offset, 5);
		CU_ASSERT_PTR_NULL(op_json_parse("[1,2] x", 7, NULL, &e));
		OP_ASSERT_STR(e.msg, "text after the value");
		OP_ASSERT_INT(e.offset, 6);
		CU_ASSERT_PTR_NULL(op_json_parse("\"\xc3\x28\"", 4, NULL, &e));
		OP_ASSERT_STR(e.msg, "invalid utf-8 in a string");
	}
}

static char *repeat(const char *a, size_t n, const char *mid, const char *b)
{
	size_t la = strlen(a), lm = strlen(mid), lb = strlen(b);
	char *s = malloc(n * (la + lb) + lm + 1), *p = s;

	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++, p += la)
		memcpy(p, a, la);
	memcpy(p, mid, lm);
	p += lm;
	for (size_t i = 0; i < n; i++, p += lb)
		memcpy(p, b, lb);
	*p = '\0';
	return s;
}

static void test_depth(void)
{
	struct op_json_error e;
	struct op_json *v;
	char *s;

	/* OP_JSON_MAX_DEPTH levels parse, one more does not. */
	s = repeat("[", OP_JSON_MAX_DEPTH - 1, "0", "]");
	v = parse(s);
	CU_ASSERT_PTR_NOT_NULL(v);
	op_json_free(v);
	free(s);
	s = repeat("[", OP_JSON_MAX_DEPTH, "0", "]");
	CU_ASSERT_PTR_NULL(op_json_parse(s, strlen(s), NULL, &e));
	OP_ASSERT_STR(e.msg, "nesting too deep");
	free(s);
	s = repeat("{\"a\":", OP_JSON_MAX_DEPTH, "0", "}");
	CU_ASSERT_PTR_NULL(op_json_parse(s, strlen(s), NULL, &e));
	OP_ASSERT_STR(e.msg, "nesting too deep");
	free(s);
	/* A million unclosed brackets: refused at the limit, without recursing further. */
	s = repeat("[", 1000000, "", "");
	CU_ASSERT_PTR_NULL(op_json_parse(s, strlen(s), NULL, &e));
	OP_ASSERT_STR(e.msg, "nesting too deep");
	OP_ASSERT_INT(e.offset, OP_JSON_MAX_DEPTH);
	free(s);
}

static void test_limits(void)
{
	struct op_json_error e;
	size_t n = OP_JSON_MAX_BYTES + 1;
	char *s = malloc(n);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	memset(s, ' ', n);
	s[0] = '0';
	CU_ASSERT_PTR_NULL(op_json_parse(s, n, NULL, &e));
	OP_ASSERT_STR(e.msg, "input too large");
	{
		struct op_json *v = op_json_parse(s, n - 1, NULL, &e);

		CU_ASSERT_PTR_NOT_NULL(v);
		op_json_free(v);
	}
	free(s);

	/* One value more than OP_JSON_MAX_NODES (the array counts as one). */
	s = repeat("0,", OP_JSON_MAX_NODES - 1, "0", "");
	{
		size_t len = strlen(s);
		char *arr = malloc(len + 3);

		CU_ASSERT_PTR_NOT_NULL_FATAL(arr);
		arr[0] = '[';
		memcpy(arr + 1, s, len);
		arr[len + 1] = ']';
		arr[len + 2] = '\0';
		CU_ASSERT_PTR_NULL(op_json_parse(arr, len + 2, NULL, &e));
		OP_ASSERT_STR(e.msg, "too many values");
		/* Drop one element ("0,"): exactly at the limit. */
		memmove(arr + 1, arr + 3, len);
		{
			struct op_json *v = op_json_parse(arr, len, NULL, &e);

			CU_ASSERT_PTR_NOT_NULL(v);
			if (v)
				OP_ASSERT_INT(v->len, OP_JSON_MAX_NODES - 1);
			op_json_free(v);
		}
		free(arr);
	}
	free(s);
}

static void test_stream(void)
{
	const char *s = "{\"a\":1}\n[2] \"three\"";
	size_t off = 0, used;
	struct op_json *v;
	int n = 0;

	while (off < strlen(s) && (v = op_json_parse(s + off, strlen(s) - off, &used, NULL))) {
		off += used;
		n++;
		op_json_free(v);
	}
	OP_ASSERT_INT(n, 3);
	OP_ASSERT_INT(off, strlen(s));
}

static void test_indent(void)
{
	const char *s = "{\"a\":[1,{\"b\":null}],\"c\":{},\"d\":[]}";

	OP_ASSERT_STR(roundtrip(s, strlen(s), 2),
		      "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n"
		      "  \"c\": {},\n  \"d\": []\n}");
}

static void test_build(void)
{
	struct op_json *o = op_json_new(OP_JSON_OBJECT), *a = op_json_new(OP_JSON_ARRAY), *c;
	struct op_buf b = OP_BUF_INIT;

	CU_ASSERT_FATAL(o && a);
	CU_ASSERT(op_json_push(a, op_json_new_strz("x")));
	CU_ASSERT(op_json_insert(a, 0, op_json_new_number("1")));
	CU_ASSERT(op_json_insert(a, 1, op_json_new(OP_JSON_TRUE)));
	CU_ASSERT(!op_json_insert(a, 9, op_json_new(OP_JSON_NULL)));
	CU_ASSERT(op_json_add(o, "k/~", a));
	CU_ASSERT(op_json_set(o, "n", op_json_new(OP_JSON_NULL)));
	CU_ASSERT(op_json_set(o, "n", op_json_new_str("a\"b", 3)));
	c = op_json_clone(o);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT(op_json_set(o, "n", op_json_new(OP_JSON_FALSE)));
	op_json_write(&b, o, 0);
	OP_ASSERT_STR(b.p, "{\"k/~\":[1,true,\"x\"],\"n\":false}");
	op_buf_reset(&b);
	op_json_write(&b, c, 0);
	OP_ASSERT_STR(b.p, "{\"k/~\":[1,true,\"x\"],\"n\":\"a\\\"b\"}");
	op_json_swap(o, c);
	op_buf_reset(&b);
	op_json_write(&b, o, 0);
	OP_ASSERT_STR(b.p, "{\"k/~\":[1,true,\"x\"],\"n\":\"a\\\"b\"}");
	op_buf_free(&b);
	op_json_free(o);
	op_json_free(c);
}

static void test_pointer(void)
{
	struct op_buf b = OP_BUF_INIT;

	op_buf_adds(&b, "/metadata/annotations");
	op_json_ptr_add(&b, "otelpreload.dev/inject", 22);
	op_json_ptr_add(&b, "a~b/~1", 6);
	op_json_ptr_add(&b, "", 0);
	OP_ASSERT_STR(b.p, "/metadata/annotations/otelpreload.dev~1inject/a~0b~1~01/");
	op_buf_free(&b);
}

static void test_base64(void)
{
	static const char *const vec[][2] = {
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	struct op_buf b = OP_BUF_INIT;

	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		op_buf_reset(&b);
		op_buf_adds(&b, "");
		op_base64(&b, vec[i][0], strlen(vec[i][0]));
		OP_ASSERT_STR(b.p, vec[i][1]);
	}
	op_buf_reset(&b);
	op_base64(&b, "\xff\xfe\x00\xfb", 4);
	OP_ASSERT_STR(b.p, "//4A+w==");
	op_buf_free(&b);
}

static void test_number_grammar(void)
{
	static const char *const good[] = { "0", "-0", "1", "-12", "0.5", "1e5", "1E-5", "2.5e+10" };
	static const char *const bad[] = { "", "-", "01", "1.", ".1", "1e", "+1", "0x1", "1_000",
					   "inf", "1.5.2" };

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		CU_ASSERT(op_json_number_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CU_ASSERT(!op_json_number_valid(bad[i], strlen(bad[i])));
}

/*
 * Random byte edits of valid documents. No crash (run under the sanitizer
 * builds too), and whatever parses is written as text that parses again
 * and writes identically.
 */
static void test_fuzz(void)
{
	static const char *const seeds[] = {
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":"
		"{\"otelpreload.dev/inject\":\"true\"}},\"spec\":{\"containers\":[{\"name\":\"a\","
		"\"env\":[{\"name\":\"X\",\"value\":\"\\u00e9\\n\"}]}]}}",
		"[1,-2.5e3,true,false,null,\"\\ud83d\\ude00\",{\"\":[]}]",
		"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0000\"",
	};
	static const char alphabet[] = "{}[]:,\"\\/-+.0123456789eEtrufalsn u\x80\xc3\xa9\xff";
	uint64_t x = 0x9e3779b97f4a7c15ull;
	unsigned parsed = 0;
	char buf[512];

	for (int iter = 0; iter < 200000; iter++) {
		const char *seed = seeds[iter % 3];
		size_t len = strlen(seed), edits;
		struct op_json *v;

		memcpy(buf, seed, len);
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		edits = 1 + x % 4;
		for (size_t k = 0; k < edits; k++) {
			size_t at;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			at = (size_t)(x >> 8) % (len + 1);
			switch (x % 3) {
			case 0: /* replace */
				if (at < len)
					buf[at] = alphabet[(x >> 40) % (sizeof alphabet - 1)];
				break;
			case 1: /* delete */
				if (at < len) {
					memmove(buf + at, buf + at + 1, len - at - 1);
					len--;
				}
				break;
			default: /* insert */
				if (len + 1 < sizeof buf) {
					memmove(buf + at + 1, buf + at, len - at);
					buf[at] = alphabet[(x >> 40) % (sizeof alphabet - 1)];
					len++;
				}
			}
		}
		v = op_json_parse(buf, len, NULL, NULL);
		if (v) {
			struct op_buf a = OP_BUF_INIT, b = OP_BUF_INIT;
			struct op_json *w;

			parsed++;
			op_json_write(&a, v, 0);
			CU_ASSERT_FATAL(!a.err);
			w = op_json_parse(a.p, a.len, NULL, NULL);
			CU_ASSERT_PTR_NOT_NULL_FATAL(w);
			op_json_write(&b, w, 0);
			CU_ASSERT(a.len == b.len && !memcmp(a.p, b.p, a.len));
			op_json_free(w);
			op_buf_free(&a);
			op_buf_free(&b);
		}
		op_json_free(v);
	}
	/* Enough edits survive for the round trip to have been tested. */
	CU_ASSERT(parsed > 1000);
}

int main(void)
{
	CU_TestInfo tests[] = {
		{ "values", test_values },
		{ "lookup", test_lookup },
		{ "strings", test_strings },
		{ "malformed", test_malformed },
		{ "depth", test_depth },
		{ "limits", test_limits },
		{ "stream", test_stream },
		{ "indent", test_indent },
		{ "build", test_build },
		{ "pointer", test_pointer },
		{ "base64", test_base64 },
		{ "number_grammar", test_number_grammar },
		{ "fuzz", test_fuzz },
		CU_TEST_INFO_NULL,
	};

	return op_cu_run("k8s_json", tests);
}
