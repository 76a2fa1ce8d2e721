/*
 * The environment as a trace context carrier, as OpenTelemetry's
 * "Environment Variables as Context Propagation Carriers" defines it: a
 * program started with TRACEPARENT (and TRACESTATE) continues that trace,
 * and a program it starts gets TRACEPARENT/TRACESTATE naming the context
 * it was started from.
 *
 * The host's own environment is never written (other threads may be
 * reading it, and the program must see what it was given): a new program
 * gets a modified copy of the vector passed to exec or posix_spawn.
 */
#ifndef OP_PROCENV_H
#define OP_PROCENV_H

#include <stdbool.h>
#include <stddef.h>

#include "propagate.h"
#include "span.h"

/*
 * Reads TRACEPARENT and TRACESTATE from the environment the process was
 * started with (`get`: getenv in the library). Returns true and fills
 * *parent (remote) when TRACEPARENT is valid; *tracestate is then the
 * TRACESTATE value when it is valid too, else NULL. An invalid TRACEPARENT
 * is reported at debug level and ignored. The raw TRACEPARENT value is
 * remembered either way: a child's environment holding exactly that value
 * is inherited, one holding another was set by the program itself.
 */
bool op_procenv_init(const char *(*get)(const char *name), struct op_span_ctx *parent,
		     const char **tracestate);

/*
 * Pointers the copy holds on the stack. A larger environment is copied to
 * an anonymous mapping, or passed on unchanged where mapping is unsafe (a
 * vfork child: its mapping would outlive a successful exec in the parent).
 * 512 covers ordinary environments (a login shell has about 30 entries, a
 * CI job a few hundred) in 4 KiB of stack.
 */
#define OP_ENV_STACK_ENTRIES 512

/* "TRACEPARENT=" + value + NUL, "TRACESTATE=" + value + NUL */
#define OP_ENV_TP_SIZE (12 + OP_TRACEPARENT_LEN + 1)
#define OP_ENV_TS_SIZE (11 + OP_TRACESTATE_MAX + 1)

/* Storage for one copy; lives on the caller's stack for one exec or spawn. */
struct op_env {
	char **map;           /* anonymous mapping behind a large copy, or NULL */
	size_t map_len;
	char tp[OP_ENV_TP_SIZE];
	char ts[OP_ENV_TS_SIZE];
	char *stack[OP_ENV_STACK_ENTRIES];
};

/*
 * The environment to pass to a new program instead of `envp`: a copy in
 * `e` with TRACEPARENT/TRACESTATE naming the calling thread's context
 * (op_context_for_child), or `envp` itself when there is nothing to
 * change: no context, the library disabled, a NULL `envp`, or a
 * TRACEPARENT the program set itself (it traces its children: left
 * alone, as an outbound request's own traceparent is). `may_map` allows
 * an anonymous mapping for a large environment.
 *
 * Calls no allocator and takes no lock: safe in a vfork child and between
 * fork and exec in a multithreaded program. errno is preserved.
 */
char *const *op_env_for_child(struct op_env *e, char *const envp[], bool may_map);

/*
 * True in a child that shares this process's memory without the fork
 * handlers having run: a vfork child, or one made by clone(CLONE_VM).
 * Until it execs or exits it must change no state of ours: the state is
 * its parent's. Its fds, though, are its own copy, so the fd hooks must
 * not forget the parent's fd state when it closes them (CPython's
 * subprocess closes every fd in a vfork child). One getpid() call.
 */
bool op_vfork_child(void);

/* Releases what op_env_for_child mapped; errno is preserved. */
void op_env_release(struct op_env *e);

#endif
