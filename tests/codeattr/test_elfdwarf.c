/*
 * The symboliser's file readers (preload/elfimage.c, preload/dwarfline.c)
 * on this very program: its functions and lines are found; then on
 * hundreds of damaged copies of it (bytes flipped in its section headers,
 * symbol tables and .debug_line, lengths cut short), every one opened,
 * indexed and searched at random addresses, which must end in an answer
 * or none, never in a read outside the file (ASan and valgrind builds
 * check that).
 */
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "preload/dwarfline.h"
#include "preload/elfimage.h"

static int failures;

#define CHECK(c) \
	do { \
		if (!(c)) { \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
			failures++; \
		} \
	} while (0)

__attribute__((noinline)) int probe_target(int x);

int probe_target(int x)
{
	return x * 3 + 1;
}

static int bias_cb(struct dl_phdr_info *i, size_t size, void *arg)
{
	(void)size;
	*(uintptr_t *)arg = i->dlpi_addr;   /* the first object is the program */
	return 1;
}

static uintptr_t program_bias(void)
{
	uintptr_t b = 0;

	dl_iterate_phdr(bias_cb, &b);
	return b;
}

static void find_self(const char *exe)
{
	struct op_elf e;
	struct op_dwarf_lines d;
	uint64_t addr = (uint64_t)((uintptr_t)&probe_target - program_bias()), start = 0;
	const char *name;
	char path[512];
	uint32_t line = 0;

	CHECK(op_elf_open(&e, exe) == 0);
	name = op_elf_function(&e, addr + 1, &start);
	CHECK(name && !strcmp(name, "probe_target"));
	CHECK(start == addr);
	CHECK(op_elf_function(&e, 0, &start) == NULL);
	CHECK(op_dwarf_lines_index(&d, e.debug_line, e.debug_line_str, e.debug_str) == 0);
	CHECK(op_dwarf_line_find(&d, addr, path, sizeof path, &line) == 0);
	CHECK(strlen(path) > 15 && !strcmp(path + strlen(path) - 15, "test_elfdwarf.c"));
	CHECK(line > 30 && line < 40);
	/* A path longer than the room is cut, still terminated. */
	CHECK(op_dwarf_line_find(&d, addr, path, 8, &line) == 0 && strlen(path) == 7);
	op_dwarf_lines_free(&d);
	op_elf_close(&e);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc((size_t)n)) || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		perror(path);
		exit(2);
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Where the damage goes: the section headers, or inside one of the read sections. */
static size_t target(const unsigned char *img, size_t len, unsigned r)
{
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)img;
	const ElfW(Shdr) *sh = (const ElfW(Shdr) *)(img + eh->e_shoff);
	const char *names = (const char *)img + sh[eh->e_shstrndx].sh_offset;
	static const char *const wanted[] = { ".debug_line", ".symtab", ".strtab", ".debug_line_str" };
	const char *want = wanted[r % 4];

	if (r % 5 == 0)
		return eh->e_shoff + (size_t)(r / 5) % ((size_t)eh->e_shnum * sizeof *sh);
	for (unsigned i = 0; i < eh->e_shnum; i++)
		if (!strcmp(names + sh[i].sh_name, want) && sh[i].sh_size)
			return sh[i].sh_offset + (size_t)(r / 7) % sh[i].sh_size;
	return (size_t)r % len;
}

static void damaged(const char *exe, unsigned rounds)
{
	size_t len;
	unsigned char *orig = slurp(exe, &len), *img = malloc(len);
	char tmp[] = "/tmp/op-elfdwarf.XXXXXX";
	int fd = mkstemp(tmp);
	unsigned opened = 0, indexed = 0, found = 0;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (fd < 0 || !img) {
		perror("mkstemp");
		exit(2);
	}
	srand(12345);
	for (unsigned i = 0; i < rounds; i++) {
		size_t n = len;
		struct op_elf e;
		struct op_dwarf_lines d;

		memcpy(img, orig, len);
		for (int k = 0, flips = 1 + rand() % 16; k < flips; k++) {
			size_t at = target(orig, len, (unsigned)rand());
			int how = rand() % 4;

			img[at % len] = how == 0 ? 0xff : how == 1 ? 0 : how == 2 ? 0x80 : (unsigned char)rand();
		}
		if (i % 9 == 0)
			n = (size_t)rand() % len;       /* cut short */
		/*
		 * Padded with zeros to a whole number of pages: a read past the
		 * end of the mapping faults (the page after it is usually
		 * unmapped) instead of reading the zeros that fill the last page.
		 */
		if (ftruncate(fd, 0) || pwrite(fd, img, n, 0) != (ssize_t)n ||
		    ftruncate(fd, (off_t)((n + page - 1) & ~(page - 1)))) {
			perror("write");
			exit(2);
		}
		if (op_elf_open(&e, tmp) != 0)
			continue;
		opened++;
		for (int k = 0; k < 64; k++) {
			uint64_t a = ((uint64_t)rand() << 16 ^ (uint64_t)rand()) % (len * 2), s;
			const char *name = op_elf_function(&e, a, &s);

			CHECK(!name || strlen(name) < len);
		}
		if (op_dwarf_lines_index(&d, e.debug_line, e.debug_line_str, e.debug_str) == 0) {
			indexed++;
			for (int k = 0; k < 64; k++) {
				char path[256];
				uint32_t line;
				uint64_t a = d.units[(unsigned)rand() % d.n].lo + (unsigned)rand() % 4096;

				if (op_dwarf_line_find(&d, a, path, sizeof path, &line) == 0) {
					CHECK(strlen(path) < sizeof path && line > 0);
					found++;
				}
			}
			op_dwarf_lines_free(&d);
		}
		op_elf_close(&e);
	}
	/* The damage must leave most copies readable, or the searches were never tried. */
	printf("-- %u damaged copies: %u opened, %u with line tables, %u lines found\n", rounds,
	       opened, indexed, found);
	CHECK(opened > rounds / 2 && indexed > rounds / 4 && found > 0);
	close(fd);
	unlink(tmp);
	free(img);
	free(orig);
}

int main(int argc, char **argv)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (n <= 0) {
		fprintf(stderr, "%s: cannot read /proc/self/exe\n", argv[0]);
		return 2;
	}
	exe[n] = '\0';
	find_self(exe);
	damaged(exe, argc > 1 ? (unsigned)atoi(argv[1]) : 600);
	if (failures)
		return 1;
	printf("PASS: unit_elfdwarf\n");
	return 0;
}
