/*
 * pipeline_stress: works the library's shared state from many threads at
 * once, in every build and above all under the sanitizers: the span queue,
 * the batch span processor's worker and flushes, the exporter, the fd
 * table and the HTTP engine (both ends of loopback HTTP/1.1 exchanges in
 * one process), fork() before the first span, during the first export and
 * while all of that runs, and exit() while threads are still making spans.
 * Run it with LD_PRELOAD=libotelpreload-testing.so (it makes its test
 * spans with otelpreload_test_span, as spanner does).
 *
 *   pipeline_stress [-t THREADS] [-n SPANS] [-h EVERY] [-s SERVERS]
 *                   [-e EARLY_FORKS] [-b BURST] [-f FORKS] [-c CHILD_SPANS]
 *                   [-T CHILD_THREADS] [-l LATE_THREADS]
 *
 *   -t  emitting threads (default 8), each making -n spans named
 *       "stress-span" (default 300) and, every -h spans (default 10), one
 *       HTTP exchange with the in-process server
 *   -s  server threads sharing the listening socket (default 3)
 *   -e  children forked first, while the process has one thread and no
 *       span (default 2), as a pre-forking server's master does; each
 *       makes -c spans named "stress-early" on its main thread and on two
 *       threads of its own, then leaves with exit()
 *   -b  then one span named "stress-first", which starts the worker and
 *       its first export (loading the exporter module), and meanwhile BURST
 *       children forked a millisecond apart (default 100), each making one
 *       span named "stress-burst" and leaving with exit()
 *   -f  children forked, one after another, while the threads run
 *       (default 4); each makes -c spans (default 50) named "stress-child"
 *       on its main thread and on each of -T threads of its own (default
 *       2), then leaves with exit()
 *   -l  threads still making spans named "stress-late" when main returns
 *       (default 2), so the exit flush meets concurrent producers
 *
 * Prints "pid=", "child=" per -e and -f child, "burst=" per -b child,
 * "exchanges=N" (answered correctly),
 * "traceparent=N" (requests that arrived with one: the library injects it)
 * and "spans=N" (test spans made before the late ones) on stdout; exits 0
 * when every exchange and child succeeded.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef void (*test_span_fn)(const char *name, int kind);

static test_span_fn test_span;
static long threads = 8, spans = 300, every = 10, servers = 3, early_forks = 2, burst = 100,
	    forks = 4, child_spans = 50, child_threads = 2, late = 2;
static int listen_fd;
static struct sockaddr_in server_addr;
static long exchanges_expected;

static atomic_long accepted, answered, with_traceparent, made, failures, emitters_done;

static void die(const char *what)
{
	fprintf(stderr, "pipeline_stress: %s: %s\n", what, strerror(errno));
	exit(70);
}

static long number(const char *opt, const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0) {
		fprintf(stderr, "pipeline_stress: -%s %s is not a non-negative number\n", opt, s);
		exit(64);
	}
	return v;
}

/* Writes all of buf; 0 on success. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads until the end of the head ("\r\n\r\n") or EOF; the length read. */
static size_t read_head(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len + 1 < cap) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			break;
	}
	buf[len] = '\0';
	return len;
}

static void *server_main(void *arg)
{
	static const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
				    "Connection: close\r\n\r\nok";
	char buf[4096];

	(void)arg;
	while (atomic_fetch_add(&accepted, 1) < exchanges_expected) {
		int fd = accept(listen_fd, NULL, NULL);

		if (fd < 0) {
			atomic_fetch_add(&failures, 1);
			continue;
		}
		read_head(fd, buf, sizeof buf);
		if (strcasestr(buf, "\r\ntraceparent: 00-"))
			atomic_fetch_add(&with_traceparent, 1);
		if (write_all(fd, reply, sizeof reply - 1))
			atomic_fetch_add(&failures, 1);
		close(fd);
	}
	return NULL;
}

static void exchange(long id)
{
	char req[256], buf[4096];
	size_t len = 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr)) {
		atomic_fetch_add(&failures, 1);
		if (fd >= 0)
			close(fd);
		return;
	}
	snprintf(req, sizeof req,
		 "GET /stress/%ld HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", id);
	if (write_all(fd, req, strlen(req))) {
		atomic_fetch_add(&failures, 1);
		close(fd);
		return;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof buf - 1)
			break;
	}
	buf[len] = '\0';
	close(fd);
	if (len >= 17 && !strncmp(buf, "HTTP/1.1 200 ", 13) && !strcmp(buf + len - 4, "\r\nok"))
		atomic_fetch_add(&answered, 1);
	else
		atomic_fetch_add(&failures, 1);
}

static void *emitter_main(void *arg)
{
	long self = (long)(intptr_t)arg;

	for (long i = 0; i < spans; i++) {
		test_span("stress-span", 1);
		atomic_fetch_add(&made, 1);
		if (every > 0 && i % every == every - 1)
			exchange(self * spans + i);
	}
	atomic_fetch_add(&emitters_done, 1);
	return NULL;
}

static void *child_thread_main(void *name)
{
	for (long i = 0; i < child_spans; i++)
		test_span(name, 1);
	return NULL;
}

static void child_main(char *name, long nthreads)
{
	pthread_t t[16];
	long n = nthreads < 16 ? nthreads : 16;

	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, child_thread_main, name))
			_exit(71);
	child_thread_main(name);
	for (long i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	exit(0);
}

/* Forks a child running child_main(name, nthreads); 1 if it failed. */
static int fork_child(char *name, long nthreads)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		die("fork");
	if (pid == 0)
		child_main(name, nthreads);
	printf("child=%ld\n", (long)pid);
	fflush(stdout);
	return waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

/* Forks `burst` children a millisecond apart, then reaps them; the failures. */
static int fork_burst(void)
{
	struct timespec ts = { 0, 1000000 };
	int bad = 0, st;

	for (long i = 0; i < burst; i++) {
		pid_t pid = fork();

		if (pid < 0)
			die("fork");
		if (pid == 0) {
			test_span("stress-burst", 1);
			exit(0);
		}
		/* Flushed now: the next child would inherit the buffer. */
		printf("burst=%ld\n", (long)pid);
		fflush(stdout);
		nanosleep(&ts, NULL);
	}
	for (long i = 0; i < burst; i++)
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			bad++;
	return bad;
}

static void *late_main(void *arg)
{
	struct timespec ts = { 0, 1000000 };

	(void)arg;
	for (;;) {
		test_span("stress-late", 1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	if (!t)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(t ? t : &(pthread_t){ 0 }, &attr, fn, arg)) {
		errno = EAGAIN;
		die("pthread_create");
	}
	pthread_attr_destroy(&attr);
}

int main(int argc, char **argv)
{
	socklen_t alen = sizeof server_addr;
	pthread_t *em, *sv;
	int c, bad_children = 0;

	while ((c = getopt(argc, argv, "t:n:h:s:e:b:f:c:T:l:")) != -1) {
		switch (c) {
		case 't': threads = number("t", optarg); break;
		case 'n': spans = number("n", optarg); break;
		case 'h': every = number("h", optarg); break;
		case 's': servers = number("s", optarg); break;
		case 'e': early_forks = number("e", optarg); break;
		case 'b': burst = number("b", optarg); break;
		case 'f': forks = number("f", optarg); break;
		case 'c': child_spans = number("c", optarg); break;
		case 'T': child_threads = number("T", optarg); break;
		case 'l': late = number("l", optarg); break;
		default:
			fprintf(stderr, "usage: pipeline_stress [-t T] [-n N] [-h EVERY] [-s S] "
					"[-e E] [-b B] [-f F] [-c C] [-T CT] [-l L]\n");
			return 64;
		}
	}
	*(void **)&test_span = dlsym(RTLD_DEFAULT, "otelpreload_test_span");
	if (!test_span) {
		fprintf(stderr, "pipeline_stress: otelpreload_test_span not found; "
				"run with LD_PRELOAD=libotelpreload-testing.so\n");
		return 65;
	}
	exchanges_expected = every > 0 ? threads * (spans / every) : 0;
	if (exchanges_expected > 0 && servers == 0)
		servers = 1;

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		die("socket");
	server_addr.sin_family = AF_INET;
	server_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(listen_fd, (struct sockaddr *)&server_addr, sizeof server_addr) ||
	    listen(listen_fd, 128) ||
	    getsockname(listen_fd, (struct sockaddr *)&server_addr, &alen))
		die("listen on 127.0.0.1");
	printf("pid=%ld\n", (long)getpid());
	fflush(stdout);
	for (long i = 0; i < early_forks; i++)
		bad_children += fork_child("stress-early", 2);
	test_span("stress-first", 1);
	bad_children += fork_burst();

	em = calloc((size_t)threads + 1, sizeof *em);
	sv = calloc((size_t)servers + 1, sizeof *sv);
	if (!em || !sv)
		die("calloc");
	for (long i = 0; i < servers; i++)
		start(&sv[i], server_main, NULL);
	for (long i = 0; i < threads; i++)
		start(&em[i], emitter_main, (void *)(intptr_t)i);

	/* Children forked while the emitters, servers and worker are busy. */
	for (long i = 0; i < forks; i++) {
		struct timespec ts = { 0, 20000000 };

		nanosleep(&ts, NULL);
		bad_children += fork_child("stress-child", child_threads);
	}

	for (long i = 0; i < threads; i++)
		pthread_join(em[i], NULL);
	for (long i = 0; i < servers; i++)
		pthread_join(sv[i], NULL);
	free(em);
	free(sv);
	close(listen_fd);

	printf("exchanges=%ld\ntraceparent=%ld\nspans=%ld\n", atomic_load(&answered),
	       atomic_load(&with_traceparent), atomic_load(&made));
	fflush(stdout);
	if (bad_children)
		fprintf(stderr, "pipeline_stress: %d children failed\n", bad_children);
	if (atomic_load(&failures))
		fprintf(stderr, "pipeline_stress: %ld exchanges failed\n", atomic_load(&failures));
	for (long i = 0; i < late; i++)
		start(NULL, late_main, NULL);
	return bad_children || atomic_load(&failures) ||
	       atomic_load(&answered) != exchanges_expected;
}
