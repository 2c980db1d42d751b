#include "common.h"
#include "envfile.h"
#include "error.h"
#include "path.h"
#include "lockfile.h"
#include "sbuf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Characters a value may hold without quotes, in every reader. */
static bool is_bare_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("_./:@%+,-", c);
}

static bool is_name_char(unsigned char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

bool envfile_valid_name(const char *name)
{
	const char *p;

	if (!name || !*name)
		return false;
	for (p = name; *p; p++)
		if (!is_name_char((unsigned char)*p, p == name))
			return false;
	return true;
}

bool envfile_valid_value(const char *value)
{
	const unsigned char *p;

	if (!value)
		return false;
	/*
	 * Inside single quotes sh takes every byte literally, but
	 * python-dotenv reads \' and \\ as escapes, and compose v1 and v2
	 * have differed on quotes inside values and on non-ASCII bytes: keep
	 * to what all of them read alike.
	 */
	for (p = (const unsigned char *)value; *p; p++)
		if (*p < 0x21 || *p > 0x7e || strchr("'\"`$\\", *p))
			return false;
	return true;
}

void envfile_quote(struct sbuf *out, const char *value)
{
	const char *p;
	bool bare = true;

	assert(envfile_valid_value(value));
	for (p = value; *p; p++)
		if (!is_bare_char((unsigned char)*p))
			bare = false;
	if (bare) {
		sbuf_addstr(out, value);
		return;
	}
	sbuf_addch(out, '\'');
	sbuf_addstr(out, value);
	sbuf_addch(out, '\'');
}

/* A comment line of the block: one line of printable ASCII, no marker. */
static bool valid_comment(const char *text)
{
	const char *p;

	if (!text || !strncmp(text, ">>>", 3) || !strncmp(text, "<<<", 3))
		return false;
	for (p = text; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return false;
	return true;
}

/* The index of the first variable render would refuse, or 'nr'. */
static size_t first_bad_var(const struct envfile_var *vars, size_t nr,
			    bool *twice)
{
	size_t i, j;

	*twice = false;
	for (i = 0; i < nr; i++) {
		if (!vars[i].value) {
			if (!valid_comment(vars[i].name))
				return i;
			continue;
		}
		if (!envfile_valid_name(vars[i].name) ||
		    !envfile_valid_value(vars[i].value))
			return i;
		for (j = 0; j < i; j++)
			if (vars[j].value && !strcmp(vars[i].name, vars[j].name)) {
				*twice = true;
				return i;
			}
	}
	return nr;
}

/* A line of a text: [start, end) without its "\n", 'next' past it. */
struct line {
	size_t start, end, next;
};

/* The line starting at 'pos' (< len). */
static struct line line_at(const char *text, size_t len, size_t pos)
{
	const char *nl = memchr(text + pos, '\n', len - pos);
	struct line l;

	l.start = pos;
	l.end = nl ? (size_t)(nl - text) : len;
	l.next = nl ? l.end + 1 : len;
	return l;
}

static bool line_starts_with(const char *text, const struct line *l,
			     const char *prefix)
{
	size_t n = strlen(prefix);

	return l->end - l->start >= n && !memcmp(text + l->start, prefix, n);
}

/* Where the first block is: the bytes [begin, end), 'end' past its EOL. */
struct block {
	size_t begin, end;
	bool found;
	bool final_eol; /* the end marker line ends with a newline */
	int begin_line; /* 1-based */
	int end_line;
};

/*
 * Find the first block of 'text'. Returns 0 (with 'b->found' false when
 * there is none), or ERR_CORRUPT for a begin marker with no end marker.
 */
static int find_block(struct block *b, const char *text, size_t len)
{
	size_t pos = 0;
	int nr = 0;

	memset(b, 0, sizeof(*b));
	while (pos < len) {
		struct line l = line_at(text, len, pos);

		nr++;
		pos = l.next;
		if (!b->found) {
			if (line_starts_with(text, &l, ENVFILE_BEGIN)) {
				b->found = true;
				b->begin = l.start;
				b->begin_line = nr;
			}
			continue;
		}
		if (line_starts_with(text, &l, ENVFILE_END)) {
			b->end = l.next;
			b->end_line = nr;
			b->final_eol = l.end < len;
			return 0;
		}
	}
	return b->found ? ERR_CORRUPT : 0;
}

/* The text's line ending: that of its first line, "\n" when it has none. */
static const char *eol_of(const char *text, size_t len)
{
	const char *nl = memchr(text, '\n', len);

	return nl && nl > text && nl[-1] == '\r' ? "\r\n" : "\n";
}

static void add_block(struct sbuf *out, const struct envfile_var *vars,
		      size_t nr, const char *eol, bool final_eol)
{
	size_t i;

	sbuf_addstr(out, ENVFILE_BEGIN_LINE);
	sbuf_addstr(out, eol);
	for (i = 0; i < nr; i++) {
		if (!vars[i].value) {
			sbuf_addf(out, "# %s%s", vars[i].name, eol);
			continue;
		}
		sbuf_addf(out, "%s=", vars[i].name);
		envfile_quote(out, vars[i].value);
		sbuf_addstr(out, eol);
	}
	sbuf_addstr(out, ENVFILE_END);
	if (final_eol)
		sbuf_addstr(out, eol);
}

int envfile_render(struct sbuf *out, int *line, const char *old, size_t len,
		   const struct envfile_var *vars, size_t nr)
{
	const char *eol;
	struct block b;
	bool twice;

	if (!len)
		old = ""; /* memchr() and memcpy() want a pointer even for 0 */
	eol = eol_of(old, len);
	if (line)
		*line = 0;
	if (first_bad_var(vars, nr, &twice) < nr)
		return ERR_CONFIG;
	if (find_block(&b, old, len) < 0) {
		if (line)
			*line = b.begin_line;
		return ERR_CORRUPT;
	}
	if (b.found) {
		sbuf_add(out, old, b.begin);
		/*
		 * A block the user left without a final newline stays
		 * without one, so a second render gives the same bytes.
		 */
		if (nr)
			add_block(out, vars, nr, eol, b.final_eol);
		sbuf_add(out, old + b.end, len - b.end);
		return 0;
	}
	sbuf_add(out, old, len);
	if (!nr)
		return 0;
	if (len && old[len - 1] != '\n')
		sbuf_addstr(out, eol);
	add_block(out, vars, nr, eol, true);
	return 0;
}

/*
 * The name a line assigns, as dotenv readers and sh see it: optional
 * blanks, optional "export" and blanks, the name, optional blanks, "=".
 */
static bool line_assigns(const char *text, const struct line *l,
			 const char *name)
{
	const char *p = text + l->start, *end = text + l->end;
	size_t n = strlen(name);

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (end - p > 7 && !memcmp(p, "export", 6) &&
	    (p[6] == ' ' || p[6] == '\t')) {
		p += 6;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
	}
	if ((size_t)(end - p) <= n || memcmp(p, name, n))
		return false;
	p += n;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p < end && *p == '=';
}

void envfile_find_shadowed(const char *text, size_t len,
			   const struct envfile_var *vars, size_t nr,
			   envfile_shadow_fn fn, void *payload)
{
	struct block b;
	size_t pos = 0, i;
	int nr_line = 0;

	if (find_block(&b, text, len) < 0)
		b.found = false;
	while (pos < len) {
		struct line l = line_at(text, len, pos);

		nr_line++;
		pos = l.next;
		if (b.found && nr_line >= b.begin_line && nr_line <= b.end_line)
			continue;
		for (i = 0; i < nr; i++)
			if (vars[i].value &&
			    line_assigns(text, &l, vars[i].name))
				fn(vars[i].name, nr_line,
				   b.found && nr_line > b.end_line, payload);
	}
}

/* Does the '/'-separated 'rel' hold a ".git" component, in any case? */
static bool has_git_component(const char *rel)
{
	const char *p = rel;

	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 4 && !strncasecmp(p, ".git", 4))
			return true;
		p += n;
		while (*p == '/')
			p++;
	}
	return false;
}

/* The part of canonical 'path' below canonical 'top' ("" for top). */
static const char *below(const char *top, const char *path)
{
	const char *p = path + strlen(top);

	while (*p == '/')
		p++;
	return p;
}

/* The components of 'relpath' that mean something: no "", no ".". */
struct components {
	char **items;
	size_t nr, alloc;
};

static void components_release(struct components *c)
{
	size_t i;

	for (i = 0; i < c->nr; i++)
		free(c->items[i]);
	free(c->items);
	c->items = NULL;
	c->nr = c->alloc = 0;
}

static int split_relpath(struct components *out, const char *relpath,
			 const char *file, struct error *err)
{
	const char *p = relpath;
	size_t n;

	if (!*relpath || *relpath == '/')
		return error_set(err, ERR_CONFIG, file, 0, NULL,
				 "'%s' is not a path relative to the worktree",
				 relpath);
	if (relpath[strlen(relpath) - 1] == '/')
		return error_set(err, ERR_CONFIG, file, 0, NULL,
				 "'%s' names a directory, not a file", relpath);
	while (*p) {
		n = strcspn(p, "/");
		if (n == 2 && !memcmp(p, "..", 2))
			return error_set(err, ERR_CONFIG, file, 0, NULL,
					 "'%s' leads outside the worktree",
					 relpath);
		if (n == 4 && !strncasecmp(p, ".git", 4))
			return error_set(err, ERR_CONFIG, file, 0, NULL,
					 "'%s' is inside .git", relpath);
		if (n && !(n == 1 && *p == '.')) {
			ALLOC_GROW(out->items, out->nr + 1, out->alloc);
			out->items[out->nr++] = xstrndup(p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (!out->nr)
		return error_set(err, ERR_CONFIG, file, 0, NULL,
				 "'%s' names a directory, not a file", relpath);
	return 0;
}

/*
 * The canonical directory holding the target: each directory component
 * of 'c' (all but the last) must exist and resolve inside 'top_real',
 * outside .git. The caller frees '*out'.
 */
static int resolve_parent(char **out, const char *top_real,
			  const struct components *c, const char *file,
			  struct error *err)
{
	struct sbuf path = SBUF_INIT, shown = SBUF_INIT;
	char *real = NULL;
	struct stat st;
	size_t i;
	int ret = 0;

	*out = NULL;
	sbuf_addstr(&path, top_real);
	for (i = 0; i + 1 < c->nr; i++) {
		sbuf_addf(&path, "/%s", c->items[i]);
		sbuf_addf(&shown, "%s%s", i ? "/" : "", c->items[i]);
		free(real);
		real = realpath(path.buf, NULL);
		if (!real && (errno == ENOENT || errno == ENOTDIR)) {
			ret = error_set(err, ERR_FAIL, file, 0, NULL,
					"directory '%s' does not exist",
					shown.buf);
			error_hint(
				err,
				"create it, or change [env] file in .worktree-ports.ini");
			goto out;
		}
		if (!real) {
			ret = error_errno(err, file, "cannot resolve '%s'",
					  shown.buf);
			goto out;
		}
		if (!path_is_under(real, top_real)) {
			ret = error_set(
				err, ERR_FAIL, file, 0, NULL,
				"directory '%s' leads outside the worktree",
				shown.buf);
			goto out;
		}
		if (has_git_component(below(top_real, real))) {
			ret = error_set(err, ERR_FAIL, file, 0, NULL,
					"directory '%s' leads into .git",
					shown.buf);
			goto out;
		}
		if (stat(real, &st) < 0) {
			ret = error_errno(err, file, "cannot stat '%s'",
					  shown.buf);
			goto out;
		}
		if (!S_ISDIR(st.st_mode)) {
			ret = error_set(err, ERR_FAIL, file, 0, NULL,
					"'%s' is not a directory", shown.buf);
			goto out;
		}
	}
	*out = real ? real : xstrdup(top_real);
	real = NULL;
out:
	free(real);
	sbuf_release(&path);
	sbuf_release(&shown);
	return ret;
}

/*
 * The file to read and replace: the target itself, or, when it is a
 * symbolic link, the regular file inside 'top_real' it resolves to.
 */
static int resolve_target(char **out, const char *top_real, const char *parent,
			  const char *base, const char *rel, const char *file,
			  struct error *err)
{
	struct sbuf path = SBUF_INIT;
	char *real = NULL;
	struct stat st;
	int ret = 0;

	*out = NULL;
	sbuf_addf(&path, "%s/%s", parent, base);
	if (lstat(path.buf, &st) < 0) {
		if (errno != ENOENT) {
			ret = error_errno(err, file, "cannot stat");
			goto out;
		}
		*out = sbuf_detach(&path);
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		real = realpath(path.buf, NULL);
		if (!real && errno == ENOENT) {
			ret = error_set(
				err, ERR_FAIL, file, 0, NULL,
				"'%s' is a symbolic link to a file that does not exist",
				rel);
			goto out;
		}
		if (!real) {
			ret = error_errno(err, file, "cannot resolve");
			goto out;
		}
		if (!path_is_under(real, top_real)) {
			ret = error_set(
				err, ERR_FAIL, file, 0, NULL,
				"'%s' is a symbolic link leading outside the worktree",
				rel);
			goto out;
		}
		if (has_git_component(below(top_real, real))) {
			ret = error_set(
				err, ERR_FAIL, file, 0, NULL,
				"'%s' is a symbolic link leading into .git",
				rel);
			goto out;
		}
		if (stat(real, &st) < 0) {
			ret = error_errno(err, file, "cannot stat");
			goto out;
		}
	}
	if (!S_ISREG(st.st_mode)) {
		ret = error_set(err, ERR_FAIL, file, 0, NULL,
				"'%s' is not a regular file", rel);
		goto out;
	}
	*out = real ? real : sbuf_detach(&path);
	real = NULL;
out:
	free(real);
	sbuf_release(&path);
	return ret;
}

/*
 * Read the regular file 'path' into 'text'; a missing one is empty. Opened
 * without blocking and checked after opening, so a FIFO put in its place
 * since it was resolved cannot hang the caller.
 */
static int read_target(struct sbuf *text, const char *path, const char *rel,
		       const char *file, struct error *err)
{
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno(err, file, "cannot open");
	}
	if (fstat(fd, &st) < 0) {
		ret = error_errno(err, file, "cannot stat");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = error_set(err, ERR_FAIL, file, 0, NULL,
				"'%s' is not a regular file", rel);
		goto out;
	}
	if (sbuf_read_fd(text, fd, (size_t)st.st_size) < 0)
		ret = error_errno(err, file, "cannot read");
out:
	close(fd);
	return ret;
}

/*
 * 'text' with the comment lines of its block taken out (the notes of what
 * is not set, whose wording may change): what a comparison of the
 * variables looks at.
 */
static void drop_block_comments(struct sbuf *out, const char *text,
				size_t len)
{
	struct block b;
	size_t pos = 0;
	int nr = 0;

	if (find_block(&b, text, len) < 0 || !b.found) {
		sbuf_add(out, text, len);
		return;
	}
	while (pos < len) {
		struct line l = line_at(text, len, pos);

		nr++;
		pos = l.next;
		if (nr > b.begin_line && nr < b.end_line &&
		    text[l.start] == '#')
			continue;
		sbuf_add(out, text + l.start, l.next - l.start);
	}
}

static int update(bool *changed, const char *top, const char *relpath,
		  const struct envfile_var *vars, size_t nr,
		  envfile_shadow_fn shadow, void *payload, bool dry_run,
		  struct error *err)
{
	struct components c = { NULL, 0, 0 };
	struct sbuf file = SBUF_INIT, old = SBUF_INIT, new = SBUF_INIT;
	char *top_real = NULL, *parent = NULL, *target = NULL;
	size_t bad;
	bool twice;
	int line, ret;

	*changed = false;
	sbuf_addf(&file, "%s/%s", top, relpath);
	bad = first_bad_var(vars, nr, &twice);
	if (bad < nr) {
		ret = error_set(
			err, ERR_CONFIG, file.buf, 0, NULL,
			twice ? "variable '%s' is given twice"
			      : "variable '%s' cannot be written to an env file",
			vars[bad].name ? vars[bad].name : "(null)");
		goto out;
	}
	ret = split_relpath(&c, relpath, file.buf, err);
	if (ret)
		goto out;
	top_real = realpath(top, NULL);
	if (!top_real) {
		ret = error_errno(err, top, "cannot resolve the worktree");
		goto out;
	}
	ret = resolve_parent(&parent, top_real, &c, file.buf, err);
	if (ret)
		goto out;
	ret = resolve_target(&target, top_real, parent, c.items[c.nr - 1],
			     relpath, file.buf, err);
	if (ret)
		goto out;
	ret = read_target(&old, target, relpath, file.buf, err);
	if (ret)
		goto out;
	ret = envfile_render(&new, &line, old.buf, old.len, vars, nr);
	if (ret == ERR_CORRUPT) {
		error_set(
			err, ret, file.buf, line, NULL,
			"unterminated git-worktree-ports block; remove it by hand");
		error_hint(
			err,
			"delete the generated lines from that line on, or end them with a line '%s'",
			ENVFILE_END);
		goto out;
	}
	if (ret) {
		error_set(err, ret, file.buf, 0, NULL,
			  "cannot render the variables");
		goto out;
	}
	if (shadow)
		envfile_find_shadowed(new.buf, new.len, vars, nr, shadow,
				      payload);
	if (dry_run) {
		struct sbuf a = SBUF_INIT, b = SBUF_INIT;

		drop_block_comments(&a, old.buf, old.len);
		drop_block_comments(&b, new.buf, new.len);
		*changed = a.len != b.len || memcmp(a.buf, b.buf, a.len);
		sbuf_release(&a);
		sbuf_release(&b);
		goto out;
	}
	if (new.len == old.len && !memcmp(new.buf, old.buf, old.len))
		goto out;
	ret = lockfile_replace(target, new.buf, new.len, 0644, LOCKFILE_HELD,
			       err);
	if (!ret)
		*changed = true;
out:
	components_release(&c);
	sbuf_release(&file);
	sbuf_release(&old);
	sbuf_release(&new);
	free(top_real);
	free(parent);
	free(target);
	return ret;
}

int envfile_update(bool *changed, const char *top, const char *relpath,
		   const struct envfile_var *vars, size_t nr,
		   envfile_shadow_fn shadow, void *payload, struct error *err)
{
	return update(changed, top, relpath, vars, nr, shadow, payload, false,
		      err);
}

int envfile_differs(bool *differs, const char *top, const char *relpath,
		    const struct envfile_var *vars, size_t nr,
		    struct error *err)
{
	return update(differs, top, relpath, vars, nr, NULL, NULL, true, err);
}
