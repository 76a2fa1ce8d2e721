/*
 * `otelpreload run` once the environment is composed (otelpreload.c): the
 * command runs as a child, under a root span (rootspan.h), and the spans of
 * every process of the run are gathered and drawn as a waterfall
 * (waterfall.h) when it has ended.
 */
#ifndef OP_CLI_RUN_H
#define OP_CLI_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "waterfall.h"

struct op_run_opts {
	const char *lib;            /* the library, absolute: the exporter module is beside it */
	/*
	 * Gather the spans: into a private file when OTELPRELOAD_FILE is not
	 * set (it is added to the exporters), else from what the run appends
	 * to that file.
	 */
	bool collect;
	bool show;                  /* draw the waterfall on stderr */
	const char *json_path;      /* also write it as JSON to this file, or NULL */
	enum op_wf_color color;
	/*
	 * An exporter is configured: a private file is then added to it, and
	 * OTEL_TRACES_EXPORTER made explicit (otlp, its default), because the
	 * library takes OTELPRELOAD_FILE alone to mean "the file only".
	 */
	bool exporting;
};

/*
 * Runs argv as a child and returns the status to exit with: the command's
 * exit status, 126 or 127 when it could not be run (reported). A command
 * killed by a signal gets the same signal raised here after the waterfall
 * is drawn (128 + the signal is returned if that does not end us).
 */
int op_run(char **argv, const struct op_run_opts *o);

/*
 * The exit status a shell gives when exec fails with `err`: 127 when there
 * is nothing to run at that name, 126 when something is there but cannot
 * be executed.
 */
int op_exec_failure_status(int err);

/*
 * Reads OTLP/JSON lines from `in`, draws their waterfall on `fd` (unless
 * fd < 0) and writes the JSON form to `json_path` (unless NULL). `self_pid`
 * is left out of the process count. Returns 0, or 1 after reporting an
 * error.
 */
int op_wf_show(FILE *in, int fd, enum op_wf_color color, const char *json_path, long self_pid);

#endif
