#include "common.h"
#include "registry-internal.h"
#include "alloc.h"
#include "error.h"
#include "sbuf.h"
#include "nameset.h"
#include "text.h"

#include <limits.h>
#include <stdio.h>

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
	return reg_corrupt(p, w, key, NULL, "is not valid UTF-8");
}

static int check_ranges(const struct registry *reg, struct parse *p)
{
	size_t i;

	for (i = 0; i < reg->nr_ranges; i++) {
		const struct range *r = &reg->ranges[i];
		struct where w = { "ranges", r->name, -1 };

		if (!r->name || !alloc_valid_name(r->name))
			return reg_corrupt(p, NULL, "ranges", reg_name_hint,
				       "'%s' is not a valid range name",
				       r->name ? r->name : "");
		if (r->start < ALLOC_MIN_PORT)
			return reg_port_too_low(p, &w, "start", r->start);
		if (r->start > r->end)
			return reg_corrupt(p, &w, NULL, NULL,
				       "start %u is after end %u", r->start,
				       r->end);
		if (check_string(p, &w, "description", r->description) < 0)
			return ERR_CORRUPT;
	}
	for (i = 0; i < reg->nr_reserved; i++) {
		const struct range *r = &reg->reserved[i];
		struct where w = { "reserved", NULL, (long)i };

		if (r->start > r->end)
			return reg_corrupt(p, &w, NULL, NULL,
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
		return reg_port_too_low(p, &w, "port", a->port);
	if (!a->worktree || !*a->worktree)
		return reg_corrupt(p, &w, "worktree", NULL, "must not be empty");
	if (!a->service || !*a->service)
		return reg_corrupt(p, &w, "service", NULL, "must not be empty");
	if (!reg_in_list(status, reg_health_statuses))
		return reg_corrupt(
			p, &w, "health_status", NULL,
			"'%s' is not one of healthy, unhealthy, not_running or unknown",
			status);
	if (a->process_id != ALLOCATION_NO_PID &&
	    (a->process_id <= 0 || a->process_id > INT_MAX))
		return reg_corrupt(p, &w, "process_id", NULL,
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
		return reg_corrupt(p, &w, "range", reg_range_hint, "no range '%s'",
			       a->range);
	return reg_corrupt(p, &w, "service", reg_default_hint,
		       "no range '%s' and no 'default' range", a->service);
}

/*
 * What the types cannot say: names, bounds, ranges that exist, and no
 * worktree holding two ports for one service nor (unless 'flags' allows
 * it) one port allocated twice. Run on every load and before every save,
 * in time linear in the number of allocations.
 */
int reg_check(const struct registry *reg, unsigned flags, struct parse *p)
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
			ret = reg_corrupt(
				p, &w, NULL, NULL,
				"worktree '%s' has two allocations for service '%s': allocations[%ld] and allocations[%zu]",
				a->worktree, a->service, other, i);
			goto out;
		}

		if (portset_has(ports, a->port) &&
		    !(flags & REGISTRY_ALLOW_DUPLICATES)) {
			/* only on the way to an error: one linear search */
			other = registry_find_port(reg, a->port);
			ret = reg_corrupt(
				p, &w, "port", reg_twice_hint,
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
