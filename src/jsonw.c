#include "common.h"
#include "jsonw.h"

#include <stdio.h>

static bool plain(unsigned char c)
{
	return c >= 0x20 && c != 0x7f && c != '"' && c != '\\';
}

void jsonw_quote(struct sbuf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	sbuf_addch(out, '"');
	while (*p) {
		const unsigned char *run = p;

		/* most strings are all plain: copy runs, not characters */
		while (*p && plain(*p))
			p++;
		if (p > run)
			sbuf_add(out, run, (size_t)(p - run));
		if (!*p)
			break;
		switch (*p) {
		case '"':
			sbuf_addstr(out, "\\\"");
			break;
		case '\\':
			sbuf_addstr(out, "\\\\");
			break;
		case '\n':
			sbuf_addstr(out, "\\n");
			break;
		case '\r':
			sbuf_addstr(out, "\\r");
			break;
		case '\t':
			sbuf_addstr(out, "\\t");
			break;
		default:
			sbuf_addf(out, "\\u%04x", *p);
		}
		p++;
	}
	sbuf_addch(out, '"');
}

static void key(struct jsonw *w, const char *k)
{
	if (w->depth > 0) {
		if (!w->first[w->depth])
			sbuf_addch(&w->out, ',');
		w->first[w->depth] = false;
	}
	if (k) {
		jsonw_quote(&w->out, k);
		sbuf_addch(&w->out, ':');
	}
}

static void open(struct jsonw *w, const char *k, char c)
{
	key(w, k);
	sbuf_addch(&w->out, c);
	if (w->depth + 1 >= JSONW_MAX_DEPTH)
		abort(); /* a programming error: the schemas are shallow */
	w->depth++;
	w->first[w->depth] = true;
}

static void close_(struct jsonw *w, char c)
{
	sbuf_addch(&w->out, c);
	w->depth--;
	if (!w->depth)
		sbuf_addch(&w->out, '\n');
}

void jsonw_object_begin(struct jsonw *w, const char *k)
{
	open(w, k, '{');
}

void jsonw_object_end(struct jsonw *w)
{
	close_(w, '}');
}

void jsonw_array_begin(struct jsonw *w, const char *k)
{
	open(w, k, '[');
}

void jsonw_array_end(struct jsonw *w)
{
	close_(w, ']');
}

void jsonw_string(struct jsonw *w, const char *k, const char *value)
{
	key(w, k);
	if (value)
		jsonw_quote(&w->out, value);
	else
		sbuf_addstr(&w->out, "null");
}

void jsonw_int(struct jsonw *w, const char *k, long long value)
{
	key(w, k);
	sbuf_addf(&w->out, "%lld", value);
}

void jsonw_int_or_null(struct jsonw *w, const char *k, long long value,
		       long long none)
{
	if (value == none)
		jsonw_null(w, k);
	else
		jsonw_int(w, k, value);
}

void jsonw_bool(struct jsonw *w, const char *k, bool value)
{
	key(w, k);
	sbuf_addstr(&w->out, value ? "true" : "false");
}

void jsonw_null(struct jsonw *w, const char *k)
{
	key(w, k);
	sbuf_addstr(&w->out, "null");
}

void jsonw_release(struct jsonw *w)
{
	sbuf_release(&w->out);
	w->depth = 0;
}
