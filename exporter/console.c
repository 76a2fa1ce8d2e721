#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "../preload/op.h"
#include "console.h"
#include "file.h"
#include "json.h"
#include "otlp_json.h"
#include "sigpipe.h"

struct op_console {
	int fd;
	/*
	 * What our private copy of stderr refers to. A program that closes
	 * every descriptor closes it too and may reuse the number for a file
	 * of its own: then we write to fd 2, whatever the program made of it.
	 */
	dev_t dev;
	ino_t ino;
	struct op_buf head;    /* the resource and scope part, same for the whole batch */
	struct op_buf line;    /* reused across spans and batches */
};

struct op_console *op_console_create(int fd)
{
	struct op_console *c = calloc(1, sizeof *c);
	struct stat st;

	if (!c) {
		op_warn("cannot set up the console exporter: out of memory");
		return NULL;
	}
	c->fd = fd;
	if (fd != STDERR_FILENO && fstat(fd, &st) == 0) {
		c->dev = st.st_dev;
		c->ino = st.st_ino;
	} else {
		c->fd = STDERR_FILENO;
	}
	return c;
}

int op_console_export(struct op_console *c, struct op_span *const *spans,
		      size_t n, const struct op_resource *res)
{
	struct op_sigpipe st;
	int ret = 0;
	size_t i;

	op_buf_reset(&c->head);
	op_buf_adds(&c->head, "{\"resource\":");
	op_otlp_json_resource(&c->head, res);
	op_buf_adds(&c->head, ",\"scope\":");
	op_otlp_json_scope(&c->head);
	if (c->head.err)
		return -1;
	if (c->fd != STDERR_FILENO) {
		struct stat now;

		if (fstat(c->fd, &now) || now.st_dev != c->dev || now.st_ino != c->ino)
			c->fd = STDERR_FILENO;
	}
	/* stderr may be a pipe whose reader is gone (`prog 2>&1 | head`). */
	op_sigpipe_block(&st);
	for (i = 0; i < n && !ret; i++) {
		op_buf_reset(&c->line);
		op_buf_add(&c->line, c->head.p, c->head.len);
		op_otlp_json_span(&c->line, spans[i]);
		op_buf_addc(&c->line, '\n');
		if (c->line.err) {
			ret = -1;
			break;
		}
		/*
		 * A line is the Span object with "resource" and "scope" in
		 * front: its opening brace becomes the comma after them.
		 */
		c->line.p[c->head.len] = ',';
		if (op_write_all(c->fd, c->line.p, c->line.len)) {
			/* Our private copy was closed by the host (closefrom, close_range). */
			if (errno == EBADF && c->fd != STDERR_FILENO) {
				c->fd = STDERR_FILENO;
				i--;
				continue;
			}
			ret = -1;
		}
	}
	op_sigpipe_restore(&st);
	return ret;
}

void op_console_destroy(struct op_console *c)
{
	if (!c)
		return;
	op_buf_free(&c->head);
	op_buf_free(&c->line);
	free(c);
}
