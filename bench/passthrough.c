/*
 * The cost of a call that otelpreload passes through: N 1-byte
 * write()+read() pairs on a pipe, which the library never traces, or N
 * send()+recv() pairs on a loopback TCP connection that carries no HTTP (the
 * library looks at its first bytes, then leaves it alone, as it does for
 * Redis), timed with CLOCK_MONOTONIC. Prints the mean nanoseconds per call
 * (2N calls).
 *
 *   passthrough [N [tcp]]    N pairs (default 5000000); tcp: send()/recv()
 *
 * Built by bench/run.sh twice: once plain, and once with _FORTIFY_SOURCE,
 * where glibc turns read() into __read_chk() as in Debian's own packages.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

/* Loopback delivers a send() to the peer before it returns, so recv() never waits. */
static int socket_pairs(int rfd, int wfd, long n)
{
	char buf[16] = "x";

	for (long i = 0; i < n; i++) {
		if (send(wfd, buf, one, 0) != 1 || recv(rfd, buf, one, 0) != 1) {
			perror("passthrough: send/recv");
			return -1;
		}
	}
	return 0;
}

/* fds[0]: the accepted end (read), fds[1]: the connected end (written). */
static int tcp_pair(int fds[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &alen))
		return -1;
	fds[1] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[1] < 0 || connect(fds[1], (struct sockaddr *)&a, sizeof a))
		return -1;
	fds[0] = accept(l, NULL, NULL);
	close(l);
	return fds[0] < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 5000000;
	int tcp = argc > 2 && strcmp(argv[2], "tcp") == 0;
	int (*run)(int, int, long) = tcp ? socket_pairs : pairs;
	int fds[2];
	double t0, t1;

	if (n <= 0 || (argc > 2 && !tcp)) {
		fprintf(stderr, "usage: passthrough [N>0 [tcp]]\n");
		return 2;
	}
	if (tcp ? tcp_pair(fds) != 0 : pipe(fds) != 0) {
		perror(tcp ? "passthrough: loopback connection" : "passthrough: pipe");
		return 1;
	}
	if (run(fds[0], fds[1], WARMUP_PAIRS) != 0)
		return 1;
	t0 = now_ns();
	if (run(fds[0], fds[1], n) != 0)
		return 1;
	t1 = now_ns();
	printf("%.2f ns/call (%ld %s pairs)\n", (t1 - t0) / (2.0 * (double)n), n,
	       tcp ? "send+recv" : "write+read");
	return 0;
}
