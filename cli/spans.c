/*
 * OTLP/JSON lines to op_wf_span records, with the JSON reader the webhook
 * and `otelpreload inject` use (init-container/webhook/json.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "spans.h"

static char *dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

/*
 * A 64-bit integer the protobuf JSON mapping writes as a decimal string
 * (and some writers as a number): both are accepted.
 */
static bool get_u64(const struct op_json *obj, const char *key, uint64_t *out)
{
	const struct op_json *v = op_json_get(obj, key);
	char *end;

	if (!v || (v->type != OP_JSON_STRING && v->type != OP_JSON_NUMBER) || !v->len)
		return false;
	if (v->s[0] < '0' || v->s[0] > '9')
		return false;
	errno = 0;
	*out = strtoull(v->s, &end, 10);
	return !errno && *end == '\0';
}

static int get_int(const struct op_json *obj, const char *key, int lo, int hi, int dflt)
{
	const struct op_json *v = op_json_get(obj, key);
	long n;
	char *end;

	if (!v || v->type != OP_JSON_NUMBER)
		return dflt;
	n = strtol(v->s, &end, 10);
	return *end == '\0' && n >= lo && n <= hi ? (int)n : dflt;
}

/* Copies an ID of `hexlen` lower- or upper-case hex digits; false when it is not one. */
static bool get_id(const struct op_json *obj, const char *key, char *out, size_t hexlen)
{
	const char *s = op_json_get_str(obj, key);
	size_t i;
	bool nonzero = false;

	if (!s || strlen(s) != hexlen)
		return false;
	for (i = 0; i < hexlen; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		nonzero |= c != '0';
		out[i] = c;
	}
	out[hexlen] = '\0';
	return nonzero;
}

/* The value of attribute `key` in an OTLP/JSON attributes array, or NULL. */
static const struct op_json *attr_value(const struct op_json *attrs, const char *key)
{
	size_t i;

	if (!attrs || attrs->type != OP_JSON_ARRAY)
		return NULL;
	for (i = attrs->len; i-- > 0;) {
		const char *k = op_json_get_str(attrs->items[i], "key");

		if (k && !strcmp(k, key))
			return op_json_get(attrs->items[i], "value");
	}
	return NULL;
}

struct resource_info {
	const char *service;
	long pid;
};

static struct resource_info resource_info(const struct op_json *rs)
{
	const struct op_json *attrs = op_json_get(op_json_get(rs, "resource"), "attributes");
	struct resource_info r = { op_json_get_str(attr_value(attrs, "service.name"), "stringValue"), 0 };
	uint64_t pid;

	if (get_u64(attr_value(attrs, "process.pid"), "intValue", &pid) && pid <= (uint64_t)LONG_MAX)
		r.pid = (long)pid;
	return r;
}

static int add_span(struct op_wf_set *set, const struct op_json *sp, const struct resource_info *r)
{
	struct op_wf_span s = { 0 };
	const struct op_json *st = op_json_get(sp, "status"), *attrs;
	uint64_t start, end;
	const char *msg;

	if (!get_id(sp, "traceId", s.trace_id, 32) || !get_id(sp, "spanId", s.span_id, 16) ||
	    !get_u64(sp, "startTimeUnixNano", &start) || !get_u64(sp, "endTimeUnixNano", &end) ||
	    start > INT64_MAX || end > INT64_MAX) {
		set->bad_lines++;
		return 0;
	}
	/* A missing, empty or all-zero parent makes a root span, as OTLP says. */
	if (!get_id(sp, "parentSpanId", s.parent_id, 16))
		s.parent_id[0] = '\0';
	if (set->n >= OP_WF_MAX_SPANS) {
		set->dropped++;
		return 0;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		struct op_wf_span *v = realloc(set->v, cap * sizeof *v);

		if (!v)
			return -1;
		set->v = v;
		set->cap = cap;
	}
	s.kind = get_int(sp, "kind", 0, 5, 0);
	s.status = get_int(st, "code", 0, 2, 0);
	s.start_ns = (int64_t)start;
	s.end_ns = end < start ? (int64_t)start : (int64_t)end;
	s.pid = r->pid;
	s.name = dup_or_empty(op_json_get_str(sp, "name"));
	s.service = dup_or_empty(r->service);
	msg = op_json_get_str(st, "message");
	if (msg && *msg && !(s.status_message = strdup(msg)))
		goto oom;
	attrs = op_json_get(sp, "attributes");
	if (attrs && attrs->type == OP_JSON_ARRAY && attrs->len && !(s.attrs = op_json_clone(attrs)))
		goto oom;
	if (!s.name || !s.service)
		goto oom;
	set->v[set->n++] = s;
	return 0;
oom:
	free(s.name);
	free(s.service);
	free(s.status_message);
	op_json_free(s.attrs);
	return -1;
}

/* resourceSpans[].scopeSpans[].spans[] of one request. */
static int add_request(struct op_wf_set *set, const struct op_json *req)
{
	const struct op_json *rss = op_json_get(req, "resourceSpans");
	size_t i, j, k;

	if (!rss || rss->type != OP_JSON_ARRAY) {
		set->bad_lines++;
		return 0;
	}
	for (i = 0; i < rss->len; i++) {
		const struct op_json *sss = op_json_get(rss->items[i], "scopeSpans");
		struct resource_info r = resource_info(rss->items[i]);

		if (!sss || sss->type != OP_JSON_ARRAY)
			continue;
		for (j = 0; j < sss->len; j++) {
			const struct op_json *spans = op_json_get(sss->items[j], "spans");

			if (!spans || spans->type != OP_JSON_ARRAY)
				continue;
			for (k = 0; k < spans->len; k++)
				if (add_span(set, spans->items[k], &r))
					return -1;
		}
	}
	return 0;
}

int op_wf_read(struct op_wf_set *set, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while (!rc && (n = getline(&line, &cap, f)) > 0) {
		struct op_json *req;
		size_t len = (size_t)n, skip = 0;

		if (line[len - 1] != '\n')
			break;
		while (skip < len && (line[skip] == ' ' || line[skip] == '\t'))
			skip++;
		if (line[skip] != '{')
			continue;
		if (len > OP_JSON_MAX_BYTES) {
			set->bad_lines++;
			continue;
		}
		req = op_json_parse(line + skip, len - skip, NULL, NULL);
		if (!req) {
			set->bad_lines++;
			continue;
		}
		rc = add_request(set, req);
		op_json_free(req);
	}
	free(line);
	return rc;
}

void op_wf_set_free(struct op_wf_set *set)
{
	size_t i;

	for (i = 0; i < set->n; i++) {
		free(set->v[i].name);
		free(set->v[i].service);
		free(set->v[i].status_message);
		op_json_free(set->v[i].attrs);
	}
	free(set->v);
	free(set->rows);
	free(set->traces);
	*set = (struct op_wf_set)OP_WF_SET_INIT;
}
