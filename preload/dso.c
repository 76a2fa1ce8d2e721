#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dso.h"
#include "op.h"

/* One object defining a set: its functions, looked up in its own scope. */
struct op_dso_provider {
	void *base;                    /* dli_fbase of the object */
	struct op_dso_provider *next;
	void *fns[];
};

static pthread_mutex_t op_dso_lock = PTHREAD_MUTEX_INITIALIZER;

/* Our own object, which must never be taken for the real library. */
static void *self_base(void)
{
	Dl_info me;

	return dladdr((void *)self_base, &me) ? me.dli_fbase : NULL;
}

static void *base_of(const void *p)
{
	Dl_info i;

	return p && dladdr(p, &i) ? i.dli_fbase : NULL;
}

/* `name` in the dependency scope of the object holding `addr`. */
static void *scoped(const void *addr, const char *name)
{
	Dl_info i;
	void *h, *p;

	if (!dladdr(addr, &i) || !i.dli_fname || !i.dli_fname[0])
		return NULL;
	/* RTLD_NOLOAD: only what is loaded already; the reference keeps it so. */
	h = dlopen(i.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	if (!h)
		return NULL;
	p = dlsym(h, name);
	return p;
}

static struct op_dso_provider *provider_for(struct op_dso *d, void *first)
{
	void *base = base_of(first);
	struct op_dso_provider *p;
	size_t n = 0;

	for (p = d->providers; p; p = p->next)
		if (p->base == base)
			return p;
	while (d->names[n])
		n++;
	p = calloc(1, sizeof *p + n * sizeof p->fns[0]);
	if (!p)
		return NULL;
	p->base = base;
	p->fns[0] = first;
	for (size_t i = 1; i < n; i++)
		p->fns[i] = scoped(first, d->names[i]);
	p->next = d->providers;
	d->providers = p;
	return p;
}

void *const *op_dso_resolve(struct op_dso *d, const void *ra)
{
	void *self = self_base(), *first = NULL;
	struct op_dso_provider *p = NULL;
	int saved = errno;

	OP_GUARD_ENTER();
	pthread_mutex_lock(&op_dso_lock);
	/* The library the caller was linked against, if it is not the main program. */
	if (base_of(ra) != self) {
		first = scoped(ra, d->names[0]);
		if (first && base_of(first) == self)
			first = NULL;   /* the main program's scope starts with the preloads */
	}
	if (!first) {
		first = dlsym(RTLD_NEXT, d->names[0]);
		if (first && base_of(first) == self)
			first = NULL;
	}
	if (first)
		p = provider_for(d, first);
	if (p) {
		size_t k = ((uintptr_t)ra >> 2) % OP_DSO_SITES;
		struct op_dso_site *s = atomic_load_explicit(&d->sites[k], memory_order_relaxed), *n;

		while (s && s->ra != ra)
			s = s->next;
		if (!s && (n = malloc(sizeof *n))) {
			n->ra = ra;
			n->fns = (void *const *)p->fns;
			n->next = atomic_load_explicit(&d->sites[k], memory_order_relaxed);
			atomic_store_explicit(&d->sites[k], n, memory_order_release);
		}
	} else if (!d->warned) {
		d->warned = 1;
		op_warn("cannot find the real %s for a call to %s; the call fails", d->what,
			d->names[0]);
	}
	pthread_mutex_unlock(&op_dso_lock);
	OP_GUARD_LEAVE();
	errno = saved;
	return p ? (void *const *)p->fns : NULL;
}

void op_dso_atfork_prepare(void)
{
	pthread_mutex_lock(&op_dso_lock);
}

void op_dso_atfork_parent(void)
{
	pthread_mutex_unlock(&op_dso_lock);
}

void op_dso_atfork_child(void)
{
	pthread_mutex_unlock(&op_dso_lock);
}
