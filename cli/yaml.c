#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "yaml.h"

#define TAG_PREFIX "tag:yaml.org,2002:"

/* An open mapping or sequence while reading. */
struct frame {
	struct op_json *node;
	char *anchor;        /* registered when the collection ends */
	size_t nodes_before; /* values made before it: its size is the difference */
	int height;          /* levels in it so far (1: empty) */
	char *key;           /* a mapping's key waiting for its value */
	size_t klen;
	int kstyle;
	bool have_key;
};

struct anchor {
	char *name;
	const struct op_json *node;
	struct op_json *owned;  /* node, when the anchor owns it (a scalar's copy) */
	size_t nodes;
	int height;
};

struct loader {
	struct frame stack[OP_JSON_MAX_DEPTH];
	int depth;
	struct op_json *root;
	int root_height;
	struct anchor anchors[OP_YAML_MAX_ANCHORS];
	size_t nanchors;
	size_t nodes;
	const char *msg;     /* static */
};

static bool is_word(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return true;
	return false;
}

static const char *const null_words[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const true_words[] = { "true", "True", "TRUE", NULL };
static const char *const false_words[] = { "false", "False", "FALSE", NULL };

/* A scalar event as a value; NULL with l->msg set when it cannot be one. */
static struct op_json *scalar(struct loader *l, const yaml_event_t *ev)
{
	const char *text = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	const char *tag = (const char *)ev->data.scalar.tag;
	int style = ev->data.scalar.style;
	enum op_json_type type = OP_JSON_STRING;
	struct op_json *v;

	if (tag && strcmp(tag, "!") && strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX))) {
		l->msg = "a tag that is not one of YAML's own";
		return NULL;
	}
	if (tag && !strcmp(tag, TAG_PREFIX "str")) {
		/* Written out plain it would lose its tag, and with it its type. */
		if (style == YAML_PLAIN_SCALAR_STYLE)
			style = 0;
	} else if (tag && !strcmp(tag, TAG_PREFIX "null")) {
		type = OP_JSON_NULL;
	} else if (tag && !strcmp(tag, TAG_PREFIX "bool")) {
		type = is_word(text, true_words) ? OP_JSON_TRUE : OP_JSON_FALSE;
	} else if ((tag && (!strcmp(tag, TAG_PREFIX "int") || !strcmp(tag, TAG_PREFIX "float"))) ||
		   (!tag && style == YAML_PLAIN_SCALAR_STYLE)) {
		if (!tag && is_word(text, null_words))
			type = OP_JSON_NULL;
		else if (!tag && is_word(text, true_words))
			type = OP_JSON_TRUE;
		else if (!tag && is_word(text, false_words))
			type = OP_JSON_FALSE;
		else if (op_json_number_valid(text, len))
			type = OP_JSON_NUMBER;
		style = YAML_PLAIN_SCALAR_STYLE;
	} else if (tag && strcmp(tag, "!")) {
		l->msg = "a scalar tag other than str, null, bool, int and float";
		return NULL;
	}
	if (!(v = op_json_new_str(text, len))) {
		l->msg = "out of memory";
		return NULL;
	}
	v->type = type;
	v->style = style;
	return v;
}

/*
 * Places a finished value (of `height` levels) in the open collection,
 * or makes it the document. Takes `v`.
 */
static bool place(struct loader *l, struct op_json *v, int height)
{
	struct frame *f;

	if (l->depth + height > OP_JSON_MAX_DEPTH) {
		op_json_free(v);
		l->msg = "nesting too deep";
		return false;
	}
	if (!l->depth) {
		l->root = v;
		l->root_height = height;
		return true;
	}
	f = &l->stack[l->depth - 1];
	if (f->height < height + 1)
		f->height = height + 1;
	if (f->node->type == OP_JSON_ARRAY) {
		if (op_json_push(f->node, v))
			return true;
		l->msg = "out of memory";
		return false;
	}
	if (!f->have_key) {
		if (v->type == OP_JSON_ARRAY || v->type == OP_JSON_OBJECT) {
			op_json_free(v);
			l->msg = "a mapping key that is not a scalar";
			return false;
		}
		f->key = v->s ? v->s : strdup("");
		f->klen = v->s ? v->len : 0;
		f->kstyle = v->style;
		f->have_key = true;
		v->s = NULL;
		op_json_free(v);
		if (!f->key) {
			l->msg = "out of memory";
			return false;
		}
		return true;
	}
	if (!op_json_add(f->node, "", v)) {
		l->msg = "out of memory";
		return false;
	}
	/* op_json_add copied "": put the real key, which may hold NUL, in its place. */
	free(f->node->members[f->node->len - 1].key);
	f->node->members[f->node->len - 1].key = f->key;
	f->node->members[f->node->len - 1].klen = f->klen;
	f->node->members[f->node->len - 1].kstyle = f->kstyle;
	f->key = NULL;
	f->have_key = false;
	return true;
}

static bool count(struct loader *l, size_t n)
{
	if (n > OP_JSON_MAX_NODES - l->nodes) {
		l->msg = "too many values (aliases included)";
		return false;
	}
	l->nodes += n;
	return true;
}

/* Names `node` (owned by the table when `owned` is it) for later aliases. */
static bool add_anchor(struct loader *l, const char *name, const struct op_json *node,
		       struct op_json *owned, size_t nodes, int height)
{
	struct anchor *a = NULL;

	if (!name) {
		op_json_free(owned);
		return true;
	}
	/* A later anchor of the same name hides the earlier one. */
	for (size_t i = l->nanchors; i-- > 0 && !a;)
		if (!strcmp(l->anchors[i].name, name))
			a = &l->anchors[i];
	if (a) {
		op_json_free(a->owned);
	} else if (l->nanchors >= OP_YAML_MAX_ANCHORS) {
		op_json_free(owned);
		l->msg = "too many anchors";
		return false;
	} else {
		a = &l->anchors[l->nanchors];
		if (!(a->name = strdup(name))) {
			op_json_free(owned);
			l->msg = "out of memory";
			return false;
		}
		l->nanchors++;
	}
	a->node = node;
	a->owned = owned;
	a->nodes = nodes;
	a->height = height;
	return true;
}

static void clear_anchors(struct loader *l)
{
	for (size_t i = 0; i < l->nanchors; i++) {
		free(l->anchors[i].name);
		op_json_free(l->anchors[i].owned);
	}
	l->nanchors = 0;
}

static bool alias(struct loader *l, const char *name)
{
	struct op_json *v;

	for (size_t i = l->nanchors; i-- > 0;) {
		struct anchor *a = &l->anchors[i];

		if (strcmp(a->name, name))
			continue;
		if (!count(l, a->nodes))
			return false;
		if (!(v = op_json_clone(a->node))) {
			l->msg = "out of memory";
			return false;
		}
		return place(l, v, a->height);
	}
	l->msg = "an alias to an anchor not defined before it";
	return false;
}

static bool collection_start(struct loader *l, const yaml_event_t *ev)
{
	bool map = ev->type == YAML_MAPPING_START_EVENT;
	const char *tag = (const char *)(map ? ev->data.mapping_start.tag
					     : ev->data.sequence_start.tag);
	const char *anchor = (const char *)(map ? ev->data.mapping_start.anchor
						: ev->data.sequence_start.anchor);
	struct frame *f;
	struct op_json *v;

	if (tag && strcmp(tag, map ? TAG_PREFIX "map" : TAG_PREFIX "seq") && strcmp(tag, "!")) {
		l->msg = "a collection tag other than map and seq";
		return false;
	}
	if (l->depth >= OP_JSON_MAX_DEPTH) {
		l->msg = "nesting too deep";
		return false;
	}
	if (l->depth) {
		f = &l->stack[l->depth - 1];
		if (f->node->type == OP_JSON_OBJECT && !f->have_key) {
			l->msg = "a mapping key that is not a scalar";
			return false;
		}
	}
	if (!count(l, 1))
		return false;
	if (!(v = op_json_new(map ? OP_JSON_OBJECT : OP_JSON_ARRAY))) {
		l->msg = "out of memory";
		return false;
	}
	v->style = map ? (int)ev->data.mapping_start.style : (int)ev->data.sequence_start.style;
	f = &l->stack[l->depth];
	memset(f, 0, sizeof *f);
	f->node = v;
	f->nodes_before = l->nodes - 1;
	f->height = 1;
	if (anchor && !(f->anchor = strdup(anchor))) {
		op_json_free(v);
		l->msg = "out of memory";
		return false;
	}
	l->depth++;
	return true;
}

static bool collection_end(struct loader *l)
{
	struct frame f = l->stack[--l->depth];
	bool ok = place(l, f.node, f.height);

	/* The node now belongs to its parent (or is the root), and stays where it is. */
	if (ok)
		ok = add_anchor(l, f.anchor, f.node, NULL, l->nodes - f.nodes_before, f.height);
	free(f.anchor);
	free(f.key);
	return ok;
}

static void loader_reset(struct loader *l)
{
	while (l->depth) {
		struct frame *f = &l->stack[--l->depth];

		op_json_free(f->node);
		free(f->anchor);
		free(f->key);
	}
	op_json_free(l->root);
	l->root = NULL;
	clear_anchors(l);
}

/* Whether a document is nothing at all (only comments, or "---" alone). */
static bool empty_document(const struct op_json *v)
{
	return v->type == OP_JSON_NULL && v->len == 0;
}

bool op_yaml_load(const char *s, size_t len, struct op_json ***docs, size_t *ndocs,
		  char *err, size_t errsize)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct loader *l;
	struct op_json **list = NULL;
	size_t n = 0, cap = 0;
	bool done = false, ok = true;

	*docs = NULL;
	*ndocs = 0;
	if (len > OP_JSON_MAX_BYTES) {
		snprintf(err, errsize, "larger than %zu bytes", OP_JSON_MAX_BYTES);
		return false;
	}
	if (!(l = calloc(1, sizeof *l)) || !yaml_parser_initialize(&parser)) {
		free(l);
		snprintf(err, errsize, "out of memory");
		return false;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)s, len);
	while (ok && !done) {
		size_t line, col;

		if (!yaml_parser_parse(&parser, &ev)) {
			snprintf(err, errsize, "line %zu, column %zu: %s%s%s",
				 parser.problem_mark.line + 1, parser.problem_mark.column + 1,
				 parser.context ? parser.context : "", parser.context ? ": " : "",
				 parser.problem ? parser.problem : "malformed YAML");
			ok = false;
			break;
		}
		line = ev.start_mark.line + 1;
		col = ev.start_mark.column + 1;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			loader_reset(l);
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (l->root && !empty_document(l->root)) {
				if (n == cap) {
					size_t c = cap ? cap * 2 : 8;
					struct op_json **g = realloc(list, c * sizeof *g);

					if (!g) {
						l->msg = "out of memory";
						ok = false;
						break;
					}
					list = g;
					cap = c;
				}
				list[n++] = l->root;
				l->root = NULL;
			}
			loader_reset(l);
			break;
		case YAML_SCALAR_EVENT: {
			const char *anchor = (const char *)ev.data.scalar.anchor;
			struct op_json *v = NULL, *copy = NULL;

			ok = count(l, 1) && (v = scalar(l, &ev));
			/* A scalar may become a key and vanish: its anchor keeps a copy. */
			if (ok && anchor && !(copy = op_json_clone(v))) {
				op_json_free(v);
				l->msg = "out of memory";
				ok = false;
			}
			ok = ok && place(l, v, 1);
			if (ok && anchor)
				ok = add_anchor(l, anchor, copy, copy, 1, 1);
			else
				op_json_free(copy);
			break;
		}
		case YAML_ALIAS_EVENT:
			ok = alias(l, (const char *)ev.data.alias.anchor);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			ok = collection_start(l, &ev);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			ok = collection_end(l);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (!ok && l->msg)
			snprintf(err, errsize, "line %zu, column %zu: %s", line, col, l->msg);
	}
	loader_reset(l);
	free(l);
	yaml_parser_delete(&parser);
	if (!ok) {
		for (size_t i = 0; i < n; i++)
			op_json_free(list[i]);
		free(list);
		return false;
	}
	*docs = list;
	*ndocs = n;
	return true;
}

/* ---- writing ------------------------------------------------------------------ */

static int write_out(void *data, unsigned char *buffer, size_t size)
{
	struct op_buf *b = data;

	op_buf_add(b, buffer, size);
	return !b->err;
}

/*
 * Whether a YAML 1.1 reader (go-yaml v2, which Kubernetes uses) could
 * read the plain scalar `s` as something other than a string: null and
 * boolean words, the merge and value keys, and anything starting like a
 * number made only of what numbers (hex, octal, binary, sexagesimal,
 * exponents) and timestamps are made of. "200Mi" and "10m" stay plain,
 * "0.25", "0x1F" and "2024-01-31" are quoted.
 */
static bool ambiguous(const char *s)
{
	static const char *const words[] = {
		"", "~", "null", "Null", "NULL", "true", "True", "TRUE", "false", "False",
		"FALSE", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On",
		"ON", "off", "Off", "OFF", "<<", "=", NULL,
	};
	const char *p = s;

	if (is_word(s, words))
		return true;
	if (*p == '+' || *p == '-')
		p++;
	if (!strcasecmp(p, ".inf") || !strcasecmp(p, ".nan"))
		return true;
	if (!(*p >= '0' && *p <= '9') && !(*p == '.' && p[1] >= '0' && p[1] <= '9'))
		return false;
	return s[strspn(s, "0123456789+-._: eExXoObBabcdfACDFtTzZ")] == '\0';
}

static bool emit(yaml_emitter_t *e, yaml_event_t *ev)
{
	return yaml_emitter_emit(e, ev) != 0;
}

/* A string (a value or a key) written with `style`, 0 when the mutation made it. */
static bool emit_string(yaml_emitter_t *e, const char *s, size_t len, int style)
{
	yaml_event_t ev;
	int plain_ok;

	if (style == 0) {
		plain_ok = !ambiguous(s) && strlen(s) == len;
		style = YAML_ANY_SCALAR_STYLE;
	} else {
		plain_ok = style == YAML_PLAIN_SCALAR_STYLE;
	}
	return yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)s, (int)len,
					    plain_ok, 1, (yaml_scalar_style_t)style) &&
	       emit(e, &ev);
}

/* Flow style is kept for collections of scalars only (`command: [sh, -c]`). */
static bool keep_flow(const struct op_json *v)
{
	if (v->style != YAML_FLOW_SEQUENCE_STYLE && v->style != YAML_FLOW_MAPPING_STYLE)
		return false;
	for (size_t i = 0; i < v->len; i++) {
		const struct op_json *c = v->type == OP_JSON_ARRAY ? v->items[i] : v->members[i].val;

		if (c->type == OP_JSON_ARRAY || c->type == OP_JSON_OBJECT)
			return false;
	}
	return true;
}

static bool emit_value(yaml_emitter_t *e, const struct op_json *v, bool flow)
{
	yaml_event_t ev;
	const char *text;

	switch (v->type) {
	case OP_JSON_OBJECT:
		flow = flow || keep_flow(v);
		if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
				flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE) ||
		    !emit(e, &ev))
			return false;
		for (size_t i = 0; i < v->len; i++)
			if (!emit_string(e, v->members[i].key, v->members[i].klen,
					 v->members[i].kstyle) ||
			    !emit_value(e, v->members[i].val, flow))
				return false;
		return yaml_mapping_end_event_initialize(&ev) && emit(e, &ev);
	case OP_JSON_ARRAY:
		flow = flow || keep_flow(v);
		if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
				flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE) ||
		    !emit(e, &ev))
			return false;
		for (size_t i = 0; i < v->len; i++)
			if (!emit_value(e, v->items[i], flow))
				return false;
		return yaml_sequence_end_event_initialize(&ev) && emit(e, &ev);
	case OP_JSON_STRING:
		return emit_string(e, v->s, v->len, v->style);
	default:
		/*
		 * Null, booleans and numbers: as they were written, or canonical.
		 * An empty null ("key:") is kept in block context only: libyaml
		 * would quote it in a flow one, making it a string.
		 */
		text = v->s && !(flow && !*v->s) ? v->s
			    : v->type == OP_JSON_NULL ? "null"
			    : v->type == OP_JSON_TRUE ? "true" : "false";
		return yaml_scalar_event_initialize(&ev, NULL, NULL, (const yaml_char_t *)text,
						    (int)strlen(text), 1, 1,
						    YAML_PLAIN_SCALAR_STYLE) &&
		       emit(e, &ev);
	}
}

bool op_yaml_dump(struct op_buf *out, struct op_json *const *docs, size_t ndocs,
		  bool explicit_first)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	bool ok;

	if (!yaml_emitter_initialize(&e))
		return false;
	yaml_emitter_set_output(&e, write_out, out);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_emitter_set_indent(&e, 2);
	ok = yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && emit(&e, &ev);
	for (size_t i = 0; ok && i < ndocs; i++) {
		ok = yaml_document_start_event_initialize(&ev, NULL, NULL, NULL,
							  i == 0 && !explicit_first) &&
		     emit(&e, &ev) && emit_value(&e, docs[i], false) &&
		     yaml_document_end_event_initialize(&ev, 1) && emit(&e, &ev);
	}
	ok = ok && yaml_stream_end_event_initialize(&ev) && emit(&e, &ev) &&
	     yaml_emitter_flush(&e);
	yaml_emitter_delete(&e);
	return ok && !out->err;
}
