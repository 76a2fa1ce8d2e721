/*
 * Data hooks: every public entry point that moves bytes on a socket,
 * including glibc's fortified ones (Debian builds with _FORTIFY_SOURCE, so
 * a program's read() is often __read_chk). libc's internal calls cannot be
 * interposed, which is why each entry point is hooked separately.
 *
 * An fd the library does not follow costs a table load and a branch, then
 * a tail call into libc. The fortified hooks check the buffer bound
 * themselves; an overflowing call goes to the real _chk function, which
 * aborts exactly as it would without us.
 */
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook.h"

ssize_t op_hook_in(int fd, const struct iovec *iov, int iovcnt, ssize_t r)
{
	int err = errno;
	struct op_fd *f = op_fd_acquire(fd);

	if (f) {
		OP_GUARD_ENTER();
		op_engine_recv(f, fd, iov, iovcnt, r, err);
		OP_GUARD_LEAVE();
		op_fd_release(f);
	}
	errno = err;
	return r;
}

ssize_t op_hook_out(int fd, const struct iovec *iov, int iovcnt, int flags, int can_inject,
		    const struct op_plain *pl)
{
	struct op_fd *f = op_fd_acquire(fd);
	ssize_t r;
	int err;

	if (!f)
		return pl->fn(pl);
	/*
	 * The guard marks this thread as inside the engine (holding a
	 * connection lock at times): a signal handler that closes a socket
	 * then must not wait for that lock (op_engine_free).
	 */
	OP_GUARD_ENTER();
	r = op_engine_send(f, iov, iovcnt, flags, can_inject, pl);
	OP_GUARD_LEAVE();
	err = errno;
	op_fd_release(f);
	errno = err;
	return r;
}

/* One contiguous buffer as the engine sees it. */
static ssize_t in1(int fd, void *buf, ssize_t r)
{
	struct iovec v = { buf, r > 0 ? (size_t)r : 0 };

	return op_hook_in(fd, &v, 1, r);
}

/*
 * MSG_PEEK leaves the bytes in the socket: the engine sees them when read.
 * MSG_TRUNC on a TCP socket discards them without filling the buffer: the
 * stream can no longer be followed, so the engine is told to let it go.
 */
static ssize_t truncated(int fd, ssize_t r)
{
	int err = errno;
	struct op_fd *f;

	if (r > 0 && (f = op_fd_acquire(fd))) {
		OP_GUARD_ENTER();
		op_engine_lost(f);
		OP_GUARD_LEAVE();
		op_fd_release(f);
	}
	errno = err;
	return r;
}

/* Out of line, like the send side's: the pass-through path stays a tail call. */
__attribute__((noinline)) static ssize_t read_traced(int fd, void *buf, size_t n)
{
	return in1(fd, buf, REAL(read)(fd, buf, n));
}

__attribute__((noinline)) static ssize_t recv_traced(int fd, void *buf, size_t n, int flags)
{
	if (flags & MSG_TRUNC)
		return truncated(fd, REAL(recv)(fd, buf, n, flags));
	return in1(fd, buf, REAL(recv)(fd, buf, n, flags));
}

OP_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (op_hook_skip(fd))
		return REAL(read)(fd, buf, n);
	return read_traced(fd, buf, n);
}

OP_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (OP_UNLIKELY(n > buflen))
		return REAL(__read_chk)(fd, buf, n, buflen);
	if (op_hook_skip(fd))
		return REAL(read)(fd, buf, n);
	return read_traced(fd, buf, n);
}

OP_EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	if (op_hook_skip(fd))
		return REAL(readv)(fd, iov, iovcnt);
	return op_hook_in(fd, iov, iovcnt, REAL(readv)(fd, iov, iovcnt));
}

OP_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	if ((flags & MSG_PEEK) || op_hook_skip(fd))
		return REAL(recv)(fd, buf, n, flags);
	return recv_traced(fd, buf, n, flags);
}

OP_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (OP_UNLIKELY(n > buflen))
		return REAL(__recv_chk)(fd, buf, n, buflen, flags);
	if ((flags & MSG_PEEK) || op_hook_skip(fd))
		return REAL(recv)(fd, buf, n, flags);
	return recv_traced(fd, buf, n, flags);
}

OP_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags,
			   struct sockaddr *addr, socklen_t *alen)
{
	if ((flags & MSG_PEEK) || op_hook_skip(fd))
		return REAL(recvfrom)(fd, buf, n, flags, addr, alen);
	if (flags & MSG_TRUNC)
		return truncated(fd, REAL(recvfrom)(fd, buf, n, flags, addr, alen));
	return in1(fd, buf, REAL(recvfrom)(fd, buf, n, flags, addr, alen));
}

OP_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *addr, socklen_t *alen)
{
	if (OP_UNLIKELY(n > buflen))
		return REAL(__recvfrom_chk)(fd, buf, n, buflen, flags, addr, alen);
	if ((flags & MSG_PEEK) || op_hook_skip(fd))
		return REAL(recvfrom)(fd, buf, n, flags, addr, alen);
	if (flags & MSG_TRUNC)
		return truncated(fd, REAL(recvfrom)(fd, buf, n, flags, addr, alen));
	return in1(fd, buf, REAL(recvfrom)(fd, buf, n, flags, addr, alen));
}

OP_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if ((flags & MSG_PEEK) || op_hook_skip(fd))
		return REAL(recvmsg)(fd, msg, flags);
	if (flags & MSG_TRUNC)
		return truncated(fd, REAL(recvmsg)(fd, msg, flags));
	return op_hook_in(fd, msg->msg_iov, (int)msg->msg_iovlen, REAL(recvmsg)(fd, msg, flags));
}

OP_EXPORT int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, OP_MMSG_FLAGS flags,
		       struct timespec *timeout)
{
	int r, err;

	if ((flags & MSG_PEEK) || op_hook_skip(fd))
		return REAL(recvmmsg)(fd, v, n, flags, timeout);
	if (flags & MSG_TRUNC)
		return (int)truncated(fd, REAL(recvmmsg)(fd, v, n, flags, timeout));
	r = REAL(recvmmsg)(fd, v, n, flags, timeout);
	err = errno;
	for (int i = 0; i < r; i++)
		op_hook_in(fd, v[i].msg_hdr.msg_iov, (int)v[i].msg_hdr.msg_iovlen,
			   (ssize_t)v[i].msg_len);
	errno = err;
	return r;
}

static ssize_t plain_write(const struct op_plain *p)
{
	return REAL(write)(p->fd, p->buf, p->len);
}

static ssize_t plain_send(const struct op_plain *p)
{
	return REAL(send)(p->fd, p->buf, p->len, p->flags);
}

static ssize_t plain_sendto(const struct op_plain *p)
{
	return REAL(sendto)(p->fd, p->buf, p->len, p->flags, p->addr, p->addrlen);
}

static ssize_t plain_writev(const struct op_plain *p)
{
	return REAL(writev)(p->fd, p->iov, p->iovcnt);
}

static ssize_t plain_sendmsg(const struct op_plain *p)
{
	return REAL(sendmsg)(p->fd, p->msg, p->flags);
}

/*
 * The traced halves of the send hooks live out of line: the hooks
 * themselves then stay a test and a tail call for the fds we do not follow
 * (building the call description up front cost a dozen instructions on
 * every pass-through write).
 */
__attribute__((noinline)) static ssize_t out_buf(const struct op_plain *pl)
{
	struct iovec v = { (void *)pl->buf, pl->len };

	return op_hook_out(pl->fd, &v, 1, pl->flags, 1, pl);
}

__attribute__((noinline)) static ssize_t write_traced(int fd, const void *buf, size_t n)
{
	struct op_plain pl = { .fn = plain_write, .fd = fd, .buf = buf, .len = n };

	return out_buf(&pl);
}

OP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (op_hook_skip(fd))
		return REAL(write)(fd, buf, n);
	return write_traced(fd, buf, n);
}

__attribute__((noinline)) static ssize_t writev_traced(int fd, const struct iovec *iov, int iovcnt)
{
	struct op_plain pl = { .fn = plain_writev, .fd = fd, .iov = iov, .iovcnt = iovcnt };

	return op_hook_out(fd, iov, iovcnt, 0, 1, &pl);
}

OP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	if (op_hook_skip(fd))
		return REAL(writev)(fd, iov, iovcnt);
	return writev_traced(fd, iov, iovcnt);
}

__attribute__((noinline)) static ssize_t send_traced(int fd, const void *buf, size_t n, int flags)
{
	struct op_plain pl = { .fn = plain_send, .fd = fd, .buf = buf, .len = n, .flags = flags };

	return out_buf(&pl);
}

OP_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	if (op_hook_skip(fd))
		return REAL(send)(fd, buf, n, flags);
	return send_traced(fd, buf, n, flags);
}

__attribute__((noinline)) static ssize_t sendto_traced(int fd, const void *buf, size_t n, int flags,
						       const struct sockaddr *addr, socklen_t alen)
{
	struct op_plain pl = { .fn = plain_sendto, .fd = fd, .buf = buf, .len = n,
			       .flags = flags, .addr = addr, .addrlen = alen };

	/* TCP ignores the address of a connected socket; a rewrite may drop it. */
	return out_buf(&pl);
}

OP_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
			 const struct sockaddr *addr, socklen_t alen)
{
	if (op_hook_skip(fd))
		return REAL(sendto)(fd, buf, n, flags, addr, alen);
	return sendto_traced(fd, buf, n, flags, addr, alen);
}

__attribute__((noinline)) static ssize_t sendmsg_traced(int fd, const struct msghdr *msg, int flags)
{
	struct op_plain pl = { .fn = plain_sendmsg, .fd = fd, .msg = msg, .flags = flags };

	/* Ancillary data must reach the kernel exactly as given: no rewrite. */
	return op_hook_out(fd, msg->msg_iov, (int)msg->msg_iovlen, flags,
			   msg->msg_controllen == 0, &pl);
}

OP_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	/* A bad msghdr is the kernel's to refuse (EFAULT), not ours to read. */
	if (op_hook_skip(fd) || (uintptr_t)msg < 65536)
		return REAL(sendmsg)(fd, msg, flags);
	return sendmsg_traced(fd, msg, flags);
}

/*
 * On a stream socket sendmmsg is a series of sendmsg calls; on a followed
 * fd it is performed as such, so each message goes through the engine.
 */
OP_EXPORT int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, OP_MMSG_FLAGS flags)
{
	unsigned int i;

	if (op_hook_skip(fd) || (n && (uintptr_t)v < 65536))
		return REAL(sendmmsg)(fd, v, n, flags);
	for (i = 0; i < n; i++) {
		struct msghdr *m = &v[i].msg_hdr;
		struct op_plain pl = { .fn = plain_sendmsg, .fd = fd, .msg = m, .flags = flags };
		size_t total = 0;
		ssize_t r;

		for (size_t k = 0; k < (size_t)m->msg_iovlen; k++)   /* an int on musl */
			total += m->msg_iov[k].iov_len;
		r = op_hook_out(fd, m->msg_iov, (int)m->msg_iovlen, flags, m->msg_controllen == 0, &pl);
		if (r < 0)
			return i > 0 ? (int)i : -1;
		v[i].msg_len = (unsigned int)r;
		if ((size_t)r < total)
			return (int)i + 1;
	}
	return (int)n;
}

static void sent_file(int fd, ssize_t r)
{
	int err = errno;
	struct op_fd *f = op_fd_acquire(fd);

	if (f) {
		OP_GUARD_ENTER();
		op_engine_sendfile(f, r);
		OP_GUARD_LEAVE();
		op_fd_release(f);
	}
	errno = err;
}

OP_EXPORT ssize_t sendfile(int out, int in, off_t *off, size_t n)
{
	ssize_t r;

	if (op_hook_skip(out))
		return REAL(sendfile)(out, in, off, n);
	r = REAL(sendfile)(out, in, off, n);
	sent_file(out, r);
	return r;
}

/*
 * splice() into a socket is a body the application did not write() (as
 * sendfile); out of a socket, bytes we did not see arrive, so the
 * connection is no longer followed (a scanner that lost its place must
 * never take body bytes for a head and write into them).
 */
OP_EXPORT ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t n,
			 unsigned int flags)
{
	ssize_t r;
	int err;
	struct op_fd *f;

	if (op_hook_skip(in) && op_hook_skip(out))
		return REAL(splice)(in, off_in, out, off_out, n, flags);
	r = REAL(splice)(in, off_in, out, off_out, n, flags);
	if (!op_hook_skip(out))
		sent_file(out, r);
	if (r > 0 && !op_hook_skip(in)) {
		err = errno;
		if ((f = op_fd_acquire(in))) {
			OP_GUARD_ENTER();
			op_engine_lost(f);
			OP_GUARD_LEAVE();
			op_fd_release(f);
		}
		errno = err;
	}
	return r;
}

OP_EXPORT ssize_t sendfile64(int out, int in, off64_t *off, size_t n)
{
	ssize_t r;

	if (op_hook_skip(out))
		return REAL(sendfile64)(out, in, off, n);
	r = REAL(sendfile64)(out, in, off, n);
	sent_file(out, r);
	return r;
}
