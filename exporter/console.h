/*
 * The console exporter (OTEL_TRACES_EXPORTER=console): one OTLP/JSON-named
 * object per span per line, for people tracing a command by hand and for
 * tests that want to see spans without a collector.
 */
#ifndef OP_EXPORTER_CONSOLE_H
#define OP_EXPORTER_CONSOLE_H

#include <stddef.h>

#include "../preload/resource.h"
#include "../preload/span.h"

struct op_console;

/* Writes to `fd` (2 in production; the host's stderr, never closed by us). */
struct op_console *op_console_create(int fd);

/*
 * Writes one line per span, each with a single write(2) so that lines from
 * several processes sharing the descriptor do not interleave (up to
 * PIPE_BUF bytes on a pipe, which is all POSIX promises). Returns 0, or -1
 * when a line could not be built or written; the rest of the batch is then
 * skipped.
 */
int op_console_export(struct op_console *c, struct op_span *const *spans,
		      size_t n, const struct op_resource *res);

void op_console_destroy(struct op_console *c);

#endif
