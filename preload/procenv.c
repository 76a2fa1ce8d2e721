#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "context.h"
#include "op.h"
#include "procenv.h"

/*
 * TRACEPARENT as the process received it (NULL when unset). Written by the
 * constructor, read-only afterwards.
 */
static char *inherited_tp;

bool op_procenv_init(const char *(*get)(const char *name), struct op_span_ctx *parent,
		     const char **tracestate)
{
	const char *tp = get("TRACEPARENT"), *ts;

	*tracestate = NULL;
	free(inherited_tp);
	inherited_tp = tp ? strdup(tp) : NULL;
	if (!tp)
		return false;
	if (op_traceparent_parse(tp, strlen(tp), parent) != 0) {
		op_debug("TRACEPARENT=%.64s is not a valid W3C traceparent; ignored", tp);
		return false;
	}
	ts = get("TRACESTATE");
	if (ts && *ts) {
		if (op_tracestate_valid(ts, strlen(ts)))
			*tracestate = ts;
		else
			op_debug("TRACESTATE is not a valid W3C tracestate; ignored");
	}
	return true;
}

static bool is_var(const char *entry, const char *name_eq, size_t len)
{
	return !strncmp(entry, name_eq, len);
}

/*
 * A TRACEPARENT entry of a new program's environment that differs from
 * the one this process was given was put there by the program: it
 * propagates context itself, and its children get what it chose. A copy
 * of the inherited value is ours to replace.
 */
static bool set_by_program(const char *value)
{
	return !inherited_tp || strcmp(value, inherited_tp) != 0;
}

char *const *op_env_for_child(struct op_env *e, char *const envp[], bool may_map)
{
	int saved = errno;
	struct op_span_ctx ctx;
	const char *ts;
	size_t tslen, n, need, j = 0;
	bool have_ts, placed_tp = false, placed_ts = false;
	char **out;

	e->map = NULL;
	e->map_len = 0;
	if (op_disabled || !envp || !op_context_for_child(&ctx, &ts, &tslen))
		return envp;
	for (n = 0; envp[n]; n++)
		if (is_var(envp[n], "TRACEPARENT=", 12) && set_by_program(envp[n] + 12))
			return envp;

	/* Every entry, TRACEPARENT and TRACESTATE added, and the NULL. */
	need = n + 3;
	if (need <= OP_ENV_STACK_ENTRIES) {
		out = e->stack;
	} else if (may_map) {
		void *p = mmap(NULL, need * sizeof *out, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			errno = saved;
			return envp;
		}
		out = e->map = p;
		e->map_len = need * sizeof *out;
	} else {
		return envp;
	}

	memcpy(e->tp, "TRACEPARENT=", 12);
	op_traceparent_format(&ctx, e->tp + 12);
	have_ts = ts && tslen && tslen <= OP_TRACESTATE_MAX;
	if (have_ts) {
		memcpy(e->ts, "TRACESTATE=", 11);
		memcpy(e->ts + 11, ts, tslen);
		e->ts[11 + tslen] = '\0';
	}
	/* In place of the inherited entries, so the order stays the program's. */
	for (size_t i = 0; i < n; i++) {
		if (is_var(envp[i], "TRACEPARENT=", 12)) {
			if (!placed_tp)
				out[j++] = e->tp;
			placed_tp = true;
		} else if (is_var(envp[i], "TRACESTATE=", 11)) {
			if (have_ts && !placed_ts)
				out[j++] = e->ts;
			placed_ts = true;
		} else {
			out[j++] = envp[i];
		}
	}
	if (!placed_tp)
		out[j++] = e->tp;
	if (have_ts && !placed_ts)
		out[j++] = e->ts;
	out[j] = NULL;
	errno = saved;
	return out;
}

void op_env_release(struct op_env *e)
{
	int saved = errno;

	if (e->map)
		munmap(e->map, e->map_len);
	e->map = NULL;
	errno = saved;
}
