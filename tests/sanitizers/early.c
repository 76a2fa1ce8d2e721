/*
 * sanitizer-early.so: preloaded by the tests of a sanitizer build after
 * the sanitizer runtime and the library (sanitize.sh here), never shipped.
 * Two workarounds for gcc's runtimes preloaded into programs not built
 * with them.
 *
 * swift_demangle: a preloaded ASan or TSan runtime initialises itself on
 * the first call it intercepts, which can come from a host library's
 * constructor: p11-kit's (linked by curl and wget through GnuTLS) calls
 * newlocale(), whose malloc runs the initialisation while newlocale holds
 * glibc's locale lock. The initialisation looks up swift_demangle with dlsym
 * and clears the failure with dlerror(), which translates the message
 * through gettext; gettext read-locks the same lock, fails (this thread is
 * its writer), unlocks it anyway, and the host hangs in its next
 * setlocale(). With the symbol present the lookup succeeds and dlerror()
 * has nothing to translate. Returning NULL tells the runtime the name is
 * not a Swift one, so it falls back to its C++ demangler.
 *
 * UBSan's log_path: with -fsanitize=address,undefined gcc links two
 * runtimes, libasan and libubsan, each with its own copy of the report
 * file. libubsan applies UBSAN_OPTIONS' log_path by calling the exported
 * __sanitizer_set_report_path, which binds to libasan's copy, so UBSan's
 * reports would still go to the host's stderr. The constructor below calls
 * libubsan's own copy with that log_path. Being last in LD_PRELOAD, this
 * object is initialised before the library, so a report from the library's
 * constructor is caught too.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT char *swift_demangle(const char *name, size_t len, char *out, size_t *out_len,
			    uint32_t flags);

char *swift_demangle(const char *name, size_t len, char *out, size_t *out_len, uint32_t flags)
{
	return NULL;
}

/* The log_path value of UBSAN_OPTIONS (":"-separated, as sanitize.sh writes). */
static char log_path[4096];

__attribute__((constructor)) static void ubsan_log_path(void)
{
	int saved = errno;
	const char *opts = getenv("UBSAN_OPTIONS"), *p, *end;
	void (*set_path)(const char *);
	void *ubsan;
	size_t n;

	/* Lets a preloaded ASan/TSan runtime initialise here, with no lock held. */
	free(malloc(1));
	for (p = opts; p && (p = strstr(p, "log_path=")); p++)
		if (p == opts || p[-1] == ':')
			break;
	if (!p)
		goto out;
	p += strlen("log_path=");
	end = strchr(p, ':');
	n = end ? (size_t)(end - p) : strlen(p);
	if (n == 0 || n >= sizeof log_path)
		goto out;
	memcpy(log_path, p, n);
	ubsan = dlopen("libubsan.so.1", RTLD_LAZY | RTLD_NOLOAD);
	if (!ubsan)
		goto out;
	*(void **)&set_path = dlsym(ubsan, "__sanitizer_set_report_path");
	if (set_path)
		set_path(log_path);
	dlclose(ubsan);
out:
	errno = saved;
}
