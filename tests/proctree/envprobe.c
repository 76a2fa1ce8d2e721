/*
 * The environment a program hands to the programs it starts, seen from
 * both sides, for tests/proctree/proctree.sh.
 *
 *   envprobe child
 *       prints "child pid=P TRACEPARENT=... TRACESTATE=..." ("-" when unset)
 *   envprobe spawn HOW [N]
 *       runs `envprobe child` by HOW (fork-execve, fork-execv, fork-execvp,
 *       fork-execvpe, fork-execl, fork-execlp, fork-execle, fork-fexecve,
 *       vfork-execve, vfork-execv, posix_spawn, posix_spawnp), first adding
 *       N variables BIG_0..BIG_N-1 to its environment (default 0); prints
 *       "spawn how=HOW pid=P" and the child's line comes on the same stdout
 *   envprobe missing
 *       every exec and posix_spawn of a file that does not exist: each must
 *       fail with ENOENT and leave environ (the vector and every string) as
 *       it was; prints "missing ok" or what differed, exit 1
 *
 * Each line is written with one write(2): forked children share stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *self;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	if (write(1, buf, (size_t)n) < 0)
		_exit(3);
}

static const char *or_dash(const char *v)
{
	return v ? v : "-";
}

static int child(void)
{
	say("child pid=%d TRACEPARENT=%s TRACESTATE=%s", (int)getpid(),
	    or_dash(getenv("TRACEPARENT")), or_dash(getenv("TRACESTATE")));
	return 0;
}

/* Runs in the child (after fork or vfork): exec `envprobe child` by `how`. */
static void exec_child(const char *how)
{
	char *argv[] = { (char *)"envprobe", (char *)"child", NULL };

	if (!strcmp(how, "execve"))
		execve(self, argv, environ);
	else if (!strcmp(how, "execv"))
		execv(self, argv);
	else if (!strcmp(how, "execvp"))
		execvp(self, argv);
	else if (!strcmp(how, "execvpe"))
		execvpe(self, argv, environ);
	else if (!strcmp(how, "execl"))
		execl(self, "envprobe", "child", (char *)NULL);
	else if (!strcmp(how, "execlp"))
		execlp(self, "envprobe", "child", (char *)NULL);
	else if (!strcmp(how, "execle"))
		execle(self, "envprobe", "child", (char *)NULL, environ);
	else if (!strcmp(how, "fexecve")) {
		int fd = open(self, O_RDONLY | O_CLOEXEC);

		if (fd >= 0)
			fexecve(fd, argv, environ);
	}
	_exit(127);
}

static int spawn(const char *how, int big)
{
	char *argv[] = { (char *)"envprobe", (char *)"child", NULL };
	char name[32];
	pid_t pid = -1;
	int st, rc = 0;

	for (int i = 0; i < big; i++) {
		snprintf(name, sizeof name, "BIG_%d", i);
		setenv(name, "x", 1);
	}
	if (!strncmp(how, "fork-", 5)) {
		pid = fork();
		if (pid == 0)
			exec_child(how + 5);
	} else if (!strncmp(how, "vfork-", 6)) {
		/* Only exec or _exit may follow vfork: no call into stdio or malloc. */
		pid = vfork();
		if (pid == 0) {
			if (!strcmp(how + 6, "execv"))
				execv(self, argv);
			else
				execve(self, argv, environ);
			_exit(127);
		}
	} else if (!strcmp(how, "posix_spawn")) {
		rc = posix_spawn(&pid, self, NULL, NULL, argv, environ);
	} else if (!strcmp(how, "posix_spawnp")) {
		rc = posix_spawnp(&pid, self, NULL, NULL, argv, environ);
	} else {
		say("spawn how=%s unknown", how);
		return 2;
	}
	if (rc != 0 || pid < 0) {
		say("spawn how=%s failed rc=%d errno=%d", how, rc, errno);
		return 1;
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		say("spawn how=%s child status=%d", how, st);
		return 1;
	}
	say("spawn how=%s pid=%d", how, (int)getpid());
	return 0;
}

/* A deep copy of environ, to compare with after a failed exec. */
static char **env_copy(size_t *n)
{
	char **c;

	for (*n = 0; environ[*n]; (*n)++)
		;
	c = calloc(*n + 1, sizeof *c);
	for (size_t i = 0; c && i < *n; i++)
		c[i] = strdup(environ[i]);
	return c;
}

static int env_same(char **before, size_t n, char **vec_before)
{
	size_t m;

	if (environ != vec_before)
		return 0;
	for (m = 0; environ[m]; m++)
		if (m >= n || strcmp(environ[m], before[m]))
			return 0;
	return m == n;
}

static int missing(void)
{
	static const char *const hows[] = {
		"execve", "execv", "execvp", "execvpe", "execl", "execlp", "execle",
		"posix_spawn", "posix_spawnp",
	};
	const char *path = "/nonexistent/otelpreload-missing";
	char *argv[] = { (char *)"missing", NULL };
	char **vec = environ, **before;
	size_t n;
	int bad = 0;

	before = env_copy(&n);
	if (!before)
		return 2;
	for (size_t i = 0; i < sizeof hows / sizeof hows[0]; i++) {
		const char *how = hows[i];
		int rc, err;
		pid_t pid;

		errno = 0;
		if (!strcmp(how, "execve"))
			rc = execve(path, argv, environ);
		else if (!strcmp(how, "execv"))
			rc = execv(path, argv);
		else if (!strcmp(how, "execvp"))
			rc = execvp(path, argv);
		else if (!strcmp(how, "execvpe"))
			rc = execvpe("otelpreload-missing-program", argv, environ);
		else if (!strcmp(how, "execl"))
			rc = execl(path, "missing", (char *)NULL);
		else if (!strcmp(how, "execlp"))
			rc = execlp("otelpreload-missing-program", "missing", (char *)NULL);
		else if (!strcmp(how, "execle"))
			rc = execle(path, "missing", (char *)NULL, environ);
		else if (!strcmp(how, "posix_spawn"))
			rc = posix_spawn(&pid, path, NULL, NULL, argv, environ);
		else
			rc = posix_spawnp(&pid, "otelpreload-missing-program", NULL, NULL, argv,
					  environ);
		err = errno;
		if (!strncmp(how, "posix_spawn", 11) ? rc != ENOENT : rc != -1 || err != ENOENT) {
			say("missing %s rc=%d errno=%d", how, rc, err);
			bad = 1;
		}
		if (!env_same(before, n, vec)) {
			say("missing %s changed environ", how);
			bad = 1;
		}
	}
	if (!bad)
		say("missing ok TRACEPARENT=%s", or_dash(getenv("TRACEPARENT")));
	return bad;
}

int main(int argc, char **argv)
{
	char buf[4096];
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

	if (n <= 0)
		return 2;
	buf[n] = '\0';
	self = buf;
	if (argc >= 2 && !strcmp(argv[1], "child"))
		return child();
	if (argc >= 3 && !strcmp(argv[1], "spawn"))
		return spawn(argv[2], argc >= 4 ? atoi(argv[3]) : 0);
	if (argc >= 2 && !strcmp(argv[1], "missing"))
		return missing();
	fprintf(stderr, "usage: envprobe child | spawn HOW [N] | missing\n");
	return 2;
}
