/*
 * N keep-alive HTTP/1.1 exchanges over one loopback TCP connection, client
 * and server in one process (two threads): the client send()s a request and
 * recv()s the response, the server recv()s the request and writev()s the
 * response. Run under callgrind with and without libotelpreload.so (both
 * ends are then traced: one CLIENT and one SERVER span per exchange), the
 * growth of the instruction count between two N is the per-exchange cost.
 *
 * With a PORT it is only the client, of a server on 127.0.0.1:PORT (bench/suite.sh
 * runs it against nginx): N sequential GETs of PATH, over one keep-alive
 * connection, or with "new" over a new connection each, and it prints the mean
 * microseconds per request.
 *
 *   http_loop N
 *   http_loop N PORT PATH [new]
 *
 * The first form also prints the process's peak RSS (VmHWM): bench/suite.sh
 * reads it for the memory a full span queue takes.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static const char request[] =
	"GET /index.html?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: http_loop/1\r\n"
	"Accept: */*\r\n\r\n";
static const char head[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 64\r\n\r\n";
static const char body[64] = "0123456789012345678901234567890123456789012345678901234567890123";

static long n;
static int lfd;

/* Reads until the end of a head (and `extra` body bytes); the buffer keeps the stream. */
static int read_message(int fd, size_t extra)
{
	char buf[4096];
	size_t have = 0;
	char *end;

	for (;;) {
		ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);

		if (r <= 0)
			return -1;
		have += (size_t)r;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end && have >= (size_t)(end + 4 - buf) + extra)
			return 0;
	}
}

/* Reads one response whose body has a Content-Length, of any size. */
static int read_response(int fd)
{
	char buf[4096];
	size_t have = 0, got = 0, need = 0;

	for (;;) {
		ssize_t r;

		if (need && got >= need)
			return 0;
		if (have == sizeof buf - 1) {
			if (!need)
				return -1;
			have = 0;
		}
		r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
		if (r <= 0)
			return -1;
		have += (size_t)r;
		got += (size_t)r;
		buf[have] = '\0';
		if (!need) {
			char *end = strstr(buf, "\r\n\r\n"), *cl = strstr(buf, "\r\nContent-Length:");

			if (end && !cl)
				return -1;
			if (end)
				need = (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10);
		}
	}
}

static int client(long count, int port, const char *path, int fresh)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	char req[512];
	int len = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				 "User-Agent: http_loop/1\r\nAccept: */*\r\n\r\n", path, port);
	struct timespec t0, t1;
	int c = -1;

	if (len <= 0 || (size_t)len >= sizeof req)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < count; i++) {
		if (c < 0 && ((c = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
			      connect(c, (struct sockaddr *)&a, sizeof a))) {
			perror("http_loop: connect");
			return 1;
		}
		if (send(c, req, (size_t)len, 0) != len || read_response(c) < 0) {
			fprintf(stderr, "http_loop: request %ld failed\n", i);
			return 1;
		}
		if (fresh) {
			close(c);
			c = -1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (c >= 0)
		close(c);
	printf("%.2f us/request (%ld requests, %s)\n",
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 /
		       (double)count,
	       count, fresh ? "a new connection each" : "keep-alive");
	return 0;
}

/* VmHWM of /proc/self/status in kB, -1 when it cannot be read. */
static long peak_rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void *server(void *arg)
{
	int c = accept(lfd, NULL, NULL);
	struct iovec v[2] = { { (void *)head, sizeof head - 1 }, { (void *)body, sizeof body } };

	(void)arg;
	for (long i = 0; i < n; i++) {
		if (read_message(c, 0) < 0 || writev(c, v, 2) != (ssize_t)(sizeof head - 1 + sizeof body))
			exit(2);
	}
	close(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof a;
	pthread_t t;
	int c;

	n = argc > 1 ? atol(argv[1]) : 1000;
	if (argc > 3)
		return client(n, atoi(argv[2]), argv[3], argc > 4 && strcmp(argv[4], "new") == 0);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 1) ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen))
		return 1;
	pthread_create(&t, NULL, server, NULL);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof a))
		return 1;
	for (long i = 0; i < n; i++) {
		if (send(c, request, sizeof request - 1, 0) != (ssize_t)(sizeof request - 1) ||
		    read_message(c, sizeof body) < 0)
			return 2;
	}
	close(c);
	pthread_join(t, NULL);
	printf("%ld exchanges, peak RSS %ld kB\n", n, peak_rss_kb());
	return 0;
}
