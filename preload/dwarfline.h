/*
 * A reader of DWARF line-number programs (.debug_line, DWARF versions 2
 * to 5), enough to answer "which file and line holds this address".
 *
 * The sections are byte ranges of a mapped file (preload/elfimage.h).
 * Every read is bounded by its unit and section: a corrupt or hostile
 * section makes a unit unreadable, never a read outside the ranges.
 */
#ifndef OP_DWARFLINE_H
#define OP_DWARFLINE_H

#include <stddef.h>
#include <stdint.h>

#include "elfimage.h"

struct op_dwarf_unit {
	uint64_t lo, hi;        /* link-time addresses covered by the unit's sequences */
	size_t off;             /* of the unit in .debug_line */
};

struct op_dwarf_lines {
	struct op_elf_bytes line, line_str, str;
	struct op_dwarf_unit *units;    /* heap, in section order */
	uint32_t n;
};

/*
 * Indexes the units of `line` (one pass over every program, keeping only
 * each unit's address range). 0, or -1 when there is nothing usable.
 */
int op_dwarf_lines_index(struct op_dwarf_lines *d, struct op_elf_bytes line,
			 struct op_elf_bytes line_str, struct op_elf_bytes str);
void op_dwarf_lines_free(struct op_dwarf_lines *d);

/*
 * The row covering link-time address `addr`: the source path (directory
 * joined to the file name when the table names one) into `path`, cut to
 * `cap` bytes, and the line. 0 when found, -1 otherwise.
 */
int op_dwarf_line_find(const struct op_dwarf_lines *d, uint64_t addr, char *path, size_t cap,
		       uint32_t *line);

#endif
