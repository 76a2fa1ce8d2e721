/*
 * The parts of `otelpreload doctor` (doctor.c): the findings of one run,
 * and the checks that add to them, one file per subject: the executable
 * and the library (doctor_exe.c), the configuration and the endpoint
 * (doctor_config.c), a running process and the output (doctor.c).
 */
#ifndef OP_CLI_DOCTOR_CHECKS_H
#define OP_CLI_DOCTOR_CHECKS_H

#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "elfinfo.h"
#include "libpath.h"
#include "../preload/config.h"

#define LIB_NAME OP_LIB_NAME
#define EXPORTER_NAME "libotelpreload-exporter.so"

/* Findings of one run: a dozen checks and one line per configuration warning. */
#define MAX_FINDINGS 48
/* Longest service.name shown; the library's own buffer is about as long (resource.c). */
#define SERVICE_MAX 300

enum verdict { V_OK, V_WARNING, V_CANNOT };

struct finding {
	const char *check;             /* "linking", "libc", ...: the JSON key too */
	enum verdict v;
	char *reason;
	char *remedy;                  /* NULL when there is nothing to do */
};

enum libc_kind { LIBC_UNKNOWN, LIBC_GLIBC, LIBC_MUSL };

struct doctor {
	bool json;
	const char *argv0;

	/* The target: a command or a process. */
	const char *cmd;
	long pid;
	char exe[PATH_MAX];            /* the executable that will run (or runs) */
	char exe_shown[PATH_MAX];      /* as the user should see it */
	bool elf_ok;
	struct op_elf elf;

	/* The library `run` would preload, and what it is built for. */
	char *lib;
	bool lib_elf_ok;
	struct op_elf lib_elf;

	/* From /proc/PID. */
	char loaded[PATH_MAX];         /* libotelpreload mapped there, or "" */
	bool exporter_loaded;
	enum libc_kind mapped_libc;
	char mapped_libc_path[PATH_MAX];

	struct op_config cfg;
	bool cfg_ok;
	char service[SERVICE_MAX];
	char endpoint_shown[512];

	struct finding f[MAX_FINDINGS];
	unsigned n;
};

/* Adds a finding; `remedy` may be NULL. Past MAX_FINDINGS findings are dropped. */
void op_doc_add(struct doctor *d, const char *check, enum verdict v, const char *remedy,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* asprintf that exits on failure (no memory). */
char *op_doc_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
void op_doc_oom(void) __attribute__((noreturn));

/* The target's environment: this process's for a command, /proc/PID/environ for a process. */
const char *op_doc_getenv(const char *name);

/* Why secure-execution mode (set-user-ID and the like) means no tracing. */
extern const char op_doc_secure_exec_why[];

/*
 * d->cmd to the executable that really runs (d->exe): through PATH as
 * execvp, then through #! lines. False, after a finding, when nothing can run.
 */
bool op_doc_resolve_command(struct doctor *d);

/* The checks of the executable (d->elf) against the library (d->lib_elf). */
void op_doc_check_linking(struct doctor *d);
void op_doc_check_arch_and_libc(struct doctor *d);
void op_doc_check_privileges(struct doctor *d);
void op_doc_check_tls(struct doctor *d);

/* The target's configuration through the library's parser, then the OTLP endpoint. */
void op_doc_check_config(struct doctor *d);
void op_doc_check_endpoint(struct doctor *d);

const char *op_doc_sampler_name(enum op_sampler s);
extern const char *const op_doc_protocol_names[];

static inline const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

static inline bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static inline bool is_regular(const char *path)
{
	return op_cli_is_regular(path);
}

#endif
