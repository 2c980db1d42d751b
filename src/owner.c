#include "common.h"
#include "owner.h"
#include "path.h"
#include "peers.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "session.h"
#include "text.h"
#include "wt.h"

#include <stdlib.h>
#include <string.h>

/* More ancestors than this are not walked (a loop in a broken table). */
#define ANCESTORS_MAX 1024

/*
 * One walk up from a parent, as owner_started_from() found it. Many
 * listeners share a parent (one server holding hundreds of ports), and a
 * walk that finds nothing goes up to pid 1: each is made once.
 */
struct owner_walk {
	long from;		   /* the parent the walk started at */
	const struct owner_wt *not; /* the worktree that did not count */
	long pid;		   /* 0: nothing found */
	char *cmdline;
	const struct owner_wt *wt;
};

struct owner_walks {
	struct owner_walk *items;
	size_t nr, alloc;
};

static char *canonical_dir(const char *dir)
{
	char *real = realpath(dir, NULL);
	size_t len;

	if (real)
		return real;
	real = xstrdup(dir);
	len = strlen(real);
	while (len > 1 && real[len - 1] == '/')
		real[--len] = '\0';
	return real;
}

static void dir_key(const void *data, size_t i, const char **a, const char **b)
{
	const struct owner_map *m = data;

	*a = m->items[i].dir;
	*b = NULL;
}

/* Add the worktree at 'canon', a canonical path the map takes over. */
static void add_canonical(struct owner_map *m, const char *name, char *canon,
			  const char *registry, bool gone)
{
	struct owner_wt *w;
	long found;

	if (!m->walks)
		m->walks = xcalloc(1, sizeof(*m->walks));
	if (!m->by_dir.slot)
		nameset_init(&m->by_dir, 16, dir_key, m);
	found = nameset_find(&m->by_dir, canon, NULL);
	if (found >= 0) {
		w = &m->items[found];
		if (w->gone && !gone) {
			free(w->name);
			free(w->registry);
			w->name = xstrdup(name);
			w->registry = xstrdup_or_null(registry);
			w->gone = false;
		}
		free(canon);
		return;
	}
	ALLOC_GROW(m->items, m->nr + 1, m->alloc);
	w = &m->items[m->nr];
	w->name = xstrdup(name);
	w->dir = canon;
	w->registry = xstrdup_or_null(registry);
	w->gone = gone;
	nameset_add(&m->by_dir, m->nr++);
}

void owner_map_add(struct owner_map *m, const char *name, const char *dir,
		   const char *registry, bool gone)
{
	if (dir && *dir)
		add_canonical(m, name, canonical_dir(dir), registry, gone);
}

static void list_key(const void *data, size_t i, const char **a,
		     const char **b)
{
	const struct wt_list *l = data;

	*a = l->items[i].name;
	*b = NULL;
}

void owner_map_add_repo(struct owner_map *m, const struct session *s)
{
	struct wt_list list = WT_LIST_INIT;
	size_t i;

	if (s->repo && !wt_list_files(&list, s->repo)) {
		/*
		 * A linked worktree's path is canonical already (wt.h);
		 * the main one's may be core.worktree as written.
		 */
		for (i = 0; i < list.nr; i++) {
			const struct wt_info *w = &list.items[i];

			if (w->is_main)
				owner_map_add(m, w->name, w->path, NULL, false);
			else if (w->path && *w->path)
				add_canonical(m, w->name, xstrdup(w->path),
					      NULL, false);
		}
	}
	if (s->reg) {
		struct nameset names;

		nameset_init(&names, list.nr, list_key, &list);
		for (i = 0; i < list.nr; i++)
			nameset_add(&names, i);
		for (i = 0; i < s->reg->nr_allocs; i++) {
			const struct allocation *a = &s->reg->allocs[i];
			bool known = nameset_find(&names, a->worktree, NULL) >= 0;

			/* git's record of a live worktree wins over ours */
			if (!known || !s->repo)
				owner_map_add(m, a->worktree, a->path, NULL,
					      s->repo != NULL);
		}
		nameset_release(&names);
	}
	wt_list_release(&list);
}

void owner_map_add_released(struct owner_map *m,
			    const struct released_list *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++) {
		const char *dir = l->items[i].a.path;
		char *canon;
		long found = -1;

		if (!dir || !*dir)
			continue;
		canon = canonical_dir(dir);
		if (m->by_dir.slot)
			found = nameset_find(&m->by_dir, canon, NULL);
		free(canon);
		/* released by this command: gone, whatever else said live */
		if (found >= 0 && !m->items[found].registry &&
		    !strcmp(m->items[found].name, l->items[i].worktree))
			m->items[found].gone = true;
		else
			owner_map_add(m, l->items[i].worktree, dir, NULL, true);
	}
}

struct peer_add {
	struct owner_map *m;
};

static void add_peer(const char *path, const struct registry *reg, void *data)
{
	struct peer_add *pa = data;
	size_t i;

	for (i = 0; i < reg->nr_allocs; i++)
		owner_map_add(pa->m, reg->allocs[i].worktree,
			      reg->allocs[i].path, path, false);
}

void owner_map_add_peers(struct owner_map *m, const char *self)
{
	struct peer_add pa = { m };

	peers_each(self, add_peer, &pa);
}

void owner_map_release(struct owner_map *m)
{
	size_t i;

	for (i = 0; i < m->nr; i++) {
		free(m->items[i].name);
		free(m->items[i].dir);
		free(m->items[i].registry);
	}
	free(m->items);
	if (m->by_dir.slot)
		nameset_release(&m->by_dir);
	if (m->walks) {
		for (i = 0; i < m->walks->nr; i++)
			free(m->walks->items[i].cmdline);
		free(m->walks->items);
		free(m->walks);
	}
	memset(m, 0, sizeof(*m));
}

/*
 * The deepest first: 'dir', then each of its parents in turn, looked up
 * by name, so the cost is the depth of 'dir' however many worktrees the
 * map holds.
 */
const struct owner_wt *owner_of_dir(const struct owner_map *m, const char *dir)
{
	struct sbuf buf = SBUF_INIT;
	const struct owner_wt *found = NULL;
	long i;

	if (!dir || dir[0] != '/' || !m->nr)
		return NULL;
	sbuf_addstr(&buf, dir);
	while (buf.len > 1 && buf.buf[buf.len - 1] == '/')
		sbuf_setlen(&buf, buf.len - 1);
	for (;;) {
		char *slash;

		i = nameset_find(&m->by_dir, buf.buf, NULL);
		if (i >= 0) {
			found = &m->items[i];
			break;
		}
		if (buf.len == 1)
			break;
		slash = strrchr(buf.buf, '/');
		sbuf_setlen(&buf, slash == buf.buf ? 1 : (size_t)(slash - buf.buf));
	}
	sbuf_release(&buf);
	return found;
}

static const struct owner_wt *by_marker(const struct owner_map *m,
					const char *marker)
{
	long i = m->nr ? nameset_find(&m->by_dir, marker, NULL) : -1;

	return i >= 0 ? &m->items[i] : NULL;
}

/* "/old/path (deleted)" less its suffix; the caller frees it. */
static char *undeleted(const char *cwd)
{
	static const char suffix[] = " (deleted)";
	size_t len = strlen(cwd);

	if (len >= sizeof(suffix) - 1 &&
	    !strcmp(cwd + len - (sizeof(suffix) - 1), suffix))
		len -= sizeof(suffix) - 1;
	return xstrndup(cwd, len);
}

void owner_judge(struct owner_verdict *v, const struct owner_map *m,
		 const struct probe_proc *p)
{
	memset(v, 0, sizeof(*v));
	if (p->marker && *p->marker) {
		v->wt = by_marker(m, p->marker);
		if (v->wt) {
			v->by_marker = true;
			return;
		}
	}
	if (!p->cwd)
		return;
	if (p->cwd_deleted) {
		char *was = undeleted(p->cwd);

		v->deleted = true;
		v->was = owner_of_dir(m, was);
		free(was);
		return;
	}
	v->wt = owner_of_dir(m, p->cwd);
}

bool owner_is_orphan(const struct owner_verdict *v)
{
	return v->deleted || (v->wt && v->wt->gone);
}

static const struct owner_walk *walk_up(const struct owner_map *m,
					long from,
					const struct owner_wt *not)
{
	struct owner_walks *ws = m->walks;
	struct owner_walk *w;
	long next = from;
	size_t i;
	int steps;

	for (i = 0; i < ws->nr; i++)
		if (ws->items[i].from == from && ws->items[i].not == not)
			return &ws->items[i];
	ALLOC_GROW(ws->items, ws->nr + 1, ws->alloc);
	w = &ws->items[ws->nr++];
	memset(w, 0, sizeof(*w));
	w->from = from;
	w->not = not;
	for (steps = 0; next > 1 && steps < ANCESTORS_MAX; steps++) {
		const struct owner_wt *in = NULL;
		bool deleted;
		char *cwd;
		long up;

		if (probe_proc_parent(next, &up, &cwd, &deleted) < 0)
			break;
		if (cwd && !deleted)
			in = owner_of_dir(m, cwd);
		free(cwd);
		if (in && in != not) {
			struct probe_proc p;

			w->pid = next;
			w->wt = in;
			w->cmdline = xstrdup(probe_proc_read(&p, next) < 0 ?
						     "?" :
						     p.cmdline);
			probe_proc_release(&p);
			break;
		}
		next = up;
	}
	return w;
}

bool owner_started_from(const struct owner_map *m,
			const struct owner_verdict *v,
			const struct probe_proc *p, long *pid, char **cmdline,
			const struct owner_wt **wt)
{
	const struct owner_walk *w;

	if (!m->walks)
		return false; /* an empty map: no worktree to be found */
	w = walk_up(m, p->ppid, v->wt);
	if (!w->pid)
		return false;
	*pid = w->pid;
	*cmdline = xstrdup(w->cmdline);
	*wt = w->wt;
	return true;
}

void owner_add_place(struct sbuf *out, const struct owner_verdict *v)
{
	if (v->deleted) {
		sbuf_addstr(out, "whose directory was deleted");
		if (v->was) {
			sbuf_addstr(out, " (it was in worktree '");
			text_addstr_printable(out, v->was->name);
			sbuf_addstr(out, "')");
		}
	} else if (v->wt) {
		sbuf_addstr(out, v->wt->gone ? "in removed worktree '"
					     : "in worktree '");
		text_addstr_printable(out, v->wt->name);
		sbuf_addch(out, '\'');
		if (v->wt->registry) {
			sbuf_addstr(out, " of the registry ");
			text_addstr_printable(out, v->wt->registry);
		}
	} else {
		sbuf_addstr(out, "outside every known worktree");
	}
}

void owner_add_started_from(struct sbuf *out, const struct owner_map *m,
			    const struct owner_verdict *v,
			    const struct probe_proc *p)
{
	const struct owner_wt *wt;
	char *cmdline;
	long pid;

	if (!owner_started_from(m, v, p, &pid, &cmdline, &wt))
		return;
	sbuf_addstr(out, ", started from a process in worktree '");
	text_addstr_printable(out, wt->name);
	/* the command line is printable already (probe.h) */
	sbuf_addf(out, "' (pid %ld, %s)", pid, cmdline);
	free(cmdline);
}
