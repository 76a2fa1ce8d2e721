#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "elfimage.h"
#include "op.h"

/*
 * Bounds on what one file may cost: a larger file is not read at all,
 * more symbols than this are not indexed (a debug build of a browser has
 * a few million; the names we want come from applications).
 */
#define OP_ELF_MAX_FILE ((size_t)2 << 30)
#define OP_ELF_MAX_SYMS (4u << 20)
#define OP_ELF_MAX_SECTIONS 65535u

#ifndef SHF_COMPRESSED
#define SHF_COMPRESSED (1u << 11)
#endif
#ifndef NT_GNU_BUILD_ID
#define NT_GNU_BUILD_ID 3
#endif

/* [off, off + len) lies inside a mapping of `size` bytes. */
static bool inside(uint64_t off, uint64_t len, size_t size)
{
	return off <= size && len <= size - off;
}

size_t op_elf_note_build_id(const uint8_t *p, size_t len, uint8_t out[OP_BUILD_ID_MAX])
{
	size_t off = 0;

	while (len - off >= sizeof(ElfW(Nhdr))) {
		ElfW(Nhdr) n;
		size_t name_sz, desc_sz;

		memcpy(&n, p + off, sizeof n);
		off += sizeof n;
		name_sz = ((size_t)n.n_namesz + 3) & ~(size_t)3;
		desc_sz = ((size_t)n.n_descsz + 3) & ~(size_t)3;
		if (name_sz > len - off || desc_sz > len - off - name_sz)
			return 0;
		if (n.n_type == NT_GNU_BUILD_ID && n.n_namesz == 4 && !memcmp(p + off, "GNU", 4) &&
		    n.n_descsz > 0 && n.n_descsz <= OP_BUILD_ID_MAX) {
			memcpy(out, p + off + name_sz, n.n_descsz);
			return n.n_descsz;
		}
		off += name_sz + desc_sz;
	}
	return 0;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct op_elf_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Among aliases the sized one first (a lookup can use it), then the public name. */
	if ((x->size != 0) != (y->size != 0))
		return x->size ? -1 : 1;
	return (x->rank > y->rank) - (x->rank < y->rank);
}

/* The function symbols of symbol table `sh`, its names in section sh_link. */
static void load_symbols(struct op_elf *e, const uint8_t *base, const ElfW(Shdr) *sh,
			 const ElfW(Shdr) *shdrs, size_t nsec)
{
	const ElfW(Shdr) *str;
	size_t n, k = 0;

	if (sh->sh_entsize != sizeof(ElfW(Sym)) || sh->sh_link >= nsec ||
	    !inside(sh->sh_offset, sh->sh_size, e->map_len))
		return;
	str = &shdrs[sh->sh_link];
	if (str->sh_type != SHT_STRTAB || !inside(str->sh_offset, str->sh_size, e->map_len) ||
	    str->sh_size == 0 || str->sh_size > UINT32_MAX)
		return;
	n = sh->sh_size / sizeof(ElfW(Sym));
	if (n > OP_ELF_MAX_SYMS)
		n = OP_ELF_MAX_SYMS;
	e->syms = malloc((n ? n : 1) * sizeof *e->syms);
	if (!e->syms)
		return;
	for (size_t i = 0; i < n; i++) {
		ElfW(Sym) s;
		int type;

		memcpy(&s, base + sh->sh_offset + i * sizeof s, sizeof s);
		type = ELF64_ST_TYPE(s.st_info);
		if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF ||
		    s.st_value == 0 || s.st_name == 0 || s.st_name >= str->sh_size)
			continue;
		e->syms[k].addr = s.st_value;
		e->syms[k].size = s.st_size;
		e->syms[k].name = s.st_name;
		e->syms[k].rank = ELF64_ST_BIND(s.st_info) == STB_GLOBAL ? 0 :
				  ELF64_ST_BIND(s.st_info) == STB_WEAK ? 1 : 2;
		k++;
	}
	if (k == 0) {
		free(e->syms);
		e->syms = NULL;
		return;
	}
	qsort(e->syms, k, sizeof *e->syms, sym_cmp);
	e->nsyms = (uint32_t)k;
	e->strtab.p = base + str->sh_offset;
	e->strtab.size = str->sh_size;
}

static void take(struct op_elf_bytes *b, const uint8_t *base, const ElfW(Shdr) *sh, size_t map_len)
{
	if (sh->sh_type == SHT_NOBITS || (sh->sh_flags & SHF_COMPRESSED) ||
	    !inside(sh->sh_offset, sh->sh_size, map_len))
		return;
	b->p = base + sh->sh_offset;
	b->size = sh->sh_size;
}

static int index_file(struct op_elf *e)
{
	const uint8_t *base = e->map;
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)base;
	const ElfW(Shdr) *shdrs, *symtab = NULL, *dynsym = NULL, *names;
	size_t nsec, shstrndx;

	if (e->map_len < sizeof *eh || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
	    eh->e_shentsize != sizeof(ElfW(Shdr)) || eh->e_shoff == 0 ||
	    !inside(eh->e_shoff, sizeof(ElfW(Shdr)), e->map_len))
		return -1;
	shdrs = (const ElfW(Shdr) *)(base + eh->e_shoff);
	if (eh->e_shoff % sizeof(void *))
		return -1;      /* the headers are read in place: they must be aligned */
	nsec = eh->e_shnum ? eh->e_shnum : shdrs[0].sh_size;
	shstrndx = eh->e_shstrndx == SHN_XINDEX ? shdrs[0].sh_link : eh->e_shstrndx;
	if (nsec == 0 || nsec > OP_ELF_MAX_SECTIONS ||
	    !inside(eh->e_shoff, nsec * sizeof(ElfW(Shdr)), e->map_len) || shstrndx >= nsec)
		return -1;
	names = &shdrs[shstrndx];
	if (!inside(names->sh_offset, names->sh_size, e->map_len))
		return -1;
	for (size_t i = 0; i < nsec; i++) {
		const ElfW(Shdr) *sh = &shdrs[i];
		const char *name;
		size_t room;

		if (sh->sh_type == SHT_SYMTAB)
			symtab = sh;
		else if (sh->sh_type == SHT_DYNSYM)
			dynsym = sh;
		if (sh->sh_type == SHT_NOTE && !e->build_id_len &&
		    inside(sh->sh_offset, sh->sh_size, e->map_len) && !(sh->sh_offset % 4))
			e->build_id_len = (uint8_t)op_elf_note_build_id(base + sh->sh_offset,
									sh->sh_size, e->build_id);
		if (sh->sh_name >= names->sh_size)
			continue;
		name = (const char *)base + names->sh_offset + sh->sh_name;
		room = names->sh_size - sh->sh_name;
		if (!memchr(name, '\0', room))
			continue;
		if (!strcmp(name, ".debug_line"))
			take(&e->debug_line, base, sh, e->map_len);
		else if (!strcmp(name, ".debug_line_str"))
			take(&e->debug_line_str, base, sh, e->map_len);
		else if (!strcmp(name, ".debug_str"))
			take(&e->debug_str, base, sh, e->map_len);
	}
	if (symtab && symtab->sh_type == SHT_SYMTAB) {
		load_symbols(e, base, symtab, shdrs, nsec);
		e->full_symtab = e->nsyms > 0;
	}
	if (!e->nsyms && dynsym)
		load_symbols(e, base, dynsym, shdrs, nsec);
	return 0;
}

int op_elf_open(struct op_elf *e, const char *path)
{
	struct stat st;
	void *m;
	int fd;

	memset(e, 0, sizeof *e);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(ElfW(Ehdr)) ||
	    (uint64_t)st.st_size > OP_ELF_MAX_FILE) {
		close(fd);
		return -1;
	}
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	e->map = m;
	e->map_len = (size_t)st.st_size;
	if (index_file(e)) {
		op_elf_close(e);
		return -1;
	}
	return 0;
}

void op_elf_close(struct op_elf *e)
{
	if (e->map)
		munmap(e->map, e->map_len);
	free(e->syms);
	memset(e, 0, sizeof *e);
}

const char *op_elf_function(const struct op_elf *e, uint64_t addr, uint64_t *start)
{
	uint32_t lo = 0, hi = e->nsyms;
	const struct op_elf_sym *s;
	const char *name;

	/* The last symbol starting at or before addr. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (e->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* Among aliases at one address the best one sorts first. */
	s = &e->syms[lo - 1];
	while (s > e->syms && s[-1].addr == s->addr)
		s--;
	if (!s->size || addr - s->addr >= s->size)
		return NULL;
	name = (const char *)e->strtab.p + s->name;
	if (!memchr(name, '\0', e->strtab.size - s->name))
		return NULL;
	*start = s->addr;
	return name;
}
