/*
 * test-tool env-block MODE FILE: look at the git-worktree-ports block of
 * an env file, byte for byte (docs/env-file.md says where it is).
 *
 *	outside  write the bytes outside the block to stdout: the file with
 *	         the lines from the begin marker to the end marker removed,
 *	         each with its line end
 *	block    write the block's lines, markers included, as they are
 *	vars     print the NAME=VALUE lines between the markers, without
 *	         their line ends; exit 1 unless each is NAME=VALUE
 *
 * A line ends at LF, CR LF or a lone CR. Exit 1 when the file has no
 * complete block (a begin marker with an end marker after it);
 * 'outside' of a file without any marker is the file.
 */
#include "test-tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BEGIN "# >>> git-worktree-ports >>>"
#define END "# <<< git-worktree-ports <<<"

struct line {
	const char *p;
	size_t len; /* with its line end */
	size_t text; /* without it */
};

static size_t split_lines(struct line **out, const char *p, size_t len)
{
	struct line *lines = NULL;
	size_t nr = 0, alloc = 0, i = 0;

	while (i < len) {
		size_t start = i;

		while (i < len && p[i] != '\n' && p[i] != '\r')
			i++;
		if (nr == alloc) {
			alloc = alloc ? 2 * alloc : 64;
			lines = xrealloc(lines, alloc * sizeof(*lines));
		}
		lines[nr].p = p + start;
		lines[nr].text = i - start;
		if (i < len && p[i] == '\r')
			i++;
		if (i < len && p[i] == '\n')
			i++;
		lines[nr].len = i - start;
		nr++;
	}
	*out = lines;
	return nr;
}

static bool starts_with(const struct line *l, const char *prefix)
{
	size_t n = strlen(prefix);

	return l->len >= n && !memcmp(l->p, prefix, n);
}

static bool is_var(const struct line *l)
{
	size_t i = 0;

	if (!l->text || !(l->p[0] == '_' || (l->p[0] >= 'A' && l->p[0] <= 'Z') ||
			  (l->p[0] >= 'a' && l->p[0] <= 'z')))
		return false;
	for (i = 1; i < l->text; i++) {
		char c = l->p[i];

		if (c == '=')
			return true;
		if (!(c == '_' || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return false;
	}
	return false;
}

static void put(const void *p, size_t len)
{
	if (write_all(1, p, len))
		die(1, "cannot write: %s", strerror(errno));
}

int cmd__env_block(int argc, const char **argv)
{
	struct buf data = BUF_INIT;
	struct line *lines;
	size_t nr, i, begin, end;
	const char *mode, *path;

	if (argc != 3 || (strcmp(argv[1], "outside") &&
			  strcmp(argv[1], "block") && strcmp(argv[1], "vars")))
		die(1, "usage: test-tool env-block outside|block|vars FILE");
	mode = argv[1];
	path = argv[2];
	if (read_file(&data, path))
		die(1, "%s: %s", path, strerror(errno));
	nr = split_lines(&lines, data.buf, data.len);
	for (begin = 0; begin < nr; begin++)
		if (starts_with(&lines[begin], BEGIN))
			break;
	if (begin == nr && !strcmp(mode, "outside")) {
		put(data.buf, data.len);
		goto out;
	}
	for (end = begin + 1; end < nr; end++)
		if (starts_with(&lines[end], END))
			break;
	if (begin == nr || end >= nr)
		die(1, "%s: no complete block", path);
	if (!strcmp(mode, "outside")) {
		for (i = 0; i < nr; i++)
			if (i < begin || i > end)
				put(lines[i].p, lines[i].len);
	} else if (!strcmp(mode, "block")) {
		for (i = begin; i <= end; i++)
			put(lines[i].p, lines[i].len);
	} else {
		for (i = begin + 1; i < end; i++) {
			if (!is_var(&lines[i]))
				die(1, "%s: not NAME=VALUE: '%.*s'", path,
				    (int)lines[i].text, lines[i].p);
			put(lines[i].p, lines[i].text);
			put("\n", 1);
		}
	}
out:
	free(lines);
	buf_release(&data);
	return 0;
}
