/*
 * Data hooks: every public entry point that moves bytes on a socket,
 * including glibc's fortified ones (Debian builds with _FORTIFY_SOURCE, so
 * a program's read() is often __read_chk). libc's internal calls cannot be
 * interposed, which is why each entry point is hooked separately.
 *
 * An fd the library does not track costs one table load and a branch
 * after the real call; nothing else happens and errno is untouched.
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
	ssize_t r = REAL(read)(fd, buf, n);

	op_count_in(fd, r);
	return r;
}

OP_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	ssize_t r;

	if (OP_UNLIKELY(n > buflen))
		return REAL(__read_chk)(fd, buf, n, buflen);
	r = REAL(read)(fd, buf, n);
	op_count_in(fd, r);
	return r;
}

OP_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t r = REAL(readv)(fd, iov, iovcnt);

	op_count_in(fd, r);
	return r;
}

OP_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	ssize_t r = REAL(recv)(fd, buf, n, flags);

	/* MSG_PEEK leaves the bytes in the socket: they are counted when read. */
	if (!(flags & MSG_PEEK))
		op_count_in(fd, r);
	return r;
}

OP_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	ssize_t r;

	if (OP_UNLIKELY(n > buflen))
		return REAL(__recv_chk)(fd, buf, n, buflen, flags);
	r = REAL(recv)(fd, buf, n, flags);

	if (!(flags & MSG_PEEK))
		op_count_in(fd, r);
	return r;
}

OP_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			   struct sockaddr *addr, socklen_t *alen)
{
	ssize_t r = REAL(recvfrom)(fd, buf, n, flags, addr, alen);

	if (!(flags & MSG_PEEK))
		op_count_in(fd, r);
	return r;
}

OP_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *addr, socklen_t *alen)
{
	ssize_t r;

	if (OP_UNLIKELY(n > buflen))
		return REAL(__recvfrom_chk)(fd, buf, n, buflen, flags, addr, alen);
	r = REAL(recvfrom)(fd, buf, n, flags, addr, alen);

	if (!(flags & MSG_PEEK))
		op_count_in(fd, r);
	return r;
}

OP_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	ssize_t r = REAL(recvmsg)(fd, msg, flags);

	if (!(flags & MSG_PEEK))
		op_count_in(fd, r);
	return r;
}

OP_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags,
		       struct timespec *timeout)
{
	int r = REAL(recvmmsg)(fd, v, n, flags, timeout);

	if (r > 0 && !(flags & MSG_PEEK) && OP_UNLIKELY(op_fd_get(fd) != NULL))
		for (int i = 0; i < r; i++)
			op_count_in(fd, (ssize_t)v[i].msg_len);
	return r;
}

OP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	ssize_t r = REAL(write)(fd, buf, n);

	op_count_out(fd, r);
	return r;
}

OP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t r = REAL(writev)(fd, iov, iovcnt);

	op_count_out(fd, r);
	return r;
}

OP_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	ssize_t r = REAL(send)(fd, buf, n, flags);

	op_count_out(fd, r);
	return r;
}

OP_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			 const struct sockaddr *addr, socklen_t alen)
{
	ssize_t r = REAL(sendto)(fd, buf, n, flags, addr, alen);

	op_count_out(fd, r);
	return r;
}

OP_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	ssize_t r = REAL(sendmsg)(fd, msg, flags);

	op_count_out(fd, r);
	return r;
}

OP_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)
{
	int r = REAL(sendmmsg)(fd, v, n, flags);

	if (r > 0 && OP_UNLIKELY(op_fd_get(fd) != NULL))
		for (int i = 0; i < r; i++)
			op_count_out(fd, (ssize_t)v[i].msg_len);
	return r;
}

OP_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	ssize_t r = REAL(sendfile)(out, in, off, n);

	op_count_out(out, r);
	return r;
}

OP_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
	ssize_t r = REAL(sendfile64)(out, in, off, n);

	op_count_out(out, r);
	return r;
}
