/*
 * Data hooks: every public entry point that moves bytes on a socket,
 * including glibc's fortified ones (Debian builds with _FORTIFY_SOURCE, so
 * a program's read() is often __read_chk). libc's internal calls cannot be
 * interposed, which is why each entry point is hooked separately.
 *
 * An fd the library does not track costs a table load and a branch, then
 * a tail call into libc; nothing else happens and errno is untouched.
 *
 * The fortified hooks check the buffer bound themselves and call the plain
 * function, saving a hop on the hot path; an overflowing call goes to the
 * real _chk function, which aborts exactly as it would without us.
 */
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"

OP_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(read)(fd, buf, n);
	r = REAL(read)(fd, buf, n);
	op_count_in(f, r);
	return r;
}

OP_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct op_fd *f;
	ssize_t r;

	if (OP_UNLIKELY(n > buflen))
		return REAL(__read_chk)(fd, buf, n, buflen);
	f = op_fd_get(fd);
	if (OP_LIKELY(f == NULL))
		return REAL(read)(fd, buf, n);
	r = REAL(read)(fd, buf, n);
	op_count_in(f, r);
	return r;
}

OP_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(readv)(fd, iov, iovcnt);
	r = REAL(readv)(fd, iov, iovcnt);
	op_count_in(f, r);
	return r;
}

OP_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(recv)(fd, buf, n, flags);
	r = REAL(recv)(fd, buf, n, flags);
	/* MSG_PEEK leaves the bytes in the socket: they are counted when read. */
	if (!(flags & MSG_PEEK))
		op_count_in(f, r);
	return r;
}

OP_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	struct op_fd *f;
	ssize_t r;

	if (OP_UNLIKELY(n > buflen))
		return REAL(__recv_chk)(fd, buf, n, buflen, flags);
	f = op_fd_get(fd);
	if (OP_LIKELY(f == NULL))
		return REAL(recv)(fd, buf, n, flags);
	r = REAL(recv)(fd, buf, n, flags);
	if (!(flags & MSG_PEEK))
		op_count_in(f, r);
	return r;
}

OP_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			   struct sockaddr *addr, socklen_t *alen)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(recvfrom)(fd, buf, n, flags, addr, alen);
	r = REAL(recvfrom)(fd, buf, n, flags, addr, alen);
	if (!(flags & MSG_PEEK))
		op_count_in(f, r);
	return r;
}

OP_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *addr, socklen_t *alen)
{
	struct op_fd *f;
	ssize_t r;

	if (OP_UNLIKELY(n > buflen))
		return REAL(__recvfrom_chk)(fd, buf, n, buflen, flags, addr, alen);
	f = op_fd_get(fd);
	if (OP_LIKELY(f == NULL))
		return REAL(recvfrom)(fd, buf, n, flags, addr, alen);
	r = REAL(recvfrom)(fd, buf, n, flags, addr, alen);
	if (!(flags & MSG_PEEK))
		op_count_in(f, r);
	return r;
}

OP_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(recvmsg)(fd, msg, flags);
	r = REAL(recvmsg)(fd, msg, flags);
	if (!(flags & MSG_PEEK))
		op_count_in(f, r);
	return r;
}

OP_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
		       struct timespec *timeout)
{
	struct op_fd *f = op_fd_get(fd);
	int r;

	if (OP_LIKELY(f == NULL))
		return REAL(recvmmsg)(fd, v, n, flags, timeout);
	r = REAL(recvmmsg)(fd, v, n, flags, timeout);
	for (int i = 0; i < r && !(flags & MSG_PEEK); i++)
		op_count_in(f, (ssize_t)v[i].msg_len);
	return r;
}

OP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(write)(fd, buf, n);
	r = REAL(write)(fd, buf, n);
	op_count_out(f, r);
	return r;
}

OP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(writev)(fd, iov, iovcnt);
	r = REAL(writev)(fd, iov, iovcnt);
	op_count_out(f, r);
	return r;
}

OP_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(send)(fd, buf, n, flags);
	r = REAL(send)(fd, buf, n, flags);
	op_count_out(f, r);
	return r;
}

OP_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			 const struct sockaddr *addr, socklen_t alen)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(sendto)(fd, buf, n, flags, addr, alen);
	r = REAL(sendto)(fd, buf, n, flags, addr, alen);
	op_count_out(f, r);
	return r;
}

OP_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	struct op_fd *f = op_fd_get(fd);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(sendmsg)(fd, msg, flags);
	r = REAL(sendmsg)(fd, msg, flags);
	op_count_out(f, r);
	return r;
}

OP_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	struct op_fd *f = op_fd_get(fd);
	int r;

	if (OP_LIKELY(f == NULL))
		return REAL(sendmmsg)(fd, v, n, flags);
	r = REAL(sendmmsg)(fd, v, n, flags);
	for (int i = 0; i < r; i++)
		op_count_out(f, (ssize_t)v[i].msg_len);
	return r;
}

OP_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	struct op_fd *f = op_fd_get(out);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(sendfile)(out, in, off, n);
	r = REAL(sendfile)(out, in, off, n);
	op_count_out(f, r);
	return r;
}

OP_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
	struct op_fd *f = op_fd_get(out);
	ssize_t r;

	if (OP_LIKELY(f == NULL))
		return REAL(sendfile64)(out, in, off, n);
	r = REAL(sendfile64)(out, in, off, n);
	op_count_out(f, r);
	return r;
}
