/*
 * spanner: emits test spans through libotelpreload-testing.so, the way an
 * instrumented program would, so integration tests can drive the whole
 * pipeline. Run it with LD_PRELOAD=build/libotelpreload-testing.so.
 *
 *   spanner [-n SPANS] [-t THREADS] [-f CHILDREN] [-k KIND] [-N NAME]
 *           [-w MS] [-x STATUS] [-e] [-p]
 *
 *   -n  spans per emitter (default 1); every thread is an emitter
 *   -t  emit from this many threads at once (default: the main thread)
 *   -f  after the first batch, fork this many children; each emits -n
 *       spans named NAME-child and leaves with exit(); the parent waits for
 *       them, then emits -n more named NAME-after
 *   -k  span kind, OTLP numbering (default 1, INTERNAL)
 *   -N  span name prefix (default "test")
 *   -w  sleep this many milliseconds before leaving (lets a test look at
 *       /proc/<pid>/task while spans exist)
 *   -x  exit status (default 0)
 *   -e  leave through exit() rather than by returning from main
 *   -p  print "pid=<pid>" for itself and "child=<pid>" for each child on
 *       stdout, and "tasks=<n>" (threads in /proc/self/task) after emitting
 *
 * Without -p it prints nothing, so tests can check that the library adds
 * no output of its own.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef void (*test_span_fn)(const char *name, int kind);

static test_span_fn test_span;
static long spans = 1;
static int kind = 1;
static const char *prefix = "test";

static void emit(const char *suffix)
{
	char name[256];
	long i;

	snprintf(name, sizeof name, "%s-%s", prefix, suffix);
	for (i = 0; i < spans; i++)
		test_span(name, kind);
}

static void *thread_main(void *arg)
{
	emit(arg);
	return NULL;
}

static int count_tasks(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static long number(const char *opt, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "spanner: -%s %s is not a non-negative number\n", opt, s);
		exit(64);
	}
	return v;
}

int main(int argc, char **argv)
{
	long threads = 0, children = 0, wait_ms = 0, status = 0, i;
	int use_exit = 0, print = 0, c;

	while ((c = getopt(argc, argv, "n:t:f:k:N:w:x:ep")) != -1) {
		switch (c) {
		case 'n': spans = number("n", optarg); break;
		case 't': threads = number("t", optarg); break;
		case 'f': children = number("f", optarg); break;
		case 'k': kind = (int)number("k", optarg); break;
		case 'N': prefix = optarg; break;
		case 'w': wait_ms = number("w", optarg); break;
		case 'x': status = number("x", optarg); break;
		case 'e': use_exit = 1; break;
		case 'p': print = 1; break;
		default:
			fprintf(stderr, "usage: spanner [-n N] [-t T] [-f F] [-k KIND] [-N NAME] [-w MS] [-x STATUS] [-e] [-p]\n");
			return 64;
		}
	}

	*(void **)&test_span = dlsym(RTLD_DEFAULT, "otelpreload_test_span");
	if (!test_span) {
		fprintf(stderr, "spanner: otelpreload_test_span not found; "
			"run with LD_PRELOAD=libotelpreload-testing.so\n");
		return 65;
	}
	if (print) {
		printf("pid=%ld\n", (long)getpid());
		fflush(stdout);
	}

	if (threads > 0) {
		pthread_t *t = calloc((size_t)threads, sizeof *t);

		if (!t)
			return 66;
		for (i = 0; i < threads; i++)
			if (pthread_create(&t[i], NULL, thread_main, "thread")) {
				fprintf(stderr, "spanner: pthread_create failed\n");
				return 66;
			}
		for (i = 0; i < threads; i++)
			pthread_join(t[i], NULL);
		free(t);
	} else {
		emit("main");
	}

	if (children > 0) {
		for (i = 0; i < children; i++) {
			pid_t pid = fork();

			if (pid < 0) {
				fprintf(stderr, "spanner: fork failed\n");
				return 66;
			}
			if (pid == 0) {
				emit("child");
				exit(0);
			}
			if (print) {
				printf("child=%ld\n", (long)pid);
				fflush(stdout);
			}
		}
		for (i = 0; i < children; i++) {
			int st;

			if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "spanner: a child failed\n");
				return 67;
			}
		}
		emit("after");
	}

	if (print) {
		printf("tasks=%d\n", count_tasks());
		fflush(stdout);
	}
	if (wait_ms > 0) {
		struct timespec ts = { wait_ms / 1000, (wait_ms % 1000) * 1000000 };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}
	if (use_exit)
		exit((int)status);
	return (int)status;
}
