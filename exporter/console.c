#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../preload/op.h"
#include "console.h"
#include "json.h"
#include "otlp_encode.h"
#include "sigpipe.h"

struct op_console {
	int fd;
	struct op_buf head;    /* the resource and scope part, same for the whole batch */
	struct op_buf line;    /* reused across spans and batches */
};

struct op_console *op_console_create(int fd)
{
	struct op_console *c = calloc(1, sizeof *c);

	if (!c) {
		op_warn("cannot set up the console exporter: out of memory");
		return NULL;
	}
	c->fd = fd;
	return c;
}

/* [{"key":"k","value":{"stringValue":"v"}},...] with OTLP/JSON's value names. */
static void attrs_json(struct op_buf *b, const struct op_attrs *a)
{
	uint32_t i;

	op_buf_addc(b, '[');
	for (i = 0; i < a->n; i++) {
		const struct op_attr *at = &a->v[i];

		if (i)
			op_buf_addc(b, ',');
		op_buf_adds(b, "{\"key\":");
		op_json_str(b, at->key, at->key ? strlen(at->key) : 0);
		op_buf_adds(b, ",\"value\":{");
		switch (at->type) {
		case OP_ATTR_STRING:
			op_buf_adds(b, "\"stringValue\":");
			op_json_str(b, at->v.s, at->v.s ? strlen(at->v.s) : 0);
			break;
		case OP_ATTR_BOOL:
			op_buf_adds(b, at->v.b ? "\"boolValue\":true" : "\"boolValue\":false");
			break;
		case OP_ATTR_INT:
			/* int64 is a string in the protobuf JSON mapping: JavaScript numbers stop at 2^53. */
			op_buf_addf(b, "\"intValue\":\"%lld\"", (long long)at->v.i);
			break;
		case OP_ATTR_DOUBLE:
			op_buf_adds(b, "\"doubleValue\":");
			op_json_double(b, at->v.d);
			break;
		}
		op_buf_adds(b, "}}");
	}
	op_buf_addc(b, ']');
}

static void head_json(struct op_buf *b, const struct op_resource *res)
{
	op_buf_adds(b, "{\"resource\":{\"attributes\":");
	if (res) {
		attrs_json(b, &res->attrs);
		if (res->attrs.dropped)
			op_buf_addf(b, ",\"droppedAttributesCount\":%u", res->attrs.dropped);
	} else {
		op_buf_adds(b, "[]");
	}
	op_buf_adds(b, "},\"scope\":{\"name\":\"" OP_SCOPE_NAME "\",\"version\":");
	op_json_str(b, OP_VERSION, strlen(OP_VERSION));
	op_buf_addc(b, '}');
}

static void span_json(struct op_buf *b, const struct op_span *s)
{
	op_buf_adds(b, ",\"traceId\":\"");
	op_buf_add_hex(b, s->ctx.trace_id, sizeof s->ctx.trace_id);
	op_buf_adds(b, "\",\"spanId\":\"");
	op_buf_add_hex(b, s->ctx.span_id, sizeof s->ctx.span_id);
	op_buf_addc(b, '"');
	if (op_span_has_parent(s)) {
		op_buf_adds(b, ",\"parentSpanId\":\"");
		op_buf_add_hex(b, s->parent_span_id, sizeof s->parent_span_id);
		op_buf_addc(b, '"');
	}
	op_buf_adds(b, ",\"name\":");
	op_json_str(b, s->name, s->name ? strlen(s->name) : 0);
	/* fixed64 times are strings in the protobuf JSON mapping, like int64. */
	op_buf_addf(b, ",\"kind\":%d,\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\",\"attributes\":",
		    (int)s->kind, (unsigned long long)s->start_ns,
		    (unsigned long long)s->end_ns);
	attrs_json(b, &s->attrs);
	if (s->attrs.dropped)
		op_buf_addf(b, ",\"droppedAttributesCount\":%u", s->attrs.dropped);
	op_buf_addf(b, ",\"status\":{\"code\":%d", (int)s->status);
	if (s->status_message && *s->status_message) {
		op_buf_adds(b, ",\"message\":");
		op_json_str(b, s->status_message, strlen(s->status_message));
	}
	op_buf_addf(b, "},\"flags\":%u}\n", (unsigned)op_span_otlp_flags(s));
}

/*
 * One write(2) per line; the loop only finishes a short write or restarts
 * after EINTR. EAGAIN (a non-blocking stderr that is full) gives up: the
 * worker must not spin on the host's descriptor.
 */
static int write_line(int fd, const char *p, size_t len)
{
	ssize_t w;

	while (len) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int op_console_export(struct op_console *c, struct op_span *const *spans,
		      size_t n, const struct op_resource *res)
{
	struct op_sigpipe st;
	int ret = 0;
	size_t i;

	op_buf_reset(&c->head);
	head_json(&c->head, res);
	if (c->head.err)
		return -1;
	/* stderr may be a pipe whose reader is gone (`prog 2>&1 | head`). */
	op_sigpipe_block(&st);
	for (i = 0; i < n && !ret; i++) {
		op_buf_reset(&c->line);
		op_buf_add(&c->line, c->head.p, c->head.len);
		span_json(&c->line, spans[i]);
		if (c->line.err)
			ret = -1;
		else if (write_line(c->fd, c->line.p, c->line.len)) {
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
