/*
 * A loaded module's ELF file as the symboliser reads it: mapped read-only,
 * its function symbols, its build ID and the DWARF sections the line
 * reader needs (preload/dwarfline.h). Only the exporter thread uses it
 * (preload/codeattr.c), long after the span was captured.
 *
 * Every offset and size taken from the file is checked against the
 * mapping before use: a truncated, corrupt or hostile file gives fewer
 * symbols or none, never a read outside the mapping. Compressed sections
 * (SHF_COMPRESSED) are treated as absent.
 */
#ifndef OP_ELFIMAGE_H
#define OP_ELFIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest build ID kept (GNU's are 20 bytes, SHA-1). */
#define OP_BUILD_ID_MAX 32

struct op_elf_bytes {
	const uint8_t *p;
	size_t size;
};

struct op_elf_sym {
	uint64_t addr;
	uint64_t size;
	uint32_t name;          /* offset into `strtab` */
	uint8_t rank;           /* among aliases: 0 global, 1 weak, 2 local (the public name wins) */
};

struct op_elf {
	void *map;
	size_t map_len;
	struct op_elf_bytes debug_line, debug_line_str, debug_str;
	struct op_elf_bytes strtab;     /* the names of `syms` */
	struct op_elf_sym *syms;        /* functions sorted by address, heap */
	uint32_t nsyms;
	bool full_symtab;               /* from .symtab (static functions too), not .dynsym */
	uint8_t build_id[OP_BUILD_ID_MAX];
	uint8_t build_id_len;
};

/* Maps `path` and indexes it. 0, or -1 (nothing to release) when it is not a usable ELF file. */
int op_elf_open(struct op_elf *e, const char *path);
void op_elf_close(struct op_elf *e);

/*
 * The function symbol covering link-time address `addr`: its name (NUL
 * terminated, inside the mapping) and start in *start, or NULL. A symbol
 * with a size covers exactly that range; one without covers nothing, so a
 * stripped object gives no name rather than its nearest export.
 */
const char *op_elf_function(const struct op_elf *e, uint64_t addr, uint64_t *start);

/* The build ID of a note area (PT_NOTE or SHT_NOTE bytes); its length, 0 when none. */
size_t op_elf_note_build_id(const uint8_t *p, size_t len, uint8_t out[OP_BUILD_ID_MAX]);

#endif
