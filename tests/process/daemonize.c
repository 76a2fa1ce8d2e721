/*
 * daemonize: a program that becomes a daemon after it has made requests
 * (so otelpreload's exporter thread runs and holds a collector connection).
 *
 *   daemonize -p PORT -m libc|double|closeall -o OUT -g GO [-d DIR]
 *
 * All modes first make two requests (/d/<mode>/pre/1..2) and wait until
 * the file GO exists (at most 10 s): the test creates it once those spans
 * have arrived, so the exporter has set up and holds its connection. Then:
 *
 *   libc      daemon(0, 0): fork, setsid, chdir("/"), fds 0-2 to /dev/null.
 *   double    the classic way: fork (the parent leaves with exit(0)),
 *             setsid, fork again (the first child leaves with _exit(0)),
 *             chdir(DIR), umask(0), close() every fd below 1024, fds 0-2
 *             to /dev/null.
 *   closeall  no fork: close() every fd from 3 below 1024 in the running
 *             process.
 *
 * The daemon (or the process, for closeall) then opens OUT (an absolute
 * path) and twelve idle connections to the server, so that the numbers of
 * every fd it closed are taken again, makes three requests
 * (/d/<mode>/post/1..3), waits until GO.2 exists (at most 10 s: the test
 * creates it once those spans arrived), and checks that the idle
 * connections and OUT are still its own: open, and nothing to read on the
 * connections. It writes one line to OUT and leaves with exit(0):
 *   done mode=<mode> pid=<pid> sid=<session id> cwd=<cwd> ok=<requests> bad=<problems>
 * Problems are also described in OUT.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hp.h"

#define IDLE_CONNS 12

static int port, out_fd = -1, bad;
static const char *mode, *go;

static void outf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void outf(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0 && hp_write_all(out_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1)) {
		/* OUT is gone: nothing else can tell the test; leave a distinct status. */
		_exit(3);
	}
}

static int requests(const char *when, int n)
{
	char path[128], why[256];
	int ok = 0;

	for (int j = 1; j <= n; j++) {
		snprintf(path, sizeof path, "/d/%s/%s/%d", mode, when, j);
		if (hp_get(port, path, why, sizeof why) == 0)
			ok++;
		else if (out_fd >= 0)
			outf("problem: %s\n", why), bad++;
	}
	return ok;
}

static void wait_go(const char *suffix, long ms)
{
	char p[PATH_MAX];
	long long until = hp_mono_ms() + ms;

	snprintf(p, sizeof p, "%s%s", go, suffix);
	while (access(p, F_OK) && hp_mono_ms() < until)
		usleep(10000);
}

static void close_all(int from)
{
	for (int fd = from; fd < 1024; fd++)
		close(fd);
}

static void null_std(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

int main(int argc, char **argv)
{
	const char *out = NULL, *dir = "/";
	int idle[IDLE_CONNS], c, ok;
	char cwd[PATH_MAX] = "?";

	while ((c = getopt(argc, argv, "p:m:o:d:g:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'm': mode = optarg; break;
		case 'o': out = optarg; break;
		case 'd': dir = optarg; break;
		case 'g': go = optarg; break;
		default:
			fprintf(stderr, "usage: daemonize -p PORT -m MODE -o OUT -g GO [-d DIR]\n");
			return 2;
		}
	}
	if (port <= 0 || !mode || !out || out[0] != '/' || !go) {
		fprintf(stderr, "daemonize: bad arguments\n");
		return 2;
	}
	if (requests("pre", 2) != 2) {
		fprintf(stderr, "daemonize: the first requests failed\n");
		return 1;
	}
	wait_go("", 10000);

	if (!strcmp(mode, "libc")) {
		if (daemon(0, 0)) {
			perror("daemonize: daemon");
			return 1;
		}
	} else if (!strcmp(mode, "double")) {
		pid_t p = fork();

		if (p < 0)
			return 1;
		if (p > 0)
			exit(0);
		setsid();
		p = fork();
		if (p < 0)
			_exit(1);
		if (p > 0)
			_exit(0);
		if (chdir(dir))
			_exit(1);
		umask(0);
		close_all(0);
		null_std();
	} else if (!strcmp(mode, "closeall")) {
		close_all(3);
	} else {
		fprintf(stderr, "daemonize: unknown mode %s\n", mode);
		return 2;
	}

	out_fd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out_fd < 0)
		_exit(4);
	for (int i = 0; i < IDLE_CONNS; i++)
		if ((idle[i] = hp_connect(port)) < 0)
			outf("problem: idle connection %d: %s\n", i, strerror(errno)), bad++;
	ok = requests("post", 3);
	wait_go(".2", 10000);
	for (int i = 0; i < IDLE_CONNS; i++) {
		char b;
		ssize_t r;

		if (idle[i] < 0)
			continue;
		if (fcntl(idle[i], F_GETFD) < 0) {
			outf("problem: idle connection fd %d was closed under us\n", idle[i]), bad++;
			continue;
		}
		r = recv(idle[i], &b, 1, MSG_DONTWAIT);
		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			outf("problem: idle connection fd %d has something to read (%zd, %s): the server "
			     "got bytes we never sent\n", idle[i], r, r < 0 ? strerror(errno) : "data"), bad++;
	}
	if (!getcwd(cwd, sizeof cwd))
		snprintf(cwd, sizeof cwd, "?");
	outf("done mode=%s pid=%ld sid=%ld cwd=%s ok=%d bad=%d\n", mode, (long)getpid(),
	     (long)getsid(0), cwd, ok, bad);
	for (int i = 0; i < IDLE_CONNS; i++)
		if (idle[i] >= 0)
			close(idle[i]);
	exit(0);
}
