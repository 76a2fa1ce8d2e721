#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "codeattr.h"
#include "config.h"
#include "dwarfline.h"
#include "elfimage.h"
#include "op.h"
#include "span.h"

/*
 * Frames captured: our own (the hook, the engine, the parser: about ten),
 * then whatever library the request went through, then the caller. In
 * `stack` mode, OP_CODE_STACK_FRAMES of the caller's on top.
 */
#define OP_CODE_CAPTURE_FUNCTION 32
#define OP_CODE_CAPTURE_STACK 64
#define OP_CODE_STACK_FRAMES 32
/* Bounds on what one span carries: a name, a path, the whole stack trace. */
#define OP_CODE_NAME_MAX 256
#define OP_CODE_PATH_MAX 512
#define OP_CODE_STACKTRACE_MAX 4096
/*
 * Addresses cached (a power of two); the table is emptied when it is three
 * quarters full. A program has a few call sites that make requests: this
 * is room for a great many.
 */
#define OP_CODE_IP_CACHE 4096
/* Modules kept open (mapped and indexed) at most; past it all are closed. */
#define OP_CODE_MODULES 256

/* ---- capture: the host thread ----------------------------------------------------------- */

typedef int (*backtrace_fn)(void **buf, int size);

/*
 * 0: not loaded, 1: a thread is loading it, 2: loaded (`unwinder` set, or
 * NULL for none). A thread finding 1 captures nothing rather than wait:
 * it may be a signal handler on the loading thread, and a forked child of
 * a loading parent resets 1 to 0 (op_code_atfork_child).
 */
static _Atomic int unwinder_state;
/* The unwinder in use; it changes once at most, from libunwind to `fallback`. */
static _Atomic(backtrace_fn) unwinder;
static backtrace_fn fallback;   /* backtrace() or libgcc's, if any; set before state 2 */

/*
 * libunwind's memory-validation pipe. On x86_64 libunwind checks that an
 * address is readable by writing a byte from it into a pipe it opens in
 * the process (O_CLOEXEC, the two lowest free numbers) and reading the
 * byte back. Those are numbers the host may later close (a daemon closing
 * every descriptor) and reuse: libunwind would then read from and write
 * to the host's own file or socket, and block on it. So its pipe is
 * identified when libunwind starts, checked (two fstat calls) before every
 * use, and at the first sign that it is gone libunwind is dropped for
 * good in favour of `fallback`. Written before state 2, read-only after.
 */
static int uw_pipe[2] = { -1, -1 };
static dev_t uw_pipe_dev;
static ino_t uw_pipe_ino;

/* libgcc's unwinder, driven through its callback. */
typedef int (*uw_callback)(void *ctx, void *arg);
static int (*uw_backtrace)(uw_callback cb, void *arg);
static uintptr_t (*uw_getip)(void *ctx);

struct uw_walk {
	void **buf;
	int n, max;
};

static int uw_step(void *ctx, void *arg)
{
	struct uw_walk *w = arg;

	if (w->n >= w->max)
		return 5;       /* _URC_END_OF_STACK */
	w->buf[w->n++] = (void *)uw_getip(ctx);
	return 0;           /* _URC_NO_REASON */
}

static int libgcc_backtrace(void **buf, int max)
{
	struct uw_walk w = { buf, 0, max };

	uw_backtrace(uw_step, &w);
	return w.n;
}

/* libunwind's entry point under the names its versions export. */
static backtrace_fn libunwind_backtrace(void *h)
{
	static const char *const names[] = {
		"unw_backtrace", "_ULx86_64_backtrace", "_ULaarch64_backtrace", "_ULarm_backtrace",
		"_ULx86_backtrace", "_ULppc64_backtrace", "_ULs390x_backtrace", "_ULriscv_backtrace",
	};
	void *fn;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if ((fn = dlsym(h, names[i])))
			return (backtrace_fn)fn;
	return NULL;
}

/* The lowest descriptor number at or above `from` that is not open, or -1. */
static int lowest_free(int from)
{
	for (int fd = from; fd < 65536; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			return fd;
	return -1;
}

/* `r` and `w` are still the two ends of libunwind's pipe. */
static bool uw_pipe_intact(void)
{
	struct stat r, w;

	return fstat(uw_pipe[0], &r) == 0 && fstat(uw_pipe[1], &w) == 0 && S_ISFIFO(r.st_mode) &&
	       r.st_ino == uw_pipe_ino && w.st_ino == uw_pipe_ino && r.st_dev == uw_pipe_dev &&
	       w.st_dev == uw_pipe_dev;
}

/*
 * Starts libunwind (its first call opens the pipe, if this libunwind has
 * one) and finds its pipe: the two numbers that were the lowest free ones
 * just before. True when libunwind may be used: no descriptor was taken,
 * or exactly the pipe we expect was. Anything else (another thread opened
 * a file at that moment) is ambiguous, and libunwind is not used.
 */
static bool start_libunwind(backtrace_fn fn)
{
	int a = lowest_free(0), b = a >= 0 ? lowest_free(a + 1) : -1;
	void *warm[2];
	struct stat r, w;

	(void)fn(warm, 2);
	if (a < 0 || b < 0)
		return false;
	if (fcntl(a, F_GETFD) < 0 && fcntl(b, F_GETFD) < 0)
		return true;    /* no pipe in this libunwind */
	if (fstat(a, &r) || fstat(b, &w) || !S_ISFIFO(r.st_mode) || r.st_ino != w.st_ino ||
	    r.st_dev != w.st_dev || (fcntl(a, F_GETFL) & O_ACCMODE) != O_RDONLY ||
	    (fcntl(b, F_GETFL) & O_ACCMODE) != O_WRONLY)
		return false;
	uw_pipe[0] = a;
	uw_pipe[1] = b;
	uw_pipe_dev = r.st_dev;
	uw_pipe_ino = r.st_ino;
	return true;
}

/*
 * The first usable of libunwind, the C library's backtrace() and libgcc's
 * _Unwind_Backtrace, as OTELPRELOAD_CODE_UNWINDER allows. RTLD_LOCAL: the
 * _Unwind_* functions libunwind also defines must not replace libgcc's for
 * the host's exceptions.
 */
static void load_unwinder(void)
{
	enum op_code_unwinder want = op_cfg.code_unwinder;
	backtrace_fn unw = NULL;
	const char *which = "none";
	void *h, *fn;

	if (want == OP_UNWINDER_AUTO || want == OP_UNWINDER_BACKTRACE) {
		if ((fn = dlsym(RTLD_DEFAULT, "backtrace"))) {
			fallback = (backtrace_fn)fn;
			which = "backtrace()";
		}
	}
	if (!fallback && (want == OP_UNWINDER_AUTO || want == OP_UNWINDER_LIBGCC) &&
	    (h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL))) {
		uw_backtrace = (int (*)(uw_callback, void *))dlsym(h, "_Unwind_Backtrace");
		uw_getip = (uintptr_t (*)(void *))dlsym(h, "_Unwind_GetIP");
		if (uw_backtrace && uw_getip) {
			fallback = libgcc_backtrace;
			which = "libgcc";
		}
	}
	if (fallback) {
		void *warm[2];

		/* glibc's backtrace() loads libgcc_s on its first call: let that happen now. */
		(void)fallback(warm, 2);
	}
	if ((want == OP_UNWINDER_AUTO || want == OP_UNWINDER_LIBUNWIND) &&
	    (h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL)) && (unw = libunwind_backtrace(h))) {
		if (start_libunwind(unw))
			which = "libunwind";
		else
			unw = NULL;
	}
	atomic_store_explicit(&unwinder, unw ? unw : fallback, memory_order_relaxed);
	if (unw || fallback)
		op_debug("code attributes: stacks captured with %s", which);
	else
		op_debug("code attributes: no unwinder (libunwind.so.8, backtrace(), libgcc_s.so.1); "
			 "spans carry none");
}

/* The unwinder for this capture: libunwind only while its pipe is its own. */
static backtrace_fn current_unwinder(void)
{
	backtrace_fn fn = atomic_load_explicit(&unwinder, memory_order_relaxed);

	if (fn && fn != fallback && uw_pipe[0] >= 0 && !uw_pipe_intact()) {
		atomic_store_explicit(&unwinder, fallback, memory_order_relaxed);
		op_debug("code attributes: libunwind's descriptors %d and %d were closed by the "
			 "program; using %s from now on", uw_pipe[0], uw_pipe[1],
			 fallback ? "the C library's unwinder" : "no unwinder");
		return fallback;
	}
	return fn;
}

/* The loader's count of unloads: unchanged means every address still means the same. */
static int subs_cb(struct dl_phdr_info *i, size_t size, void *arg)
{
	*(unsigned long long *)arg =
		size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof i->dlpi_subs ? i->dlpi_subs : 0;
	return 1;
}

static unsigned long long loader_subs(void)
{
	unsigned long long subs = 0;

	dl_iterate_phdr(subs_cb, &subs);
	return subs;
}

void op_code_capture(struct op_span *s)
{
	void *buf[OP_CODE_CAPTURE_STACK];
	struct op_code_ips *c;
	int saved, state, n;
	backtrace_fn fn;

	if (OP_LIKELY(op_cfg.code_attributes == OP_CODE_OFF) || !op_span_sampled(s) || s->code)
		return;
	saved = errno;
	OP_GUARD_ENTER();
	state = atomic_load_explicit(&unwinder_state, memory_order_acquire);
	if (state == 0) {
		int expected = 0;

		if (atomic_compare_exchange_strong(&unwinder_state, &expected, 1)) {
			load_unwinder();
			atomic_store_explicit(&unwinder_state, 2, memory_order_release);
			state = 2;
		}
	}
	if (state == 2 && (fn = current_unwinder())) {
		unsigned long long subs = loader_subs();

		n = fn(buf, op_cfg.code_attributes == OP_CODE_STACK ? OP_CODE_CAPTURE_STACK :
			    OP_CODE_CAPTURE_FUNCTION);
		/* libgcc ends with the outermost frame's null return address. */
		for (int i = 0; i < n; i++)
			if ((uintptr_t)buf[i] < 4096) {
				n = i;
				break;
			}
		if (n > 0 && n <= OP_CODE_CAPTURE_STACK &&
		    (c = malloc(sizeof *c + (size_t)n * sizeof c->ip[0]))) {
			c->subs = subs;
			c->n = (unsigned)n;
			memcpy(c->ip, buf, (size_t)n * sizeof c->ip[0]);
			s->code = c;
		}
	}
	OP_GUARD_LEAVE();
	errno = saved;
}

/* ---- symbolisation: the exporter thread ----------------------------------------------------- */

enum module_class {
	MOD_APP,        /* the application's: where the request was made */
	MOD_LIB,        /* the C library, the loader, HTTP and TLS libraries */
	MOD_SELF,       /* otelpreload */
};

struct module {
	struct module *next;
	uintptr_t bias;                 /* dlpi_addr */
	char *path;                     /* the file read */
	char label[64];                 /* file name, for module+0xoffset */
	enum module_class cls;
	uint8_t build_id[OP_BUILD_ID_MAX];  /* of the loaded image, 0 bytes: none */
	uint8_t build_id_len;
	bool opened;                    /* the files below were looked for */
	bool have_elf, have_dbg, have_lines;
	struct op_elf elf, dbg;         /* the module's file and its separate debug file */
	struct op_dwarf_lines lines;
};

struct frame {
	uintptr_t ip;                   /* 0: free slot */
	struct module *m;               /* NULL: the address is in no module */
	bool resolved;
	char *func;                     /* sanitised, heap; NULL: unknown */
	char *file;
	uint32_t line;
	char *text;                     /* its code.stacktrace line, made on first use */
	size_t text_len;
};

/*
 * The caches. Only the exporter thread reads or writes them (op_code_annotate),
 * so they take no lock; a forked child abandons them (op_code_atfork_child).
 * They describe the loaded modules as of `cache_subs` unloads: any later
 * unload empties them.
 */
static struct frame *ipcache;       /* OP_CODE_IP_CACHE slots, open addressing */
static unsigned ipcache_used;
static struct module *modules;
static unsigned n_modules;
static unsigned long long cache_subs;
static bool warned_unloaded;

/* File names that mark a module as a library of the request's path, not the application. */
static const char *const lib_prefixes[] = {
	"libc.so", "libc-", "libc.musl", "ld-linux", "ld-musl", "ld64.so", "ld.so", "libpthread",
	"libdl.", "libdl-", "librt.", "libcurl", "libssl", "libcrypto", "libgnutls", "libnghttp2",
	"libotelpreload", "linux-vdso", "linux-gate", "libunwind", "libgcc_s",
	/* Sanitizer runtimes intercept the C library's calls: their frames are its. */
	"libasan", "libtsan", "libubsan", "liblsan", "libhwasan",
};

static enum module_class classify(const char *name)
{
	const char *base = strrchr(name, '/');

	base = base ? base + 1 : name;
	for (size_t i = 0; i < sizeof lib_prefixes / sizeof lib_prefixes[0]; i++)
		if (!strncmp(base, lib_prefixes[i], strlen(lib_prefixes[i])))
			return MOD_LIB;
	return MOD_APP;
}

struct find {
	uintptr_t ip;
	bool found, self;
	uintptr_t bias;
	char name[PATH_MAX];
	uint8_t build_id[OP_BUILD_ID_MAX];
	uint8_t build_id_len;
};

static bool in_load(const struct dl_phdr_info *i, uintptr_t lo, uintptr_t len)
{
	for (int k = 0; k < i->dlpi_phnum; k++) {
		const ElfW(Phdr) *ph = &i->dlpi_phdr[k];
		uintptr_t start = i->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) && lo >= start &&
		    len <= ph->p_memsz && lo - start <= ph->p_memsz - len)
			return true;
	}
	return false;
}

/*
 * Runs with the loader's lock held, so the module cannot be unloaded while
 * its notes are read (and they are read only where a readable PT_LOAD
 * segment maps them).
 */
static int find_cb(struct dl_phdr_info *i, size_t size, void *arg)
{
	struct find *f = arg;

	(void)size;
	if (!in_load(i, f->ip, 1))
		return 0;
	f->found = true;
	f->bias = i->dlpi_addr;
	f->self = in_load(i, (uintptr_t)&op_code_capture, 1);
	snprintf(f->name, sizeof f->name, "%s", i->dlpi_name ? i->dlpi_name : "");
	for (int k = 0; k < i->dlpi_phnum && !f->build_id_len; k++) {
		const ElfW(Phdr) *ph = &i->dlpi_phdr[k];
		uintptr_t at = i->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_NOTE && !(at % 4) && in_load(i, at, ph->p_memsz))
			f->build_id_len = (uint8_t)op_elf_note_build_id((const uint8_t *)at,
									ph->p_memsz, f->build_id);
	}
	return 1;
}

static void module_close(struct module *m)
{
	if (m->have_lines)
		op_dwarf_lines_free(&m->lines);
	if (m->have_elf)
		op_elf_close(&m->elf);
	if (m->have_dbg)
		op_elf_close(&m->dbg);
	free(m->path);
	free(m);
}

static void caches_clear(void)
{
	if (ipcache) {
		for (unsigned i = 0; i < OP_CODE_IP_CACHE; i++) {
			free(ipcache[i].func);
			free(ipcache[i].file);
			free(ipcache[i].text);
		}
		memset(ipcache, 0, OP_CODE_IP_CACHE * sizeof *ipcache);
	}
	ipcache_used = 0;
	while (modules) {
		struct module *m = modules;

		modules = m->next;
		module_close(m);
	}
	n_modules = 0;
}

static struct module *module_get(const struct find *f)
{
	struct module *m;
	const char *base;

	for (m = modules; m; m = m->next)
		if (m->bias == f->bias && !strcmp(m->path, f->name[0] ? f->name : "/proc/self/exe"))
			return m;
	if (n_modules >= OP_CODE_MODULES)
		caches_clear();
	if (!(m = calloc(1, sizeof *m)))
		return NULL;
	m->path = strdup(f->name[0] ? f->name : "/proc/self/exe");
	if (!m->path) {
		free(m);
		return NULL;
	}
	m->bias = f->bias;
	m->cls = f->self ? MOD_SELF : f->name[0] ? classify(f->name) : MOD_APP;
	memcpy(m->build_id, f->build_id, f->build_id_len);
	m->build_id_len = f->build_id_len;
	if (f->name[0]) {
		base = strrchr(f->name, '/');
		snprintf(m->label, sizeof m->label, "%s", base ? base + 1 : f->name);
	} else {
		char exe[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

		exe[n > 0 ? n : 0] = '\0';
		base = strrchr(exe, '/');
		snprintf(m->label, sizeof m->label, "%s", n > 0 ? (base ? base + 1 : exe) : "exe");
	}
	m->next = modules;
	modules = m;
	n_modules++;
	return m;
}

static bool same_build(const struct module *m, const struct op_elf *e)
{
	return !m->build_id_len ||
	       (e->build_id_len == m->build_id_len && !memcmp(e->build_id, m->build_id, m->build_id_len));
}

/*
 * The module's file, checked against the loaded image by build ID (a file
 * replaced on disk since it was loaded would name the wrong functions),
 * and its separate debug file under /usr/lib/debug/.build-id when the
 * file itself lacks a symbol table or line table.
 */
static void module_open(struct module *m)
{
	m->opened = true;
	if (op_elf_open(&m->elf, m->path) == 0) {
		m->have_elf = same_build(m, &m->elf);
		if (!m->have_elf) {
			op_debug("code attributes: %s differs from the loaded module; no symbols from it",
				 m->label);
			op_elf_close(&m->elf);
		}
	}
	if (m->build_id_len && (!m->have_elf || !m->elf.debug_line.p || !m->elf.full_symtab)) {
		char path[sizeof "/usr/lib/debug/.build-id/xx/.debug" + 2 * OP_BUILD_ID_MAX];
		int n = snprintf(path, sizeof path, "/usr/lib/debug/.build-id/%02x/", m->build_id[0]);

		for (unsigned i = 1; i < m->build_id_len; i++)
			n += snprintf(path + n, sizeof path - (size_t)n, "%02x", m->build_id[i]);
		snprintf(path + n, sizeof path - (size_t)n, ".debug");
		if (op_elf_open(&m->dbg, path) == 0) {
			m->have_dbg = same_build(m, &m->dbg);
			if (!m->have_dbg)
				op_elf_close(&m->dbg);
		}
	}
	if (m->have_elf && m->elf.debug_line.p)
		m->have_lines = op_dwarf_lines_index(&m->lines, m->elf.debug_line, m->elf.debug_line_str,
						     m->elf.debug_str) == 0;
	if (!m->have_lines && m->have_dbg && m->dbg.debug_line.p)
		m->have_lines = op_dwarf_lines_index(&m->lines, m->dbg.debug_line, m->dbg.debug_line_str,
						     m->dbg.debug_str) == 0;
}

/* A copy of at most `max` bytes of `s`, every byte outside printable ASCII as '?'. */
static char *sanitized(const char *s, size_t max)
{
	size_t n = strnlen(s, max);
	char *out = malloc(n + 1);

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] >= 0x20 && (unsigned char)s[i] < 0x7f ? s[i] : '?';
	out[n] = '\0';
	return out;
}

static void resolve(struct frame *fr)
{
	struct module *m = fr->m;
	/* A return address: the call is the byte before it. */
	uint64_t addr = (uint64_t)(fr->ip - 1 - m->bias), start;
	const char *name = NULL;
	char path[OP_CODE_PATH_MAX];
	uint32_t line;

	fr->resolved = true;
	if (!m->opened)
		module_open(m);
	if (m->have_elf && m->elf.full_symtab)
		name = op_elf_function(&m->elf, addr, &start);
	if (!name && m->have_dbg)
		name = op_elf_function(&m->dbg, addr, &start);
	if (!name && m->have_elf && !m->elf.full_symtab)
		name = op_elf_function(&m->elf, addr, &start);
	/* A versioned definition's symbol table name ("f@@V_1") without its version. */
	if (name && *name && *name != '@')
		fr->func = sanitized(name, strcspn(name, "@") < OP_CODE_NAME_MAX ?
					   strcspn(name, "@") : OP_CODE_NAME_MAX);
	if (m->have_lines && op_dwarf_line_find(&m->lines, addr, path, sizeof path, &line) == 0) {
		fr->file = sanitized(path, OP_CODE_PATH_MAX);
		fr->line = fr->file ? line : 0;
	}
}

/* The cached frame of `ip`, its module found (not yet resolved); NULL without memory. */
static struct frame *frame_of(uintptr_t ip)
{
	unsigned h = (unsigned)((ip * 0x9e3779b97f4a7c15ull) >> 52) & (OP_CODE_IP_CACHE - 1);
	struct module *m;
	struct frame *fr;
	struct find f;

	if (!ipcache && !(ipcache = calloc(OP_CODE_IP_CACHE, sizeof *ipcache)))
		return NULL;
	for (;;) {
		fr = &ipcache[h];
		if (fr->ip == ip)
			return fr;
		if (!fr->ip)
			break;
		h = (h + 1) & (OP_CODE_IP_CACHE - 1);
	}
	if (ipcache_used >= OP_CODE_IP_CACHE / 4 * 3) {
		caches_clear();
		return frame_of(ip);
	}
	memset(&f, 0, sizeof f);
	f.ip = ip;
	dl_iterate_phdr(find_cb, &f);
	m = f.found ? module_get(&f) : NULL;
	if (f.found && !m)
		return NULL;
	/* module_get may have emptied the table: find the free slot again. */
	h = (unsigned)((ip * 0x9e3779b97f4a7c15ull) >> 52) & (OP_CODE_IP_CACHE - 1);
	while (ipcache[h].ip)
		h = (h + 1) & (OP_CODE_IP_CACHE - 1);
	fr = &ipcache[h];
	fr->ip = ip;
	fr->m = m;
	ipcache_used++;
	return fr;
}

/* One line of code.stacktrace: "function (file:line)", "function (module+0xoff)" or "module+0xoff". */
static size_t frame_line(const struct frame *fr, char *out, size_t cap)
{
	int n;

	if (!fr->m)
		n = snprintf(out, cap, "0x%lx", (unsigned long)fr->ip);
	else if (fr->func && fr->file)
		n = snprintf(out, cap, "%s (%s:%u)", fr->func, fr->file, fr->line);
	else if (fr->func)
		n = snprintf(out, cap, "%s (%s+0x%lx)", fr->func, fr->m->label,
			     (unsigned long)(fr->ip - fr->m->bias));
	else
		n = snprintf(out, cap, "%s+0x%lx", fr->m->label, (unsigned long)(fr->ip - fr->m->bias));
	return n < 0 ? 0 : (size_t)n;
}

static void stacktrace(struct op_span *s, const struct op_code_ips *c, unsigned first)
{
	char *out = malloc(OP_CODE_STACKTRACE_MAX);
	size_t len = 0;

	if (!out)
		return;
	for (unsigned i = first; i < c->n && i - first < OP_CODE_STACK_FRAMES; i++) {
		struct frame *fr = frame_of((uintptr_t)c->ip[i]);

		if (!fr)
			break;
		if (!fr->text) {
			char line[OP_CODE_NAME_MAX + OP_CODE_PATH_MAX + 96];
			size_t n;

			if (fr->m && !fr->resolved)
				resolve(fr);
			n = frame_line(fr, line, sizeof line);
			if (n >= sizeof line)
				n = sizeof line - 1;
			if (!(fr->text = malloc(n + 1)))
				break;
			memcpy(fr->text, line, n);
			fr->text[n] = '\0';
			fr->text_len = n;
		}
		/* Whole lines only: a cut one would read as another function. */
		if (len + fr->text_len + 1 >= OP_CODE_STACKTRACE_MAX)
			break;
		if (len)
			out[len++] = '\n';
		memcpy(out + len, fr->text, fr->text_len);
		len += fr->text_len;
	}
	if (len)
		op_span_set_strn(s, "code.stacktrace", out, len);
	free(out);
}

void op_code_annotate(struct op_span *s)
{
	struct op_code_ips *c = s->code;
	unsigned long long subs;
	struct frame *fr = NULL;
	unsigned i;

	if (!c)
		return;
	s->code = NULL;
	subs = loader_subs();
	if (subs != c->subs) {
		/* A module was unloaded since the capture: its addresses may mean another now. */
		if (!warned_unloaded) {
			warned_unloaded = true;
			op_debug("code attributes: a module was unloaded after a capture; that span has none");
		}
		free(c);
		return;
	}
	if (subs != cache_subs) {
		caches_clear();
		cache_subs = subs;
	}
	for (i = 0; i < c->n; i++) {
		if (!(fr = frame_of((uintptr_t)c->ip[i])))
			break;
		/* The first frame that is neither ours nor a library's on the way to the network. */
		if (!fr->m || fr->m->cls == MOD_APP)
			break;
	}
	if (fr && i < c->n) {
		if (fr->m && !fr->resolved)
			resolve(fr);
		if (fr->func)
			op_span_set_str(s, "code.function.name", fr->func);
		if (fr->file) {
			op_span_set_str(s, "code.file.path", fr->file);
			op_span_set_int(s, "code.line.number", fr->line);
		}
		if (op_cfg.code_attributes == OP_CODE_STACK)
			stacktrace(s, c, i);
	}
	free(c);
}

void op_code_atfork_child(void)
{
	int loading = 1;

	/* The parent's loading thread is not here to finish. */
	atomic_compare_exchange_strong(&unwinder_state, &loading, 0);
	/* Possibly half-updated by the parent's exporter thread: left as they are, never read. */
	ipcache = NULL;
	ipcache_used = 0;
	modules = NULL;
	n_modules = 0;
	cache_subs = 0;
}
