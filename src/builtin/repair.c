#include "common.h"
#include "alloc.h"
#include "builtin.h"
#include "cmd.h"
#include "actlog.h"
#include "config.h"
#include "envfile.h"
#include "error.h"
#include "jsonw.h"
#include "parse-options.h"
#include "peers.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
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
	struct sbuf line = SBUF_INIT;
	size_t i;

	if (peers_list(&p->paths, &p->nr, self, &e) < 0) {
		/* the other registries only add to the answer */
		error_format(&e, &line);
		warning("%s; other registries are not looked into",
			    line.buf);
		sbuf_release(&line);
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
	HOLD_UNCLEAR  /* cannot tell: see judge() */
};

struct holder {
	enum hold hold;
	const struct probe_listener *l; /* the socket that decided */
	const struct probe_proc *p;	/* its process; NULL if not visible */
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

/*
 * Who holds a port, for the worktree at 'dir' (NULL: unknown). Inside as
 * soon as one process runs in the worktree. Foreign when a visible
 * process runs elsewhere, or when the socket belongs to another user
 * whose process we may not see: a worktree's own servers are its
 * developer's. Unclear when the directory is unknown, when the only
 * process is docker-proxy (a container's published port, which any
 * worktree's 'docker compose up' may have asked for), or when a socket of
 * root or of our own user shows no process (docker-proxy seen by a user
 * who is not root; a server in another pid namespace).
 */
static void judge(struct holder *h, const struct probe_listener *ls, size_t nr,
		  const char *dir)
{
	size_t i, k;

	memset(h, 0, sizeof(*h));
	if (!nr)
		return;
	h->hold = HOLD_UNCLEAR;
	h->l = &ls[0];
	h->p = ls[0].nr_procs ? &ls[0].procs[0] : NULL;
	if (!dir)
		return;
	for (i = 0; i < nr; i++)
		for (k = 0; k < ls[i].nr_procs; k++)
			if (probe_runs_inside(&ls[i].procs[k], dir)) {
				h->hold = HOLD_INSIDE;
				h->l = &ls[i];
				h->p = &ls[i].procs[k];
				return;
			}
	for (i = 0; i < nr; i++)
		for (k = 0; k < ls[i].nr_procs; k++)
			if (!runs_program(&ls[i].procs[k], "docker-proxy")) {
				h->hold = HOLD_FOREIGN;
				h->l = &ls[i];
				h->p = &ls[i].procs[k];
				return;
			}
	for (i = 0; i < nr; i++)
		if (!ls[i].nr_procs && ls[i].uid && ls[i].uid != getuid()) {
			h->hold = HOLD_FOREIGN;
			h->l = &ls[i];
			h->p = NULL;
			return;
		}
}

/* "pid 123 (python3 -m http.server) in /tmp/x", and the brief form. */
static void describe_holder(struct sbuf *why, struct sbuf *brief,
			    const struct holder *h)
{
	const struct probe_proc *p = h->p;
	struct sbuf cmd = SBUF_INIT;
	const char *name;
	size_t len;

	if (!p) {
		sbuf_addstr(why, "held by user '");
		cmd_add_printable(why, h->l->user);
		sbuf_addf(
			why,
			"' (uid %u), whose process is not visible (run as root to see it)",
			h->l->uid);
		sbuf_addstr(brief, "held by user '");
		cmd_add_printable(brief, h->l->user);
		sbuf_addf(brief, "' (uid %u)", h->l->uid);
		return;
	}
	/* the command line is printable already (probe.h) */
	sbuf_addstr(&cmd, p->cmdline);
	if (cmd.len > COMMAND_SHOWN) {
		len = COMMAND_SHOWN;
		/* do not cut a UTF-8 sequence */
		while (len && ((unsigned char)cmd.buf[len] & 0xc0) == 0x80)
			len--;
		sbuf_setlen(&cmd, len);
		sbuf_addstr(&cmd, "...");
	}
	sbuf_addf(why, "held by pid %ld (%s)", p->pid, cmd.buf);
	if (p->cwd) {
		sbuf_addstr(why, " in ");
		cmd_add_printable(why, p->cwd);
	} else {
		sbuf_addstr(why, ", whose directory is not readable");
	}
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

/* Everything session_misfits() works with. */
struct survey {
	struct session *s;
	const char *worktree;
	char **gone; /* sorted names */
	size_t nr_gone;
	struct live *order; /* sorted by port, then index */
	size_t nr_live;
	char **dirs; /* per allocation, filled on first need */
	bool *have_dir;
	struct probe_listener *ls; /* sorted by port */
	size_t nr_ls;
	bool probed;
	struct portset *ports; /* of the allocations asked about */
	struct peer_regs peers;
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

static const char *dir_of(struct survey *sv, size_t i)
{
	const struct allocation *a = &sv->s->reg->allocs[i];

	if (!sv->have_dir[i]) {
		sv->dirs[i] = session_worktree_dir(sv->s, a->worktree, a->path);
		sv->have_dir[i] = true;
	}
	return sv->dirs[i];
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
	if (sv->dirs)
		for (i = 0; i < sv->s->reg->nr_allocs; i++)
			free(sv->dirs[i]);
	free(sv->dirs);
	free(sv->have_dir);
	free(sv->order);
	probe_listeners_free(sv->ls, sv->nr_ls);
	free(sv->ports);
	peer_regs_release(&sv->peers);
}

static void survey_start(struct survey *sv, const struct released_list *gone)
{
	const struct registry *reg = sv->s->reg;
	struct error e = ERROR_INIT;
	struct sbuf line = SBUF_INIT;
	size_t i;
	bool any = false;

	sv->gone = xcalloc((gone ? gone->nr : 0) + 1, sizeof(*sv->gone));
	for (i = 0; gone && i < gone->nr; i++)
		sv->gone[sv->nr_gone++] = xstrdup(gone->items[i].worktree);
	if (sv->nr_gone)
		qsort(sv->gone, sv->nr_gone, sizeof(*sv->gone), cmp_str);
	sv->order = xcalloc(reg->nr_allocs + 1, sizeof(*sv->order));
	sv->dirs = xcalloc(reg->nr_allocs + 1, sizeof(*sv->dirs));
	sv->have_dir = xcalloc(reg->nr_allocs + 1, sizeof(*sv->have_dir));
	sv->ports = xcalloc(1, sizeof(*sv->ports));
	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];

		if (is_gone(sv, a->worktree))
			continue;
		sv->order[sv->nr_live].port = a->port;
		sv->order[sv->nr_live++].i = i;
		if (in_scope(sv, a)) {
			portset_add(sv->ports, a->port);
			any = true;
		}
	}
	qsort(sv->order, sv->nr_live, sizeof(*sv->order), cmp_live);
	if (!any)
		return;

	/* one read of the socket tables and of /proc for every port */
	if (probe_listeners_set(&sv->ls, &sv->nr_ls, sv->ports, &e) < 0) {
		error_format(&e, &line);
		warning("%s; cannot tell which processes hold the ports",
			    line.buf);
		sbuf_release(&line);
		sv->ls = NULL;
		sv->nr_ls = 0;
	} else {
		sv->probed = true;
		if (sv->nr_ls > 1)
			qsort(sv->ls, sv->nr_ls, sizeof(*sv->ls),
			      cmp_listener_port);
	}
	cmd_timing("probe");
	peer_regs_load(&sv->peers, sv->s->registry_path);
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
	cmd_add_printable(out, a->service);
	sbuf_addstr(out, "' of worktree '");
	cmd_add_printable(out, a->worktree);
	sbuf_addstr(out, "')");
}

static void note_unclear(const struct allocation *a, const struct holder *h,
			 const char *dir)
{
	struct sbuf msg = SBUF_INIT;

	add_subject(&msg, a);
	if (!dir)
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
		cmd_add_printable(&msg, h->l->user);
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
		judge(&h, ls, nr, dir_of(sv, sv->order[i].i));
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
			cmd_add_printable(&why, r->name);
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
			cmd_add_printable(&why, res->description);
		}
		sbuf_addch(&why, ')');
		add_misfit(out, MISFIT_RESERVED, i, &why, NULL, ACTLOG_NONE);
	}
	if (keeper != i) {
		sbuf_addstr(&why, "also allocated to '");
		cmd_add_printable(&why, reg->allocs[keeper].service);
		sbuf_addstr(&why, "' of worktree '");
		cmd_add_printable(&why, reg->allocs[keeper].worktree);
		sbuf_addch(&why, '\'');
		add_misfit(out, MISFIT_DUPLICATE, i, &why, NULL, ACTLOG_NONE);
	}
	peer = peer_holding(sv, a->port);
	if (peer) {
		sbuf_addstr(&why, "also allocated in the registry '");
		cmd_add_printable(&why, peer);
		sbuf_addch(&why, '\'');
		add_misfit(out, MISFIT_PEER, i, &why, NULL, ACTLOG_NONE);
	}
	/* the keeper's own server on a shared port seizes nothing */
	ls = keeper == i ? listeners_of(sv, a->port, &nr) : NULL;
	if (ls) {
		judge(&h, ls, nr, dir_of(sv, i));
		if (h.hold == HOLD_UNCLEAR) {
			note_unclear(a, &h, dir_of(sv, i));
		} else if (h.hold == HOLD_FOREIGN) {
			describe_holder(&why, &brief, &h);
			add_misfit(out, MISFIT_FOREIGN, i, &why, &brief,
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

int session_misfits(struct misfit_list *out, struct session *s,
		    const char *worktree, const struct released_list *gone,
		    struct error *err UNUSED)
{
	struct survey sv;
	size_t first, end, k, keeper;

	memset(&sv, 0, sizeof(sv));
	sv.s = s;
	sv.worktree = worktree;
	survey_start(&sv, gone);
	for (first = 0; first < sv.nr_live; first = end) {
		uint16_t port = sv.order[first].port;
		bool wanted = false;

		for (end = first;
		     end < sv.nr_live && sv.order[end].port == port; end++)
			wanted |=
				in_scope(&sv, &s->reg->allocs[sv.order[end].i]);
		if (!wanted)
			continue;
		keeper = end - first > 1 ? keeper_of(&sv, first, end)
					 : sv.order[first].i;
		for (k = first; k < end; k++)
			if (in_scope(&sv, &s->reg->allocs[sv.order[k].i]))
				survey_one(out, &sv, sv.order[k].i, keeper);
	}
	survey_release(&sv);
	/* back to registry order, each allocation's reasons in kind order */
	if (out->nr > 1)
		qsort(out->items, out->nr, sizeof(*out->items), cmp_misfit);
	return 0;
}

/* repair */

/* One allocation to move; strings copied, as the registry changes. */
struct move {
	char *worktree;
	char *service;
	char *range;
	char *description;
	char *path; /* recorded for the new allocation */
	char *dir;  /* its worktree's top, for the .env; NULL if unknown */
	bool is_main;
	uint16_t from, to;
	enum misfit_kind kind;
	char *why;
	char *brief;
	long pid;
};

static void moves_release(struct move *moves, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		free(moves[i].worktree);
		free(moves[i].service);
		free(moves[i].range);
		free(moves[i].description);
		free(moves[i].path);
		free(moves[i].dir);
		free(moves[i].why);
		free(moves[i].brief);
	}
	free(moves);
}

/* One move per allocation, for its first reason (kind order). */
static size_t plan(struct move **out, struct session *s,
		   const struct misfit_list *mf)
{
	struct move *moves = xcalloc(mf->nr + 1, sizeof(*moves));
	size_t i, nr = 0;

	for (i = 0; i < mf->nr; i++) {
		const struct misfit *m = &mf->items[i];
		const struct allocation *a = &s->reg->allocs[m->index];
		struct move *mv;

		if (i && mf->items[i - 1].index == m->index)
			continue;
		mv = &moves[nr++];
		mv->worktree = xstrdup(a->worktree);
		mv->service = xstrdup(a->service);
		mv->range = xstrdup_or_null(a->range);
		mv->description = xstrdup_or_null(a->description);
		mv->dir = session_worktree_dir(s, a->worktree, a->path);
		mv->path = xstrdup_or_null(a->path ? a->path : mv->dir);
		mv->is_main = !strcmp(a->worktree, WT_MAIN_NAME);
		mv->from = a->port;
		mv->kind = m->kind;
		mv->why = xstrdup(m->why);
		mv->brief = xstrdup(m->brief ? m->brief : m->why);
		mv->pid = m->pid;
	}
	*out = moves;
	return nr;
}

/* What a dry run takes to be taken: what session_allocate() checks. */
struct guess {
	const struct registry *reg;
	struct portset here;  /* this registry's ports, and those planned */
	struct portset peers; /* other registries' ports */
};

static bool guess_taken(uint16_t port, void *payload)
{
	const struct guess *g = payload;

	return portset_has(&g->here, port) || portset_has(&g->peers, port) ||
	       registry_reserved_at(g->reg, port) || probe_port_in_use(port);
}

static int full_range(const struct session *s, const struct move *mv,
		      const struct range *r, struct error *err)
{
	int ret;

	if (!r) {
		ret = error_set(err, ERR_NOTFOUND, s->registry_path, 0, NULL,
				"no range for service '%s'", mv->service);
		error_hint(err,
			   "add a range for it to 'ranges' in the registry");
		return ret;
	}
	ret = error_set(
		err, ERR_FULL, NULL, 0, NULL,
		"cannot move '%s' of worktree '%s': no free port in range '%s' (%u-%u)",
		mv->service, mv->worktree, r->name, r->start, r->end);
	error_hint(
		err,
		"release ports with 'git worktree-ports release', drop removed worktrees with 'git worktree-ports prune', or widen 'ranges.%s' in %s",
		r->name, s->registry_path);
	return ret;
}

/* --dry-run: the ports the moves would get, changing nothing. */
static int predict(struct session *s, struct move *moves, size_t nr,
		   struct error *err)
{
	struct guess *g = xcalloc(1, sizeof(*g));
	struct peer_regs peers = { 0 };
	size_t i, j;
	int ret = 0;

	g->reg = s->reg;
	for (i = 0; i < s->reg->nr_allocs; i++)
		portset_add(&g->here, s->reg->allocs[i].port);
	peer_regs_load(&peers, s->registry_path);
	for (i = 0; i < peers.nr; i++)
		for (j = 0; peers.regs[i] && j < peers.regs[i]->nr_allocs; j++)
			portset_add(&g->peers, peers.regs[i]->allocs[j].port);
	for (i = 0; i < nr; i++) {
		struct move *mv = &moves[i];
		const struct range *r =
			registry_range_for(s->reg, mv->service, mv->range);

		if (!r) {
			ret = full_range(s, mv, r, err);
			break;
		}
		ret = alloc_pick_port(&mv->to, r,
				      mv->is_main ? NULL : mv->worktree,
				      mv->service, guess_taken, g);
		if (ret < 0) {
			ret = full_range(s, mv, r, err);
			break;
		}
		portset_add(&g->here, mv->to);
	}
	peer_regs_release(&peers);
	free(g);
	return ret;
}

/* Release each allocation and allocate its service again. */
static int move_all(struct session *s, struct move *moves, size_t nr,
		    struct error *err)
{
	struct picker pk = PICKER_INIT;
	struct sbuf detail = SBUF_INIT;
	size_t i, idx;
	bool fresh;
	long k;
	int ret = 0;

	for (i = 0; i < nr; i++) {
		struct move *mv = &moves[i];
		struct target t = { mv->worktree, mv->path, mv->is_main };

		k = registry_find(s->reg, mv->worktree, mv->service);
		if (k < 0)
			continue; /* cannot happen: the lock is held */
		registry_remove(s->reg, (size_t)k);
		s->dirty = true;
		ret = session_allocate(s, &pk, &t, mv->service, mv->range,
				       mv->description, NULL, &idx, &fresh,
				       err);
		if (ret == ERR_FULL) {
			error_clear(err);
			ret = full_range(s, mv,
					 registry_range_for(s->reg, mv->service,
							    mv->range),
					 err);
		}
		if (ret < 0)
			break;
		mv->to = s->reg->allocs[idx].port;
		sbuf_reset(&detail);
		sbuf_addf(&detail, "moved from %u: %s", mv->from, mv->brief);
		session_log(s, "repair", mv->worktree, mv->service, mv->to,
			    mv->pid, detail.buf);
	}
	sbuf_release(&detail);
	if (!ret)
		ret = session_finish(s, err);
	picker_release(&pk);
	return ret;
}

/* A .env file written (or, in a dry run, to be written). */
struct env_file {
	const char *worktree; /* borrowed from a move */
	char *file;	      /* as [env] file names it */
	char *path;	      /* absolute */
	bool changed;
};

struct env_files {
	struct env_file *items;
	size_t nr, alloc;
};

static void env_files_add(struct env_files *l, const char *worktree,
			  const char *dir, const char *file, bool changed)
{
	struct env_file *f;
	struct sbuf path = SBUF_INIT;

	sbuf_addf(&path, "%s/%s", dir, file);
	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	f = &l->items[l->nr++];
	f->worktree = worktree;
	f->file = xstrdup(file);
	f->path = sbuf_detach(&path);
	f->changed = changed;
}

static void env_files_release(struct env_files *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++) {
		free(l->items[i].file);
		free(l->items[i].path);
	}
	free(l->items);
}

static void warn_error(const struct error *e, const char *worktree)
{
	struct sbuf line = SBUF_INIT;

	error_format(e, &line);
	warning("%s", line.buf);
	sbuf_release(&line);
	sbuf_addstr(&line, worktree);
	warning(
		"the .env files of worktree '%s' were not rewritten; run 'git worktree-ports sync' there",
		line.buf);
	sbuf_release(&line);
}

/*
 * Rewrite the .env files of each worktree a move touched, as sync does:
 * from the worktree's own .worktree-ports.ini, if it has one. A worktree
 * that cannot be written is warned about and the others are still done;
 * the first error is returned.
 */
static int rewrite_env(struct session *s, const struct move *moves, size_t nr,
		       bool dry_run, struct env_files *files, struct error *err)
{
	size_t i, j, f;
	int first = 0;

	for (i = 0; i < nr; i++) {
		const struct move *mv = &moves[i];
		struct target t = { mv->worktree, mv->dir, mv->is_main };
		struct env_list vars = ENV_LIST_INIT;
		struct env_written *written = NULL;
		struct config *c = NULL;
		struct error e = ERROR_INIT;
		int ret;

		for (j = 0; j < i; j++)
			if (!strcmp(moves[j].worktree, mv->worktree))
				break;
		if (j < i || !mv->dir)
			continue;
		ret = config_load(&c, mv->dir, &e);
		if (ret == ERR_NOTFOUND)
			continue; /* nothing sync would write */
		if (!ret && !dry_run)
			ret = session_write_env(s, &t, c, &vars, &written, &e);
		if (ret < 0) {
			warn_error(&e, mv->worktree);
			if (!first) {
				first = ret;
				memcpy(err, &e, sizeof(e));
			}
		} else {
			for (f = 0; f < c->nr_warnings; f++)
				warning("%s", c->warnings[f]);
			for (f = 0; f < c->nr_env_files; f++)
				env_files_add(files, mv->worktree, mv->dir,
					      c->env_files[f],
					      dry_run || written[f].changed);
		}
		free(written);
		env_list_release(&vars);
		config_free(c);
	}
	return first;
}

static const char *kind_name(enum misfit_kind kind)
{
	switch (kind) {
	case MISFIT_OUTSIDE_RANGE:
		return "outside_range";
	case MISFIT_BAD_PORT:
		return "bad_port";
	case MISFIT_RESERVED:
		return "reserved";
	case MISFIT_DUPLICATE:
	case MISFIT_PEER:
		return "duplicate";
	case MISFIT_FOREIGN:
		return "foreign_process";
	}
	return "unknown";
}

static void print_json(bool dry_run, const struct move *moves, size_t nr,
		       const struct env_files *files)
{
	struct jsonw w = JSONW_INIT;
	size_t i;

	jsonw_object_begin(&w, NULL);
	jsonw_bool(&w, "dry_run", dry_run);
	jsonw_array_begin(&w, "moved");
	for (i = 0; i < nr; i++) {
		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "worktree", moves[i].worktree);
		jsonw_string(&w, "service", moves[i].service);
		jsonw_int(&w, "from", moves[i].from);
		jsonw_int(&w, "to", moves[i].to);
		jsonw_string(&w, "reason", kind_name(moves[i].kind));
		if (moves[i].pid == ACTLOG_NONE)
			jsonw_null(&w, "pid");
		else
			jsonw_int(&w, "pid", moves[i].pid);
		jsonw_string(&w, "detail", moves[i].why);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_array_begin(&w, "files");
	for (i = 0; i < files->nr; i++) {
		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "worktree", files->items[i].worktree);
		jsonw_string(&w, "file", files->items[i].file);
		if (dry_run)
			jsonw_null(&w, "changed");
		else
			jsonw_bool(&w, "changed", files->items[i].changed);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_object_end(&w);
	fwrite(w.out.buf, 1, w.out.len, stdout);
	jsonw_release(&w);
}

static void print_human(bool dry_run, const struct move *moves, size_t nr,
			const struct env_files *files)
{
	struct sbuf out = SBUF_INIT;
	size_t i;

	for (i = 0; i < nr; i++) {
		sbuf_addf(&out, "%s '", dry_run ? "would move" : "moved");
		cmd_add_printable(&out, moves[i].service);
		sbuf_addstr(&out, "' of worktree '");
		cmd_add_printable(&out, moves[i].worktree);
		sbuf_addf(&out, "' from %u to %u: %u is %s\n", moves[i].from,
			  moves[i].to, moves[i].from, moves[i].why);
	}
	for (i = 0; i < files->nr; i++) {
		if (!files->items[i].changed)
			continue;
		sbuf_addstr(&out, dry_run ? "would rewrite " : "wrote ");
		cmd_add_printable(&out, files->items[i].path);
		sbuf_addch(&out, '\n');
	}
	if (!nr)
		sbuf_addstr(&out, "nothing to repair\n");
	fwrite(out.buf, 1, out.len, stdout);
	sbuf_release(&out);
}

static const char *const repair_usage[] = {
	"git worktree-ports repair [--dry-run] [--all | --worktree <name>]",
	"",
	"Move every port of this worktree that it cannot keep (held by a process",
	"outside the worktree, allocated twice, outside its range, reserved or",
	"refused by browsers) to a new port of its range, say why, and rewrite the",
	"worktree's .env files as sync does.",
	NULL,
};

int cmd_repair(int argc, const char **argv, struct global_opts *g,
	       struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct released_list gone = RELEASED_LIST_INIT;
	struct misfit_list mf = MISFIT_LIST_INIT;
	struct env_files files = { NULL, 0, 0 };
	struct move *moves = NULL;
	unsigned flags = SESSION_ALLOW_DUPLICATES;
	bool dry_run = false, all = false;
	const char *worktree = NULL;
	struct option options[] = {
		OPT_BOOL('n', "dry-run", &dry_run,
			 "only say what would be moved"),
		OPT_BOOL(0, "all", &all, "every worktree"),
		OPT_STRING(0, "worktree", &worktree, "name",
			   "another worktree"),
		OPT_END(),
	};
	size_t nr = 0;
	int ret;

	argc = cli_parse_options(argc, argv, repair_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc)
		return cli_usage_error(repair_usage, options,
				       "'repair' takes no arguments, got '%s'",
				       argv[0]);
	if (all && worktree)
		return error_set(
			err, ERR_USAGE, NULL, 0, NULL,
			"--all and --worktree cannot be used together");
	/* a dry run changes no byte: removed worktrees keep their ports */
	if (dry_run)
		flags |= SESSION_NO_AUTORELEASE;
	ret = session_open(&s, g->registry, flags, err);
	if (ret < 0)
		goto out;
	if (dry_run) {
		ret = session_autorelease(&s, true, &gone, err);
		if (ret < 0)
			goto out;
	}
	if (!all) {
		ret = session_target(&t, &s, worktree, err);
		if (ret < 0)
			goto out;
	}
	ret = session_misfits(&mf, &s, all ? NULL : t.name, &gone, err);
	if (ret < 0)
		goto out;
	nr = plan(&moves, &s, &mf);
	if (dry_run)
		ret = predict(&s, moves, nr, err);
	else
		ret = move_all(&s, moves, nr, err);
	if (ret < 0)
		goto out;
	ret = rewrite_env(&s, moves, nr, dry_run, &files, err);
	if (g->json)
		print_json(dry_run, moves, nr, &files);
	else if (!g->quiet)
		print_human(dry_run, moves, nr, &files);
out:
	env_files_release(&files);
	moves_release(moves, nr);
	misfit_list_release(&mf);
	released_list_release(&gone);
	target_release(&t);
	session_release(&s);
	cmd_timing("total");
	return ret;
}
