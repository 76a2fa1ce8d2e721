/*
 * Hooks that create and connect sockets: they decide which fds the library
 * tracks (TCP over IPv4 and IPv6) and clear stale state for every new fd.
 */
#include <netinet/in.h>
#include <sys/socket.h>

#include "hook.h"

static bool is_tcp(int domain, int type, int protocol)
{
	return (domain == AF_INET || domain == AF_INET6) &&
	       (type & 0xf) == SOCK_STREAM &&
	       (protocol == 0 || protocol == IPPROTO_TCP);
}

/*
 * A listening socket this process did not create (inherited across exec,
 * or from systemd socket activation): ask the kernel once, then remember.
 */
static struct op_fd *classify_listener(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	int proto = 0;
	socklen_t plen = sizeof proto;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6) ||
	    getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &plen) != 0 ||
	    proto != IPPROTO_TCP)
		return NULL;
	return op_fd_track(fd, OP_FD_TCP, ss.ss_family);
}

OP_EXPORT int socket(int domain, int type, int protocol)
{
	int fd = REAL(socket)(domain, type, protocol);
	int saved = errno;

	if (fd < 0 || op_disabled)
		return fd;
	if (!op_guard && !op_quiet && is_tcp(domain, type, protocol))
		op_fd_track(fd, OP_FD_TCP, domain);
	else
		op_fd_forget(fd);
	errno = saved;
	return fd;
}

OP_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int rc = REAL(connect)(fd, addr, len);
	int saved = errno;
	struct op_fd *f = op_fd_get(fd);

	/*
	 * A blocking connect() interrupted by a signal goes on in the
	 * background, exactly like a non-blocking one (EINPROGRESS).
	 */
	if (f && (rc == 0 || saved == EINPROGRESS || saved == EINTR))
		f->kind = OP_FD_TCP_CLIENT;
	errno = saved;
	return rc;
}

/* The bookkeeping shared by accept and accept4. */
static void accepted(int listener, int fd)
{
	int saved = errno;
	struct op_fd *l;

	if (fd < 0 || op_disabled)
		return;
	l = op_fd_get(listener);
	if (!l && !op_guard)
		l = classify_listener(listener);
	if (l && !op_guard)
		op_fd_track(fd, OP_FD_TCP_SERVER, l->family);
	else
		op_fd_forget(fd);
	errno = saved;
}

OP_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	int c = REAL(accept)(fd, addr, len);

	accepted(fd, c);
	return c;
}

OP_EXPORT int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	int c = REAL(accept4)(fd, addr, len, flags);

	accepted(fd, c);
	return c;
}

OP_EXPORT int shutdown(int fd, int how)
{
	int rc = REAL(shutdown)(fd, how);
	int saved = errno;
	struct op_fd *f;

	if (rc == 0 && !op_hook_skip(fd) && (f = op_fd_acquire(fd))) {
		OP_GUARD_ENTER();
		op_engine_shutdown(f, how);
		OP_GUARD_LEAVE();
		op_fd_release(f);
	}
	errno = saved;
	return rc;
}
