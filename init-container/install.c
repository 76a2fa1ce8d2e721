/*
 * otelpreload-install: the init container's entrypoint. Copies the library
 * tree of the image (default /otelpreload-dist) into the pod's shared
 * volume, then checks every copy against its source.
 *
 *   otelpreload-install [--source DIR] DEST
 *
 * Each file is written under a temporary name in its final directory,
 * flushed with fsync() and renamed into place, so an application container
 * never sees a half-written library, and a restarted init container (the
 * emptyDir outlives it) replaces the files it left. Symbolic links (the
 * per-$LIB names of init-container/README.md) are recreated the same way.
 * Built static: the image has no libc of its own.
 *
 * Exit status 0 with one line on stdout saying what was installed; 1 with
 * a message on stderr naming the path at fault.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_SOURCE "/otelpreload-dist"
/* The tree is two levels deep (lib/x86_64-linux-gnu); more means a wrong source. */
#define MAX_DEPTH 4
/* A library tree holds a few dozen entries; this bounds a wrong source, not a real one. */
#define MAX_ENTRIES 512
#define COPY_CHUNK 65536

struct totals {
	unsigned files, links, dirs, entries;
	unsigned long long bytes;
};

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "otelpreload-install: %s %s: %s\n", what, path, strerror(errno));
	return -1;
}

static int join(char *out, const char *dir, const char *name)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);

	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return fail("path too long:", dir);
	}
	return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t read_full(int fd, char *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* The temporary name of `dst`, in the same directory so rename() is atomic. */
static int temp_name(char *out, const char *dst)
{
	int n = snprintf(out, PATH_MAX, "%s.tmp-%ld", dst, (long)getpid());

	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return fail("path too long:", dst);
	}
	return 0;
}

static int copy_file(const char *src, const char *dst, mode_t mode, struct totals *t)
{
	static char buf[COPY_CHUNK];
	char tmp[PATH_MAX];
	int in, out, rc = -1;
	ssize_t n;

	if (temp_name(tmp, dst))
		return -1;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return fail("cannot open", src);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 0755);
	if (out < 0) {
		fail("cannot create", tmp);
		close(in);
		return -1;
	}
	while ((n = read_full(in, buf, sizeof buf)) > 0) {
		if (write_all(out, buf, (size_t)n)) {
			fail("cannot write", tmp);
			goto done;
		}
		t->bytes += (unsigned long long)n;
	}
	if (n < 0) {
		fail("cannot read", src);
		goto done;
	}
	if (fsync(out)) {
		fail("cannot flush", tmp);
		goto done;
	}
	if (close(out)) {
		out = -1;
		fail("cannot write", tmp);
		goto done;
	}
	out = -1;
	if (rename(tmp, dst)) {
		fail("cannot rename into", dst);
		goto done;
	}
	t->files++;
	rc = 0;
done:
	if (out >= 0)
		close(out);
	if (rc)
		unlink(tmp);
	close(in);
	return rc;
}

static int copy_link(const char *src, const char *dst, struct totals *t)
{
	char target[PATH_MAX], tmp[PATH_MAX];
	ssize_t n = readlink(src, target, sizeof target - 1);

	if (n < 0)
		return fail("cannot read link", src);
	target[n] = '\0';
	/* A link may only point inside the tree: the volume is all the application sees. */
	if (target[0] == '/' || strstr(target, "../../")) {
		errno = EINVAL;
		return fail("link leaves the tree:", src);
	}
	if (temp_name(tmp, dst))
		return -1;
	unlink(tmp);
	if (symlink(target, tmp))
		return fail("cannot create link", tmp);
	if (rename(tmp, dst)) {
		unlink(tmp);
		return fail("cannot rename into", dst);
	}
	t->links++;
	return 0;
}

static int copy_tree(const char *src, const char *dst, int depth, struct totals *t)
{
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		errno = ELOOP;
		return fail("tree too deep at", src);
	}
	if (mkdir(dst, 0755) && errno != EEXIST)
		return fail("cannot create directory", dst);
	if (!(d = opendir(src)))
		return fail("cannot open directory", src);
	while (rc == 0 && (e = readdir(d))) {
		char s[PATH_MAX], o[PATH_MAX];
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (++t->entries > MAX_ENTRIES) {
			errno = E2BIG;
			rc = fail("too many entries under", src);
			break;
		}
		if (join(s, src, e->d_name) || join(o, dst, e->d_name) || lstat(s, &st)) {
			rc = errno ? fail("cannot read", s) : -1;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = copy_tree(s, o, depth + 1, t);
			t->dirs++;
		} else if (S_ISLNK(st.st_mode)) {
			rc = copy_link(s, o, t);
		} else if (S_ISREG(st.st_mode)) {
			rc = copy_file(s, o, st.st_mode, t);
		}
	}
	closedir(d);
	return rc;
}

/* Every installed file equals its source, byte for byte; every link resolves. */
static int verify_tree(const char *src, const char *dst, int depth)
{
	static char a[COPY_CHUNK], b[COPY_CHUNK];
	DIR *d;
	struct dirent *e;
	int rc = 0;

	if (depth > MAX_DEPTH || !(d = opendir(src)))
		return fail("cannot open directory", src);
	while (rc == 0 && (e = readdir(d))) {
		char s[PATH_MAX], o[PATH_MAX];
		struct stat st, ost;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (join(s, src, e->d_name) || join(o, dst, e->d_name) || lstat(s, &st))
			return -1;
		if (S_ISDIR(st.st_mode)) {
			rc = verify_tree(s, o, depth + 1);
		} else if (S_ISLNK(st.st_mode)) {
			if (stat(o, &ost) || !S_ISREG(ost.st_mode)) {
				errno = errno ? errno : ENOENT;
				rc = fail("installed link does not resolve to a file:", o);
			}
		} else if (S_ISREG(st.st_mode)) {
			int fa = open(s, O_RDONLY | O_CLOEXEC), fb = open(o, O_RDONLY | O_CLOEXEC);
			ssize_t na, nb;

			if (fa < 0 || fb < 0) {
				rc = fail("cannot reopen", fa < 0 ? s : o);
			} else {
				do {
					na = read_full(fa, a, sizeof a);
					nb = read_full(fb, b, sizeof b);
				} while (na > 0 && na == nb && !memcmp(a, b, (size_t)na));
				if (na != 0 || nb != 0) {
					errno = EIO;
					rc = fail("installed copy differs from", s);
				}
			}
			if (fa >= 0)
				close(fa);
			if (fb >= 0)
				close(fb);
		}
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	const char *src = DEFAULT_SOURCE, *dst = NULL;
	struct totals t = { 0 };
	struct stat st;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--source") && i + 1 < argc) {
			src = argv[++i];
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: otelpreload-install [--source DIR] DEST\n"
			       "Copies the otelpreload library tree (default " DEFAULT_SOURCE ")\n"
			       "into DEST atomically, then verifies every copy.\n");
			return 0;
		} else if (argv[i][0] == '-' || dst) {
			fprintf(stderr, "otelpreload-install: unexpected argument %s\n"
				"usage: otelpreload-install [--source DIR] DEST\n", argv[i]);
			return 2;
		} else {
			dst = argv[i];
		}
	}
	if (!dst) {
		fprintf(stderr, "usage: otelpreload-install [--source DIR] DEST\n");
		return 2;
	}
	if (stat(src, &st) || !S_ISDIR(st.st_mode)) {
		errno = errno ? errno : ENOTDIR;
		fail("no library tree at", src);
		return 1;
	}
	if (stat(dst, &st) || !S_ISDIR(st.st_mode)) {
		errno = errno ? errno : ENOTDIR;
		fail("no volume at", dst);
		return 1;
	}
	if (copy_tree(src, dst, 0, &t) || verify_tree(src, dst, 0))
		return 1;
	if (t.files == 0) {
		fprintf(stderr, "otelpreload-install: %s holds no file\n", src);
		return 1;
	}
	printf("otelpreload-install: installed and verified %u files, %u links (%llu bytes) in %s\n",
	       t.files, t.links, t.bytes, dst);
	return 0;
}
