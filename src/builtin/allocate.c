#include "common.h"
#include "alloc.h"
#include "builtin.h"
#include "cmd.h"
#include "actlog.h"
#include "error.h"
#include "jsonw.h"
#include "parse-options.h"
#include "peers.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* What makes a port unavailable, for the taken-callback. */
struct taken {
	const struct registry *reg;
	struct portset here;  /* allocated in this registry */
	struct portset peers; /* allocated in other registries */
};

static bool is_taken(uint16_t port, void *payload)
{
	const struct taken *t = payload;

	return portset_has(&t->here, port) || portset_has(&t->peers, port) ||
	       registry_reserved_at(t->reg, port) || probe_port_in_use(port);
}

/* Why 'port', asked for with --port, cannot be had; 0 if it can. */
static int check_requested(const struct session *s, const struct taken *t,
			   const struct range *r, uint16_t port,
			   struct error *err)
{
	const struct range *res;
	char *holder = NULL;
	long i;
	int ret;

	if (port < r->start || port > r->end) {
		ret = error_set(err, ERR_TAKEN, NULL, 0, NULL,
				"port %u is outside range '%s' (%u-%u)", port,
				r->name, r->start, r->end);
		error_hint(err, "ask for a port in the range, or widen 'ranges.%s' in %s",
			   r->name, s->registry_path);
		return ret;
	}
	if (alloc_is_bad_port(port)) {
		ret = error_set(err, ERR_TAKEN, NULL, 0, NULL,
				"port %u is one that browsers refuse to connect to",
				port);
		error_hint(err, "ask for another port");
		return ret;
	}
	res = registry_reserved_at(s->reg, port);
	if (res) {
		ret = error_set(err, ERR_TAKEN, NULL, 0, NULL,
				"port %u is reserved (%u-%u%s%s)", port,
				res->start, res->end,
				res->description ? ": " : "",
				res->description ? res->description : "");
		error_hint(err, "ask for another port");
		return ret;
	}
	i = registry_find_port(s->reg, port);
	if (i >= 0) {
		const struct allocation *a = &s->reg->allocs[i];

		ret = error_set(err, ERR_TAKEN, NULL, 0, NULL,
				"port %u is allocated to '%s' in worktree '%s'",
				port, a->service, a->worktree);
		error_hint(err, "release it there first, or ask for another port");
		return ret;
	}
	if (portset_has(&t->peers, port)) {
		peers_holder(&holder, port, s->registry_path, NULL);
		ret = error_set(err, ERR_TAKEN, NULL, 0, NULL,
				"port %u is allocated in another repository's registry '%s'",
				port, holder ? holder : "(unknown)");
		free(holder);
		error_hint(err, "ask for another port");
		return ret;
	}
	if (probe_port_in_use(port)) {
		ret = error_set(err, ERR_TAKEN, NULL, 0, NULL,
				"port %u is in use on this system", port);
		error_hint(err, "stop what listens there (see 'ss -ltnp sport = :%u'), or ask for another port",
			   port);
		return ret;
	}
	return 0;
}

static void full_error(const struct session *s, const struct range *r,
		       struct error *err)
{
	error_set(err, ERR_FULL, NULL, 0, NULL,
		  "no free port in range '%s' (%u-%u, %u usable ports)",
		  r->name, r->start, r->end, alloc_usable_ports(r));
	error_hint(err, "release ports with 'git worktree-ports release', drop removed worktrees with 'git worktree-ports prune', or widen 'ranges.%s' in %s",
		   r->name, s->registry_path);
}

static void print_result(const struct global_opts *g,
			 const struct allocation *a, const struct range *r,
			 bool fresh)
{
	if (g->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		jsonw_int(&w, "port", a->port);
		jsonw_string(&w, "service", a->service);
		jsonw_string(&w, "worktree", a->worktree);
		jsonw_string(&w, "path", a->path);
		jsonw_string(&w, "range", r->name);
		jsonw_bool(&w, "new", fresh);
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
		jsonw_release(&w);
	} else if (g->quiet) {
		printf("%u\n", a->port);
	} else if (fresh) {
		printf("allocated port %u to '%s' in worktree '%s'\n", a->port,
		       a->service, a->worktree);
	} else {
		printf("port %u is allocated to '%s' in worktree '%s'\n",
		       a->port, a->service, a->worktree);
	}
}

/*
 * Give 't' a port for 'service' from range 'range_name' (NULL: the
 * service's own range, else "default"): its existing one, or a new one
 * picked under the host lock, which 'pk' takes on first need and keeps
 * until picker_release(). '*index' is the allocation's index.
 */
int session_allocate(struct session *s, struct picker *pk,
		     const struct target *t, const char *service,
		     const char *range_name, const char *description,
		     const uint16_t *want, size_t *index, bool *fresh,
		     struct error *err)
{
	struct allocation a = { 0 };
	const struct range *r;
	char when[UTC_TIME_SIZE];
	char *who = NULL;
	uint16_t port = 0;
	size_t i;
	long found;
	int ret;

	*fresh = false;
	found = registry_find(s->reg, t->name, service);
	if (found >= 0) {
		struct allocation *have = &s->reg->allocs[found];

		if (want && *want != have->port) {
			ret = error_set(err, ERR_TAKEN, NULL, 0, NULL,
					"'%s' in worktree '%s' has port %u already",
					service, t->name, have->port);
			error_hint(err, "release it first to move it to port %u",
				   *want);
			return ret;
		}
		if (t->path && (!have->path || strcmp(have->path, t->path))) {
			registry_set_string(&have->path, t->path);
			s->dirty = true;
		}
		*index = (size_t)found;
		return 0;
	}
	r = registry_range_for(s->reg, service, range_name);
	if (!r) {
		if (range_name)
			ret = error_set(err, ERR_NOTFOUND, s->registry_path, 0,
					NULL, "no range '%s' for service '%s'",
					range_name, service);
		else
			ret = error_set(err, ERR_NOTFOUND, s->registry_path, 0,
					NULL,
					"no range '%s' and no 'default' range",
					service);
		error_hint(err, "add a range for it to 'ranges' in the registry");
		return ret;
	}

	/* a new port: serialize against every registry on this host */
	if (!pk->taken) {
		ret = peers_lock(&pk->host, cmd_lock_timeout(), err);
		if (ret < 0)
			return ret;
		pk->taken = xcalloc(1, sizeof(*pk->taken));
		ret = peers_collect(&pk->taken->peers, s->registry_path, err);
		if (ret < 0)
			return ret;
	}
	pk->taken->reg = s->reg;
	memset(&pk->taken->here, 0, sizeof(pk->taken->here));
	for (i = 0; i < s->reg->nr_allocs; i++)
		portset_add(&pk->taken->here, s->reg->allocs[i].port);
	if (want) {
		ret = check_requested(s, pk->taken, r, *want, err);
		port = *want;
	} else {
		ret = alloc_pick_port(&port, r, t->is_main ? NULL : t->name,
				      service, is_taken, pk->taken);
		if (ret == ERR_FULL)
			full_error(s, r, err);
	}
	cmd_timing("pick");
	if (ret < 0)
		return ret;

	iso8601_utc(when, time(NULL));
	who = user_at_host();
	a.port = port;
	a.worktree = t->name;
	a.path = t->path;
	a.service = (char *)service;
	a.range = strcmp(r->name, service) ? r->name : NULL;
	a.allocated_at = when;
	a.allocated_by = who;
	a.description = (char *)description;
	a.process_id = ALLOCATION_NO_PID;
	a.health_status = "unknown";
	*index = registry_add(s->reg, &a);
	s->dirty = true;
	*fresh = true;
	{
		struct sbuf detail = SBUF_INIT;

		sbuf_addf(&detail, "from range '%s'%s", r->name,
			  want ? " (asked for)" : "");
		session_log(s, "allocate", t->name, service, port, ACTLOG_NONE,
			    detail.buf);
		sbuf_release(&detail);
	}
	free(who);
	return 0;
}

void picker_release(struct picker *pk)
{
	lockfile_unlock(&pk->host);
	free(pk->taken);
	pk->taken = NULL;
}

static const char *const allocate_usage[] = {
	"git worktree-ports allocate <service> [<options>]",
	"",
	"Give this worktree (or <name>) a port for <service> and print it. The",
	"same worktree and service always get their existing port back.",
	NULL,
};

int cmd_allocate(int argc, const char **argv, struct global_opts *g,
		 struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	const char *service;
	const char *worktree = NULL, *description = NULL;
	uint16_t port = 0;
	struct option options[] = {
		OPT_PORT("port", &port,
			 "ask for this port; refused if it is taken"),
		OPT_STRING(
			0, "worktree", &worktree, "name",
			"allocate for another worktree\n('.main': the main one)"),
		OPT_STRING(0, "description", &description, "text",
			   "what the port is for"),
		OPT_BOOL('q', "quiet", &g->quiet, "print only the port number"),
		OPT_END(),
	};
	size_t i = 0;
	bool fresh;
	int ret;

	argc = cli_parse_options(argc, argv, allocate_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (!argc)
		return cli_usage_error(allocate_usage, options,
				       "'allocate' needs a <service>");
	if (argc > 1)
		return cli_usage_error(
			allocate_usage, options,
			"'allocate' takes one <service>, got '%s' too",
			argv[1]);
	service = argv[0];
	if (!alloc_valid_name(service)) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid service name '%s'", service);
		error_hint(err, "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
		return ret;
	}
	ret = session_open(&s, g->registry, 0, err);
	if (ret < 0)
		goto out;
	ret = session_target(&t, &s, worktree, err);
	if (ret < 0)
		goto out;
	ret = session_allocate(&s, &pk, &t, service, NULL, description,
			       port ? &port : NULL, &i, &fresh, err);
	if (ret < 0)
		goto out;
	ret = session_finish(&s, err);
	if (!ret)
		print_result(g, &s.reg->allocs[i],
			     registry_range_for(s.reg, s.reg->allocs[i].service,
						s.reg->allocs[i].range),
			     fresh);
out:
	picker_release(&pk);
	target_release(&t);
	session_release(&s);
	cmd_timing("total");
	return ret;
}
