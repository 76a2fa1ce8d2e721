#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "engine.h"
#include "fdtable.h"

_Atomic(struct op_fd *) *_Atomic op_fd_table;
unsigned op_fd_table_size;

static pthread_once_t table_once = PTHREAD_ONCE_INIT;

/*
 * The pool of state objects. `pool_lock` protects `pool_free` and the
 * slab allocation; it is held for a few instructions and no other lock is
 * taken under it.
 */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct op_fd *pool_free;

/* Objects per slab: one 64 KiB mmap at a time, enough for ~1000 sockets. */
#define OP_FD_SLAB_BYTES (64u * 1024)

static void table_map(void)
{
	struct rlimit rl;
	size_t n = 1024;
	void *p;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max > n)
		n = rl.rlim_max > OP_FD_TABLE_MAX ? OP_FD_TABLE_MAX : (size_t)rl.rlim_max;
	/* MAP_NORESERVE: only the pages holding tracked fds are ever touched. */
	p = mmap(NULL, n * sizeof(struct op_fd *), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		op_debug("cannot map the fd table (%zu entries); sockets are not traced", n);
		return;
	}
	op_fd_table_size = (unsigned)n;
	atomic_store_explicit(&op_fd_table, (_Atomic(struct op_fd *) *)p, memory_order_release);
}

static struct op_fd *pool_get(void)
{
	struct op_fd *f;

	pthread_mutex_lock(&pool_lock);
	if (!pool_free) {
		char *slab = mmap(NULL, OP_FD_SLAB_BYTES, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (slab != MAP_FAILED) {
			size_t i, n = OP_FD_SLAB_BYTES / sizeof *f;

			for (i = 0; i < n; i++) {
				f = (struct op_fd *)(slab + i * sizeof *f);
				f->next_free = pool_free;
				pool_free = f;
			}
		}
	}
	f = pool_free;
	if (f)
		pool_free = f->next_free;
	pthread_mutex_unlock(&pool_lock);
	return f;
}

static void unref(struct op_fd *f)
{
	struct op_http *h;

	if (!f || atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* The last reference: the connection is gone (close, or the last dup closed). */
	h = atomic_exchange_explicit(&f->http, NULL, memory_order_acq_rel);
	if (h)
		op_engine_free(h);
	pthread_mutex_lock(&pool_lock);
	f->next_free = pool_free;
	pool_free = f;
	pthread_mutex_unlock(&pool_lock);
}

struct op_fd *op_fd_track(int fd, enum op_fd_kind kind, int family)
{
	_Atomic(struct op_fd *) *t;
	struct op_fd *f;
	int saved = errno;

	pthread_once(&table_once, table_map);
	t = atomic_load_explicit(&op_fd_table, memory_order_acquire);
	if (!t || fd < 0 || (unsigned)fd >= op_fd_table_size || !(f = pool_get())) {
		errno = saved;
		return NULL;
	}
	atomic_store_explicit(&f->refs, 1, memory_order_relaxed);
	atomic_store_explicit(&f->proto, OP_PROTO_UNKNOWN, memory_order_relaxed);
	atomic_store_explicit(&f->http, NULL, memory_order_relaxed);
	f->kind = (uint8_t)kind;
	f->family = (uint8_t)family;
	f->next_free = NULL;
	unref(atomic_exchange_explicit(&t[fd], f, memory_order_acq_rel));
	errno = saved;
	return f;
}

struct op_fd *op_fd_new(enum op_fd_kind kind)
{
	int saved = errno;
	struct op_fd *f = pool_get();

	if (f) {
		atomic_store_explicit(&f->refs, 1, memory_order_relaxed);
		atomic_store_explicit(&f->proto, OP_PROTO_UNKNOWN, memory_order_relaxed);
		atomic_store_explicit(&f->http, NULL, memory_order_relaxed);
		f->kind = (uint8_t)kind;
		f->family = 0;
		f->next_free = NULL;
	}
	errno = saved;
	return f;
}

struct op_fd *op_fd_acquire(int fd)
{
	struct op_fd *f = op_fd_get(fd);
	uint32_t r;

	if (!f)
		return NULL;
	/* Never revive an object whose count reached zero: it is being recycled. */
	r = atomic_load_explicit(&f->refs, memory_order_relaxed);
	do {
		if (r == 0)
			return NULL;
	} while (!atomic_compare_exchange_weak_explicit(&f->refs, &r, r + 1,
							memory_order_acq_rel, memory_order_relaxed));
	/* Recycled for another fd between the load and the increment. */
	if (op_fd_get(fd) != f) {
		unref(f);
		return NULL;
	}
	return f;
}

void op_fd_release(struct op_fd *f)
{
	unref(f);
}

void op_fd_forget(int fd)
{
	_Atomic(struct op_fd *) *t = atomic_load_explicit(&op_fd_table, memory_order_acquire);

	if (OP_LIKELY(t == NULL) || fd < 0 || (unsigned)fd >= op_fd_table_size)
		return;
	if (atomic_load_explicit(&t[fd], memory_order_relaxed))
		unref(atomic_exchange_explicit(&t[fd], NULL, memory_order_acq_rel));
}

void op_fd_copy(int oldfd, int newfd)
{
	_Atomic(struct op_fd *) *t = atomic_load_explicit(&op_fd_table, memory_order_acquire);
	struct op_fd *f;

	if (OP_LIKELY(t == NULL) || newfd < 0 || (unsigned)newfd >= op_fd_table_size)
		return;
	f = op_fd_get(oldfd);
	if (f)
		atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
	unref(atomic_exchange_explicit(&t[newfd], f, memory_order_acq_rel));
}

void op_fd_forget_range(unsigned lo, unsigned hi)
{
	_Atomic(struct op_fd *) *t = atomic_load_explicit(&op_fd_table, memory_order_acquire);
	unsigned fd;

	if (OP_LIKELY(t == NULL))
		return;
	if (hi >= op_fd_table_size)
		hi = op_fd_table_size - 1;
	for (fd = lo; fd <= hi && fd >= lo; fd++)
		op_fd_forget((int)fd);
}

void op_fd_atfork_prepare(void)
{
	pthread_mutex_lock(&pool_lock);
}

void op_fd_atfork_parent(void)
{
	pthread_mutex_unlock(&pool_lock);
}

void op_fd_atfork_child(void)
{
	/* The child has one thread, the one that took the lock before fork(). */
	pthread_mutex_unlock(&pool_lock);
}
