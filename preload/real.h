/*
 * The real libc functions behind every hook, reached through one table
 * (`real.send(...)`), resolved once with dlsym(RTLD_NEXT) so other
 * preloaded libraries keep their place in the chain.
 *
 * Hooks call REAL(fn): one load and a predicted branch on the hot path. A
 * hook can run before our constructor (another library's constructor may
 * call close()), so an unresolved table resolves itself on first use.
 */
#ifndef OP_REAL_H
#define OP_REAL_H

#include <sys/types.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "op.h"

/*
 * Where musl declares a hooked call differently from glibc, or not at all.
 * Its sendmmsg/recvmmsg take unsigned flags. Its sendfile64 (before 1.2.4)
 * is a macro for sendfile, but programs linked against an older musl call
 * the sendfile64 symbol, so our hook keeps that name. close_range,
 * closefrom and fcntl64 are glibc's; hooking them costs nothing where
 * nobody calls them (and they resolve to the ENOSYS stub).
 */
#ifdef __GLIBC__
#define OP_MMSG_FLAGS int
#else
#define OP_MMSG_FLAGS unsigned int
#undef sendfile64
ssize_t sendfile64(int out, int in, off_t *off, size_t n);
int close_range(unsigned int first, unsigned int last, int flags);
void closefrom(int lowfd);
int fcntl64(int fd, int cmd, ...);
#endif

#define OP_REAL_FUNCS(X) \
	X(socket, int, (int, int, int)) \
	X(connect, int, (int, const struct sockaddr *, socklen_t)) \
	X(accept, int, (int, struct sockaddr *, socklen_t *)) \
	X(accept4, int, (int, struct sockaddr *, socklen_t *, int)) \
	X(shutdown, int, (int, int)) \
	X(close, int, (int)) \
	X(_exit, void, (int)) \
	X(exit, void, (int)) \
	X(execve, int, (const char *, char *const[], char *const[])) \
	X(execv, int, (const char *, char *const[])) \
	X(execvp, int, (const char *, char *const[])) \
	X(execvpe, int, (const char *, char *const[], char *const[])) \
	X(fexecve, int, (int, char *const[], char *const[])) \
	X(posix_spawn, int, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
			     const posix_spawnattr_t *, char *const[], char *const[])) \
	X(posix_spawnp, int, (pid_t *, const char *, const posix_spawn_file_actions_t *, \
			      const posix_spawnattr_t *, char *const[], char *const[])) \
	X(close_range, int, (unsigned int, unsigned int, int)) \
	X(closefrom, void, (int)) \
	X(fclose, int, (FILE *)) \
	X(socketpair, int, (int, int, int, int[2])) \
	X(dup, int, (int)) \
	X(dup2, int, (int, int)) \
	X(dup3, int, (int, int, int)) \
	X(fcntl, int, (int, int, ...)) \
	X(fcntl64, int, (int, int, ...)) \
	X(read, ssize_t, (int, void *, size_t)) \
	X(write, ssize_t, (int, const void *, size_t)) \
	X(readv, ssize_t, (int, const struct iovec *, int)) \
	X(writev, ssize_t, (int, const struct iovec *, int)) \
	X(send, ssize_t, (int, const void *, size_t, int)) \
	X(sendto, ssize_t, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(sendmsg, ssize_t, (int, const struct msghdr *, int)) \
	X(sendmmsg, int, (int, struct mmsghdr *, unsigned int, OP_MMSG_FLAGS)) \
	X(recv, ssize_t, (int, void *, size_t, int)) \
	X(recvfrom, ssize_t, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
	X(recvmsg, ssize_t, (int, struct msghdr *, int)) \
	X(recvmmsg, int, (int, struct mmsghdr *, unsigned int, OP_MMSG_FLAGS, struct timespec *)) \
	X(sendfile, ssize_t, (int, int, off_t *, size_t)) \
	X(sendfile64, ssize_t, (int, int, off64_t *, size_t)) \
	X(splice, ssize_t, (int, loff_t *, int, loff_t *, size_t, unsigned int)) \
	X(__read_chk, ssize_t, (int, void *, size_t, size_t)) \
	X(__recv_chk, ssize_t, (int, void *, size_t, size_t, int)) \
	X(__recvfrom_chk, ssize_t, (int, void *, size_t, size_t, int, struct sockaddr *, socklen_t *))

struct op_real {
#define OP_REAL_FIELD(name, ret, args) ret (*name) args;
	OP_REAL_FUNCS(OP_REAL_FIELD)
#undef OP_REAL_FIELD
};

/*
 * Written once under pthread_once in op_real_resolve(), read-only after:
 * a reader seeing a non-NULL pointer sees the final value.
 */
extern struct op_real real;

/*
 * Resolves the whole table (once) and returns it. A function that cannot
 * be found, or that resolves to our own hook (a circular chain, which
 * would recurse forever), is replaced by one that fails with ENOSYS, and
 * that is reported once.
 */
const struct op_real *op_real_resolve(void);

#define REAL(fn) (OP_LIKELY(real.fn != NULL) ? real.fn : op_real_resolve()->fn)

#endif
