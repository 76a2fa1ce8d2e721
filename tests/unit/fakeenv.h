/*
 * A fake environment for op_config_parse()'s injectable getenv, and a way
 * to capture what the library writes to stderr (its warnings go straight
 * to fd 2 through the write system call).
 */
#ifndef OP_TEST_FAKEENV_H
#define OP_TEST_FAKEENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAKE_ENV_MAX 64

static const char *fake_env[FAKE_ENV_MAX][2];
static int fake_env_n;

static inline void env_reset(void)
{
	fake_env_n = 0;
}

static inline void env_set(const char *name, const char *value)
{
	int i;

	for (i = 0; i < fake_env_n; i++)
		if (!strcmp(fake_env[i][0], name)) {
			fake_env[i][1] = value;
			return;
		}
	if (fake_env_n == FAKE_ENV_MAX)
		abort();
	fake_env[fake_env_n][0] = name;
	fake_env[fake_env_n][1] = value;
	fake_env_n++;
}

static inline const char *fake_getenv(const char *name)
{
	int i;

	for (i = 0; i < fake_env_n; i++)
		if (!strcmp(fake_env[i][0], name))
			return fake_env[i][1];
	return NULL;
}

/* Redirects fd 2 into a temporary file until capture_end(). */
static int capture_saved_fd = -1;
static FILE *capture_file;

static inline void capture_begin(void)
{
	fflush(stderr);
	capture_file = tmpfile();
	if (!capture_file)
		abort();
	capture_saved_fd = dup(2);
	if (capture_saved_fd < 0 || dup2(fileno(capture_file), 2) < 0)
		abort();
}

/* Restores fd 2 and returns what was written meanwhile (static buffer). */
static inline const char *capture_end(void)
{
	static char buf[16384];
	size_t n;

	fflush(stderr);
	dup2(capture_saved_fd, 2);
	close(capture_saved_fd);
	rewind(capture_file);
	n = fread(buf, 1, sizeof buf - 1, capture_file);
	buf[n] = '\0';
	fclose(capture_file);
	return buf;
}

static inline int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#endif
