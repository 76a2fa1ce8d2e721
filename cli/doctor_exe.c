/*
 * otelpreload doctor: the executable and the library. The command is
 * resolved as execvp and the kernel would run it (PATH, #! lines), its ELF
 * headers read (elfinfo.c), and what they say compared with the library
 * `run` would preload: how it is linked, Go, architecture, C library,
 * privilege bits, TLS libraries.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "doctor_checks.h"

/* The kernel follows #! interpreters this deep (BINPRM_MAX_RECURSION). */
#define MAX_SCRIPT_DEPTH 4
/* Bytes of a #! line the kernel reads (BINPRM_BUF_SIZE since Linux 5.1). */
#define SHEBANG_MAX 256

static const char *const libc_names[] = { "unknown", "glibc", "musl" };

/*
 * A portable copy for `flavour` ("musl", "glibc"): beside the library in
 * build/dist (dist/glibc/.. -> dist/musl), or build/dist next to the CLI.
 * Returns a heap path or NULL.
 */
static char *find_copy(const struct doctor *d, const char *flavour)
{
	char *dir = op_cli_dir(d->argv0), *cand[3] = { 0 }, *found = NULL;
	char libdir[PATH_MAX];

	snprintf(libdir, sizeof libdir, "%s", d->lib ? d->lib : "");
	if (strrchr(libdir, '/'))
		*strrchr(libdir, '/') = '\0';
	if (d->lib)
		cand[0] = op_doc_fmt("%s/../%s/%s", libdir, flavour, LIB_NAME);
	if (d->lib)
		cand[1] = op_doc_fmt("%s/dist/%s/%s", libdir, flavour, LIB_NAME);
	if (dir)
		cand[2] = op_doc_fmt("%s/dist/%s/%s", dir, flavour, LIB_NAME);
	for (int i = 0; i < 3; i++) {
		if (!found && cand[i] && is_regular(cand[i]))
			found = realpath(cand[i], NULL);
		free(cand[i]);
	}
	free(dir);
	return found;
}

static char *copy_remedy(const struct doctor *d, const char *flavour)
{
	char *copy = find_copy(d, flavour), *r;

	if (copy)
		r = op_doc_fmt("preload the %s build: OTELPRELOAD_LIBRARY=%s", flavour, copy);
	else
		r = op_doc_fmt("preload a %s build of the library (build/dist/%s/" LIB_NAME
			", made by cmake -DOTELPRELOAD_PORTABLE=ON) with "
			"OTELPRELOAD_LIBRARY", flavour, flavour);
	free(copy);
	return r;
}

/*
 * execvp's search: a name with a '/' is used as is; otherwise each PATH
 * entry in turn (an empty one is the current directory; PATH unset is
 * confstr(_CS_PATH)), the first executable regular file wins.
 */
static bool resolve_in_path(const char *name, char *out, size_t cap, int *err)
{
	const char *path = getenv("PATH"), *p, *e;
	char def[256];

	*err = ENOENT;
	if (strchr(name, '/')) {
		snprintf(out, cap, "%s", name);
		if (access(out, X_OK) != 0) {
			*err = errno;
			return false;
		}
		return true;
	}
	if (!path) {
		if (confstr(_CS_PATH, def, sizeof def) == 0)
			snprintf(def, sizeof def, "/bin:/usr/bin");
		path = def;
	}
	for (p = path;; p = e + 1) {
		size_t len;

		e = strchr(p, ':');
		len = e ? (size_t)(e - p) : strlen(p);
		if (len == 0)
			snprintf(out, cap, "%s", name);
		else
			snprintf(out, cap, "%.*s/%s", (int)len, p, name);
		if (is_regular(out)) {
			if (access(out, X_OK) == 0)
				return true;
			*err = EACCES;
		}
		if (!e)
			break;
	}
	return false;
}

/*
 * The #! line of `path`, as the kernel splits it: the interpreter and at
 * most one argument (the rest of the line). Returns 1 for a script, 0 when
 * the file has no #!, -1 when it cannot be read.
 */
static int shebang(const char *path, char *interp, size_t icap, char *arg, size_t acap)
{
	char buf[SHEBANG_MAX + 1], *p, *end;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, SHEBANG_MAX);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	if (n < 2 || buf[0] != '#' || buf[1] != '!')
		return 0;
	end = buf + strcspn(buf, "\n");
	*end = '\0';
	for (p = buf + 2; *p == ' ' || *p == '\t'; p++)
		;
	snprintf(interp, icap, "%.*s", (int)strcspn(p, " \t"), p);
	p += strcspn(p, " \t");
	while (*p == ' ' || *p == '\t')
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	snprintf(arg, acap, "%s", p);
	return 1;
}

static bool is_elf(const char *path)
{
	unsigned char m[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool elf = fd >= 0 && read(fd, m, 4) == 4 && !memcmp(m, ELFMAG, SELFMAG);

	if (fd >= 0)
		close(fd);
	return elf;
}

/*
 * Resolves d->cmd to the executable that will really run: through PATH,
 * then through #! lines (with /usr/bin/env's own PATH search), and a
 * file without #! through /bin/sh as glibc's execvp runs it. Returns false
 * after a cannot-trace finding when there is nothing to run.
 */
bool op_doc_resolve_command(struct doctor *d)
{
	char path[PATH_MAX], interp[PATH_MAX], arg[SHEBANG_MAX];
	int err;

	if (!resolve_in_path(d->cmd, path, sizeof path, &err)) {
		op_doc_add(d, "program", V_CANNOT, "check the name, or give a path", "%s: %s%s",
		           d->cmd, strerror(err),
		           strchr(d->cmd, '/') ? "" : " (searched PATH as execvp does)");
		return false;
	}
	for (int depth = 0;; depth++) {
		int s;

		if (is_elf(path))
			break;
		if (depth == MAX_SCRIPT_DEPTH) {
			op_doc_add(d, "script", V_CANNOT, NULL,
			           "%s: more than %d levels of #! interpreters; the kernel "
			           "refuses it", d->cmd, MAX_SCRIPT_DEPTH);
			return false;
		}
		s = shebang(path, interp, sizeof interp, arg, sizeof arg);
		if (s < 0) {
			op_doc_add(d, "program", V_CANNOT, NULL, "cannot read %s: %s", path,
			           strerror(errno));
			return false;
		}
		if (s == 0) {
			op_doc_add(d, "script", V_OK, NULL,
			           "%s is not ELF and has no #! line: execvp (which run uses) "
			           "hands it to /bin/sh; the checks below are for /bin/sh", path);
			snprintf(path, sizeof path, "/bin/sh");
			continue;
		}
		if (!strcmp(base_name(interp), "env") && arg[0]) {
			/* env -S "prog args": the program is the first word after the option. */
			const char *prog = arg;
			char name[SHEBANG_MAX], found[PATH_MAX];

			if (starts_with(prog, "-S"))
				for (prog += 2; *prog == ' ' || *prog == '\t'; prog++)
					;
			snprintf(name, sizeof name, "%.*s", (int)strcspn(prog, " \t"), prog);
			if (!name[0] || !resolve_in_path(name, found, sizeof found, &err)) {
				op_doc_add(d, "script", V_CANNOT, NULL,
				           "%s runs '%s %s', and %s is not in PATH", path, interp,
				           arg, name[0] ? name : "(nothing)");
				return false;
			}
			op_doc_add(d, "script", V_OK, NULL,
			           "%s is a script for %s (through %s); the checks below are for "
			           "%s", path, found, interp, found);
			snprintf(path, sizeof path, "%s", found);
		} else {
			if (!is_regular(interp)) {
				op_doc_add(d, "script", V_CANNOT, NULL,
				           "%s is a script for %s, which does not exist", path,
				           interp);
				return false;
			}
			op_doc_add(d, "script", V_OK, NULL,
			           "%s is a script for %s; the checks below are for %s (programs "
			           "it starts inherit LD_PRELOAD: check them too)", path, interp,
			           interp);
			snprintf(path, sizeof path, "%s", interp);
		}
	}
	if (!realpath(path, d->exe))
		snprintf(d->exe, sizeof d->exe, "%s", path);
	snprintf(d->exe_shown, sizeof d->exe_shown, "%s", path);
	return true;
}

static enum libc_kind program_libc(const struct op_elf *e)
{
	const char *ib = base_name(e->interp);

	if (e->has_interp && starts_with(ib, "ld-musl-"))
		return LIBC_MUSL;
	if (e->has_interp && (starts_with(ib, "ld-linux") || starts_with(ib, "ld64.so")))
		return LIBC_GLIBC;
	return op_elf_needs(e, "libc.musl-", NULL) ? LIBC_MUSL :
	       op_elf_needs(e, "libc.so.6", NULL) ? LIBC_GLIBC : LIBC_UNKNOWN;
}

static enum libc_kind library_libc(const struct op_elf *e)
{
	for (unsigned i = 0; i < e->n_needed; i++) {
		if (!strcmp(e->needed[i], "libc.so.6"))
			return LIBC_GLIBC;
		if (!strcmp(e->needed[i], "libc.so") || starts_with(e->needed[i], "libc.musl-"))
			return LIBC_MUSL;
	}
	return LIBC_UNKNOWN;
}

static void describe_elf(const struct op_elf *e, char *out, size_t cap)
{
	const char *m = op_elf_machine_name(e->machine);
	char mbuf[32];

	if (!m) {
		snprintf(mbuf, sizeof mbuf, "machine %u", e->machine);
		m = mbuf;
	}
	snprintf(out, cap, "ELF %d-bit %s%s %s", e->cls == ELFCLASS64 ? 64 : 32,
		 e->data == ELFDATA2MSB ? "big-endian " : "", m,
		 e->type == ET_EXEC ? "executable" : e->type == ET_DYN ?
		 (e->has_interp || e->pie ? "PIE executable" : "shared object") : "file");
}

const char op_doc_secure_exec_why[] =
	"the loader runs it in secure-execution mode (AT_SECURE): glibc's ignores LD_PRELOAD "
	"entries with a '/' and loads only set-user-ID libraries from the system directories, "
	"musl's ignores LD_PRELOAD altogether, and otelpreload turns itself into a "
	"pass-through under AT_SECURE anyway";

/* The set-user-ID, set-group-ID and capability bits, for the user running doctor. */
void op_doc_check_privileges(struct doctor *d)
{
	const char *remedy = "trace the programs it talks to instead, or run a copy without the "
			     "privilege bits if it works without them";
	struct stat st;
	struct statvfs vfs;
	unsigned char caps[64];
	ssize_t cn;
	bool nosuid, any = false;

	if (stat(d->exe, &st) != 0)
		return;
	nosuid = statvfs(d->exe, &vfs) == 0 && (vfs.f_flag & ST_NOSUID);
	if ((st.st_mode & (S_ISUID | S_ISGID)) && nosuid) {
		op_doc_add(d, "privileges", V_OK, NULL,
		           "set-user/group-ID bits are ignored: %s is on a nosuid mount", d->exe);
		return;
	}
	if (st.st_mode & S_ISUID) {
		struct passwd *pw = getpwuid(st.st_uid);
		char owner[64];

		any = true;
		if (pw)
			snprintf(owner, sizeof owner, "%s", pw->pw_name);
		else
			snprintf(owner, sizeof owner, "uid %u", (unsigned)st.st_uid);
		if (st.st_uid != getuid())
			op_doc_add(d, "privileges", V_CANNOT, remedy, "set-user-ID %s: %s", owner,
			           op_doc_secure_exec_why);
		else
			op_doc_add(d, "privileges", V_WARNING, NULL,
			           "set-user-ID %s, which is you: running it changes no identity, "
			           "so it is traced when you run it; any other user gets "
			           "secure-execution mode and no tracing", owner);
	}
	/* Without group execute permission S_ISGID means mandatory locking, not setgid. */
	if ((st.st_mode & (S_ISGID | S_IXGRP)) == (S_ISGID | S_IXGRP)) {
		any = true;
		if (st.st_gid != getgid())
			op_doc_add(d, "privileges", V_CANNOT, remedy, "set-group-ID (gid %u): %s",
			           (unsigned)st.st_gid, op_doc_secure_exec_why);
		else
			op_doc_add(d, "privileges", V_WARNING, NULL,
			           "set-group-ID to your own group: traced when you run it, not "
			           "for other users");
	}
	/*
	 * security.capability (struct vfs_cap_data): magic_etc, then the
	 * permitted and inheritable words. Capabilities that are granted make
	 * the exec secure for everyone but root, who has them all already.
	 */
	cn = getxattr(d->exe, "security.capability", caps, sizeof caps);
	if (cn >= 12) {
		uint32_t magic = (uint32_t)caps[0] | (uint32_t)caps[1] << 8 |
				 (uint32_t)caps[2] << 16 | (uint32_t)caps[3] << 24;
		bool granted = (magic & 1) != 0; /* VFS_CAP_FLAGS_EFFECTIVE */

		for (ssize_t i = 4; i < 8; i++)
			granted |= caps[i] != 0;
		if (cn >= 20)
			for (ssize_t i = 12; i < 16; i++)
				granted |= caps[i] != 0;
		if (granted) {
			any = true;
			if (getuid() != 0)
				op_doc_add(d, "privileges", V_CANNOT, remedy,
				           "file capabilities (security.capability): %s",
				           op_doc_secure_exec_why);
			else
				op_doc_add(d, "privileges", V_WARNING, NULL,
				           "file capabilities (security.capability): root gains "
				           "nothing from them, so it is traced when root runs "
				           "it; other users get secure-execution mode and no "
				           "tracing");
		}
	}
	if (!any)
		op_doc_add(d, "privileges", V_OK, NULL,
		           "not set-user-ID, set-group-ID, nor with file capabilities");
}

/* How the executable is linked, its Go-ness and its architecture against the library's. */
void op_doc_check_linking(struct doctor *d)
{
	const struct op_elf *e = &d->elf;
	const char *curl = NULL, *ssl = NULL;
	char what[128];

	describe_elf(e, what, sizeof what);
	if (e->err[0])
		op_doc_add(d, "program", V_WARNING, NULL, "%s: %s, partly unreadable: %s",
		           d->exe_shown, what, e->err);
	else
		op_doc_add(d, "program", V_OK, NULL, "%s: %s", d->exe_shown, what);
	if (e->type != ET_EXEC && e->type != ET_DYN) {
		op_doc_add(d, "linking", V_CANNOT, NULL, "not an executable ELF file (type %u)",
		           e->type);
		return;
	}
	if (!e->has_interp && e->type == ET_DYN)
		op_doc_add(d, "linking", V_CANNOT,
		           "trace the programs it talks to, or rebuild it dynamically linked",
		           "static-pie (no PT_INTERP): it relocates itself and never runs the "
		           "dynamic loader, which is what reads LD_PRELOAD");
	else if (!e->has_interp)
		op_doc_add(d, "linking", V_CANNOT,
		           "trace the programs it talks to, or rebuild it dynamically linked",
		           "statically linked (no PT_INTERP): the kernel starts it without the "
		           "dynamic loader, which is what reads LD_PRELOAD");
	else
		op_doc_add(d, "linking", V_OK, NULL, "dynamically linked, loader %s", e->interp);

	if (e->go) {
		char ver[64] = "";
		bool via_c = op_elf_needs(e, "libcurl", &curl) || op_elf_needs(e, "libssl", &ssl);

		if (e->go_version[0])
			snprintf(ver, sizeof ver, "%s, ", e->go_version);
		op_doc_add(d, "go", via_c && e->has_interp ? V_WARNING : V_CANNOT,
		           "instrument it with the OpenTelemetry Go SDK (otelhttp), or use eBPF "
		           "instrumentation (OpenTelemetry eBPF Instrumentation)",
		           "a Go program (%sfound by %s%s): Go makes its socket system calls "
		           "itself, never through libc, and does TLS in Go, so its HTTP is not "
		           "seen%s%s%s%s", ver, e->go,
		           e->go_cgo == 1 ? ", built with cgo" :
		           e->go_cgo == 0 ? ", built without cgo" : "",
		           e->go_cgo == 1 ? " (cgo uses libc for name lookups, not for sockets)" :
		           "",
		           via_c ? "; only what it does through cgo with " : "",
		           via_c ? (curl ? curl : ssl) : "", via_c ? " is seen" : "");
	}
}

/* Names defined by a C library, sorted for bsearch. */
struct names {
	char **v;
	size_t n, cap;
};

static void add_defined(void *arg, const char *name, bool defined, bool weak)
{
	struct names *s = arg;

	if (!defined)
		return;
	if (s->n == s->cap) {
		char **grown = realloc(s->v, (s->cap = s->cap ? 2 * s->cap : 1024) * sizeof *s->v);

		if (!grown)
			op_doc_oom();
		s->v = grown;
	}
	if (!(s->v[s->n++] = strdup(name)))
		op_doc_oom();
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct unresolved {
	const struct names *libc;
	char list[200];
	unsigned n;
};

static void find_unresolved(void *arg, const char *name, bool defined, bool weak)
{
	struct unresolved *u = arg;
	size_t len = strlen(u->list);

	if (defined || weak || bsearch(&name, u->libc->v, u->libc->n, sizeof *u->libc->v, cmp_name))
		return;
	if (u->n++ < 4)
		snprintf(u->list + len, sizeof u->list - len, "%s%s", len ? ", " : "", name);
}

/*
 * The library's strong undefined symbols that musl's libc (the program's
 * loader, `libc_path`) does not define: musl binds every symbol at start,
 * so one missing name stops the program before main. Returns the count
 * (-1 when either file cannot be read), the first few in u->list.
 */
static int musl_unresolved(const char *libc_path, const char *lib, struct unresolved *u)
{
	struct names libc = { 0 };
	int fd = open(libc_path, O_RDONLY | O_CLOEXEC), rc = -1;

	memset(u, 0, sizeof *u);
	if (fd >= 0 && op_elf_dynsyms(fd, add_defined, &libc) == 0 && libc.n) {
		int lfd = open(lib, O_RDONLY | O_CLOEXEC);

		qsort(libc.v, libc.n, sizeof *libc.v, cmp_name);
		u->libc = &libc;
		if (lfd >= 0 && op_elf_dynsyms(lfd, find_unresolved, u) == 0)
			rc = (int)u->n;
		if (lfd >= 0)
			close(lfd);
	}
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < libc.n; i++)
		free(libc.v[i]);
	free(libc.v);
	return rc;
}

void op_doc_check_arch_and_libc(struct doctor *d)
{
	const struct op_elf *p = &d->elf, *l = &d->lib_elf;
	enum libc_kind pk, lk;
	char *remedy;

	if (!d->lib || !d->lib_elf_ok || !p->has_interp)
		return;
	if (p->cls != l->cls || p->machine != l->machine || p->data != l->data) {
		char pw[128], lw[128];

		describe_elf(p, pw, sizeof pw);
		describe_elf(l, lw, sizeof lw);
		op_doc_add(d, "arch", V_CANNOT,
		           p->machine == EM_AARCH64 ?
		           "preload an aarch64 build (build/dist-aarch64, made by cmake "
		           "-DOTELPRELOAD_PORTABLE=ON) with OTELPRELOAD_LIBRARY" :
		           "preload a library built for the program's architecture with "
		           "OTELPRELOAD_LIBRARY",
		           "the program is %s, the library %s is %s: the loader skips it and the "
		           "program runs untraced", pw, d->lib, lw);
		return;
	}
	op_doc_add(d, "arch", V_OK, NULL, "the library %s matches (%s)", d->lib,
	           op_elf_machine_name(p->machine) ? op_elf_machine_name(p->machine) :
	           "same machine");

	pk = d->mapped_libc != LIBC_UNKNOWN ? d->mapped_libc : program_libc(p);
	lk = library_libc(l);
	if (pk == LIBC_UNKNOWN) {
		op_doc_add(d, "libc", V_WARNING, NULL,
		           "unknown C library (loader %s): the library is built for glibc or musl",
		           p->interp);
	} else if (lk == LIBC_UNKNOWN) {
		op_doc_add(d, "libc", V_WARNING, NULL,
		           "cannot tell which C library %s is built for", d->lib);
	} else if (pk == lk) {
		op_doc_add(d, "libc", V_OK, NULL, "%s program, %s library", libc_names[pk],
		           libc_names[lk]);
	} else if (pk == LIBC_GLIBC) {
		remedy = copy_remedy(d, "glibc");
		op_doc_add(d, "libc", V_CANNOT, remedy,
		           "glibc program, musl library: glibc's loader cannot load musl's "
		           "libc.so, and the program does not even start (exit status 127)");
		free(remedy);
	} else {
		/*
		 * musl's loader takes libc.so.6, libpthread.so.0 and libdl.so.2 as
		 * itself, so a glibc build is loaded; whether it starts depends on
		 * the symbols it needs, and what else it needs musl will not find.
		 */
		char exporter[PATH_MAX], missing[256] = "";
		struct unresolved u;
		struct op_elf ex;
		int fd, nu;

		nu = musl_unresolved(d->mapped_libc_path[0] ? d->mapped_libc_path : p->interp,
				     d->lib, &u);
		if (nu > 0) {
			remedy = copy_remedy(d, "musl");
			op_doc_add(d, "libc", V_CANNOT, remedy,
			           "musl program, glibc library: musl's libc has no %s%s, which "
			           "the library needs, so the program would not even start (exit "
			           "status 127)", u.list, nu > 4 ? " (and more)" : "");
			free(remedy);
			return;
		}

		snprintf(exporter, sizeof exporter, "%.*s/%s", (int)(strrchr(d->lib, '/') - d->lib),
			 d->lib, EXPORTER_NAME);
		fd = open(exporter, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && op_elf_read(fd, &ex) == 0) {
			static const char *const musl_self[] = {
				"libc.", "libpthread.", "librt.", "libm.", "libdl.", "libutil.",
				"libxnet.",
			};

			for (unsigned i = 0; i < ex.n_needed; i++) {
				bool self = false;

				for (size_t k = 0; k < sizeof musl_self / sizeof musl_self[0]; k++)
					self |= starts_with(ex.needed[i], musl_self[k]);
				if (!self)
					snprintf(missing + strlen(missing),
						 sizeof missing - strlen(missing), "%s%s",
						 missing[0] ? ", " : "", ex.needed[i]);
			}
		}
		if (fd >= 0)
			close(fd);
		remedy = copy_remedy(d, "musl");
		if (missing[0])
			op_doc_add(d, "libc", V_CANNOT, remedy,
			           "musl program, glibc library: the hooks load, but the exporter "
			           "module beside it needs %s, which musl's loader does not "
			           "provide: no span is ever exported", missing);
		else
			op_doc_add(d, "libc", V_WARNING, remedy,
			           "musl program, glibc library: a glibc build with its "
			           "dependencies bundled loads under musl, but it is built for "
			           "glibc's ABI and not supported there");
		free(remedy);
	}
}

/* What the library sees of HTTPS: the TLS and HTTP libraries the program links. */
void op_doc_check_tls(struct doctor *d)
{
	const struct op_elf *e = &d->elf;
	const char *curl = NULL, *ssl = NULL, *gnutls = NULL;
	char libs[200] = "";

	if (!e->has_interp || e->go)
		return;
	op_elf_needs(e, "libcurl", &curl);
	op_elf_needs(e, "libssl", &ssl);
	op_elf_needs(e, "libgnutls", &gnutls);
	snprintf(libs, sizeof libs, "%s%s%s%s%s", curl ? curl : "",
		 curl && (ssl || gnutls) ? ", " : "", ssl ? ssl : "", ssl && gnutls ? ", " : "",
		 gnutls ? gnutls : "");
	if (e->tls_symbol[0])
		op_doc_add(d, "tls", V_WARNING, NULL,
		           "the executable defines %s itself (a TLS or HTTP library linked in "
		           "statically): calls to it are bound at link time and not seen, so its "
		           "HTTPS is not traced; plain HTTP through libc sockets is%s%s",
		           e->tls_symbol, libs[0] ? "; so is what goes through " : "", libs);
	else if (libs[0])
		op_doc_add(d, "tls", V_OK, NULL,
		           "links %s: requests made through %s are seen, HTTPS included", libs,
		           curl && !ssl && !gnutls ? "it" : "them");
	else if (e->tls_marker[0])
		op_doc_add(d, "tls", V_WARNING, NULL,
		           "no TLS library among its DT_NEEDED, but its read-only data names %s "
		           "(a guess: a TLS stack built in): HTTPS through it would not be seen; "
		           "plain HTTP is", e->tls_marker);
	else
		op_doc_add(d, "tls", V_OK, NULL,
		           "links no TLS library (libssl, libgnutls, libcurl): plain HTTP over "
		           "libc sockets is seen; HTTPS only if it loads OpenSSL or GnuTLS at "
		           "run time (as Python's ssl module does)");
}
