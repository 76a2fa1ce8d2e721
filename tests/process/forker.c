/*
 * forker: fork() without exec while otelpreload's exporter thread is busy.
 *
 *   forker -p PORT [-a STARTUP] [-c CHILDREN] [-r REQS] [-t THREADS]
 *          [-g EVERY] [-w WATCHDOG_S]
 *
 * Phase a (-a STARTUP children, default 0): one request, which starts the
 * exporter thread; it loads the exporter module (dlopen of it, libcurl,
 * OpenSSL...) and sets up libcurl on its first export. As soon as the
 * module shows in /proc/self/maps (the loader is still busy with its
 * dependencies), STARTUP children are forked back to back. Each makes REQS
 * requests (/a/<i>/<j>) and exits.
 *
 * Phase b (-c CHILDREN, default 0): THREADS threads (default 2) keep
 * making requests (/p/<thread>/<n>) on keep-alive connections while the
 * main thread forks CHILDREN children, each time after waiting (at most
 * 2 s) until the exporter thread sits in poll() waiting on the collector:
 * the fork lands in the middle of an export. Each child makes REQS
 * requests (/c/<i>/<j>); every EVERY-th child (default 4; 0: none) first
 * forks a grandchild that makes REQS requests (/g/<i>/<j>), and waits for
 * it. Children leave with exit(0).
 *
 * Every child gets WATCHDOG_S seconds (default 30) in all; one still alive
 * then is reported as hung with its threads' kernel stacks, killed, and
 * the run fails. Prints one line per child (and grandchild):
 *   child phase=<a|b> i=<i> pid=<pid> status=<exit status|sig N> mid=<0|1> ms=<lifetime>
 *   grandchild i=<i> pid=<pid> status=<...>
 * then "parent pid=<pid> requests=<n> mid=<forks mid-export>". Exits 0 when
 * every process exited 0 and every answer was right.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hp.h"

#define MAX_CHILDREN 256

static int port, reqs = 3;
static _Atomic int stop;
static _Atomic long parent_reqs, errors;

struct child {
	pid_t pid;
	char phase;
	int i, mid, done, status;
	long long born, ended;
};

static struct child kids[MAX_CHILDREN];
static int nkids;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static int requests(const char *kind, int i)
{
	char path[128], why[256];

	for (int j = 1; j <= reqs; j++) {
		snprintf(path, sizeof path, "/%s/%d/%d", kind, i, j);
		if (hp_get(port, path, why, sizeof why)) {
			fprintf(stderr, "forker[%ld]: %s\n", (long)getpid(), why);
			return -1;
		}
	}
	return 0;
}

static void status_text(int st, char *out, size_t cap)
{
	if (WIFEXITED(st))
		snprintf(out, cap, "%d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, cap, "sig%d", WTERMSIG(st));
	else
		snprintf(out, cap, "?%d", st);
}

/* Kernel stacks of every thread of a hung process, for the report. */
static void show_stacks(pid_t pid)
{
	char dir[64], p[128], line[256];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof dir, "/proc/%ld/task", (long)pid);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s/comm", dir, e->d_name);
		if ((f = fopen(p, "re"))) {
			if (fgets(line, sizeof line, f))
				fprintf(stderr, "  thread %s %s", e->d_name, line);
			fclose(f);
		}
		snprintf(p, sizeof p, "%s/%s/stack", dir, e->d_name);
		if ((f = fopen(p, "re"))) {
			while (fgets(line, sizeof line, f))
				fprintf(stderr, "    %s", line);
			fclose(f);
		}
	}
	closedir(d);
}

/* Waits for `pid` until `deadline` (ms); kills it then. Returns the status, -1 if it hung. */
static int reap(pid_t pid, long long deadline, int *status)
{
	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (hp_mono_ms() > deadline) {
			fprintf(stderr, "forker: process %ld hung\n", (long)pid);
			show_stacks(pid);
			kill(pid, SIGKILL);
			waitpid(pid, status, 0);
			return -1;
		}
		usleep(2000);
	}
}

static int watchdog_s = 30;

static void child_main(char phase, int i, int grand_every)
{
	int rc = 0;

	if (phase == 'b' && grand_every > 0 && i % grand_every == 0) {
		pid_t g = fork();

		if (g == 0) {
			rc = requests("g", i);
			exit(rc ? 1 : 0);
		}
		if (g < 0) {
			fprintf(stderr, "forker: grandchild fork failed\n");
			rc = -1;
		} else {
			int st = 0;
			char s[32];

			if (reap(g, hp_mono_ms() + watchdog_s * 1000LL, &st))
				rc = -1;
			status_text(st, s, sizeof s);
			say("grandchild i=%d pid=%ld status=%s\n", i, (long)g, s);
			if (!WIFEXITED(st) || WEXITSTATUS(st))
				rc = -1;
		}
	}
	if (requests(phase == 'a' ? "a" : "c", i))
		rc = -1;
	exit(rc ? 1 : 0);
}

static void spawn(char phase, int i, int mid, int grand_every)
{
	pid_t pid;

	if (nkids >= MAX_CHILDREN)
		return;
	fflush(stdout);
	pid = fork();
	if (pid == 0)
		child_main(phase, i, grand_every);
	if (pid < 0) {
		fprintf(stderr, "forker: fork failed: %s\n", strerror(errno));
		errors++;
		return;
	}
	kids[nkids++] = (struct child){ .pid = pid, .phase = phase, .i = i, .mid = mid,
					.born = hp_mono_ms() };
}

static void *busy(void *arg)
{
	int t = (int)(long)arg, fd = -1;
	long n = 0;
	char path[128], why[256];

	while (!stop) {
		if (fd < 0 && (fd = hp_connect(port)) < 0) {
			fprintf(stderr, "forker: thread %d cannot connect\n", t);
			errors++;
			return NULL;
		}
		snprintf(path, sizeof path, "/p/%d/%ld", t, ++n);
		if (hp_request(fd, path, n % 3 ? 0 : (size_t)(n * 37 % 3000), (enum hp_io)(n % HP_IO_COUNT),
			       NULL, why, sizeof why)) {
			fprintf(stderr, "forker: thread %d: %s\n", t, why);
			errors++;
			close(fd);
			return NULL;
		}
		parent_reqs++;
		usleep(3000);
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	int startup = 0, children = 0, threads = 2, grand_every = 4, c, mid_total = 0;
	pthread_t th[64];
	int failed = 0;

	while ((c = getopt(argc, argv, "p:a:c:r:t:g:w:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'a': startup = atoi(optarg); break;
		case 'c': children = atoi(optarg); break;
		case 'r': reqs = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'g': grand_every = atoi(optarg); break;
		case 'w': watchdog_s = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: forker -p PORT [-a N] [-c N] [-r N] [-t N] [-g N] [-w S]\n");
			return 2;
		}
	}
	if (port <= 0 || threads > 64 || startup + children > MAX_CHILDREN) {
		fprintf(stderr, "forker: bad arguments\n");
		return 2;
	}

	if (startup > 0) {
		char why[256];

		if (hp_get(port, "/a/first", why, sizeof why)) {
			fprintf(stderr, "forker: %s\n", why);
			return 1;
		}
		parent_reqs++;
		long long t0 = hp_mono_ms(), until = t0 + 5000;
		int mapped;

		while (!(mapped = hp_exporter_mapped()) && hp_mono_ms() < until)
			;
		say("startup mapped=%d ms=%lld\n", mapped, hp_mono_ms() - t0);
		for (int i = 0; i < startup; i++)
			spawn('a', i, 0, 0);
	}

	if (children > 0) {
		for (int t = 0; t < threads; t++)
			if (pthread_create(&th[t], NULL, busy, (void *)(long)t)) {
				fprintf(stderr, "forker: pthread_create failed\n");
				return 1;
			}
		for (int i = 0; i < children; i++) {
			int mid = hp_wait_exporting(2000);

			mid_total += mid;
			spawn('b', i, mid, grand_every);
		}
	}

	for (int k = 0; k < nkids; k++) {
		struct child *ch = &kids[k];
		char s[32];

		if (reap(ch->pid, ch->born + watchdog_s * 1000LL, &ch->status))
			failed = 1;
		ch->ended = hp_mono_ms();
		status_text(ch->status, s, sizeof s);
		say("child phase=%c i=%d pid=%ld status=%s mid=%d ms=%lld\n", ch->phase, ch->i,
		    (long)ch->pid, s, ch->mid, ch->ended - ch->born);
		if (!WIFEXITED(ch->status) || WEXITSTATUS(ch->status))
			failed = 1;
	}
	stop = 1;
	if (children > 0)
		for (int t = 0; t < threads; t++)
			pthread_join(th[t], NULL);
	say("parent pid=%ld requests=%ld mid=%d\n", (long)getpid(), (long)parent_reqs, mid_total);
	return failed || errors ? 1 : 0;
}
