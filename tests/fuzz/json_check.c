#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_check.h"

struct reader {
	const unsigned char *s;
	size_t len, i;
	const char *why;
};

static bool fault(struct reader *r, const char *why)
{
	if (!r->why)
		r->why = why;
	return false;
}

/* Bytes of the code point starting at s[0] (1-4), or 0 when ill-formed. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (left < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	/* The shortest form only; no surrogates; nothing past U+10FFFF. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

bool json_utf8_ok(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_len(u + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

static void skip_ws(struct reader *r)
{
	while (r->i < r->len && (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' ||
				 r->s[r->i] == '\r'))
		r->i++;
}

static bool literal(struct reader *r, const char *word)
{
	size_t n = strlen(word);

	if (r->len - r->i < n || memcmp(r->s + r->i, word, n))
		return fault(r, "unknown literal");
	r->i += n;
	return true;
}

static int hex4(struct reader *r, uint32_t *out)
{
	*out = 0;
	if (r->len - r->i < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		unsigned char c = r->s[r->i++];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
			c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

		if (d < 0)
			return -1;
		*out = *out << 4 | (uint32_t)d;
	}
	return 0;
}

static void put_cp(char *o, size_t *n, uint32_t cp)
{
	if (cp < 0x80) {
		o[(*n)++] = (char)cp;
	} else if (cp < 0x800) {
		o[(*n)++] = (char)(0xc0 | cp >> 6);
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		o[(*n)++] = (char)(0xe0 | cp >> 12);
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		o[(*n)++] = (char)(0xf0 | cp >> 18);
		o[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[(*n)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* A string at r->i (its opening quote), decoded into a heap copy. */
static bool string(struct reader *r, char **out, size_t *olen)
{
	/* Decoding never grows the text: an escape is longer than what it stands for. */
	char *o = malloc(r->len - r->i + 1);
	size_t n = 0;

	if (!o)
		abort();
	r->i++;
	for (;;) {
		unsigned char c;

		if (r->i >= r->len) {
			free(o);
			return fault(r, "unterminated string");
		}
		c = r->s[r->i];
		if (c == '"') {
			r->i++;
			break;
		}
		if (c < 0x20) {
			free(o);
			return fault(r, "raw control character in a string");
		}
		if (c == '\\') {
			uint32_t cp, lo;

			if (++r->i >= r->len) {
				free(o);
				return fault(r, "unterminated escape");
			}
			c = r->s[r->i++];
			switch (c) {
			case '"': o[n++] = '"'; break;
			case '\\': o[n++] = '\\'; break;
			case '/': o[n++] = '/'; break;
			case 'b': o[n++] = '\b'; break;
			case 'f': o[n++] = '\f'; break;
			case 'n': o[n++] = '\n'; break;
			case 'r': o[n++] = '\r'; break;
			case 't': o[n++] = '\t'; break;
			case 'u':
				if (hex4(r, &cp)) {
					free(o);
					return fault(r, "bad \\u escape");
				}
				if (cp >= 0xdc00 && cp <= 0xdfff) {
					free(o);
					return fault(r, "lone low surrogate");
				}
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (r->len - r->i < 6 || r->s[r->i] != '\\' || r->s[r->i + 1] != 'u') {
						free(o);
						return fault(r, "lone high surrogate");
					}
					r->i += 2;
					if (hex4(r, &lo) || lo < 0xdc00 || lo > 0xdfff) {
						free(o);
						return fault(r, "unpaired surrogate");
					}
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				}
				put_cp(o, &n, cp);
				break;
			default:
				free(o);
				return fault(r, "unknown escape");
			}
			continue;
		}
		{
			size_t k = utf8_len(r->s + r->i, r->len - r->i);

			if (!k) {
				free(o);
				return fault(r, "ill-formed UTF-8 in a string");
			}
			memcpy(o + n, r->s + r->i, k);
			n += k;
			r->i += k;
		}
	}
	o[n] = '\0';
	*out = o;
	*olen = n;
	return true;
}

static bool digits(struct reader *r)
{
	size_t start = r->i;

	while (r->i < r->len && r->s[r->i] >= '0' && r->s[r->i] <= '9')
		r->i++;
	return r->i > start;
}

/* number = [ "-" ] int [ frac ] [ exp ]; int = "0" / digit1-9 *DIGIT */
static bool number(struct reader *r, struct json *v)
{
	size_t start = r->i;

	if (r->s[r->i] == '-')
		r->i++;
	if (r->i < r->len && r->s[r->i] == '0')
		r->i++;
	else if (!(r->i < r->len && r->s[r->i] >= '1' && r->s[r->i] <= '9') || !digits(r))
		return fault(r, "bad number");
	if (r->i < r->len && r->s[r->i] == '.') {
		r->i++;
		if (!digits(r))
			return fault(r, "bad fraction");
	}
	if (r->i < r->len && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
		r->i++;
		if (r->i < r->len && (r->s[r->i] == '+' || r->s[r->i] == '-'))
			r->i++;
		if (!digits(r))
			return fault(r, "bad exponent");
	}
	v->type = JSON_NUMBER;
	v->len = r->i - start;
	v->s = malloc(v->len + 1);
	if (!v->s)
		abort();
	memcpy(v->s, r->s + start, v->len);
	v->s[v->len] = '\0';
	return true;
}

static bool value(struct reader *r, struct json *v, int depth);

static void grow(struct json *v, size_t *cap, bool keys)
{
	if (v->n < *cap)
		return;
	*cap = *cap ? *cap * 2 : 8;
	v->items = realloc(v->items, *cap * sizeof *v->items);
	if (keys) {
		v->keys = realloc(v->keys, *cap * sizeof *v->keys);
		v->klens = realloc(v->klens, *cap * sizeof *v->klens);
	}
	if (!v->items || (keys && (!v->keys || !v->klens)))
		abort();
}

static bool array(struct reader *r, struct json *v, int depth)
{
	size_t cap = 0;

	v->type = JSON_ARRAY;
	r->i++;
	skip_ws(r);
	if (r->i < r->len && r->s[r->i] == ']') {
		r->i++;
		return true;
	}
	for (;;) {
		grow(v, &cap, false);
		memset(&v->items[v->n], 0, sizeof v->items[0]);
		if (!value(r, &v->items[v->n++], depth + 1))
			return false;
		skip_ws(r);
		if (r->i < r->len && r->s[r->i] == ',') {
			r->i++;
			continue;
		}
		if (r->i < r->len && r->s[r->i] == ']') {
			r->i++;
			return true;
		}
		return fault(r, "expected , or ] in an array");
	}
}

static bool object(struct reader *r, struct json *v, int depth)
{
	size_t cap = 0;

	v->type = JSON_OBJECT;
	r->i++;
	skip_ws(r);
	if (r->i < r->len && r->s[r->i] == '}') {
		r->i++;
		return true;
	}
	for (;;) {
		char *key;
		size_t klen;

		skip_ws(r);
		if (r->i >= r->len || r->s[r->i] != '"')
			return fault(r, "expected a key");
		if (!string(r, &key, &klen))
			return false;
		for (size_t k = 0; k < v->n; k++) {
			if (v->klens[k] == klen && !memcmp(v->keys[k], key, klen)) {
				free(key);
				return fault(r, "repeated key in an object");
			}
		}
		grow(v, &cap, true);
		v->keys[v->n] = key;
		v->klens[v->n] = klen;
		memset(&v->items[v->n], 0, sizeof v->items[0]);
		v->n++;
		skip_ws(r);
		if (r->i >= r->len || r->s[r->i] != ':')
			return fault(r, "expected :");
		r->i++;
		if (!value(r, &v->items[v->n - 1], depth + 1))
			return false;
		skip_ws(r);
		if (r->i < r->len && r->s[r->i] == ',') {
			r->i++;
			continue;
		}
		if (r->i < r->len && r->s[r->i] == '}') {
			r->i++;
			return true;
		}
		return fault(r, "expected , or } in an object");
	}
}

static bool value(struct reader *r, struct json *v, int depth)
{
	if (depth >= JSON_DEPTH_MAX)
		return fault(r, "nested too deep");
	skip_ws(r);
	if (r->i >= r->len)
		return fault(r, "expected a value");
	switch (r->s[r->i]) {
	case '{':
		return object(r, v, depth);
	case '[':
		return array(r, v, depth);
	case '"':
		v->type = JSON_STRING;
		return string(r, &v->s, &v->len);
	case 't':
		v->type = JSON_BOOL;
		v->b = true;
		return literal(r, "true");
	case 'f':
		v->type = JSON_BOOL;
		return literal(r, "false");
	case 'n':
		v->type = JSON_NULL;
		return literal(r, "null");
	default:
		return number(r, v);
	}
}

static void release(struct json *v)
{
	for (size_t i = 0; i < v->n; i++) {
		release(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->klens);
	free(v->s);
}

void json_free(struct json *v)
{
	if (v) {
		release(v);
		free(v);
	}
}

struct json *json_parse(const char *text, size_t len, const char **why, size_t *at)
{
	struct reader r = { (const unsigned char *)text, len, 0, NULL };
	struct json *v = calloc(1, sizeof *v);

	if (!v)
		abort();
	if (value(&r, v, 0)) {
		skip_ws(&r);
		if (r.i == len)
			return v;
		fault(&r, "text after the value");
	}
	*why = r.why;
	*at = r.i;
	json_free(v);
	return NULL;
}

const struct json *json_member(const struct json *obj, const char *key)
{
	size_t klen = strlen(key);

	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->n; i++)
		if (obj->klens[i] == klen && !memcmp(obj->keys[i], key, klen))
			return &obj->items[i];
	return NULL;
}

const struct json *json_item(const struct json *arr, size_t i)
{
	return arr && arr->type == JSON_ARRAY && i < arr->n ? &arr->items[i] : NULL;
}
