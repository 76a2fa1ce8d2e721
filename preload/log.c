#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "op.h"

int op_log_level = OP_LOG_WARN;

/* Longest line written; longer messages are cut, never split across writes. */
#define OP_LOG_LINE_MAX 512

void op_log_init(void)
{
	const char *v = getenv("OTEL_LOG_LEVEL");

	if (!v || !*v)
		return;
	if (!strcasecmp(v, "none") || !strcasecmp(v, "off"))
		op_log_level = OP_LOG_NONE;
	else if (!strcasecmp(v, "error") || !strcasecmp(v, "fatal"))
		op_log_level = OP_LOG_ERROR;
	else if (!strcasecmp(v, "warn") || !strcasecmp(v, "warning"))
		op_log_level = OP_LOG_WARN;
	else if (!strcasecmp(v, "info"))
		op_log_level = OP_LOG_INFO;
	else if (!strcasecmp(v, "debug") || !strcasecmp(v, "trace") || !strcasecmp(v, "all"))
		op_log_level = OP_LOG_DEBUG;
	else
		op_log(OP_LOG_WARN, "OTEL_LOG_LEVEL=%s is not a log level; using warn", v);
}

void op_log(int level, const char *fmt, ...)
{
	char line[OP_LOG_LINE_MAX];
	int saved = errno;
	va_list ap;
	int n;

	if (level > op_log_level)
		return;
	n = snprintf(line, sizeof line, "otelpreload: ");
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof line - 2)
		n = (int)sizeof line - 2;
	line[n++] = '\n';
	/*
	 * The raw system call, not write(): it must not re-enter our own write
	 * hook, and a short or failed write to the host's stderr is not
	 * retried, because stderr is the host's and may be non-blocking.
	 */
	(void)syscall(SYS_write, 2, line, (size_t)n);
	errno = saved;
}

int64_t op_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t op_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
