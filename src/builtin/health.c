#include "common.h"
#include "actlog.h"
#include "builtin.h"
#include "cmd.h"
#include "config.h"
#include "error.h"
#include "health.h"
#include "jsonw.h"
#include "parse-options.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "alloc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#define DEFAULT_CHECK_MS 2000
#define DEFAULT_WAIT_MS 60000
#define MIN_ATTEMPT_MS 50

/* One allocation to check, copied so the registry can be reloaded. */
struct checked {
	char *worktree;
	char *path;
	char *service;
	uint16_t port;
	char *health_path; /* "/", "tcp" or the configured path */
	char *old_status;
	struct health_result result;
	long pid; /* ALLOCATION_NO_PID if none seen */
	char *command;
};

struct checked_list {
	struct checked *items;
	size_t nr, alloc;
};

static void checked_release(struct checked_list *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++) {
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

/* The .worktree-ports.ini of each worktree, read once. */
struct config_cache {
	char **paths;
	struct config **configs;
	size_t nr, alloc;
};

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

static void config_cache_release(struct config_cache *cc)
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

static void add_checked(struct checked_list *l, const struct allocation *a,
			const char *path, struct config_cache *cc)
{
	struct checked *ck;

	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	ck = &l->items[l->nr++];
	memset(ck, 0, sizeof(*ck));
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

static int run_checks(struct checked_list *l, int timeout_ms,
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
static int write_back(struct session *s, const struct checked_list *l,
		      struct error *err)
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

static double ms(long us)
{
	return us < 0 ? -1 : us / 1000.0;
}

static void json_checked(struct jsonw *w, const struct checked *ck)
{
	const struct health_result *r = &ck->result;

	jsonw_object_begin(w, NULL);
	jsonw_int(w, "port", ck->port);
	jsonw_string(w, "worktree", ck->worktree);
	jsonw_string(w, "path", ck->path);
	jsonw_string(w, "service", ck->service);
	jsonw_string(w, "health_status", health_status_name(r->status));
	if (ck->pid == ALLOCATION_NO_PID)
		jsonw_null(w, "process_id");
	else
		jsonw_int(w, "process_id", ck->pid);
	jsonw_object_begin(w, "health");
	jsonw_string(w, "check", ck->health_path);
	jsonw_bool(w, "listening", r->listening);
	jsonw_string(w, "address", !r->family ? NULL :
				   r->family == AF_INET6 ? "::1" : "127.0.0.1");
	if (r->http_status)
		jsonw_int(w, "http_status", r->http_status);
	else
		jsonw_null(w, "http_status");
	if (r->connect_us < 0)
		jsonw_null(w, "connect_us");
	else
		jsonw_int(w, "connect_us", r->connect_us);
	if (r->response_us < 0)
		jsonw_null(w, "response_us");
	else
		jsonw_int(w, "response_us", r->response_us);
	jsonw_string(w, "command", ck->command);
	jsonw_string(w, "detail", r->detail);
	jsonw_object_end(w);
	jsonw_object_end(w);
}

static void print_checked(const struct global_opts *g, bool verbose,
			  const struct session *s, const struct checked_list *l,
			  long elapsed_us, int timeout_ms, size_t healthy)
{
	int wt_width = 8, svc_width = 7;
	size_t i;

	if (g->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "registry", s->registry_path);
		jsonw_int(&w, "timeout_ms", timeout_ms);
		jsonw_int(&w, "elapsed_us", elapsed_us);
		jsonw_int(&w, "checked", (long long)l->nr);
		jsonw_int(&w, "healthy", (long long)healthy);
		jsonw_array_begin(&w, "allocations");
		for (i = 0; i < l->nr; i++)
			json_checked(&w, &l->items[i]);
		jsonw_array_end(&w);
		jsonw_object_end(&w);
		fwrite(w.out.buf, 1, w.out.len, stdout);
		jsonw_release(&w);
		return;
	}
	if (g->quiet)
		return;
	for (i = 0; i < l->nr; i++) {
		int a = (int)strlen(l->items[i].worktree);
		int b = (int)strlen(l->items[i].service);

		wt_width = a > wt_width ? a : wt_width;
		svc_width = b > svc_width ? b : svc_width;
	}
	printf("%-5s  %-*s  %-*s  %-11s  %-7s  %s\n", "PORT", wt_width,
	       "WORKTREE", svc_width, "SERVICE", "HEALTH", "PID", "COMMAND");
	for (i = 0; i < l->nr; i++) {
		const struct checked *ck = &l->items[i];
		const struct health_result *r = &ck->result;
		char pid[24] = "-";

		if (ck->pid != ALLOCATION_NO_PID)
			snprintf(pid, sizeof(pid), "%ld", ck->pid);
		printf("%-5u  %-*s  %-*s  %-11s  %-7s  %s\n", ck->port,
		       wt_width, ck->worktree, svc_width, ck->service,
		       health_status_name(r->status), pid,
		       ck->command ? ck->command : "-");
		if (!verbose)
			continue;
		printf("       check %s: %s", ck->health_path, r->detail);
		if (r->connect_us >= 0)
			printf("; connected in %.1f ms", ms(r->connect_us));
		if (r->response_us >= 0)
			printf(", answered in %.1f ms", ms(r->response_us));
		printf("\n");
	}
	printf("%zu of %zu healthy, checked in %.0f ms\n", healthy, l->nr,
	       ms(elapsed_us));
}

int cmd_status_health(const struct global_opts *g, const char *worktree,
		      bool all, int timeout_ms, bool verbose, struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct checked_list l = { 0 };
	struct config_cache cc = { 0 };
	size_t i, healthy = 0;
	long start;
	int ret;

	if (timeout_ms < 0)
		timeout_ms = DEFAULT_CHECK_MS;
	ret = session_start(&s, all ? NULL : &t, g->registry, worktree, 0, err);
	if (ret < 0)
		goto out;
	for (i = 0; i < s.reg->nr_allocs; i++) {
		const struct allocation *a = &s.reg->allocs[i];

		if (!all && strcmp(a->worktree, t.name))
			continue;
		add_checked(&l, a, all ? a->path : t.path, &cc);
	}
	if (l.nr > 1)
		qsort(l.items, l.nr, sizeof(*l.items), cmp_checked);
	/* nobody waits on the lock while the network is asked */
	registry_free(s.reg);
	s.reg = NULL;
	lockfile_unlock(&s.lock);

	start = (long)monotonic_us();
	ret = run_checks(&l, timeout_ms, err);
	if (ret < 0)
		goto out;
	ret = write_back(&s, &l, err);
	if (ret < 0)
		goto out;
	for (i = 0; i < l.nr; i++)
		healthy += l.items[i].result.status == HEALTH_HEALTHY;
	print_checked(g, verbose, &s, &l, (long)monotonic_us() - start,
		      timeout_ms, healthy);
	if (healthy < l.nr)
		ret = error_set(err, ERR_UNHEALTHY, NULL, 0, NULL,
				"%zu of %zu checked services are not healthy",
				l.nr - healthy, l.nr);
out:
	config_cache_release(&cc);
	checked_release(&l);
	target_release(&t);
	session_release(&s);
	return ret;
}

static const char *const wait_usage[] = {
	"git worktree-ports wait <service> [--timeout <seconds>]\n"
	"                        [--worktree <name>]",
	"",
	"Wait until this worktree's <service> is healthy, checking again with a",
	"growing pause; exit 9 with the last status seen at the timeout.",
	NULL,
};

int cmd_wait(int argc, const char **argv, struct global_opts *g,
	     struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct checked_list l = { 0 };
	struct config_cache cc = { 0 };
	int total_ms = DEFAULT_WAIT_MS;
	const char *worktree = NULL;
	struct option options[] = {
		OPT_TIMEOUT("timeout", &total_ms,
			    "give up after this long (default 60)"),
		OPT_STRING(0, "worktree", &worktree, "name",
			   "wait for a service of another worktree"),
		OPT_END(),
	};
	long deadline, pause = 50, left;
	const char *service;
	long k;
	int ret;

	argc = cli_parse_options(argc, argv, wait_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (!argc)
		return cli_usage_error(wait_usage, options,
				       "'wait' needs a <service>");
	if (argc > 1)
		return cli_usage_error(
			wait_usage, options,
			"'wait' takes one <service>, got '%s' too", argv[1]);
	service = argv[0];
	ret = session_start(&s, &t, g->registry, worktree, 0, err);
	if (ret < 0)
		goto out;
	k = registry_find(s.reg, t.name, service);
	if (k < 0) {
		ret = error_set(err, ERR_NOTFOUND, NULL, 0, NULL,
				"worktree '%s' has no port for '%s'", t.name,
				service);
		error_hint(err, "allocate one with 'git worktree-ports allocate %s', or run 'git worktree-ports sync'",
			   service);
		goto out;
	}
	add_checked(&l, &s.reg->allocs[k], t.path, &cc);
	registry_free(s.reg);
	s.reg = NULL;
	lockfile_unlock(&s.lock);

	deadline = (long)monotonic_us() / 1000 + total_ms;
	for (;;) {
		left = deadline - (long)monotonic_us() / 1000;
		/* one attempt may take up to a second of what is left */
		ret = run_checks(&l, (int)(left < 1000 ? (left > 0 ? left : 0) :
							 1000),
				 err);
		if (ret < 0)
			goto out;
		if (l.items[0].result.status == HEALTH_HEALTHY)
			break;
		left = deadline - (long)monotonic_us() / 1000;
		/*
		 * Too little time left for another real attempt: keep what
		 * the last one saw ("HTTP 500"), not "timed out after 0 ms".
		 */
		if (left <= MIN_ATTEMPT_MS)
			break;
		sleep_ms(pause < left - MIN_ATTEMPT_MS ? pause :
							  left - MIN_ATTEMPT_MS);
		if (pause < 1000)
			pause *= 2;
		free(l.items[0].command);
		l.items[0].command = NULL;
		l.items[0].pid = ALLOCATION_NO_PID;
	}
	ret = write_back(&s, &l, err);
	if (ret < 0)
		goto out;
	if (l.items[0].result.status != HEALTH_HEALTHY) {
		ret = error_set(err, ERR_UNHEALTHY, NULL, 0, NULL,
				"'%s' (port %u) is not healthy after %.1f s: %s (%s)",
				service, l.items[0].port, total_ms / 1000.0,
				health_status_name(l.items[0].result.status),
				l.items[0].result.detail);
		goto out;
	}
	if (g->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		jsonw_array_begin(&w, "allocations");
		json_checked(&w, &l.items[0]);
		jsonw_array_end(&w);
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
		jsonw_release(&w);
	} else if (!g->quiet) {
		printf("'%s' is healthy on port %u\n", service,
		       l.items[0].port);
	}
out:
	config_cache_release(&cc);
	checked_release(&l);
	target_release(&t);
	session_release(&s);
	return ret;
}
