#include "common.h"
#include "envfile.h"
#include "error.h"
#include "sbuf.h"

#include <assert.h>

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

/* The index of the first variable render would refuse, or 'nr'. */
static size_t first_bad_var(const struct envfile_var *vars, size_t nr,
			    bool *twice)
{
	size_t i, j;

	*twice = false;
	for (i = 0; i < nr; i++) {
		if (!envfile_valid_name(vars[i].name) ||
		    !envfile_valid_value(vars[i].value))
			return i;
		for (j = 0; j < i; j++)
			if (!strcmp(vars[i].name, vars[j].name)) {
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
			if (line_assigns(text, &l, vars[i].name))
				fn(vars[i].name, nr_line, payload);
	}
}
