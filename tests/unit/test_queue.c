/*
 * The bounded span queue: FIFO order across wrap-around, drop-on-full with
 * a counter, bounded pops, many producers, and re-initialisation in a
 * forked child whose parent held the lock at fork() time.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "preload/queue.h"

#include "cu.h"

/* A minimal span; start_ns carries a sequence number to check order. */
static struct op_span *mk(int64_t seq)
{
	struct op_span *s = calloc(1, sizeof *s);

	if (!s)
		abort();
	s->name = strdup("queued");
	s->name_heap = true;
	s->kind = OP_SPAN_KIND_INTERNAL;
	s->start_ns = seq;
	s->end_ns = seq;
	return s;
}

static void free_all(struct op_span **v, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		op_span_free(v[i]);
}

static void test_order_and_full(void)
{
	struct op_queue q;
	struct op_span *out[8];
	uint32_t n;
	int i;

	CU_ASSERT_EQUAL_FATAL(op_queue_init(&q, 4), 0);
	OP_ASSERT_INT(op_queue_len(&q), 0);
	OP_ASSERT_INT(op_queue_pop(&q, out, 8), 0);
	for (i = 0; i < 4; i++)
		OP_ASSERT_INT(op_queue_push(&q, mk(i)), i + 1);
	OP_ASSERT_INT(op_queue_push(&q, mk(99)), 0);
	OP_ASSERT_INT(op_queue_push(&q, mk(100)), 0);
	OP_ASSERT_INT(op_queue_dropped(&q), 2);
	OP_ASSERT_INT(op_queue_len(&q), 4);

	n = op_queue_pop(&q, out, 2);
	OP_ASSERT_INT(n, 2);
	OP_ASSERT_INT(out[0]->start_ns, 0);
	OP_ASSERT_INT(out[1]->start_ns, 1);
	free_all(out, n);
	OP_ASSERT_INT(op_queue_len(&q), 2);

	/* Room again: the ring wraps and order holds. */
	OP_ASSERT_INT(op_queue_push(&q, mk(4)), 3);
	OP_ASSERT_INT(op_queue_push(&q, mk(5)), 4);
	OP_ASSERT_INT(op_queue_push(&q, mk(6)), 0);
	OP_ASSERT_INT(op_queue_dropped(&q), 3);
	n = op_queue_pop(&q, out, 8);
	OP_ASSERT_INT(n, 4);
	for (i = 0; i < (int)n; i++)
		OP_ASSERT_INT(out[i]->start_ns, i + 2);
	free_all(out, n);
	OP_ASSERT_INT(op_queue_len(&q), 0);
	OP_ASSERT_INT(op_queue_pop(&q, out, 8), 0);
	op_queue_destroy(&q);
}

static void test_wraparound_long(void)
{
	struct op_queue q;
	struct op_span *out[3];
	int64_t next_in = 0, next_out = 0;
	int round, bad = 0;
	uint32_t n, i;

	CU_ASSERT_EQUAL_FATAL(op_queue_init(&q, 5), 0);
	for (round = 0; round < 1000; round++) {
		while (op_queue_len(&q) < 4)
			op_queue_push(&q, mk(next_in++));
		n = op_queue_pop(&q, out, 3);
		for (i = 0; i < n; i++)
			bad += out[i]->start_ns != next_out++;
		free_all(out, n);
	}
	OP_ASSERT_INT(bad, 0);
	OP_ASSERT_INT(op_queue_dropped(&q), 0);
	op_queue_destroy(&q);
}

#define PRODUCERS 4
#define PER_PRODUCER 20000

static struct op_queue mpq;
static volatile int producers_done;

static void *producer(void *arg)
{
	int64_t id = (int64_t)(intptr_t)arg, i;

	for (i = 0; i < PER_PRODUCER; i++)
		op_queue_push(&mpq, mk(id * PER_PRODUCER + i));
	__atomic_add_fetch(&producers_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Every span is either popped, in order per producer, or counted dropped. */
static void test_many_producers(void)
{
	pthread_t th[PRODUCERS];
	int64_t last[PRODUCERS];
	struct op_span *out[64];
	uint64_t popped = 0;
	int bad = 0;
	intptr_t t;
	uint32_t n, i;

	for (t = 0; t < PRODUCERS; t++)
		last[t] = -1;
	CU_ASSERT_EQUAL_FATAL(op_queue_init(&mpq, 1000), 0);
	for (t = 0; t < PRODUCERS; t++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[t], NULL, producer, (void *)t), 0);
	for (;;) {
		int done = __atomic_load_n(&producers_done, __ATOMIC_ACQUIRE) == PRODUCERS;

		n = op_queue_pop(&mpq, out, 64);
		for (i = 0; i < n; i++) {
			int64_t v = out[i]->start_ns, p = v / PER_PRODUCER;

			bad += v <= last[p];
			last[p] = v;
		}
		free_all(out, n);
		popped += n;
		if (done && n == 0)
			break;
	}
	for (t = 0; t < PRODUCERS; t++)
		pthread_join(th[t], NULL);
	OP_ASSERT_INT(bad, 0);
	OP_ASSERT_INT(popped + op_queue_dropped(&mpq), (uint64_t)PRODUCERS * PER_PRODUCER);
	op_queue_destroy(&mpq);
}

static struct op_queue forkq;
static _Atomic int producer_started;

/* Pushes one span; started while the main thread holds the lock for fork(). */
static void *late_producer(void *arg)
{
	(void)arg;
	atomic_store(&producer_started, 1);
	op_queue_push(&forkq, mk(3));
	return NULL;
}

/*
 * The library prepares fork() by taking the queue's lock (so no other
 * thread is inside the queue), and the child, whose only thread then holds
 * it, empties the queue and releases it: the child starts with no spans
 * and a working queue, the parent keeps its spans and the push that waited.
 */
static void test_reset_in_child(void)
{
	struct op_span *out[8];
	pthread_t th;
	pid_t pid;
	int st;

	CU_ASSERT_EQUAL_FATAL(op_queue_init(&forkq, 8), 0);
	op_queue_push(&forkq, mk(1));
	op_queue_push(&forkq, mk(2));
	pthread_mutex_lock(&forkq.lock);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&th, NULL, late_producer, NULL), 0);
	while (!atomic_load(&producer_started))
		sched_yield();

	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		/* A deadlock shows as SIGALRM instead of a hung test. */
		alarm(5);
		op_queue_reset_child(&forkq);
		pthread_mutex_unlock(&forkq.lock);
		if (op_queue_len(&forkq) != 0)
			_exit(10);
		if (op_queue_push(&forkq, mk(42)) != 1)
			_exit(11);
		if (op_queue_pop(&forkq, out, 8) != 1 || out[0]->start_ns != 42)
			_exit(12);
		op_span_free(out[0]);
		_exit(0);
	}
	pthread_mutex_unlock(&forkq.lock);
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		fprintf(stderr, "\nchild: %s %d\n", WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	pthread_join(th, NULL);

	/* The parent keeps its spans, and the push that waited for the lock. */
	OP_ASSERT_INT(op_queue_len(&forkq), 3);
	free_all(out, op_queue_pop(&forkq, out, 8));
	op_queue_destroy(&forkq);
}

static CU_TestInfo tests[] = {
	{ "order, full, dropped counter, pop max", test_order_and_full },
	{ "long wrap-around keeps order", test_wraparound_long },
	{ "many producers, one consumer", test_many_producers },
	{ "reset in a forked child", test_reset_in_child },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("queue", tests);
}
