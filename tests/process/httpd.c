/*
 * httpd: the process suite's HTTP/1.1 server (hp.h), run untraced.
 *
 *   httpd PORT_FILE LIFETIME_S
 *
 * Listens on 127.0.0.1 (port chosen by the kernel, written to PORT_FILE),
 * serves every connection in a thread of its own with keep-alive, and
 * exits by itself after LIFETIME_S seconds. GET /__stats answers its
 * counters (connections, requests, with and without traceparent, bad
 * requests, idle connections) as JSON; bad requests are also described on
 * stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hp.h"

static struct hp_stats stats;

int main(int argc, char **argv)
{
	int port, lfd;
	FILE *f;
	char tmp[4096];

	if (argc != 3) {
		fprintf(stderr, "usage: httpd PORT_FILE LIFETIME_S\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = hp_listen(&port);
	if (lfd < 0 || hp_serve_background(lfd, &stats)) {
		perror("httpd: listen");
		return 1;
	}
	/* Written whole under another name, then renamed: readers never see half a number. */
	snprintf(tmp, sizeof tmp, "%s.tmp", argv[1]);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) || rename(tmp, argv[1])) {
		perror("httpd: port file");
		return 1;
	}
	sleep((unsigned)atoi(argv[2]));
	return 0;
}
