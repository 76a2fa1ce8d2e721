/*
 * Spans read back from OTLP/JSON lines, as the library's file and console
 * exporters write them (one ExportTraceServiceRequest per line), for the
 * waterfall of `otelpreload run` (waterfall.h).
 *
 * Only what the waterfall shows is kept: IDs, name, kind, times, status,
 * the span's attributes (their OTLP/JSON array, for --waterfall-json) and
 * the service.name and process.pid of the span's resource.
 */
#ifndef OP_CLI_SPANS_H
#define OP_CLI_SPANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../init-container/webhook/json.h"

/*
 * Most spans kept from one run. A waterfall of more is unreadable anyway,
 * and each span costs about 1 KiB with its attributes; the rest are
 * counted in `dropped` and the summary says so.
 */
#define OP_WF_MAX_SPANS 100000

/* No such span: the end of a child or sibling list. */
#define OP_WF_NONE ((size_t)-1)

struct op_wf_span {
	char trace_id[33];     /* lower-case hex, NUL-terminated */
	char span_id[17];
	char parent_id[17];    /* "" for a root span */
	char *name;
	char *service;         /* the resource's service.name, "" when it has none */
	char *status_message;  /* NULL when there is none */
	int kind;              /* OTLP SpanKind, 0..5 */
	int status;            /* OTLP StatusCode, 0..2 */
	int64_t start_ns;      /* Unix epoch */
	int64_t end_ns;        /* never before start_ns */
	long pid;              /* the resource's process.pid, 0 when it has none */
	struct op_json *attrs; /* the OTLP/JSON attributes array, NULL when empty */

	/* The tree, filled by op_wf_build() (waterfall.h): indices into the set. */
	size_t parent;         /* OP_WF_NONE for a span shown as a root */
	size_t first_child;
	size_t last_child;
	size_t next_sibling;
	bool orphan;           /* shown as a root although it names a parent */
	bool shown;
};

/* One line of the waterfall: a span and its depth in its tree. */
struct op_wf_row {
	size_t span;
	int depth;
};

/* One trace: rows[first_row .. first_row + n_rows) of the set. */
struct op_wf_trace {
	size_t first_row;
	size_t n_rows;
	int64_t start_ns;
	int64_t end_ns;
};

struct op_wf_set {
	struct op_wf_span *v;
	size_t n;
	size_t cap;
	size_t bad_lines;      /* lines that looked like JSON but could not be read */
	size_t dropped;        /* spans past OP_WF_MAX_SPANS */

	/* Filled by op_wf_build(). */
	struct op_wf_row *rows;        /* n of them, trace by trace, each tree in pre-order */
	struct op_wf_trace *traces;
	size_t n_traces;
};

#define OP_WF_SET_INIT { 0 }

/*
 * Reads every complete line of `f` (an incomplete last line is being
 * written by someone else: it is left alone) and adds its spans to `set`.
 * Lines that do not start with '{' are skipped silently, so a captured
 * stderr with the console exporter's lines in it can be read too. Returns
 * 0, or -1 when out of memory.
 */
int op_wf_read(struct op_wf_set *set, FILE *f);

void op_wf_set_free(struct op_wf_set *set);

#endif
