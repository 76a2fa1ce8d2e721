/*
 * Where the CLI finds the library it preloads, shared by `run` (which
 * exits when there is none) and `doctor` (which reports it).
 */
#ifndef OP_CLI_LIBPATH_H
#define OP_CLI_LIBPATH_H

#include <stdbool.h>
#include <stddef.h>

#define OP_LIB_NAME "libotelpreload.so"

/*
 * The directory holding this executable (heap), or NULL. /proc/self/exe
 * survives being run through a symlink in PATH (e.g. /usr/local/bin ->
 * /opt/...); argv[0] is the fallback where /proc is not mounted.
 */
char *op_cli_dir(const char *argv0);

/* True for an existing regular file (symlinks followed). */
bool op_cli_is_regular(const char *path);

/*
 * The library `run` preloads: $OTELPRELOAD_LIBRARY if set and not empty,
 * else libotelpreload.so next to this program, else
 * ../OP_LIBDIR_REL/libotelpreload.so relative to it. Returns its canonical
 * path (heap), or NULL; either way `tried` (of `cap` bytes) names the
 * paths looked at, for a message.
 */
char *op_cli_find_library(const char *argv0, char *tried, size_t cap);

#endif
