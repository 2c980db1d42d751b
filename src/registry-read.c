#include "common.h"
#include "registry-internal.h"
#include "alloc.h"
#include "error.h"
#include "sbuf.h"
#include "registry-scan.h"
#include "text.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include <jansson.h>

/* 'size' bytes aligned on 'align' (a power of two, 8 at most). */
static inline void *arena_alloc(struct arena **arena, size_t size, size_t align)
{
	struct arena *b = *arena;
	size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;

	if (!b || at > b->size || size > b->size - at) {
		reg_arena_reserve(arena, b && b->size > size ? b->size : size);
		b = *arena;
		at = 0;
	}
	b->used = at + size;
	return b->data + at;
}

/* A copy of the 'len' bytes at 's', NUL-terminated, in the arena. */
static inline char *arena_str(struct arena **arena, const char *s, size_t len)
{
	char *copy = arena_alloc(arena, len + 2, 1);

	copy[0] = STR_IN_ARENA;
	memcpy(copy + 1, s, len);
	copy[len + 1] = '\0';
	return copy + 1;
}

/* Reading and checking */


static void format_field(char *buf, size_t size, const struct where *w,
			 const char *key)
{
	struct sbuf sb = SBUF_INIT;

	if (w) {
		sbuf_addstr(&sb, w->section);
		if (w->name)
			sbuf_addf(&sb, ".%s", w->name);
		if (w->index >= 0)
			sbuf_addf(&sb, "[%ld]", w->index);
	}
	if (key)
		sbuf_addf(&sb, "%s%s", sb.len ? "." : "", key);
	snprintf(buf, size, "%s", sb.buf);
	sbuf_release(&sb);
}

/*
 * Report a bad value at 'w' (NULL: the top level) and 'key' (NULL: the
 * whole element), with 'hint' or the usual one.
 */
int reg_corrupt(struct parse *p, const struct where *w, const char *key,
		const char *hint, const char *fmt, ...)
{
	char field[ERROR_FIELD_MAX];
	char msg[ERROR_MSG_MAX];
	va_list ap;

	if (!p->err || p->err->code)
		return ERR_CORRUPT;
	format_field(field, sizeof(field), w, key);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_set(p->err, ERR_CORRUPT, p->path, 0, field, "%s", msg);
	if (p->saving)
		error_hint(p->err, "%s", reg_save_hint);
	else
		error_hint(p->err, "%s", hint ? hint : reg_fix_hint);
	return ERR_CORRUPT;
}

static int malformed(struct parse *p, const json_error_t *jerr)
{
	if (!p->err || p->err->code)
		return ERR_CORRUPT;
	error_set(p->err, ERR_CORRUPT, p->path, jerr->line > 0 ? jerr->line : 0,
		  NULL, "%s", jerr->text);
	/*
	 * jansson counts columns from 0 before the first character of a
	 * line (an empty file, an error at the start of a line): that is
	 * column 1 to a reader.
	 */
	if (jerr->line > 0)
		error_set_column(p->err, jerr->column > 0 ? jerr->column : 1);
	error_hint(p->err, "%s", reg_json_hint);
	return ERR_CORRUPT;
}

bool reg_in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/*
 * The checks read values through one interface, whichever reader made
 * them: jansson's tree, or the fast scanner of registry-scan.c, which
 * reads the common case and gives up on anything else. Scalars come
 * whole. An object or an array is walked member by member, or an object
 * is read one level deep into the reader's table (read_object()), where
 * the values below it are only text.
 */
struct val {
	struct scan_value s; /* type, value and, if scanned, text */
	json_t *json;	     /* from jansson: the value */
	void *iter;	     /* from jansson: an object's next member */
	size_t index;	     /* from jansson: an array's next element */
};

struct member {
	const char *key; /* decoded, not NUL-terminated */
	size_t key_len;
	bool asked; /* found by get_value(), so a known key */
	struct val val;
};

struct reader {
	struct scan *scan;    /* NULL: jansson's tree */
	char *own;	      /* the scanned text, if strings may stay in it */
	size_t own_len;
	struct member *table; /* the members of the last read_object() */
	size_t nr_table;
	size_t alloc_table;
	size_t nr_asked;     /* how many of them get_value() found */
	size_t next;	     /* where get_value() looks first */
	struct unknown *top; /* the top level's unknown members so far */
	size_t nr_top;
	size_t alloc_top;
};

static void reader_release(struct reader *rd)
{
	free(rd->table);
	free(rd->top);
}

static void val_from_json(struct val *v, json_t *j)
{
	memset(v, 0, sizeof(*v));
	v->json = j;
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		v->s.type = SCAN_OBJECT;
		v->iter = json_object_iter(j);
		break;
	case JSON_ARRAY:
		v->s.type = SCAN_ARRAY;
		break;
	case JSON_STRING:
		v->s.type = SCAN_STRING;
		v->s.str = json_string_value(j);
		v->s.len = json_string_length(j);
		break;
	case JSON_INTEGER:
		v->s.type = SCAN_INTEGER;
		v->s.integer = json_integer_value(j);
		break;
	case JSON_REAL:
		v->s.type = SCAN_REAL;
		break;
	case JSON_TRUE:
		v->s.type = SCAN_TRUE;
		break;
	case JSON_FALSE:
		v->s.type = SCAN_FALSE;
		break;
	case JSON_NULL:
		v->s.type = SCAN_NULL;
		break;
	}
}

static const char *type_name(const struct val *v)
{
	switch (v->s.type) {
	case SCAN_OBJECT:
		return "an object";
	case SCAN_ARRAY:
		return "an array";
	case SCAN_STRING:
		return "a string";
	case SCAN_INTEGER:
		return "an integer";
	case SCAN_REAL:
		return "a floating-point number";
	case SCAN_TRUE:
	case SCAN_FALSE:
		return "a boolean";
	case SCAN_NULL:
		return "null";
	}
	return "an unknown value";
}

/*
 * The next member of the object 'obj': 1 with its key and value, 0 at
 * the end, or ERR_CORRUPT when the scanner gives up. The scanner walks
 * the innermost object it has open, which is 'obj' for every caller: a
 * value is read to its end before the next one is asked for.
 */
static inline int next_member(struct parse *p, struct val *obj,
			      const char **key, size_t *key_len,
			      struct val *out)
{
	if (p->rd->scan) {
		struct scan_key k;
		int ret = scan_member(p->rd->scan, &k, &out->s);

		if (ret <= 0)
			return ret < 0 ? ERR_CORRUPT : 0;
		*key = k.str;
		*key_len = k.len;
		out->json = NULL;
		return 1;
	}
	if (!obj->iter)
		return 0;
	*key = json_object_iter_key(obj->iter);
	*key_len = strlen(*key);
	val_from_json(out, json_object_iter_value(obj->iter));
	obj->iter = json_object_iter_next(obj->json, obj->iter);
	return 1;
}

/* next_member() for the array 'arr'. */
static int next_element(struct parse *p, struct val *arr, struct val *out)
{
	if (p->rd->scan) {
		int ret = scan_element(p->rd->scan, &out->s);

		if (ret <= 0)
			return ret < 0 ? ERR_CORRUPT : 0;
		out->json = NULL;
		return 1;
	}
	if (arr->index >= json_array_size(arr->json))
		return 0;
	val_from_json(out, json_array_get(arr->json, arr->index++));
	return 1;
}

/* Read a scanned array or object to its end, so that its text is known. */
static inline int finish(struct parse *p, struct val *v)
{
	if (!p->rd->scan || v->s.raw_len)
		return 0;
	return scan_skip(p->rd->scan, &v->s) < 0 ? ERR_CORRUPT : 0;
}

/* The members of the object 'obj' into the reader's table. */
static int read_object(struct parse *p, struct val *obj)
{
	struct reader *rd = p->rd;
	int ret;

	rd->nr_table = 0;
	rd->nr_asked = 0;
	rd->next = 0;
	for (;;) {
		struct member *m;

		ALLOC_GROW(rd->table, rd->nr_table + 1, rd->alloc_table);
		m = &rd->table[rd->nr_table];
		ret = next_member(p, obj, &m->key, &m->key_len, &m->val);
		if (ret <= 0)
			return ret;
		if (finish(p, &m->val) < 0)
			return ERR_CORRUPT;
		m->asked = false;
		rd->nr_table++;
	}
}

/*
 * A string of the load, decoded and NUL-terminated: where it is, when it
 * is in text the load owns (it ends with a quote, which becomes the NUL,
 * and the opening quote before it says it is not a block of its own),
 * or else in the arena.
 */
static char *load_str(struct parse *p, const char *s, size_t len, bool escaped)
{
	struct reader *rd = p->rd;
	uintptr_t at = (uintptr_t)s - (uintptr_t)rd->own;
	char *copy;

	if (rd->own && at < rd->own_len) {
		copy = rd->own + at;
		if (escaped)
			len = scan_unescape(copy, copy, len);
		copy[len] = '\0';
		return copy;
	}
	if (!escaped)
		return arena_str(p->arena, s, len);
	copy = arena_alloc(p->arena, len + 2, 1);
	copy[0] = STR_IN_ARENA;
	len = scan_unescape(copy + 1, s, len);
	copy[len + 1] = '\0';
	return copy + 1;
}

/* A string value, kept by the load. */
static char *val_str(struct parse *p, const struct val *v)
{
	return load_str(p, v->s.str, v->s.len, v->s.escaped);
}

/*
 * Keep the member 'key' of value 'v' as text: the bytes that were read,
 * or jansson's compact form of its tree.
 */
static void keep(struct parse *p, struct unknown *u, const char *key,
		 size_t key_len, const struct val *v)
{
	const size_t flags =
		JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
	char *text;

	u->key = load_str(p, key, key_len, false);
	if (!v->json) {
		/* of owned text, only strings the load keeps are written on */
		if (p->rd->own)
			u->json = v->s.raw;
		else
			u->json = arena_str(p->arena, v->s.raw, v->s.raw_len);
		u->len = v->s.raw_len;
		return;
	}
	text = json_dumps(v->json, flags);
	if (!text)
		die_oom("reading the registry");
	u->len = strlen(text);
	u->json = arena_str(p->arena, text, u->len);
	free(text);
}

/* Whether the member is called 'key' (its own key is not NUL-terminated). */
static bool key_is(const struct member *m, const char *key)
{
	size_t i;

	for (i = 0; i < m->key_len; i++)
		if (m->key[i] != key[i])
			return false; /* also at the end of 'key' */
	return !key[i];
}

static bool is_known(const struct member *m, const char *const *known)
{
	if (m->asked)
		return true;
	for (; *known; known++)
		if (key_is(m, *known))
			return true;
	return false;
}

/* The members of the table whose keys are not in 'known'; NULL if none. */
static struct extra *unknown_members(struct parse *p, const char *const *known)
{
	struct reader *rd = p->rd;
	struct extra *extra;
	size_t nr = 0, i;

	if (rd->nr_asked == rd->nr_table)
		return NULL; /* the usual case */
	for (i = 0; i < rd->nr_table; i++)
		nr += !is_known(&rd->table[i], known);
	if (!nr)
		return NULL;
	extra = arena_alloc(p->arena, sizeof(*extra) + nr * sizeof(extra->m[0]),
			    sizeof(void *));
	extra->nr = 0;
	for (i = 0; i < rd->nr_table; i++) {
		struct member *m = &rd->table[i];

		if (!is_known(m, known))
			keep(p, &extra->m[extra->nr++], m->key, m->key_len,
			     &m->val);
	}
	return extra;
}

#define OPTIONAL (1 << 0) /* the key may be absent */
#define NULLABLE (1 << 1) /* its value may be null */
#define MAYBE (OPTIONAL | NULLABLE) /* absent or null: left alone */

/*
 * Fetch 'key' of the object in the reader's table (which 'w' locates) if
 * it is there. Returns 1 with the value, 0 when it is absent or null and
 * 'opts' allows that, or ERR_CORRUPT.
 */
static inline int get_value(const struct val **out, struct parse *p,
			    const struct where *w, const char *key,
			    unsigned opts)
{
	struct reader *rd = p->rd;
	size_t len = strlen(key), i;
	const struct val *v = NULL;

	*out = NULL;
	/* the keys are usually in the order they are asked for */
	for (i = 0; i < rd->nr_table; i++) {
		size_t at = rd->next + i;
		struct member *m;

		if (at >= rd->nr_table)
			at -= rd->nr_table;
		m = &rd->table[at];
		if (m->key_len == len && !memcmp(m->key, key, len)) {
			rd->nr_asked += !m->asked;
			m->asked = true;
			rd->next = at + 1;
			v = &m->val;
			break;
		}
	}
	if (!v) {
		if (opts & OPTIONAL)
			return 0;
		return reg_corrupt(p, w, key, NULL, "required key '%s' is missing",
			       key);
	}
	if (v->s.type == SCAN_NULL && (opts & NULLABLE))
		return 0;
	*out = v;
	return 1;
}

/* get_value(), for a value of 'type', which 'what' names ("a string"). */
static inline int get_typed(const struct val **out, struct parse *p,
			    const struct where *w, const char *key,
			    unsigned opts, enum scan_type type,
			    const char *what)
{
	int ret = get_value(out, p, w, key, opts);

	if (ret > 0 && (*out)->s.type != type)
		return reg_corrupt(p, w, key, NULL, "must be %s%s, not %s", what,
			       opts & NULLABLE ? " or null" : "",
			       type_name(*out));
	return ret;
}

static inline int get_int(long long *out, struct parse *p,
			  const struct where *w, const char *key, unsigned opts)
{
	const struct val *v;
	int ret = get_typed(&v, p, w, key, opts, SCAN_INTEGER, "an integer");

	if (ret > 0)
		*out = v->s.integer;
	return ret;
}

/* A string value, copied into '*out'; left alone when absent or null. */
static inline int get_str(char **out, struct parse *p, const struct where *w,
			  const char *key, unsigned opts)
{
	const struct val *v;
	int ret = get_typed(&v, p, w, key, opts, SCAN_STRING, "a string");

	if (ret > 0)
		*out = val_str(p, v);
	return ret;
}

int reg_port_too_low(struct parse *p, const struct where *w, const char *key,
		     long long value)
{
	return reg_corrupt(p, w, key, NULL,
		       "%s %lld is below %d: ports 0-%d are never handed out",
		       key, value, ALLOC_MIN_PORT, ALLOC_MIN_PORT - 1);
}

/*
 * A port number into '*out'. Only what does not fit is refused here:
 * reg_check() refuses the ports below ALLOC_MIN_PORT, for registries built in
 * memory too. 'reserved' spans may start anywhere.
 */
static int get_port(uint16_t *out, struct parse *p, const struct where *w,
		    const char *key, bool reserved)
{
	long long v = 0;
	int ret = get_int(&v, p, w, key, 0);

	if (ret < 0)
		return ret;
	if (v > 65535)
		return reg_corrupt(p, w, key, NULL,
			       "%s %lld is above 65535, the highest port", key,
			       v);
	if (v < 0) {
		if (reserved)
			return reg_corrupt(p, w, key, NULL,
				       "%s %lld is below 0, the lowest port",
				       key, v);
		return reg_port_too_low(p, w, key, v);
	}
	*out = (uint16_t)v;
	return 0;
}

/* The fields of a range or a reservation. */
static int parse_span(struct range *r, struct parse *p, struct val *obj,
		      const struct where *w, bool reserved)
{
	if (obj->s.type != SCAN_OBJECT)
		return reg_corrupt(p, w, NULL, NULL, "must be an object, not %s",
			       type_name(obj));
	if (read_object(p, obj) < 0 ||
	    get_port(&r->start, p, w, "start", reserved) < 0 ||
	    get_port(&r->end, p, w, "end", reserved) < 0 ||
	    get_str(&r->description, p, w, "description", MAYBE) < 0)
		return ERR_CORRUPT;
	return 0;
}

static int read_ranges(struct registry *reg, struct parse *p,
		       struct val *ranges)
{
	struct priv *pv = reg->priv;
	const char *name;
	size_t len;
	struct val v;
	int ret;

	if (ranges->s.type != SCAN_OBJECT)
		return reg_corrupt(p, NULL, "ranges", NULL,
			       "must be an object, not %s", type_name(ranges));
	while ((ret = next_member(p, ranges, &name, &len, &v)) > 0) {
		struct where w = { "ranges", NULL, -1 };
		struct extra *extra;
		struct range *r;

		ALLOC_GROW(reg->ranges, reg->nr_ranges + 1, pv->alloc_ranges);
		r = &reg->ranges[reg->nr_ranges++];
		memset(r, 0, sizeof(*r));
		r->name = load_str(p, name, len, false);
		w.name = r->name;
		if (parse_span(r, p, &v, &w, false) < 0)
			return ERR_CORRUPT;
		extra = unknown_members(p, reg_span_keys);
		if (!extra)
			continue;
		ALLOC_GROW(pv->range_extra, pv->nr_range_extra + 1,
			   pv->alloc_range_extra);
		pv->range_extra[pv->nr_range_extra].name = r->name;
		pv->range_extra[pv->nr_range_extra++].extra = extra;
	}
	return ret;
}

static int read_reserved(struct registry *reg, struct parse *p,
			 struct val *reserved)
{
	struct priv *pv = reg->priv;
	struct val v;
	int ret;

	if (reserved->s.type != SCAN_ARRAY)
		return reg_corrupt(p, NULL, "reserved", NULL,
			       "must be an array, not %s", type_name(reserved));
	while ((ret = next_element(p, reserved, &v)) > 0) {
		size_t i = reg->nr_reserved;
		struct where w = { "reserved", NULL, (long)i };
		struct extra *extra;
		struct range *r;

		ALLOC_GROW(reg->reserved, i + 1, pv->alloc_reserved);
		r = &reg->reserved[reg->nr_reserved++];
		memset(r, 0, sizeof(*r));
		if (parse_span(r, p, &v, &w, true) < 0)
			return ERR_CORRUPT;
		extra = unknown_members(p, reg_span_keys);
		if (!extra)
			continue;
		ALLOC_GROW(pv->reserved_extra, i + 1, pv->alloc_reserved_extra);
		while (pv->nr_reserved_extra < i)
			pv->reserved_extra[pv->nr_reserved_extra++] = NULL;
		pv->reserved_extra[pv->nr_reserved_extra++] = extra;
	}
	return ret;
}

static int parse_alloc(struct allocation *a, struct parse *p, struct val *obj,
		       const struct where *w)
{
	long long pid = 0;
	int ret;

	if (obj->s.type != SCAN_OBJECT)
		return reg_corrupt(p, w, NULL, NULL, "must be an object, not %s",
			       type_name(obj));
	if (read_object(p, obj) < 0 ||
	    get_port(&a->port, p, w, "port", false) < 0 ||
	    get_str(&a->worktree, p, w, "worktree", 0) < 0 ||
	    get_str(&a->path, p, w, "path", MAYBE) < 0 ||
	    get_str(&a->service, p, w, "service", 0) < 0 ||
	    get_str(&a->range, p, w, "range", MAYBE) < 0 ||
	    get_str(&a->allocated_at, p, w, "allocated_at", MAYBE) < 0 ||
	    get_str(&a->allocated_by, p, w, "allocated_by", MAYBE) < 0 ||
	    get_str(&a->description, p, w, "description", MAYBE) < 0)
		return ERR_CORRUPT;

	ret = get_int(&pid, p, w, "process_id", MAYBE);
	if (ret < 0)
		return ret;
	if (ret > 0 && (pid <= 0 || pid > INT_MAX))
		return reg_corrupt(p, w, "process_id", NULL,
			       "%lld is not a process id", pid);
	if (ret > 0)
		a->process_id = (long)pid;

	/* absent or null: never checked, so "unknown" */
	if (get_str(&a->health_status, p, w, "health_status", MAYBE) < 0)
		return ERR_CORRUPT;
	if (!a->health_status)
		a->health_status = arena_str(p->arena, "unknown", 7);
	if (get_str(&a->health_checked_at, p, w, "health_checked_at", MAYBE) <
	    0)
		return ERR_CORRUPT;

	a->extra = unknown_members(p, reg_alloc_keys);
	return 0;
}

static int read_allocs(struct registry *reg, struct parse *p,
		       struct val *allocs)
{
	struct val v;
	int ret;

	if (allocs->s.type != SCAN_ARRAY)
		return reg_corrupt(p, NULL, "allocations", NULL,
			       "must be an array, not %s", type_name(allocs));
	if (allocs->json)
		ALLOC_GROW(reg->allocs, json_array_size(allocs->json),
			   reg->alloc_allocs);
	while ((ret = next_element(p, allocs, &v)) > 0) {
		struct where w = { "allocations", NULL, (long)reg->nr_allocs };
		struct allocation *a;

		ALLOC_GROW(reg->allocs, reg->nr_allocs + 1, reg->alloc_allocs);
		a = &reg->allocs[reg->nr_allocs++];
		memset(a, 0, sizeof(*a));
		a->process_id = ALLOCATION_NO_PID;
		if (parse_alloc(a, p, &v, &w) < 0)
			return ERR_CORRUPT;
	}
	return ret;
}

static int read_metadata(struct registry *reg, struct parse *p,
			 struct val *meta)
{
	const struct where w = { "metadata", NULL, -1 };
	struct priv *pv = reg->priv;
	long long total = 0, schema = SCHEMA_VERSION;
	char *version = NULL;
	int ret;

	if (meta->s.type != SCAN_OBJECT)
		return reg_corrupt(p, NULL, "metadata", NULL,
			       "must be an object, not %s", type_name(meta));
	if (read_object(p, meta) < 0 ||
	    get_str(&version, p, &w, "version", OPTIONAL) < 0 ||
	    get_str(&pv->last_updated, p, &w, "last_updated", MAYBE) < 0)
		return ERR_CORRUPT;
	if (version) {
		reg_str_free(pv->version);
		pv->version = version;
	}

	/* recomputed on every save, but it has to be a count */
	ret = get_int(&total, p, &w, "total_allocations", OPTIONAL);
	if (ret < 0)
		return ret;
	if (total < 0)
		return reg_corrupt(p, &w, "total_allocations", NULL,
			       "%lld is not a count", total);

	ret = get_int(&schema, p, &w, "schema_version", OPTIONAL);
	if (ret < 0)
		return ret;
	if (schema < 1)
		return reg_corrupt(p, &w, "schema_version", NULL,
			       "%lld is not a schema version", schema);
	if (schema > SCHEMA_VERSION)
		return reg_corrupt(
			p, &w, "schema_version",
			"upgrade git-worktree-ports to use this registry",
			"schema version %lld is newer than the %d this git-worktree-ports reads",
			schema, SCHEMA_VERSION);
	pv->schema_version = schema;

	pv->meta_extra = unknown_members(p, reg_meta_keys);
	return 0;
}

/* The members of the top level, in the order they are checked. */
static const struct section {
	const char *key;
	bool required; /* seed registries have no "reserved" */
	int (*read)(struct registry *reg, struct parse *p, struct val *v);
} sections[] = {
	{ "ranges", true, read_ranges },
	{ "reserved", false, read_reserved },
	{ "allocations", true, read_allocs },
	{ "metadata", false, read_metadata },
};

static const struct section *find_section(const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(sections); i++)
		if (strlen(sections[i].key) == len &&
		    !memcmp(sections[i].key, key, len))
			return &sections[i];
	return NULL;
}

static int no_section(struct parse *p, const struct section *sec)
{
	return reg_corrupt(p, NULL, sec->key, NULL, "required key '%s' is missing",
		       sec->key);
}

static int not_object(struct parse *p, const struct val *root)
{
	return reg_corrupt(p, NULL, NULL, NULL,
		       "the registry must be a JSON object, not %s",
		       type_name(root));
}

/* Keep an unknown member of the top level; they are stored at the end. */
static int keep_top(struct parse *p, const char *key, size_t len, struct val *v)
{
	struct reader *rd = p->rd;

	if (finish(p, v) < 0)
		return ERR_CORRUPT;
	ALLOC_GROW(rd->top, rd->nr_top + 1, rd->alloc_top);
	keep(p, &rd->top[rd->nr_top++], key, len, v);
	return 0;
}

static void store_top(struct registry *reg, struct parse *p)
{
	struct reader *rd = p->rd;
	struct extra *extra;

	if (!rd->nr_top)
		return;
	extra = arena_alloc(p->arena,
			    sizeof(*extra) + rd->nr_top * sizeof(extra->m[0]),
			    sizeof(void *));
	extra->nr = rd->nr_top;
	memcpy(extra->m, rd->top, rd->nr_top * sizeof(extra->m[0]));
	reg_priv(reg)->extra = extra;
}

/*
 * jansson's tree into 'reg': the sections in a fixed order, so that the
 * first error in the file is the same one every time.
 */
static int from_json(struct registry *reg, struct parse *p, json_t *json)
{
	const char *key;
	struct val root, v;
	size_t i, len;

	val_from_json(&root, json);
	if (root.s.type != SCAN_OBJECT)
		return not_object(p, &root);
	for (i = 0; i < ARRAY_SIZE(sections); i++) {
		json_t *value = json_object_get(json, sections[i].key);

		if (!value) {
			if (sections[i].required)
				return no_section(p, &sections[i]);
			continue;
		}
		val_from_json(&v, value);
		if (sections[i].read(reg, p, &v) < 0)
			return ERR_CORRUPT;
	}
	while (next_member(p, &root, &key, &len, &v) > 0)
		if (!find_section(key, len))
			keep_top(p, key, len, &v);
	store_top(reg, p);
	return 0;
}

/*
 * The scanned text into 'reg', in one pass: the sections in the order of
 * the file. Which error comes first does not matter here: on any, the
 * caller asks jansson.
 */
static int from_scan(struct registry *reg, struct parse *p)
{
	bool seen[ARRAY_SIZE(sections)] = { false };
	const char *key;
	struct val root, v;
	size_t i, len;
	int ret;

	if (scan_begin(p->rd->scan, &root.s) < 0)
		return ERR_CORRUPT;
	root.json = NULL;
	if (root.s.type != SCAN_OBJECT)
		return not_object(p, &root);
	while ((ret = next_member(p, &root, &key, &len, &v)) > 0) {
		const struct section *sec = find_section(key, len);

		if (!sec) {
			if (keep_top(p, key, len, &v) < 0)
				return ERR_CORRUPT;
			continue;
		}
		seen[sec - sections] = true;
		if (sec->read(reg, p, &v) < 0)
			return ERR_CORRUPT;
	}
	if (ret < 0 || scan_end(p->rd->scan) < 0)
		return ERR_CORRUPT;
	for (i = 0; i < ARRAY_SIZE(sections); i++)
		if (sections[i].required && !seen[i])
			return no_section(p, &sections[i]);
	store_top(reg, p);
	return 0;
}

/*
 * The fast reader, with the same checks, but no messages: on any error
 * the caller reads the text again with jansson, which reports it.
 *
 * With 'own', the text is its buffer, and the strings stay in it: the
 * registry takes the buffer if the load succeeds, and whatever happens
 * the text is no longer the file (strings were cut and decoded in it).
 */
static int parse_fast(struct registry **out, const char *text, size_t len,
		      const char *path, unsigned flags, struct sbuf *own)
{
	struct reader rd = { 0 };
	struct parse p = { path, NULL, false, NULL, &rd };
	struct registry *reg = reg_new(path, own ? 0 : len);
	struct scan scan;
	int ret;

	*out = NULL;
	scan_init(&scan, text, len);
	rd.scan = &scan;
	if (own) {
		rd.own = own->buf;
		rd.own_len = own->len;
	}
	p.arena = &reg_priv(reg)->arena;
	ret = from_scan(reg, &p);
	if (ret)
		goto out;
	ret = reg_check(reg, flags, &p);
	if (ret)
		goto out;
	if (own)
		reg_priv(reg)->text = sbuf_detach(own);
	*out = reg;
	reg = NULL;
out:
	registry_free(reg);
	reader_release(&rd);
	scan_release(&scan);
	return ret;
}

static int parse_json(struct registry **out, const char *text, size_t len,
		      const char *path, unsigned flags, struct error *err)
{
	struct reader rd = { 0 };
	struct parse p = { path, err, false, NULL, &rd };
	struct registry *reg = NULL;
	json_error_t jerr;
	json_t *root;
	int ret;

	*out = NULL;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		ret = malformed(&p, &jerr);
		goto out;
	}
	reg = reg_new(path, len);
	p.arena = &reg_priv(reg)->arena;
	ret = from_json(reg, &p, root);
	if (ret)
		goto out;
	ret = reg_check(reg, flags, &p);
	if (ret)
		goto out;
	*out = reg;
	reg = NULL;
out:
	registry_free(reg);
	reader_release(&rd);
	json_decref(root);
	return ret;
}

int registry_parse(struct registry **out, const char *text, size_t len,
		   const char *path, unsigned flags, struct error *err)
{
	*out = NULL;
	if (!(flags & REGISTRY_NO_FAST_PATH) &&
	    !parse_fast(out, text, len, path, flags, NULL))
		return 0;
	if (flags & REGISTRY_FAST_PATH_ONLY)
		return error_set(err, ERR_CORRUPT, path, 0, NULL,
				 "the fast reader cannot read this registry");
	return parse_json(out, text, len, path, flags, err);
}

static int read_file(struct sbuf *text, const char *path, struct error *err)
{
	if (sbuf_read_file(text, path) >= 0)
		return 0;
	if (errno != ENOENT)
		return error_errno(err, path, "cannot read the registry");
	error_set(err, ERR_NOTFOUND, path, 0, NULL, "no registry");
	error_hint(err, "run 'git worktree-ports init' to create it");
	return ERR_NOTFOUND;
}

/*
 * registry_parse(), but the fast reader keeps the strings in the buffer
 * the file was read into, which saves copying them. If it gives up, the
 * buffer is no longer the file: jansson reads the file again.
 */
int registry_load(struct registry **out, const char *path, unsigned flags,
		  struct error *err)
{
	struct sbuf text = SBUF_INIT;
	int ret;

	*out = NULL;
	ret = read_file(&text, path, err);
	if (ret || flags & REGISTRY_NO_FAST_PATH)
		goto out;
	ret = parse_fast(out, text.buf, text.len, path, flags, &text);
	if (!ret)
		goto out;
	sbuf_reset(&text);
	ret = read_file(&text, path, err);
out:
	if (!ret && !*out)
		ret = registry_parse(out, text.buf, text.len, path,
				     flags | REGISTRY_NO_FAST_PATH, err);
	sbuf_release(&text);
	return ret;
}
