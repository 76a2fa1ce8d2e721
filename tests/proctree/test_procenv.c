/*
 * The environment a new program gets (preload/procenv.c): which context
 * names it, where TRACEPARENT/TRACESTATE go in the copy, when the caller's
 * vector is passed on untouched, and that the caller's vector and errno
 * never change.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "preload/context.h"
#include "preload/op.h"
#include "preload/procenv.h"

#include "tests/unit/cu.h"

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define INHERITED "TRACEPARENT=00-" TRACE "-00f067aa0ba902b7-01"

static const char *start_tp, *start_ts;

static const char *get(const char *name)
{
	if (!strcmp(name, "TRACEPARENT"))
		return start_tp;
	if (!strcmp(name, "TRACESTATE"))
		return start_ts;
	return NULL;
}

static size_t count(char *const *v)
{
	size_t n = 0;

	while (v[n])
		n++;
	return n;
}

/* Runs before any context exists: nothing to hand on, nothing changes. */
static void test_no_context(void)
{
	char *env[] = { "A=1", INHERITED, NULL };
	struct op_env e;
	struct op_span_ctx parent;
	const char *ts;

	start_tp = INHERITED + 12;
	start_ts = NULL;
	CU_ASSERT_TRUE(op_procenv_init(get, &parent, &ts));
	errno = 77;
	CU_ASSERT_PTR_EQUAL(op_env_for_child(&e, env, true), env);
	OP_ASSERT_INT(errno, 77);
	CU_ASSERT_PTR_NULL(op_env_for_child(&e, NULL, true));
	/* The inherited TRACEPARENT alone flows on as it is. */
	op_context_set_process(&parent, false, NULL, 0);
	CU_ASSERT_PTR_EQUAL(op_env_for_child(&e, env, true), env);
}

static void test_init(void)
{
	struct op_span_ctx parent;
	const char *ts;

	start_tp = "garbage";
	CU_ASSERT_FALSE(op_procenv_init(get, &parent, &ts));
	start_tp = "00-00000000000000000000000000000000-00f067aa0ba902b7-01";
	CU_ASSERT_FALSE(op_procenv_init(get, &parent, &ts));
	start_tp = INHERITED + 12;
	start_ts = "k=v";
	CU_ASSERT_TRUE(op_procenv_init(get, &parent, &ts));
	OP_ASSERT_STR(ts, "k=v");
	CU_ASSERT_TRUE(parent.remote);
	start_ts = "bad value with spaces,,=";
	CU_ASSERT_TRUE(op_procenv_init(get, &parent, &ts));
	CU_ASSERT_PTR_NULL(ts);
	start_ts = NULL;
}

static struct op_span_ctx own(uint8_t last)
{
	struct op_span_ctx c = { .flags = OP_TRACE_FLAG_SAMPLED };

	memcpy(c.trace_id, "\x4b\xf9\x2f\x35\x77\xb3\x4d\xa6\xa3\xce\x92\x9d\x0e\x0e\x47\x36", 16);
	memset(c.span_id, 0x11, 8);
	c.span_id[7] = last;
	return c;
}

static void test_process_span(void)
{
	char *env[] = { "A=1", "TRACESTATE=old=1", INHERITED, "B=2", NULL };
	char *copy[5];
	struct op_span_ctx parent, c = own(0x22);
	const char *ts;
	char *const *out;
	struct op_env e;

	memcpy(copy, env, sizeof env);
	start_tp = INHERITED + 12;
	CU_ASSERT_TRUE(op_procenv_init(get, &parent, &ts));
	op_context_set_process(&c, true, "p=q", 3);
	errno = 5;
	out = op_env_for_child(&e, env, false);
	OP_ASSERT_INT(errno, 5);
	CU_ASSERT_PTR_NOT_EQUAL(out, env);
	/* In place, in the program's order; everything else the same pointers. */
	OP_ASSERT_INT(count(out), 4);
	CU_ASSERT_PTR_EQUAL(out[0], env[0]);
	OP_ASSERT_STR(out[1], "TRACESTATE=p=q");
	OP_ASSERT_STR(out[2], "TRACEPARENT=00-" TRACE "-1111111111111122-01");
	CU_ASSERT_PTR_EQUAL(out[3], env[3]);
	CU_ASSERT_EQUAL(memcmp(copy, env, sizeof env), 0);
	op_env_release(&e);

	/* No tracestate: an inherited TRACESTATE goes; a missing TRACEPARENT is added. */
	op_context_set_process(&c, true, NULL, 0);
	{
		char *env2[] = { "TRACESTATE=old=1", "A=1", NULL };

		out = op_env_for_child(&e, env2, false);
		OP_ASSERT_INT(count(out), 2);
		OP_ASSERT_STR(out[0], "A=1");
		OP_ASSERT_STR(out[1], "TRACEPARENT=00-" TRACE "-1111111111111122-01");
	}

	/* A TRACEPARENT the program set itself is its own business. */
	{
		char *env3[] = { "A=1", "TRACEPARENT=00-" TRACE "-abababababababab-01", NULL };

		CU_ASSERT_PTR_EQUAL(op_env_for_child(&e, env3, true), env3);
	}

	/* Unsampled: flags 00 go on. */
	c.flags = 0;
	op_context_set_process(&c, true, NULL, 0);
	out = op_env_for_child(&e, env, false);
	OP_ASSERT_INT(count(out), 3);
	OP_ASSERT_STR(out[1], "TRACEPARENT=00-" TRACE "-1111111111111122-00");
	c.flags = OP_TRACE_FLAG_SAMPLED;
	op_context_set_process(&c, true, NULL, 0);
}

static void test_thread_context(void)
{
	struct op_span_ctx srv = own(0x33);
	const char lines[] = "baggage: x=1\r\ntracestate: t=1\r\nx-request-id: 7\r\n";
	char *env[] = { INHERITED, NULL };
	char *const *out;
	struct op_env e;

	op_context_set(&srv, NULL, false, lines, strlen(lines));
	out = op_env_for_child(&e, env, false);
	OP_ASSERT_INT(count(out), 2);
	OP_ASSERT_STR(out[0], "TRACEPARENT=00-" TRACE "-1111111111111133-01");
	OP_ASSERT_STR(out[1], "TRACESTATE=t=1");
	op_context_clear_if(srv.span_id);
	out = op_env_for_child(&e, env, false);
	OP_ASSERT_STR(out[0], "TRACEPARENT=00-" TRACE "-1111111111111122-01");
}

static void test_large(void)
{
	enum { N = OP_ENV_STACK_ENTRIES + 100 };
	static char *env[N + 1];
	static char names[N][16];
	char *const *out;
	struct op_env e;

	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "V%d=x", i);
		env[i] = names[i];
	}
	env[7] = INHERITED;
	/* Where no mapping may be made (a vfork child): passed on unchanged. */
	CU_ASSERT_PTR_EQUAL(op_env_for_child(&e, env, false), env);
	errno = 9;
	out = op_env_for_child(&e, env, true);
	CU_ASSERT_PTR_NOT_NULL(e.map);
	OP_ASSERT_INT(count(out), N);
	OP_ASSERT_STR(out[7], "TRACEPARENT=00-" TRACE "-1111111111111122-01");
	CU_ASSERT_PTR_EQUAL(out[N - 1], env[N - 1]);
	op_env_release(&e);
	CU_ASSERT_PTR_NULL(e.map);
	OP_ASSERT_INT(errno, 9);
}

static void test_disabled(void)
{
	char *env[] = { INHERITED, NULL };
	struct op_env e;

	op_disabled = 1;
	CU_ASSERT_PTR_EQUAL(op_env_for_child(&e, env, true), env);
	op_disabled = 0;
}

static CU_TestInfo tests[] = {
	{ "no context: the vector itself", test_no_context },
	{ "TRACEPARENT/TRACESTATE at start-up", test_init },
	{ "the process span replaces the inherited entries", test_process_span },
	{ "the thread's context first", test_thread_context },
	{ "large environments", test_large },
	{ "disabled", test_disabled },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	return op_cu_run("procenv", tests);
}
