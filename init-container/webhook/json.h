/*
 * A small JSON document model for the pod mutation (mutate.c) and
 * `otelpreload inject`: an RFC 8259 parser with limits on size, depth and
 * node count, objects that keep their members in input order (so a
 * manifest comes back out as it went in), a compact or indented writer,
 * and the two encodings a JSONPatch response needs: JSON Pointer tokens
 * (RFC 6901) and base64 (RFC 4648).
 *
 * The parser recurses, but never deeper than OP_JSON_MAX_DEPTH, and every
 * other walk over a tree (write, clone, free) follows the same bounded
 * depth, so no input can exhaust the stack.
 *
 * Text is UTF-8. Strings are kept with their length and may contain NUL
 * (from "\u0000"); they are NUL-terminated as well, so C code may use them
 * as C strings where a NUL cannot matter.
 */
#ifndef OP_K8S_JSON_H
#define OP_K8S_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "../../exporter/json.h"

/*
 * Largest document read. Kubernetes stores an object of at most 1.5 MiB
 * (etcd's request limit) and an AdmissionReview carries at most two; a
 * `kubectl get -o json` List handed to `inject` may hold many, hence the
 * margin.
 */
#define OP_JSON_MAX_BYTES ((size_t)16 << 20)

/*
 * Deepest nesting accepted. A Pod's deepest path (spec, affinity, terms,
 * expressions, values) is about 12 levels, a CronJob's 18, a List's one
 * more; the bound is what keeps the recursion safe.
 */
#define OP_JSON_MAX_DEPTH 100

/*
 * Most values in one document (each is about 64 bytes in memory), so a
 * 16 MiB "[0,0,0,...]" or a YAML alias bomb cannot take gigabytes.
 */
#define OP_JSON_MAX_NODES ((size_t)1 << 20)

enum op_json_type {
	OP_JSON_NULL,
	OP_JSON_FALSE,
	OP_JSON_TRUE,
	OP_JSON_NUMBER,
	OP_JSON_STRING,
	OP_JSON_ARRAY,
	OP_JSON_OBJECT,
};

struct op_json_member;

struct op_json {
	enum op_json_type type;
	/*
	 * How a value read from YAML was written there (a yaml_scalar_style_t
	 * or collection style; 0 when the value did not come from YAML), so
	 * that `inject` writes it back the same way. See cli/yaml.h.
	 */
	int style;
	/* STRING: its bytes; NUMBER: its text as written. YAML nulls and booleans keep their text too. */
	char *s;
	size_t len;                      /* bytes in s, or items/members in use */
	size_t cap;                      /* items/members allocated */
	struct op_json **items;          /* ARRAY */
	struct op_json_member *members;  /* OBJECT, in input order */
};

struct op_json_member {
	char *key;     /* NUL-terminated; klen bytes (may hold NUL) */
	size_t klen;
	int kstyle;    /* the key's YAML style, as style above */
	struct op_json *val;
};

/* Where and why parsing failed. */
struct op_json_error {
	size_t offset;      /* byte offset of the problem in the input */
	const char *msg;    /* static, lower case, e.g. "expected ':' after an object key" */
};

/*
 * Parses one JSON value from <s, len>, which must be nothing else apart
 * from white space unless `used` is not NULL: then the value may be
 * followed by more text and *used gets the bytes consumed (the value and
 * the white space after it), for streams of concatenated values.
 * Strings must be valid UTF-8; a lone UTF-16 surrogate escape becomes
 * U+FFFD (as Go's encoding/json, which the API server uses, does).
 * Returns NULL with *err filled (err may be NULL) on malformed input, a
 * limit exceeded or no memory.
 */
struct op_json *op_json_parse(const char *s, size_t len, size_t *used,
			      struct op_json_error *err);

void op_json_free(struct op_json *v);

/* A deep copy, or NULL when out of memory. */
struct op_json *op_json_clone(const struct op_json *v);

/* Exchanges the contents of a and b (both stay owned by their owners). */
void op_json_swap(struct op_json *a, struct op_json *b);

/*
 * Constructors; each returns NULL when out of memory. op_json_new_str
 * copies <s, len>; op_json_new_strz a C string; op_json_new_number
 * copies the text of a number, which must follow JSON's grammar.
 */
struct op_json *op_json_new(enum op_json_type type);
struct op_json *op_json_new_str(const char *s, size_t len);
struct op_json *op_json_new_strz(const char *s);
struct op_json *op_json_new_number(const char *text);

/*
 * The value of member `key` of object `obj`, or NULL when `obj` is NULL,
 * not an object or has no such member. When a key repeats, the last one
 * counts, as in Go's encoding/json and so in the API server.
 */
struct op_json *op_json_get(const struct op_json *obj, const char *key);

/* Index of that member in obj->members, or -1. */
long op_json_find(const struct op_json *obj, const char *key);

/* obj[key] as a C string if it is a string, else NULL. */
const char *op_json_get_str(const struct op_json *obj, const char *key);

/*
 * Appends member <key, val> to `obj` (taking ownership of val, even on
 * failure). Does not look for an existing member. Returns false when out
 * of memory.
 */
bool op_json_add(struct op_json *obj, const char *key, struct op_json *val);

/* Sets obj[key] to val (replacing an existing member in place), owning val. */
bool op_json_set(struct op_json *obj, const char *key, struct op_json *val);

/*
 * Inserts `val` into array `arr` at `index` (0..arr->len; arr->len
 * appends), owning val. Returns false when out of memory.
 */
bool op_json_insert(struct op_json *arr, size_t index, struct op_json *val);

static inline bool op_json_push(struct op_json *arr, struct op_json *val)
{
	return op_json_insert(arr, arr->len, val);
}

/*
 * Writes `v` as JSON text: compact when indent is 0, else pretty-printed
 * with that many spaces per level (kubectl's layout with 2). Strings are
 * escaped as RFC 8259 requires ('"', '\\' and control characters), with
 * any invalid UTF-8 repaired. Errors are the buffer's (b->err).
 */
void op_json_write(struct op_buf *b, const struct op_json *v, int indent);

/*
 * Appends "/" and <token, len> escaped as a JSON Pointer reference token
 * (RFC 6901: "~" as "~0", "/" as "~1"), so that "otelpreload.dev/inject"
 * becomes "/otelpreload.dev~1inject".
 */
void op_json_ptr_add(struct op_buf *b, const char *token, size_t len);

/* Appends the standard base64 encoding of <p, len>, padded. */
void op_base64(struct op_buf *b, const void *p, size_t len);

/* True when <s, len> is exactly a JSON number (RFC 8259 section 6). */
bool op_json_number_valid(const char *s, size_t len);

#endif
