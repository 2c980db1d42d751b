#include "common.h"
#include "checked.h"
#include "actlog.h"
#include "alloc.h"
#include "config.h"
#include "error.h"
#include "jsonw.h"
#include "report.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "session.h"

#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

void checked_list_release(struct checked_list *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++) {
		allocation_copy_release(&l->items[i].a);
		free(l->items[i].worktree);
		free(l->items[i].path);
		free(l->items[i].service);
		free(l->items[i].health_path);
		free(l->items[i].old_status);
		free(l->items[i].command);
	}
	free(l->items);
	l->items = NULL;
	l->nr = l->alloc = 0;
}

static const struct config *cached_config(struct config_cache *cc,
					  const char *path)
{
	struct error ignored = ERROR_INIT;
	struct config *c = NULL;
	size_t i;

	if (!path)
		return NULL;
	for (i = 0; i < cc->nr; i++)
		if (!strcmp(cc->paths[i], path))
			return cc->configs[i];
	/* a bad config is sync's to report; here the default path is used */
	if (config_load(&c, path, &ignored) < 0)
		c = NULL;
	ALLOC_GROW(cc->paths, cc->nr + 1, cc->alloc);
	cc->configs = xrealloc(cc->configs, cc->alloc * sizeof(*cc->configs));
	cc->paths[cc->nr] = xstrdup(path);
	cc->configs[cc->nr] = c;
	cc->nr++;
	return c;
}

void config_cache_release(struct config_cache *cc)
{
	size_t i;

	for (i = 0; i < cc->nr; i++) {
		free(cc->paths[i]);
		config_free(cc->configs[i]);
	}
	free(cc->paths);
	free(cc->configs);
	memset(cc, 0, sizeof(*cc));
}

/* The health path of a service: its configured one, else "/". */
static const char *health_path_of(const struct config *c, const char *service)
{
	const struct config_service *svc = c ? config_find_service(c, service) :
					       NULL;

	return svc && svc->health ? svc->health : "/";
}

void checked_list_add(struct checked_list *l, const struct allocation *a,
		      const char *path, struct config_cache *cc)
{
	struct checked *ck;

	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	ck = &l->items[l->nr++];
	memset(ck, 0, sizeof(*ck));
	allocation_copy(&ck->a, a);
	ck->worktree = xstrdup(a->worktree);
	ck->path = xstrdup_or_null(path);
	ck->service = xstrdup(a->service);
	ck->port = a->port;
	ck->health_path = xstrdup(health_path_of(cached_config(cc, path),
						 a->service));
	ck->old_status = xstrdup_or_null(a->health_status);
	ck->pid = ALLOCATION_NO_PID;
}

static int cmp_checked(const void *x, const void *y)
{
	const struct checked *a = x, *b = y;

	return (int)a->port - (int)b->port;
}

void checked_list_sort(struct checked_list *l)
{
	if (l->nr > 1)
		qsort(l->items, l->nr, sizeof(*l->items), cmp_checked);
}

/*
 * The process to name for a listener: the one whose parent does not hold
 * the socket too (the parent of a pre-forking server, not a worker).
 */
static const struct probe_proc *main_proc(const struct probe_listener *l)
{
	size_t i, j;

	for (i = 0; i < l->nr_procs; i++) {
		bool parent_holds = false;

		for (j = 0; j < l->nr_procs; j++)
			if (l->procs[j].pid == l->procs[i].ppid)
				parent_holds = true;
		if (!parent_holds)
			return &l->procs[i];
	}
	return l->nr_procs ? &l->procs[0] : NULL;
}

/* Fill in the process behind every port that answered a connect. */
static void find_processes(struct checked_list *l)
{
	struct portset *ports = xcalloc(1, sizeof(*ports));
	struct probe_listener *found = NULL;
	struct error err = ERROR_INIT;
	size_t nr = 0, i, j;
	bool any = false;

	for (i = 0; i < l->nr; i++)
		if (l->items[i].result.listening) {
			portset_add(ports, l->items[i].port);
			any = true;
		}
	/* not supported here, or /proc unreadable: the pid stays unknown */
	if (any && probe_listeners_set(&found, &nr, ports, &err) < 0)
		nr = 0;
	for (i = 0; i < l->nr; i++) {
		struct checked *ck = &l->items[i];

		for (j = 0; j < nr && ck->pid == ALLOCATION_NO_PID; j++) {
			const struct probe_proc *p;

			if (found[j].port != ck->port)
				continue;
			p = main_proc(&found[j]);
			if (!p)
				continue;
			ck->pid = p->pid;
			ck->command = xstrdup(p->cmdline);
		}
	}
	probe_listeners_free(found, nr);
	free(ports);
}

int checked_list_run(struct checked_list *l, int timeout_ms,
		     struct error *err)
{
	struct health_target *targets = xcalloc(l->nr + 1, sizeof(*targets));
	struct health_result *results = xcalloc(l->nr + 1, sizeof(*results));
	size_t i;
	int ret;

	for (i = 0; i < l->nr; i++) {
		targets[i].port = l->items[i].port;
		targets[i].path = l->items[i].health_path;
	}
	ret = health_check(results, targets, l->nr, timeout_ms, err);
	for (i = 0; i < l->nr; i++)
		l->items[i].result = results[i];
	free(targets);
	free(results);
	if (ret < 0)
		return ret;
	find_processes(l);
	return 0;
}

/*
 * Write the results back: reload the registry under its lock (it was let
 * go during the check, so other commands were not held up), update the
 * allocations that are still there with the same port, and log the
 * changes of status.
 */
int checked_list_write_back(struct session *s,
			    const struct checked_list *l, struct error *err)
{
	char when[UTC_TIME_SIZE];
	size_t i;
	int ret;

	ret = session_load(s, SESSION_NO_AUTORELEASE, err);
	if (ret < 0)
		return ret;
	iso8601_utc(when, time(NULL));
	for (i = 0; i < l->nr; i++) {
		const struct checked *ck = &l->items[i];
		const char *status = health_status_name(ck->result.status);
		long k = registry_find(s->reg, ck->worktree, ck->service);
		struct allocation *a;

		if (k < 0 || s->reg->allocs[k].port != ck->port)
			continue;
		a = &s->reg->allocs[k];
		if (!a->health_status || strcmp(a->health_status, status)) {
			struct sbuf detail = SBUF_INIT;

			sbuf_addf(&detail, "%s -> %s: %s",
				  a->health_status ? a->health_status :
						     "unknown",
				  status, ck->result.detail);
			session_log(s, "health", ck->worktree, ck->service,
				    ck->port,
				    ck->pid == ALLOCATION_NO_PID ? ACTLOG_NONE :
								   ck->pid,
				    detail.buf);
			sbuf_release(&detail);
			registry_set_string(&a->health_status, status);
		}
		a->process_id = ck->pid;
		registry_set_string(&a->health_checked_at, when);
		s->dirty = true;
	}
	return session_finish(s, err);
}

void checked_json(struct jsonw *w, const struct checked *ck)
{
	const struct health_result *r = &ck->result;

	struct allocation now = ck->a;

	/* the allocation as this check leaves it */
	now.path = ck->path;
	now.health_status = (char *)health_status_name(r->status);
	now.process_id = ck->pid;
	jsonw_object_begin(w, NULL);
	report_allocation(w, &now, NULL);
	jsonw_object_begin(w, "health");
	jsonw_string(w, "check", ck->health_path);
	jsonw_bool(w, "listening", r->listening);
	jsonw_string(w, "address", !r->family ? NULL :
				   r->family == AF_INET6 ? "::1" : "127.0.0.1");
	if (r->http_status)
		jsonw_int(w, "http_status", r->http_status);
	else
		jsonw_null(w, "http_status");
	jsonw_int_or_null(w, "connect_us", r->connect_us, -1);
	jsonw_int_or_null(w, "response_us", r->response_us, -1);
	jsonw_string(w, "command", ck->command);
	jsonw_string(w, "detail", r->detail);
	jsonw_object_end(w);
	jsonw_object_end(w);
}
