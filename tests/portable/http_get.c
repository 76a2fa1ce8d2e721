/*
 * The smallest traced program: one HTTP/1.1 GET over a plain socket,
 * written to stdout (status line, head and body). Built once per C library
 * (gcc and musl-gcc) so that the same request can be made by a glibc and a
 * musl process, inside a root filesystem that holds nothing but the
 * program, its C library and otelpreload.
 *
 *   http_get IPV4 PORT PATH    exit 0 on a 200 answer
 *   http_get --maps            the otelpreload objects mapped in this
 *                              process, one path a line
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Which build the dynamic linker chose: the paths /proc/self/maps shows. */
static int maps(void)
{
	char line[4096], last[4096] = "";
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f) {
		perror("http_get: /proc/self/maps");
		return 1;
	}
	while (fgets(line, sizeof line, f)) {
		char *path = strchr(line, '/');

		if (!path || !strstr(path, "libotelpreload") || !strcmp(path, last))
			continue;
		fputs(path, stdout);
		snprintf(last, sizeof last, "%s", path);
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	char req[512], buf[4096], status[64] = "";
	size_t got = 0;
	ssize_t n;
	int fd, len;

	if (argc == 2 && !strcmp(argv[1], "--maps"))
		return maps();
	if (argc != 4 || inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
		fprintf(stderr, "usage: http_get IPV4 PORT PATH\n");
		return 2;
	}
	a.sin_port = htons((unsigned short)atoi(argv[2]));
	len = snprintf(req, sizeof req,
		       "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: http_get\r\n"
		       "Connection: close\r\n\r\n", argv[3], argv[1], argv[2]);
	if (len <= 0 || (size_t)len >= sizeof req)
		return 2;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		perror("http_get: connect");
		return 1;
	}
	if (write(fd, req, (size_t)len) != len) {
		perror("http_get: write");
		return 1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0) {
		if (got < sizeof status - 1) {
			size_t k = sizeof status - 1 - got < (size_t)n ? sizeof status - 1 - got : (size_t)n;
			memcpy(status + got, buf, k);
			got += k;
		}
		fwrite(buf, 1, (size_t)n, stdout);
	}
	close(fd);
	return strncmp(status, "HTTP/1.1 200", 12) ? 1 : 0;
}
