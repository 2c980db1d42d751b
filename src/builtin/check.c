#include "common.h"
#include "builtin.h"
#include "text.h"
#include "misfit.h"
#include "nameset.h"
#include "session.h"
#include "error.h"
#include "jsonw.h"
#include "parse-options.h"
#include "registry.h"
#include "sbuf.h"
#include "actlog.h"
#include "wtenv.h"

#include <stdio.h>

/* Kinds, in the order conflicts of one port are listed. */
enum kind {
	KIND_RANGE_OVERLAP,
	KIND_OUTSIDE_RANGE,
	KIND_BAD_PORT,
	KIND_RESERVED,
	KIND_DUPLICATE,
	KIND_FOREIGN_PROCESS,
	KIND_ORPHAN_PROCESS,
	KIND_STALE_ENV
};

static const char *const kind_names[] = {
	"range_overlap", "outside_range",   "bad_port",	      "reserved",
	"duplicate",	 "foreign_process", "orphan_process", "stale_env",
};

struct conflict {
	enum kind kind;
	long port; /* -1: none */
	char *worktree;
	char *service;
	char *detail; /* printable */
	char *fix;    /* printable */
};

struct conflicts {
	struct conflict *items;
	size_t nr, alloc;
};

static void add(struct conflicts *l, enum kind kind, long port,
		const char *worktree, const char *service, struct sbuf *detail,
		struct sbuf *fix)
{
	struct conflict *c;

	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	c = &l->items[l->nr++];
	c->kind = kind;
	c->port = port;
	c->worktree = xstrdup_or_null(worktree);
	c->service = xstrdup_or_null(service);
	c->detail = sbuf_detach(detail);
	c->fix = sbuf_detach(fix);
}

static void conflicts_release(struct conflicts *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++) {
		free(l->items[i].worktree);
		free(l->items[i].service);
		free(l->items[i].detail);
		free(l->items[i].fix);
	}
	free(l->items);
}

static int cmp_conflict(const void *a, const void *b)
{
	const struct conflict *x = a, *y = b;

	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	if (x->worktree && y->worktree)
		return strcmp(x->worktree, y->worktree);
	return 0;
}

/* 'word' as one shell word, for a command to paste: quoted if needed. */
static void add_shell_word(struct sbuf *out, const char *word)
{
	struct sbuf q = SBUF_INIT;
	const char *p;

	if (*word && strspn(word, "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789._-/") == strlen(word)) {
		text_addstr_printable(out, word);
		return;
	}
	sbuf_addch(&q, '\'');
	for (p = word; *p; p++) {
		if (*p == '\'')
			sbuf_addstr(&q, "'\\''");
		else
			sbuf_addch(&q, *p);
	}
	sbuf_addch(&q, '\'');
	text_addstr_printable(out, q.buf);
	sbuf_release(&q);
}

/*
 * Worktrees whose .env holds other ports than the registry gives them: a
 * release, an allocate --port or a repair killed before its .env write.
 */
static void stale_envs(struct conflicts *l, const struct session *s)
{
	const struct registry *reg = s->reg;
	struct sbuf detail = SBUF_INIT, fix = SBUF_INIT;
	struct nameset seen;
	size_t i;

	nameset_init(&seen, reg->nr_allocs, registry_worktree_key, reg);
	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];
		char *file;

		/* each worktree once */
		if (nameset_add(&seen, i) >= 0 || !a->path)
			continue;
		wtenv_stale(&file, s, a->worktree, a->path);
		if (!file)
			continue;
		sbuf_addstr(&detail, "worktree '");
		text_addstr_printable(&detail, a->worktree);
		sbuf_addstr(&detail, "': ");
		text_addstr_printable(&detail, file);
		sbuf_addstr(&detail, " holds other ports than the registry");
		sbuf_addstr(&fix, "git -C ");
		add_shell_word(&fix, a->path);
		sbuf_addstr(&fix, " worktree-ports sync");
		add(l, KIND_STALE_ENV, -1, a->worktree, NULL, &detail, &fix);
		free(file);
	}
	nameset_release(&seen);
}

/* Ranges of this registry that share ports. */
static void range_overlaps(struct conflicts *l, const struct session *s)
{
	const struct registry *reg = s->reg;
	struct sbuf detail = SBUF_INIT, fix = SBUF_INIT;
	size_t i, j;

	for (i = 0; i < reg->nr_ranges; i++) {
		for (j = i + 1; j < reg->nr_ranges; j++) {
			const struct range *a = &reg->ranges[i];
			const struct range *b = &reg->ranges[j];
			uint16_t lo = a->start > b->start ? a->start : b->start;
			uint16_t hi = a->end < b->end ? a->end : b->end;

			if (lo > hi)
				continue;
			sbuf_addstr(&detail, "ranges '");
			text_addstr_printable(&detail, a->name);
			sbuf_addf(&detail, "' (%u-%u) and '", a->start, a->end);
			text_addstr_printable(&detail, b->name);
			sbuf_addf(&detail, "' (%u-%u) share ", b->start,
				  b->end);
			if (lo == hi)
				sbuf_addf(&detail, "port %u", lo);
			else
				sbuf_addf(&detail, "ports %u-%u", lo, hi);
			sbuf_addstr(&fix, "edit \"ranges\" in ");
			text_addstr_printable(&fix, s->registry_path);
			sbuf_addstr(&fix, " so that '");
			text_addstr_printable(&fix, a->name);
			sbuf_addstr(&fix, "' and '");
			text_addstr_printable(&fix, b->name);
			sbuf_addstr(&fix, "' do not overlap");
			add(l, KIND_RANGE_OVERLAP, -1, NULL, NULL, &detail,
			    &fix);
		}
	}
}

static void add_subject(struct sbuf *out, uint16_t port, const char *service,
			const char *worktree)
{
	sbuf_addf(out, "port %u of '", port);
	text_addstr_printable(out, service);
	sbuf_addstr(out, "' in worktree '");
	text_addstr_printable(out, worktree);
	sbuf_addch(out, '\'');
}

/* "kill 123": what stops an orphan. */
static void add_kill(struct sbuf *fix, long pid, uint16_t port)
{
	if (pid != ACTLOG_NONE)
		sbuf_addf(fix, "kill %ld", pid);
	else
		sbuf_addf(fix, "stop the process that listens on port %u", port);
}

/*
 * The listeners no allocation accounts for: an orphan is a conflict; any
 * other is a note, as it fails nothing yet (but the next allocation of
 * its port skips it).
 */
static void strays(struct conflicts *l, const struct misfit_list *mf)
{
	struct sbuf detail = SBUF_INIT, fix = SBUF_INIT;
	size_t i;

	for (i = 0; i < mf->nr_strays; i++) {
		const struct misfit_stray *st = &mf->strays[i];

		sbuf_addf(&detail, "port %u", st->port);
		if (st->range) {
			sbuf_addstr(&detail, " of range '");
			text_addstr_printable(&detail, st->range);
			sbuf_addch(&detail, '\'');
		}
		sbuf_addf(&detail, " is %s", st->why);
		if (!st->orphan) {
			note("%s, and no allocation holds it", detail.buf);
			sbuf_reset(&detail);
			continue;
		}
		add_kill(&fix, st->pid, st->port);
		add(l, KIND_ORPHAN_PROCESS, st->port, NULL, NULL, &detail,
		    &fix);
	}
	sbuf_release(&detail);
}

static enum kind kind_of(enum misfit_kind m)
{
	switch (m) {
	case MISFIT_OUTSIDE_RANGE:
		return KIND_OUTSIDE_RANGE;
	case MISFIT_BAD_PORT:
		return KIND_BAD_PORT;
	case MISFIT_RESERVED:
		return KIND_RESERVED;
	case MISFIT_DUPLICATE:
	case MISFIT_PEER:
		return KIND_DUPLICATE;
	case MISFIT_FOREIGN:
		break;
	case MISFIT_ORPHAN:
		return KIND_ORPHAN_PROCESS;
	}
	return KIND_FOREIGN_PROCESS;
}

static void misfits(struct conflicts *l, const struct session *s,
		    const struct misfit_list *mf)
{
	struct sbuf detail = SBUF_INIT, fix = SBUF_INIT;
	size_t i;

	for (i = 0; i < mf->nr; i++) {
		const struct misfit *m = &mf->items[i];
		const struct allocation *a = &s->reg->allocs[m->index];

		add_subject(&detail, a->port, a->service, a->worktree);
		sbuf_addf(&detail, " is %s", m->why);
		if (m->kind == MISFIT_ORPHAN) {
			add_kill(&fix, m->pid, a->port);
		} else {
			sbuf_addstr(&fix, "git worktree-ports repair --worktree ");
			add_shell_word(&fix, a->worktree);
		}
		add(l, kind_of(m->kind), a->port, a->worktree, a->service,
		    &detail, &fix);
	}
}

static void print_json(const struct session *s, const struct conflicts *l,
		       const struct misfit_list *mf)
{
	struct jsonw w = JSONW_INIT;
	size_t i;

	jsonw_object_begin(&w, NULL);
	jsonw_string(&w, "registry", s->registry_path);
	jsonw_array_begin(&w, "conflicts");
	for (i = 0; i < l->nr; i++) {
		const struct conflict *c = &l->items[i];

		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "kind", kind_names[c->kind]);
		jsonw_int_or_null(&w, "port", c->port, -1);
		jsonw_string(&w, "worktree", c->worktree);
		jsonw_string(&w, "service", c->service);
		jsonw_string(&w, "detail", c->detail);
		jsonw_string(&w, "fix", c->fix);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_array_begin(&w, "unallocated_listeners");
	for (i = 0; i < mf->nr_strays; i++) {
		const struct misfit_stray *st = &mf->strays[i];

		if (st->orphan)
			continue; /* a conflict above */
		jsonw_object_begin(&w, NULL);
		jsonw_int(&w, "port", st->port);
		jsonw_string(&w, "range", st->range);
		jsonw_int_or_null(&w, "pid", st->pid, ACTLOG_NONE);
		jsonw_string(&w, "detail", st->why);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_object_end(&w);
	fwrite(w.out.buf, 1, w.out.len, stdout);
	jsonw_release(&w);
}

static void print_human(const struct conflicts *l)
{
	struct sbuf out = SBUF_INIT;
	size_t i;

	for (i = 0; i < l->nr; i++)
		sbuf_addf(&out, "%s: %s; fix: %s\n",
			  kind_names[l->items[i].kind], l->items[i].detail,
			  l->items[i].fix);
	if (!l->nr)
		sbuf_addstr(&out, "no conflicts\n");
	else
		sbuf_addf(&out, "%zu conflict%s\n", l->nr,
			  l->nr == 1 ? "" : "s");
	fwrite(out.buf, 1, out.len, stdout);
	sbuf_release(&out);
}

static const char *const check_usage[] = {
	"git worktree-ports check",
	"",
	"Report every conflict, each with the command that fixes it: a port",
	"allocated twice (here or in another registry on this host), outside its",
	"range, reserved or refused by browsers, held by a process outside its",
	"worktree, held by an orphan (a server of a removed worktree), ranges that",
	"overlap. Exit 9 when any is found. Like every command it first releases",
	"the ports of removed worktrees; listeners in a range that no allocation",
	"holds are noted.",
	NULL,
};

int cmd_check(int argc, const char **argv, struct global_opts *g,
	      struct error *err)
{
	struct session s = SESSION_INIT;
	struct released_list gone = RELEASED_LIST_INIT;
	struct misfit_list mf = MISFIT_LIST_INIT;
	struct conflicts l = { NULL, 0, 0 };
	struct option options[] = { OPT_END() };
	int ret;

	argc = cli_parse_options(argc, argv, check_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc)
		return cli_usage_error(check_usage, options,
				       "'check' takes no arguments, got '%s'",
				       argv[0]);
	/*
	 * Removed worktrees' ports are released as by every command; the
	 * survey is told which, to know their servers as orphans.
	 */
	ret = session_open(&s, g->registry,
			   SESSION_NO_AUTORELEASE | SESSION_ALLOW_DUPLICATES,
			   err);
	if (ret < 0)
		goto out;
	ret = session_release_removed(&s, &gone, err);
	if (ret < 0)
		goto out;
	ret = misfit_survey(&mf, &s, NULL, &gone, MISFIT_STRAYS, err);
	if (ret < 0)
		goto out;
	range_overlaps(&l, &s);
	misfits(&l, &s, &mf);
	strays(&l, &mf);
	stale_envs(&l, &s);
	if (l.nr > 1)
		qsort(l.items, l.nr, sizeof(*l.items), cmp_conflict);
	ret = session_finish(&s, err);
	if (ret < 0)
		goto out;
	if (g->json)
		print_json(&s, &l, &mf);
	else if (!g->quiet)
		print_human(&l);
	if (l.nr)
		ret = ERR_CONFLICT; /* the list says it all: no message */
out:
	conflicts_release(&l);
	misfit_list_release(&mf);
	released_list_release(&gone);
	session_release(&s);
	timing_mark("total");
	return ret;
}
