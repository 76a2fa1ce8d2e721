#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/sendfile.h>

#include "real.h"

struct op_real real;

__thread int op_guard;
__thread int op_quiet;
volatile int op_disabled;

static pthread_once_t resolve_once = PTHREAD_ONCE_INIT;

/*
 * Stands in for a function libc does not have. The hook's caller sees the
 * error a missing system call gives. Called through a pointer of another
 * type: every hooked function returns an integer in a register and ignores
 * surplus arguments on the ABIs we build for.
 */
static long missing(void)
{
	errno = ENOSYS;
	return -1;
}

/* Our own hooks, to detect a chain that leads back to us. */
#define OP_REAL_DECL(name, ret, args) extern ret name args;
OP_REAL_FUNCS(OP_REAL_DECL)
#undef OP_REAL_DECL

static void resolve(void)
{
	int saved = errno;
	void *p;

	OP_GUARD_ENTER();
#define OP_REAL_LOAD(name, ret, args) \
	p = dlsym(RTLD_NEXT, #name); \
	if (!p || p == (void *)&name) { \
		if (p) \
			op_log(OP_LOG_WARN, "%s resolves to otelpreload itself; the call fails with ENOSYS", #name); \
		p = (void *)&missing; \
	} \
	real.name = (ret (*) args)p;
	OP_REAL_FUNCS(OP_REAL_LOAD)
#undef OP_REAL_LOAD
	OP_GUARD_LEAVE();
	errno = saved;
}

const struct op_real *op_real_resolve(void)
{
	pthread_once(&resolve_once, resolve);
	return &real;
}
