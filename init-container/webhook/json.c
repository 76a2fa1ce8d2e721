#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* First allocation of an array's items or an object's members. */
#define OP_JSON_MIN_SLOTS 4

struct parser {
	const char *start, *p, *end;
	size_t nodes;
	const char *msg;     /* first failure, static */
	const char *at;      /* where it happened */
};

static void *fail(struct parser *P, const char *at, const char *msg)
{
	if (!P->msg) {
		P->msg = msg;
		P->at = at;
	}
	return NULL;
}

static struct op_json *node(struct parser *P, enum op_json_type type)
{
	struct op_json *v;

	if (P->nodes >= OP_JSON_MAX_NODES)
		return fail(P, P->p, "too many values");
	v = calloc(1, sizeof *v);
	if (!v)
		return fail(P, P->p, "out of memory");
	P->nodes++;
	v->type = type;
	return v;
}

static void skip_ws(struct parser *P)
{
	while (P->p < P->end && (*P->p == ' ' || *P->p == '\t' || *P->p == '\n' || *P->p == '\r'))
		P->p++;
}

static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static size_t put_utf8(char *d, uint32_t c)
{
	if (c < 0x80) {
		d[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		d[0] = (char)(0xc0 | (c >> 6));
		d[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		d[0] = (char)(0xe0 | (c >> 12));
		d[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		d[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (c >> 18));
	d[1] = (char)(0x80 | ((c >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((c >> 6) & 0x3f));
	d[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * Reads the string whose opening quote is at P->p into a heap buffer
 * (*out, *out_len). Decoding never makes text longer: an escape of 2, 6 or
 * 12 bytes yields at most 1, 3 or 4, so the raw length bounds the buffer.
 */
static bool parse_string(struct parser *P, char **out, size_t *out_len)
{
	const char *q = P->p + 1, *raw_end;
	size_t n = 0;
	char *d;

	/* Find the closing quote first. */
	for (raw_end = q; raw_end < P->end && *raw_end != '"'; raw_end++) {
		if (*raw_end == '\\' && ++raw_end == P->end)
			break;
	}
	if (raw_end >= P->end)
		return fail(P, P->p, "unterminated string"), false;
	d = malloc((size_t)(raw_end - q) + 1);
	if (!d)
		return fail(P, P->p, "out of memory"), false;
	while (q < raw_end) {
		const char *run = q;

		while (q < raw_end && *q != '\\' && (unsigned char)*q >= 0x20)
			q++;
		if (!op_utf8_valid(run, (size_t)(q - run))) {
			free(d);
			return fail(P, run, "invalid utf-8 in a string"), false;
		}
		memcpy(d + n, run, (size_t)(q - run));
		n += (size_t)(q - run);
		if (q == raw_end)
			break;
		if ((unsigned char)*q < 0x20) {
			free(d);
			return fail(P, q, "control character in a string"), false;
		}
		/* An escape; the closing quote search guarantees q[1] exists. */
		switch (q[1]) {
		case '"': d[n++] = '"'; q += 2; continue;
		case '\\': d[n++] = '\\'; q += 2; continue;
		case '/': d[n++] = '/'; q += 2; continue;
		case 'b': d[n++] = '\b'; q += 2; continue;
		case 'f': d[n++] = '\f'; q += 2; continue;
		case 'n': d[n++] = '\n'; q += 2; continue;
		case 'r': d[n++] = '\r'; q += 2; continue;
		case 't': d[n++] = '\t'; q += 2; continue;
		case 'u': break;
		default:
			free(d);
			return fail(P, q, "invalid escape in a string"), false;
		}
		{
			int c = raw_end - q >= 6 ? hex4(q + 2) : -1;
			uint32_t cp;

			if (c < 0) {
				free(d);
				return fail(P, q, "invalid \\u escape in a string"), false;
			}
			q += 6;
			cp = (uint32_t)c;
			if (cp >= 0xd800 && cp <= 0xdbff && raw_end - q >= 6 && q[0] == '\\' &&
			    q[1] == 'u') {
				int lo = hex4(q + 2);

				if (lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
					q += 6;
				}
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			n += put_utf8(d + n, cp);
		}
	}
	d[n] = '\0';
	*out = d;
	*out_len = n;
	P->p = raw_end + 1;
	return true;
}

bool op_json_number_valid(const char *s, size_t len)
{
	const char *p = s, *e = s + len;

	if (p < e && *p == '-')
		p++;
	if (p == e)
		return false;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	} else {
		return false;
	}
	if (p < e && *p == '.') {
		p++;
		if (p == e || *p < '0' || *p > '9')
			return false;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			p++;
		if (p == e || *p < '0' || *p > '9')
			return false;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
	}
	return p == e;
}

static bool grow(void **slots, size_t *cap, size_t used, size_t size)
{
	size_t n;
	void *p;

	if (used < *cap)
		return true;
	n = *cap ? *cap * 2 : OP_JSON_MIN_SLOTS;
	p = realloc(*slots, n * size);
	if (!p)
		return false;
	*slots = p;
	*cap = n;
	return true;
}

static struct op_json *parse_value(struct parser *P, int depth);

static struct op_json *parse_array(struct parser *P, int depth)
{
	struct op_json *v = node(P, OP_JSON_ARRAY), *item;

	if (!v)
		return NULL;
	P->p++;
	skip_ws(P);
	if (P->p < P->end && *P->p == ']') {
		P->p++;
		return v;
	}
	for (;;) {
		if (!(item = parse_value(P, depth + 1)))
			break;
		if (!op_json_push(v, item)) {
			fail(P, P->p, "out of memory");
			break;
		}
		skip_ws(P);
		if (P->p < P->end && *P->p == ',') {
			P->p++;
			continue;
		}
		if (P->p < P->end && *P->p == ']') {
			P->p++;
			return v;
		}
		fail(P, P->p, "expected ',' or ']' in an array");
		break;
	}
	op_json_free(v);
	return NULL;
}

static struct op_json *parse_object(struct parser *P, int depth)
{
	struct op_json *v = node(P, OP_JSON_OBJECT), *val;

	if (!v)
		return NULL;
	P->p++;
	skip_ws(P);
	if (P->p < P->end && *P->p == '}') {
		P->p++;
		return v;
	}
	for (;;) {
		struct op_json_member *m;
		char *key;
		size_t klen;

		skip_ws(P);
		if (P->p >= P->end || *P->p != '"') {
			fail(P, P->p, "expected a string as an object key");
			break;
		}
		if (!parse_string(P, &key, &klen))
			break;
		skip_ws(P);
		if (P->p >= P->end || *P->p != ':') {
			free(key);
			fail(P, P->p, "expected ':' after an object key");
			break;
		}
		P->p++;
		if (!(val = parse_value(P, depth + 1))) {
			free(key);
			break;
		}
		if (!grow((void **)&v->members, &v->cap, v->len, sizeof *v->members)) {
			free(key);
			op_json_free(val);
			fail(P, P->p, "out of memory");
			break;
		}
		m = &v->members[v->len++];
		m->key = key;
		m->klen = klen;
		m->kstyle = 0;
		m->val = val;
		skip_ws(P);
		if (P->p < P->end && *P->p == ',') {
			P->p++;
			continue;
		}
		if (P->p < P->end && *P->p == '}') {
			P->p++;
			return v;
		}
		fail(P, P->p, "expected ',' or '}' in an object");
		break;
	}
	op_json_free(v);
	return NULL;
}

static struct op_json *parse_literal(struct parser *P, const char *word, enum op_json_type type)
{
	size_t n = strlen(word);

	if ((size_t)(P->end - P->p) < n || memcmp(P->p, word, n) != 0)
		return fail(P, P->p, "expected a value");
	P->p += n;
	return node(P, type);
}

static struct op_json *parse_number(struct parser *P)
{
	const char *q = P->p;
	struct op_json *v;

	while (q < P->end && ((*q >= '0' && *q <= '9') || *q == '-' || *q == '+' || *q == '.' ||
			      *q == 'e' || *q == 'E'))
		q++;
	if (!op_json_number_valid(P->p, (size_t)(q - P->p)))
		return fail(P, P->p, "invalid number");
	if (!(v = node(P, OP_JSON_NUMBER)))
		return NULL;
	v->s = strndup(P->p, (size_t)(q - P->p));
	if (!v->s) {
		free(v);
		return fail(P, P->p, "out of memory");
	}
	v->len = (size_t)(q - P->p);
	P->p = q;
	return v;
}

static struct op_json *parse_value(struct parser *P, int depth)
{
	struct op_json *v;

	if (depth > OP_JSON_MAX_DEPTH)
		return fail(P, P->p, "nesting too deep");
	skip_ws(P);
	if (P->p >= P->end)
		return fail(P, P->p, "unexpected end of input");
	switch (*P->p) {
	case '{':
		return parse_object(P, depth);
	case '[':
		return parse_array(P, depth);
	case '"':
		if (!(v = node(P, OP_JSON_STRING)))
			return NULL;
		if (!parse_string(P, &v->s, &v->len)) {
			free(v);
			return NULL;
		}
		return v;
	case 't':
		return parse_literal(P, "true", OP_JSON_TRUE);
	case 'f':
		return parse_literal(P, "false", OP_JSON_FALSE);
	case 'n':
		return parse_literal(P, "null", OP_JSON_NULL);
	default:
		if (*P->p == '-' || (*P->p >= '0' && *P->p <= '9'))
			return parse_number(P);
		return fail(P, P->p, "expected a value");
	}
}

struct op_json *op_json_parse(const char *s, size_t len, size_t *used,
			      struct op_json_error *err)
{
	struct parser P = { s, s, s + len, 0, NULL, NULL };
	struct op_json *v = NULL;

	if (len > OP_JSON_MAX_BYTES) {
		fail(&P, s, "input too large");
	} else if ((v = parse_value(&P, 1))) {
		skip_ws(&P);
		if (used) {
			*used = (size_t)(P.p - s);
		} else if (P.p != P.end) {
			fail(&P, P.p, "text after the value");
			op_json_free(v);
			v = NULL;
		}
	}
	if (!v && err) {
		err->offset = (size_t)(P.at - s);
		err->msg = P.msg ? P.msg : "out of memory";
	}
	return v;
}

void op_json_free(struct op_json *v)
{
	size_t i;

	if (!v)
		return;
	if (v->type == OP_JSON_ARRAY) {
		for (i = 0; i < v->len; i++)
			op_json_free(v->items[i]);
	} else if (v->type == OP_JSON_OBJECT) {
		for (i = 0; i < v->len; i++) {
			free(v->members[i].key);
			op_json_free(v->members[i].val);
		}
	}
	free(v->items);
	free(v->members);
	free(v->s);
	free(v);
}

struct op_json *op_json_clone(const struct op_json *v)
{
	struct op_json *c = op_json_new(v->type);
	size_t i;

	if (!c)
		return NULL;
	c->style = v->style;
	if (v->s) {
		if (!(c->s = malloc(v->len + 1)))
			goto oom;
		memcpy(c->s, v->s, v->len);
		c->s[v->len] = '\0';
	}
	if (v->type == OP_JSON_ARRAY) {
		if (v->len && !(c->items = malloc(v->len * sizeof *c->items)))
			goto oom;
		c->cap = v->len;
		for (i = 0; i < v->len; i++) {
			if (!(c->items[i] = op_json_clone(v->items[i])))
				goto oom;
			c->len++;
		}
	} else if (v->type == OP_JSON_OBJECT) {
		if (v->len && !(c->members = malloc(v->len * sizeof *c->members)))
			goto oom;
		c->cap = v->len;
		for (i = 0; i < v->len; i++) {
			struct op_json_member *m = &c->members[i];

			m->klen = v->members[i].klen;
			m->kstyle = v->members[i].kstyle;
			if (!(m->key = malloc(m->klen + 1)))
				goto oom;
			memcpy(m->key, v->members[i].key, m->klen + 1);
			if (!(m->val = op_json_clone(v->members[i].val))) {
				free(m->key);
				goto oom;
			}
			c->len++;
		}
	} else {
		c->len = v->len;
	}
	return c;
oom:
	op_json_free(c);
	return NULL;
}

void op_json_swap(struct op_json *a, struct op_json *b)
{
	struct op_json t = *a;

	*a = *b;
	*b = t;
}

struct op_json *op_json_new(enum op_json_type type)
{
	struct op_json *v = calloc(1, sizeof *v);

	if (v)
		v->type = type;
	return v;
}

struct op_json *op_json_new_str(const char *s, size_t len)
{
	struct op_json *v = op_json_new(OP_JSON_STRING);

	if (!v)
		return NULL;
	if (!(v->s = malloc(len + 1))) {
		free(v);
		return NULL;
	}
	memcpy(v->s, s, len);
	v->s[len] = '\0';
	v->len = len;
	return v;
}

struct op_json *op_json_new_strz(const char *s)
{
	return op_json_new_str(s, strlen(s));
}

struct op_json *op_json_new_number(const char *text)
{
	struct op_json *v = op_json_new_str(text, strlen(text));

	if (v)
		v->type = OP_JSON_NUMBER;
	return v;
}

long op_json_find(const struct op_json *obj, const char *key)
{
	size_t klen = strlen(key), i;

	if (!obj || obj->type != OP_JSON_OBJECT)
		return -1;
	for (i = obj->len; i-- > 0;)
		if (obj->members[i].klen == klen && !memcmp(obj->members[i].key, key, klen))
			return (long)i;
	return -1;
}

struct op_json *op_json_get(const struct op_json *obj, const char *key)
{
	long i = op_json_find(obj, key);

	return i < 0 ? NULL : obj->members[i].val;
}

const char *op_json_get_str(const struct op_json *obj, const char *key)
{
	const struct op_json *v = op_json_get(obj, key);

	return v && v->type == OP_JSON_STRING ? v->s : NULL;
}

bool op_json_add(struct op_json *obj, const char *key, struct op_json *val)
{
	struct op_json_member *m;
	size_t klen = strlen(key);
	char *k;

	if (!val || obj->type != OP_JSON_OBJECT ||
	    !grow((void **)&obj->members, &obj->cap, obj->len, sizeof *obj->members) ||
	    !(k = malloc(klen + 1))) {
		op_json_free(val);
		return false;
	}
	memcpy(k, key, klen + 1);
	m = &obj->members[obj->len++];
	m->key = k;
	m->klen = klen;
	m->kstyle = 0;
	m->val = val;
	return true;
}

bool op_json_set(struct op_json *obj, const char *key, struct op_json *val)
{
	long i = op_json_find(obj, key);

	if (i < 0)
		return op_json_add(obj, key, val);
	if (!val)
		return false;
	op_json_free(obj->members[i].val);
	obj->members[i].val = val;
	return true;
}

bool op_json_insert(struct op_json *arr, size_t index, struct op_json *val)
{
	if (!val || arr->type != OP_JSON_ARRAY || index > arr->len ||
	    !grow((void **)&arr->items, &arr->cap, arr->len, sizeof *arr->items)) {
		op_json_free(val);
		return false;
	}
	memmove(arr->items + index + 1, arr->items + index,
		(arr->len - index) * sizeof *arr->items);
	arr->items[index] = val;
	arr->len++;
	return true;
}

static void newline(struct op_buf *b, int indent, int level)
{
	op_buf_addc(b, '\n');
	for (int i = 0; i < indent * level; i++)
		op_buf_addc(b, ' ');
}

static void write_value(struct op_buf *b, const struct op_json *v, int indent, int level)
{
	size_t i;

	if (b->err)
		return;
	switch (v->type) {
	case OP_JSON_NULL:
		op_buf_adds(b, "null");
		break;
	case OP_JSON_FALSE:
		op_buf_adds(b, "false");
		break;
	case OP_JSON_TRUE:
		op_buf_adds(b, "true");
		break;
	case OP_JSON_NUMBER:
		/* Only the parser and op_json_new_number make numbers: the text is valid. */
		op_buf_add(b, v->s, v->len);
		break;
	case OP_JSON_STRING:
		op_json_str(b, v->s, v->len);
		break;
	case OP_JSON_ARRAY:
		op_buf_addc(b, '[');
		for (i = 0; i < v->len; i++) {
			if (i)
				op_buf_addc(b, ',');
			if (indent)
				newline(b, indent, level + 1);
			write_value(b, v->items[i], indent, level + 1);
		}
		if (indent && v->len)
			newline(b, indent, level);
		op_buf_addc(b, ']');
		break;
	case OP_JSON_OBJECT:
		op_buf_addc(b, '{');
		for (i = 0; i < v->len; i++) {
			if (i)
				op_buf_addc(b, ',');
			if (indent)
				newline(b, indent, level + 1);
			op_json_str(b, v->members[i].key, v->members[i].klen);
			op_buf_adds(b, indent ? ": " : ":");
			write_value(b, v->members[i].val, indent, level + 1);
		}
		if (indent && v->len)
			newline(b, indent, level);
		op_buf_addc(b, '}');
		break;
	}
}

void op_json_write(struct op_buf *b, const struct op_json *v, int indent)
{
	write_value(b, v, indent, 0);
}

void op_json_ptr_add(struct op_buf *b, const char *token, size_t len)
{
	size_t i, start = 0;

	op_buf_addc(b, '/');
	for (i = 0; i < len; i++) {
		if (token[i] != '~' && token[i] != '/')
			continue;
		op_buf_add(b, token + start, i - start);
		op_buf_adds(b, token[i] == '~' ? "~0" : "~1");
		start = i + 1;
	}
	op_buf_add(b, token + start, len - start);
}

void op_base64(struct op_buf *b, const void *p, size_t len)
{
	static const char abc[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *u = p;
	size_t i, out = (len + 2) / 3 * 4;
	char *d;

	if (len > OP_BUF_MAX / 4 * 3) {
		b->err = true;
		return;
	}
	if (!(d = op_buf_space(b, out)))
		return;
	for (i = 0; i + 2 < len; i += 3) {
		uint32_t w = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];

		*d++ = abc[w >> 18];
		*d++ = abc[(w >> 12) & 63];
		*d++ = abc[(w >> 6) & 63];
		*d++ = abc[w & 63];
	}
	if (i < len) {
		uint32_t w = (uint32_t)u[i] << 16 | (i + 1 < len ? (uint32_t)u[i + 1] << 8 : 0);

		*d++ = abc[w >> 18];
		*d++ = abc[(w >> 12) & 63];
		*d++ = i + 1 < len ? abc[(w >> 6) & 63] : '=';
		*d++ = '=';
	}
	b->len += out;
	b->p[b->len] = '\0';
}
