#include "common.h"
#include "misfit.h"
#include "alloc.h"
#include "actlog.h"
#include "error.h"
#include "peers.h"
#include "owner.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "session.h"
#include "text.h"
#include "wt.h"

#include <stdio.h>
#include <unistd.h>

/* Longest command line quoted in a message; the rest is "...". */
#define COMMAND_SHOWN 80

void misfit_list_release(struct misfit_list *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++) {
		free(l->items[i].why);
		free(l->items[i].brief);
	}
	free(l->items);
	l->items = NULL;
	l->nr = l->alloc = 0;
	for (i = 0; i < l->nr_strays; i++) {
		free(l->strays[i].range);
		free(l->strays[i].why);
	}
	free(l->strays);
	l->strays = NULL;
	l->nr_strays = l->alloc_strays = 0;
}

static void add_misfit(struct misfit_list *l, enum misfit_kind kind,
		       size_t index, struct sbuf *why, struct sbuf *brief,
		       long pid)
{
	struct misfit *m;

	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	m = &l->items[l->nr++];
	m->kind = kind;
	m->index = index;
	m->why = sbuf_detach(why);
	m->brief = brief && brief->len ? sbuf_detach(brief) : NULL;
	m->pid = pid;
}

/* The other registries on this host, loaded; one that did not is NULL. */
struct peer_regs {
	char **paths;
	struct registry **regs;
	size_t nr;
};

static void peer_regs_load(struct peer_regs *p, const char *self)
{
	struct error e = ERROR_INIT;
	size_t i;

	if (peers_list(&p->paths, &p->nr, self, &e) < 0) {
		/* the other registries only add to the answer */
		warning_error(&e, "other registries are not looked into");
		return;
	}
	p->regs = xcalloc(p->nr + 1, sizeof(*p->regs));
	for (i = 0; i < p->nr; i++)
		if (registry_load(&p->regs[i], p->paths[i],
				  REGISTRY_ALLOW_DUPLICATES, NULL) < 0)
			p->regs[i] = NULL; /* its own commands say why */
}

static void peer_regs_release(struct peer_regs *p)
{
	size_t i;

	for (i = 0; i < p->nr; i++) {
		free(p->paths[i]);
		if (p->regs)
			registry_free(p->regs[i]);
	}
	free(p->paths);
	free(p->regs);
	memset(p, 0, sizeof(*p));
}

/* How the listeners of a port relate to an allocation's worktree. */
enum hold {
	HOLD_NONE,    /* nothing listens */
	HOLD_INSIDE,  /* a process that runs inside the worktree */
	HOLD_FOREIGN, /* a process outside it, or another user's socket */
	HOLD_ORPHAN,  /* a process of a removed worktree, or of a deleted dir */
	HOLD_UNCLEAR  /* cannot tell: see judge() */
};

struct holder {
	enum hold hold;
	const struct probe_listener *l; /* the socket that decided */
	const struct probe_proc *p;	/* its process; NULL if not visible */
	struct owner_verdict v;		/* of 'p', when there is one */
};

/* The basename of the program of 'p' is 'name'? */
static bool runs_program(const struct probe_proc *p, const char *name)
{
	const char *path = p->exe ? p->exe : p->cmdline;
	size_t len = strcspn(path, " ");
	const char *base = path + len;

	while (base > path && base[-1] != '/')
		base--;
	return (size_t)(path + len - base) == strlen(name) &&
	       !strncmp(base, name, strlen(name));
}

/* Does worktree 'worktree' of this registry have a directory in 'm'? */
static bool known_dir(const struct owner_map *m, const char *worktree)
{
	size_t i;

	for (i = 0; i < m->nr; i++)
		if (!m->items[i].registry && !m->items[i].gone &&
		    !strcmp(m->items[i].name, worktree))
			return true;
	return false;
}

/* Does 'v' place its process in 'worktree' of this registry? */
static bool belongs(const struct owner_verdict *v, const char *worktree)
{
	return v->wt && !v->wt->registry && !v->wt->gone &&
	       !strcmp(v->wt->name, worktree);
}

static void decide(struct holder *h, enum hold hold,
		   const struct probe_listener *l, const struct probe_proc *p,
		   const struct owner_verdict *v)
{
	h->hold = hold;
	h->l = l;
	h->p = p;
	if (v)
		h->v = *v;
	else
		memset(&h->v, 0, sizeof(h->v));
}

/*
 * Who holds a port, for 'worktree'. Inside as soon as one process
 * belongs to the worktree (owner.h). An orphan when a process is one
 * (owner_is_orphan()): its directory is in a removed worktree or was
 * deleted, wherever 'worktree' is. Foreign when a visible process
 * belongs elsewhere, or when the socket belongs to another user whose
 * process we may not see: a worktree's own servers are its developer's.
 * Unclear when the worktree's directory is unknown, when the only
 * process is docker-proxy (a container's published port, which any
 * worktree's 'docker compose up' may have asked for), or when a socket of
 * root or of our own user shows no process (docker-proxy seen by a user
 * who is not root; a server in another pid namespace).
 */
static void judge(struct holder *h, const struct probe_listener *ls, size_t nr,
		  const struct owner_map *m, const char *worktree)
{
	struct owner_verdict v;
	size_t i, k;

	memset(h, 0, sizeof(*h));
	if (!nr)
		return;
	h->hold = HOLD_UNCLEAR;
	h->l = &ls[0];
	h->p = ls[0].nr_procs ? &ls[0].procs[0] : NULL;
	if (h->p)
		owner_judge(&h->v, m, h->p);
	for (i = 0; i < nr; i++)
		for (k = 0; k < ls[i].nr_procs; k++) {
			owner_judge(&v, m, &ls[i].procs[k]);
			if (worktree && belongs(&v, worktree)) {
				decide(h, HOLD_INSIDE, &ls[i], &ls[i].procs[k],
				       &v);
				return;
			}
			if (owner_is_orphan(&v) && h->hold != HOLD_ORPHAN)
				decide(h, HOLD_ORPHAN, &ls[i], &ls[i].procs[k],
				       &v);
		}
	if (h->hold == HOLD_ORPHAN || (worktree && !known_dir(m, worktree)))
		return;
	for (i = 0; i < nr; i++)
		for (k = 0; k < ls[i].nr_procs; k++)
			if (!runs_program(&ls[i].procs[k], "docker-proxy")) {
				owner_judge(&v, m, &ls[i].procs[k]);
				decide(h, HOLD_FOREIGN, &ls[i], &ls[i].procs[k],
				       &v);
				return;
			}
	for (i = 0; i < nr; i++)
		if (!ls[i].nr_procs && ls[i].uid && ls[i].uid != getuid()) {
			decide(h, HOLD_FOREIGN, &ls[i], NULL, NULL);
			return;
		}
}

/*
 * "held by pid 123 (python3 -m http.server) in /tmp/x, outside every
 * known worktree", with the labelled fact of where it was started from;
 * and the brief form, for the log.
 */
static void describe_holder(struct sbuf *why, struct sbuf *brief,
			    const struct holder *h, const struct owner_map *m)
{
	const struct probe_proc *p = h->p;
	struct sbuf cmd = SBUF_INIT;
	const char *name;

	if (!p) {
		sbuf_addstr(why, "held by user '");
		text_addstr_printable(why, h->l->user);
		sbuf_addf(
			why,
			"' (uid %u), whose process is not visible (run as root to see it)",
			h->l->uid);
		sbuf_addstr(brief, "held by user '");
		text_addstr_printable(brief, h->l->user);
		sbuf_addf(brief, "' (uid %u)", h->l->uid);
		return;
	}
	/* the command line is printable already (probe.h) */
	text_add_cut(&cmd, p->cmdline, COMMAND_SHOWN);
	sbuf_addf(why, "held by pid %ld (%s)", p->pid, cmd.buf);
	if (p->cwd) {
		sbuf_addstr(why, " in ");
		text_addstr_printable(why, p->cwd);
	} else {
		sbuf_addstr(why, ", whose directory is not readable");
	}
	if (owner_is_orphan(&h->v)) {
		const struct owner_wt *was = h->v.deleted ? h->v.was : h->v.wt;

		if (was) {
			sbuf_addstr(why, ", an orphan of removed worktree '");
			text_addstr_printable(why, was->name);
			sbuf_addch(why, '\'');
		} else {
			sbuf_addstr(why, ", an orphan (its directory was deleted)");
		}
	} else if (p->cwd) {
		sbuf_addstr(why, ", ");
		owner_add_place(why, &h->v);
	}
	owner_add_started_from(why, m, &h->v, p);
	/* the program's name: argv[0] up to the first space, less its dir */
	sbuf_reset(&cmd);
	sbuf_add(&cmd, p->cmdline, strcspn(p->cmdline, " "));
	name = strrchr(cmd.buf, '/');
	name = name && name[1] ? name + 1 : cmd.buf;
	sbuf_addf(brief, "held by pid %ld (%s)", p->pid, name);
	sbuf_release(&cmd);
}

/* A live allocation: its index in the registry, and its port to sort by. */
struct live {
	uint16_t port;
	size_t i;
};

/* Everything misfit_survey() works with. */
struct survey {
	struct session *s;
	const char *worktree;
	char **gone; /* sorted names */
	size_t nr_gone;
	struct live *order; /* sorted by port, then index */
	size_t nr_live;
	struct owner_map map; /* the worktrees, once there are listeners */
	const struct released_list *released;
	/* the listeners, borrowed: a copy of the array, sorted by port */
	struct probe_listener *ls;
	size_t nr_ls;
	struct portset *ports; /* of the allocations asked about */
	struct peer_regs peers;
	bool strays;	      /* MISFIT_STRAYS */
	struct portset *live; /* of every live allocation */
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool is_gone(const struct survey *sv, const char *worktree)
{
	return sv->nr_gone && bsearch(&worktree, sv->gone, sv->nr_gone,
				      sizeof(*sv->gone), cmp_str);
}

static int cmp_live(const void *a, const void *b)
{
	const struct live *x = a, *y = b;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_listener_port(const void *a, const void *b)
{
	const struct probe_listener *x = a, *y = b;

	return (int)x->port - (int)y->port;
}

/* The listeners of 'port': '*nr' of them from the returned one. */
static const struct probe_listener *listeners_of(const struct survey *sv,
						 uint16_t port, size_t *nr)
{
	size_t lo = 0, hi = sv->nr_ls, end;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sv->ls[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo; end < sv->nr_ls && sv->ls[end].port == port; end++)
		;
	*nr = end - lo;
	return *nr ? &sv->ls[lo] : NULL;
}

static bool in_scope(const struct survey *sv, const struct allocation *a)
{
	return !sv->worktree || !strcmp(a->worktree, sv->worktree);
}

static void survey_release(struct survey *sv)
{
	size_t i;

	for (i = 0; i < sv->nr_gone; i++)
		free(sv->gone[i]);
	free(sv->gone);
	owner_map_release(&sv->map);
	free(sv->order);
	free(sv->ls);
	free(sv->ports);
	free(sv->live);
	peer_regs_release(&sv->peers);
}

/* Set up 'sv'; false if no allocation is asked about. */
static bool survey_start(struct survey *sv, const struct released_list *gone)
{
	const struct registry *reg = sv->s->reg;
	size_t i;
	bool any = false;

	sv->gone = xcalloc((gone ? gone->nr : 0) + 1, sizeof(*sv->gone));
	for (i = 0; gone && i < gone->nr; i++)
		sv->gone[sv->nr_gone++] = xstrdup(gone->items[i].worktree);
	if (sv->nr_gone)
		qsort(sv->gone, sv->nr_gone, sizeof(*sv->gone), cmp_str);
	sv->order = xcalloc(reg->nr_allocs + 1, sizeof(*sv->order));
	sv->released = gone;
	sv->ports = xcalloc(1, sizeof(*sv->ports));
	sv->live = xcalloc(1, sizeof(*sv->live));
	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];

		if (is_gone(sv, a->worktree))
			continue;
		portset_add(sv->live, a->port);
		sv->order[sv->nr_live].port = a->port;
		sv->order[sv->nr_live++].i = i;
		if (in_scope(sv, a)) {
			portset_add(sv->ports, a->port);
			any = true;
		}
	}
	qsort(sv->order, sv->nr_live, sizeof(*sv->order), cmp_live);
	if (!sv->strays)
		return any;
	for (i = 0; i < reg->nr_ranges; i++) {
		unsigned port;

		for (port = reg->ranges[i].start; port <= reg->ranges[i].end;
		     port++)
			portset_add(sv->ports, (uint16_t)port);
		any = true;
	}
	for (i = 0; gone && i < gone->nr; i++) {
		portset_add(sv->ports, gone->items[i].port);
		any = true;
	}
	return any;
}

/* The listeners 'ls' (borrowed), and the other registries. */
static void survey_listeners(struct survey *sv,
			     const struct probe_listener *ls, size_t nr)
{
	sv->ls = xcalloc(nr + 1, sizeof(*sv->ls));
	if (nr)
		memcpy(sv->ls, ls, nr * sizeof(*ls));
	sv->nr_ls = nr;
	if (nr > 1)
		qsort(sv->ls, nr, sizeof(*sv->ls), cmp_listener_port);
	peer_regs_load(&sv->peers, sv->s->registry_path);
	if (nr) {
		owner_map_add_repo(&sv->map, sv->s);
		if (sv->released)
			owner_map_add_released(&sv->map, sv->released);
	}
}

/* Which registry on this host also allocates 'port', or NULL. */
static const char *peer_holding(const struct survey *sv, uint16_t port)
{
	size_t i, j;

	for (i = 0; i < sv->peers.nr; i++) {
		const struct registry *r = sv->peers.regs[i];

		for (j = 0; r && j < r->nr_allocs; j++)
			if (r->allocs[j].port == port)
				return sv->peers.paths[i];
	}
	return NULL;
}

/* 'port' of 'service' in worktree 'W', for notes. */
static void add_subject(struct sbuf *out, const struct allocation *a)
{
	sbuf_addf(out, "port %u ('", a->port);
	text_addstr_printable(out, a->service);
	sbuf_addstr(out, "' of worktree '");
	text_addstr_printable(out, a->worktree);
	sbuf_addstr(out, "')");
}

static void note_unclear(const struct allocation *a, const struct holder *h,
			 bool have_dir)
{
	struct sbuf msg = SBUF_INIT;

	add_subject(&msg, a);
	if (!have_dir)
		sbuf_addstr(
			&msg,
			" is listening, but the worktree's directory is unknown: cannot tell who holds it");
	else if (h->p)
		sbuf_addf(
			&msg,
			" is published by docker-proxy (pid %ld) for a container: cannot tell which worktree it serves",
			h->p->pid);
	else {
		sbuf_addstr(&msg, " is held by user '");
		text_addstr_printable(&msg, h->l->user);
		sbuf_addf(
			&msg,
			"' (uid %u), whose process is not visible: run as root to check it",
			h->l->uid);
	}
	note("%s", msg.buf);
	sbuf_release(&msg);
}

/*
 * The allocations sharing the port of 'order[first..end)': which keeps
 * it. The one whose worktree a listening process runs in, else the
 * first in the registry.
 */
static size_t keeper_of(struct survey *sv, size_t first, size_t end)
{
	const struct probe_listener *ls;
	struct holder h;
	size_t i, nr;

	ls = listeners_of(sv, sv->order[first].port, &nr);
	for (i = first; nr && i < end; i++) {
		judge(&h, ls, nr, &sv->map,
		      sv->s->reg->allocs[sv->order[i].i].worktree);
		if (h.hold == HOLD_INSIDE)
			return sv->order[i].i;
	}
	return sv->order[first].i;
}

/* The misfits of allocation 'i', which shares its port with 'keeper'. */
static void survey_one(struct misfit_list *out, struct survey *sv, size_t i,
		       size_t keeper)
{
	const struct registry *reg = sv->s->reg;
	const struct allocation *a = &reg->allocs[i];
	const struct range *r = registry_range_for(reg, a->service, a->range);
	const struct range *res = registry_reserved_at(reg, a->port);
	struct sbuf why = SBUF_INIT, brief = SBUF_INIT;
	const struct probe_listener *ls;
	const char *peer;
	struct holder h;
	size_t nr = 0;

	if (!r || a->port < r->start || a->port > r->end) {
		if (r) {
			sbuf_addstr(&why, "outside range '");
			text_addstr_printable(&why, r->name);
			sbuf_addf(&why, "' (%u-%u)", r->start, r->end);
		} else {
			sbuf_addstr(&why, "outside every range");
		}
		add_misfit(out, MISFIT_OUTSIDE_RANGE, i, &why, NULL,
			   ACTLOG_NONE);
	}
	if (alloc_is_bad_port(a->port)) {
		sbuf_addstr(&why, "a port browsers refuse to connect to");
		add_misfit(out, MISFIT_BAD_PORT, i, &why, NULL, ACTLOG_NONE);
	}
	if (res) {
		sbuf_addf(&why, "reserved (%u-%u", res->start, res->end);
		if (res->description) {
			sbuf_addstr(&why, ": ");
			text_addstr_printable(&why, res->description);
		}
		sbuf_addch(&why, ')');
		add_misfit(out, MISFIT_RESERVED, i, &why, NULL, ACTLOG_NONE);
	}
	if (keeper != i) {
		sbuf_addstr(&why, "also allocated to '");
		text_addstr_printable(&why, reg->allocs[keeper].service);
		sbuf_addstr(&why, "' of worktree '");
		text_addstr_printable(&why, reg->allocs[keeper].worktree);
		sbuf_addch(&why, '\'');
		add_misfit(out, MISFIT_DUPLICATE, i, &why, NULL, ACTLOG_NONE);
	}
	peer = peer_holding(sv, a->port);
	if (peer) {
		sbuf_addstr(&why, "also allocated in the registry '");
		text_addstr_printable(&why, peer);
		sbuf_addch(&why, '\'');
		add_misfit(out, MISFIT_PEER, i, &why, NULL, ACTLOG_NONE);
	}
	/* the keeper's own server on a shared port seizes nothing */
	ls = keeper == i ? listeners_of(sv, a->port, &nr) : NULL;
	if (ls) {
		judge(&h, ls, nr, &sv->map, a->worktree);
		if (h.hold == HOLD_UNCLEAR) {
			note_unclear(a, &h, known_dir(&sv->map, a->worktree));
		} else if (h.hold == HOLD_FOREIGN || h.hold == HOLD_ORPHAN) {
			describe_holder(&why, &brief, &h, &sv->map);
			add_misfit(out,
				   h.hold == HOLD_ORPHAN ? MISFIT_ORPHAN
							 : MISFIT_FOREIGN,
				   i, &why, &brief,
				   h.p ? h.p->pid : ACTLOG_NONE);
		}
	}
	sbuf_release(&why);
	sbuf_release(&brief);
}

static int cmp_misfit(const void *a, const void *b)
{
	const struct misfit *x = a, *y = b;

	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

/* The range of this registry that 'port' lies in, or NULL. */
static const struct range *range_at(const struct registry *reg, uint16_t port)
{
	size_t i;

	for (i = 0; i < reg->nr_ranges; i++)
		if (reg->ranges[i].start <= port && port <= reg->ranges[i].end)
			return &reg->ranges[i];
	return NULL;
}

static bool released_port(const struct survey *sv, uint16_t port)
{
	size_t i;

	for (i = 0; sv->released && i < sv->released->nr; i++)
		if (sv->released->items[i].port == port)
			return true;
	return false;
}

/*
 * The listeners on ports of the ranges (and of the released worktrees)
 * that no live allocation holds: one per port, an orphan first.
 */
static void survey_strays(struct misfit_list *out, struct survey *sv)
{
	const struct registry *reg = sv->s->reg;
	size_t first, end;

	for (first = 0; first < sv->nr_ls; first = end) {
		uint16_t port = sv->ls[first].port;
		const struct range *r = range_at(reg, port);
		struct sbuf why = SBUF_INIT, brief = SBUF_INIT;
		struct misfit_stray *st;
		struct holder h;

		for (end = first; end < sv->nr_ls && sv->ls[end].port == port;
		     end++)
			;
		if (portset_has(sv->live, port) ||
		    (!r && !released_port(sv, port)))
			continue;
		judge(&h, &sv->ls[first], end - first, &sv->map, NULL);
		describe_holder(&why, &brief, &h, &sv->map);
		ALLOC_GROW(out->strays, out->nr_strays + 1, out->alloc_strays);
		st = &out->strays[out->nr_strays++];
		st->port = port;
		st->range = r ? xstrdup(r->name) : NULL;
		st->pid = h.p ? h.p->pid : ACTLOG_NONE;
		st->orphan = h.hold == HOLD_ORPHAN;
		st->why = sbuf_detach(&why);
		sbuf_release(&brief);
	}
}

/* The survey proper, on 'sv' set up by survey_start(); releases it. */
static void survey_run(struct misfit_list *out, struct survey *sv)
{
	const struct registry *reg = sv->s->reg;
	size_t first, end, k, keeper;

	for (first = 0; first < sv->nr_live; first = end) {
		uint16_t port = sv->order[first].port;
		bool wanted = false;

		for (end = first;
		     end < sv->nr_live && sv->order[end].port == port; end++)
			wanted |= in_scope(sv, &reg->allocs[sv->order[end].i]);
		if (!wanted)
			continue;
		keeper = end - first > 1 ? keeper_of(sv, first, end)
					 : sv->order[first].i;
		for (k = first; k < end; k++)
			if (in_scope(sv, &reg->allocs[sv->order[k].i]))
				survey_one(out, sv, sv->order[k].i, keeper);
	}
	if (sv->strays)
		survey_strays(out, sv);
	survey_release(sv);
	/* back to registry order, each allocation's reasons in kind order */
	if (out->nr > 1)
		qsort(out->items, out->nr, sizeof(*out->items), cmp_misfit);
}

int misfit_survey(struct misfit_list *out, struct session *s,
		  const char *worktree, const struct released_list *gone,
		  unsigned flags, struct error *err UNUSED)
{
	struct probe_listener *ls = NULL;
	struct error e = ERROR_INIT;
	struct survey sv;
	size_t nr = 0;

	memset(&sv, 0, sizeof(sv));
	sv.s = s;
	sv.worktree = worktree;
	sv.strays = flags & MISFIT_STRAYS;
	if (survey_start(&sv, gone)) {
		/* one read of the socket tables and of /proc for every port */
		if (probe_listeners_set(&ls, &nr, sv.ports, &e) < 0) {
			warning_error(&e, "cannot tell which processes hold the ports");
			ls = NULL;
			nr = 0;
		}
		timing_mark("probe");
		survey_listeners(&sv, ls, nr);
	}
	survey_run(out, &sv);
	probe_listeners_free(ls, nr);
	return 0;
}

int misfit_survey_listeners(struct misfit_list *out, struct session *s,
			    const char *worktree,
			    const struct released_list *gone,
			    const struct probe_listener *ls, size_t nr,
			    unsigned flags, struct error *err UNUSED)
{
	struct survey sv;

	memset(&sv, 0, sizeof(sv));
	sv.s = s;
	sv.worktree = worktree;
	sv.strays = flags & MISFIT_STRAYS;
	if (survey_start(&sv, gone))
		survey_listeners(&sv, ls, nr);
	survey_run(out, &sv);
	return 0;
}

/* repair */
