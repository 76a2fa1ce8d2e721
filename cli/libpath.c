#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libpath.h"

char *op_cli_dir(const char *argv0)
{
	char buf[PATH_MAX], *dir = NULL, *slash;
	ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);

	if (n > 0) {
		buf[n] = '\0';
		dir = strdup(buf);
	} else if (argv0 && strchr(argv0, '/')) {
		dir = realpath(argv0, NULL);
	}
	if (!dir)
		return NULL;
	slash = strrchr(dir, '/');
	if (!slash) {
		free(dir);
		return NULL;
	}
	/* "/prog" lives in "/", everything else loses its last component. */
	slash[slash == dir] = '\0';
	return dir;
}

bool op_cli_is_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *op_cli_find_library(const char *argv0, char *tried, size_t cap)
{
	const char *env = getenv("OTELPRELOAD_LIBRARY");
	char cand[2][PATH_MAX + 64], *dir, *found = NULL;
	const char *sep;
	int i;

	if (cap)
		tried[0] = '\0';
	if (env && *env) {
		snprintf(tried, cap, "%s (from OTELPRELOAD_LIBRARY)", env);
		return op_cli_is_regular(env) ? realpath(env, NULL) : NULL;
	}
	dir = op_cli_dir(argv0);
	if (!dir) {
		snprintf(tried, cap, "nothing (cannot locate this executable; set OTELPRELOAD_LIBRARY)");
		return NULL;
	}
	sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
	snprintf(cand[0], sizeof cand[0], "%s%s%s", dir, sep, OP_LIB_NAME);
	snprintf(cand[1], sizeof cand[1], "%s%s../%s/%s", dir, sep, OP_LIBDIR_REL, OP_LIB_NAME);
	free(dir);
	snprintf(tried, cap, "%s, %s", cand[0], cand[1]);
	for (i = 0; i < 2 && !found; i++)
		if (op_cli_is_regular(cand[i]))
			found = realpath(cand[i], NULL);
	return found;
}
