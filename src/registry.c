#include "common.h"
#include "registry-internal.h"
#include "alloc.h"
#include "error.h"
#include "sbuf.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

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

/* The hints of the registry's errors (registry-internal.h). */
const char reg_fix_hint[] =
	"fix the field by hand; the registry is not rewritten while it is invalid ('git worktree-ports init --reset' starts over, losing every allocation)";
const char reg_json_hint[] =
	"fix the file by hand; the registry is not rewritten while it is invalid ('git worktree-ports init --reset' starts over, losing every allocation)";
const char reg_range_hint[] =
	"add the range to \"ranges\" or correct the allocation by hand; the registry is not rewritten while it is invalid";
const char reg_default_hint[] =
	"add a range for the service or a 'default' range to \"ranges\"; the registry is not rewritten while it is invalid";
const char reg_name_hint[] =
	"range names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit";
const char reg_twice_hint[] =
	"run 'git worktree-ports check' to see the conflicts, then remove one of the two allocations by hand";
const char reg_save_hint[] =
	"nothing was written: the registry on disk is unchanged";
/* "unknown" first: it is the most common, and this is searched often */
const char *const reg_health_statuses[] = { "unknown", "healthy",
					       "unhealthy", "not_running",
					       "foreign", NULL };
const char *const reg_span_keys[] = { "start", "end", "description", NULL };
const char *const reg_alloc_keys[] = {
	"port",		 "worktree",	"path",
	"service",	 "range",	"allocated_at",
	"allocated_by",	 "description", "process_id",
	"health_status", "health_checked_at", NULL
};
const char *const reg_meta_keys[] = { "version", "last_updated",
					 "total_allocations", "schema_version",
					 NULL };

/* Make room for 'size' bytes at least in 'arena' before a load. */
void reg_arena_reserve(struct arena **arena, size_t size)
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

static void arena_free(struct arena *arena)
{
	while (arena) {
		struct arena *next = arena->next;

		free(arena);
		arena = next;
	}
}

/* A copy of 's' (NULL stays NULL) in a block of its own. */
char *reg_str_dup(const char *s)
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

void reg_str_free(char *s)
{
	if (s && s[-1] == STR_OWN_BLOCK)
		free(s - 1);
}

struct priv *reg_priv(struct registry *reg)
{
	struct priv *pv = reg->priv;

	if (!pv) {
		pv = xcalloc(1, sizeof(*pv));
		pv->version = reg_str_dup(FORMAT_VERSION);
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
	reg_str_free(pv->version);
	reg_str_free(pv->last_updated);
	arena_free(pv->arena);
	free(pv->text);
	free(pv);
}

static void range_clear(struct range *r)
{
	reg_str_free(r->name);
	reg_str_free(r->description);
}

static void alloc_clear(struct allocation *a)
{
	reg_str_free(a->worktree);
	reg_str_free(a->path);
	reg_str_free(a->service);
	reg_str_free(a->range);
	reg_str_free(a->allocated_at);
	reg_str_free(a->allocated_by);
	reg_str_free(a->description);
	reg_str_free(a->health_status);
	reg_str_free(a->health_checked_at);
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
	reg_str_free(reg->path);
	free(reg);
}

struct registry *reg_new(const char *path, size_t len)
{
	struct registry *reg = xcalloc(1, sizeof(*reg));

	reg->path = reg_str_dup(path);
	reg_arena_reserve(&reg_priv(reg)->arena, len);
	return reg;
}

void registry_new_default(struct registry **out, const char *path)
{
	struct registry *reg = xcalloc(1, sizeof(*reg));
	size_t i;

	reg->path = reg_str_dup(path);
	reg->ranges = xcalloc(ARRAY_SIZE(default_ranges), sizeof(*reg->ranges));
	for (i = 0; i < ARRAY_SIZE(default_ranges); i++) {
		struct range *r = &reg->ranges[i];

		r->name = reg_str_dup(default_ranges[i].name);
		r->start = default_ranges[i].start;
		r->end = default_ranges[i].end;
		r->description = reg_str_dup(default_ranges[i].description);
	}
	reg->nr_ranges = ARRAY_SIZE(default_ranges);
	reg_priv(reg);
	*out = reg;
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

void registry_worktree_key(const void *data, size_t i, const char **a,
			   const char **b)
{
	const struct registry *reg = data;

	*a = reg->allocs[i].worktree;
	*b = NULL;
}

void registry_add_range(struct registry *reg, const char *name,
			uint16_t start, uint16_t end, const char *description)
{
	struct priv *pv = reg_priv(reg);
	struct range *r;

	assert(!registry_find_range(reg, name));
	if (pv->alloc_ranges < reg->nr_ranges)
		pv->alloc_ranges = reg->nr_ranges;
	ALLOC_GROW(reg->ranges, reg->nr_ranges + 1, pv->alloc_ranges);
	r = &reg->ranges[reg->nr_ranges++];
	memset(r, 0, sizeof(*r));
	r->name = reg_str_dup(name);
	r->start = start;
	r->end = end;
	r->description = reg_str_dup(description);
}

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
	n->worktree = reg_str_dup(a->worktree);
	n->path = reg_str_dup(a->path);
	n->service = reg_str_dup(a->service);
	n->range = reg_str_dup(a->range);
	n->allocated_at = reg_str_dup(a->allocated_at);
	n->allocated_by = reg_str_dup(a->allocated_by);
	n->description = reg_str_dup(a->description);
	n->process_id = a->process_id;
	n->health_status =
		reg_str_dup(a->health_status ? a->health_status : "unknown");
	n->health_checked_at = reg_str_dup(a->health_checked_at);
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
	char *copy = reg_str_dup(value); /* 'value' may be '*field' */

	reg_str_free(*field);
	*field = copy;
}

void allocation_copy(struct allocation *out, const struct allocation *a)
{
	memset(out, 0, sizeof(*out));
	out->port = a->port;
	out->worktree = xstrdup_or_null(a->worktree);
	out->path = xstrdup_or_null(a->path);
	out->service = xstrdup_or_null(a->service);
	out->range = xstrdup_or_null(a->range);
	out->allocated_at = xstrdup_or_null(a->allocated_at);
	out->allocated_by = xstrdup_or_null(a->allocated_by);
	out->description = xstrdup_or_null(a->description);
	out->process_id = a->process_id;
	out->health_status = xstrdup_or_null(a->health_status);
	out->health_checked_at = xstrdup_or_null(a->health_checked_at);
}

void allocation_copy_release(struct allocation *a)
{
	free(a->worktree);
	free(a->path);
	free(a->service);
	free(a->range);
	free(a->allocated_at);
	free(a->allocated_by);
	free(a->description);
	free(a->health_status);
	free(a->health_checked_at);
	memset(a, 0, sizeof(*a));
	a->process_id = ALLOCATION_NO_PID;
}
