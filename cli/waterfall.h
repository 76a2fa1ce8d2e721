/*
 * The terminal waterfall of `otelpreload run`: spans (spans.h) linked into
 * one tree per trace and drawn one line per span, indented by depth, with
 * service, kind, status, duration and a bar on a time axis shared by every
 * trace of the run:
 *
 *   span                     service    kind     status duration |0                  1.52s|
 *   trace 4bf92f3577b34da6a3ce929d0e0e4736
 *   sh                       otelpreload internal ERROR   1.52s |######################|
 *     sh                     dash       internal          1.51s | #####################|
 *       curl                 curl       internal         12.0ms |   #                  |
 *         GET                curl       client           5.02ms |   #                  |
 *
 *   4 spans, 1 trace, 2 processes, 1 error
 *
 * and the same trees as JSON for programs (--waterfall-json).
 */
#ifndef OP_CLI_WATERFALL_H
#define OP_CLI_WATERFALL_H

#include <stdbool.h>

#include "spans.h"

/*
 * Deepest level drawn under a root. A deeper span starts a tree of its own
 * (marked like an orphan); it keeps the JSON nesting within the JSON
 * reader's depth limit and the indentation on the screen.
 */
#define OP_WF_MAX_DEPTH 40

enum op_wf_color {
	OP_WF_COLOR_AUTO,      /* when the output is a terminal and NO_COLOR is unset or empty */
	OP_WF_COLOR_ALWAYS,
	OP_WF_COLOR_NEVER,
};

struct op_wf_opts {
	int width;             /* columns; clamped to [OP_WF_MIN_WIDTH, OP_WF_MAX_WIDTH] */
	bool color;            /* ANSI colours */
	bool utf8;             /* UTF-8 glyphs (block bars, ellipsis, µ) and text */
	long self_pid;         /* not counted as a traced process (the CLI); 0: none */
};

#define OP_WF_DEFAULT_WIDTH 100
#define OP_WF_MIN_WIDTH 64
#define OP_WF_MAX_WIDTH 1000

/*
 * Sorts the spans and fills the tree fields, set->rows and set->traces:
 * traces in order of their first span, children in order of start time, a
 * span whose parent is not in the set shown as a root of its trace
 * (`orphan`). Returns 0, or -1 when out of memory.
 */
int op_wf_build(struct op_wf_set *set);

/* Appends the waterfall of a built set to `b` (errors are b's, json.h). */
void op_wf_render(struct op_buf *b, const struct op_wf_set *set, const struct op_wf_opts *o);

/*
 * Appends the built set as one JSON document:
 *   {"start_ns":"...","end_ns":"...","summary":{"spans":N,"traces":N,
 *    "processes":N,"errors":N,"unreadable_lines":N,"dropped_spans":N},
 *    "traces":[{"trace_id":"...","start_ns":"...","end_ns":"...",
 *      "spans":[{"span_id":"...","parent_span_id":"..." or null,"name":"...",
 *        "kind":"CLIENT","service":"...","pid":N,"start_ns":"...",
 *        "end_ns":"...","status":"UNSET|OK|ERROR","status_message":"...",
 *        "orphan":false,"attributes":{"key":value,...},"children":[...]}]}]}
 * Times are decimal strings of Unix nanoseconds, as in OTLP/JSON (they do
 * not fit a JavaScript number).
 */
void op_wf_json(struct op_buf *b, const struct op_wf_set *set, const struct op_wf_opts *o);

/* Whether to colour output written to `fd` (isatty, NO_COLOR, TERM=dumb). */
bool op_wf_want_color(enum op_wf_color c, int fd);

/* Columns: $COLUMNS if it is a positive number, else the terminal's on `fd`, else the default. */
int op_wf_width(int fd);

/* Whether the locale's character set is UTF-8 (sets LC_CTYPE from the environment). */
bool op_wf_utf8_locale(void);

/*
 * Parses --color's value (auto, always, never; also yes/force and
 * no/none as GNU ls takes them). Returns -1 for anything else.
 */
int op_wf_parse_color(const char *v);

#endif
