#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "elfinfo.h"

/*
 * The mapped file and how to read its words. Every read goes through
 * rd(), which checks the bounds; a read past the end returns 0 and sets
 * `bad`, so one missed check cannot turn into a wild read.
 */
struct reader {
	const uint8_t *p;
	uint64_t size;
	bool msb;
	bool is64;
	bool bad;
};

/* True when [off, off + len) lies inside the file. */
static bool in_file(const struct reader *r, uint64_t off, uint64_t len)
{
	return off <= r->size && len <= r->size - off;
}

static uint64_t rd(struct reader *r, uint64_t off, unsigned size)
{
	uint64_t v = 0;

	if (!in_file(r, off, size)) {
		r->bad = true;
		return 0;
	}
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)r->p[off + (r->msb ? i : size - 1 - i)] << (8 * (size - 1 - i));
	return v;
}

/* An address-sized field (Elf32_Addr/Off or Elf64_Addr/Off, Xword). */
static uint64_t rdw(struct reader *r, uint64_t off)
{
	return rd(r, off, r->is64 ? 8 : 4);
}

/* A NUL-terminated string at `off` that must end before `end`; NULL if it does not. */
static const char *str_at(const struct reader *r, uint64_t off, uint64_t end)
{
	const void *nul;

	if (end > r->size)
		end = r->size;
	if (off >= end)
		return NULL;
	nul = memchr(r->p + off, '\0', (size_t)(end - off));
	return nul ? (const char *)r->p + off : NULL;
}

static void copy_cut(char *dst, size_t cap, const char *src)
{
	snprintf(dst, cap, "%s", src);
}

static void fail(struct op_elf *e, const char *what)
{
	if (!e->err[0])
		snprintf(e->err, sizeof e->err, "%s", what);
}

/* Program and section header fields, per class. */
struct phdr {
	uint32_t type;
	uint64_t offset, vaddr, filesz;
};

struct shdr {
	uint32_t name, type;
	uint64_t offset, size, entsize;
	uint32_t link;
};

static void read_phdr(struct reader *r, uint64_t at, struct phdr *ph)
{
	ph->type = (uint32_t)rd(r, at, 4);
	ph->offset = rdw(r, at + (r->is64 ? 8 : 4));
	ph->vaddr = rdw(r, at + (r->is64 ? 16 : 8));
	ph->filesz = rdw(r, at + (r->is64 ? 32 : 16));
}

static void read_shdr(struct reader *r, uint64_t at, struct shdr *sh)
{
	sh->name = (uint32_t)rd(r, at, 4);
	sh->type = (uint32_t)rd(r, at + 4, 4);
	sh->offset = rdw(r, at + (r->is64 ? 24 : 16));
	sh->size = rdw(r, at + (r->is64 ? 32 : 20));
	sh->link = (uint32_t)rd(r, at + (r->is64 ? 40 : 24), 4);
	sh->entsize = rdw(r, at + (r->is64 ? 56 : 36));
}

struct tables {
	uint64_t phoff, shoff;
	unsigned phnum, shnum, shstrndx;
};

/* The file offset of virtual address `va`, through the PT_LOAD segments; 0 if none maps it. */
static uint64_t va_to_off(struct reader *r, const struct tables *t, uint64_t va, uint64_t *room)
{
	unsigned phsize = r->is64 ? 56 : 32;

	for (unsigned i = 0; i < t->phnum; i++) {
		struct phdr ph;

		read_phdr(r, t->phoff + (uint64_t)i * phsize, &ph);
		if (ph.type == PT_LOAD && va >= ph.vaddr && va - ph.vaddr < ph.filesz &&
		    in_file(r, ph.offset, ph.filesz)) {
			*room = ph.filesz - (va - ph.vaddr);
			return ph.offset + (va - ph.vaddr);
		}
	}
	return 0;
}

static void read_dynamic(struct reader *r, const struct tables *t, const struct phdr *dyn,
			 struct op_elf *e)
{
	unsigned dsize = r->is64 ? 16 : 8, wsize = r->is64 ? 8 : 4;
	uint64_t needed[OP_ELF_MAX_NEEDED], strtab = 0, strsz = 0, strtab_off, room = 0;
	unsigned n = 0;

	if (!in_file(r, dyn->offset, dyn->filesz)) {
		fail(e, "the dynamic section lies outside the file");
		return;
	}
	for (uint64_t at = dyn->offset; at + dsize <= dyn->offset + dyn->filesz; at += dsize) {
		uint64_t tag = rdw(r, at), val = rdw(r, at + wsize);

		if (tag == DT_NULL)
			break;
		if (tag == DT_NEEDED) {
			if (n < OP_ELF_MAX_NEEDED)
				needed[n++] = val;
			else
				e->needed_cut = true;
		} else if (tag == DT_STRTAB) {
			strtab = val;
		} else if (tag == DT_STRSZ) {
			strsz = val;
		} else if (tag == DT_FLAGS_1) {
			e->pie = (val & DF_1_PIE) != 0;
		}
	}
	if (!n)
		return;
	strtab_off = va_to_off(r, t, strtab, &room);
	if (!strtab_off || strsz > room) {
		fail(e, "the dynamic string table lies outside the file");
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const char *s = needed[i] < strsz ?
			str_at(r, strtab_off + needed[i], strtab_off + strsz) : NULL;

		if (!s) {
			fail(e, "a DT_NEEDED name lies outside the string table");
			continue;
		}
		copy_cut(e->needed[e->n_needed++], OP_ELF_NAME_MAX, s);
	}
}

/* Go's build ID note: owner "Go", type 4 (ELF_NOTE_GOBUILDID_TAG in cmd/link). */
static bool go_note(struct reader *r, uint64_t off, uint64_t size)
{
	uint64_t end = off + size;

	if (!in_file(r, off, size))
		return false;
	while (off + 12 <= end) {
		uint64_t namesz = rd(r, off, 4), descsz = rd(r, off + 4, 4);
		uint64_t type = rd(r, off + 8, 4), name = off + 12, next;

		if (namesz > end - name)
			return false;
		next = name + ((namesz + 3) & ~(uint64_t)3);
		if (next > end || descsz > end - next)
			return false;
		if (namesz == 3 && type == 4 && !memcmp(r->p + name, "Go\0", 3))
			return true;
		next += (descsz + 3) & ~(uint64_t)3;
		off = next;
	}
	return false;
}

/* Go's uvarint, within [*at, end). Returns false when it runs past `end` or overflows. */
static bool uvarint(const struct reader *r, uint64_t *at, uint64_t end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *at < end; shift += 7) {
		uint8_t b = r->p[(*at)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/*
 * .go.buildinfo (Go 1.18 and later, flag 2: strings inline): the 14-byte
 * magic, pointer size, flags, padding to 32, then the Go version and the
 * module information, each a uvarint length and bytes. The build settings
 * in the module information say CGO_ENABLED=0 or 1.
 */
static void go_buildinfo(struct reader *r, uint64_t off, uint64_t size, struct op_elf *e)
{
	static const char magic[] = "\xff Go buildinf:";
	uint64_t at = off + 32, end = off + size, len;

	if (!in_file(r, off, size) || size < 32 || memcmp(r->p + off, magic, 14) ||
	    !(r->p[off + 15] & 2))
		return;
	if (!uvarint(r, &at, end, &len) || len > end - at)
		return;
	/* "go1.23.1 X:nocoverageredesign": the version is the first word. */
	for (uint64_t i = 0; i < len && i + 1 < sizeof e->go_version; i++) {
		if (r->p[at + i] <= 0x20 || r->p[at + i] >= 0x7f)
			break;
		e->go_version[i] = (char)r->p[at + i];
	}
	at += len;
	if (!uvarint(r, &at, end, &len) || len > end - at)
		return;
	if (memmem(r->p + at, (size_t)len, "CGO_ENABLED=1", 13))
		e->go_cgo = 1;
	else if (memmem(r->p + at, (size_t)len, "CGO_ENABLED=0", 13))
		e->go_cgo = 0;
}

/*
 * Functions of TLS and HTTP libraries. Defined inside the executable (a
 * static copy), their calls from the program are bound at link time and
 * never reach an interposed symbol.
 */
static const char *const tls_functions[] = {
	"SSL_write", "SSL_read", "SSL_write_ex", "gnutls_record_send", "curl_easy_perform",
	"mbedtls_ssl_write", "wolfSSL_write", "br_sslio_write",
};

static void scan_symbols(struct reader *r, const struct shdr *sym, const struct shdr *str,
			 struct op_elf *e)
{
	uint64_t entsize = r->is64 ? 24 : 16, n, strend;

	if (sym->entsize != entsize || !in_file(r, sym->offset, sym->size) ||
	    !in_file(r, str->offset, str->size)) {
		fail(e, "a symbol table lies outside the file");
		return;
	}
	n = sym->size / entsize;
	strend = str->offset + str->size;
	for (uint64_t i = 1; i < n; i++) {
		uint64_t at = sym->offset + i * entsize;
		uint32_t name = (uint32_t)rd(r, at, 4);
		unsigned shndx = (unsigned)rd(r, at + (r->is64 ? 6 : 14), 2);
		const char *s;

		if (!name || name >= str->size)
			continue;
		s = str_at(r, str->offset + name, strend);
		if (!s)
			continue;
		if (!e->go && !strcmp(s, "runtime.buildVersion"))
			e->go = "the runtime.buildVersion symbol";
		if (shndx == SHN_UNDEF || e->tls_symbol[0])
			continue;
		for (size_t k = 0; k < sizeof tls_functions / sizeof tls_functions[0]; k++)
			if (!strcmp(s, tls_functions[k]))
				copy_cut(e->tls_symbol, sizeof e->tls_symbol, s);
	}
}

/* Names TLS libraries leave in their read-only data (version strings, source paths). */
static const char *const tls_markers[] = {
	"BoringSSL", "OpenSSL 1.", "OpenSSL 3.", "rustls", "mbed TLS", "wolfSSL",
};

static void scan_rodata(const struct reader *r, const struct shdr *sh, struct op_elf *e)
{
	if (e->tls_marker[0] || !in_file(r, sh->offset, sh->size))
		return;
	for (size_t k = 0; k < sizeof tls_markers / sizeof tls_markers[0]; k++)
		if (memmem(r->p + sh->offset, (size_t)sh->size, tls_markers[k],
			   strlen(tls_markers[k]))) {
			copy_cut(e->tls_marker, sizeof e->tls_marker, tls_markers[k]);
			return;
		}
}

static void read_sections(struct reader *r, const struct tables *t, struct op_elf *e)
{
	unsigned shsize = r->is64 ? 64 : 40;
	struct shdr names, sh;

	if (!t->shnum)
		return;
	if (t->shstrndx >= t->shnum || !in_file(r, t->shoff, (uint64_t)t->shnum * shsize)) {
		fail(e, "the section headers lie outside the file");
		return;
	}
	read_shdr(r, t->shoff + (uint64_t)t->shstrndx * shsize, &names);
	if (!in_file(r, names.offset, names.size)) {
		fail(e, "the section names lie outside the file");
		return;
	}
	for (unsigned i = 1; i < t->shnum; i++) {
		const char *name;

		read_shdr(r, t->shoff + (uint64_t)i * shsize, &sh);
		name = sh.name < names.size ?
			str_at(r, names.offset + sh.name, names.offset + names.size) : NULL;
		if (!name)
			name = "";
		if (sh.type == SHT_NOBITS)
			continue;
		if (!strcmp(name, ".go.buildinfo")) {
			e->go = "a .go.buildinfo section";
			go_buildinfo(r, sh.offset, sh.size, e);
		} else if (!e->go && !strcmp(name, ".note.go.buildid")) {
			e->go = "the Go build ID note";
		} else if (!e->go && !strcmp(name, ".gopclntab")) {
			e->go = "a .gopclntab section";
		} else if (!strncmp(name, ".rodata", 7)) {
			scan_rodata(r, &sh, e);
		}
		if ((sh.type == SHT_SYMTAB || sh.type == SHT_DYNSYM) && sh.link &&
		    sh.link < t->shnum) {
			struct shdr str;

			read_shdr(r, t->shoff + (uint64_t)sh.link * shsize, &str);
			scan_symbols(r, &sh, &str, e);
		}
	}
}

static void read_elf(struct reader *r, struct op_elf *e)
{
	unsigned wsize = r->is64 ? 8 : 4, phsize = r->is64 ? 56 : 32, shsize = r->is64 ? 64 : 40;
	struct tables t = { 0 };
	unsigned phentsize, shentsize;

	e->type = (unsigned)rd(r, 16, 2);
	e->machine = (unsigned)rd(r, 18, 2);
	t.phoff = rdw(r, 24 + wsize);
	t.shoff = rdw(r, 24 + 2 * wsize);
	phentsize = (unsigned)rd(r, 24 + 3 * wsize + 6, 2);
	t.phnum = (unsigned)rd(r, 24 + 3 * wsize + 8, 2);
	shentsize = (unsigned)rd(r, 24 + 3 * wsize + 10, 2);
	t.shnum = (unsigned)rd(r, 24 + 3 * wsize + 12, 2);
	t.shstrndx = (unsigned)rd(r, 24 + 3 * wsize + 14, 2);
	if (r->bad) {
		fail(e, "the ELF header is truncated");
		return;
	}
	if (t.shoff && shentsize != shsize) {
		fail(e, "the section header size is wrong");
		t.shoff = 0;
	}
	/* Extended numbering: the real counts are in section header 0. */
	if (t.shoff && (t.shnum == 0 || t.shstrndx == SHN_XINDEX || t.phnum == PN_XNUM)) {
		struct shdr zero;

		read_shdr(r, t.shoff, &zero);
		if (t.shnum == 0)
			t.shnum = zero.size > 65535 * 16 ? 0 : (unsigned)zero.size;
		if (t.shstrndx == SHN_XINDEX)
			t.shstrndx = zero.link;
		if (t.phnum == PN_XNUM)
			t.phnum = (unsigned)rd(r, t.shoff + (r->is64 ? 44 : 28), 4);
	}
	if (!t.shoff)
		t.shnum = 0;
	if (t.phnum && (phentsize != phsize || !in_file(r, t.phoff, (uint64_t)t.phnum * phsize))) {
		fail(e, "the program headers lie outside the file");
		t.phnum = 0;
	}

	for (unsigned i = 0; i < t.phnum; i++) {
		struct phdr ph;

		read_phdr(r, t.phoff + (uint64_t)i * phsize, &ph);
		if (ph.type == PT_INTERP) {
			const char *s = in_file(r, ph.offset, ph.filesz) ?
				str_at(r, ph.offset, ph.offset + ph.filesz) : NULL;

			e->has_interp = true;
			if (s)
				copy_cut(e->interp, sizeof e->interp, s);
			else
				fail(e, "PT_INTERP lies outside the file");
		} else if (ph.type == PT_DYNAMIC) {
			e->has_dynamic = true;
			read_dynamic(r, &t, &ph, e);
		} else if (ph.type == PT_NOTE && !e->go && go_note(r, ph.offset, ph.filesz)) {
			e->go = "the Go build ID note";
		}
	}
	read_sections(r, &t, e);
}

/*
 * Maps `fd` into `r`. Returns 0 for an ELF file of a known class and byte
 * order, 1 for any other file, -1 with errno set when it cannot be mapped.
 */
static int map_elf(int fd, struct reader *r)
{
	struct stat st;
	void *map;

	memset(r, 0, sizeof *r);
	if (fstat(fd, &st) != 0)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = S_ISDIR(st.st_mode) ? EISDIR : EACCES;
		return -1;
	}
	if (st.st_size < EI_NIDENT)
		return 1;
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED)
		return -1;
	r->p = map;
	r->size = (uint64_t)st.st_size;
	if (memcmp(r->p, ELFMAG, SELFMAG)) {
		munmap(map, (size_t)st.st_size);
		r->p = NULL;
		return 1;
	}
	r->is64 = r->p[EI_CLASS] == ELFCLASS64;
	r->msb = r->p[EI_DATA] == ELFDATA2MSB;
	return 0;
}

static void unmap(struct reader *r)
{
	if (r->p)
		munmap((void *)r->p, (size_t)r->size);
}

int op_elf_read(int fd, struct op_elf *e)
{
	struct reader r;
	int rc = map_elf(fd, &r);

	memset(e, 0, sizeof *e);
	e->go_cgo = -1;
	if (rc != 0)
		return rc;
	e->cls = r.p[EI_CLASS];
	e->data = r.p[EI_DATA];
	if ((e->cls != ELFCLASS32 && e->cls != ELFCLASS64) ||
	    (e->data != ELFDATA2LSB && e->data != ELFDATA2MSB)) {
		fail(e, "unknown ELF class or byte order");
	} else {
		read_elf(&r, e);
		if (r.bad)
			fail(e, "a header field points outside the file");
	}
	unmap(&r);
	return 0;
}

int op_elf_dynsyms(int fd, void (*each)(void *arg, const char *name, bool defined, bool weak),
		   void *arg)
{
	struct reader r;
	struct shdr sh, str;
	unsigned wsize, shsize, shnum;
	uint64_t shoff, entsize;
	int found = -1;

	if (map_elf(fd, &r) != 0)
		return -1;
	wsize = r.is64 ? 8 : 4;
	shsize = r.is64 ? 64 : 40;
	entsize = r.is64 ? 24 : 16;
	shoff = rdw(&r, 24 + 2 * wsize);
	shnum = (unsigned)rd(&r, 24 + 3 * wsize + 12, 2);
	if (r.bad || rd(&r, 24 + 3 * wsize + 10, 2) != shsize ||
	    !in_file(&r, shoff, (uint64_t)shnum * shsize))
		shnum = 0;
	for (unsigned i = 1; i < shnum && found < 0; i++) {
		read_shdr(&r, shoff + (uint64_t)i * shsize, &sh);
		if (sh.type != SHT_DYNSYM || !sh.link || sh.link >= shnum)
			continue;
		read_shdr(&r, shoff + (uint64_t)sh.link * shsize, &str);
		if (sh.entsize != entsize || !in_file(&r, sh.offset, sh.size) ||
		    !in_file(&r, str.offset, str.size))
			break;
		found = 0;
		for (uint64_t k = 1; k < sh.size / entsize; k++) {
			uint64_t at = sh.offset + k * entsize;
			uint32_t name = (uint32_t)rd(&r, at, 4);
			unsigned info = (unsigned)rd(&r, at + (r.is64 ? 4 : 12), 1);
			unsigned shndx = (unsigned)rd(&r, at + (r.is64 ? 6 : 14), 2);
			const char *s = name && name < str.size ?
				str_at(&r, str.offset + name, str.offset + str.size) : NULL;

			if (s && *s)
				each(arg, s, shndx != SHN_UNDEF, ELF64_ST_BIND(info) == STB_WEAK);
		}
	}
	unmap(&r);
	return found;
}

const char *op_elf_machine_name(unsigned machine)
{
	switch (machine) {
	case EM_386: return "i386";
	case EM_X86_64: return "x86-64";
	case EM_AARCH64: return "AArch64";
	case EM_ARM: return "ARM";
	case EM_RISCV: return "RISC-V";
	case EM_PPC: return "PowerPC";
	case EM_PPC64: return "PowerPC64";
	case EM_S390: return "s390";
	case EM_MIPS: return "MIPS";
#ifdef EM_LOONGARCH
	case EM_LOONGARCH: return "LoongArch";
#endif
	default: return NULL;
	}
}

bool op_elf_needs(const struct op_elf *e, const char *prefix, const char **name)
{
	size_t len = strlen(prefix);

	for (unsigned i = 0; i < e->n_needed; i++)
		if (!strncmp(e->needed[i], prefix, len)) {
			if (name)
				*name = e->needed[i];
			return true;
		}
	return false;
}
