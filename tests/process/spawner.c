/*
 * spawner: starts children every way libc offers short of fork(), while a
 * thread of its own keeps making requests.
 *
 *   spawner -p PORT -g GET [-c CURL]
 *
 * In order: a request (/s/before/1); vfork() + execv of GET (/s/vfork);
 * vfork() + _exit(7) with no exec; posix_spawn of GET (/s/spawn);
 * posix_spawnp of CURL, if given (/s/curl/1); system() running GET through
 * /bin/sh (/s/system); popen() of GET, its output read back (/s/popen); a
 * last request (/s/after/1). GET is tests/process/get.c, run with -v so it
 * names its pid. A thread makes requests (/s/bg/<n>, at most 300, one
 * every 5 ms) the whole time.
 * Prints "step name=<step> pid=<child pid> status=<exit status|sigN>" per
 * child, GET's own lines (the popen one prefixed "popen:") and finally
 * "spawner pid=<pid> bg=<requests of the thread>". Exits 0 when every
 * answer was right, whatever the children's statuses.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hp.h"

extern char **environ;

static int port;
static const char *get, *curl;
static char ports[16];
static _Atomic int stop;
static _Atomic long bg_reqs, errors;

static void *background(void *arg)
{
	char path[64], why[256];
	long n = 0;

	(void)arg;
	while (!stop && n < 300) {
		snprintf(path, sizeof path, "/s/bg/%ld", ++n);
		if (hp_get(port, path, why, sizeof why)) {
			fprintf(stderr, "spawner: %s\n", why);
			errors++;
			return NULL;
		}
		bg_reqs++;
		usleep(5000);
	}
	return NULL;
}

static void report(const char *name, pid_t pid, int st)
{
	char s[32];

	if (pid < 0)
		snprintf(s, sizeof s, "failed");
	else if (WIFEXITED(st))
		snprintf(s, sizeof s, "%d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(s, sizeof s, "sig%d", WTERMSIG(st));
	else
		snprintf(s, sizeof s, "?");
	printf("step name=%s pid=%ld status=%s\n", name, (long)pid, s);
	fflush(stdout);
}

static int wait_for(pid_t pid)
{
	int st = -1;

	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

static void one_get(const char *path)
{
	char why[256];

	if (hp_get(port, path, why, sizeof why)) {
		fprintf(stderr, "spawner: %s\n", why);
		errors++;
	}
}

/* vfork + exec: the child borrows our memory and stack until execv. */
static void vfork_exec(void)
{
	char *args[] = { "get", "-v", "-p", ports, "-P", "/s/vfork", "-n", "2", NULL };
	pid_t pid;

	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		execv(get, args);
		_exit(127);
	}
	report("vfork-exec", pid, pid > 0 ? wait_for(pid) : -1);
}

/* vfork + _exit: otelpreload's _exit runs in a child that shares our memory. */
static void vfork_exit(void)
{
	pid_t pid = vfork();

	if (pid == 0)
		_exit(7);
	report("vfork-exit", pid, pid > 0 ? wait_for(pid) : -1);
}

int main(int argc, char **argv)
{
	char url[128], cmd[4096], line[512];
	pthread_t bg;
	pid_t pid;
	int c, st;
	FILE *p;

	while ((c = getopt(argc, argv, "p:g:c:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 'g': get = optarg; break;
		case 'c': curl = optarg; break;
		default:
			fprintf(stderr, "usage: spawner -p PORT -g GET [-c CURL]\n");
			return 2;
		}
	}
	if (port <= 0 || !get) {
		fprintf(stderr, "spawner: -p and -g are required\n");
		return 2;
	}
	snprintf(ports, sizeof ports, "%d", port);
	one_get("/s/before/1");
	if (pthread_create(&bg, NULL, background, NULL)) {
		fprintf(stderr, "spawner: pthread_create failed\n");
		return 1;
	}

	vfork_exec();
	vfork_exit();

	{
		char *args[] = { "get", "-v", "-p", ports, "-P", "/s/spawn", "-n", "2", NULL };
		int rc;

		fflush(stdout);
		rc = posix_spawn(&pid, get, NULL, NULL, args, environ);
		report("spawn", rc ? -1 : pid, rc ? -1 : wait_for(pid));
	}

	if (curl) {
		char *args[] = { "curl", "-sS", "--noproxy", "*", "-o", "/dev/null", url, NULL };
		int rc;

		snprintf(url, sizeof url, "http://127.0.0.1:%d/s/curl/1", port);
		rc = posix_spawnp(&pid, curl, NULL, NULL, args, environ);
		report("spawnp-curl", rc ? -1 : pid, rc ? -1 : wait_for(pid));
	}

	snprintf(cmd, sizeof cmd, "'%s' -v -p %d -P /s/system -n 2", get, port);
	fflush(stdout);
	st = system(cmd);
	report("system", 0, st);

	snprintf(cmd, sizeof cmd, "'%s' -v -p %d -P /s/popen -n 2", get, port);
	p = popen(cmd, "r");
	if (!p) {
		report("popen", -1, -1);
	} else {
		while (fgets(line, sizeof line, p))
			printf("popen: %s", line);
		report("popen", 0, pclose(p));
	}

	stop = 1;
	pthread_join(bg, NULL);
	one_get("/s/after/1");
	printf("spawner pid=%ld bg=%ld\n", (long)getpid(), (long)bg_reqs);
	return errors ? 1 : 0;
}
