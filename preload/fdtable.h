/*
 * Per-fd state: a flat array of pointers indexed by fd, so an fd the
 * library does not care about costs one load and one branch.
 *
 * Entries are read with acquire loads and written with release stores by
 * whichever thread creates, copies or destroys the fd (the hooks of
 * socket, accept, dup*, fcntl, close, close_range). The array is mapped on
 * the first tracked fd, never before, and never unmapped; its size is
 * fixed then (the RLIMIT_NOFILE hard limit, capped at OP_FD_TABLE_MAX).
 * Fds at or above the size are simply not traced.
 *
 * State objects are reference-counted (dup'ed fds share one) and come
 * from a type-stable pool: memory is recycled but never returned to the
 * system, so a thread still holding a pointer to an object that another
 * thread released reads stale data, never unmapped memory.
 */
#ifndef OP_FDTABLE_H
#define OP_FDTABLE_H

#include <stdatomic.h>
#include <stdint.h>

#include "op.h"

/* 1M fds: 8 MiB of address space, touched only where fds are tracked. */
#define OP_FD_TABLE_MAX (1u << 20)

enum op_fd_kind {
	OP_FD_TCP = 1,        /* a TCP socket not yet connected or accepted */
	OP_FD_TCP_CLIENT,     /* connect()ed by this process */
	OP_FD_TCP_SERVER,     /* returned by accept() */
	/*
	 * A TLS session's plaintext (OpenSSL, GnuTLS), in no fd table slot:
	 * the side is told by the first bytes' direction, as HTTP/1.x clients
	 * always speak first.
	 */
	OP_FD_TLS,
};

/* What the bytes on a tracked fd are, decided by the first ones. */
enum op_fd_proto {
	OP_PROTO_UNKNOWN = 0,
	OP_PROTO_HTTP,        /* op_fd.http holds the connection's HTTP state */
	OP_PROTO_OTHER,       /* not HTTP/1.x: every hook takes the fast path */
};

struct op_http;

struct op_fd {
	_Atomic uint32_t refs;
	uint8_t kind;         /* enum op_fd_kind */
	uint8_t family;       /* AF_INET or AF_INET6 */
	_Atomic uint8_t proto; /* enum op_fd_proto; only ever moves forward */
	/* Set once (compare-and-swap) with the first HTTP bytes, freed with the object. */
	struct op_http *_Atomic http;
	struct op_fd *next_free;  /* pool free list, under the pool lock */
};

extern _Atomic(struct op_fd *) *_Atomic op_fd_table;
extern unsigned op_fd_table_size;

static inline struct op_fd *op_fd_get(int fd)
{
	_Atomic(struct op_fd *) *t = atomic_load_explicit(&op_fd_table, memory_order_acquire);

	if (OP_LIKELY(t == NULL) || (unsigned)fd >= op_fd_table_size)
		return NULL;
	return atomic_load_explicit(&t[fd], memory_order_acquire);
}

/*
 * A counted reference to `fd`'s state for the duration of a hook, so that a
 * close() in another thread cannot free the HTTP state under it. NULL when
 * the fd is not tracked (or is being released).
 */
struct op_fd *op_fd_acquire(int fd);
void op_fd_release(struct op_fd *f);

/* Starts tracking `fd` (replacing stale state). Returns the object or NULL. */
struct op_fd *op_fd_track(int fd, enum op_fd_kind kind, int family);

/* State for a byte stream that is not an fd (a TLS session), with one reference. */
struct op_fd *op_fd_new(enum op_fd_kind kind);

/* Forgets `fd`, releasing its state. Cheap when nothing is tracked. */
void op_fd_forget(int fd);

/* After dup-like calls: `newfd` shares `oldfd`'s state, or has none. */
void op_fd_copy(int oldfd, int newfd);

/* Forgets every fd in [lo, hi] (close_range). */
void op_fd_forget_range(unsigned lo, unsigned hi);

/* fork(): the pool lock is taken around fork and re-created in the child. */
void op_fd_atfork_prepare(void);
void op_fd_atfork_parent(void);
void op_fd_atfork_child(void);

#endif
