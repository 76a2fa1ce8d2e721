#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "retry.h"

/* Longest Retry-After we honour; larger values are capped (the deadline cuts them anyway). */
#define OP_RETRY_AFTER_MAX_S (24 * 3600)

static const char *const months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
};

struct cursor {
	const char *p, *end;
};

static void skip_spaces(struct cursor *c)
{
	while (c->p < c->end && *c->p == ' ')
		c->p++;
}

/* `min`..`max` digits, after any spaces (asctime pads the day with one). */
static int digits(struct cursor *c, unsigned min, unsigned max, int *out)
{
	unsigned n = 0;
	int v = 0;

	skip_spaces(c);
	while (c->p < c->end && n < max && isdigit((unsigned char)*c->p)) {
		v = v * 10 + (*c->p++ - '0');
		n++;
	}
	if (n < min)
		return -1;
	*out = v;
	return 0;
}

static int expect(struct cursor *c, char ch)
{
	if (c->p >= c->end || *c->p != ch)
		return -1;
	c->p++;
	return 0;
}

/* A month's abbreviation, after any spaces. */
static int month(struct cursor *c, int *out)
{
	skip_spaces(c);
	for (int i = 0; i < 12; i++) {
		if (c->end - c->p >= 3 && !strncmp(c->p, months[i], 3)) {
			c->p += 3;
			*out = i;
			return 0;
		}
	}
	return -1;
}

/* "HH:MM:SS" */
static int clock_time(struct cursor *c, struct tm *tm)
{
	if (digits(c, 2, 2, &tm->tm_hour) || expect(c, ':') ||
	    digits(c, 2, 2, &tm->tm_min) || expect(c, ':') ||
	    digits(c, 2, 2, &tm->tm_sec))
		return -1;
	return tm->tm_hour > 23 || tm->tm_min > 59 || tm->tm_sec > 60 ? -1 : 0;
}

/* The day name up to its delimiter: letters only; its value is not checked (RFC 9110 says so). */
static int day_name(struct cursor *c)
{
	const char *start = c->p;

	while (c->p < c->end && isalpha((unsigned char)*c->p))
		c->p++;
	return c->p - start >= 3 ? 0 : -1;
}

/*
 * The three HTTP-date forms (RFC 9110, 5.6.7):
 *   Sun, 06 Nov 1994 08:49:37 GMT     IMF-fixdate
 *   Sunday, 06-Nov-94 08:49:37 GMT    RFC 850 (two-digit year)
 *   Sun Nov  6 08:49:37 1994          asctime
 */
static int http_date(const char *v, size_t len, int64_t *out)
{
	struct cursor c = { v, v + len };
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (day_name(&c))
		return -1;
	if (c.p < c.end && *c.p == ',') {
		c.p++;
		if (digits(&c, 2, 2, &tm.tm_mday))
			return -1;
		if (c.p < c.end && *c.p == '-') {
			/* RFC 850: years 00-69 are 20xx, as RFC 9110 advises for dates that look far ahead. */
			c.p++;
			if (month(&c, &tm.tm_mon) || expect(&c, '-') || digits(&c, 2, 2, &tm.tm_year))
				return -1;
			if (tm.tm_year < 70)
				tm.tm_year += 100;
		} else {
			if (month(&c, &tm.tm_mon) || digits(&c, 4, 4, &tm.tm_year))
				return -1;
			tm.tm_year -= 1900;
		}
		if (clock_time(&c, &tm))
			return -1;
		skip_spaces(&c);
		if (c.end - c.p < 3 || strncmp(c.p, "GMT", 3))
			return -1;
		c.p += 3;
	} else {
		if (month(&c, &tm.tm_mon) || digits(&c, 1, 2, &tm.tm_mday) ||
		    clock_time(&c, &tm) || digits(&c, 4, 4, &tm.tm_year))
			return -1;
		tm.tm_year -= 1900;
	}
	skip_spaces(&c);
	if (c.p != c.end || tm.tm_mday < 1 || tm.tm_mday > 31)
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = (int64_t)t;
	return 0;
}

int64_t op_retry_after_ms(const char *v, size_t len, int64_t now_s)
{
	int64_t secs = 0, when;
	size_t i;

	while (len && (*v == ' ' || *v == '\t'))
		v++, len--;
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t' || v[len - 1] == '\r' ||
		       v[len - 1] == '\n'))
		len--;
	if (!len)
		return -1;
	if (isdigit((unsigned char)v[0])) {
		for (i = 0; i < len; i++) {
			if (!isdigit((unsigned char)v[i]))
				return -1;
			if (secs < OP_RETRY_AFTER_MAX_S)
				secs = secs * 10 + (v[i] - '0');
		}
	} else {
		if (http_date(v, len, &when))
			return -1;
		secs = when > now_s ? when - now_s : 0;
	}
	if (secs > OP_RETRY_AFTER_MAX_S)
		secs = OP_RETRY_AFTER_MAX_S;
	return secs * 1000;
}

int64_t op_backoff_ms(unsigned attempt, uint32_t rnd)
{
	int64_t ms = OP_BACKOFF_INITIAL_MS;

	while (attempt-- > 1 && ms < OP_BACKOFF_MAX_MS)
		ms = ms * 3 / 2;
	if (ms > OP_BACKOFF_MAX_MS)
		ms = OP_BACKOFF_MAX_MS;
	/* ms x [0.5, 1): half fixed, half drawn. */
	return ms / 2 + (int64_t)(((uint64_t)(ms / 2) * rnd) >> 32);
}

bool op_http_status_retryable(long status)
{
	return status == 429 || status == 502 || status == 503 || status == 504;
}

bool op_grpc_code_retryable(int code, bool has_retry_info)
{
	switch (code) {
	case OP_GRPC_CANCELLED:
	case OP_GRPC_DEADLINE_EXCEEDED:
	case OP_GRPC_ABORTED:
	case OP_GRPC_OUT_OF_RANGE:
	case OP_GRPC_UNAVAILABLE:
	case OP_GRPC_DATA_LOSS:
		return true;
	case OP_GRPC_RESOURCE_EXHAUSTED:
		return has_retry_info;
	default:
		return false;
	}
}

int op_grpc_code_from_http(long status)
{
	switch (status) {
	case 400:
		return OP_GRPC_INTERNAL;
	case 401:
		return OP_GRPC_UNAUTHENTICATED;
	case 403:
		return OP_GRPC_PERMISSION_DENIED;
	case 404:
		return OP_GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return OP_GRPC_UNAVAILABLE;
	default:
		return OP_GRPC_UNKNOWN;
	}
}
