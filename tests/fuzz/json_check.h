/*
 * A strict JSON reader for the encoder fuzz target, written from RFC 8259
 * and the Unicode standard's table of well-formed UTF-8, sharing no code
 * with the encoders it judges: a document is accepted only if it is one
 * JSON value with nothing after it, every string is well-formed UTF-8
 * (raw bytes and \u escapes alike, surrogates paired), no object repeats
 * a key, and nesting stays under JSON_DEPTH_MAX.
 */
#ifndef OP_FUZZ_JSON_CHECK_H
#define OP_FUZZ_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_DEPTH_MAX 64

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {
	enum json_type type;
	bool b;
	char *s;               /* a string, decoded and NUL-terminated; a number's text */
	size_t len;            /* bytes of s (a decoded string may hold NULs) */
	size_t n;              /* array items, object members */
	struct json *items;
	char **keys;           /* object: decoded keys */
	size_t *klens;
};

/*
 * Parses <text, len>. Returns the value (free with json_free), or NULL
 * with *why naming the first fault and *at its offset.
 */
struct json *json_parse(const char *text, size_t len, const char **why, size_t *at);
void json_free(struct json *v);

/* The member `key` of an object, or NULL (also when `obj` is not an object). */
const struct json *json_member(const struct json *obj, const char *key);

/* Item `i` of an array, or NULL. */
const struct json *json_item(const struct json *arr, size_t i);

/* True when <s, len> is well-formed UTF-8 (no overlong form, surrogate or value past U+10FFFF). */
bool json_utf8_ok(const char *s, size_t len);

#endif
