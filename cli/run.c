/*
 * The supervising side of `otelpreload run` (run.h): the channel, the
 * signals, the child, its root span and the waterfall at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../preload/op.h"
#include "rootspan.h"
#include "run.h"

/* Exit statuses, as shells use them. */
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

#define CHANNEL_NAME "spans.jsonl"

/*
 * Signals the CLI handles while the command runs; their dispositions are
 * saved and given back to the command before it is exec'ed. SIGINT and
 * SIGQUIT from the terminal reach the command's process group directly
 * (and us too: we keep running to draw what the interrupted run did), so
 * only those sent to us alone by kill(2) are forwarded; the others are
 * forwarded whoever sent them. SIGPIPE is ignored: a closed stderr must
 * not cost the command's exit status. SIGCHLD must not be ignored, or
 * waitpid() would lose the status.
 */
static const int handled[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2,
			       SIGPIPE, SIGCHLD };
#define N_HANDLED (sizeof handled / sizeof handled[0])

/* The command, for the forwarding handler; set while SIGTERM and friends are blocked. */
static volatile sig_atomic_t child_pid;

static void forward(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;

	(void)uc;
	if ((sig == SIGINT || sig == SIGQUIT) && si && si->si_code > 0)
		return;   /* from the terminal: the command has it already */
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
	errno = saved;
}

struct signals {
	struct sigaction old[N_HANDLED];
	sigset_t old_mask;
};

static void take_signals(struct signals *s)
{
	struct sigaction sa;
	sigset_t block;
	size_t i;

	sigemptyset(&block);
	for (i = 0; i < N_HANDLED; i++)
		sigaddset(&block, handled[i]);
	sigprocmask(SIG_BLOCK, &block, &s->old_mask);
	for (i = 0; i < N_HANDLED; i++) {
		int sig = handled[i];

		sigaction(sig, NULL, &s->old[i]);
		memset(&sa, 0, sizeof sa);
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		if (sig == SIGPIPE) {
			sa.sa_handler = SIG_IGN;
		} else if (sig == SIGCHLD) {
			sa.sa_handler = SIG_DFL;
		} else if (s->old[i].sa_handler == SIG_IGN) {
			continue;   /* ignored by whoever started us: the command inherits that */
		} else {
			sa.sa_sigaction = forward;
			sa.sa_flags |= SA_SIGINFO;
		}
		sigaction(sig, &sa, NULL);
	}
}

static void give_back_signals(const struct signals *s)
{
	for (size_t i = 0; i < N_HANDLED; i++)
		sigaction(handled[i], &s->old[i], NULL);
	sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
}

int op_exec_failure_status(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ELOOP:
	case ENAMETOOLONG:
		return EXIT_NOT_FOUND;
	default:
		return EXIT_CANNOT_EXEC;
	}
}

/*
 * Starts argv with the environment as composed. A close-on-exec pipe
 * tells a successful exec (end of file) from a failed one (its errno), so
 * that "cannot run" is reported here and never confused with a command
 * that exits 127 itself. Returns the pid, or -1 with *status set.
 */
static pid_t start(char **argv, const struct signals *sig, int *status)
{
	int p[2], err;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) != 0) {
		fprintf(stderr, "otelpreload: cannot run %s: pipe: %s\n", argv[0], strerror(errno));
		*status = EXIT_CANNOT_EXEC;
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		give_back_signals(sig);
		execvp(argv[0], argv);
		err = errno;
		(void)!write(p[1], &err, sizeof err);
		_exit(EXIT_NOT_FOUND);
	}
	err = errno;
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		fprintf(stderr, "otelpreload: cannot run %s: fork: %s\n", argv[0], strerror(err));
		*status = EXIT_CANNOT_EXEC;
		return -1;
	}
	child_pid = pid;
	do
		n = read(p[0], &err, sizeof err);
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == (ssize_t)sizeof err) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		child_pid = 0;
		fprintf(stderr, "otelpreload: cannot run %s: %s\n", argv[0], strerror(err));
		*status = op_exec_failure_status(err);
		return -1;
	}
	return pid;
}

/*
 * The private channel: a fresh directory only we (and so the command,
 * running as us) can enter, holding the file every process of the run
 * appends its spans to (one whole OTLP/JSON line per batch, under flock:
 * exporter/file.c). Returns the file's path (heap) or NULL after a warning.
 */
static char *make_channel(char **dir)
{
	const char *tmp = getenv("TMPDIR");
	char *tmpl, *path;

	if (!tmp || *tmp != '/')
		tmp = "/tmp";
	if (asprintf(&tmpl, "%s/otelpreload-run.XXXXXX", tmp) < 0)
		return NULL;
	if (!mkdtemp(tmpl)) {
		fprintf(stderr, "otelpreload: cannot create a directory in %s for the waterfall: %s; "
			"spans are printed on stderr instead\n", tmp, strerror(errno));
		free(tmpl);
		return NULL;
	}
	if (asprintf(&path, "%s/" CHANNEL_NAME, tmpl) < 0) {
		rmdir(tmpl);
		free(tmpl);
		return NULL;
	}
	*dir = tmpl;
	return path;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int op_wf_show(FILE *in, int fd, enum op_wf_color color, const char *json_path, long self_pid)
{
	struct op_wf_set set = OP_WF_SET_INIT;
	struct op_buf b = OP_BUF_INIT;
	struct op_wf_opts o = { OP_WF_DEFAULT_WIDTH, false, false, self_pid };
	int rc = 0;

	if (op_wf_read(&set, in) || op_wf_build(&set)) {
		fputs("otelpreload: out of memory reading the spans for the waterfall\n", stderr);
		op_wf_set_free(&set);
		return 1;
	}
	o.utf8 = op_wf_utf8_locale();
	if (fd >= 0) {
		o.width = op_wf_width(fd);
		o.color = op_wf_want_color(color, fd);
		op_wf_render(&b, &set, &o);
		if (!b.err)
			write_all(fd, b.p, b.len);
	}
	if (json_path) {
		int jfd;

		op_buf_reset(&b);
		op_wf_json(&b, &set, &o);
		jfd = open(json_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (b.err || jfd < 0 || write_all(jfd, b.p, b.len) || close(jfd)) {
			fprintf(stderr, "otelpreload: cannot write %s: %s\n", json_path,
				b.err ? "out of memory" : strerror(errno));
			rc = 1;
		}
	}
	op_buf_free(&b);
	op_wf_set_free(&set);
	return rc;
}

/* Reads the spans the run added to `path` (from `offset` on) and shows them. */
static void show(const char *path, off_t offset, const struct op_run_opts *o)
{
	FILE *f;
	struct stat st;

	if (!o->show && !o->json_path)
		return;
	f = fopen(path, "re");
	if (!f) {
		/* No process wrote a span (the file is created with the first). */
		f = fopen("/dev/null", "re");
		if (!f)
			return;
	} else if (offset && fstat(fileno(f), &st) == 0 && st.st_size >= offset) {
		fseeko(f, offset, SEEK_SET);
	}
	op_wf_show(f, o->show ? STDERR_FILENO : -1, o->color, o->json_path, (long)getpid());
	fclose(f);
}

/*
 * Dies of the signal that killed the command, so our caller sees what it
 * would have seen without us. No core file: the command wrote its own.
 */
static int die_like(int sig)
{
	struct rlimit none = { 0, 0 };
	sigset_t set;

	signal(sig, SIG_DFL);
	setrlimit(RLIMIT_CORE, &none);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	return 128 + sig;
}

int op_run(char **argv, const struct op_run_opts *o)
{
	char *channel = NULL, *dir = NULL, *libdir, *slash;
	const char *source = NULL;
	struct op_root root;
	struct signals sig;
	bool have_root;
	off_t offset = 0;
	int status = 0, wstatus = 0;
	pid_t pid;

	if (o->collect) {
		const char *user = getenv("OTELPRELOAD_FILE");

		if (user && *user) {
			struct stat st;

			source = user;
			offset = stat(user, &st) == 0 ? st.st_size : 0;
		} else if ((channel = make_channel(&dir))) {
			source = channel;
			setenv("OTELPRELOAD_FILE", channel, 1);
			if (!getenv("OTEL_TRACES_EXPORTER") || !*getenv("OTEL_TRACES_EXPORTER"))
				setenv("OTEL_TRACES_EXPORTER", o->exporting ? "otlp" : "none", 1);
		} else if (!o->exporting) {
			setenv("OTEL_TRACES_EXPORTER", "console", 1);
		}
	}
	have_root = op_root_begin(&root) == 0;
	if (!have_root)
		fprintf(stderr, "otelpreload: no random bytes for the root span: %s\n",
			strerror(errno));

	take_signals(&sig);
	pid = start(argv, &sig, &status);
	sigprocmask(SIG_SETMASK, &sig.old_mask, NULL);
	if (pid > 0) {
		while (waitpid(pid, &wstatus, 0) < 0) {
			if (errno != EINTR) {
				fprintf(stderr, "otelpreload: cannot wait for %s: %s\n", argv[0],
					strerror(errno));
				wstatus = EXIT_CANNOT_EXEC << 8;
				break;
			}
		}
		child_pid = 0;
	}

	libdir = strdup(o->lib);
	slash = libdir ? strrchr(libdir, '/') : NULL;
	if (slash)
		*slash = '\0';
	if (have_root && pid > 0 && libdir)
		op_root_end(&root, slash == libdir ? "/" : libdir, argv, pid, wstatus);
	else if (have_root)
		op_root_discard(&root);
	free(libdir);

	if (source && pid > 0)
		show(source, offset, o);
	if (channel) {
		unlink(channel);
		rmdir(dir);
		free(channel);
		free(dir);
	}
	if (pid <= 0)
		return status;
	if (WIFSIGNALED(wstatus))
		return die_like(WTERMSIG(wstatus));
	return WEXITSTATUS(wstatus);
}
