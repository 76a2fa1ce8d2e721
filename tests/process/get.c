/*
 * get: a plain HTTP client (hp.h), the program the process suite starts in
 * every way a process can be started: exec'd, vfork'd, spawned, linked
 * statically, made setuid.
 *
 *   get -p PORT [-P PREFIX] [-n N] [-x STATUS] [-v] [-m] [-- NEXT ARGS...]
 *
 * Makes N (default 1) GET requests for PREFIX/1 .. PREFIX/N (default
 * prefix /get), each on a connection of its own, and checks every answer
 * byte for byte. -v prints "get pid=<pid> prefix=<PREFIX> ok=<n>"; -m
 * prints "get copies=<libotelpreload files mapped> preload=<LD_PRELOAD>"
 * ("-" when unset). Then it execs NEXT if given (127 if that fails), else
 * exits with STATUS (default 0). A wrong answer is described on stderr and
 * gives status 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hp.h"

int main(int argc, char **argv)
{
	const char *prefix = "/get";
	int port = 0, n = 1, status = 0, verbose = 0, maps = 0, c, ok = 0;
	char path[1024], why[256];

	while ((c = getopt(argc, argv, "+p:P:n:x:vm")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'P': prefix = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'x': status = atoi(optarg); break;
		case 'v': verbose = 1; break;
		case 'm': maps = 1; break;
		default:
			fprintf(stderr, "usage: get -p PORT [-P PREFIX] [-n N] [-x STATUS] [-v] [-m] [-- NEXT...]\n");
			return 2;
		}
	}
	if (port <= 0) {
		fprintf(stderr, "get: -p PORT is required\n");
		return 2;
	}
	for (int i = 1; i <= n; i++) {
		snprintf(path, sizeof path, "%s/%d", prefix, i);
		if (hp_get(port, path, why, sizeof why)) {
			fprintf(stderr, "get: %s\n", why);
			return 1;
		}
		ok++;
	}
	if (verbose)
		printf("get pid=%ld prefix=%s ok=%d\n", (long)getpid(), prefix, ok);
	if (maps) {
		const char *pre = getenv("LD_PRELOAD");

		printf("get copies=%d preload=%s\n", hp_library_copies(), pre && *pre ? pre : "-");
	}
	fflush(stdout);
	if (optind < argc) {
		execvp(argv[optind], argv + optind);
		perror("get: exec");
		return 127;
	}
	return status;
}
