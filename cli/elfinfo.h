/*
 * What `otelpreload doctor` needs to know about an ELF file, read without
 * running it: class, machine, how it is linked (PT_INTERP, PT_DYNAMIC,
 * DT_NEEDED, DT_FLAGS_1), whether it is a Go program, and whether it
 * carries a TLS library of its own.
 *
 * The file is untrusted input: every offset, size and count it contains
 * is checked against the file's size before it is followed, and a
 * malformed part stops the reading of that part only (op_elf.err says
 * which). Both classes and both byte orders are read.
 */
#ifndef OP_CLI_ELFINFO_H
#define OP_CLI_ELFINFO_H

#include <stdbool.h>
#include <stdint.h>

/* DT_NEEDED names kept; real programs need a few dozen at most. */
#define OP_ELF_MAX_NEEDED 64
/* Longest DT_NEEDED name or interpreter path kept; longer ones are cut. */
#define OP_ELF_NAME_MAX 256

struct op_elf {
	unsigned cls;                  /* ELFCLASS32 or ELFCLASS64 */
	unsigned data;                 /* ELFDATA2LSB or ELFDATA2MSB */
	unsigned type;                 /* ET_EXEC, ET_DYN, ... */
	unsigned machine;              /* EM_* */

	bool has_interp;               /* PT_INTERP: run through the dynamic loader */
	char interp[OP_ELF_NAME_MAX];
	bool has_dynamic;              /* PT_DYNAMIC */
	bool pie;                      /* DT_FLAGS_1 has DF_1_PIE */
	unsigned n_needed;
	bool needed_cut;               /* more than OP_ELF_MAX_NEEDED */
	char needed[OP_ELF_MAX_NEEDED][OP_ELF_NAME_MAX];

	/* Go: which evidence was found (a section, the build ID note, a symbol), or NULL. */
	const char *go;
	char go_version[32];           /* "go1.22.5" from .go.buildinfo, or "" */
	int go_cgo;                    /* CGO_ENABLED in the build settings: 1, 0, -1 unknown */

	/* A TLS or HTTP library function defined in the file itself, or "". */
	char tls_symbol[64];
	/* A TLS library's name found in .rodata (a weaker hint), or "". */
	char tls_marker[32];

	char err[128];                 /* what could not be read, or "" */
};

/*
 * Reads the open file `fd` into `e`. Returns 0 for an ELF file (e->err
 * non-empty if part of it was malformed), 1 when the file is not ELF, -1
 * with errno set when it cannot be read or mapped.
 */
int op_elf_read(int fd, struct op_elf *e);

/*
 * Calls `each` for every named symbol of the file's .dynsym: whether it is
 * defined there and whether it is weak. Returns 0, or -1 when the file has
 * no readable .dynsym.
 */
int op_elf_dynsyms(int fd, void (*each)(void *arg, const char *name, bool defined, bool weak),
		   void *arg);

/* "x86-64", "AArch64", ... or NULL for a machine this table does not name. */
const char *op_elf_machine_name(unsigned machine);

/* True when `e` lists a DT_NEEDED name starting with `prefix`; *name gets it. */
bool op_elf_needs(const struct op_elf *e, const char *prefix, const char **name);

#endif
