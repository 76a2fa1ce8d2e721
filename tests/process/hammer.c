/*
 * hammer: many threads doing HTTP over a shared pool of kept-alive
 * connections, with the pool's fds closed and reopened under way.
 *
 *   hammer -p PORT [-t THREADS] [-n REQS] [-s SLOTS] [-r ONE_IN] [-c CHURNERS]
 *
 * THREADS threads (default 12) each make REQS requests (default 150,
 * /h/<thread>/<n>). A request takes a random slot of the pool (SLOTS,
 * default 6): it locks the slot, connects if it has no connection, and
 * sends the request on the slot's fd, written and read with a different
 * family of calls each time (write/read, send/recv, writev/readv,
 * sendmsg/recvmsg), with a body every fourth time; the answer is checked
 * byte for byte. One time in ONE_IN (default 8) it first replaces the
 * slot's connection: half of those by close() and a new connect() (which
 * may be handed a number another thread just freed), half by dup2() of a
 * new connection onto the slot's fd number. CHURNERS threads (default 2)
 * meanwhile open a connection, make one request (/h/churn<k>/<n>) and
 * close it, REQS times each, so fd numbers are freed and taken all the
 * time. Prints
 *   hammer requests=<right answers> errors=<wrong> conns=<connections opened>
 *          reconnects=<close + connect> dup2s=<dup2 replacements>
 * and exits 0 when every answer was right.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hp.h"

#define MAX_SLOTS 64
#define MAX_THREADS 128

struct slot {
	pthread_mutex_t lock;   /* held for the whole of a request on fd */
	int fd;                 /* -1: no connection */
};

static struct slot slots[MAX_SLOTS];
static int port, nslots = 6, reqs = 150, one_in = 8;
static _Atomic long ok, errors, conns, reconnects, dup2s;

static void problem(const char *what)
{
	fprintf(stderr, "hammer: %s\n", what);
	errors++;
}

static int connect_counted(void)
{
	int fd = hp_connect(port);

	if (fd < 0)
		problem("cannot connect");
	else
		conns++;
	return fd;
}

/* Replaces the slot's connection; the slot is locked. */
static void replace(struct slot *s, unsigned r)
{
	if (r % 2) {
		close(s->fd);
		s->fd = connect_counted();
		reconnects++;
	} else {
		int nfd = connect_counted();

		if (nfd < 0)
			return;
		if (dup2(nfd, s->fd) < 0) {
			problem("dup2 failed");
			close(nfd);
			return;
		}
		close(nfd);
		dup2s++;
	}
}

static void *worker(void *arg)
{
	int t = (int)(long)arg;
	unsigned seed = (unsigned)t * 2654435761u + 1;
	char path[64], why[256];

	for (int j = 1; j <= reqs; j++) {
		unsigned r = (unsigned)rand_r(&seed);
		struct slot *s = &slots[r % (unsigned)nslots];
		size_t body = j % 4 == 0 ? (size_t)((t * 131 + j * 37) % 20000) : 0;

		snprintf(path, sizeof path, "/h/%d/%d", t, j);
		pthread_mutex_lock(&s->lock);
		if (s->fd >= 0 && (r >> 8) % (unsigned)one_in == 0)
			replace(s, r >> 16);
		if (s->fd < 0)
			s->fd = connect_counted();
		if (s->fd >= 0) {
			if (hp_request(s->fd, path, body, (enum hp_io)((t + j) % HP_IO_COUNT), NULL,
				       why, sizeof why) == 0) {
				ok++;
			} else {
				problem(why);
				close(s->fd);
				s->fd = -1;
			}
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static void *churner(void *arg)
{
	int k = (int)(long)arg;
	char path[64], why[256];

	for (int j = 1; j <= reqs; j++) {
		int fd = connect_counted();

		if (fd < 0)
			continue;
		snprintf(path, sizeof path, "/h/churn%d/%d", k, j);
		if (hp_request(fd, path, 0, (enum hp_io)(j % HP_IO_COUNT), NULL, why, sizeof why) == 0)
			ok++;
		else
			problem(why);
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = 12, churners = 2, c, n = 0;
	pthread_t th[MAX_THREADS];

	while ((c = getopt(argc, argv, "p:t:n:s:r:c:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 't': threads = atoi(optarg); break;
		case 'n': reqs = atoi(optarg); break;
		case 's': nslots = atoi(optarg); break;
		case 'r': one_in = atoi(optarg); break;
		case 'c': churners = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: hammer -p PORT [-t N] [-n N] [-s N] [-r N] [-c N]\n");
			return 2;
		}
	}
	if (port <= 0 || nslots < 1 || nslots > MAX_SLOTS || one_in < 1 ||
	    threads + churners > MAX_THREADS) {
		fprintf(stderr, "hammer: bad arguments\n");
		return 2;
	}
	for (int i = 0; i < nslots; i++) {
		pthread_mutex_init(&slots[i].lock, NULL);
		slots[i].fd = -1;
	}
	for (int t = 0; t < threads; t++)
		if (pthread_create(&th[n++], NULL, worker, (void *)(long)t))
			return 1;
	for (int k = 0; k < churners; k++)
		if (pthread_create(&th[n++], NULL, churner, (void *)(long)k))
			return 1;
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < nslots; i++)
		if (slots[i].fd >= 0)
			close(slots[i].fd);
	printf("hammer requests=%ld errors=%ld conns=%ld reconnects=%ld dup2s=%ld\n", (long)ok,
	       (long)errors, (long)conns, (long)reconnects, (long)dup2s);
	return errors ? 1 : 0;
}
