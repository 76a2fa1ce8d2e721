/*
 * The address map behind the TLS session and libcurl handle state: every
 * key found after heavy insertion and removal in mixed order (removal
 * shifts entries back, so a wrong shift loses keys), clustered keys that
 * collide, take_if with entries moving into the slot being scanned, and
 * keys reused after removal.
 */
#include <stdint.h>
#include <stdlib.h>

#include "preload/ptrmap.h"

#include "cu.h"

#define N 20000

/* Keys 16 bytes apart, like neighbouring heap objects: many share a probe run. */
static const void *key(size_t i)
{
	return (const void *)(uintptr_t)(0x100000 + 16 * i);
}

static void *val(size_t i)
{
	return (void *)(uintptr_t)(i + 1);
}

static void test_insert_remove_mixed(void)
{
	struct op_ptrmap m = OP_PTRMAP_INIT;
	size_t i, missing = 0, wrong = 0;
	uint32_t x = 12345;

	for (i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(op_ptrmap_put(&m, key(i), val(i)), 0);
	OP_ASSERT_INT(m.len, N);
	/* Remove the odd keys in a scrambled order. */
	for (i = 0; i < N / 2; i++) {
		size_t k;

		x = x * 1103515245u + 12345u;
		k = 2 * ((x >> 8) % (N / 2)) + 1;
		op_ptrmap_take(&m, key(k));
	}
	for (i = 1; i < N; i += 2)
		op_ptrmap_take(&m, key(i));
	for (i = 0; i < N; i++) {
		void *v = op_ptrmap_get(&m, key(i));

		if (i % 2 == 0 && v == NULL)
			missing++;
		else if ((i % 2 == 0 && v != val(i)) || (i % 2 == 1 && v != NULL))
			wrong++;
	}
	OP_ASSERT_INT(missing, 0);
	OP_ASSERT_INT(wrong, 0);
	OP_ASSERT_INT(m.len, N / 2);
	/* A removed key comes back with a new value. */
	CU_ASSERT_EQUAL(op_ptrmap_put(&m, key(1), val(7)), 0);
	CU_ASSERT_PTR_EQUAL(op_ptrmap_get(&m, key(1)), val(7));
	CU_ASSERT_PTR_EQUAL(op_ptrmap_take(&m, key(1)), val(7));
	CU_ASSERT_PTR_NULL(op_ptrmap_take(&m, key(1)));
	free(m.slots);
}

static bool is_multiple_of_3(void *v, void *arg)
{
	(void)arg;
	return ((uintptr_t)v - 1) % 3 == 0;
}

static void test_take_if(void)
{
	struct op_ptrmap m = OP_PTRMAP_INIT;
	void *out[N];
	size_t i, n, total = 0;

	for (i = 0; i < N; i++)
		CU_ASSERT_EQUAL_FATAL(op_ptrmap_put(&m, key(i), val(i)), 0);
	/* In batches, as the libcurl hooks take a multi handle's transfers. */
	do {
		n = op_ptrmap_take_if(&m, is_multiple_of_3, NULL, out, 100);
		for (size_t j = 0; j < n; j++)
			CU_ASSERT(((uintptr_t)out[j] - 1) % 3 == 0);
		total += n;
	} while (n == 100);
	OP_ASSERT_INT(total, (N + 2) / 3);
	for (i = 0; i < N; i++) {
		void *v = op_ptrmap_get(&m, key(i));

		if (i % 3 == 0) {
			CU_ASSERT_PTR_NULL(v);
		} else {
			CU_ASSERT_PTR_EQUAL(v, val(i));
		}
	}
	free(m.slots);
}

static void test_empty(void)
{
	struct op_ptrmap m = OP_PTRMAP_INIT;
	void *out[1];

	CU_ASSERT_PTR_NULL(op_ptrmap_get(&m, key(1)));
	CU_ASSERT_PTR_NULL(op_ptrmap_take(&m, key(1)));
	OP_ASSERT_INT(op_ptrmap_take_if(&m, is_multiple_of_3, NULL, out, 1), 0);
}

static CU_TestInfo tests[] = {
	{ "mixed insertion and removal keep every key", test_insert_remove_mixed },
	{ "take_if in batches", test_take_if },
	{ "an empty map", test_empty },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("ptrmap", tests);
}
