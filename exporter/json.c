#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "json.h"

/* First allocation; most console lines fit without growing again. */
#define OP_BUF_MIN 256

/* Room for "%.17g" of any double: sign, 17 digits, point, "e-308", NUL. */
#define OP_DOUBLE_MAX 32

void op_buf_free(struct op_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->err = false;
}

char *op_buf_detach(struct op_buf *b)
{
	char *p;

	if (b->err) {
		op_buf_free(b);
		return NULL;
	}
	p = b->p ? b->p : strdup("");
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

/* Makes room for `extra` more bytes plus the terminating NUL. */
static bool reserve(struct op_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (b->err)
		return false;
	if (extra > OP_BUF_MAX - b->len) {
		b->err = true;
		return false;
	}
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : OP_BUF_MIN;
	while (cap < need)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->err = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

char *op_buf_space(struct op_buf *b, size_t len)
{
	return reserve(b, len) ? b->p + b->len : NULL;
}

void op_buf_add(struct op_buf *b, const void *p, size_t len)
{
	if (!reserve(b, len))
		return;
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void op_buf_adds(struct op_buf *b, const char *s)
{
	op_buf_add(b, s, strlen(s));
}

void op_buf_addc(struct op_buf *b, char c)
{
	op_buf_add(b, &c, 1);
}

void op_buf_addf(struct op_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!reserve(b, 0))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->err = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (!reserve(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void op_hex(char *dst, const uint8_t *src, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		dst[2 * i] = digits[src[i] >> 4];
		dst[2 * i + 1] = digits[src[i] & 0xf];
	}
	dst[2 * n] = '\0';
}

void op_buf_add_hex(struct op_buf *b, const uint8_t *p, size_t n)
{
	if (n > OP_BUF_MAX / 2) {
		b->err = true;
		return;
	}
	if (!reserve(b, 2 * n))
		return;
	op_hex(b->p + b->len, p, n);
	b->len += 2 * n;
}

/*
 * Length of the well-formed UTF-8 sequence at the start of <s, len> (which
 * is not empty), or 0 when it is ill-formed; then *skip is the length of the
 * maximal ill-formed subpart, the bytes one U+FFFD replaces. The ranges are
 * those of the Unicode standard's table of well-formed byte sequences: the
 * second byte's range is narrowed after E0 (overlong), ED (surrogates), F0
 * (overlong) and F4 (above U+10FFFF).
 */
static size_t utf8_seq(const unsigned char *s, size_t len, size_t *skip)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		*skip = 1;
		return 0;
	}
	for (i = 1; i <= need; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*skip = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return need + 1;
}

bool op_utf8_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n, skip;

	while (i < len) {
		/* ASCII, the usual case, eight bytes at a time. */
		while (i + 8 <= len) {
			uint64_t w;

			memcpy(&w, u + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i == len)
			break;
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(u + i, len - i, &skip);
		if (!n)
			return false;
		i += n;
	}
	return true;
}

#define UTF8_REPLACEMENT "\xef\xbf\xbd"

void op_buf_add_utf8(struct op_buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = 0, n, skip;

	while (i < len) {
		/* ASCII, the usual case, eight bytes at a time. */
		while (i + 8 <= len) {
			uint64_t w;

			memcpy(&w, u + i, 8);
			if (w & 0x8080808080808080ull)
				break;
			i += 8;
		}
		if (i == len)
			break;
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		n = utf8_seq(u + i, len - i, &skip);
		if (n) {
			i += n;
			continue;
		}
		op_buf_add(b, s + start, i - start);
		op_buf_add(b, UTF8_REPLACEMENT, 3);
		i += skip;
		start = i;
	}
	op_buf_add(b, s + start, i - start);
}

/* Bytes that go into a JSON string as they are (ASCII only; UTF-8 apart). */
static inline bool json_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

void op_json_str(struct op_buf *b, const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start, n, skip;

	op_buf_addc(b, '"');
	if (!s)
		len = 0;
	while (i < len) {
		start = i;
		while (i < len && json_plain(u[i]))
			i++;
		op_buf_add(b, s + start, i - start);
		if (i == len)
			break;
		if (u[i] == '"' || u[i] == '\\') {
			op_buf_addc(b, '\\');
			op_buf_addc(b, (char)u[i]);
			i++;
		} else if (u[i] < 0x20) {
			op_buf_addf(b, "\\u%04x", u[i]);
			i++;
		} else if ((n = utf8_seq(u + i, len - i, &skip))) {
			op_buf_add(b, s + i, n);
			i += n;
		} else {
			op_buf_add(b, UTF8_REPLACEMENT, 3);
			i += skip;
		}
	}
	op_buf_addc(b, '"');
}

/*
 * printf and strtod follow LC_NUMERIC, and the host may have called
 * setlocale() with a locale whose decimal point is a comma. A "C" locale
 * object selected with uselocale() affects only the calling thread, so the
 * host's other threads never see the switch.
 */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_make(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

void op_json_double(struct op_buf *b, double d)
{
	char tmp[OP_DOUBLE_MAX];
	locale_t old = (locale_t)0;
	int prec;
	char *p;

	if (isnan(d)) {
		op_buf_adds(b, "\"NaN\"");
		return;
	}
	if (isinf(d)) {
		op_buf_adds(b, d < 0 ? "\"-Infinity\"" : "\"Infinity\"");
		return;
	}
	pthread_once(&c_locale_once, c_locale_make);
	if (c_locale)
		old = uselocale(c_locale);
	/* 17 significant digits always round-trip; fewer usually do and read better. */
	for (prec = 15; prec < 17; prec++) {
		snprintf(tmp, sizeof tmp, "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(tmp, sizeof tmp, "%.17g", d);
	if (c_locale)
		uselocale(old);
	/* Without the locale object (out of memory) repair the usual comma. */
	for (p = tmp; *p; p++)
		if (*p == ',')
			*p = '.';
	op_buf_adds(b, tmp);
}
