/*
 * The root span of `otelpreload run`: one INTERNAL span around the whole
 * command, parent of every process span of the run. Its context reaches
 * the command as TRACEPARENT in the environment (the library makes the
 * process span of a traced program a child of an inherited TRACEPARENT
 * and passes its own context on to the programs it execs), and the span
 * itself is exported, when the command has ended, through the exporters
 * the run is configured with: the exporter module the library loads
 * (exporter/plugin.h), loaded here by dlopen from the library's directory.
 */
#ifndef OP_CLI_ROOTSPAN_H
#define OP_CLI_ROOTSPAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../preload/config.h"
#include "../preload/span.h"

struct op_root {
	struct op_config cfg;       /* the environment the command gets */
	struct op_span_ctx ctx;     /* the root span's own */
	uint8_t parent_span_id[8];  /* of an inherited TRACEPARENT */
	bool has_parent;
	int64_t start_ns;
};

/*
 * Reads the configuration from the environment (silently: the command's
 * processes report its mistakes), makes the root span's IDs with
 * getrandom(2), a child of a valid TRACEPARENT in the environment if there
 * is one, else the root of a new trace, and sets TRACEPARENT for the
 * command; a TRACESTATE that came without a valid TRACEPARENT is removed.
 * The span starts now. Returns 0, or -1 (errno set) when there were no
 * random bytes to be had: the command then runs without a root span.
 */
int op_root_begin(struct op_root *r);

/*
 * Ends the root span now and exports it, unless it was not sampled or no
 * exporter is configured: named after the command (argv[0]'s base name),
 * with process.pid, process.executable.name, process.command,
 * process.command_line (only with OTELPRELOAD_PROCESS_COMMAND_LINE=true),
 * process.exit.code (128 + the signal for a command killed by one) and, on
 * a non-zero exit or a signal, status ERROR with error.type. `libdir` holds
 * the exporter module. Waits at most OTEL_BSP_EXPORT_TIMEOUT for a
 * collector. Frees what op_root_begin() allocated.
 */
void op_root_end(struct op_root *r, const char *libdir, char *const *argv, pid_t pid,
		 int wstatus);

/* Frees what op_root_begin() allocated without exporting anything. */
void op_root_discard(struct op_root *r);

#endif
