/*
 * Replacements for the glibc calls that have no version at or below our
 * ceiling (GLIBC_2.17, compat/glibc.cmake), linked into every object we
 * ship with -Wl,--wrap=NAME: a reference to NAME, ours or a bundled
 * library's, becomes a reference to __wrap_NAME here. Each one does what
 * an old glibc build did in its place, through calls old glibc has.
 *
 * The stat family became real functions in glibc 2.33; before that the
 * headers turned stat() into __xstat(_STAT_VER, ...), which every glibc
 * still exports.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#if defined(__x86_64__)
#define OP_STAT_VER 1   /* _STAT_VER_LINUX */
#elif defined(__aarch64__)
#define OP_STAT_VER 0   /* the generic _STAT_VER */
#else
#error "compat/glibc_compat.c: no _STAT_VER known for this architecture"
#endif

#define OP_WRAP __attribute__((visibility("hidden")))

int __xstat(int ver, const char *path, struct stat *buf);
int __lxstat(int ver, const char *path, struct stat *buf);
int __fxstat(int ver, int fd, struct stat *buf);
int __fxstatat(int ver, int dirfd, const char *path, struct stat *buf, int flags);

/*
 * On the 64-bit targets we build for, struct stat and struct stat64 are
 * the same layout and the *64 calls are aliases of the plain ones; so are
 * our wrappers of them, below.
 */
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "struct stat64 differs");

OP_WRAP int __wrap_stat(const char *path, struct stat *buf);
OP_WRAP int __wrap_stat(const char *path, struct stat *buf)
{
	return __xstat(OP_STAT_VER, path, buf);
}

OP_WRAP int __wrap_lstat(const char *path, struct stat *buf);
OP_WRAP int __wrap_lstat(const char *path, struct stat *buf)
{
	return __lxstat(OP_STAT_VER, path, buf);
}

OP_WRAP int __wrap_fstat(int fd, struct stat *buf);
OP_WRAP int __wrap_fstat(int fd, struct stat *buf)
{
	return __fxstat(OP_STAT_VER, fd, buf);
}

OP_WRAP int __wrap_fstatat(int dirfd, const char *path, struct stat *buf, int flags);
OP_WRAP int __wrap_fstatat(int dirfd, const char *path, struct stat *buf, int flags)
{
	return __fxstatat(OP_STAT_VER, dirfd, path, buf, flags);
}

OP_WRAP int __wrap_stat64(const char *path, struct stat *buf) __attribute__((alias("__wrap_stat")));
OP_WRAP int __wrap_lstat64(const char *path, struct stat *buf) __attribute__((alias("__wrap_lstat")));
OP_WRAP int __wrap_fstat64(int fd, struct stat *buf) __attribute__((alias("__wrap_fstat")));
OP_WRAP int __wrap_fstatat64(int dirfd, const char *path, struct stat *buf, int flags)
	__attribute__((alias("__wrap_fstatat")));

/*
 * fcntl64 (2.28) exists for 32-bit off_t; on 64-bit targets it is fcntl.
 * The third argument is an int or a pointer; like glibc, pass it on as a
 * pointer-sized value, which carries either. The call goes to libc's fcntl
 * by its versioned name: in the core, plain `fcntl` is our own hook.
 */
int op_libc_fcntl(int fd, int cmd, ...);
#if defined(__x86_64__)
__asm__(".symver op_libc_fcntl,fcntl@GLIBC_2.2.5");
#else
__asm__(".symver op_libc_fcntl,fcntl@GLIBC_2.17");
#endif

OP_WRAP int __wrap_fcntl64(int fd, int cmd, ...);
OP_WRAP int __wrap_fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	return op_libc_fcntl(fd, cmd, arg);
}

/*
 * getrandom (2.25) is a system call wrapper: make the call ourselves. A
 * kernel without it (before 3.17) answers ENOSYS, which callers of
 * getrandom must handle anyway.
 */
OP_WRAP ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags);
OP_WRAP ssize_t __wrap_getrandom(void *buf, size_t len, unsigned flags)
{
	return (ssize_t)syscall(SYS_getrandom, buf, len, flags);
}

/* getentropy (2.25): at most 256 bytes, all of them or an error. */
OP_WRAP int __wrap_getentropy(void *buf, size_t len);
OP_WRAP int __wrap_getentropy(void *buf, size_t len)
{
	unsigned char *p = buf;
	ssize_t n;

	if (len > 256) {
		errno = EIO;
		return -1;
	}
	while (len) {
		n = __wrap_getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* explicit_bzero (2.25): a memset the compiler may not drop. */
OP_WRAP void __wrap_explicit_bzero(void *p, size_t len);
OP_WRAP void __wrap_explicit_bzero(void *p, size_t len)
{
	memset(p, 0, len);
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

/* reallocarray (2.26): realloc with the multiplication checked. */
OP_WRAP void *__wrap_reallocarray(void *p, size_t n, size_t size);
OP_WRAP void *__wrap_reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, n * size);
}
