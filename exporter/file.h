/*
 * The file exporter (OTELPRELOAD_FILE): each batch is appended to the file
 * as one line holding one OTLP/JSON ExportTraceServiceRequest, the format
 * the OpenTelemetry Collector's file exporter writes and its otlpjsonfile
 * receiver reads. Several processes may append to the same file at once
 * (a traced shell script and its children): a line is never interleaved
 * with another.
 */
#ifndef OP_EXPORTER_FILE_H
#define OP_EXPORTER_FILE_H

#include <stddef.h>

#include "../preload/resource.h"
#include "../preload/span.h"

struct op_file;

/*
 * Checks that `path` can be opened for appending (creating it 0644 if
 * missing); each batch opens it again. Returns NULL after one op_warn()
 * when it cannot be opened.
 */
struct op_file *op_file_create(const char *path);

/* Appends one line for the batch. Returns 0, or -1 when it was not written whole. */
int op_file_export(struct op_file *f, struct op_span *const *spans, size_t n,
		   const struct op_resource *res);

void op_file_destroy(struct op_file *f);

/*
 * Writes all of <p, len> to `fd`: finishes short writes and restarts after
 * EINTR, gives up on any other error or EAGAIN. Returns 0, or -1 with errno
 * set. Shared with the console exporter.
 */
int op_write_all(int fd, const char *p, size_t len);

#endif
