/*
 * What every hook file shares. A hook is a few lines: an fd the library
 * does not follow goes straight to libc; one it follows is handed to the
 * protocol engine, with errno preserved around our own work.
 */
#ifndef OP_HOOK_H
#define OP_HOOK_H

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "../preload/engine.h"
#include "../preload/fdtable.h"
#include "../preload/op.h"
#include "../preload/real.h"

/* glibc's fortified entry points, which no public header declares. */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
		       struct sockaddr *addr, socklen_t *alen);

/*
 * The engine has nothing to do with this fd: it is untracked, known not to
 * carry HTTP, or the calling thread is otelpreload's own.
 */
static inline bool op_hook_skip(int fd)
{
	struct op_fd *f = op_fd_get(fd);

	return OP_LIKELY(f == NULL) ||
	       atomic_load_explicit(&f->proto, memory_order_relaxed) == OP_PROTO_OTHER ||
	       op_guard || op_disabled;
}

/* After an inbound call returned `r`: shows its bytes to the engine. */
ssize_t op_hook_in(int fd, const struct iovec *iov, int iovcnt, ssize_t r);

/* An outbound call through the engine; `pl` is the application's own call. */
ssize_t op_hook_out(int fd, const struct iovec *iov, int iovcnt, int flags, int can_inject,
		    const struct op_plain *pl);

#endif
