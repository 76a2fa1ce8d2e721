#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dwarfline.h"
#include "op.h"

/* Units indexed per file at most (a large C++ program has tens of thousands). */
#define OP_DWARF_MAX_UNITS (1u << 20)
/* Entry formats in a DWARF 5 directory or file table (producers use 2 to 5). */
#define OP_DWARF_MAX_FORMATS 16

enum {
	DW_LNS_copy = 1, DW_LNS_advance_pc, DW_LNS_advance_line, DW_LNS_set_file,
	DW_LNS_set_column, DW_LNS_negate_stmt, DW_LNS_set_basic_block, DW_LNS_const_add_pc,
	DW_LNS_fixed_advance_pc,
	DW_LNE_end_sequence = 1, DW_LNE_set_address = 2,
	DW_LNCT_path = 1, DW_LNCT_directory_index = 2,
	DW_FORM_block2 = 0x03, DW_FORM_block4 = 0x04, DW_FORM_data2 = 0x05, DW_FORM_data4 = 0x06,
	DW_FORM_data8 = 0x07, DW_FORM_string = 0x08, DW_FORM_block = 0x09,
	DW_FORM_block1 = 0x0a, DW_FORM_data1 = 0x0b, DW_FORM_strp = 0x0e, DW_FORM_udata = 0x0f,
	DW_FORM_data16 = 0x1e, DW_FORM_line_strp = 0x1f,
};

/* A bounded reader: past the end it yields zeros and sets `bad`. */
struct cur {
	const uint8_t *p, *end;
	bool bad;
};

static uint64_t rd(struct cur *c, unsigned n)
{
	uint64_t v = 0;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (i < 8 ? (uint64_t)c->p[i] << (8 * i) : 0);
	c->p += n;
	return v;
}

static uint64_t uleb(struct cur *c)
{
	uint64_t v = 0;
	unsigned shift = 0;

	while (c->p < c->end) {
		uint8_t b = *c->p++;

		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static int64_t sleb(struct cur *c)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b = 0;

	while (c->p < c->end) {
		b = *c->p++;
		if (shift < 64)
			v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			return (int64_t)v;
		}
	}
	c->bad = true;
	return 0;
}

static void skip(struct cur *c, uint64_t n)
{
	if (c->bad || (uint64_t)(c->end - c->p) < n) {
		c->bad = true;
		c->p = c->end;
		return;
	}
	c->p += n;
}

static const char *cstr(struct cur *c)
{
	const uint8_t *nul;
	const char *s;

	if (c->bad || !(nul = memchr(c->p, 0, (size_t)(c->end - c->p)))) {
		c->bad = true;
		c->p = c->end;
		return NULL;
	}
	s = (const char *)c->p;
	c->p = nul + 1;
	return s;
}

/* The NUL-terminated string at `off` of a string section, or NULL. */
static const char *sec_str(struct op_elf_bytes b, uint64_t off)
{
	if (!b.p || off >= b.size || !memchr(b.p + off, 0, b.size - off))
		return NULL;
	return (const char *)b.p + off;
}

struct fmt {
	uint64_t type, form;
};

/* One line-program header. */
struct hdr {
	const struct op_dwarf_lines *d;
	unsigned version, offset_size;
	uint8_t min_inst, default_is_stmt, line_range, opcode_base;
	int8_t line_base;
	const uint8_t *std_lens;        /* opcode_base - 1 bytes */
	struct cur tables;              /* the directory and file tables */
	struct cur prog;                /* the program, to the unit's end */
	const uint8_t *unit_end;
};

/* Reads the unit at `off`; false when it cannot be read (h->unit_end set if its length could). */
static bool header(const struct op_dwarf_lines *d, size_t off, struct hdr *h)
{
	struct cur c = { d->line.p + off, d->line.p + d->line.size, false };
	uint64_t len, hlen;
	const uint8_t *after_hlen;

	memset(h, 0, sizeof *h);
	h->d = d;
	h->offset_size = 4;
	len = rd(&c, 4);
	if (len == 0xffffffff) {
		h->offset_size = 8;
		len = rd(&c, 8);
	} else if (len >= 0xfffffff0) {
		return false;
	}
	if (c.bad || len > (uint64_t)(c.end - c.p))
		return false;
	h->unit_end = c.p + len;
	c.end = h->unit_end;
	h->version = (unsigned)rd(&c, 2);
	if (h->version < 2 || h->version > 5)
		return false;
	if (h->version >= 5) {
		(void)rd(&c, 1);        /* address_size: DW_LNE_set_address says it again */
		if (rd(&c, 1) != 0)     /* segment selectors: not on the targets we run on */
			return false;
	}
	hlen = rd(&c, h->offset_size);
	after_hlen = c.p;
	if (c.bad || hlen > (uint64_t)(c.end - c.p))
		return false;
	h->prog = (struct cur){ after_hlen + hlen, h->unit_end, false };
	c.end = after_hlen + hlen;
	h->min_inst = (uint8_t)rd(&c, 1);
	if (h->version >= 4 && rd(&c, 1) != 1)
		return false;           /* VLIW op_index: no such target here */
	h->default_is_stmt = (uint8_t)rd(&c, 1);
	h->line_base = (int8_t)rd(&c, 1);
	h->line_range = (uint8_t)rd(&c, 1);
	h->opcode_base = (uint8_t)rd(&c, 1);
	if (c.bad || h->line_range == 0 || h->opcode_base == 0)
		return false;
	h->std_lens = c.p;
	skip(&c, h->opcode_base - 1u);
	h->tables = c;
	return !c.bad;
}

/* A DWARF 5 entry-format list. */
static bool formats(struct cur *c, struct fmt *f, unsigned *n)
{
	*n = (unsigned)rd(c, 1);
	if (*n > OP_DWARF_MAX_FORMATS)
		return false;
	for (unsigned i = 0; i < *n; i++) {
		f[i].type = uleb(c);
		f[i].form = uleb(c);
	}
	return !c->bad;
}

/* One attribute value of a DWARF 5 entry: a string into *s or a number into *num. */
static bool form_value(struct cur *c, const struct hdr *h, uint64_t form, const char **s,
		       uint64_t *num)
{
	*s = NULL;
	*num = 0;
	switch (form) {
	case DW_FORM_string: *s = cstr(c); break;
	case DW_FORM_line_strp: *s = sec_str(h->d->line_str, rd(c, h->offset_size)); break;
	case DW_FORM_strp: *s = sec_str(h->d->str, rd(c, h->offset_size)); break;
	case DW_FORM_udata: *num = uleb(c); break;
	case DW_FORM_data1: *num = rd(c, 1); break;
	case DW_FORM_data2: *num = rd(c, 2); break;
	case DW_FORM_data4: *num = rd(c, 4); break;
	case DW_FORM_data8: *num = rd(c, 8); break;
	case DW_FORM_data16: skip(c, 16); break;
	case DW_FORM_block: skip(c, uleb(c)); break;
	case DW_FORM_block1: skip(c, rd(c, 1)); break;
	case DW_FORM_block2: skip(c, rd(c, 2)); break;
	case DW_FORM_block4: skip(c, rd(c, 4)); break;
	default: return false;      /* strx and friends need .debug_info's base */
	}
	return !c->bad;
}

/* DWARF 5: the path and directory index of entry `want` of the next table. */
static bool table5(struct cur *c, const struct hdr *h, uint64_t want, const char **path,
		   uint64_t *dir)
{
	struct fmt f[OP_DWARF_MAX_FORMATS];
	unsigned nf;
	uint64_t count;

	*path = NULL;
	*dir = 0;
	if (!formats(c, f, &nf))
		return false;
	count = uleb(c);
	for (uint64_t i = 0; i < count && !c->bad; i++) {
		for (unsigned k = 0; k < nf; k++) {
			const char *s;
			uint64_t num;

			if (!form_value(c, h, f[k].form, &s, &num))
				return false;
			if (i != want)
				continue;
			if (f[k].type == DW_LNCT_path)
				*path = s;
			else if (f[k].type == DW_LNCT_directory_index)
				*dir = num;
		}
	}
	return !c->bad;
}

/* Appends `s` (cut at the end of `out`) to the string in `out`. */
static void append(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out);

	if (n + 1 < cap)
		snprintf(out + n, cap - n, "%s", s);
}

/* The path of file `file` of unit `h`, directory joined. */
static bool file_path(const struct hdr *h, uint64_t file, char *out, size_t cap)
{
	struct cur c = h->tables;
	const char *name = NULL, *dir = NULL;
	uint64_t dir_index = 0;

	out[0] = '\0';
	if (h->version >= 5) {
		struct cur files;
		const char *unused;
		uint64_t ignored;

		/* Directories first: skipped to reach the files, then read again for ours. */
		files = c;
		if (!table5(&files, h, UINT64_MAX, &unused, &ignored) ||
		    !table5(&files, h, file, &name, &dir_index) || !name)
			return false;
		if (name[0] != '/' && !table5(&c, h, dir_index, &dir, &ignored))
			dir = NULL;
		/* Directories other than the first are relative to it, the compilation directory. */
		if (name[0] != '/' && dir && dir[0] != '/' && dir_index != 0) {
			const char *comp = NULL;
			struct cur c0 = h->tables;

			if (table5(&c0, h, 0, &comp, &ignored) && comp && *comp) {
				append(out, cap, comp);
				if (comp[strlen(comp) - 1] != '/')
					append(out, cap, "/");
			}
		}
	} else {
		const char *s;
		uint64_t i = 1;

		/* include_directories: index 1 on; 0 is the compilation directory, not here. */
		while ((s = cstr(&c)) && *s)
			;
		if (c.bad)
			return false;
		while ((s = cstr(&c)) && *s) {
			uint64_t d = uleb(&c);

			(void)uleb(&c);
			(void)uleb(&c);
			if (i++ == file) {
				name = s;
				dir_index = d;
				break;
			}
		}
		if (!name)
			return false;
		if (dir_index > 0 && name[0] != '/') {
			struct cur dc = h->tables;
			uint64_t k = 1;

			while ((s = cstr(&dc)) && *s) {
				if (k++ == dir_index) {
					dir = s;
					break;
				}
			}
		}
	}
	if (dir && *dir) {
		append(out, cap, dir);
		if (dir[strlen(dir) - 1] != '/')
			append(out, cap, "/");
	}
	append(out, cap, name);
	return out[0] != '\0';
}

struct row {
	uint64_t addr, file, line;
};

/*
 * Runs the program of unit `h`. With `want` non-NULL, stops at the row
 * covering *want and returns true with it in *hit; otherwise widens
 * [*lo, *hi) over every sequence.
 */
static bool run(const struct hdr *h, const uint64_t *want, struct row *hit, uint64_t *lo,
		uint64_t *hi)
{
	struct cur c = h->prog;
	struct row r = { 0, 1, 1 }, prev = { 0 };
	bool have_prev = false;

	while (c.p < c.end && !c.bad) {
		uint8_t op = (uint8_t)rd(&c, 1);
		bool emit = false, end_seq = false;

		if (op >= h->opcode_base) {
			unsigned adj = op - h->opcode_base;

			r.addr += (uint64_t)(adj / h->line_range) * h->min_inst;
			r.line += (uint64_t)(int64_t)(h->line_base + (int)(adj % h->line_range));
			emit = true;
		} else if (op == 0) {
			uint64_t len = uleb(&c);
			const uint8_t *next;
			uint8_t sub;

			if (len == 0 || len > (uint64_t)(c.end - c.p)) {
				c.bad = true;
				break;
			}
			next = c.p + len;
			sub = (uint8_t)rd(&c, 1);
			if (sub == DW_LNE_end_sequence) {
				emit = end_seq = true;
			} else if (sub == DW_LNE_set_address) {
				r.addr = rd(&c, (unsigned)(len - 1 > 8 ? 8 : len - 1));
			}
			c.p = next;
		} else {
			switch (op) {
			case DW_LNS_copy: emit = true; break;
			case DW_LNS_advance_pc: r.addr += uleb(&c) * h->min_inst; break;
			case DW_LNS_advance_line: r.line += (uint64_t)sleb(&c); break;
			case DW_LNS_set_file: r.file = uleb(&c); break;
			case DW_LNS_const_add_pc:
				r.addr += (uint64_t)((255u - h->opcode_base) / h->line_range) * h->min_inst;
				break;
			case DW_LNS_fixed_advance_pc: r.addr += rd(&c, 2); break;
			default:
				/* Known ones without operands, and unknown ones by their declared count. */
				for (unsigned i = 0; i < h->std_lens[op - 1]; i++)
					(void)uleb(&c);
			}
		}
		if (!emit)
			continue;
		if (want && have_prev && prev.addr <= *want && *want < r.addr) {
			*hit = prev;
			return true;
		}
		if (!want && r.addr) {
			if (r.addr < *lo)
				*lo = r.addr;
			if (r.addr > *hi)
				*hi = r.addr;
		}
		if (end_seq) {
			r = (struct row){ 0, 1, 1 };
			have_prev = false;
		} else {
			prev = r;
			have_prev = true;
		}
	}
	return false;
}

int op_dwarf_lines_index(struct op_dwarf_lines *d, struct op_elf_bytes line,
			 struct op_elf_bytes line_str, struct op_elf_bytes str)
{
	uint32_t cap = 0;
	size_t off = 0;

	memset(d, 0, sizeof *d);
	d->line = line;
	d->line_str = line_str;
	d->str = str;
	if (!line.p)
		return -1;
	while (line.size - off >= 4 && d->n < OP_DWARF_MAX_UNITS) {
		struct hdr h;
		uint64_t lo = UINT64_MAX, hi = 0;
		bool ok = header(d, off, &h);

		if (!h.unit_end)
			break;          /* its length is unreadable: so is everything after it */
		if (ok && (run(&h, NULL, NULL, &lo, &hi), lo < hi)) {
			if (d->n == cap) {
				uint32_t ncap = cap ? cap * 2 : 64;
				struct op_dwarf_unit *u = realloc(d->units, ncap * sizeof *u);

				if (!u)
					break;
				d->units = u;
				cap = ncap;
			}
			d->units[d->n++] = (struct op_dwarf_unit){ lo, hi, off };
		}
		off = (size_t)(h.unit_end - line.p);
	}
	if (!d->n) {
		op_dwarf_lines_free(d);
		return -1;
	}
	return 0;
}

void op_dwarf_lines_free(struct op_dwarf_lines *d)
{
	free(d->units);
	d->units = NULL;
	d->n = 0;
}

int op_dwarf_line_find(const struct op_dwarf_lines *d, uint64_t addr, char *path, size_t cap,
		       uint32_t *line)
{
	for (uint32_t i = 0; i < d->n; i++) {
		const struct op_dwarf_unit *u = &d->units[i];
		struct row hit;
		struct hdr h;

		/* hi is the end_sequence address: one past the last instruction. */
		if (addr < u->lo || addr >= u->hi || !header(d, u->off, &h))
			continue;
		if (!run(&h, &addr, &hit, NULL, NULL))
			continue;
		if (hit.line == 0 || hit.line > UINT32_MAX || !file_path(&h, hit.file, path, cap))
			return -1;
		*line = (uint32_t)hit.line;
		return 0;
	}
	return -1;
}
