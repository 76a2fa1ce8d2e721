/*
 * otelpreload doctor: whether a program can be traced, and why not, found
 * without running it. A command is resolved as execvp() would (scripts
 * followed to their interpreter); a running process is read from /proc.
 * Each check prints one line: the check, a verdict (ok, warning, cannot
 * trace), the reason and, when something can be done, the remedy.
 *
 * This file: the command line, a running process (/proc/PID) and the
 * output; the checks are in doctor_exe.c and doctor_config.c.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "doctor.h"
#include "doctor_checks.h"
#include "../exporter/json.h"

#define EXIT_TRACEABLE 0
#define EXIT_CANNOT 1
#define EXIT_USAGE 2

/* /proc/PID/environ and /proc/PID/maps read at most this much (ARG_MAX is 2 MiB by default). */
#define PROC_FILE_MAX ((size_t)8 << 20)

static const char doctor_usage[] =
	"usage: otelpreload doctor [--json] [--] CMD [ARGS...]\n"
	"       otelpreload doctor [--json] PID\n";

static const char doctor_help[] =
	"\n"
	"Says whether CMD (resolved through PATH as run would) or the running\n"
	"process PID can be traced, and why not, without running anything: how\n"
	"the executable is linked (static, static-pie, Go), its C library and\n"
	"architecture against the library run would preload, setuid, setgid and\n"
	"file capabilities, TLS libraries, the OTEL_* configuration (the\n"
	"current environment, or the process's) and whether the OTLP endpoint\n"
	"accepts connections. For a PID it also says whether the library is\n"
	"already loaded there.\n"
	"\n"
	"  --json    the same findings as one JSON object\n"
	"\n"
	"Exit status: 0 when it can be traced (warnings allowed), 1 when it\n"
	"cannot, 2 on a usage error.\n";

static const char *const verdict_names[] = { "ok", "warning", "cannot trace" };

void op_doc_oom(void)
{
	fputs("otelpreload: out of memory\n", stderr);
	exit(EXIT_USAGE);
}

static char *vfmt(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		op_doc_oom();
	return s;
}

void op_doc_add(struct doctor *d, const char *check, enum verdict v, const char *remedy,
		const char *fmt, ...)
{
	struct finding *f;
	va_list ap;

	if (d->n == MAX_FINDINGS)
		return;
	f = &d->f[d->n++];
	f->check = check;
	f->v = v;
	va_start(ap, fmt);
	f->reason = vfmt(fmt, ap);
	va_end(ap);
	f->remedy = remedy ? strdup(remedy) : NULL;
	if (remedy && !f->remedy)
		op_doc_oom();
}

char *op_doc_fmt(const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	s = vfmt(f, ap);
	va_end(ap);
	return s;
}

static void usage_error(const char *f, ...) __attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *f, ...)
{
	va_list ap;

	fputs("otelpreload: doctor: ", stderr);
	va_start(ap, f);
	vfprintf(stderr, f, ap);
	va_end(ap);
	fputc('\n', stderr);
	fputs(doctor_usage, stderr);
	exit(EXIT_USAGE);
}

/* A whole /proc file (at most PROC_FILE_MAX bytes), NUL-terminated; NULL with errno set. */
static char *read_proc(long pid, const char *what, size_t *len)
{
	char path[64];
	size_t cap = 65536, n = 0;
	char *buf = NULL;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/%s", pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		ssize_t r;

		if (!buf || n + 1 >= cap) {
			char *grown;

			if (buf)
				cap *= 2;
			if (cap > PROC_FILE_MAX + 1)
				break;
			grown = realloc(buf, cap);
			if (!grown)
				op_doc_oom();
			buf = grown;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = errno;

			free(buf);
			close(fd);
			errno = err;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/*
 * The environment the target would see: this one for a command,
 * /proc/PID/environ for a process. op_config_parse takes a plain getenv
 * function, hence a file-scope table.
 */
static char **target_env;
static size_t target_env_n;

static void use_own_environment(void)
{
	extern char **environ;

	target_env = environ;
	target_env_n = 0;
	while (target_env[target_env_n])
		target_env_n++;
}

const char *op_doc_getenv(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < target_env_n; i++)
		if (!strncmp(target_env[i], name, len) && target_env[i][len] == '=')
			return target_env[i] + len + 1;
	return NULL;
}

/* /proc/PID/maps: is the library there, and which C library is. */
static void read_maps(struct doctor *d)
{
	size_t len;
	char *maps = read_proc(d->pid, "maps", &len), *line, *save = NULL;

	if (!maps) {
		op_doc_add(d, "loaded", V_WARNING, NULL,
		           "cannot read /proc/%ld/maps (%s): whether the library is loaded is "
		           "unknown", d->pid, strerror(errno));
		return;
	}
	for (line = strtok_r(maps, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *path = strchr(line, '/'), *b;

		if (!path)
			continue;
		b = base_name(path);
		if (starts_with(b, "libotelpreload-exporter"))
			d->exporter_loaded = true;
		else if (starts_with(b, "libotelpreload") && !d->loaded[0])
			snprintf(d->loaded, sizeof d->loaded, "%s", path);
		else if (d->mapped_libc == LIBC_UNKNOWN &&
			 (starts_with(b, "libc.so.6") || starts_with(b, "libc-2."))) {
			d->mapped_libc = LIBC_GLIBC;
			snprintf(d->mapped_libc_path, sizeof d->mapped_libc_path, "%s", path);
		} else if (d->mapped_libc == LIBC_UNKNOWN &&
			   (starts_with(b, "ld-musl-") || starts_with(b, "libc.musl-") ||
			    !strcmp(b, "libc.so"))) {
			d->mapped_libc = LIBC_MUSL;
			snprintf(d->mapped_libc_path, sizeof d->mapped_libc_path, "%s", path);
		}
	}
	free(maps);
}

static void check_loaded(struct doctor *d)
{
	const char *pre = op_doc_getenv("LD_PRELOAD");

	if (d->loaded[0]) {
		op_doc_add(d, "loaded", V_OK, NULL, "%s is loaded in pid %ld%s", d->loaded, d->pid,
		           d->exporter_loaded ?
		           "; its exporter module too (it has exported or tried to)" :
		           "; its exporter module is not (it loads at the first export)");
		return;
	}
	if (!d->elf_ok || !d->elf.has_interp)
		return;
	if (pre && strstr(pre, "libotelpreload"))
		op_doc_add(d, "loaded", V_WARNING, NULL,
		           "pid %ld has LD_PRELOAD=%s but the library is not mapped: the loader "
		           "refused it (see the other checks) or the file was missing when it "
		           "started", d->pid, pre);
	else
		op_doc_add(d, "loaded", V_WARNING,
		           "restart it under 'otelpreload run -- ...' (or with LD_PRELOAD set)",
		           "the library is not loaded in pid %ld, so it is not traced now: "
		           "LD_PRELOAD acts only when a program starts", d->pid);
}

/* Reads /proc/PID: the executable, its environment and its mappings. */
static bool open_process(struct doctor *d)
{
	char link[64];
	ssize_t n;
	size_t len;
	char *env;

	snprintf(link, sizeof link, "/proc/%ld", d->pid);
	if (access(link, F_OK) != 0)
		usage_error("no process %ld", d->pid);
	snprintf(link, sizeof link, "/proc/%ld/exe", d->pid);
	n = readlink(link, d->exe_shown, sizeof d->exe_shown - 1);
	if (n <= 0) {
		op_doc_add(d, "program", V_WARNING, NULL,
		           "cannot read %s (%s): the executable is not checked", link,
		           strerror(errno));
		d->exe_shown[0] = '\0';
	} else {
		d->exe_shown[n] = '\0';
	}
	/* The link target may be gone or in another mount namespace: read through /proc. */
	snprintf(d->exe, sizeof d->exe, "%s", link);

	env = read_proc(d->pid, "environ", &len);
	if (env) {
		size_t count = 0;

		for (size_t i = 0; i < len; i++)
			count += env[i] == '\0';
		target_env = calloc(count + 1, sizeof *target_env);
		if (!target_env)
			op_doc_oom();
		for (size_t i = 0; i < len; i += strlen(env + i) + 1)
			if (env[i])
				target_env[target_env_n++] = env + i;
		/* env stays allocated: target_env points into it until exit. */
	} else {
		op_doc_add(d, "config", V_WARNING, NULL,
		           "cannot read /proc/%ld/environ (%s): the configuration below is "
		           "from doctor's own environment, not the process's", d->pid,
		           strerror(errno));
		use_own_environment();
	}
	read_maps(d);
	return n > 0;
}

/* Whether the process runs in secure-execution mode: AT_SECURE, else its uids and gids. */
static void check_process_privileges(struct doctor *d)
{
	size_t len;
	char *auxv = read_proc(d->pid, "auxv", &len), *status;
	long secure = -1;

	if (auxv && d->elf_ok && (d->elf.cls == ELFCLASS64) == (sizeof(long) == 8)) {
		for (size_t i = 0; i + 2 * sizeof(long) <= len; i += 2 * sizeof(long)) {
			unsigned long type, val;

			memcpy(&type, auxv + i, sizeof type);
			memcpy(&val, auxv + i + sizeof(long), sizeof val);
			if (type == AT_SECURE) {
				secure = val != 0;
				break;
			}
		}
	}
	free(auxv);
	if (secure < 0 && (status = read_proc(d->pid, "status", &len))) {
		unsigned long r[2][2];
		const char *u = strstr(status, "\nUid:"), *g = strstr(status, "\nGid:");

		if (u && g && sscanf(u, "\nUid: %lu %lu", &r[0][0], &r[0][1]) == 2 &&
		    sscanf(g, "\nGid: %lu %lu", &r[1][0], &r[1][1]) == 2)
			secure = r[0][0] != r[0][1] || r[1][0] != r[1][1];
		free(status);
	}
	if (secure == 1)
		op_doc_add(d, "privileges", V_CANNOT, "trace the programs it talks to instead",
		           "pid %ld runs with AT_SECURE set (set-user-ID, set-group-ID or "
		           "capabilities): %s", d->pid, op_doc_secure_exec_why);
	else if (secure == 0)
		op_doc_add(d, "privileges", V_OK, NULL, "pid %ld is not in secure-execution mode",
		           d->pid);
	else
		op_doc_add(d, "privileges", V_WARNING, NULL,
		           "cannot tell whether pid %ld runs in secure-execution mode "
		           "(/proc/%ld/auxv and status unreadable)", d->pid, d->pid);
}

static enum verdict overall(const struct doctor *d, unsigned *cannot, unsigned *warnings)
{
	*cannot = *warnings = 0;
	for (unsigned i = 0; i < d->n; i++) {
		*cannot += d->f[i].v == V_CANNOT;
		*warnings += d->f[i].v == V_WARNING;
	}
	return *cannot ? V_CANNOT : *warnings ? V_WARNING : V_OK;
}

static void print_text(const struct doctor *d)
{
	unsigned cannot, warnings;
	enum verdict v = overall(d, &cannot, &warnings);
	char target[PATH_MAX + 64], check[32];

	if (d->pid)
		snprintf(target, sizeof target, "pid %ld (%s)", d->pid,
			 d->exe_shown[0] ? d->exe_shown : "?");
	else
		snprintf(target, sizeof target, "%s", d->cmd);
	for (unsigned i = 0; i < d->n; i++) {
		snprintf(check, sizeof check, "%s:", d->f[i].check);
		printf("%-11s %-12s %s%s%s\n", check, verdict_names[d->f[i].v], d->f[i].reason,
		       d->f[i].remedy ? "; remedy: " : "", d->f[i].remedy ? d->f[i].remedy : "");
	}
	printf("%-11s %-12s %s %s", "result:", verdict_names[v], target,
	       v == V_CANNOT ? "cannot be traced" :
	       d->elf_ok ? "can be traced" : "has no known blocker, but its executable was not read");
	if (cannot || warnings)
		printf(" (%u blocking, %u warning%s)", cannot, warnings, warnings == 1 ? "" : "s");
	putchar('\n');
}

static void json_key_str(struct op_buf *b, const char *key, const char *v)
{
	op_json_str(b, key, strlen(key));
	op_buf_addc(b, ':');
	if (v)
		op_json_str(b, v, strlen(v));
	else
		op_buf_adds(b, "null");
}

static void print_json(const struct doctor *d)
{
	struct op_buf b = OP_BUF_INIT;
	unsigned cannot, warnings;
	enum verdict v = overall(d, &cannot, &warnings);
	char *out;

	op_buf_addc(&b, '{');
	json_key_str(&b, "command", d->cmd);
	op_buf_adds(&b, ",\"pid\":");
	if (d->pid)
		op_buf_addf(&b, "%ld", d->pid);
	else
		op_buf_adds(&b, "null");
	op_buf_addc(&b, ',');
	json_key_str(&b, "executable", d->exe_shown[0] ? d->exe_shown : NULL);
	op_buf_addc(&b, ',');
	json_key_str(&b, "library", d->lib);
	op_buf_addc(&b, ',');
	json_key_str(&b, "verdict", verdict_names[v]);
	op_buf_addf(&b, ",\"traceable\":%s,\"checks\":[",
		    v == V_CANNOT ? "false" : d->elf_ok ? "true" : "null");
	for (unsigned i = 0; i < d->n; i++) {
		op_buf_adds(&b, i ? ",{" : "{");
		json_key_str(&b, "check", d->f[i].check);
		op_buf_addc(&b, ',');
		json_key_str(&b, "verdict", verdict_names[d->f[i].v]);
		op_buf_addc(&b, ',');
		json_key_str(&b, "reason", d->f[i].reason);
		op_buf_addc(&b, ',');
		json_key_str(&b, "remedy", d->f[i].remedy);
		op_buf_addc(&b, '}');
	}
	op_buf_addc(&b, ']');
	if (d->cfg_ok) {
		static const char *const names[] = { "otlp", "console", "zipkin", "file" };
		bool first = true;

		op_buf_adds(&b, ",\"config\":{\"exporters\":[");
		for (unsigned i = 0; i < 4; i++)
			if (d->cfg.exporters & (1u << i)) {
				if (!first)
					op_buf_addc(&b, ',');
				op_json_str(&b, names[i], strlen(names[i]));
				first = false;
			}
		op_buf_addc(&b, ']');
		op_buf_addc(&b, ',');
		json_key_str(&b, "protocol", op_doc_protocol_names[d->cfg.otlp_protocol]);
		op_buf_addc(&b, ',');
		json_key_str(&b, "endpoint", d->endpoint_shown);
		op_buf_addc(&b, ',');
		json_key_str(&b, "sampler", op_doc_sampler_name(d->cfg.sampler));
		op_buf_adds(&b, ",\"sampler_ratio\":");
		op_json_double(&b, d->cfg.sampler_ratio);
		op_buf_addc(&b, ',');
		json_key_str(&b, "service_name", d->service);
		op_buf_addf(&b, ",\"sdk_disabled\":%s}", d->cfg.sdk_disabled ? "true" : "false");
	}
	op_buf_adds(&b, "}\n");
	out = op_buf_detach(&b);
	if (!out)
		op_doc_oom();
	fputs(out, stdout);
	free(out);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

int op_doctor_main(int argc, char **argv, const char *argv0)
{
	static struct doctor doc; /* large (paths, the ELF summaries): not on the stack */
	struct doctor *d = &doc;
	char tried[2 * PATH_MAX + 64];
	bool dashdash = false, have_exe = false;
	unsigned cannot, warnings;
	int i;

	d->argv0 = argv0;
	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			dashdash = true;
			i++;
			break;
		}
		if (!strcmp(argv[i], "--json")) {
			d->json = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(doctor_usage, stdout);
			fputs(doctor_help, stdout);
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1]) {
			usage_error("unknown option %s", argv[i]);
		} else {
			break;
		}
	}
	if (i >= argc)
		usage_error("doctor needs a command or a process id");
	if (!dashdash && all_digits(argv[i])) {
		if (i + 1 < argc)
			usage_error("a process id takes no arguments");
		errno = 0;
		d->pid = strtol(argv[i], NULL, 10);
		if (errno || d->pid <= 0)
			usage_error("%s is not a process id", argv[i]);
	} else {
		d->cmd = argv[i];
	}

	if (!d->pid)
		use_own_environment();

	d->lib = op_cli_find_library(argv0, tried, sizeof tried);
	if (d->pid)
		have_exe = open_process(d);
	else
		have_exe = op_doc_resolve_command(d);

	if (have_exe) {
		int fd = open(d->exe, O_RDONLY | O_CLOEXEC);
		int rc = fd >= 0 ? op_elf_read(fd, &d->elf) : -1;

		if (rc < 0)
			op_doc_add(d, "program", d->pid ? V_WARNING : V_CANNOT, NULL,
			           "cannot read %s: %s", d->exe_shown, strerror(errno));
		else if (rc == 1)
			op_doc_add(d, "program", V_CANNOT, NULL, "%s is not an ELF executable",
			           d->exe_shown);
		else
			d->elf_ok = true;
		if (fd >= 0)
			close(fd);
	}
	if (d->lib) {
		int fd = open(d->lib, O_RDONLY | O_CLOEXEC);

		d->lib_elf_ok = fd >= 0 && op_elf_read(fd, &d->lib_elf) == 0;
		if (fd >= 0)
			close(fd);
		if (!d->lib_elf_ok)
			op_doc_add(d, "library", V_CANNOT, NULL,
			           "%s is not a readable ELF shared object", d->lib);
		/* The loader splits LD_PRELOAD on ':' and blanks; run refuses such a path. */
		if (strpbrk(d->lib, ": \t\n"))
			op_doc_add(d, "library", V_CANNOT,
			           "move it to a path without ':' or blanks",
			           "%s cannot be preloaded: the path contains ':' or a blank",
			           d->lib);
	} else if (!d->loaded[0]) {
		op_doc_add(d, "library", V_CANNOT, "set OTELPRELOAD_LIBRARY to the library's path",
		           "cannot find " LIB_NAME " as run would (tried %s)", tried);
	}

	if (d->elf_ok) {
		op_doc_check_linking(d);
		if (!d->loaded[0])
			op_doc_check_arch_and_libc(d);
		if (d->pid)
			check_process_privileges(d);
		else
			op_doc_check_privileges(d);
		op_doc_check_tls(d);
	}
	if (d->pid)
		check_loaded(d);
	op_doc_check_config(d);
	op_doc_check_endpoint(d);

	if (d->json)
		print_json(d);
	else
		print_text(d);
	fflush(stdout);
	return overall(d, &cannot, &warnings) == V_CANNOT ? EXIT_CANNOT : EXIT_TRACEABLE;
}
