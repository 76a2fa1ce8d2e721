/*
 * netns: a program that moves into a network namespace of its own before
 * any network use, then serves and makes HTTP requests over that
 * namespace's loopback.
 *
 *   netns -m net|user [-n REQS]
 *
 * net: unshare(CLONE_NEWNET); user: unshare(CLONE_NEWUSER | CLONE_NEWNET),
 * which the kernel refuses (EINVAL) to a process with more than one
 * thread. Prints "unshare=ok" or "unshare=<errno name>" and in the latter
 * case exits 3. Then it brings up lo, listens on 127.0.0.1, serves in a
 * thread of its own (hp.h) and makes REQS (default 10) requests: half on
 * connections of their own, half with bodies on one kept-alive connection,
 * every answer checked. Prints "netns ok=<answers right> reqs=<served>"
 * and "traceparents=<requests that carried one>", and exits 0 if all were
 * right, 1 if not.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hp.h"

static struct hp_stats stats;

static int lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	const char *mode = NULL;
	int n = 10, c, flags, port, lfd, ok = 0, fd;
	char path[64], why[256];

	while ((c = getopt(argc, argv, "m:n:")) != -1) {
		switch (c) {
		case 'm': mode = optarg; break;
		case 'n': n = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: netns -m net|user [-n REQS]\n");
			return 2;
		}
	}
	if (!mode || (strcmp(mode, "net") && strcmp(mode, "user"))) {
		fprintf(stderr, "netns: -m net or -m user\n");
		return 2;
	}
	flags = CLONE_NEWNET | (!strcmp(mode, "user") ? CLONE_NEWUSER : 0);
	if (unshare(flags)) {
		printf("unshare=%s\n", strerrorname_np(errno));
		return 3;
	}
	printf("unshare=ok\n");
	fflush(stdout);
	if (lo_up()) {
		perror("netns: bringing lo up");
		return 4;
	}
	lfd = hp_listen(&port);
	if (lfd < 0 || hp_serve_background(lfd, &stats)) {
		perror("netns: listen");
		return 4;
	}
	for (int i = 1; i <= n / 2; i++) {
		snprintf(path, sizeof path, "/ns/one/%d", i);
		if (hp_get(port, path, why, sizeof why) == 0)
			ok++;
		else
			fprintf(stderr, "netns: %s\n", why);
	}
	fd = hp_connect(port);
	for (int i = 1; fd >= 0 && i <= n - n / 2; i++) {
		snprintf(path, sizeof path, "/ns/ka/%d", i);
		if (hp_request(fd, path, (size_t)i * 1000, (enum hp_io)(i % HP_IO_COUNT), NULL, why, sizeof why) == 0)
			ok++;
		else
			fprintf(stderr, "netns: %s\n", why);
	}
	if (fd >= 0)
		close(fd);
	printf("netns ok=%d reqs=%ld\n", ok, (long)atomic_load(&stats.reqs));
	printf("traceparents=%ld\n", (long)atomic_load(&stats.tp1));
	return ok == n ? 0 : 1;
}
