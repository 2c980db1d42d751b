#ifndef WTP_JSONW_H
#define WTP_JSONW_H

/*
 * jsonw: writes the --json output of the commands into an sbuf.
 *
 * A json_t stays inside registry.c; the commands' output is written
 * directly, in the order the documented schema (docs/json.md) gives. The
 * writer tracks nesting so commas come out right:
 *
 *	struct jsonw w = JSONW_INIT;
 *	jsonw_object_begin(&w, NULL);
 *	jsonw_int(&w, "port", 8080);
 *	jsonw_array_begin(&w, "released");
 *	...
 *	jsonw_array_end(&w);
 *	jsonw_object_end(&w);
 *	fputs(w.out.buf, stdout);   (ends with a newline at depth 0)
 *	jsonw_release(&w);
 *
 * 'key' is NULL inside arrays and at the top.
 */

#include "sbuf.h"

#define JSONW_MAX_DEPTH 32

struct jsonw {
	struct sbuf out;
	int depth;
	bool first[JSONW_MAX_DEPTH];
};

#define JSONW_INIT { SBUF_INIT, 0, { true } }

void jsonw_object_begin(struct jsonw *w, const char *key);
void jsonw_object_end(struct jsonw *w);
void jsonw_array_begin(struct jsonw *w, const char *key);
void jsonw_array_end(struct jsonw *w);
/* A string; NULL writes null. */
void jsonw_string(struct jsonw *w, const char *key, const char *value);
void jsonw_int(struct jsonw *w, const char *key, long long value);
/* jsonw_int(), or null when 'value' is 'none' (ALLOCATION_NO_PID, -1). */
void jsonw_int_or_null(struct jsonw *w, const char *key, long long value,
		       long long none);
void jsonw_bool(struct jsonw *w, const char *key, bool value);
void jsonw_null(struct jsonw *w, const char *key);
void jsonw_release(struct jsonw *w);

/* Append 's' as a JSON string literal, quotes included. */
void jsonw_quote(struct sbuf *out, const char *s);

#endif
