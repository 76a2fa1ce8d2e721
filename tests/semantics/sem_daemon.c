/*
 * A daemon that closes every descriptor above stderr, three times, in the
 * three ways daemons do it (a close() loop up to the limit, close_range(3,
 * ~0U, 0), glibc's closefrom(3)), and after each keeps making HTTP
 * requests: sixteen keep-alive connections in rounds with pauses between
 * them (the exporter works meanwhile), and a log file open 800 times, so
 * the numbers the library's own descriptors had (its collector
 * connection, the console exporter's copy of stderr at 768) now belong to
 * the daemon.
 *
 * The daemon's connections must carry only its own requests (with the
 * library's line after each request line), its log must hold only what it
 * wrote, every response must come back; the library must not write to
 * or close anything of the daemon's, and must go on exporting.
 *
 * Before each closing, when exporting to a collector (OTEL_EXPORTER_OTLP_
 * ENDPOINT), the daemon waits (up to 3 s) until the exporter has a
 * connection open, so that there is one to close under it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "sem.h"

#define CONNS 16
#define ROUNDS 5
#define FILES 800

static int collector_port;

/* The port of OTEL_EXPORTER_OTLP_ENDPOINT (http://127.0.0.1:PORT), or 0. */
static int endpoint_port(void)
{
	const char *e = getenv("OTEL_EXPORTER_OTLP_ENDPOINT"), *colon;

	if (!e || !(colon = strrchr(e, ':')))
		return 0;
	return atoi(colon + 1);
}

/* A descriptor the program did not open, connected to the collector. */
static bool exporter_connected(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	bool found = false;

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		struct sockaddr_in a;
		socklen_t len = sizeof a;
		int fd = atoi(de->d_name);

		if (fd > 2 && fd != dirfd(d) && !getpeername(fd, (struct sockaddr *)&a, &len) &&
		    a.sin_family == AF_INET && ntohs(a.sin_port) == collector_port)
			found = true;
	}
	closedir(d);
	return found;
}

static void wait_for_exporter(const char *when)
{
	struct timespec t0, t;

	if (!collector_port)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (exporter_connected()) {
			side("figure exporter connected before %s: yes", when);
			return;
		}
		usleep(20000);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < 3);
	side("figure exporter connected before %s: no", when);
}

static int listener, port;
static int fds[CONNS];
static struct peer peers[CONNS];
static int files[FILES];

static void open_all(void)
{
	for (int i = 0; i < CONNS; i++) {
		fds[i] = app_dial(port, 0);
		peers[i] = (struct peer){ .fd = peer_accept(listener) };
	}
}

/* ROUNDS rounds of one request per connection, 60 ms apart. */
static void rounds(const char *phase)
{
	static unsigned n;

	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < CONNS; i++) {
			struct bytes req = { 0 };
			char path[64], what[96], resp[128], got[128];
			size_t rlen;

			snprintf(path, sizeof path, "/daemon/%s/%d/%d", phase, r, i);
			snprintf(what, sizeof what, "%s, round %d, connection %d", phase, r, i);
			http_request(&req, "GET", path, 0, n);
			want_span("client", "GET", path, 200, false);
			app_send_all(fds[i], req.p, req.len, WC_WRITE, 0, NULL);
			peer_expect(&peers[i], req.p, req.len, INJ_YES, what);
			rlen = http_response(resp, sizeof resp, 200, 10 + n % 20, n);
			peer_send(peers[i].fd, resp, rlen);
			if (app_read_exact(fds[i], got, rlen))
				check(!memcmp(got, resp, rlen), "%s: the response", what);
			bytes_free(&req);
			n++;
		}
		usleep(60000);
	}
	for (int i = 0; i < CONNS; i++)
		check(peer_idle(peers[i].fd), "%s: connection %d's peer received nothing else", phase, i);
}

static void close_conns(void)
{
	for (int i = 0; i < CONNS; i++) {
		check(close(fds[i]) == 0, "close connection %d", i);
		raw_close(peers[i].fd);
		bytes_free(&peers[i].in);
	}
}

/*
 * One log file behind FILES descriptors (dup()s of it, so that the numbers
 * up to about 800 are the daemon's; opening 800 files costs seconds).
 */
static void open_files(void)
{
	files[0] = open("daemon.log", O_RDWR | O_CREAT | O_TRUNC | O_APPEND, 0600);
	if (files[0] < 0)
		fatal("daemon.log: %s", strerror(errno));
	for (int i = 1; i < FILES; i++)
		if ((files[i] = dup(files[0])) < 0)
			fatal("dup: %s", strerror(errno));
}

/* A line written through every descriptor: the file holds exactly those. */
static void check_files(const char *phase)
{
	static char want[FILES * 16], got[FILES * 16 + 4096];
	size_t len = 0;
	ssize_t r;

	for (int i = 0; i < FILES; i++) {
		int n = snprintf(want + len, sizeof want - len, "log %d\n", i);

		if (write(files[i], want + len, (size_t)n) != n)
			fatal("write to the log: %s", strerror(errno));
		len += (size_t)n;
	}
	r = pread(files[0], got, sizeof got, 0);
	check(r == (ssize_t)len && !memcmp(got, want, len),
	      "%s: the log holds only the daemon's %d lines", phase, FILES);
	if (r != (ssize_t)len)
		side("figure %s: log bytes: %zd, the daemon's %zu", phase, r, len);
}

static void close_files(void)
{
	for (int i = 0; i < FILES; i++)
		close(files[i]);
	unlink("daemon.log");
}

static void close_everything(int how)
{
	struct rlimit rl;
	static const char *const names[] = { "a close() loop", "close_range(3, ~0U, 0)",
					     "closefrom(3)" };

	for (int i = 0; i < CONNS; i++)
		bytes_free(&peers[i].in);
	sem_before_closing_all();
	if (how == 0) {
		getrlimit(RLIMIT_NOFILE, &rl);
		for (long fd = 3; fd < (long)rl.rlim_cur; fd++)
			close((int)fd);
	} else if (how == 1) {
		close_range(3, ~0U, 0);
	} else {
		closefrom(3);
	}
	sem_reopen();
	say("closed every descriptor above 2 with %s", names[how]);
}

int main(void)
{
	static const char *const phases[] = { "loop", "range", "closefrom" };

	sem_start();
	collector_port = endpoint_port();
	listener = peer_listen(&port, 0);
	open_all();
	rounds("start");
	for (int how = 0; how < 3; how++) {
		wait_for_exporter(phases[how]);
		close_everything(how);
		listener = peer_listen(&port, 0);
		open_all();
		open_files();
		rounds(phases[how]);
		check_files(phases[how]);
		close_conns();
		close_files();
		raw_close(listener);
	}
	return sem_end();
}
