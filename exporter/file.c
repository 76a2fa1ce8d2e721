#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>

#include "../preload/op.h"
#include "file.h"
#include "json.h"
#include "otlp_json.h"
#include "sigpipe.h"

/*
 * O_APPEND: every write lands at the end, whoever else appends. O_NONBLOCK:
 * open() of a FIFO nobody reads would wait for ever; it changes nothing on
 * a regular file. O_NOCTTY: a terminal named here must not become the
 * host's controlling terminal.
 */
#define OP_FILE_FLAGS (O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/*
 * How long a batch waits for the lock, in 1 ms tries. Our writers hold it
 * for one write(2); a holder that takes longer locked the file for reasons
 * of its own, and the line is then written without the lock rather than
 * stalling the exporter (on a local filesystem one O_APPEND write(2) still
 * lands whole).
 */
#define OP_FILE_LOCK_TRIES 1000

/*
 * The file is opened again for every batch rather than held open. The
 * host may close any descriptor (daemons close them all) and then open()
 * or dup2() its own file onto the same number, which would have our lines
 * written into it; a descriptor held for the process's life would also
 * take a number the host's next open() expects. One open() per batch is
 * cheap next to the encoding, and a file rotated or deleted meanwhile is
 * created anew.
 *
 * Used by the exporter thread only (plugin.c), so nothing here is locked.
 */
struct op_file {
	char *path;            /* absolute unless getcwd() failed (config.c) */
	struct op_buf line;    /* reused batch to batch */
};

struct op_file *op_file_create(const char *path)
{
	struct op_file *f = calloc(1, sizeof *f);
	int fd;

	/* The configuration made the path absolute already. */
	if (!f || !(f->path = strdup(path))) {
		op_warn("cannot set up OTELPRELOAD_FILE=%s: out of memory", path);
		free(f);
		return NULL;
	}
	fd = open(f->path, OP_FILE_FLAGS, 0644);
	if (fd < 0) {
		op_warn("cannot open OTELPRELOAD_FILE=%s: %s; spans are not written to it",
			path, strerror(errno));
		op_file_destroy(f);
		return NULL;
	}
	close(fd);
	return f;
}

/*
 * One write(2) per line unless it comes back short; the loop only
 * finishes a short write or restarts after EINTR. EAGAIN (a full pipe, a
 * non-blocking stderr) gives up: the exporter thread must not spin on a
 * descriptor it does not control.
 */
int op_write_all(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w == 0)
			errno = EIO;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Returns whether `fd` is now locked; false also where the filesystem has no locks. */
static bool lock(int fd)
{
	static const struct timespec ms = { 0, 1000000 };
	int i;

	for (i = 0; i < OP_FILE_LOCK_TRIES; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return true;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return false;
		nanosleep(&ms, NULL);
	}
	op_debug("OTELPRELOAD_FILE: the lock stayed taken for %d ms; writing without it",
		 OP_FILE_LOCK_TRIES);
	return false;
}

int op_file_export(struct op_file *f, struct op_span *const *spans, size_t n,
		   const struct op_resource *res)
{
	struct op_sigpipe st;
	bool locked;
	int fd, rc, err;

	/* The whole line first: it goes out in one write(2) under the lock. */
	op_buf_reset(&f->line);
	op_otlp_json_request(&f->line, spans, n, res);
	op_buf_addc(&f->line, '\n');
	if (f->line.err) {
		op_debug("cannot encode %zu spans for %s: out of memory or over %zu bytes",
			 n, f->path, OP_BUF_MAX);
		return -1;
	}
	fd = open(f->path, OP_FILE_FLAGS, 0644);
	if (fd < 0) {
		op_debug("cannot open %s: %s; %zu spans dropped", f->path, strerror(errno), n);
		return -1;
	}
	/*
	 * flock(), not fcntl() locks: those belong to the process and another
	 * thread of the host closing any descriptor of this file would drop
	 * ours. Every process appending to the file (a traced script and its
	 * children) takes it, so lines never interleave, short writes included.
	 */
	locked = lock(fd);
	/*
	 * A FIFO or /dev/stdout can be a pipe whose reader is gone. SIGXFSZ
	 * (a file past RLIMIT_FSIZE) needs no such care: the exporter thread
	 * runs with every signal blocked, so write() fails with EFBIG.
	 */
	op_sigpipe_block(&st);
	rc = op_write_all(fd, f->line.p, f->line.len);
	err = errno;
	op_sigpipe_restore(&st);
	/*
	 * Released before close(): a child the host forked meanwhile shares
	 * this open file and would otherwise keep the lock until it execs.
	 */
	if (locked)
		flock(fd, LOCK_UN);
	/*
	 * close() reports write errors a network filesystem deferred. It is
	 * not retried after EINTR: Linux has released the descriptor by then.
	 */
	if (close(fd) && errno != EINTR && !rc) {
		rc = -1;
		err = errno;
	}
	if (rc)
		op_debug("cannot write %zu spans to %s: %s", n, f->path, strerror(err));
	return rc;
}

void op_file_destroy(struct op_file *f)
{
	if (!f)
		return;
	free(f->path);
	op_buf_free(&f->line);
	free(f);
}
