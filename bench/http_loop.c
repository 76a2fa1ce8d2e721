/*
 * N keep-alive HTTP/1.1 exchanges over one loopback TCP connection, client
 * and server in one process (two threads): the client send()s a request and
 * recv()s the response, the server recv()s the request and writev()s the
 * response. Run under callgrind with and without libotelpreload.so (both
 * ends are then traced: one CLIENT and one SERVER span per exchange), the
 * growth of the instruction count between two N is the per-exchange cost.
 *
 *   http_loop N
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
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
	printf("%ld exchanges\n", n);
	return 0;
}
