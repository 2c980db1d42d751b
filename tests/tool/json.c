/*
 * JSON subcommands, on jansson:
 *
 *	test-tool json-get FILE PATH
 *	test-tool json-lines FILE PATH KEY...
 *	test-tool set-ranges REGISTRY NAME:START-END...
 *
 * json-get prints one value of a JSON document (FILE '-': stdin). PATH
 * is a list of steps, separated by dots:
 *
 *	name        the member 'name' of an object
 *	3           element 3 of an array
 *	[k=v,...]   the elements of an array whose members k... equal v...
 *	            (compared as text); a step after it needs exactly one
 *	            match
 *	#           the length of an array or object
 *	@keys       the names of an object's members, sorted, one a line
 *	@type       null, bool, number, string, array or object
 *
 * An empty PATH is the whole document. Strings print as they are, null,
 * true and false as such, numbers as Python's repr() writes them, arrays
 * and objects as compact JSON with sorted keys and \u escapes for all
 * but printable ASCII. A step that does not exist is an error (exit 1),
 * never a silent empty answer.
 *
 * json-lines prints a line for each element of the array PATH leads to
 * (all of the matches, after a [k=v] step), or for each member of the
 * object, by sorted name: the text of its members KEY..., separated by
 * spaces, where the KEY @name is the name of an object's member. A
 * missing member is an error.
 *
 * set-ranges replaces the "ranges" of a registry with the ones given,
 * each with the description "test range NAME", and keeps everything
 * else; it writes the file with an indent of two and a final newline.
 */
#include "test-tool.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The loaded document, kept reachable until exit. */
static json_t *doc;

static void load_doc(const char *path)
{
	struct buf b = BUF_INIT;
	json_error_t jerr;

	if (read_file(&b, path))
		die(1, "%s: %s", path, strerror(errno));
	doc = json_loadb(b.buf, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
			 &jerr);
	buf_release(&b);
	if (!doc)
		die(1, "%s: %d:%d: %s", path, jerr.line, jerr.column,
		    jerr.text);
}

static const char *kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_NULL:
		return "null";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_STRING:
		return "string";
	case JSON_ARRAY:
		return "array";
	default:
		return "object";
	}
}

/*
 * A double as Python's repr() writes it: the fewest digits that read
 * back the same, in positional notation from 1e-4 to below 1e16 (with
 * ".0" when it is whole) and as "1.5e+16" outside.
 */
static void add_real(struct buf *b, double d)
{
	char tmp[40], digits[24];
	int prec, exp10, decpt, nd = 0;
	const char *p;

	for (prec = 1; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
	p = tmp;
	if (*p == '-') {
		buf_addstr(b, "-");
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p != '.')
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	exp10 = atoi(p + 1);
	decpt = exp10 + 1;
	if (decpt <= -4 || decpt > 16) {
		buf_add(b, digits, 1);
		if (nd > 1) {
			buf_addstr(b, ".");
			buf_add(b, digits + 1, (size_t)nd - 1);
		}
		buf_addf(b, "e%c%02d", exp10 < 0 ? '-' : '+',
			 exp10 < 0 ? -exp10 : exp10);
	} else if (decpt <= 0) {
		buf_addstr(b, "0.");
		for (; decpt < 0; decpt++)
			buf_addstr(b, "0");
		buf_addstr(b, digits);
	} else if (decpt >= nd) {
		buf_addstr(b, digits);
		for (; decpt > nd; decpt--)
			buf_addstr(b, "0");
		buf_addstr(b, ".0");
	} else {
		buf_add(b, digits, (size_t)decpt);
		buf_addstr(b, ".");
		buf_addstr(b, digits + decpt);
	}
}

/* The next code point of UTF-8 's' (jansson has checked it). */
static unsigned long utf8_next(const unsigned char **s)
{
	const unsigned char *p = *s;
	unsigned long c = *p++;
	int more = 0;

	if (c >= 0xf0) {
		c &= 0x07;
		more = 3;
	} else if (c >= 0xe0) {
		c &= 0x0f;
		more = 2;
	} else if (c >= 0xc0) {
		c &= 0x1f;
		more = 1;
	}
	while (more-- && (*p & 0xc0) == 0x80)
		c = (c << 6) | (*p++ & 0x3f);
	*s = p;
	return c;
}

/* A JSON string with the escapes of Python's json.dumps(). */
static void add_quoted(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	const unsigned char *end = p + len;

	buf_addstr(b, "\"");
	while (p < end) {
		unsigned long c;

		if (*p == '"' || *p == '\\') {
			buf_addf(b, "\\%c", *p++);
			continue;
		}
		if (*p >= 0x20 && *p < 0x7f) {
			buf_add(b, p++, 1);
			continue;
		}
		switch (*p) {
		case '\b':
			buf_addstr(b, "\\b");
			p++;
			continue;
		case '\f':
			buf_addstr(b, "\\f");
			p++;
			continue;
		case '\n':
			buf_addstr(b, "\\n");
			p++;
			continue;
		case '\r':
			buf_addstr(b, "\\r");
			p++;
			continue;
		case '\t':
			buf_addstr(b, "\\t");
			p++;
			continue;
		}
		c = utf8_next(&p);
		if (c > 0xffff) {
			c -= 0x10000;
			buf_addf(b, "\\u%04lx\\u%04lx", 0xd800 + (c >> 10),
				 0xdc00 + (c & 0x3ff));
		} else {
			buf_addf(b, "\\u%04lx", c);
		}
	}
	buf_addstr(b, "\"");
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names of an object's members, sorted; free the array only. */
static const char **sorted_keys(const json_t *obj, size_t *nr)
{
	const char **keys = xmalloc(json_object_size(obj) * sizeof(*keys));
	const char *key;
	json_t *v;

	*nr = 0;
	json_object_foreach((json_t *)obj, key, v)
		keys[(*nr)++] = key;
	qsort(keys, *nr, sizeof(*keys), compare_keys);
	return keys;
}

/* Compact JSON with sorted keys, as json.dumps(sort_keys=True) writes. */
static void add_json(struct buf *b, const json_t *v)
{
	size_t i, nr;

	switch (json_typeof(v)) {
	case JSON_NULL:
		buf_addstr(b, "null");
		break;
	case JSON_TRUE:
		buf_addstr(b, "true");
		break;
	case JSON_FALSE:
		buf_addstr(b, "false");
		break;
	case JSON_INTEGER:
		buf_addf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		add_real(b, json_real_value(v));
		break;
	case JSON_STRING:
		add_quoted(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_ARRAY:
		buf_addstr(b, "[");
		for (i = 0; i < json_array_size(v); i++) {
			if (i)
				buf_addstr(b, ",");
			add_json(b, json_array_get(v, i));
		}
		buf_addstr(b, "]");
		break;
	case JSON_OBJECT: {
		const char **keys = sorted_keys(v, &nr);

		buf_addstr(b, "{");
		for (i = 0; i < nr; i++) {
			if (i)
				buf_addstr(b, ",");
			add_quoted(b, keys[i], strlen(keys[i]));
			buf_addstr(b, ":");
			add_json(b, json_object_get(v, keys[i]));
		}
		buf_addstr(b, "}");
		free(keys);
		break;
	}
	}
}

/* A value as text: strings as they are, the rest as JSON. */
static void add_text(struct buf *b, const json_t *v)
{
	if (json_is_string(v))
		buf_add(b, json_string_value(v), json_string_length(v));
	else
		add_json(b, v);
}

/* Does the object 'e' match every "k=v" of 'sel' (split on ',')? */
static bool matches(const json_t *e, const char *sel, const char *path)
{
	const char *p = sel;
	bool ok = true;

	if (!json_is_object(e))
		return false;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		struct buf text = BUF_INIT;
		char *key;
		json_t *member;

		if (!eq)
			die(1, "%s: [%s]: '%.*s' is not KEY=VALUE", path, sel,
			    (int)len, p);
		key = xstrndup(p, (size_t)(eq - p));
		member = json_object_get(e, key);
		free(key);
		if (member) {
			add_text(&text, member);
			if (text.len != len - (size_t)(eq + 1 - p) ||
			    memcmp(text.buf ? text.buf : "", eq + 1, text.len))
				ok = false;
		} else {
			ok = false;
		}
		buf_release(&text);
		if (!ok || !comma)
			return ok;
		p = comma + 1;
	}
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/*
 * Follow 'path' from 'cur'. The result is a new reference; '*filtered'
 * says it is the array of the matches of a last [k=v] step, still to be
 * reduced to one. An @keys step prints the keys and returns NULL: the
 * steps after it are ignored.
 */
/*
 * The next step of a path at '*p', into '*step' (the caller frees it):
 * false at the end. '*is_sel' says it is a [k=v] selector, given without
 * its brackets. '*start' is where it begins in the path.
 */
static bool next_step(const char **p, char **step, bool *is_sel,
		      const char **start)
{
	while (**p) {
		const char *close;
		size_t len;

		if (**p == '.') {
			(*p)++;
			continue;
		}
		*start = *p;
		if (**p == '[') {
			close = strchr(*p + 1, ']');
			if (!close) {
				(*p)++; /* neither a selector nor a name */
				continue;
			}
			*step = xstrndup(*p + 1, (size_t)(close - *p - 1));
			*is_sel = true;
			*p = close + 1;
		} else {
			len = strcspn(*p, ".[");
			*step = xstrndup(*p, len);
			*is_sel = false;
			*p += len;
		}
		return true;
	}
	return false;
}

static json_t *walk(json_t *cur, const char *path, bool *filtered)
{
	const char *p = path, *start;
	char *step;
	bool is_sel;

	json_incref(cur);
	*filtered = false;
	while (next_step(&p, &step, &is_sel, &start)) {
		const char *sel = is_sel ? step : NULL;
		json_t *next;

		if (*filtered &&
		    (sel || (strcmp(step, "#") && strcmp(step, "@type")))) {
			if (json_array_size(cur) != 1)
				die(1, "%s: %zu elements match before '%s'",
				    path, json_array_size(cur), step);
			next = json_incref(json_array_get(cur, 0));
			json_decref(cur);
			cur = next;
			*filtered = false;
		}

		if (sel) {
			size_t i;

			if (!json_is_array(cur))
				die(1, "%s: [%s] on %s", path, sel, kind(cur));
			next = json_array();
			for (i = 0; i < json_array_size(cur); i++)
				if (matches(json_array_get(cur, i), sel, path))
					json_array_append(next,
							  json_array_get(cur, i));
			*filtered = true;
		} else if (!strcmp(step, "#")) {
			if (!json_is_array(cur) && !json_is_object(cur))
				die(1, "%s: # on %s", path, kind(cur));
			next = json_integer((json_int_t)(json_is_array(cur) ?
				json_array_size(cur) : json_object_size(cur)));
			*filtered = false;
		} else if (!strcmp(step, "@keys")) {
			struct buf out = BUF_INIT;
			const char **keys;
			size_t i, nr;

			if (!json_is_object(cur))
				die(1, "%s: @keys on %s", path, kind(cur));
			keys = sorted_keys(cur, &nr);
			for (i = 0; i < nr; i++) {
				buf_addstr(&out, keys[i]);
				buf_addstr(&out, i + 1 < nr ? "\n" : "");
			}
			buf_addstr(&out, "\n");
			if (out.len)
				fwrite(out.buf, 1, out.len, stdout);
			buf_release(&out);
			free(keys);
			free(step);
			json_decref(cur);
			return NULL;
		} else if (!strcmp(step, "@type")) {
			next = json_string(*filtered ? "array" : kind(cur));
			*filtered = false;
		} else if (json_is_array(cur) && all_digits(step)) {
			char *end;
			unsigned long long i;

			errno = 0;
			i = strtoull(step, &end, 10);
			if (errno || i >= json_array_size(cur))
				die(1, "%s: no element %s", path, step);
			next = json_incref(json_array_get(cur, (size_t)i));
		} else if (json_is_object(cur)) {
			next = json_object_get(cur, step);
			if (!next)
				die(1, "%s: no member '%s'", path, step);
			json_incref(next);
		} else {
			die(1, "%s: '%s' on %s", path, step, kind(cur));
		}
		json_decref(cur);
		cur = next;
		free(step);
	}
	return cur;
}

int cmd__json_get(int argc, const char **argv)
{
	struct buf out = BUF_INIT;
	bool filtered;
	json_t *v;

	if (argc != 3)
		die(1, "usage: test-tool json-get FILE PATH");
	load_doc(argv[1]);
	v = walk(doc, argv[2], &filtered);
	if (!v)
		return 0;
	if (filtered) {
		json_t *one;

		if (json_array_size(v) != 1)
			die(1, "%s: %zu elements match", argv[2],
			    json_array_size(v));
		one = json_incref(json_array_get(v, 0));
		json_decref(v);
		v = one;
	}
	add_text(&out, v);
	buf_addstr(&out, "\n");
	if (out.len)
		fwrite(out.buf, 1, out.len, stdout);
	buf_release(&out);
	json_decref(v);
	json_decref(doc);
	return 0;
}

int cmd__json_lines(int argc, const char **argv)
{
	struct buf out = BUF_INIT;
	const char **names = NULL;
	bool filtered;
	json_t *v;
	size_t i, nr;
	int k;

	if (argc < 4)
		die(1, "usage: test-tool json-lines FILE PATH KEY...");
	load_doc(argv[1]);
	v = walk(doc, argv[2], &filtered);
	if (!v || (!json_is_array(v) && !json_is_object(v)))
		die(1, "%s: neither an array nor an object", argv[2]);
	if (json_is_object(v))
		names = sorted_keys(v, &nr);
	else
		nr = json_array_size(v);
	for (i = 0; i < nr; i++) {
		json_t *e = names ? json_object_get(v, names[i]) :
			json_array_get(v, i);

		for (k = 3; k < argc; k++) {
			json_t *m = json_is_object(e) ?
				json_object_get(e, argv[k]) : NULL;

			if (k > 3)
				buf_addstr(&out, " ");
			if (names && !strcmp(argv[k], "@name")) {
				buf_addstr(&out, names[i]);
				continue;
			}
			if (!m)
				die(1, "%s: element %zu has no member '%s'",
				    argv[2], i, argv[k]);
			add_text(&out, m);
		}
		buf_addstr(&out, "\n");
	}
	if (out.len)
		fwrite(out.buf, 1, out.len, stdout);
	buf_release(&out);
	free(names);
	json_decref(v);
	json_decref(doc);
	return 0;
}

static long parse_long(const char *s, const char *spec)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno)
		die(1, "'%s': '%s' is not a number", spec, s);
	return v;
}

/* Write the document to 'path', with an indent of two. */
static void write_doc(const char *path)
{
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_ENSURE_ASCII |
				JSON_ENCODE_ANY);
	int fd;

	if (!text)
		die(1, "%s: cannot write the JSON", path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0 || write_all(fd, text, strlen(text)) ||
	    write_all(fd, "\n", 1) || close(fd))
		die(1, "%s: %s", path, strerror(errno));
	free(text);
}

/* The value at 'path', which must be one. A new reference. */
static json_t *walk_one(const char *path)
{
	bool filtered;
	json_t *v = walk(doc, path, &filtered), *one;

	if (!v)
		die(1, "%s: @keys leads to no value", path);
	if (!filtered)
		return v;
	if (json_array_size(v) != 1)
		die(1, "%s: %zu elements match", path, json_array_size(v));
	one = json_incref(json_array_get(v, 0));
	json_decref(v);
	return one;
}

int cmd__json_edit(int argc, const char **argv)
{
	const char *file, *op, *path, *p, *start = NULL, *last_start = NULL;
	char *prefix, *step = NULL, *last = NULL;
	json_t *parent, *value = NULL;
	bool is_sel = false, last_sel = false;
	json_error_t jerr;

	if (argc < 4 || (strcmp(argv[2], "delete") ? argc != 5 : argc != 4))
		die(1, "usage: test-tool json-edit FILE (set|append) PATH JSON"
		       " | FILE delete PATH");
	file = argv[1];
	op = argv[2];
	path = argv[3];
	load_doc(file);
	if (argc == 5) {
		value = json_loads(argv[4], JSON_DECODE_ANY | JSON_ALLOW_NUL,
				   &jerr);
		if (!value)
			die(1, "'%s': %s", argv[4], jerr.text);
	}
	if (!strcmp(op, "append")) {
		json_t *array = walk_one(path);

		if (!json_is_array(array))
			die(1, "%s: append to %s", path, kind(array));
		json_array_append_new(array, value);
		json_decref(array);
		goto write;
	}

	/* the last step names what changes, in the value before it */
	for (p = path; next_step(&p, &step, &is_sel, &start);) {
		free(last);
		last = step;
		last_sel = is_sel;
		last_start = start;
	}
	if (!last)
		die(1, "'%s': no step to %s", path, op);
	prefix = xstrndup(path, (size_t)(last_start - path));
	parent = walk_one(prefix);

	if (!strcmp(op, "set") && !last_sel && json_is_object(parent)) {
		json_object_set_new(parent, last, value);
	} else if (!strcmp(op, "set") && !last_sel && json_is_array(parent) &&
		   all_digits(last) &&
		   strtoull(last, NULL, 10) < json_array_size(parent)) {
		json_array_set_new(parent, (size_t)strtoull(last, NULL, 10),
				   value);
	} else if (!strcmp(op, "delete") && !last_sel &&
		   json_is_object(parent)) {
		if (json_object_del(parent, last))
			die(1, "%s: no member '%s'", path, last);
	} else if (!strcmp(op, "delete") && !last_sel &&
		   json_is_array(parent) && all_digits(last) &&
		   strtoull(last, NULL, 10) < json_array_size(parent)) {
		json_array_remove(parent, (size_t)strtoull(last, NULL, 10));
	} else if (!strcmp(op, "delete") && last_sel &&
		   json_is_array(parent)) {
		size_t i = json_array_size(parent), gone = 0;

		while (i--)
			if (matches(json_array_get(parent, i), last, path)) {
				json_array_remove(parent, i);
				gone++;
			}
		if (!gone)
			die(1, "%s: nothing matches", path);
	} else {
		die(1, "%s: cannot %s '%s' of %s", path, op, last,
		    kind(parent));
	}
	json_decref(parent);
	free(prefix);
	free(last);
write:
	write_doc(file);
	json_decref(doc);
	return 0;
}

int cmd__set_ranges(int argc, const char **argv)
{
	const char *path;
	json_t *ranges;
	int i;

	if (argc < 2)
		die(1, "usage: test-tool set-ranges REGISTRY NAME:START-END...");
	path = argv[1];
	load_doc(path);
	if (!json_is_object(doc))
		die(1, "%s: not an object", path);
	ranges = json_object();
	for (i = 2; i < argc; i++) {
		const char *spec = argv[i], *colon = strchr(spec, ':'), *dash;
		struct buf desc = BUF_INIT;
		char *name, *start;
		json_t *r;

		if (!colon || strchr(colon + 1, ':'))
			die(1, "'%s' is not NAME:START-END", spec);
		dash = strchr(colon + 1, '-');
		if (!dash || strchr(dash + 1, '-'))
			die(1, "'%s' is not NAME:START-END", spec);
		name = xstrndup(spec, (size_t)(colon - spec));
		start = xstrndup(colon + 1, (size_t)(dash - colon - 1));
		buf_addf(&desc, "test range %s", name);
		r = json_pack("{s:I, s:I, s:s}", "start",
			      (json_int_t)parse_long(start, spec), "end",
			      (json_int_t)parse_long(dash + 1, spec),
			      "description", desc.buf);
		json_object_set_new(ranges, name, r);
		buf_release(&desc);
		free(name);
		free(start);
	}
	json_object_set_new(doc, "ranges", ranges);
	write_doc(path);
	json_decref(doc);
	return 0;
}
