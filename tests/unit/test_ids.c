/*
 * Trace and span ID generation: never zero, no repeats in large samples,
 * distinct across threads, and distinct between a forked child (after
 * op_ids_reseed_all) and its parent.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload/ids.h"

#include "cu.h"

#define SAMPLE 100000
#define THREADS 4
#define FORK_SAMPLE 256

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_trace(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static uint64_t span_u64(void)
{
	uint8_t id[8];
	uint64_t v;

	op_ids_span(id);
	memcpy(&v, id, 8);
	return v;
}

/* Number of adjacent equal elements in a sorted array. */
static size_t repeats_u64(uint64_t *v, size_t n)
{
	size_t i, r = 0;

	qsort(v, n, sizeof *v, cmp_u64);
	for (i = 1; i < n; i++)
		r += v[i] == v[i - 1];
	return r;
}

static void test_span_ids(void)
{
	uint64_t *v = malloc(SAMPLE * sizeof *v);
	size_t i, zero = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	for (i = 0; i < SAMPLE; i++) {
		v[i] = span_u64();
		zero += v[i] == 0;
	}
	OP_ASSERT_INT(zero, 0);
	OP_ASSERT_INT(repeats_u64(v, SAMPLE), 0);
	free(v);
}

static void test_trace_ids(void)
{
	uint8_t (*v)[16] = malloc(SAMPLE * sizeof *v);
	static const uint8_t zero16[16];
	size_t i, zero = 0, rep = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	for (i = 0; i < SAMPLE; i++) {
		op_ids_trace(v[i]);
		zero += !memcmp(v[i], zero16, 16);
	}
	qsort(v, SAMPLE, sizeof *v, cmp_trace);
	for (i = 1; i < SAMPLE; i++)
		rep += !memcmp(v[i], v[i - 1], 16);
	OP_ASSERT_INT(zero, 0);
	OP_ASSERT_INT(rep, 0);
	free(v);
}

/*
 * Bits are not stuck: over many IDs every bit of a span ID is set about
 * half of the time (a generator that is not seeded per thread, or that
 * leaves bytes zero, fails this).
 */
static void test_bits_vary(void)
{
	unsigned ones[64] = { 0 };
	int i, b, bad = 0;

	for (i = 0; i < 10000; i++) {
		uint64_t v = span_u64();

		for (b = 0; b < 64; b++)
			ones[b] += (v >> b) & 1;
	}
	for (b = 0; b < 64; b++)
		bad += ones[b] < 4500 || ones[b] > 5500;
	OP_ASSERT_INT(bad, 0);
}

static uint64_t *thread_ids;

static void *thread_main(void *arg)
{
	size_t t = (size_t)arg, i, per = SAMPLE / THREADS;

	for (i = 0; i < per; i++)
		thread_ids[t * per + i] = span_u64();
	return NULL;
}

static void test_threads_distinct(void)
{
	pthread_t th[THREADS];
	size_t t;

	thread_ids = calloc(SAMPLE, sizeof *thread_ids);
	CU_ASSERT_PTR_NOT_NULL_FATAL(thread_ids);
	for (t = 0; t < THREADS; t++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, thread_main, (void *)t), 0);
	for (t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	OP_ASSERT_INT(repeats_u64(thread_ids, SAMPLE), 0);
	free(thread_ids);
}

static int read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/*
 * A forked child that reseeds never produces the IDs its parent produces
 * next. The child sends its IDs back through a pipe.
 */
static void test_fork_reseed(void)
{
	uint64_t parent[FORK_SAMPLE], child[FORK_SAMPLE], all[2 * FORK_SAMPLE];
	uint8_t ptrace[16], ctrace[16];
	int fds[2], st, i;
	pid_t pid;

	(void)span_u64(); /* the calling thread's generator is seeded now */
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		op_ids_reseed_all();
		for (i = 0; i < FORK_SAMPLE; i++)
			child[i] = span_u64();
		op_ids_trace(ctrace);
		if (write(fds[1], child, sizeof child) != (ssize_t)sizeof child ||
		    write(fds[1], ctrace, sizeof ctrace) != (ssize_t)sizeof ctrace)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	for (i = 0; i < FORK_SAMPLE; i++)
		parent[i] = span_u64();
	op_ids_trace(ptrace);
	CU_ASSERT_EQUAL_FATAL(read_all(fds[0], child, sizeof child), 0);
	CU_ASSERT_EQUAL_FATAL(read_all(fds[0], ctrace, sizeof ctrace), 0);
	close(fds[0]);
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	CU_ASSERT_NOT_EQUAL(parent[0], child[0]);
	memcpy(all, parent, sizeof parent);
	memcpy(all + FORK_SAMPLE, child, sizeof child);
	OP_ASSERT_INT(repeats_u64(all, 2 * FORK_SAMPLE), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(ptrace, ctrace, 16), 0);
}

static CU_TestInfo tests[] = {
	{ "span IDs: non-zero, no repeats in 100k", test_span_ids },
	{ "trace IDs: non-zero, no repeats in 100k", test_trace_ids },
	{ "every bit varies", test_bits_vary },
	{ "distinct across threads", test_threads_distinct },
	{ "forked child reseeds", test_fork_reseed },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("ids", tests);
}
