/*
 * Library start-up. The constructor does almost nothing (DESIGN.md rule
 * 6): it reads the two switches every hook needs and registers the fork
 * handlers. Configuration, threads and the exporter come later, with the
 * first span.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bsp.h"
#include "config.h"
#include "dso.h"
#include "engine.h"
#include "fdtable.h"
#include "ids.h"
#include "op.h"
#include "real.h"
#include "sdk.h"
#include "span.h"

/*
 * The OTELPRELOAD_PROCESS_SPAN span, ended by the exit path. Written by the
 * constructor and the fork child handler, when no other thread of ours
 * runs; `process_pid` tells a vfork child, which shares this memory with
 * its parent, that the span is not its own.
 */
static struct op_span *process_span;
static pid_t process_pid;

static void atfork_prepare(void)
{
	int saved = errno;

	/* Bind symbols before taking locks: dlsym in the child could deadlock. */
	op_real_resolve();
	op_bsp_atfork_prepare();
	op_fd_atfork_prepare();
	op_dso_atfork_prepare();
	op_tls_atfork_prepare();
	op_curl_atfork_prepare();
	errno = saved;
}

static void atfork_parent(void)
{
	int saved = errno;

	op_curl_atfork_parent();
	op_tls_atfork_parent();
	op_dso_atfork_parent();
	op_fd_atfork_parent();
	op_bsp_atfork_parent();
	errno = saved;
}

static void atfork_child(void)
{
	int saved = errno;

	op_fd_atfork_child();
	op_dso_atfork_child();
	op_tls_atfork_child();
	op_curl_atfork_child();
	op_engine_atfork_child();
	op_bsp_atfork_child();
	op_ids_reseed_all();
	/* The parent ends and exports its own process span. */
	if (process_span) {
		op_span_free(process_span);
		process_span = NULL;
	}
	errno = saved;
}

static void end_process_span(void)
{
	struct op_span *s = process_span;

	if (!s)
		return;
	process_span = NULL;
	op_span_end(s);
	op_bsp_exit_flush();
}

/*
 * _exit() skips atexit handlers; dash's `exit` builtin and many forked
 * children leave this way, so in process-span mode (ad hoc tracing) the
 * span is ended and flushed here too, within OTEL_BSP_EXPORT_TIMEOUT.
 * Nothing happens otherwise: a vfork child (another pid), a call made from
 * inside otelpreload (a signal handler that interrupted us), a disabled
 * library. Services traced without process spans lose nothing by this:
 * their _exit stays a plain _exit.
 */
__attribute__((noreturn)) static void exit_now(int status)
{
	if (process_span && !op_guard && !op_disabled && getpid() == process_pid) {
		int saved = errno;

		end_process_span();
		errno = saved;
	}
	REAL(_exit)(status);
	/* Only reached if libc had no _exit: leave anyway. */
	syscall(SYS_exit_group, status);
	__builtin_unreachable();
}

OP_EXPORT void _exit(int status)
{
	exit_now(status);
}

OP_EXPORT void _Exit(int status)
{
	exit_now(status);
}

static void start_process_span(void)
{
	char name[300];

	op_sdk_init();
	if (!op_cfg.process_span || !op_sdk_enabled())
		return;
	snprintf(name, sizeof name, "%s", program_invocation_short_name);
	process_span = op_span_start(name, OP_SPAN_KIND_INTERNAL, NULL);
	if (!process_span)
		return;
	process_pid = getpid();
	op_span_set_int(process_span, "process.pid", (int64_t)process_pid);
	atexit(end_process_span);
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && !strcasecmp(v, "true");
}

__attribute__((constructor)) static void otelpreload_init(void)
{
	int saved = errno;

	op_log_init();
	if (env_true("OTEL_SDK_DISABLED")) {
		op_disabled = 1;
		errno = saved;
		return;
	}
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	op_sdk_env_snapshot();
	if (env_true("OTELPRELOAD_PROCESS_SPAN"))
		start_process_span();
	errno = saved;
}
