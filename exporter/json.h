/*
 * A growable text buffer with the few encoders the text exporters need:
 * JSON strings and numbers, lower-case hex, UTF-8 repair. Used by the
 * console exporter now and by the OTLP/JSON and file exporters later.
 *
 * Errors are sticky, as in a stdio stream: once an append fails (out of
 * memory, or the buffer would grow past OP_BUF_MAX) every later append does
 * nothing and `err` stays set, so a caller builds a whole line or document
 * and checks once at the end. The contents are NUL-terminated whenever
 * anything has been appended successfully.
 */
#ifndef OP_EXPORTER_JSON_H
#define OP_EXPORTER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Largest buffer we build. A console line or JSON batch is bounded by the
 * batch size and the attribute limits, but the value length limit defaults
 * to "none"; past this size a document is refused rather than letting one
 * pathological attribute take the host's memory.
 */
#define OP_BUF_MAX ((size_t)64 << 20)

struct op_buf {
	char *p;
	size_t len;
	size_t cap;
	bool err;
};

#define OP_BUF_INIT { NULL, 0, 0, false }

void op_buf_free(struct op_buf *b);

/* Empties the buffer and clears the error, keeping the memory for reuse. */
static inline void op_buf_reset(struct op_buf *b)
{
	b->len = 0;
	b->err = false;
	if (b->p)
		b->p[0] = '\0';
}

/*
 * Takes the NUL-terminated contents away from `b` (caller frees) and leaves
 * it empty. Returns NULL if `b` is in error (its memory is then freed).
 */
char *op_buf_detach(struct op_buf *b);

void op_buf_add(struct op_buf *b, const void *p, size_t len);

/*
 * Room for `len` more bytes after the contents, for a caller that writes
 * there itself and then advances b->len by what it wrote (at most `len`).
 * Returns NULL (and sets err) when the buffer cannot grow.
 */
char *op_buf_space(struct op_buf *b, size_t len);
void op_buf_adds(struct op_buf *b, const char *s);
void op_buf_addc(struct op_buf *b, char c);
void op_buf_addf(struct op_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Writes 2 * n lower-case hex digits and a NUL to `dst`. */
void op_hex(char *dst, const uint8_t *src, size_t n);
void op_buf_add_hex(struct op_buf *b, const uint8_t *p, size_t n);

/*
 * True when <s, len> is well-formed UTF-8: no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF, no truncated sequence.
 */
bool op_utf8_valid(const char *s, size_t len);

/*
 * Appends <s, len> with each maximal ill-formed subsequence replaced by
 * U+FFFD (the Unicode-recommended practice, also what browsers do), so
 * "a\xC3(" becomes "a\uFFFD(".
 */
void op_buf_add_utf8(struct op_buf *b, const char *s, size_t len);

/*
 * Appends <s, len> as a quoted JSON string: '"' and '\\' escaped, control
 * characters as \u00XX, invalid UTF-8 repaired as above. A NULL `s` is
 * written as "".
 */
void op_json_str(struct op_buf *b, const char *s, size_t len);

/*
 * Appends a double the way the protobuf JSON mapping wants it: the shortest
 * decimal that reads back as the same value, independent of the host's
 * locale, and "NaN", "Infinity", "-Infinity" as strings because JSON has no
 * such numbers.
 */
void op_json_double(struct op_buf *b, double d);

#endif
