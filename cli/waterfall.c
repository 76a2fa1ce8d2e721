#include <langinfo.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <wchar.h>
#include <sys/ioctl.h>

#include "waterfall.h"

/* Fixed columns; the name, service and bar columns share the rest. */
#define KIND_W 8     /* "internal" */
#define STATUS_W 6   /* "status", "ERROR" */
#define DUR_W 8      /* "duration", "123.45ms" */
#define MIN_BAR_W 10
#define MIN_NAME_ROOM 6  /* indentation stops growing before the name gets narrower */

#define SGR_RESET "\033[0m"
#define SGR_BOLD "\033[1m"
#define SGR_DIM "\033[2m"
#define SGR_RED "\033[31m"
#define SGR_BOLD_RED "\033[1;31m"
#define SGR_YELLOW "\033[33m"

/* ---- building the trees ------------------------------------------------ */

static int cmp_start(const void *a, const void *b)
{
	const struct op_wf_span *x = a, *y = b;
	int c = strcmp(x->trace_id, y->trace_id);

	if (c)
		return c;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	/* The longer one first: a parent starting in the same nanosecond as its child. */
	if (x->end_ns != y->end_ns)
		return x->end_ns > y->end_ns ? -1 : 1;
	return strcmp(x->span_id, y->span_id);
}

static int cmp_id(const void *a, const void *b, void *arg)
{
	const struct op_wf_span *v = arg;
	const struct op_wf_span *x = &v[*(const size_t *)a], *y = &v[*(const size_t *)b];
	int c = strcmp(x->trace_id, y->trace_id);

	return c ? c : strcmp(x->span_id, y->span_id);
}

/* The span of `trace` with ID `id` in `byid` (sorted by cmp_id), or OP_WF_NONE. */
static size_t find(const struct op_wf_span *v, const size_t *byid, size_t n,
		   const char *trace, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct op_wf_span *s = &v[byid[mid]];
		int c = strcmp(s->trace_id, trace);

		if (!c)
			c = strcmp(s->span_id, id);
		if (!c)
			return byid[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return OP_WF_NONE;
}

static size_t unshown_from(const struct op_wf_span *v, size_t i)
{
	while (i != OP_WF_NONE && v[i].shown)
		i = v[i].next_sibling;
	return i;
}

/*
 * Appends the tree under `root` to the rows in pre-order, without
 * recursion: down to the first child not shown yet, else along to the next
 * sibling, else back up. A span already shown (a parent loop in bad data)
 * is never visited twice.
 */
static void walk(struct op_wf_set *set, size_t root, size_t *k)
{
	struct op_wf_span *v = set->v;
	size_t u = root, c;
	int d = 0;

	for (;;) {
		v[u].shown = true;
		set->rows[(*k)++] = (struct op_wf_row){ u, d };
		c = d < OP_WF_MAX_DEPTH ? unshown_from(v, v[u].first_child) : OP_WF_NONE;
		if (c != OP_WF_NONE) {
			u = c;
			d++;
			continue;
		}
		for (;;) {
			if (u == root)
				return;
			c = unshown_from(v, v[u].next_sibling);
			if (c != OP_WF_NONE) {
				u = c;
				break;
			}
			u = v[u].parent;
			d--;
		}
	}
}

static int cmp_trace(const void *a, const void *b)
{
	const struct op_wf_trace *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->first_row < y->first_row ? -1 : x->first_row > y->first_row;
}

int op_wf_build(struct op_wf_set *set)
{
	struct op_wf_span *v = set->v;
	size_t n = set->n, i, a, k = 0, t = 0, *byid;

	free(set->rows);
	free(set->traces);
	set->rows = NULL;
	set->traces = NULL;
	set->n_traces = 0;
	if (!n)
		return 0;
	qsort(v, n, sizeof *v, cmp_start);
	byid = malloc(n * sizeof *byid);
	set->rows = malloc(n * sizeof *set->rows);
	set->traces = malloc(n * sizeof *set->traces);
	if (!byid || !set->rows || !set->traces) {
		free(byid);
		return -1;
	}
	for (i = 0; i < n; i++) {
		byid[i] = i;
		v[i].parent = v[i].first_child = v[i].last_child = v[i].next_sibling = OP_WF_NONE;
		v[i].orphan = v[i].shown = false;
	}
	qsort_r(byid, n, sizeof *byid, cmp_id, v);

	/* In start order, so every child list comes out in start order. */
	for (i = 0; i < n; i++) {
		size_t p;

		if (!v[i].parent_id[0])
			continue;
		p = find(v, byid, n, v[i].trace_id, v[i].parent_id);
		if (p == OP_WF_NONE || p == i) {
			v[i].orphan = true;
			continue;
		}
		v[i].parent = p;
		if (v[p].last_child == OP_WF_NONE)
			v[p].first_child = i;
		else
			v[v[p].last_child].next_sibling = i;
		v[p].last_child = i;
	}
	free(byid);

	/* Trace by trace (the spans of one trace are adjacent now). */
	for (a = 0; a < n; a = i) {
		struct op_wf_trace *tr = &set->traces[t++];

		tr->first_row = k;
		tr->start_ns = v[a].start_ns;
		tr->end_ns = v[a].end_ns;
		for (i = a; i < n && !strcmp(v[i].trace_id, v[a].trace_id); i++) {
			if (v[i].end_ns > tr->end_ns)
				tr->end_ns = v[i].end_ns;
			if (v[i].parent == OP_WF_NONE)
				walk(set, i, &k);
		}
		/* What no root reached: a parent loop, or deeper than OP_WF_MAX_DEPTH. */
		for (size_t j = a; j < i; j++) {
			if (v[j].shown)
				continue;
			v[j].orphan = true;
			v[j].parent = OP_WF_NONE;
			walk(set, j, &k);
		}
		tr->n_rows = k - tr->first_row;
	}
	set->n_traces = t;
	qsort(set->traces, t, sizeof *set->traces, cmp_trace);
	return 0;
}

/* ---- text -------------------------------------------------------------- */

struct counts {
	size_t spans, traces, processes, errors;
};

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static struct counts count(const struct op_wf_set *set, long self_pid)
{
	struct counts c = { set->n, set->n_traces, 0, 0 };
	long *pids = malloc((set->n ? set->n : 1) * sizeof *pids);
	size_t i, np = 0;

	for (i = 0; i < set->n; i++) {
		c.errors += set->v[i].status == 2;
		if (pids && set->v[i].pid > 0 && set->v[i].pid != self_pid)
			pids[np++] = set->v[i].pid;
	}
	if (pids) {
		qsort(pids, np, sizeof *pids, cmp_long);
		for (i = 0; i < np; i++)
			c.processes += !i || pids[i] != pids[i - 1];
		free(pids);
	}
	return c;
}

/*
 * The next character of <s>: its code point in *cp (or -1 for a byte that
 * is not well-formed UTF-8) and its length in bytes.
 */
static size_t next_char(const unsigned char *s, long *cp)
{
	unsigned char c = s[0];
	size_t len, i;
	long v, min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, v = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, v = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, v = c & 0x07, min = 0x10000;
	else
		goto bad;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			goto bad;
		v = v << 6 | (s[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		goto bad;
	*cp = v;
	return len;
bad:
	*cp = -1;
	return 1;
}

/*
 * Columns a character takes, or -1 when it must be shown as '?': control
 * characters (an escape sequence in a span name must not reach the
 * terminal), malformed UTF-8, and anything but ASCII outside a UTF-8 locale.
 */
static int char_width(long cp, bool utf8)
{
	int w;

	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
		return -1;
	if (cp < 0x80)
		return 1;
	if (!utf8)
		return -1;
	w = wcwidth((wchar_t)cp);
	return w < 0 ? -1 : w;
}

/*
 * Appends `s` in exactly `width` columns: cut with an ellipsis when it is
 * wider, padded with spaces (after it, or before it when `right`).
 */
static void cell(struct op_buf *b, const char *s, int width, bool right, bool utf8)
{
	const char *ell = utf8 ? "\xe2\x80\xa6" : "...";
	int ell_w = utf8 ? 1 : 3, total = 0, used = 0;
	const unsigned char *p;
	long cp;

	if (width <= 0)
		return;
	for (p = (const unsigned char *)s; *p;) {
		int w;

		p += next_char(p, &cp);
		w = char_width(cp, utf8);
		total += w < 0 ? 1 : w;
	}
	if (total <= width) {
		if (right)
			op_buf_addf(b, "%*s", width - total, "");
		ell = NULL;
	} else if (ell_w > width) {
		ell_w = 0;
		ell = NULL;
	}
	for (p = (const unsigned char *)s; *p;) {
		const unsigned char *q = p;
		size_t len = next_char(p, &cp);
		int w = char_width(cp, utf8);

		if (used + (w < 0 ? 1 : w) > width - (ell ? ell_w : 0))
			break;
		p += len;
		used += w < 0 ? 1 : w;
		if (w < 0)
			op_buf_addc(b, '?');
		else
			op_buf_add(b, q, len);
	}
	if (ell) {
		op_buf_adds(b, ell);
		used += ell_w;
	}
	if (used < width && (!right || ell))
		op_buf_addf(b, "%*s", width - used, "");
}

/* A duration in at most 7 columns: 850ns, 12µs, 1.23ms, 12.3ms, 123ms, 1.23s, 12.3s, 2m05s, 1h02m. */
static void format_duration(char out[16], int64_t ns, bool utf8)
{
	const char *us = utf8 ? "\xc2\xb5s" : "us";
	double d = (double)ns;

	if (ns < 1000)
		snprintf(out, 16, "%lldns", (long long)ns);
	else if (ns < 1000000)
		snprintf(out, 16, d < 1e4 ? "%.2f%s" : d < 1e5 ? "%.1f%s" : "%.0f%s", d / 1e3, us);
	else if (ns < 1000000000)
		snprintf(out, 16, d < 1e7 ? "%.2fms" : d < 1e8 ? "%.1fms" : "%.0fms", d / 1e6);
	else if (ns < 60 * (int64_t)1000000000)
		snprintf(out, 16, d < 1e10 ? "%.2fs" : "%.1fs", d / 1e9);
	else if (ns < 3600 * (int64_t)1000000000)
		snprintf(out, 16, "%lldm%02llds", (long long)(ns / 60000000000),
			 (long long)(ns / 1000000000 % 60));
	else
		snprintf(out, 16, "%lldh%02lldm", (long long)(ns / 3600000000000),
			 (long long)(ns / 60000000000 % 60));
}

static const char *kind_name(int kind)
{
	static const char *const names[] = { "unset", "internal", "server", "client",
					     "producer", "consumer" };

	return kind >= 0 && kind <= 5 ? names[kind] : "unset";
}

static const char *kind_color(int kind)
{
	switch (kind) {
	case 2:
		return "\033[32m";   /* server: green */
	case 3:
		return "\033[36m";   /* client: cyan */
	case 4:
	case 5:
		return "\033[35m";   /* messaging: magenta */
	default:
		return "\033[34m";   /* internal: blue */
	}
}

struct layout {
	int name_w, service_w, bar_w;
	int64_t t0, span_ns;     /* the shared time axis */
};

static int clamp(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static struct layout layout(const struct op_wf_set *set, int width)
{
	struct layout l;
	int64_t t1;
	size_t i;

	width = clamp(width, OP_WF_MIN_WIDTH, OP_WF_MAX_WIDTH);
	l.name_w = clamp(width * 28 / 100, 16, 60);
	l.service_w = clamp(width * 11 / 100, 8, 24);
	l.bar_w = width - l.name_w - l.service_w - KIND_W - STATUS_W - DUR_W - 5 - 2;
	if (l.bar_w < MIN_BAR_W)
		l.bar_w = MIN_BAR_W;
	l.t0 = set->n ? set->traces[0].start_ns : 0;
	t1 = l.t0;
	for (i = 0; i < set->n_traces; i++)
		if (set->traces[i].end_ns > t1)
			t1 = set->traces[i].end_ns;
	l.span_ns = t1 > l.t0 ? t1 - l.t0 : 1;
	return l;
}

/* The cell of the bar where time `t` falls, rounded down or up. */
static int bar_cell(const struct layout *l, int64_t t, bool up)
{
	double x = (double)(t - l->t0) * l->bar_w / (double)l->span_ns;
	double c = up ? __builtin_ceil(x) : __builtin_floor(x);

	return c < 0 ? 0 : c > l->bar_w ? l->bar_w : (int)c;
}

static void sgr(struct op_buf *b, const struct op_wf_opts *o, const char *code)
{
	if (o->color)
		op_buf_adds(b, code);
}

/* The service as shown: without the prefix the SDK gives a process with no service name. */
static const char *shown_service(const char *s)
{
	return strncmp(s, "unknown_service:", 16) || !s[16] ? s : s + 16;
}

static void row(struct op_buf *b, const struct op_wf_set *set, const struct op_wf_row *r,
		const struct layout *l, const struct op_wf_opts *o)
{
	const struct op_wf_span *s = &set->v[r->span];
	bool error = s->status == 2;
	int indent = 2 * r->depth, c0, c1, i;
	char dur[16];

	if (indent > l->name_w - MIN_NAME_ROOM)
		indent = l->name_w - MIN_NAME_ROOM;
	op_buf_addf(b, "%*s", indent, "");
	if (s->orphan) {
		/* Its parent is elsewhere: another process not traced here, or lost. */
		sgr(b, o, SGR_YELLOW);
		op_buf_adds(b, "^ ");
		sgr(b, o, SGR_RESET);
		indent += 2;
	}
	if (error)
		sgr(b, o, SGR_RED);
	cell(b, s->name, l->name_w - indent, false, o->utf8);
	if (error)
		sgr(b, o, SGR_RESET);
	op_buf_addc(b, ' ');
	cell(b, shown_service(s->service), l->service_w, false, o->utf8);
	op_buf_addc(b, ' ');
	cell(b, kind_name(s->kind), KIND_W, false, false);
	op_buf_addc(b, ' ');
	if (error)
		sgr(b, o, SGR_BOLD_RED);
	cell(b, error ? "ERROR" : s->status == 1 ? "ok" : "", STATUS_W, false, false);
	if (error)
		sgr(b, o, SGR_RESET);
	op_buf_addc(b, ' ');
	format_duration(dur, s->end_ns - s->start_ns, o->utf8);
	cell(b, dur, DUR_W, true, o->utf8);
	op_buf_adds(b, " |");

	c0 = bar_cell(l, s->start_ns, false);
	c1 = bar_cell(l, s->end_ns, true);
	if (c0 >= l->bar_w)
		c0 = l->bar_w - 1;
	if (c1 <= c0)
		c1 = c0 + 1;
	op_buf_addf(b, "%*s", c0, "");
	sgr(b, o, error ? SGR_RED : kind_color(s->kind));
	for (i = c0; i < c1; i++)
		op_buf_adds(b, o->utf8 ? "\xe2\x96\x88" : "#");
	sgr(b, o, SGR_RESET);
	op_buf_addf(b, "%*s|\n", l->bar_w - c1, "");
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

void op_wf_render(struct op_buf *b, const struct op_wf_set *set, const struct op_wf_opts *o)
{
	struct layout l = layout(set, o->width);
	struct counts c = count(set, o->self_pid);
	char total[16];
	size_t t, i;

	if (!set->n) {
		op_buf_adds(b, "no spans were recorded\n");
	} else {
		format_duration(total, l.span_ns, o->utf8);
		sgr(b, o, SGR_DIM);
		cell(b, "span", l.name_w, false, false);
		op_buf_addc(b, ' ');
		cell(b, "service", l.service_w, false, false);
		op_buf_addc(b, ' ');
		cell(b, "kind", KIND_W, false, false);
		op_buf_addc(b, ' ');
		cell(b, "status", STATUS_W, false, false);
		op_buf_addc(b, ' ');
		cell(b, "duration", DUR_W, true, false);
		op_buf_adds(b, " |0");
		cell(b, total, l.bar_w - 1, true, o->utf8);
		op_buf_addc(b, '|');
		sgr(b, o, SGR_RESET);
		op_buf_addc(b, '\n');
		for (t = 0; t < set->n_traces; t++) {
			const struct op_wf_trace *tr = &set->traces[t];

			sgr(b, o, SGR_BOLD);
			op_buf_addf(b, "trace %s", set->v[set->rows[tr->first_row].span].trace_id);
			sgr(b, o, SGR_RESET);
			op_buf_addc(b, '\n');
			for (i = 0; i < tr->n_rows; i++)
				row(b, set, &set->rows[tr->first_row + i], &l, o);
		}
	}
	op_buf_addf(b, "%zu %s, %zu %s, %zu %s, ", c.spans, plural(c.spans, "span", "spans"),
		    c.traces, plural(c.traces, "trace", "traces"),
		    c.processes, plural(c.processes, "process", "processes"));
	if (c.errors)
		sgr(b, o, SGR_BOLD_RED);
	op_buf_addf(b, "%zu %s", c.errors, plural(c.errors, "error", "errors"));
	if (c.errors)
		sgr(b, o, SGR_RESET);
	if (set->bad_lines)
		op_buf_addf(b, ", %zu unreadable %s skipped", set->bad_lines,
			    plural(set->bad_lines, "line", "lines"));
	if (set->dropped)
		op_buf_addf(b, ", %zu more spans not shown (over %d)", set->dropped,
			    OP_WF_MAX_SPANS);
	op_buf_addc(b, '\n');
}

/* ---- JSON -------------------------------------------------------------- */

static void json_key(struct op_buf *b, const char *key)
{
	op_json_str(b, key, strlen(key));
	op_buf_addc(b, ':');
}

static void json_strz(struct op_buf *b, const char *s)
{
	op_json_str(b, s, strlen(s));
}

/* An OTLP AnyValue as a plain JSON value; arrays and maps are kept as OTLP wrote them. */
static void json_any(struct op_buf *b, const struct op_json *v)
{
	const struct op_json *x;

	if ((x = op_json_get(v, "stringValue")) && x->type == OP_JSON_STRING)
		op_json_str(b, x->s, x->len);
	else if ((x = op_json_get(v, "boolValue")) && (x->type == OP_JSON_TRUE || x->type == OP_JSON_FALSE))
		op_buf_adds(b, x->type == OP_JSON_TRUE ? "true" : "false");
	else if ((x = op_json_get(v, "intValue")) && x->len && op_json_number_valid(x->s, x->len))
		op_buf_add(b, x->s, x->len);
	else if ((x = op_json_get(v, "doubleValue")) && x->type == OP_JSON_NUMBER)
		op_buf_add(b, x->s, x->len);
	else if (v)
		op_json_write(b, v, 0);
	else
		op_buf_adds(b, "null");
}

static void json_span_open(struct op_buf *b, const struct op_wf_span *s)
{
	static const char *const status[] = { "UNSET", "OK", "ERROR" };
	static const char *const kinds[] = { "UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT",
					     "PRODUCER", "CONSUMER" };
	bool first = true;
	size_t i;

	op_buf_addc(b, '{');
	json_key(b, "span_id");
	json_strz(b, s->span_id);
	op_buf_addc(b, ',');
	json_key(b, "parent_span_id");
	if (s->parent_id[0])
		json_strz(b, s->parent_id);
	else
		op_buf_adds(b, "null");
	op_buf_addc(b, ',');
	json_key(b, "name");
	json_strz(b, s->name);
	op_buf_addc(b, ',');
	json_key(b, "kind");
	json_strz(b, kinds[s->kind >= 0 && s->kind <= 5 ? s->kind : 0]);
	op_buf_addc(b, ',');
	json_key(b, "service");
	json_strz(b, s->service);
	op_buf_addf(b, ",\"pid\":%ld,\"start_ns\":\"%lld\",\"end_ns\":\"%lld\",\"status\":\"%s\"",
		    s->pid, (long long)s->start_ns, (long long)s->end_ns, status[s->status]);
	if (s->status_message) {
		op_buf_addc(b, ',');
		json_key(b, "status_message");
		json_strz(b, s->status_message);
	}
	op_buf_addf(b, ",\"orphan\":%s,\"attributes\":{", s->orphan ? "true" : "false");
	for (i = 0; s->attrs && i < s->attrs->len; i++) {
		const struct op_json *a = s->attrs->items[i];
		const char *key = op_json_get_str(a, "key");

		if (!key)
			continue;
		if (!first)
			op_buf_addc(b, ',');
		first = false;
		json_key(b, key);
		json_any(b, op_json_get(a, "value"));
	}
	op_buf_adds(b, "},\"children\":[");
}

void op_wf_json(struct op_buf *b, const struct op_wf_set *set, const struct op_wf_opts *o)
{
	struct layout l = layout(set, OP_WF_DEFAULT_WIDTH);
	struct counts c = count(set, o->self_pid);
	size_t t, i;

	op_buf_addf(b, "{\"start_ns\":\"%lld\",\"end_ns\":\"%lld\",\"summary\":{\"spans\":%zu,"
		    "\"traces\":%zu,\"processes\":%zu,\"errors\":%zu,\"unreadable_lines\":%zu,"
		    "\"dropped_spans\":%zu},\"traces\":[",
		    (long long)l.t0, (long long)(l.t0 + (set->n ? l.span_ns : 0)),
		    c.spans, c.traces, c.processes, c.errors, set->bad_lines, set->dropped);
	for (t = 0; t < set->n_traces; t++) {
		const struct op_wf_trace *tr = &set->traces[t];
		int depth = -1;

		if (t)
			op_buf_addc(b, ',');
		op_buf_adds(b, "{\"trace_id\":");
		json_strz(b, set->v[set->rows[tr->first_row].span].trace_id);
		op_buf_addf(b, ",\"start_ns\":\"%lld\",\"end_ns\":\"%lld\",\"spans\":[",
			    (long long)tr->start_ns, (long long)tr->end_ns);
		for (i = 0; i < tr->n_rows && !b->err; i++) {
			const struct op_wf_row *r = &set->rows[tr->first_row + i];

			/* Close the spans this one is not under; a sibling follows a comma. */
			for (; depth >= r->depth; depth--)
				op_buf_adds(b, "]}");
			if (b->p[b->len - 1] == '}')
				op_buf_addc(b, ',');
			json_span_open(b, &set->v[r->span]);
			depth = r->depth;
		}
		for (; depth >= 0; depth--)
			op_buf_adds(b, "]}");
		op_buf_adds(b, "]}");
	}
	op_buf_adds(b, "]}\n");
}

/* ---- terminal ------------------------------------------------------------ */

bool op_wf_want_color(enum op_wf_color c, int fd)
{
	const char *v;

	if (c != OP_WF_COLOR_AUTO)
		return c == OP_WF_COLOR_ALWAYS;
	/* https://no-color.org: present and not empty, whatever its value. */
	if ((v = getenv("NO_COLOR")) && *v)
		return false;
	if ((v = getenv("TERM")) && !strcmp(v, "dumb"))
		return false;
	return isatty(fd);
}

int op_wf_width(int fd)
{
	const char *v = getenv("COLUMNS");
	struct winsize ws;
	char *end;
	long n;

	if (v && *v) {
		n = strtol(v, &end, 10);
		if (*end == '\0' && n > 0 && n <= 100000)
			return (int)n;
	}
	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return OP_WF_DEFAULT_WIDTH;
}

bool op_wf_utf8_locale(void)
{
	const char *cs;

	if (!setlocale(LC_CTYPE, ""))
		return false;
	cs = nl_langinfo(CODESET);
	return cs && (!strcasecmp(cs, "UTF-8") || !strcasecmp(cs, "utf8"));
}

int op_wf_parse_color(const char *v)
{
	if (!strcmp(v, "auto") || !strcmp(v, "tty") || !strcmp(v, "if-tty"))
		return OP_WF_COLOR_AUTO;
	if (!strcmp(v, "always") || !strcmp(v, "yes") || !strcmp(v, "force"))
		return OP_WF_COLOR_ALWAYS;
	if (!strcmp(v, "never") || !strcmp(v, "no") || !strcmp(v, "none"))
		return OP_WF_COLOR_NEVER;
	return -1;
}
