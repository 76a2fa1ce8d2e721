/*
 * The functions of a library the host may load late or privately: OpenSSL,
 * GnuTLS, libcurl. Unlike libc, these cannot be resolved once at start-up:
 * the library may arrive with dlopen() (Python's _ssl, pycurl), possibly
 * with RTLD_LOCAL, where dlsym(RTLD_NEXT) does not see it, and a process
 * may hold two copies: a wheel's bundled libssl next to the system's, or
 * libcurl's OpenSSL and GnuTLS builds (told apart by symbol versions, which
 * our unversioned definitions cannot see).
 *
 * A hook therefore resolves for its caller: the definition in the caller's
 * own dependency scope (the library it was linked against, whose objects
 * it holds), or, for the main program and when that finds nothing, the
 * global scope's next one. Every function of a set comes from the object
 * that defines the set's first one, so they always belong together.
 * Results are cached per call site: a load and a compare.
 */
#ifndef OP_DSO_H
#define OP_DSO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define OP_DSO_SITES 64

struct op_dso_provider;

struct op_dso_site {
	const void *ra;
	void *const *fns;
	struct op_dso_site *next;  /* call sites sharing the slot; never freed */
};

struct op_dso {
	const char *what;              /* for the log: "OpenSSL" */
	const char *const *names;      /* NULL-terminated; names[0] decides the provider */
	_Atomic(struct op_dso_site *) sites[OP_DSO_SITES];
	struct op_dso_provider *providers;  /* under op_dso_lock */
	int warned;
};

void *const *op_dso_resolve(struct op_dso *d, const void *ra);

/* fork(): the resolver's lock is held across it; the child re-creates it. */
void op_dso_atfork_prepare(void);
void op_dso_atfork_parent(void);
void op_dso_atfork_child(void);

/*
 * The function table for a hook called from return address `ra`:
 * fns[i] is names[i] (NULL where the provider lacks it). NULL when the
 * set's first function cannot be found at all (logged once).
 */
static inline void *const *op_dso_fns(struct op_dso *d, const void *ra)
{
	struct op_dso_site *s = atomic_load_explicit(&d->sites[((uintptr_t)ra >> 2) % OP_DSO_SITES],
						     memory_order_acquire);

	while (s && s->ra != ra)
		s = s->next;
	return s ? s->fns : op_dso_resolve(d, ra);
}

#endif
