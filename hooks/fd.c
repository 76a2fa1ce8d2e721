/*
 * Hooks that copy and destroy fds. State is forgotten before the real
 * close, never after: once the number is free another thread may be handed
 * it by socket() or accept(), and clearing afterwards would erase that new
 * fd's state.
 *
 * close() is not retried on EINTR (Linux releases the fd whatever close
 * returns), and neither is anything else here: the host sees exactly the
 * result the real call gave.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>
#if __has_include(<linux/close_range.h>)
#include <linux/close_range.h>
#else
#define CLOSE_RANGE_UNSHARE (1U << 1)   /* musl-gcc sees no kernel headers */
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#include <stdio.h>

#include "hook.h"
#include "../preload/procenv.h"

OP_EXPORT int close(int fd)
{
	if (OP_UNLIKELY(op_fd_get(fd) != NULL) && !op_vfork_child()) {
		int saved = errno;

		op_fd_forget(fd);
		errno = saved;
	}
	return REAL(close)(fd);
}

OP_EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	/*
	 * Forgotten before the call (another thread may reuse a number the
	 * moment it is closed), but only when the kernel will accept the call:
	 * a range it refuses (unknown flags) leaves every fd open.
	 */
	if (!(flags & ~(CLOSE_RANGE_CLOEXEC | CLOSE_RANGE_UNSHARE)) &&
	    !(flags & CLOSE_RANGE_CLOEXEC) && first <= last && !op_vfork_child()) {
		int saved = errno;

		op_fd_forget_range(first, last);
		errno = saved;
	}
	return REAL(close_range)(first, last, flags);
}

/* glibc's closefrom() calls close_range() internally, where we cannot see it. */
OP_EXPORT void closefrom(int lowfd)
{
	if (lowfd >= 0 && !op_vfork_child()) {
		int saved = errno;

		op_fd_forget_range((unsigned int)lowfd, ~0U);
		errno = saved;
	}
	REAL(closefrom)(lowfd);
}

/* fclose() of an fdopen()ed socket closes the fd inside libc, where close() is not seen. */
OP_EXPORT int fclose(FILE *stream)
{
	int fd;

	if (OP_UNLIKELY(op_fd_table != NULL) && stream && (fd = fileno(stream)) >= 0 &&
	    op_fd_get(fd) != NULL && !op_vfork_child()) {
		int saved = errno;

		op_fd_forget(fd);
		errno = saved;
	}
	return REAL(fclose)(stream);
}

/*
 * New descriptors start with no state. socket() and accept() see to that
 * for theirs; a socketpair may reuse numbers whose close we did not see
 * (syscall(SYS_close)), whose stale state would make us write HTTP headers
 * into a Unix stream.
 */
OP_EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	int r = REAL(socketpair)(domain, type, protocol, sv);

	if (r == 0 && OP_UNLIKELY(op_fd_table != NULL)) {
		int saved = errno;

		if (op_fd_get(sv[0]))
			op_fd_forget(sv[0]);
		if (op_fd_get(sv[1]))
			op_fd_forget(sv[1]);
		errno = saved;
	}
	return r;
}

/* After a successful dup-like call: `newfd` now names what `oldfd` names. */
static void copied(int oldfd, int newfd)
{
	int saved = errno;

	if (newfd >= 0 && newfd != oldfd && !op_disabled &&
	    (op_fd_get(oldfd) || op_fd_get(newfd)) && !op_vfork_child())
		op_fd_copy(oldfd, newfd);
	errno = saved;
}

OP_EXPORT int dup(int fd)
{
	int n = REAL(dup)(fd);

	copied(fd, n);
	return n;
}

OP_EXPORT int dup2(int fd, int newfd)
{
	int n = REAL(dup2)(fd, newfd);

	copied(fd, n);
	return n;
}

OP_EXPORT int dup3(int fd, int newfd, int flags)
{
	int n = REAL(dup3)(fd, newfd, flags);

	copied(fd, n);
	return n;
}

/*
 * fcntl's third argument is an int or a pointer depending on `cmd`; it is
 * forwarded as a pointer-sized value, which the real fcntl reads back as
 * whichever type the command takes (the same register on our ABIs).
 */
#define FCNTL_HOOK(name) \
	OP_EXPORT int name(int fd, int cmd, ...) \
	{ \
		va_list ap; \
		void *arg; \
		int r; \
		va_start(ap, cmd); \
		arg = va_arg(ap, void *); \
		va_end(ap); \
		r = REAL(name)(fd, cmd, arg); \
		if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) \
			copied(fd, r); \
		return r; \
	}

FCNTL_HOOK(fcntl)
FCNTL_HOOK(fcntl64)
