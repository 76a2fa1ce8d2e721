/*
 * Internals shared by every part of otelpreload: the version, logging,
 * clocks and the thread-local re-entry guard.
 *
 * Everything here is hidden (-fvisibility=hidden); only the interposed
 * libc symbols leave the shared object.
 */
#ifndef OP_H
#define OP_H

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifndef OP_VERSION
#define OP_VERSION "0.0.0-dev"
#endif

#define OP_LIKELY(x)   __builtin_expect(!!(x), 1)
#define OP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define OP_EXPORT      __attribute__((visibility("default")))

enum op_log_level {
	OP_LOG_NONE = 0,
	OP_LOG_ERROR,
	OP_LOG_WARN,
	OP_LOG_INFO,
	OP_LOG_DEBUG,
};

/*
 * The active level. Written once by op_log_init() before any other thread
 * of ours exists, read everywhere after; a plain int is enough.
 */
extern int op_log_level;

/* Reads OTEL_LOG_LEVEL; an unknown value is reported and `warn` kept. */
void op_log_init(void);

/*
 * Writes "otelpreload: <message>\n" to stderr in one write(2) when `level`
 * is enabled. Never changes errno. Messages longer than 512 bytes are
 * truncated rather than split, so lines from several threads never mix.
 */
void op_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define op_debug(...) \
	do { if (OP_UNLIKELY(op_log_level >= OP_LOG_DEBUG)) op_log(OP_LOG_DEBUG, __VA_ARGS__); } while (0)
#define op_info(...) \
	do { if (op_log_level >= OP_LOG_INFO) op_log(OP_LOG_INFO, __VA_ARGS__); } while (0)
#define op_warn(...) \
	do { if (op_log_level >= OP_LOG_WARN) op_log(OP_LOG_WARN, __VA_ARGS__); } while (0)

/* Skips HTTP optional whitespace (spaces, tabs) around [s, s + *len). */
static inline const char *op_trim_ows(const char *s, size_t *len)
{
	while (*len && (*s == ' ' || *s == '\t'))
		s++, (*len)--;
	while (*len && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	return s;
}

/*
 * Steps through a comma list: returns the next item (surrounding white
 * space trimmed, possibly empty) with its length in *len, and advances *p
 * past it; NULL at the end. The webhook reads the OTEL_* lists it merges
 * with this too, so both read them alike.
 */
static inline const char *op_list_next(const char **p, size_t *len)
{
	const char *s = *p, *e;

	if (!*s)
		return NULL;
	e = strchr(s, ',');
	if (!e)
		e = s + strlen(s);
	*p = *e ? e + 1 : e;
	while (s < e && isspace((unsigned char)*s))
		s++;
	*len = (size_t)(e - s);
	while (*len && isspace((unsigned char)s[*len - 1]))
		(*len)--;
	return s;
}

/* Wall-clock time in nanoseconds since the Unix epoch (span timestamps). */
int64_t op_now_ns(void);
/* CLOCK_MONOTONIC in nanoseconds (deadlines and timeouts). */
int64_t op_mono_ns(void);

/*
 * The re-entry guard (libfaketime's `dont_fake`). A thread with a non-zero
 * count is doing otelpreload's own work: the exporter thread for its whole
 * life, and any thread while it logs or resolves symbols. Hooks seeing it
 * pass the call straight through. Thread-local, so no locking.
 */
extern __thread int op_guard;

#define OP_GUARD_ENTER() (op_guard++)
#define OP_GUARD_LEAVE() (op_guard--)

/*
 * Non-zero while the thread is inside libcurl (hooks/curl.c traces it at
 * its API): sockets and TLS sessions created then are libcurl's, and the
 * layers below leave them alone, so one request is one span.
 */
extern __thread int op_quiet;

/* The fork handlers of the TLS and libcurl hooks (their session maps). */
void op_tls_atfork_prepare(void);
void op_tls_atfork_parent(void);
void op_tls_atfork_child(void);
void op_curl_atfork_prepare(void);
void op_curl_atfork_parent(void);
void op_curl_atfork_child(void);

/*
 * Set once the library must do nothing at all: OTEL_SDK_DISABLED=true, or a
 * fatal internal error (for example a real symbol that resolved to ourselves).
 * Written before hooks act on it (constructor) or as a one-way switch.
 */
extern volatile int op_disabled;

#endif
