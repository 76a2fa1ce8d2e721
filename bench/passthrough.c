/*
 * The cost of a read()/write() that otelpreload passes through: N 1-byte
 * write()+read() pairs on a pipe, which the library never traces, timed
 * with CLOCK_MONOTONIC. Prints the mean nanoseconds per call (2N calls).
 *
 *   passthrough [N]          N pairs (default 5000000)
 *
 * Built by bench/run.sh twice: once plain, and once with _FORTIFY_SOURCE,
 * where glibc turns read() into __read_chk() as in Debian's own packages.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* Untimed pairs first, so page faults and lazy binding are not measured. */
#define WARMUP_PAIRS 10000

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/*
 * The length is read through a volatile so the compiler cannot prove the
 * read fits the buffer: with _FORTIFY_SOURCE that makes it __read_chk().
 */
static volatile size_t one = 1;

static int pairs(int rfd, int wfd, long n)
{
	char buf[16] = "x";

	for (long i = 0; i < n; i++) {
		if (write(wfd, buf, one) != 1 || read(rfd, buf, one) != 1) {
			perror("passthrough: write/read");
			return -1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 5000000;
	int fds[2];
	double t0, t1;

	if (n <= 0) {
		fprintf(stderr, "usage: passthrough [N>0]\n");
		return 2;
	}
	if (pipe(fds) != 0) {
		perror("passthrough: pipe");
		return 1;
	}
	if (pairs(fds[0], fds[1], WARMUP_PAIRS) != 0)
		return 1;
	t0 = now_ns();
	if (pairs(fds[0], fds[1], n) != 0)
		return 1;
	t1 = now_ns();
	printf("%.2f ns/call (%ld write+read pairs)\n", (t1 - t0) / (2.0 * (double)n), n);
	return 0;
}
