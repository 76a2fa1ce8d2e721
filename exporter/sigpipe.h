/*
 * Writing to a socket or pipe whose reader is gone raises SIGPIPE, whose
 * default action kills the process: a collector resetting its connection,
 * or a host run as `prog 2>&1 | head`, would take the host down because of
 * our output. Signal dispositions are process-wide and the host's, so we
 * never install a handler or SIG_IGN. Instead the exporting thread blocks
 * SIGPIPE for the duration of one write or transfer, which turns the
 * signal into a plain EPIPE error.
 *
 * A SIGPIPE raised by our write stays pending on this thread; it is
 * consumed before the old mask comes back, unless one was already pending
 * when we started (then it is not ours to eat). One sent with kill() to the
 * whole process during the transfer may be consumed too: an accepted,
 * vanishingly rare cost.
 */
#ifndef OP_EXPORTER_SIGPIPE_H
#define OP_EXPORTER_SIGPIPE_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <time.h>

struct op_sigpipe {
	sigset_t old;
	bool was_pending;
};

static inline void op_sigpipe_block(struct op_sigpipe *st)
{
	sigset_t set, pending;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	st->was_pending = sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &set, &st->old);
}

static inline void op_sigpipe_restore(struct op_sigpipe *st)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t set, pending;
	int saved = errno;

	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	sigemptyset(&pending);
	sigpending(&pending);
	if (!st->was_pending && sigismember(&pending, SIGPIPE) == 1)
		while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &st->old, NULL);
	errno = saved;
}

#endif
