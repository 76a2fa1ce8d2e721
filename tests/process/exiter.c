/*
 * exiter: every way of leaving a process, after HTTP requests (so that
 * otelpreload has spans and an exporter thread).
 *
 *   exiter -p PORT -m MODE [-n REQS] [-o FILE] [-s]
 *
 * Makes REQS requests (default 3, /e/<mode>/<n>), then, by MODE:
 *   exit     exit(6)
 *   _exit    _exit(5)
 *   term     raise(SIGTERM), default action
 *   int      raise(SIGINT), default action
 *   abort    abort()
 *   atexit   writes "exiting" to FILE, then exit(0): a test can signal the
 *            process while its exit handlers run
 *   handler  a SIGALRM handler calls exit(3); a one-shot timer fires it
 *            5 to 60 ms later (random) while the program keeps making
 *            requests (with -s: test spans, otelpreload_test_span of the
 *            testing library, in a tight loop) until then
 * For term, int and abort it first waits (at most 3 s) until the exporter
 * thread sits in poll() waiting for the collector, and writes "mid=1" to
 * FILE if it got there ("mid=0" if not, or untraced). Prints nothing
 * unless a request fails (then on stderr, exit status 1).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "hp.h"

static int port;
static const char *mode;

static void on_alarm(int sig)
{
	(void)sig;
	/* Not async-signal-safe, and common: the library must not make it worse. */
	exit(3);
}

static void request(long i)
{
	char path[128], why[256];

	snprintf(path, sizeof path, "/e/%s/%ld", mode, i);
	if (hp_get(port, path, why, sizeof why)) {
		fprintf(stderr, "exiter: %s\n", why);
		exit(1);
	}
}

static void note(const char *file, const char *text)
{
	FILE *f;

	if (!file)
		return;
	f = fopen(file, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

int main(int argc, char **argv)
{
	int n = 3, c, spans_only = 0;
	const char *file = NULL;

	while ((c = getopt(argc, argv, "p:m:n:o:s")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'm': mode = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'o': file = optarg; break;
		case 's': spans_only = 1; break;
		default:
			fprintf(stderr, "usage: exiter -p PORT -m MODE [-n N] [-o FILE] [-s]\n");
			return 2;
		}
	}
	if (port <= 0 || !mode) {
		fprintf(stderr, "exiter: -p and -m are required\n");
		return 2;
	}
	if (!strcmp(mode, "handler")) {
		struct sigaction sa = { .sa_handler = on_alarm };
		struct itimerval it = { 0 };
		unsigned seed = (unsigned)getpid() ^ (unsigned)hp_mono_ms();
		void (*test_span)(const char *, int) = NULL;

		if (spans_only) {
			*(void **)&test_span = dlsym(RTLD_DEFAULT, "otelpreload_test_span");
			if (!test_span) {
				fprintf(stderr, "exiter: -s needs libotelpreload-testing.so preloaded\n");
				return 2;
			}
		}
		sigemptyset(&sa.sa_mask);
		sigaction(SIGALRM, &sa, NULL);
		it.it_value.tv_usec = (long)(5 + rand_r(&seed) % 56) * 1000;
		setitimer(ITIMER_REAL, &it, NULL);
		for (long i = 1;; i++) {
			if (test_span)
				test_span("exiter", 1);
			else
				request(i);
		}
	}
	for (long i = 1; i <= n; i++)
		request(i);
	if (!strcmp(mode, "exit"))
		exit(6);
	if (!strcmp(mode, "_exit"))
		_exit(5);
	if (!strcmp(mode, "atexit")) {
		note(file, "exiting\n");
		exit(0);
	}
	if (!strcmp(mode, "term") || !strcmp(mode, "int") || !strcmp(mode, "abort")) {
		note(file, hp_wait_exporting(3000) ? "mid=1\n" : "mid=0\n");
		if (!strcmp(mode, "term"))
			raise(SIGTERM);
		else if (!strcmp(mode, "int"))
			raise(SIGINT);
		else
			abort();
		return 99;
	}
	fprintf(stderr, "exiter: unknown mode %s\n", mode);
	return 2;
}
