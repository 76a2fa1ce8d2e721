/*
 * Start-up cost of a program with and without a preloaded library, measured
 * in pairs: every round starts the program once plain, once through the
 * same environment without the library and once with it, in an order that
 * rotates from round to round, so the variants see the same machine state
 * (a shared VM drifts by tens of percent within a minute; hyperfine's
 * variant-after-variant runs then measure the drift). Each start is timed
 * from posix_spawn() to waitpid(), on CLOCK_MONOTONIC.
 *
 *   startup RUNS WARMUP LIBRARY OUT.json [PROGRAM]
 *
 * PROGRAM is /bin/true by default. OUT.json holds, per variant, every time
 * in seconds (hyperfine's "results" layout: command and times), and
 * "added", the with-minus-without difference of every round.
 */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

enum { PLAIN, WITHOUT, WITH, N_VARIANTS };

static const char *const names[N_VARIANTS] = { "plain", "without", "with" };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs `argv` with `envp` once; returns its wall time in seconds, or -1. */
static double run_once(char *const argv[], char *const envp[])
{
	pid_t pid;
	int status, err;
	double t0 = now_s();

	err = posix_spawn(&pid, argv[0], NULL, NULL, argv, envp);
	if (err) {
		fprintf(stderr, "startup: %s: %s\n", argv[0], strerror(err));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "startup: %s did not exit 0\n", argv[0]);
		return -1;
	}
	return now_s() - t0;
}

static void put_times(FILE *f, const char *name, const double *t, long n, int last)
{
	long i;

	fprintf(f, "    {\"command\": \"%s\", \"times\": [", name);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%.9f", i ? ", " : "", t[i]);
	fprintf(f, "]}%s\n", last ? "" : ",");
}

int main(int argc, char **argv)
{
	static char preload[4096];
	char *prog = argc > 5 ? argv[5] : "/bin/true";
	char *args[] = { prog, NULL };
	/* "without" differs from "plain" by one harmless variable, so the
	 * environment's size is the same in "with" and "without". */
	char *env_plain[] = { NULL };
	char *env_without[] = { "OTELPRELOAD_BENCH=1", NULL };
	char *env_with[] = { preload, NULL };
	char *const *envs[N_VARIANTS] = { env_plain, env_without, env_with };
	double *t[N_VARIANTS], *added;
	long runs, warmup, r, i;
	FILE *f;
	int v;

	if (argc < 5) {
		fprintf(stderr, "usage: startup RUNS WARMUP LIBRARY OUT.json [PROGRAM]\n");
		return 2;
	}
	runs = strtol(argv[1], NULL, 10);
	warmup = strtol(argv[2], NULL, 10);
	if (runs < 1 || warmup < 0 ||
	    snprintf(preload, sizeof preload, "LD_PRELOAD=%s", argv[3]) >= (int)sizeof preload)
		return 2;
	for (v = 0; v < N_VARIANTS; v++)
		if (!(t[v] = calloc((size_t)runs, sizeof(double))))
			return 1;
	if (!(added = calloc((size_t)runs, sizeof(double))))
		return 1;

	for (i = 0; i < warmup; i++)
		for (v = 0; v < N_VARIANTS; v++)
			if (run_once(args, envs[v]) < 0)
				return 1;
	for (r = 0; r < runs; r++) {
		for (i = 0; i < N_VARIANTS; i++) {
			v = (int)((r + i) % N_VARIANTS);
			if ((t[v][r] = run_once(args, envs[v])) < 0)
				return 1;
		}
		added[r] = t[WITH][r] - t[WITHOUT][r];
	}

	if (!(f = fopen(argv[4], "w"))) {
		perror(argv[4]);
		return 1;
	}
	fprintf(f, "{\n  \"program\": \"%s\",\n  \"results\": [\n", prog);
	for (v = 0; v < N_VARIANTS; v++)
		put_times(f, names[v], t[v], runs, v == N_VARIANTS - 1);
	fprintf(f, "  ],\n  \"added\": [");
	for (r = 0; r < runs; r++)
		fprintf(f, "%s%.9f", r ? ", " : "", added[r]);
	fprintf(f, "]\n}\n");
	return fclose(f) ? 1 : 0;
}
