/*
 * Library start-up. The constructor does almost nothing (DESIGN.md rule
 * 6): it reads the two switches every hook needs and registers the fork
 * handlers. Configuration, threads and the exporter come later, with the
 * first span.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <spawn.h>
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
#include "context.h"
#include "dso.h"
#include "engine.h"
#include "fdtable.h"
#include "ids.h"
#include "op.h"
#include "procenv.h"
#include "real.h"
#include "resource.h"
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

bool op_vfork_child(void)
{
	return owner_pid && getpid() != owner_pid;
}

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

/*
 * Ends the process span at exit with the exit code the parent will see
 * (status & 0377), as the semantic conventions for CLI programs ask:
 * process.exit.code, and status ERROR with error.type the code when it is
 * not 0. `status` < 0: not known (musl's atexit path).
 */
static void end_process_span(int status)
{
	struct op_span *s = process_span;

	if (!s || getpid() != process_pid)
		return;
	process_span = NULL;
	if (status >= 0) {
		int code = status & 0377;

		op_span_set_int(s, "process.exit.code", code);
		if (code) {
			char buf[4];

			snprintf(buf, sizeof buf, "%d", code);
			op_span_set_str(s, "error.type", buf);
			op_span_set_status(s, OP_STATUS_ERROR, NULL);
		}
	}
	op_span_end(s);
	op_bsp_exit_flush();
}

/*
 * The status given to exit(), recorded by the hook below for the exit
 * handler; -1 when the process leaves by returning from main (libc calls
 * exit internally, where no hook sees it), which then records no
 * process.exit.code.
 */
static volatile int exit_status = -1;

/*
 * Ends the process span at exit. Registered with atexit() from this
 * object's constructor, which binds it to this object (__cxa_atexit with
 * our __dso_handle): it runs when the loader finalises us, while libcurl,
 * the sanitizer runtimes and every other library are still alive, so the
 * flush can load the exporter. (on_exit() would give the status of a
 * return from main, but its handlers run after the loader has finalised
 * every object; loading the exporter there ran finalised libraries'
 * constructors a second time.)
 */
static void exit_handler(void)
{
	int saved = errno;

	end_process_span(exit_status);
	errno = saved;
}

OP_EXPORT void exit(int status)
{
	if (getpid() == process_pid)
		exit_status = status;
	REAL(exit)(status);
	__builtin_unreachable();
}

/*
 * Process-span mode (ad hoc tracing): _exit() also ends the process span
 * and flushes. Set by the constructor, read-only afterwards.
 */
static bool exit_flush;

/*
 * _exit() skips atexit handlers; dash's `exit` builtin and many forked
 * children leave this way, so in process-span mode the process span (with
 * the exit code) is ended and the spans made so far, a forked child's
 * included, are flushed here too, within OTEL_BSP_EXPORT_TIMEOUT (a child
 * that made none returns at once: it has no exporter thread). Nothing
 * happens otherwise: a vfork child (another pid than the memory's owner),
 * a call made from inside otelpreload (a signal handler that interrupted
 * us), a disabled library. Services traced without process spans lose
 * nothing by this: their _exit stays a plain _exit.
 */
__attribute__((noreturn)) static void exit_now(int status)
{
	if (exit_flush && !op_guard && !op_disabled && getpid() == owner_pid) {
		int saved = errno;

		end_process_span(status);
		op_bsp_exit_flush();
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

/*
 * The environment a new program gets: the caller's vector, or a copy of it
 * naming this thread's context in TRACEPARENT/TRACESTATE (procenv.h). A
 * vfork child (another pid sharing our memory, which atfork handlers never
 * saw) must not map memory: the mapping would stay in the parent after a
 * successful exec.
 */
static char *const *child_env(struct op_env *e, char *const envp[])
{
	if (op_guard) {
		e->map = NULL;
		return envp;
	}
	return op_env_for_child(e, envp, !op_vfork_child());
}

/*
 * Each exec returns only on failure, with errno set by the real call;
 * op_env_release keeps it. The host's environ is never written, so a
 * failed exec leaves the program exactly as it was.
 */
OP_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	struct op_env env;
	char *const *e;
	int rc;

	before_exec();
	e = child_env(&env, envp);
	rc = REAL(execve)(path, argv, e);
	op_env_release(&env);
	return rc;
}

OP_EXPORT int execv(const char *path, char *const argv[])
{
	struct op_env env;
	char *const *e;
	int rc;

	before_exec();
	e = child_env(&env, environ);
	/* Nothing to change: the very call the program made. */
	if (e == environ)
		return REAL(execv)(path, argv);
	rc = REAL(execve)(path, argv, e);
	op_env_release(&env);
	return rc;
}

OP_EXPORT int execvp(const char *file, char *const argv[])
{
	struct op_env env;
	char *const *e;
	int rc;

	before_exec();
	e = child_env(&env, environ);
	if (e == environ)
		return REAL(execvp)(file, argv);
	rc = REAL(execvpe)(file, argv, e);
	op_env_release(&env);
	return rc;
}

OP_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	struct op_env env;
	char *const *e;
	int rc;

	before_exec();
	e = child_env(&env, envp);
	rc = REAL(execvpe)(file, argv, e);
	op_env_release(&env);
	return rc;
}

OP_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	struct op_env env;
	char *const *e;
	int rc;

	before_exec();
	e = child_env(&env, envp);
	rc = REAL(fexecve)(fd, argv, e);
	op_env_release(&env);
	return rc;
}

/*
 * posix_spawn runs the program through libc's internal execve, which no
 * hook sees: the environment is changed here, in the parent, where the
 * context is the same. Everything else is passed through untouched; the
 * return value is the real call's (posix_spawn reports errors by it, and
 * errno is not ours to set).
 */
OP_EXPORT int posix_spawn(pid_t *pid, const char *path,
			  const posix_spawn_file_actions_t *actions,
			  const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	struct op_env env;
	char *const *e = child_env(&env, envp);
	int rc = REAL(posix_spawn)(pid, path, actions, attr, argv, e);

	op_env_release(&env);
	return rc;
}

OP_EXPORT int posix_spawnp(pid_t *pid, const char *file,
			   const posix_spawn_file_actions_t *actions,
			   const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	struct op_env env;
	char *const *e = child_env(&env, envp);
	int rc = REAL(posix_spawnp)(pid, file, actions, attr, argv, e);

	op_env_release(&env);
	return rc;
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

/*
 * Bound on process.command_line: a command line can be 2 MB (ARG_MAX);
 * one past a page is cut here (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT may
 * cut it further), so the constructor reads a bounded amount.
 */
#define OP_CMDLINE_MAX 4096

/* /proc/self/cmdline with its NULs as spaces (argv joined: quoting is lost). */
static void set_command_line(struct op_span *s)
{
	char buf[OP_CMDLINE_MAX];
	ssize_t n = 0, r;
	int fd;

	OP_GUARD_ENTER();
	fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		while (n < (ssize_t)sizeof buf &&
		       (r = REAL(read)(fd, buf + n, sizeof buf - (size_t)n)) != 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				break;
			n += r;
		}
		REAL(close)(fd);
	}
	OP_GUARD_LEAVE();
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	if (n > 0)
		op_span_set_strn(s, "process.command_line", buf, (size_t)n);
}

/*
 * The process span, following the semantic conventions for CLI programs
 * (callee): INTERNAL, named after the executable, a child of the
 * TRACEPARENT the process was started with (`parent`, may be NULL).
 */
static void start_process_span(const struct op_span_ctx *parent, const char *tracestate)
{
	char name[256];

	op_sdk_init();
	if (!op_cfg.process_span || !op_sdk_enabled())
		return;
	op_exe_basename(name, sizeof name);
	process_span = op_span_start(name, OP_SPAN_KIND_INTERNAL, parent);
	if (!process_span)
		return;
	process_pid = getpid();
	exit_flush = true;
	op_span_set_int(process_span, "process.pid", (int64_t)process_pid);
	op_span_set_int(process_span, "process.parent_pid", (int64_t)getppid());
	op_span_set_str(process_span, "process.executable.name", name);
	if (op_cfg.process_command_line)
		set_command_line(process_span);
	op_context_set_process(&process_span->ctx, true, tracestate,
			       tracestate ? strlen(tracestate) : 0);
	atexit(exit_handler);
}

static const char *get_env(const char *name)
{
	return getenv(name);
}

static bool env_true(const char *name)
{
	const char *v = getenv(name);

	return v && !strcasecmp(v, "true");
}

__attribute__((constructor)) static void otelpreload_init(void)
{
	int saved = errno;
	struct op_span_ctx parent;
	const char *tracestate;
	bool has_parent;

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
	/*
	 * TRACEPARENT: the parent of the process span, or else of every span
	 * that would be a root here (op_context_get falls back to it).
	 */
	has_parent = op_procenv_init(get_env, &parent, &tracestate);
	if (env_true("OTELPRELOAD_PROCESS_SPAN"))
		start_process_span(has_parent ? &parent : NULL, tracestate);
	if (!process_span && has_parent)
		op_context_set_process(&parent, false, tracestate,
				       tracestate ? strlen(tracestate) : 0);
	errno = saved;
}
