#include "common.h"
#include "registry.h"
#include "error.h"
#include "sbuf.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

/* What this version writes into "metadata", and the newest it reads. */
#define FORMAT_VERSION "1.0.0"
#define SCHEMA_VERSION 1

#define MIN_PORT 1024
#define NAME_MAX_LEN 64

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

static const char *const health_statuses[] = { "healthy", "unhealthy",
					       "not_running", "unknown", NULL };

static const char *const top_keys[] = { "ranges", "reserved", "allocations",
					"metadata", NULL };
static const char *const span_keys[] = { "start", "end", "description", NULL };
static const char *const alloc_keys[] = {
	"port",		 "worktree",	"path",
	"service",	 "range",	"allocated_at",
	"allocated_by",	 "description", "process_id",
	"health_status", NULL
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
	const char *json; /* NUL-terminated */
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
	struct extra *extra;	  /* unknown top-level keys, or NULL */
	struct extra *meta_extra; /* unknown keys of "metadata", or NULL */
	struct range_extra *range_extra; /* ranges with unknown keys */
	size_t nr_range_extra;
	size_t alloc_range_extra;
	struct extra **reserved_extra; /* reservation i -> its own, or NULL */
	size_t nr_reserved_extra;
	char *version;
	char *last_updated; /* NULL: null */
	json_int_t schema_version;
};

static void oom(void)
{
	fprintf(stderr, "fatal: out of memory\n");
	abort();
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
static void *arena_alloc(struct arena **arena, size_t size, size_t align)
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
static char *arena_str(struct arena **arena, const char *s, size_t len)
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

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a floating-point number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown value";
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

/* The members of 'obj' whose keys are not in 'known'; NULL if none. */
static struct extra *unknown_keys(struct parse *p, json_t *obj,
				  const char *const *known)
{
	const size_t flags =
		JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
	struct unknown *list = NULL; /* texts from json_dumps() */
	struct extra *extra = NULL;
	size_t nr = 0, alloc = 0, i;
	void *it;

	for (it = json_object_iter(obj); it;
	     it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);
		char *text;

		if (in_list(key, known))
			continue;
		text = json_dumps(json_object_iter_value(it), flags);
		if (!text)
			oom();
		ALLOC_GROW(list, nr + 1, alloc);
		list[nr].key = key;
		list[nr].json = text;
		list[nr].len = strlen(text);
		nr++;
	}
	if (nr) {
		extra = arena_alloc(p->arena,
				    sizeof(*extra) + nr * sizeof(extra->m[0]),
				    sizeof(void *));
		extra->nr = nr;
		for (i = 0; i < nr; i++) {
			struct unknown *u = &extra->m[i];

			u->key = arena_str(p->arena, list[i].key,
					   strlen(list[i].key));
			u->json =
				arena_str(p->arena, list[i].json, list[i].len);
			u->len = list[i].len;
			free((char *)list[i].json);
		}
	}
	free(list);
	return extra;
}

#define OPTIONAL (1 << 0) /* the key may be absent */
#define NULLABLE (1 << 1) /* its value may be null */

/*
 * Fetch 'key' of 'obj' (which 'w' locates) if it is there. Returns 1 with
 * the value, 0 when it is absent or null and 'opts' allows that, or
 * ERR_CORRUPT.
 */
static int get_value(json_t **out, struct parse *p, json_t *obj,
		     const struct where *w, const char *key, unsigned opts)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v) {
		if (opts & OPTIONAL)
			return 0;
		return corrupt(p, w, key, NULL, "required key '%s' is missing",
			       key);
	}
	if (json_is_null(v) && (opts & NULLABLE))
		return 0;
	*out = v;
	return 1;
}

static int get_int(json_int_t *out, struct parse *p, json_t *obj,
		   const struct where *w, const char *key, unsigned opts)
{
	json_t *v;
	int ret = get_value(&v, p, obj, w, key, opts);

	if (ret <= 0)
		return ret;
	if (!json_is_integer(v))
		return corrupt(p, w, key, NULL, "must be an integer%s, not %s",
			       opts & NULLABLE ? " or null" : "", type_name(v));
	*out = json_integer_value(v);
	return 1;
}

/* A string value, copied into '*out'; left alone when absent or null. */
static int get_str(char **out, struct parse *p, json_t *obj,
		   const struct where *w, const char *key, unsigned opts)
{
	json_t *v;
	int ret = get_value(&v, p, obj, w, key, opts);

	if (ret <= 0)
		return ret;
	if (!json_is_string(v))
		return corrupt(p, w, key, NULL, "must be a string%s, not %s",
			       opts & NULLABLE ? " or null" : "", type_name(v));
	*out = arena_str(p->arena, json_string_value(v), json_string_length(v));
	return 1;
}

static int port_too_low(struct parse *p, const struct where *w, const char *key,
			long long value)
{
	return corrupt(p, w, key, NULL,
		       "%s %lld is below %d: ports 0-%d are never handed out",
		       key, value, MIN_PORT, MIN_PORT - 1);
}

/*
 * A port number into '*out'. Only what does not fit is refused here:
 * check() refuses the ports below MIN_PORT, for registries built in
 * memory too. 'reserved' spans may start anywhere.
 */
static int get_port(uint16_t *out, struct parse *p, json_t *obj,
		    const struct where *w, const char *key, bool reserved)
{
	json_int_t v = 0;
	int ret = get_int(&v, p, obj, w, key, 0);

	if (ret < 0)
		return ret;
	if (v > 65535)
		return corrupt(p, w, key, NULL,
			       "%s %lld is above 65535, the highest port", key,
			       (long long)v);
	if (v < 0) {
		if (reserved)
			return corrupt(p, w, key, NULL,
				       "%s %lld is below 0, the lowest port",
				       key, (long long)v);
		return port_too_low(p, w, key, v);
	}
	*out = (uint16_t)v;
	return 0;
}

/* The fields of a range or a reservation. */
static int parse_span(struct range *r, struct parse *p, json_t *obj,
		      const struct where *w, bool reserved)
{
	if (!json_is_object(obj))
		return corrupt(p, w, NULL, NULL, "must be an object, not %s",
			       type_name(obj));
	if (get_port(&r->start, p, obj, w, "start", reserved) < 0 ||
	    get_port(&r->end, p, obj, w, "end", reserved) < 0 ||
	    get_str(&r->description, p, obj, w, "description",
		    OPTIONAL | NULLABLE) < 0)
		return ERR_CORRUPT;
	return 0;
}

static int parse_ranges(struct registry *reg, struct priv *pv, struct parse *p,
			json_t *ranges)
{
	void *it;

	if (!json_is_object(ranges))
		return corrupt(p, NULL, "ranges", NULL,
			       "must be an object, not %s", type_name(ranges));
	reg->ranges = xcalloc(json_object_size(ranges), sizeof(*reg->ranges));
	for (it = json_object_iter(ranges); it;
	     it = json_object_iter_next(ranges, it)) {
		const char *name = json_object_iter_key(it);
		json_t *value = json_object_iter_value(it);
		struct where w = { "ranges", name, -1 };
		struct range *r = &reg->ranges[reg->nr_ranges++];
		struct extra *extra;

		r->name = arena_str(p->arena, name, strlen(name));
		if (parse_span(r, p, value, &w, false) < 0)
			return ERR_CORRUPT;
		extra = unknown_keys(p, value, span_keys);
		if (!extra)
			continue;
		ALLOC_GROW(pv->range_extra, pv->nr_range_extra + 1,
			   pv->alloc_range_extra);
		pv->range_extra[pv->nr_range_extra].name = r->name;
		pv->range_extra[pv->nr_range_extra++].extra = extra;
	}
	return 0;
}

static int parse_reserved(struct registry *reg, struct priv *pv,
			  struct parse *p, json_t *reserved)
{
	size_t i, nr;

	if (!json_is_array(reserved))
		return corrupt(p, NULL, "reserved", NULL,
			       "must be an array, not %s", type_name(reserved));
	nr = json_array_size(reserved);
	reg->reserved = xcalloc(nr, sizeof(*reg->reserved));
	for (i = 0; i < nr; i++) {
		json_t *value = json_array_get(reserved, i);
		struct where w = { "reserved", NULL, (long)i };
		struct range *r = &reg->reserved[reg->nr_reserved++];
		struct extra *extra;

		if (parse_span(r, p, value, &w, true) < 0)
			return ERR_CORRUPT;
		extra = unknown_keys(p, value, span_keys);
		if (!extra)
			continue;
		if (!pv->reserved_extra)
			pv->reserved_extra =
				xcalloc(nr, sizeof(*pv->reserved_extra));
		pv->reserved_extra[i] = extra;
		pv->nr_reserved_extra = i + 1;
	}
	return 0;
}

static int parse_alloc(struct allocation *a, struct parse *p, json_t *obj,
		       const struct where *w)
{
	json_int_t pid = 0;
	int ret;

	if (!json_is_object(obj))
		return corrupt(p, w, NULL, NULL, "must be an object, not %s",
			       type_name(obj));
	if (get_port(&a->port, p, obj, w, "port", false) < 0 ||
	    get_str(&a->worktree, p, obj, w, "worktree", 0) < 0 ||
	    get_str(&a->path, p, obj, w, "path", OPTIONAL | NULLABLE) < 0 ||
	    get_str(&a->service, p, obj, w, "service", 0) < 0 ||
	    get_str(&a->range, p, obj, w, "range", OPTIONAL | NULLABLE) < 0 ||
	    get_str(&a->allocated_at, p, obj, w, "allocated_at",
		    OPTIONAL | NULLABLE) < 0 ||
	    get_str(&a->allocated_by, p, obj, w, "allocated_by",
		    OPTIONAL | NULLABLE) < 0 ||
	    get_str(&a->description, p, obj, w, "description",
		    OPTIONAL | NULLABLE) < 0)
		return ERR_CORRUPT;

	ret = get_int(&pid, p, obj, w, "process_id", OPTIONAL | NULLABLE);
	if (ret < 0)
		return ret;
	if (ret > 0 && (pid <= 0 || pid > INT_MAX))
		return corrupt(p, w, "process_id", NULL,
			       "%lld is not a process id", (long long)pid);
	if (ret > 0)
		a->process_id = (long)pid;

	/* absent or null: never checked, so "unknown" */
	if (get_str(&a->health_status, p, obj, w, "health_status",
		    OPTIONAL | NULLABLE) < 0)
		return ERR_CORRUPT;
	if (!a->health_status)
		a->health_status = arena_str(p->arena, "unknown", 7);

	a->extra = unknown_keys(p, obj, alloc_keys);
	return 0;
}

static int parse_allocs(struct registry *reg, struct parse *p, json_t *allocs)
{
	size_t i, nr;

	if (!json_is_array(allocs))
		return corrupt(p, NULL, "allocations", NULL,
			       "must be an array, not %s", type_name(allocs));
	nr = json_array_size(allocs);
	ALLOC_GROW(reg->allocs, nr, reg->alloc_allocs);
	for (i = 0; i < nr; i++) {
		json_t *value = json_array_get(allocs, i);
		struct where w = { "allocations", NULL, (long)i };
		struct allocation *a = &reg->allocs[reg->nr_allocs++];

		memset(a, 0, sizeof(*a));
		a->process_id = ALLOCATION_NO_PID;
		if (parse_alloc(a, p, value, &w) < 0)
			return ERR_CORRUPT;
	}
	return 0;
}

static int parse_metadata(struct priv *pv, struct parse *p, json_t *meta)
{
	const struct where w = { "metadata", NULL, -1 };
	json_int_t total = 0, schema = SCHEMA_VERSION;
	char *version = NULL;
	int ret;

	if (!json_is_object(meta))
		return corrupt(p, NULL, "metadata", NULL,
			       "must be an object, not %s", type_name(meta));
	if (get_str(&version, p, meta, &w, "version", OPTIONAL) < 0 ||
	    get_str(&pv->last_updated, p, meta, &w, "last_updated",
		    OPTIONAL | NULLABLE) < 0)
		return ERR_CORRUPT;
	if (version) {
		str_free(pv->version);
		pv->version = version;
	}

	/* recomputed on every save, but it has to be a count */
	ret = get_int(&total, p, meta, &w, "total_allocations", OPTIONAL);
	if (ret < 0)
		return ret;
	if (total < 0)
		return corrupt(p, &w, "total_allocations", NULL,
			       "%lld is not a count", (long long)total);

	ret = get_int(&schema, p, meta, &w, "schema_version", OPTIONAL);
	if (ret < 0)
		return ret;
	if (schema < 1)
		return corrupt(p, &w, "schema_version", NULL,
			       "%lld is not a schema version",
			       (long long)schema);
	if (schema > SCHEMA_VERSION)
		return corrupt(
			p, &w, "schema_version",
			"upgrade git-worktree-ports to use this registry",
			"schema version %lld is newer than the %d this git-worktree-ports reads",
			(long long)schema, SCHEMA_VERSION);
	pv->schema_version = schema;

	pv->meta_extra = unknown_keys(p, meta, meta_keys);
	return 0;
}

/* The JSON tree into 'reg': types and what fits in the structs. */
static int from_json(struct registry *reg, struct parse *p, json_t *root)
{
	struct priv *pv = get_priv(reg);
	json_t *v;

	if (!json_is_object(root))
		return corrupt(p, NULL, NULL, NULL,
			       "the registry must be a JSON object, not %s",
			       type_name(root));

	v = json_object_get(root, "ranges");
	if (!v)
		return corrupt(p, NULL, "ranges", NULL,
			       "required key 'ranges' is missing");
	if (parse_ranges(reg, pv, p, v) < 0)
		return ERR_CORRUPT;

	/* seed registries have no "reserved" */
	v = json_object_get(root, "reserved");
	if (v && parse_reserved(reg, pv, p, v) < 0)
		return ERR_CORRUPT;

	v = json_object_get(root, "allocations");
	if (!v)
		return corrupt(p, NULL, "allocations", NULL,
			       "required key 'allocations' is missing");
	if (parse_allocs(reg, p, v) < 0)
		return ERR_CORRUPT;

	v = json_object_get(root, "metadata");
	if (v && parse_metadata(pv, p, v) < 0)
		return ERR_CORRUPT;

	pv->extra = unknown_keys(p, root, top_keys);
	return 0;
}

/*
 * An open-addressing hash table of indexes into an array the caller
 * knows, so that the checks below stay linear in the number of
 * allocations.
 */
struct index {
	size_t *slot; /* 1 + the index of an element; 0: empty */
	size_t mask;
};

static void index_init(struct index *ix, size_t nr)
{
	size_t size = 16;

	while (size < nr * 2)
		size *= 2;
	ix->slot = xcalloc(size, sizeof(*ix->slot));
	ix->mask = size - 1;
}

static void index_release(struct index *ix)
{
	free(ix->slot);
	ix->slot = NULL;
}

/* 64-bit FNV-1a; 'b' NULL hashes 'a' alone, else 'a', a NUL byte, 'b'. */
static uint64_t hash_names(const char *a, const char *b)
{
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *s;

	for (s = (const unsigned char *)a; *s; s++)
		h = (h ^ *s) * 1099511628211ULL;
	if (!b)
		return h;
	h *= 1099511628211ULL; /* the NUL byte: h ^ 0 == h */
	for (s = (const unsigned char *)b; *s; s++)
		h = (h ^ *s) * 1099511628211ULL;
	return h;
}

/* The first range called 'name', as registry_find_range() finds it. */
static const struct range *index_range(const struct index *ix,
				       const struct registry *reg,
				       const char *name)
{
	size_t i = (size_t)hash_names(name, NULL) & ix->mask;

	for (; ix->slot[i]; i = (i + 1) & ix->mask) {
		const struct range *r = &reg->ranges[ix->slot[i] - 1];

		if (!strcmp(r->name, name))
			return r;
	}
	return NULL;
}

static void index_add_range(struct index *ix, const struct registry *reg,
			    size_t n)
{
	const char *name = reg->ranges[n].name;
	size_t i = (size_t)hash_names(name, NULL) & ix->mask;

	for (; ix->slot[i]; i = (i + 1) & ix->mask)
		if (!strcmp(reg->ranges[ix->slot[i] - 1].name, name))
			return;
	ix->slot[i] = n + 1;
}

/*
 * Add allocation 'n' under its worktree and service; if an earlier one
 * has both already, return its index instead.
 */
static long index_add_pair(struct index *ix, const struct registry *reg,
			   size_t n)
{
	const struct allocation *a = &reg->allocs[n];
	size_t i = (size_t)hash_names(a->worktree, a->service) & ix->mask;

	for (; ix->slot[i]; i = (i + 1) & ix->mask) {
		const struct allocation *b = &reg->allocs[ix->slot[i] - 1];

		if (!strcmp(a->worktree, b->worktree) &&
		    !strcmp(a->service, b->service))
			return (long)(ix->slot[i] - 1);
	}
	ix->slot[i] = n + 1;
	return -1;
}

/* The same resolution as registry_range_for(), through the index. */
static const struct range *resolve_range(const struct index *ix,
					 const struct registry *reg,
					 const struct allocation *a)
{
	const struct range *r;

	if (a->range)
		return index_range(ix, reg, a->range);
	r = index_range(ix, reg, a->service);
	return r ? r : index_range(ix, reg, "default");
}

/* Same rule as alloc_valid_name(), which this module does not link. */
static bool valid_name(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (i >= NAME_MAX_LEN || (!alnum && (!i || !strchr("._-", c))))
			return false;
	}
	return i > 0;
}

static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		unsigned c = *p++;
		uint32_t cp, min;
		int more;

		if (c < 0x80)
			continue;
		if (c >= 0xc2 && c <= 0xdf)
			more = 1;
		else if (c >= 0xe0 && c <= 0xef)
			more = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			more = 3;
		else
			return false;
		cp = c & (0x3f >> more);
		min = more == 1 ? 0x80 : more == 2 ? 0x800 : 0x10000;
		for (; more; more--, p++) {
			if ((*p & 0xc0) != 0x80)
				return false; /* also stops at the NUL */
			cp = (cp << 6) | (*p & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
	}
	return true;
}

static int check_string(struct parse *p, const struct where *w, const char *key,
			const char *s)
{
	if (!p->saving || !s || valid_utf8(s))
		return 0;
	return corrupt(p, w, key, NULL, "is not valid UTF-8");
}

static int check_ranges(const struct registry *reg, struct parse *p)
{
	size_t i;

	for (i = 0; i < reg->nr_ranges; i++) {
		const struct range *r = &reg->ranges[i];
		struct where w = { "ranges", r->name, -1 };

		if (!r->name || !valid_name(r->name))
			return corrupt(p, NULL, "ranges", name_hint,
				       "'%s' is not a valid range name",
				       r->name ? r->name : "");
		if (r->start < MIN_PORT)
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

static int check_alloc(const struct registry *reg, const struct index *ranges,
		       struct parse *p, size_t i)
{
	const struct allocation *a = &reg->allocs[i];
	struct where w = { "allocations", NULL, (long)i };
	const char *status = a->health_status ? a->health_status : "unknown";

	if (a->port < MIN_PORT)
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
	if (check_string(p, &w, "worktree", a->worktree) < 0 ||
	    check_string(p, &w, "path", a->path) < 0 ||
	    check_string(p, &w, "service", a->service) < 0 ||
	    check_string(p, &w, "range", a->range) < 0 ||
	    check_string(p, &w, "allocated_at", a->allocated_at) < 0 ||
	    check_string(p, &w, "allocated_by", a->allocated_by) < 0 ||
	    check_string(p, &w, "description", a->description) < 0 ||
	    check_string(p, &w, "health_status", a->health_status) < 0)
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
	struct index ranges = { NULL, 0 }, pairs = { NULL, 0 };
	uint64_t *ports = xcalloc(65536 / 64, sizeof(*ports));
	size_t i;
	int ret;

	ret = check_ranges(reg, p);
	if (ret)
		goto out;

	index_init(&ranges, reg->nr_ranges);
	for (i = 0; i < reg->nr_ranges; i++)
		index_add_range(&ranges, reg, i);
	index_init(&pairs, reg->nr_allocs);

	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];
		struct where w = { "allocations", NULL, (long)i };
		uint64_t bit = (uint64_t)1 << (a->port % 64);
		long other;

		ret = check_alloc(reg, &ranges, p, i);
		if (ret)
			goto out;

		other = index_add_pair(&pairs, reg, i);
		if (other >= 0) {
			ret = corrupt(
				p, &w, NULL, NULL,
				"worktree '%s' has two allocations for service '%s': allocations[%ld] and allocations[%zu]",
				a->worktree, a->service, other, i);
			goto out;
		}

		if ((ports[a->port / 64] & bit) &&
		    !(flags & REGISTRY_ALLOW_DUPLICATES)) {
			/* only on the way to an error: one linear search */
			other = registry_find_port(reg, a->port);
			ret = corrupt(
				p, &w, "port", twice_hint,
				"port %u is allocated twice: allocations[%ld] and allocations[%zu]",
				a->port, other, i);
			goto out;
		}
		ports[a->port / 64] |= bit;
	}
out:
	index_release(&ranges);
	index_release(&pairs);
	free(ports);
	return ret;
}

int registry_parse(struct registry **out, const char *text, size_t len,
		   const char *path, unsigned flags, struct error *err)
{
	struct parse p = { path, err, false, NULL };
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
	reg = xcalloc(1, sizeof(*reg));
	reg->path = str_dup(path);
	p.arena = &get_priv(reg)->arena;
	arena_reserve(p.arena, len);
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
	json_decref(root);
	return ret;
}

int registry_load(struct registry **out, const char *path, unsigned flags,
		  struct error *err)
{
	struct sbuf text = SBUF_INIT;
	int ret;

	*out = NULL;
	if (sbuf_read_file(&text, path) < 0) {
		if (errno == ENOENT) {
			ret = error_set(err, ERR_NOTFOUND, path, 0, NULL,
					"no registry");
			error_hint(
				err,
				"run 'git worktree-ports init' to create it");
		} else {
			ret = error_errno(err, path,
					  "cannot read the registry");
		}
		goto out;
	}
	ret = registry_parse(out, text.buf, text.len, path, flags, err);
out:
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
	struct parse p = { reg->path, err, true, NULL };
	struct sbuf text = SBUF_INIT;
	struct priv *pv = get_priv(reg);
	char now[sizeof("YYYY-MM-DDTHH:MM:SSZ")];
	time_t t = time(NULL);
	struct tm tm;
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

	if (!gmtime_r(&t, &tm) ||
	    !strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
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
