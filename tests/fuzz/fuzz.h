/*
 * What every libFuzzer target of tests/fuzz shares: a reader that takes
 * the fuzzer's bytes apart, and the check that turns a broken invariant
 * into a crash libFuzzer records (a message on stderr, then abort()).
 */
#ifndef OP_FUZZ_H
#define OP_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond, ...) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "\nfuzz: %s:%d: check failed: %s\nfuzz: ", __FILE__, \
				__LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fputc('\n', stderr); \
			abort(); \
		} \
	} while (0)

/* The fuzzer's bytes, consumed from the front. */
struct fz {
	const uint8_t *p, *end;
};

static inline size_t fz_left(const struct fz *f)
{
	return (size_t)(f->end - f->p);
}

/* One byte; 0 once the input is used up. */
static inline uint8_t fz_u8(struct fz *f)
{
	return f->p < f->end ? *f->p++ : 0;
}

static inline uint32_t fz_u32(struct fz *f)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++)
		v = v << 8 | fz_u8(f);
	return v;
}

static inline uint64_t fz_u64(struct fz *f)
{
	return (uint64_t)fz_u32(f) << 32 | fz_u32(f);
}

/*
 * The bytes up to the next `sep` (not included, and skipped) or the end:
 * text-like inputs stay readable in the seed corpora.
 */
static inline const char *fz_field(struct fz *f, uint8_t sep, size_t *len)
{
	const uint8_t *s = f->p, *e = memchr(s, sep, fz_left(f));

	if (!e)
		e = f->end;
	*len = (size_t)(e - s);
	f->p = e < f->end ? e + 1 : e;
	return (const char *)s;
}

/* Same, as a NUL-terminated heap copy (an embedded NUL ends it early, as in a C string). */
static inline char *fz_cstr(struct fz *f, uint8_t sep)
{
	size_t len;
	const char *s = fz_field(f, sep, &len);
	char *c = malloc(len + 1);

	if (!c)
		abort();
	memcpy(c, s, len);
	c[len] = '\0';
	return c;
}

/* A small deterministic generator, for choices derived from a fuzzer-given seed. */
static inline uint32_t fz_rand(uint32_t *state)
{
	uint32_t x = *state ? *state : 0x9e3779b9u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *state = x;
}

/* Printable form of a few bytes, for check messages (four static buffers in turn). */
static inline const char *fz_show(const void *p, size_t len)
{
	static char bufs[4][4 * 200 + 8];
	static unsigned turn;
	char *out = bufs[turn++ % 4];
	const unsigned char *s = p;
	size_t o = 0;

	for (size_t i = 0; i < len && i < 200; i++)
		o += (size_t)snprintf(out + o, sizeof bufs[0] - o,
				      s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\\' ? "%c" : "\\x%02x", s[i]);
	if (len > 200)
		snprintf(out + o, sizeof bufs[0] - o, "...");
	return out;
}

#endif
