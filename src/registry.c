#include "common.h"
#include "registry.h"
#include "alloc.h"
#include "nameset.h"
#include "registry-scan.h"
#include "error.h"
#include "sbuf.h"
#include "text.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

/* What this version writes into "metadata", and the newest it reads. */
#define FORMAT_VERSION "1.0.0"
#define SCHEMA_VERSION 1


static const char fix_hint[] =
	"fix the field by hand or restore the file from a backup; the registry is not rewritten while it is invalid";
static const char json_hint[] =
	"fix the file by hand or restore it from a backup; the registry is not rewritten while it is invalid";
static const char name_hint[] =
	"range names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit";
static const char range_hint[] =
	"add the range to \"ranges\" or correct the allocation by hand; the registry is not rewritten while it is invalid";
static const char default_hint[] =
	"add a range for the service or a 'default' range to \"ranges\"; the registry is not rewritten while it is invalid";
static const char twice_hint[] =
	"run 'git worktree-ports check' to see the conflicts, then remove one of the two allocations by hand";
static const char save_hint[] =
	"nothing was written: the registry on disk is unchanged";

/* The ranges of ports.json.example, in its order. */
static const struct {
	const char *name;
	uint16_t start;
	uint16_t end;
	const char *description;
} default_ranges[] = {
	{ "web", 8080, 8099, "HTTP web servers" },
	{ "database", 5432, 5439, "Database services" },
	{ "testing", 9000, 9099, "Test runners and tooling" },
	{ "debug", 5555, 5564, "Debuggers and inspectors" },
	{ "api", 3000, 3099, "API servers" },
	{ "cache", 6379, 6389, "Cache services" },
	{ "default", 10000, 11000, "Services with no range of their own" },
};

/* "unknown" first: it is the most common, and this is searched often */
static const char *const health_statuses[] = { "unknown", "healthy",
					       "unhealthy", "not_running",
					       NULL };

static const char *const span_keys[] = { "start", "end", "description", NULL };
static const char *const alloc_keys[] = {
	"port",		 "worktree",	"path",
	"service",	 "range",	"allocated_at",
	"allocated_by",	 "description", "process_id",
	"health_status", "health_checked_at", NULL
};
static const char *const meta_keys[] = { "version", "last_updated",
					 "total_allocations", "schema_version",
					 NULL };

/*
 * The members of one object that the tool does not know, in the order
 * they were read, each value as JSON text: the bytes of the file, or
 * jansson's compact form of them. Saving reads them back with jansson,
 * so they are written as they were. One block holds it all.
 */
struct unknown {
	const char *key;
	const char *json; /* not NUL-terminated */
	size_t len;
};

struct extra {
	size_t nr;
	struct unknown m[];
};

/* The unknown keys of a range, which are found by its name. */
struct range_extra {
	const char *name;
	struct extra *extra;
};

/*
 * Where a load puts its strings and unknown keys: a few large blocks,
 * freed with the registry, so that reading a file costs a few calls to
 * malloc() rather than one per string. Nothing in them is freed alone.
 */
struct arena {
	struct arena *next;
	size_t size;
	size_t used;
	char data[]; /* aligned for any struct below */
};

#define ARENA_MIN 4096

/*
 * The strings of ranges, allocations and metadata are either in an arena
 * or in a block of their own, and the byte before each says which: so
 * registry_set_string(), which does not know the registry, frees only
 * what it may.
 */
#define STR_IN_ARENA 0
#define STR_OWN_BLOCK 1

/*
 * What the registry keeps beyond the public struct: the metadata, every
 * key it does not know, and the arena of the load. Allocations keep their
 * unknown keys in 'extra', in the arena.
 */
struct priv {
	struct arena *arena;	  /* the block being filled, then older ones */
	char *text;		  /* the file, if strings were kept in it */
	struct extra *extra;	  /* unknown top-level keys, or NULL */
	struct extra *meta_extra; /* unknown keys of "metadata", or NULL */
	struct range_extra *range_extra; /* ranges with unknown keys */
	size_t nr_range_extra;
	size_t alloc_range_extra;
	struct extra **reserved_extra; /* reservation i -> its own, or NULL */
	size_t nr_reserved_extra;
	size_t alloc_reserved_extra;
	size_t alloc_ranges;
	size_t alloc_reserved;
	char *version;
	char *last_updated; /* NULL: null */
	long long schema_version;
};

static void oom(void)
{
	die_oom("building the registry");
}

/* jansson returns NULL when malloc fails; like x*alloc, give up. */
static json_t *must(json_t *j)
{
	if (!j)
		oom();
	return j;
}

static void put(json_t *obj, const char *key, json_t *value)
{
	if (json_object_set_new(obj, key, must(value)) < 0)
		oom();
}

static void append(json_t *array, json_t *value)
{
	if (json_array_append_new(array, value) < 0)
		oom();
}

/* Make room for 'size' bytes at least in 'arena' before a load. */
static void arena_reserve(struct arena **arena, size_t size)
{
	struct arena *b;

	if (size < ARENA_MIN)
		size = ARENA_MIN;
	b = xmalloc(sizeof(*b) + size);
	b->next = *arena;
	b->size = size;
	b->used = 0;
	*arena = b;
}

/* 'size' bytes aligned on 'align' (a power of two, 8 at most). */
static inline void *arena_alloc(struct arena **arena, size_t size, size_t align)
{
	struct arena *b = *arena;
	size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;

	if (!b || at > b->size || size > b->size - at) {
		arena_reserve(arena, b && b->size > size ? b->size : size);
		b = *arena;
		at = 0;
	}
	b->used = at + size;
	return b->data + at;
}

static void arena_free(struct arena *arena)
{
	while (arena) {
		struct arena *next = arena->next;

		free(arena);
		arena = next;
	}
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

/* A copy of 's' (NULL stays NULL) in a block of its own. */
static char *str_dup(const char *s)
{
	size_t len;
	char *block;

	if (!s)
		return NULL;
	len = strlen(s);
	block = xmalloc(len + 2);
	block[0] = STR_OWN_BLOCK;
	memcpy(block + 1, s, len + 1);
	return block + 1;
}

static void str_free(char *s)
{
	if (s && s[-1] == STR_OWN_BLOCK)
		free(s - 1);
}

static struct priv *get_priv(struct registry *reg)
{
	struct priv *pv = reg->priv;

	if (!pv) {
		pv = xcalloc(1, sizeof(*pv));
		pv->version = str_dup(FORMAT_VERSION);
		pv->schema_version = SCHEMA_VERSION;
		reg->priv = pv;
	}
	return pv;
}

static void priv_free(struct priv *pv)
{
	if (!pv)
		return;
	free(pv->range_extra);
	free(pv->reserved_extra);
	str_free(pv->version);
	str_free(pv->last_updated);
	arena_free(pv->arena);
	free(pv->text);
	free(pv);
}

static void range_clear(struct range *r)
{
	str_free(r->name);
	str_free(r->description);
}

static void alloc_clear(struct allocation *a)
{
	str_free(a->worktree);
	str_free(a->path);
	str_free(a->service);
	str_free(a->range);
	str_free(a->allocated_at);
	str_free(a->allocated_by);
	str_free(a->description);
	str_free(a->health_status);
	str_free(a->health_checked_at);
}

void registry_free(struct registry *reg)
{
	size_t i;

	if (!reg)
		return;
	for (i = 0; i < reg->nr_ranges; i++)
		range_clear(&reg->ranges[i]);
	free(reg->ranges);
	for (i = 0; i < reg->nr_reserved; i++)
		range_clear(&reg->reserved[i]);
	free(reg->reserved);
	for (i = 0; i < reg->nr_allocs; i++)
		alloc_clear(&reg->allocs[i]);
	free(reg->allocs);
	priv_free(reg->priv);
	str_free(reg->path);
	free(reg);
}

/* Reading and checking */

/*
 * Where in the file a value is, formatted only when something is wrong
 * there: "section", "section.name" or "section[index]", then ".key".
 */
struct where {
	const char *section;
	const char *name; /* a range name, or NULL */
	long index;	  /* an array index, or -1 */
};

struct parse {
	const char *path;
	struct error *err;
	bool saving; /* checking a registry about to be written, not read */
	struct arena **arena; /* where a load puts what it keeps */
	struct reader *rd;    /* what a load reads from */
};

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

static int corrupt(struct parse *p, const struct where *w, const char *key,
		   const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * Report a bad value at 'w' (NULL: the top level) and 'key' (NULL: the
 * whole element), with 'hint' or the usual one.
 */
static int corrupt(struct parse *p, const struct where *w, const char *key,
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
		error_hint(p->err, "%s", save_hint);
	else
		error_hint(p->err, "%s", hint ? hint : fix_hint);
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
	error_hint(p->err, "%s", json_hint);
	return ERR_CORRUPT;
}

static bool in_list(const char *s, const char *const *list)
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
		oom();
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
		return corrupt(p, w, key, NULL, "required key '%s' is missing",
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
		return corrupt(p, w, key, NULL, "must be %s%s, not %s", what,
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

static int port_too_low(struct parse *p, const struct where *w, const char *key,
			long long value)
{
	return corrupt(p, w, key, NULL,
		       "%s %lld is below %d: ports 0-%d are never handed out",
		       key, value, ALLOC_MIN_PORT, ALLOC_MIN_PORT - 1);
}

/*
 * A port number into '*out'. Only what does not fit is refused here:
 * check() refuses the ports below ALLOC_MIN_PORT, for registries built in
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
		return corrupt(p, w, key, NULL,
			       "%s %lld is above 65535, the highest port", key,
			       v);
	if (v < 0) {
		if (reserved)
			return corrupt(p, w, key, NULL,
				       "%s %lld is below 0, the lowest port",
				       key, v);
		return port_too_low(p, w, key, v);
	}
	*out = (uint16_t)v;
	return 0;
}

/* The fields of a range or a reservation. */
static int parse_span(struct range *r, struct parse *p, struct val *obj,
		      const struct where *w, bool reserved)
{
	if (obj->s.type != SCAN_OBJECT)
		return corrupt(p, w, NULL, NULL, "must be an object, not %s",
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
		return corrupt(p, NULL, "ranges", NULL,
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
		extra = unknown_members(p, span_keys);
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
		return corrupt(p, NULL, "reserved", NULL,
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
		extra = unknown_members(p, span_keys);
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
		return corrupt(p, w, NULL, NULL, "must be an object, not %s",
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
		return corrupt(p, w, "process_id", NULL,
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

	a->extra = unknown_members(p, alloc_keys);
	return 0;
}

static int read_allocs(struct registry *reg, struct parse *p,
		       struct val *allocs)
{
	struct val v;
	int ret;

	if (allocs->s.type != SCAN_ARRAY)
		return corrupt(p, NULL, "allocations", NULL,
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
		return corrupt(p, NULL, "metadata", NULL,
			       "must be an object, not %s", type_name(meta));
	if (read_object(p, meta) < 0 ||
	    get_str(&version, p, &w, "version", OPTIONAL) < 0 ||
	    get_str(&pv->last_updated, p, &w, "last_updated", MAYBE) < 0)
		return ERR_CORRUPT;
	if (version) {
		str_free(pv->version);
		pv->version = version;
	}

	/* recomputed on every save, but it has to be a count */
	ret = get_int(&total, p, &w, "total_allocations", OPTIONAL);
	if (ret < 0)
		return ret;
	if (total < 0)
		return corrupt(p, &w, "total_allocations", NULL,
			       "%lld is not a count", total);

	ret = get_int(&schema, p, &w, "schema_version", OPTIONAL);
	if (ret < 0)
		return ret;
	if (schema < 1)
		return corrupt(p, &w, "schema_version", NULL,
			       "%lld is not a schema version", schema);
	if (schema > SCHEMA_VERSION)
		return corrupt(
			p, &w, "schema_version",
			"upgrade git-worktree-ports to use this registry",
			"schema version %lld is newer than the %d this git-worktree-ports reads",
			schema, SCHEMA_VERSION);
	pv->schema_version = schema;

	pv->meta_extra = unknown_members(p, meta_keys);
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
	return corrupt(p, NULL, sec->key, NULL, "required key '%s' is missing",
		       sec->key);
}

static int not_object(struct parse *p, const struct val *root)
{
	return corrupt(p, NULL, NULL, NULL,
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
	get_priv(reg)->extra = extra;
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

/* nameset keys: a range by its name, an allocation by its two names */
static void range_key(const void *data, size_t i, const char **a,
		      const char **b)
{
	const struct registry *reg = data;

	*a = reg->ranges[i].name;
	*b = NULL;
}

static void pair_key(const void *data, size_t i, const char **a,
		     const char **b)
{
	const struct registry *reg = data;

	*a = reg->allocs[i].worktree;
	*b = reg->allocs[i].service;
}

/* The first range called 'name', as registry_find_range() finds it. */
static const struct range *index_range(const struct nameset *ix,
				       const struct registry *reg,
				       const char *name)
{
	long i = nameset_find(ix, name, NULL);

	return i < 0 ? NULL : &reg->ranges[i];
}

/* The same resolution as registry_range_for(), through the index. */
static const struct range *resolve_range(const struct nameset *ix,
					 const struct registry *reg,
					 const struct allocation *a)
{
	const struct range *r;

	if (a->range)
		return index_range(ix, reg, a->range);
	r = index_range(ix, reg, a->service);
	return r ? r : index_range(ix, reg, "default");
}

static int check_string(struct parse *p, const struct where *w, const char *key,
			const char *s)
{
	if (!p->saving || !s || text_valid_utf8(s))
		return 0;
	return corrupt(p, w, key, NULL, "is not valid UTF-8");
}

static int check_ranges(const struct registry *reg, struct parse *p)
{
	size_t i;

	for (i = 0; i < reg->nr_ranges; i++) {
		const struct range *r = &reg->ranges[i];
		struct where w = { "ranges", r->name, -1 };

		if (!r->name || !alloc_valid_name(r->name))
			return corrupt(p, NULL, "ranges", name_hint,
				       "'%s' is not a valid range name",
				       r->name ? r->name : "");
		if (r->start < ALLOC_MIN_PORT)
			return port_too_low(p, &w, "start", r->start);
		if (r->start > r->end)
			return corrupt(p, &w, NULL, NULL,
				       "start %u is after end %u", r->start,
				       r->end);
		if (check_string(p, &w, "description", r->description) < 0)
			return ERR_CORRUPT;
	}
	for (i = 0; i < reg->nr_reserved; i++) {
		const struct range *r = &reg->reserved[i];
		struct where w = { "reserved", NULL, (long)i };

		if (r->start > r->end)
			return corrupt(p, &w, NULL, NULL,
				       "start %u is after end %u", r->start,
				       r->end);
		if (check_string(p, &w, "description", r->description) < 0)
			return ERR_CORRUPT;
	}
	return 0;
}

static int check_alloc(const struct registry *reg, const struct nameset *ranges,
		       struct parse *p, size_t i)
{
	const struct allocation *a = &reg->allocs[i];
	struct where w = { "allocations", NULL, (long)i };
	const char *status = a->health_status ? a->health_status : "unknown";

	if (a->port < ALLOC_MIN_PORT)
		return port_too_low(p, &w, "port", a->port);
	if (!a->worktree || !*a->worktree)
		return corrupt(p, &w, "worktree", NULL, "must not be empty");
	if (!a->service || !*a->service)
		return corrupt(p, &w, "service", NULL, "must not be empty");
	if (!in_list(status, health_statuses))
		return corrupt(
			p, &w, "health_status", NULL,
			"'%s' is not one of healthy, unhealthy, not_running or unknown",
			status);
	if (a->process_id != ALLOCATION_NO_PID &&
	    (a->process_id <= 0 || a->process_id > INT_MAX))
		return corrupt(p, &w, "process_id", NULL,
			       "%ld is not a process id", a->process_id);
	/* read strings were checked by the reader: only saving needs this */
	if (p->saving &&
	    (check_string(p, &w, "worktree", a->worktree) < 0 ||
	     check_string(p, &w, "path", a->path) < 0 ||
	     check_string(p, &w, "service", a->service) < 0 ||
	     check_string(p, &w, "range", a->range) < 0 ||
	     check_string(p, &w, "allocated_at", a->allocated_at) < 0 ||
	     check_string(p, &w, "allocated_by", a->allocated_by) < 0 ||
	     check_string(p, &w, "description", a->description) < 0 ||
	     check_string(p, &w, "health_status", a->health_status) < 0 ||
	     check_string(p, &w, "health_checked_at", a->health_checked_at) <
		     0))
		return ERR_CORRUPT;

	if (resolve_range(ranges, reg, a))
		return 0;
	if (a->range)
		return corrupt(p, &w, "range", range_hint, "no range '%s'",
			       a->range);
	return corrupt(p, &w, "service", default_hint,
		       "no range '%s' and no 'default' range", a->service);
}

/*
 * What the types cannot say: names, bounds, ranges that exist, and no
 * worktree holding two ports for one service nor (unless 'flags' allows
 * it) one port allocated twice. Run on every load and before every save,
 * in time linear in the number of allocations.
 */
static int check(const struct registry *reg, unsigned flags, struct parse *p)
{
	struct nameset ranges = { NULL, 0, 0, NULL, NULL };
	struct nameset pairs = { NULL, 0, 0, NULL, NULL };
	struct portset *ports = xcalloc(1, sizeof(*ports));
	size_t i;
	int ret;

	ret = check_ranges(reg, p);
	if (ret)
		goto out;

	nameset_init(&ranges, reg->nr_ranges, range_key, reg);
	for (i = 0; i < reg->nr_ranges; i++)
		nameset_add(&ranges, i);
	nameset_init(&pairs, reg->nr_allocs, pair_key, reg);

	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];
		struct where w = { "allocations", NULL, (long)i };
		long other;

		ret = check_alloc(reg, &ranges, p, i);
		if (ret)
			goto out;

		other = nameset_add(&pairs, i);
		if (other >= 0) {
			ret = corrupt(
				p, &w, NULL, NULL,
				"worktree '%s' has two allocations for service '%s': allocations[%ld] and allocations[%zu]",
				a->worktree, a->service, other, i);
			goto out;
		}

		if (portset_has(ports, a->port) &&
		    !(flags & REGISTRY_ALLOW_DUPLICATES)) {
			/* only on the way to an error: one linear search */
			other = registry_find_port(reg, a->port);
			ret = corrupt(
				p, &w, "port", twice_hint,
				"port %u is allocated twice: allocations[%ld] and allocations[%zu]",
				a->port, other, i);
			goto out;
		}
		portset_add(ports, a->port);
	}
out:
	nameset_release(&ranges);
	nameset_release(&pairs);
	free(ports);
	return ret;
}

static struct registry *new_registry(const char *path, size_t len)
{
	struct registry *reg = xcalloc(1, sizeof(*reg));

	reg->path = str_dup(path);
	arena_reserve(&get_priv(reg)->arena, len);
	return reg;
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
	struct registry *reg = new_registry(path, own ? 0 : len);
	struct scan scan;
	int ret;

	*out = NULL;
	scan_init(&scan, text, len);
	rd.scan = &scan;
	if (own) {
		rd.own = own->buf;
		rd.own_len = own->len;
	}
	p.arena = &get_priv(reg)->arena;
	ret = from_scan(reg, &p);
	if (ret)
		goto out;
	ret = check(reg, flags, &p);
	if (ret)
		goto out;
	if (own)
		get_priv(reg)->text = sbuf_detach(own);
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
	reg = new_registry(path, len);
	p.arena = &get_priv(reg)->arena;
	ret = from_json(reg, &p, root);
	if (ret)
		goto out;
	ret = check(reg, flags, &p);
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

void registry_new_default(struct registry **out, const char *path)
{
	struct registry *reg = xcalloc(1, sizeof(*reg));
	size_t i;

	reg->path = str_dup(path);
	reg->ranges = xcalloc(ARRAY_SIZE(default_ranges), sizeof(*reg->ranges));
	for (i = 0; i < ARRAY_SIZE(default_ranges); i++) {
		struct range *r = &reg->ranges[i];

		r->name = str_dup(default_ranges[i].name);
		r->start = default_ranges[i].start;
		r->end = default_ranges[i].end;
		r->description = str_dup(default_ranges[i].description);
	}
	reg->nr_ranges = ARRAY_SIZE(default_ranges);
	get_priv(reg);
	*out = reg;
}

/* Writing */

/*
 * A string for the file. save() has refused strings that are not UTF-8,
 * so the fallback, which turns every non-ASCII byte into '?', is only for
 * a registry serialized without saving.
 */
static json_t *string_value(const char *s)
{
	json_t *j;
	char *copy, *c;

	if (!s)
		return must(json_null());
	j = json_string(s);
	if (j)
		return j;
	copy = xstrdup(s);
	for (c = copy; *c; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	j = must(json_string(copy));
	free(copy);
	return j;
}

/*
 * Append the members of 'extra' (NULL: none) after the known ones. Their
 * text was read or written by jansson, so it reads back; if it does not,
 * this is a bug.
 */
static void add_extra(json_t *obj, const struct extra *extra)
{
	size_t i;

	for (i = 0; extra && i < extra->nr; i++) {
		const struct unknown *u = &extra->m[i];
		json_error_t jerr;
		json_t *value = json_loadb(
			u->json, u->len,
			JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);

		if (!value)
			abort();
		put(obj, u->key, value);
	}
}

/* The unknown keys of the range called 'name'; 'hint' is where to look. */
static const struct extra *range_extra(const struct priv *pv, const char *name,
				       size_t *hint)
{
	size_t i;

	for (i = 0; i < pv->nr_range_extra; i++) {
		size_t at = (*hint + i) % pv->nr_range_extra;

		if (!strcmp(pv->range_extra[at].name, name)) {
			*hint = at + 1;
			return pv->range_extra[at].extra;
		}
	}
	return NULL;
}

static json_t *span_json(const struct range *r, const struct extra *extra)
{
	json_t *o = must(json_object());

	put(o, "start", json_integer(r->start));
	put(o, "end", json_integer(r->end));
	if (r->description)
		put(o, "description", string_value(r->description));
	add_extra(o, extra);
	return o;
}

static json_t *alloc_json(const struct allocation *a)
{
	json_t *o = must(json_object());
	bool has_pid = a->process_id > 0 && a->process_id <= INT_MAX;

	put(o, "port", json_integer(a->port));
	put(o, "worktree", string_value(a->worktree));
	put(o, "path", string_value(a->path));
	put(o, "service", string_value(a->service));
	if (a->range)
		put(o, "range", string_value(a->range));
	put(o, "allocated_at", string_value(a->allocated_at));
	put(o, "allocated_by", string_value(a->allocated_by));
	put(o, "description", string_value(a->description));
	put(o, "process_id",
	    has_pid ? json_integer(a->process_id) : json_null());
	put(o, "health_status",
	    string_value(a->health_status ? a->health_status : "unknown"));
	if (a->health_checked_at)
		put(o, "health_checked_at", string_value(a->health_checked_at));
	add_extra(o, a->extra);
	return o;
}

static json_t *to_json(const struct registry *reg)
{
	const struct priv *pv = reg->priv;
	json_t *root = must(json_object());
	json_t *ranges = must(json_object());
	json_t *reserved = must(json_array());
	json_t *allocs = must(json_array());
	json_t *meta = must(json_object());
	size_t i, hint = 0;

	for (i = 0; i < reg->nr_ranges; i++) {
		const struct range *r = &reg->ranges[i];
		const struct extra *extra = NULL;

		if (pv)
			extra = range_extra(pv, r->name, &hint);
		/* range names are checked before saving: a bug otherwise */
		if (json_object_set_new(ranges, r->name, span_json(r, extra)))
			abort();
	}
	for (i = 0; i < reg->nr_reserved; i++) {
		const struct extra *extra = NULL;

		if (pv && i < pv->nr_reserved_extra)
			extra = pv->reserved_extra[i];
		append(reserved, span_json(&reg->reserved[i], extra));
	}
	for (i = 0; i < reg->nr_allocs; i++)
		append(allocs, alloc_json(&reg->allocs[i]));

	put(meta, "version",
	    string_value(pv && pv->version ? pv->version : FORMAT_VERSION));
	put(meta, "last_updated", string_value(pv ? pv->last_updated : NULL));
	put(meta, "total_allocations",
	    json_integer((json_int_t)reg->nr_allocs));
	put(meta, "schema_version",
	    json_integer(pv ? pv->schema_version : SCHEMA_VERSION));
	add_extra(meta, pv ? pv->meta_extra : NULL);

	put(root, "ranges", ranges);
	put(root, "reserved", reserved);
	put(root, "allocations", allocs);
	put(root, "metadata", meta);
	add_extra(root, pv ? pv->extra : NULL);
	return root;
}

void registry_serialize(const struct registry *reg, struct sbuf *out)
{
	json_t *root = to_json(reg);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (!text)
		oom();
	sbuf_addstr(out, text);
	sbuf_addch(out, '\n');
	free(text);
	json_decref(root);
}

int registry_save(struct registry *reg, struct error *err)
{
	struct parse p = { reg->path, err, true, NULL, NULL };
	struct sbuf text = SBUF_INIT;
	struct priv *pv = get_priv(reg);
	char now[UTC_TIME_SIZE];
	int ret;

	assert(reg->path);
	/*
	 * Never write what would not load back. Duplicate ports are let
	 * through: a registry loaded with them is saved by the commands
	 * that remove them one at a time.
	 */
	ret = check(reg, REGISTRY_ALLOW_DUPLICATES, &p);
	if (ret)
		goto out;

	if (!iso8601_utc(now, time(NULL))) {
		ret = error_set(err, ERR_FAIL, reg->path, 0, NULL,
				"cannot format the current time");
		goto out;
	}
	registry_set_string(&pv->last_updated, now);

	registry_serialize(reg, &text);
	ret = lockfile_replace(reg->path, text.buf, text.len, 0644,
			       LOCKFILE_HELD, err);
out:
	sbuf_release(&text);
	return ret;
}

int registry_lock(struct lockfile *lk, const char *path, int timeout_ms,
		  struct error *err)
{
	struct sbuf lock = SBUF_INIT;
	int ret;

	sbuf_addf(&lock, "%s.lock", path);
	ret = lockfile_lock(lk, lock.buf, timeout_ms, err);
	sbuf_release(&lock);
	return ret;
}

/* Queries and changes */

const struct range *registry_find_range(const struct registry *reg,
					const char *name)
{
	size_t i;

	for (i = 0; i < reg->nr_ranges; i++)
		if (!strcmp(reg->ranges[i].name, name))
			return &reg->ranges[i];
	return NULL;
}

const struct range *registry_range_for(const struct registry *reg,
				       const char *service,
				       const char *range_name)
{
	const struct range *r;

	if (range_name)
		return registry_find_range(reg, range_name);
	r = registry_find_range(reg, service);
	return r ? r : registry_find_range(reg, "default");
}

long registry_find(const struct registry *reg, const char *worktree,
		   const char *service)
{
	size_t i;

	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];

		if (!strcmp(a->worktree, worktree) &&
		    !strcmp(a->service, service))
			return (long)i;
	}
	return -1;
}

long registry_find_port(const struct registry *reg, uint16_t port)
{
	size_t i;

	for (i = 0; i < reg->nr_allocs; i++)
		if (reg->allocs[i].port == port)
			return (long)i;
	return -1;
}

const struct range *registry_reserved_at(const struct registry *reg,
					 uint16_t port)
{
	size_t i;

	for (i = 0; i < reg->nr_reserved; i++)
		if (reg->reserved[i].start <= port &&
		    port <= reg->reserved[i].end)
			return &reg->reserved[i];
	return NULL;
}

size_t registry_add(struct registry *reg, const struct allocation *a)
{
	struct allocation *n;

	assert(a->worktree && a->service);
	ALLOC_GROW(reg->allocs, reg->nr_allocs + 1, reg->alloc_allocs);
	n = &reg->allocs[reg->nr_allocs];
	memset(n, 0, sizeof(*n));
	n->port = a->port;
	n->worktree = str_dup(a->worktree);
	n->path = str_dup(a->path);
	n->service = str_dup(a->service);
	n->range = str_dup(a->range);
	n->allocated_at = str_dup(a->allocated_at);
	n->allocated_by = str_dup(a->allocated_by);
	n->description = str_dup(a->description);
	n->process_id = a->process_id;
	n->health_status =
		str_dup(a->health_status ? a->health_status : "unknown");
	n->health_checked_at = str_dup(a->health_checked_at);
	n->extra = NULL;
	return reg->nr_allocs++;
}

void registry_remove(struct registry *reg, size_t index)
{
	assert(index < reg->nr_allocs);
	alloc_clear(&reg->allocs[index]);
	memmove(&reg->allocs[index], &reg->allocs[index + 1],
		(reg->nr_allocs - index - 1) * sizeof(*reg->allocs));
	reg->nr_allocs--;
}

void registry_set_string(char **field, const char *value)
{
	char *copy = str_dup(value); /* 'value' may be '*field' */

	str_free(*field);
	*field = copy;
}
