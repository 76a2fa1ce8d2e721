/*
 * A preloadable shim that makes the kernel's partial writes and EAGAIN
 * happen at a chosen byte, for tests/semantics/sem_cut.c.
 *
 * Loaded after libotelpreload.so (LD_PRELOAD="libotelpreload.so
 * libsemcut.so"), it sits between the library and libc: the library's
 * dlsym(RTLD_NEXT) finds these functions, so the bytes it sends (the
 * application's and its own header lines) are what is cut. Without the
 * library it sits between the program and libc. Either way it counts the
 * bytes sent on one armed fd: the call that would carry the stream past
 * offset `at` takes only the bytes before it, and the next send call on
 * that fd fails with EAGAIN, as a full non-blocking socket does. A call
 * that starts at `at` fails with EAGAIN at once. Then the fd is disarmed.
 *
 * Single-threaded use only: the program arms and writes from one thread.
 * The project builds with hidden visibility: what is interposed or called
 * through dlsym is marked SHIM.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define SHIM __attribute__((visibility("default")))

SHIM void semcut_arm(int fd, long long at);
SHIM int semcut_fired(void);

static int cut_fd = -1;
static long long cut_at, cut_pos;
static int state;   /* 0 off, 1 counting, 2 the next call fails */
static int fired;

SHIM void semcut_arm(int fd, long long at)
{
	cut_fd = fd;
	cut_at = at;
	cut_pos = 0;
	state = 1;
	fired = 0;
}

/* Whether the armed cut happened (a partial write or EAGAIN). */
SHIM int semcut_fired(void)
{
	return fired;
}

/* How many of n bytes the call may take: -1 means fail with EAGAIN. */
static long long allowance(int fd, size_t n)
{
	if (fd != cut_fd || state == 0)
		return (long long)n;
	if (state == 2 || cut_pos == cut_at) {
		state = 0;
		fired = 1;
		return -1;
	}
	if ((long long)n >= cut_at - cut_pos) {
		state = 2;
		fired = 1;
		return cut_at - cut_pos;
	}
	return (long long)n;
}

static ssize_t counted(int fd, ssize_t r)
{
	if (fd == cut_fd && r > 0)
		cut_pos += r;
	return r;
}

/* iovecs trimmed to `max` bytes, into `out` (at most `cap`); returns the count. */
static int trim(const struct iovec *iov, int cnt, size_t max, struct iovec *out, int cap)
{
	int c = 0;

	for (int i = 0; i < cnt && max && c < cap; i++) {
		size_t l = iov[i].iov_len < max ? iov[i].iov_len : max;

		out[c].iov_base = iov[i].iov_base;
		out[c++].iov_len = l;
		max -= l;
	}
	return c;
}

static size_t total(const struct iovec *iov, int cnt)
{
	size_t n = 0;

	for (int i = 0; i < cnt; i++)
		n += iov[i].iov_len;
	return n;
}

#define NEXT(name) \
	static __typeof__(name) *next; \
	if (!next) \
		next = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

SHIM ssize_t write(int fd, const void *p, size_t n)
{
	NEXT(write);
	long long a = allowance(fd, n);

	if (a < 0) {
		errno = EAGAIN;
		return -1;
	}
	return counted(fd, next(fd, p, (size_t)a));
}

SHIM ssize_t send(int fd, const void *p, size_t n, int flags)
{
	NEXT(send);
	long long a = allowance(fd, n);

	if (a < 0) {
		errno = EAGAIN;
		return -1;
	}
	return counted(fd, next(fd, p, (size_t)a, flags));
}

SHIM ssize_t sendto(int fd, const void *p, size_t n, int flags, const struct sockaddr *to,
	       socklen_t tolen)
{
	NEXT(sendto);
	long long a = allowance(fd, n);

	if (a < 0) {
		errno = EAGAIN;
		return -1;
	}
	return counted(fd, next(fd, p, (size_t)a, flags, to, tolen));
}

SHIM ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	NEXT(writev);
	struct iovec v[1024];
	long long a;

	if (cnt < 0 || cnt > 1024)
		return next(fd, iov, cnt);
	a = allowance(fd, total(iov, cnt));
	if (a < 0) {
		errno = EAGAIN;
		return -1;
	}
	return counted(fd, next(fd, v, trim(iov, cnt, (size_t)a, v, 1024)));
}

SHIM ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	NEXT(sendmsg);
	struct iovec v[1024];
	struct msghdr c;
	long long a;

	if (m->msg_iovlen > 1024)
		return next(fd, m, flags);
	a = allowance(fd, total(m->msg_iov, (int)m->msg_iovlen));
	if (a < 0) {
		errno = EAGAIN;
		return -1;
	}
	c = *m;
	c.msg_iov = v;
	c.msg_iovlen = (size_t)trim(m->msg_iov, (int)m->msg_iovlen, (size_t)a, v, 1024);
	return counted(fd, next(fd, &c, flags));
}
