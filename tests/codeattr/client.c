/*
 * The application whose call sites code attributes must name
 * (tests/codeattr/codeattr.sh): one HTTP GET to 127.0.0.1:PORT, made by
 * fetch_inventory() with plain send()/recv(), or by fetch_with_curl()
 * with curl_easy_perform(). codeattr.sh finds the lines of the two calls
 * by their CALL-SITE comments, so they must stay on the lines of the calls.
 *
 *   client plain|curl|closeall PORT
 *
 * Prints the response's status line (plain) or code (curl), exits 0 when
 * it was 200. closeall: fetch_inventory(), then, as a daemon does, close
 * every descriptor above 2 and open two pipes of its own (which take the
 * lowest numbers, those of anything a library opened before), and
 * fetch_inventory() again; then checks that nobody else read from or
 * wrote to its pipes.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

/* noinline: each must stay a frame of its own at -O2 too. */
__attribute__((noinline)) int fetch_inventory(int port);
__attribute__((noinline)) int fetch_with_curl(int port);

int fetch_inventory(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[128], resp[4096];
	size_t got = 0;
	ssize_t r;
	int fd, n;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		return -1;
	n = snprintf(req, sizeof req, "GET /inventory.txt HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", port);
	if (send(fd, req, (size_t)n, 0) != n) /* CALL-SITE plain */
		return -1;
	while (got < sizeof resp - 1 && (r = recv(fd, resp + got, sizeof resp - 1 - got, 0)) > 0)
		got += (size_t)r;
	resp[got] = '\0';
	close(fd);
	printf("%.*s\n", (int)strcspn(resp, "\r\n"), resp);
	return strncmp(resp, "HTTP/1.0 200", 12) ? -1 : 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

int fetch_with_curl(int port)
{
	char url[64];
	long code = 0;
	CURLcode rc;
	CURL *c = curl_easy_init();

	if (!c)
		return -1;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/inventory.txt", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	rc = curl_easy_perform(c); /* CALL-SITE curl */
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	printf("%ld\n", code);
	return rc == CURLE_OK && code == 200 ? 0 : -1;
}

/* The pipe passes one byte, and held none before. */
static int pipe_clean(const int p[2])
{
	char c = 'x';

	if (read(p[0], &c, 1) != -1 || errno != EAGAIN)
		return 0;
	return write(p[1], "y", 1) == 1 && read(p[0], &c, 1) == 1 && c == 'y';
}

/*
 * On a thread of its own, a call path not seen before: the unwinder
 * cannot answer from its caches (libunwind's remembers the last pages it
 * found readable, per thread).
 */
__attribute__((noinline)) static void *refetch(void *port)
{
	int rc = fetch_inventory(*(int *)port);

	return rc ? NULL : port;
}

static int close_all_then_fetch(int port)
{
	int p1[2], p2[2];
	pthread_t t;
	void *ok;

	if (fetch_inventory(port))
		return -1;
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	if (pipe2(p1, O_NONBLOCK) || pipe2(p2, O_NONBLOCK))
		return -1;
	if (pthread_create(&t, NULL, refetch, &port) || pthread_join(t, &ok) || !ok)
		return -1;
	if (!pipe_clean(p1) || !pipe_clean(p2)) {
		printf("pipes touched\n");
		return -1;
	}
	printf("pipes intact\n");
	return 0;
}

int main(int argc, char **argv)
{
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: client plain|curl|closeall PORT\n");
		return 2;
	}
	if (!strcmp(argv[1], "closeall"))
		rc = close_all_then_fetch(atoi(argv[2]));
	else
		rc = !strcmp(argv[1], "curl") ? fetch_with_curl(atoi(argv[2])) : fetch_inventory(atoi(argv[2]));
	/* Not a tail call: main stays on the stack below the fetch. */
	fflush(stdout);
	return rc ? 1 : 0;
}
