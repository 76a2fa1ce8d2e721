/*
 * Library start-up. The constructor does almost nothing (DESIGN.md rule
 * 6): it reads the two switches every hook needs and registers the fork
 * handlers. Configuration, threads and the exporter come later, with the
 * first span.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/syscall.h>

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

/*
 * The process that owns this memory: a fork child updates it, a vfork
 * child (which shares the parent's memory and must touch nothing) does not.
 */
static pid_t owner_pid;

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
	owner_pid = getpid();
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

/*
 * exec() replaces the program, and with it the queue and the worker: the
 * spans made so far, and the process span, are exported first, within
 * OTEL_BSP_EXPORT_TIMEOUT (only when there is something to export: a
 * forked child that made no span execs at once). A failed exec leaves the
 * process running without its process span, nothing else.
 */
static void before_exec(void)
{
	int saved = errno;

	if (!op_guard && !op_disabled && getpid() == owner_pid) {
		if (process_span && getpid() == process_pid) {
			struct op_span *s = process_span;

			process_span = NULL;
			op_span_end(s);
		}
		op_bsp_flush(op_cfg.bsp_export_timeout_ms);
	}
	errno = saved;
}

OP_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	before_exec();
	return REAL(execve)(path, argv, envp);
}

OP_EXPORT int execv(const char *path, char *const argv[])
{
	before_exec();
	return REAL(execv)(path, argv);
}

OP_EXPORT int execvp(const char *file, char *const argv[])
{
	before_exec();
	return REAL(execvp)(file, argv);
}

OP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	before_exec();
	return REAL(execvpe)(file, argv, envp);
}

OP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	before_exec();
	return REAL(fexecve)(fd, argv, envp);
}

/*
 * The execl family, whose glibc versions call execve() internally where we
 * cannot see it: the arguments are gathered into an array (on the stack,
 * as glibc does) and passed to the execv form.
 */
static size_t execl_count(va_list ap)
{
	va_list cp;
	size_t n;

	va_copy(cp, ap);
	for (n = 1; va_arg(cp, const char *); n++)
		;
	va_end(cp);
	return n;
}

/* argv[0..n] from the execl arguments: `arg`, the n - 1 in `ap`, NULL. */
static void execl_fill(char **argv, size_t n, const char *arg, va_list *ap)
{
	argv[0] = (char *)arg;
	for (size_t i = 1; i <= n; i++)
		argv[i] = va_arg(*ap, char *);
}

OP_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;

	va_start(ap, arg);
	size_t n = execl_count(ap);
	char *argv[n + 1];

	execl_fill(argv, n, arg, &ap);
	va_end(ap);
	return execv(path, argv);
}

OP_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;

	va_start(ap, arg);
	size_t n = execl_count(ap);
	char *argv[n + 1];

	execl_fill(argv, n, arg, &ap);
	va_end(ap);
	return execvp(file, argv);
}

OP_EXPORT int execle(const char *path, const char *arg, ...)
{
	char *const *envp;
	va_list ap;

	va_start(ap, arg);
	size_t n = execl_count(ap);
	char *argv[n + 1];

	execl_fill(argv, n, arg, &ap);
	envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, argv, envp);
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

	/*
	 * Secure execution (setuid, setgid, file capabilities): the loader
	 * still loads a library installed where it trusts one (a system
	 * directory, /etc/ld.so.preload), but the environment is the invoking
	 * user's. Variables such as OTELPRELOAD_FILE or an OTLP endpoint would
	 * let that user make a privileged program write files or send data
	 * where they choose, so the library stays a pure pass-through there.
	 */
	if (getauxval(AT_SECURE)) {
		op_disabled = 1;
		return;
	}
	op_log_init();
	if (env_true("OTEL_SDK_DISABLED")) {
		op_disabled = 1;
		errno = saved;
		return;
	}
	owner_pid = getpid();
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	op_sdk_env_snapshot();
	if (env_true("OTELPRELOAD_PROCESS_SPAN"))
		start_process_span();
	errno = saved;
}
