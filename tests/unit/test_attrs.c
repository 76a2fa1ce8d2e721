/*
 * Attribute lists with limits: the count limit drops (and counts) extra
 * attributes, the value length limit cuts strings to a number of
 * characters without splitting one, and setting a key again replaces its
 * value.
 */
#include <stdint.h>
#include <string.h>

#include "preload/span.h"

#include "cu.h"

static struct op_attrs a;

static const char *str(const char *key)
{
	const struct op_attr *v = op_attrs_get(&a, key);

	return v && v->type == OP_ATTR_STRING ? v->v.s : NULL;
}

/* True when `s` is well-formed UTF-8 (no cut sequence at the end). */
static int utf8_valid(const unsigned char *s)
{
	while (*s) {
		int n = *s < 0x80 ? 0 : (*s & 0xe0) == 0xc0 ? 1 : (*s & 0xf0) == 0xe0 ? 2 :
			(*s & 0xf8) == 0xf0 ? 3 : -1;

		if (n < 0)
			return 0;
		for (s++; n > 0; n--, s++)
			if ((*s & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

static void test_types_and_get(void)
{
	const struct op_attr *v;

	op_attrs_init(&a, 128, UINT32_MAX);
	op_attrs_set_str(&a, "s", "text", 4);
	op_attrs_set_int(&a, "i", -42);
	op_attrs_set_bool(&a, "b", true);
	op_attrs_set_double(&a, "d", 2.5);
	OP_ASSERT_INT(a.n, 4);
	OP_ASSERT_INT(a.dropped, 0);
	OP_ASSERT_STR(str("s"), "text");
	v = op_attrs_get(&a, "i");
	CU_ASSERT_FATAL(v != NULL && v->type == OP_ATTR_INT);
	OP_ASSERT_INT(v->v.i, -42);
	v = op_attrs_get(&a, "b");
	CU_ASSERT_FATAL(v != NULL && v->type == OP_ATTR_BOOL);
	CU_ASSERT_TRUE(v->v.b);
	v = op_attrs_get(&a, "d");
	CU_ASSERT_FATAL(v != NULL && v->type == OP_ATTR_DOUBLE);
	CU_ASSERT_DOUBLE_EQUAL(v->v.d, 2.5, 0);
	CU_ASSERT_PTR_NULL(op_attrs_get(&a, "missing"));

	/* `len` bounds the value: bytes after it are not part of it. */
	op_attrs_set_str(&a, "partial", "abcdef", 3);
	OP_ASSERT_STR(str("partial"), "abc");
	op_attrs_free(&a);
}

static void test_count_limit(void)
{
	char key[16];
	int i;

	op_attrs_init(&a, 3, UINT32_MAX);
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof key, "k%d", i);
		op_attrs_set_int(&a, key, i);
	}
	OP_ASSERT_INT(a.n, 3);
	OP_ASSERT_INT(a.dropped, 2);
	CU_ASSERT_PTR_NOT_NULL(op_attrs_get(&a, "k0"));
	CU_ASSERT_PTR_NOT_NULL(op_attrs_get(&a, "k2"));
	CU_ASSERT_PTR_NULL(op_attrs_get(&a, "k3"));
	CU_ASSERT_PTR_NULL(op_attrs_get(&a, "k4"));

	/* Every type counts against the same limit. */
	op_attrs_set_str(&a, "s", "x", 1);
	op_attrs_set_bool(&a, "b", false);
	op_attrs_set_double(&a, "d", 1.0);
	OP_ASSERT_INT(a.n, 3);
	OP_ASSERT_INT(a.dropped, 5);

	/* An existing key is still updated at the limit, and not dropped. */
	op_attrs_set_int(&a, "k1", 100);
	OP_ASSERT_INT(a.n, 3);
	OP_ASSERT_INT(a.dropped, 5);
	OP_ASSERT_INT(op_attrs_get(&a, "k1")->v.i, 100);
	op_attrs_free(&a);

	op_attrs_init(&a, 0, UINT32_MAX);
	op_attrs_set_int(&a, "k", 1);
	OP_ASSERT_INT(a.n, 0);
	OP_ASSERT_INT(a.dropped, 1);
	op_attrs_free(&a);
}

static void test_same_key_replaces(void)
{
	op_attrs_init(&a, 128, UINT32_MAX);
	op_attrs_set_str(&a, "k", "first", 5);
	op_attrs_set_str(&a, "k", "second", 6);
	OP_ASSERT_INT(a.n, 1);
	OP_ASSERT_STR(str("k"), "second");
	op_attrs_set_int(&a, "k", 7);
	OP_ASSERT_INT(a.n, 1);
	OP_ASSERT_INT(op_attrs_get(&a, "k")->type, OP_ATTR_INT);
	OP_ASSERT_INT(op_attrs_get(&a, "k")->v.i, 7);
	op_attrs_free(&a);
}

static void test_value_length_ascii(void)
{
	op_attrs_init(&a, 128, 5);
	op_attrs_set_str(&a, "long", "abcdefgh", 8);
	op_attrs_set_str(&a, "exact", "abcde", 5);
	op_attrs_set_str(&a, "short", "ab", 2);
	op_attrs_set_int(&a, "int", 1234567890123);
	OP_ASSERT_STR(str("long"), "abcde");
	OP_ASSERT_STR(str("exact"), "abcde");
	OP_ASSERT_STR(str("short"), "ab");
	/* Only strings are limited. */
	OP_ASSERT_INT(op_attrs_get(&a, "int")->v.i, 1234567890123);
	OP_ASSERT_INT(a.dropped, 0);
	op_attrs_free(&a);

	op_attrs_init(&a, 128, 0);
	op_attrs_set_str(&a, "empty", "abc", 3);
	OP_ASSERT_STR(str("empty"), "");
	op_attrs_free(&a);
}

/*
 * The limit counts characters, not bytes (SDK specification, attribute
 * limits: "counting any character in it as 1"). "abcd" + U+00E9 (2 bytes)
 * + U+2713 (3 bytes) + U+1F600 (4 bytes) is 7 characters in 13 bytes:
 * cutting at every limit keeps exactly the first `limit` characters, so
 * the result is always valid UTF-8 and never splits a character.
 */
static void test_value_length_utf8(void)
{
	static const char v[] = "abcd\xc3\xa9\xe2\x9c\x93\xf0\x9f\x98\x80";
	/* Bytes taken by the first N characters of `v`. */
	static const size_t want[] = { 0, 1, 2, 3, 4, 6, 9, 13, 13, 13 };
	uint32_t lim;

	for (lim = 0; lim < sizeof want / sizeof want[0]; lim++) {
		const char *got;

		op_attrs_init(&a, 128, lim);
		op_attrs_set_str(&a, "u", v, sizeof v - 1);
		got = str("u");
		CU_ASSERT_PTR_NOT_NULL_FATAL(got);
		CU_ASSERT_TRUE(utf8_valid((const unsigned char *)got));
		CU_ASSERT_EQUAL(strncmp(got, v, strlen(got)), 0);
		if (strlen(got) != want[lim])
			fprintf(stderr, "\nlimit %u kept %zu bytes, expected %zu (%u characters)\n",
				lim, strlen(got), want[lim], lim);
		OP_ASSERT_INT(strlen(got), want[lim]);
		op_attrs_free(&a);
	}
}

static CU_TestInfo tests[] = {
	{ "types and lookup", test_types_and_get },
	{ "count limit counts dropped", test_count_limit },
	{ "same key replaces", test_same_key_replaces },
	{ "value length limit (ASCII)", test_value_length_ascii },
	{ "value length limit counts characters", test_value_length_utf8 },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("attrs", tests);
}
