#include "common.h"
#include "holders.h"
#include "error.h"
#include "peers.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/*
 * The registry, read without the lock (it is replaced atomically) and
 * without dropping removed worktrees' ports: who only looks. Outside a
 * repository only --registry or $GIT_WORKTREE_PORTS_REGISTRY name one.
 * Nothing here fails the command: who answers about the port anyway.
 */
static void read_registry(struct session *s, const char *registry)
{
	struct error e = ERROR_INIT;
	struct sbuf line = SBUF_INIT;
	const char *named = registry && *registry
				    ? registry
				    : getenv("GIT_WORKTREE_PORTS_REGISTRY");
	char resolved[PATH_MAX];
	int ret;

	ret = session_open(s, registry, SESSION_NO_LOAD, &e);
	if (ret == ERR_NOREPO && named && *named) {
		error_clear(&e);
		s->registry_path =
			xstrdup(realpath(named, resolved) ? resolved : named);
	} else if (ret == ERR_NOREPO) {
		note("not in a git repository: allocations are not shown");
		goto out;
	} else if (ret < 0) {
		goto warn;
	}
	ret = registry_load(&s->reg, s->registry_path,
			    REGISTRY_ALLOW_DUPLICATES, &e);
	if (ret == ERR_NOTFOUND) {
		text_addstr_printable(&line, s->registry_path);
		note("no registry at '%s': allocations are not shown",
			 line.buf);
		goto out;
	}
	/* paths of moved worktrees as git has them now; who saves nothing */
	if (!ret && s->repo)
		ret = session_refresh_paths(s, &e);
	if (!ret)
		goto out;
warn:
	warning_error(&e, "allocations are not shown");
out:
	sbuf_release(&line);
}

static void find_owners(struct holders *w, const struct session *s)
{
	size_t i;

	if (!s->reg)
		return;
	w->have_registry = true;
	w->registry = s->registry_path;
	w->owners = xcalloc(s->reg->nr_allocs + 1, sizeof(*w->owners));
	for (i = 0; i < s->reg->nr_allocs; i++) {
		const struct allocation *a = &s->reg->allocs[i];

		if (a->port != w->port)
			continue;
		w->owners[w->nr_owners].a = a;
		w->owners[w->nr_owners].dir =
			session_worktree_dir(s, a->worktree, a->path);
		w->nr_owners++;
	}
}

const struct owner *holders_owner_of(const struct holders *w,
				     const struct probe_proc *p)
{
	struct owner_verdict v;
	size_t i;

	owner_judge(&v, &w->map, p);
	if (!v.wt || v.wt->registry || v.wt->gone)
		return NULL;
	for (i = 0; i < w->nr_owners; i++)
		if (!strcmp(w->owners[i].a->worktree, v.wt->name))
			return &w->owners[i];
	return NULL;
}

const struct peer_owner *holders_peer_owner_of(const struct holders *w,
					       const struct probe_proc *p)
{
	struct owner_verdict v;
	size_t i;

	owner_judge(&v, &w->map, p);
	if (!v.wt || !v.wt->registry)
		return NULL;
	for (i = 0; i < w->nr_peer_owners; i++)
		if (!strcmp(w->peer_owners[i].registry, v.wt->registry) &&
		    !strcmp(w->peer_owners[i].worktree, v.wt->name))
			return &w->peer_owners[i];
	return NULL;
}

enum holders_verdict holders_verdict(const struct holders *w)
{
	bool orphan = false, any_proc = false;
	size_t i, k;

	if (!w->nr_ls)
		return HOLDERS_NOTHING;
	for (i = 0; i < w->nr_ls; i++) {
		for (k = 0; k < w->ls[i].nr_procs; k++) {
			const struct probe_proc *p = &w->ls[i].procs[k];
			struct owner_verdict v;

			any_proc = true;
			if (holders_owner_of(w, p) || holders_peer_owner_of(w, p))
				return HOLDERS_OWN;
			owner_judge(&v, &w->map, p);
			orphan |= owner_is_orphan(&v);
		}
	}
	if (orphan)
		return HOLDERS_ORPHAN;
	if (!w->nr_owners && !w->nr_peer_owners)
		return HOLDERS_UNALLOCATED;
	return any_proc ? HOLDERS_FOREIGN : HOLDERS_UNKNOWN;
}

static void add_peer_owner(const char *path, const struct registry *reg,
			   void *data)
{
	struct holders *w = data;
	size_t i;

	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];
		struct peer_owner *o;

		owner_map_add(&w->map, a->worktree, a->path, path, false);
		if (a->port != w->port)
			continue;
		w->peer_owners = xrealloc(w->peer_owners,
					  (w->nr_peer_owners + 1) *
						  sizeof(*w->peer_owners));
		o = &w->peer_owners[w->nr_peer_owners++];
		o->registry = xstrdup(path);
		o->worktree = xstrdup(a->worktree);
		o->service = xstrdup(a->service);
		o->path = xstrdup_or_null(a->path);
		if (!w->other)
			w->other = xstrdup(path);
	}
}

int holders_find(struct holders *h, uint16_t port, const char *registry,
		 struct error *err)
{
	int ret;

	h->port = port;
	ret = probe_listeners(&h->ls, &h->nr_ls, port, err);
	timing_mark("probe");
	if (ret < 0)
		return ret;
	read_registry(&h->s, registry);
	find_owners(h, &h->s);
	owner_map_add_repo(&h->map, &h->s);
	peers_each(h->s.registry_path, add_peer_owner, h);
	timing_mark("registry");
	return 0;
}

void holders_release(struct holders *h)
{
	size_t i;

	for (i = 0; i < h->nr_owners; i++)
		free(h->owners[i].dir);
	free(h->owners);
	free(h->other);
	for (i = 0; i < h->nr_peer_owners; i++) {
		free(h->peer_owners[i].registry);
		free(h->peer_owners[i].worktree);
		free(h->peer_owners[i].service);
		free(h->peer_owners[i].path);
	}
	free(h->peer_owners);
	h->peer_owners = NULL;
	h->nr_peer_owners = 0;
	owner_map_release(&h->map);
	probe_listeners_free(h->ls, h->nr_ls);
	session_release(&h->s);
	h->owners = NULL;
	h->other = NULL;
	h->ls = NULL;
	h->nr_owners = h->nr_ls = 0;
	h->have_registry = false;
	h->registry = NULL;
}

void holders_describe(struct sbuf *out, const struct session *s,
		      uint16_t port)
{
	struct owner_map m = OWNER_MAP_INIT;
	struct probe_listener *ls = NULL;
	const struct probe_proc *p = NULL;
	struct owner_verdict v;
	size_t nr = 0, i;

	if (probe_listeners(&ls, &nr, port, NULL) < 0 || !nr)
		goto out;
	for (i = 0; i < nr && !p; i++)
		if (ls[i].nr_procs)
			p = &ls[i].procs[0];
	if (!p) {
		sbuf_addstr(out, "user '");
		text_addstr_printable(out, ls[0].user);
		sbuf_addf(out, "' (uid %u), whose process is not visible",
			  ls[0].uid);
		goto out;
	}
	owner_map_add_repo(&m, s);
	owner_map_add_peers(&m, s->registry_path);
	owner_judge(&v, &m, p);
	/* the command line is printable already (probe.h) */
	sbuf_addf(out, "pid %ld (%s)", p->pid, p->cmdline);
	if (!v.deleted && !v.wt && p->cwd) {
		sbuf_addstr(out, " in ");
		text_addstr_printable(out, p->cwd);
		sbuf_addch(out, ',');
	} else if (v.deleted) {
		sbuf_addch(out, ',');
	}
	sbuf_addch(out, ' ');
	owner_add_place(out, &v);
out:
	owner_map_release(&m);
	probe_listeners_free(ls, nr);
}
