#include "common.h"
#include "checktime.h"
#include "error.h"
#include "lockfile.h"
#include "nameset.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

/* A file larger than this is not ours to read: it is ignored. */
#define CHECKTIME_MAX (16 << 20)

static void alloc_key(const void *data, size_t i, const char **a,
		      const char **b)
{
	const struct registry *reg = data;

	*a = reg->allocs[i].worktree;
	*b = reg->allocs[i].service;
}

static void file_of(struct sbuf *out, const char *state_base)
{
	sbuf_addf(out, "%s.checked", state_base);
}

/* The "checked" array of the file, or NULL if there is none to use. */
static json_t *load(const char *state_base)
{
	struct sbuf path = SBUF_INIT;
	json_error_t jerr;
	struct stat st;
	json_t *root = NULL, *list;

	file_of(&path, state_base);
	if (stat(path.buf, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > CHECKTIME_MAX)
		goto out;
	root = json_load_file(path.buf, 0, &jerr);
out:
	sbuf_release(&path);
	list = root ? json_object_get(root, "checked") : NULL;
	if (!json_is_array(list)) {
		json_decref(root);
		return NULL;
	}
	json_incref(list);
	json_decref(root);
	return list;
}

/* An entry's fields, or false if it is not one we wrote. */
static bool entry_fields(json_t *e, const char **worktree,
			 const char **service, json_int_t *port,
			 const char **at)
{
	json_t *p = json_object_get(e, "port");
	time_t t;

	*worktree = json_string_value(json_object_get(e, "worktree"));
	*service = json_string_value(json_object_get(e, "service"));
	*at = json_string_value(json_object_get(e, "at"));
	if (!*worktree || !*service || !*at || !json_is_integer(p))
		return false;
	*port = json_integer_value(p);
	return *port > 0 && *port <= 65535 && !iso8601_parse(*at, &t);
}

/* Index the allocations of 'reg' by worktree and service. */
static void index_allocs(struct nameset *by_name, const struct registry *reg)
{
	size_t i;

	nameset_init(by_name, reg->nr_allocs, alloc_key, reg);
	for (i = 0; i < reg->nr_allocs; i++)
		nameset_add(by_name, i);
}

/*
 * The allocation an entry of the file is about (same worktree, service
 * and port), or -1; '*at' is the entry's time.
 */
static long entry_alloc(json_t *e, const struct nameset *by_name,
			const struct registry *reg, const char **at)
{
	const char *worktree, *service;
	json_int_t port;
	long k;

	if (!entry_fields(e, &worktree, &service, &port, at))
		return -1;
	k = nameset_find(by_name, worktree, service);
	return k >= 0 && reg->allocs[k].port == port ? k : -1;
}

static bool later(const char *a, const char *than)
{
	time_t ta, tt;

	if (!than || iso8601_parse(than, &tt) < 0)
		return true;
	return !iso8601_parse(a, &ta) && ta > tt;
}

void checktime_apply(struct registry *reg, const char *state_base)
{
	struct nameset by_name;
	json_t *list, *e;
	size_t i;

	if (!state_base || !reg->nr_allocs)
		return;
	list = load(state_base);
	if (!list)
		return;
	index_allocs(&by_name, reg);
	json_array_foreach(list, i, e) {
		const char *at;
		long k = entry_alloc(e, &by_name, reg, &at);

		if (k >= 0 && later(at, reg->allocs[k].health_checked_at))
			registry_set_string(&reg->allocs[k].health_checked_at,
					    at);
	}
	nameset_release(&by_name);
	json_decref(list);
}

static json_t *entry(const char *worktree, const char *service,
		     json_int_t port, const char *at)
{
	return json_pack("{s:s, s:s, s:I, s:s}", "worktree", worktree,
			 "service", service, "port", port, "at", at);
}

void checktime_record(const struct registry *reg, const char *state_base,
		      const struct checktime_entry *entries, size_t nr,
		      const char *when)
{
	struct error err = ERROR_INIT;
	struct sbuf path = SBUF_INIT;
	struct nameset by_name;
	json_t *old, *list, *root, *e;
	bool *fresh;
	char *text;
	size_t i;

	if (!state_base || !nr)
		return;
	/* which allocations this check covers: the rest keep their time */
	fresh = xcalloc(reg->nr_allocs ? reg->nr_allocs : 1, sizeof(*fresh));
	index_allocs(&by_name, reg);
	list = json_array();
	for (i = 0; i < nr; i++) {
		long k = nameset_find(&by_name, entries[i].worktree,
				      entries[i].service);

		if (k < 0 || reg->allocs[k].port != entries[i].port ||
		    fresh[k])
			continue;
		fresh[k] = true;
		json_array_append_new(list, entry(entries[i].worktree,
						  entries[i].service,
						  entries[i].port, when));
	}
	old = load(state_base);
	json_array_foreach(old, i, e) {
		const char *at;
		long k = entry_alloc(e, &by_name, reg, &at);

		if (k < 0 || fresh[k])
			continue;
		fresh[k] = true; /* once per allocation */
		json_array_append_new(list,
				      entry(reg->allocs[k].worktree,
					    reg->allocs[k].service,
					    reg->allocs[k].port, at));
	}
	json_decref(old);
	nameset_release(&by_name);
	free(fresh);

	root = json_pack("{s:o}", "checked", list);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (text) {
		size_t len = strlen(text);

		text = xrealloc(text, len + 2);
		memcpy(text + len, "\n", 2);
	}
	file_of(&path, state_base);
	if (!text || lockfile_replace(path.buf, text, strlen(text), 0666,
				      LOCKFILE_HELD, &err) < 0) {
		if (!text)
			error_set(&err, ERR_FAIL, path.buf, 0, NULL,
				  "out of memory");
		warning_error(&err, "the time of this check is not kept");
	}
	free(text);
	sbuf_release(&path);
}
