#include "common.h"
#include "checked.h"
#include "actlog.h"
#include "alloc.h"
#include "checktime.h"
#include "config.h"
#include "error.h"
#include "jsonw.h"
#include "report.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "session.h"
#include "owner.h"
#include "text.h"

#include <stdarg.h>
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
		free(l->items[i].addresses);
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

/* Does a socket at 'address' take connections to the loopback of 'family'? */
static bool reached_by(const struct probe_listener *l, int family)
{
	if (family == AF_INET)
		return !strcmp(l->address, "127.0.0.1") ||
		       !strcmp(l->address, "0.0.0.0") ||
		       /* a dual-stack socket takes IPv4 too */
		       !strcmp(l->address, "::");
	return !strcmp(l->address, "::1") || !strcmp(l->address, "::");
}

/* The program of 'p' is docker-proxy (a container's published port)? */
static bool is_docker_proxy(const struct probe_proc *p)
{
	const char *path = p->exe ? p->exe : p->cmdline;
	size_t len = strcspn(path, " ");

	return len >= 12 && !strncmp(path + len - 12, "docker-proxy", 12) &&
	       (len == 12 || path[len - 13] == '/');
}

/* Replace the detail of 'r', cut short as health.h's details are. */
__attribute__((format(printf, 2, 3)))
static void set_detail(struct health_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

static void name_process(struct checked *ck, const struct probe_proc *p)
{
	ck->pid = p->pid;
	free(ck->command);
	ck->command = xstrdup(p->cmdline);
}

/*
 * The process that answered 'ck' must be its worktree's own (owner.h);
 * else the check says so and by whom. A process that cannot be seen, a
 * worktree whose directory is unknown, and docker-proxy (which may
 * publish the worktree's own container) are given the benefit of the
 * doubt.
 */
static void judge_answer(struct checked *ck, const struct probe_proc *p,
			 const struct owner_map *m)
{
	struct health_result *r = &ck->result;
	struct owner_verdict v;
	char was[HEALTH_DETAIL_MAX];

	if (!ck->path || !owner_of_dir(m, ck->path) || is_docker_proxy(p))
		return;
	owner_judge(&v, m, p);
	if (v.wt && !v.wt->registry && !v.wt->gone &&
	    !strcmp(v.wt->name, ck->worktree))
		return;
	memcpy(was, r->detail, sizeof(was));
	r->status = HEALTH_FOREIGN;
	set_detail(r, "answered by pid %ld outside the worktree (%s)", p->pid,
		   was);
}

/*
 * Nothing took the connection on the loopback, yet a socket listens on
 * the port elsewhere (127.0.0.2, a LAN address): running, but out of
 * reach of clients of localhost.
 */
static void note_elsewhere(struct checked *ck, const struct probe_listener *l)
{
	struct health_result *r = &ck->result;

	r->status = HEALTH_UNHEALTHY;
	set_detail(r, "listening on %s only, not on 127.0.0.1 or ::1",
		   l->address);
	if (l->nr_procs)
		name_process(ck, probe_main_proc(l));
}

/* The listeners of every checked port: who answered, who listens where. */
static void find_processes(struct checked_list *l, const struct session *s)
{
	struct portset *ports = xcalloc(1, sizeof(*ports));
	struct owner_map m = OWNER_MAP_INIT;
	struct probe_listener *found = NULL;
	struct error err = ERROR_INIT;
	struct sbuf addrs = SBUF_INIT;
	size_t nr = 0, i, j;

	for (i = 0; i < l->nr; i++)
		portset_add(ports, l->items[i].port);
	/* not supported here, or /proc unreadable: the pid stays unknown */
	if (l->nr && probe_listeners_set(&found, &nr, ports, &err) < 0)
		nr = 0;
	if (nr && s)
		owner_map_add_repo(&m, s);
	for (i = 0; i < l->nr; i++) {
		struct checked *ck = &l->items[i];
		const struct probe_listener *answered = NULL, *other = NULL;

		sbuf_reset(&addrs);
		for (j = 0; j < nr; j++) {
			if (found[j].port != ck->port)
				continue;
			if (addrs.len)
				sbuf_addstr(&addrs, ", ");
			text_addstr_printable(&addrs, found[j].address);
			if (ck->result.listening &&
			    reached_by(&found[j], ck->result.family)) {
				if (!answered ||
				    (!answered->nr_procs && found[j].nr_procs))
					answered = &found[j];
			} else if (!other) {
				other = &found[j];
			}
		}
		free(ck->addresses);
		ck->addresses = addrs.len ? xstrdup(addrs.buf) : NULL;
		if (answered && answered->nr_procs) {
			const struct probe_proc *p = probe_main_proc(answered);

			name_process(ck, p);
			judge_answer(ck, p, &m);
		} else if (!ck->result.listening && other) {
			note_elsewhere(ck, other);
		}
	}
	sbuf_release(&addrs);
	owner_map_release(&m);
	probe_listeners_free(found, nr);
	free(ports);
}

int checked_list_run(struct checked_list *l, int timeout_ms,
		     const struct session *s, struct error *err)
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
	find_processes(l, s);
	return 0;
}

/*
 * Write the results back: reload the registry under its lock (it was let
 * go during the check, so other commands were not held up), update the
 * allocations that are still there with the same port, and log the
 * changes of status. The registry is rewritten only when a status or a
 * pid changed; the time of every check goes to the state folder
 * (checktime.h), so a check that changed nothing writes nothing in any
 * worktree.
 */
int checked_list_write_back(struct session *s,
			    const struct checked_list *l, struct error *err)
{
	struct checktime_entry *times;
	char when[UTC_TIME_SIZE];
	size_t i, nr_times = 0;
	int ret;

	ret = session_load(s, SESSION_NO_AUTORELEASE, err);
	if (ret < 0)
		return ret;
	iso8601_utc(when, time(NULL));
	times = xcalloc(l->nr ? l->nr : 1, sizeof(*times));
	for (i = 0; i < l->nr; i++) {
		const struct checked *ck = &l->items[i];
		const char *status = health_status_name(ck->result.status);
		long k = registry_find(s->reg, ck->worktree, ck->service);
		struct allocation *a;
		bool changed = false;

		if (k < 0 || s->reg->allocs[k].port != ck->port)
			continue;
		a = &s->reg->allocs[k];
		times[nr_times].worktree = a->worktree;
		times[nr_times].service = a->service;
		times[nr_times].port = a->port;
		nr_times++;
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
			changed = true;
		}
		if (a->process_id != ck->pid) {
			a->process_id = ck->pid;
			changed = true;
		}
		if (changed) {
			registry_set_string(&a->health_checked_at, when);
			s->dirty = true;
		}
	}
	checktime_record(s->reg, s->state_base, times, nr_times, when);
	free(times);
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
	jsonw_string(w, "listening_on", ck->addresses);
	jsonw_string(w, "detail", r->detail);
	jsonw_object_end(w);
	jsonw_object_end(w);
}
