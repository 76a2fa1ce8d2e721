/*
 * What every hook file shares. A hook is a few lines: call the real
 * function, then hand what it learned to the fd table (and, from the next
 * layer up, the protocol engine), preserving errno around our own work.
 */
#ifndef OP_HOOK_H
#define OP_HOOK_H

#include <errno.h>
#include <stdatomic.h>

#include "../preload/fdtable.h"
#include "../preload/op.h"
#include "../preload/real.h"

/* glibc's fortified entry points, which no public header declares. */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *alen);

/*
 * Bytes the application moved on a tracked fd. Hooks look the fd up before
 * the real call, so the untracked case is a tail call into libc: no return
 * path through the hook at all.
 */
static inline void op_count_in(struct op_fd *f, ssize_t n)
{
	if (n > 0)
		atomic_fetch_add_explicit(&f->bytes_in, (uint64_t)n, memory_order_relaxed);
}

static inline void op_count_out(struct op_fd *f, ssize_t n)
{
	if (n > 0)
		atomic_fetch_add_explicit(&f->bytes_out, (uint64_t)n, memory_order_relaxed);
}

#endif
