#ifndef WTP_UNIT_H
#define WTP_UNIT_H

/*
 * unit: the scratch files the cmocka tests share.
 *
 * Header-only, for tests/unit/test-*.c, and included after <cmocka.h>,
 * because the helpers assert: a file that cannot be written or read
 * fails the test at once. The functions are static inline, so a test
 * that uses only some of them builds without warnings.
 */

#include "sbuf.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Remove 'path' and, if it is a directory, everything in it. Links are
 * removed, not followed. For teardown: it ignores errors and a 'path'
 * that does not exist.
 */
static inline void rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *e;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	d = opendir(path);
	if (d) {
		while ((e = readdir(d))) {
			struct sbuf sub = SBUF_INIT;

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			sbuf_addf(&sub, "%s/%s", path, e->d_name);
			rm_rf(sub.buf);
			sbuf_release(&sub);
		}
		closedir(d);
	}
	rmdir(path);
}

/*
 * Make a new directory "/tmp/test-NAME.XXXXXX" and write its path into
 * 'dir', of 'size' bytes. Returns 0, or -1 (what a cmocka setup returns
 * when it fails) if it cannot.
 */
static inline int make_temp_dir(char *dir, size_t size, const char *name)
{
	int n = snprintf(dir, size, "/tmp/test-%s.XXXXXX", name);

	if (n < 0 || (size_t)n >= size)
		return -1;
	return mkdtemp(dir) ? 0 : -1;
}

/* Create or replace the file 'path', holding 'text'. */
static inline void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(strlen(text), fwrite(text, 1, strlen(text), fp));
	assert_int_equal(0, fclose(fp));
}

/* Replace what 'out' holds with the whole file 'path', which must exist. */
static inline void read_file(struct sbuf *out, const char *path)
{
	sbuf_reset(out);
	assert_int_equal(0, sbuf_read_file(out, path));
}

/* How many entries the directory 'dir' holds, "." and ".." left out. */
static inline size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

#ifdef UNIT_SCRATCH
/*
 * For a test file that defines UNIT_SCRATCH before including this
 * header: its scratch directory 'root' (the test fills it in), and
 * at("rel"), the path 'root/rel', valid until eight more calls: enough
 * for one assertion; sh() runs a command there. unit_at_release() frees
 * the paths, in the teardown.
 */
#include <limits.h>
#include <stdarg.h>

static char root[PATH_MAX];
static char *at_bufs[8];

static inline const char *at(const char *rel)
{
	static unsigned next;
	struct sbuf sb = SBUF_INIT;
	char **slot = &at_bufs[next++ % (sizeof(at_bufs) / sizeof(*at_bufs))];

	sbuf_addf(&sb, "%s%s%s", root, *rel ? "/" : "", rel);
	free(*slot);
	*slot = sbuf_detach(&sb);
	return *slot;
}

/* Run a shell command in 'root', its output into 'root/log'; it must succeed. */
static inline void __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
	struct sbuf cmd = SBUF_INIT;
	va_list ap;
	int rc;

	sbuf_addf(&cmd, "cd '%s' && (", root);
	va_start(ap, fmt);
	sbuf_vaddf(&cmd, fmt, ap);
	va_end(ap);
	sbuf_addf(&cmd, ") >>'%s/log' 2>&1", root);
	rc = system(cmd.buf);
	if (rc)
		fail_msg("command failed (%d): %s", rc, cmd.buf);
	sbuf_release(&cmd);
}

static inline void unit_at_release(void)
{
	size_t i;

	for (i = 0; i < sizeof(at_bufs) / sizeof(*at_bufs); i++) {
		free(at_bufs[i]);
		at_bufs[i] = NULL;
	}
}
#endif

#endif
