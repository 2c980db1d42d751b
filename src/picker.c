#include "common.h"
#include "picker.h"
#include "alloc.h"
#include "actlog.h"
#include "error.h"
#include "holders.h"
#include "peers.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "session.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

/* What makes a port unavailable, for the taken-callback. */
struct taken {
	const struct registry *reg;
	struct portset here;  /* allocated in this registry */
	struct portset peers; /* allocated in other registries */
	picker_in_use_fn in_use; /* NULL: probe_port_in_use() */
	void *in_use_payload;
};

static bool in_use(const struct taken *t, uint16_t port)
{
	return t->in_use ? t->in_use(port, t->in_use_payload) :
			   probe_port_in_use(port);
}

static bool is_taken(uint16_t port, void *payload)
{
	const struct taken *t = payload;

	return portset_has(&t->here, port) || portset_has(&t->peers, port) ||
	       registry_reserved_at(t->reg, port) || in_use(t, port);
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
	if (in_use(t, port)) {
		struct sbuf who = SBUF_INIT;

		holders_describe(&who, s, port);
		ret = error_set(err, ERR_TAKEN, NULL, 0, NULL,
				"port %u is in use on this system%s%s", port,
				who.len ? ": held by " : "", who.buf);
		error_hint(err, "see 'git worktree-ports who %u'; stop what listens there, or ask for another port",
			   port);
		sbuf_release(&who);
		return ret;
	}
	return 0;
}

/*
 * A full range: say which other registries of the host hold its ports
 * (release and prune here cannot free those), and the one line that
 * widens it.
 */
static void full_error(const struct session *s, const struct range *r,
		       struct error *err)
{
	struct peers_holds h = PEERS_HOLDS_INIT;
	struct sbuf others = SBUF_INIT;
	unsigned size = r->end - r->start + 1u, end;
	size_t i, j, held = 0;

	peers_holds_collect(&h, s->registry_path, r->start, r->end);
	for (i = 0; i < h.nr; i++) {
		size_t n = 0;
		bool seen = false;

		for (j = 0; j < i && !seen; j++)
			seen = !strcmp(h.items[j].registry, h.items[i].registry);
		if (seen)
			continue;
		for (j = i; j < h.nr; j++)
			n += !strcmp(h.items[j].registry, h.items[i].registry);
		held += n;
		sbuf_addf(&others, "%s%s (%zu)", others.len ? ", " : "",
			  h.items[i].registry, n);
	}
	end = r->end + size > 65535u ? 65535u : r->end + size;
	if (held)
		error_set(err, ERR_FULL, NULL, 0, NULL,
			  "no free port in range '%s' (%u-%u, %u usable ports): %zu are held by other registries on this host: %s",
			  r->name, r->start, r->end, alloc_usable_ports(r), held,
			  others.buf);
	else
		error_set(err, ERR_FULL, NULL, 0, NULL,
			  "no free port in range '%s' (%u-%u, %u usable ports)",
			  r->name, r->start, r->end, alloc_usable_ports(r));
	error_hint(err, "widen it: in \"ranges\" of %s, set \"%s\": {\"start\": %u, \"end\": %u}; or release ports with 'git worktree-ports release', and drop removed worktrees with 'git worktree-ports prune'%s",
		   s->registry_path, r->name, r->start, end,
		   held ? " (here, or in the registries named)" : "");
	sbuf_release(&others);
	peers_holds_release(&h);
}

/*
 * Give 't' a port for 'service' from range 'range_name' (NULL: the
 * service's own range, else "default"): its existing one, or a new one
 * picked under the host lock, which 'pk' takes on first need and keeps
 * until picker_release(). '*index' is the allocation's index.
 */
int picker_allocate(struct session *s, struct picker *pk,
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
		ret = peers_lock(&pk->host, session_lock_timeout(), err);
		if (ret < 0)
			return ret;
		pk->taken = xcalloc(1, sizeof(*pk->taken));
		ret = peers_collect(&pk->taken->peers, s->registry_path, err);
		if (ret < 0)
			return ret;
	}
	pk->taken->reg = s->reg;
	pk->taken->in_use = pk->in_use;
	pk->taken->in_use_payload = pk->in_use_payload;
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
	timing_mark("pick");
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
