#include "common.h"
#include "registry-internal.h"
#include "alloc.h"
#include "error.h"
#include "sbuf.h"
#include "lockfile.h"
#include "text.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <time.h>

#include <jansson.h>

/* jansson returns NULL when malloc fails; like x*alloc, give up. */
static json_t *must(json_t *j)
{
	if (!j)
		die_oom("building the registry");
	return j;
}

static void put(json_t *obj, const char *key, json_t *value)
{
	if (json_object_set_new(obj, key, must(value)) < 0)
		die_oom("building the registry");
}

static void append(json_t *array, json_t *value)
{
	if (json_array_append_new(array, value) < 0)
		die_oom("building the registry");
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
		die_oom("building the registry");
	sbuf_addstr(out, text);
	sbuf_addch(out, '\n');
	free(text);
	json_decref(root);
}

int registry_save(struct registry *reg, struct error *err)
{
	return registry_save_copy(reg, NULL, err);
}

int registry_save_copy(struct registry *reg, const char *copy,
		       struct error *err)
{
	struct parse p = { reg->path, err, true, NULL, NULL };
	struct sbuf text = SBUF_INIT;
	struct priv *pv = reg_priv(reg);
	char now[UTC_TIME_SIZE];
	int ret;

	assert(reg->path);
	/*
	 * Never write what would not load back. Duplicate ports are let
	 * through: a registry loaded with them is saved by the commands
	 * that remove them one at a time.
	 */
	ret = reg_check(reg, REGISTRY_ALLOW_DUPLICATES, &p);
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
	if (!ret && copy) {
		struct error e = ERROR_INIT;

		/* the change is made; only the safety net may be missing */
		if (lockfile_replace(copy, text.buf, text.len, 0644,
				     LOCKFILE_HELD, &e) < 0)
			warning_error(&e, "the copy that restores the registry is not up to date");
	}
out:
	sbuf_release(&text);
	return ret;
}
