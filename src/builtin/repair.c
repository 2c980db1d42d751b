#include "common.h"
#include "alloc.h"
#include "builtin.h"
#include "text.h"
#include "misfit.h"
#include "nameset.h"
#include "wtenv.h"
#include "picker.h"
#include "session.h"
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

/*
 * An orphan holds the port: moving would leave the port to a process
 * nobody runs any more. Stopping it is the fix.
 */
static void note_orphan(const struct allocation *a, const struct misfit *m)
{
	struct sbuf svc = SBUF_INIT, wt = SBUF_INIT, fix = SBUF_INIT;

	text_addstr_printable(&svc, a->service);
	text_addstr_printable(&wt, a->worktree);
	if (m->pid != ACTLOG_NONE)
		sbuf_addf(&fix, "stop it with 'kill %ld'", m->pid);
	else
		sbuf_addstr(&fix, "stop it");
	note("'%s' of worktree '%s' keeps port %u, %s, an orphan: %s",
	     svc.buf, wt.buf, a->port, m->why, fix.buf);
	sbuf_release(&svc);
	sbuf_release(&wt);
	sbuf_release(&fix);
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
		if (m->kind == MISFIT_ORPHAN) {
			note_orphan(a, m);
			continue;
		}
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

/* What a dry run takes to be taken: what picker_allocate() checks. */
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
	struct error e = ERROR_INIT;
	size_t i;
	int ret = 0;

	g->reg = s->reg;
	for (i = 0; i < s->reg->nr_allocs; i++)
		portset_add(&g->here, s->reg->allocs[i].port);
	if (peers_collect(&g->peers, s->registry_path, &e) < 0) {
		/* the other registries only add to the guess */
		warning_error(&e, NULL);
		error_clear(&e);
	}
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
		ret = picker_allocate(s, &pk, &t, mv->service, mv->range,
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
	struct sbuf name = SBUF_INIT;

	warning_error(e, NULL);
	text_addstr_printable(&name, worktree);
	warning("the .env files of worktree '%s' were not rewritten; run 'git worktree-ports sync' there",
		name.buf);
	sbuf_release(&name);
}

/*
 * Rewrite the .env files of each worktree a move touched, as sync does:
 * from the worktree's own .worktree-ports.ini, if it has one. A worktree
 * that cannot be written is warned about and the others are still done;
 * the first error is returned.
 */
/*
 * A repair killed after its registry write left .env with the old port,
 * and the port is free for anyone now: a rerun, which finds nothing to
 * move, puts each worktree's .env (of 'only', or of all) in agreement
 * with the registry. Worktrees just moved were written already.
 */
static void heal_env(struct session *s, const char *only,
		     const struct move *moves, size_t nr, bool dry_run,
		     bool quiet)
{
	const struct registry *reg = s->reg;
	struct nameset once;
	size_t i, j;

	nameset_init(&once, reg->nr_allocs, registry_worktree_key, reg);
	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];
		bool seen;

		if (only && strcmp(a->worktree, only))
			continue;
		seen = nameset_add(&once, i) >= 0;
		for (j = 0; j < nr && !seen; j++)
			seen = !strcmp(moves[j].worktree, a->worktree);
		if (seen || !a->path)
			continue;
		if (dry_run) {
			char *file;

			wtenv_stale(&file, s, a->worktree, a->path);
			if (file && !quiet)
				note("would rewrite %s of worktree '%s': it holds other ports than the registry",
				     file, a->worktree);
			free(file);
		} else {
			wtenv_refresh(s, a->worktree, a->path, quiet);
		}
	}
	nameset_release(&once);
}

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
			ret = wtenv_write(s, &t, c, &vars, NULL, &written, &e);
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
	case MISFIT_ORPHAN:
		return "orphan_process";
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
		jsonw_int_or_null(&w, "pid", moves[i].pid, ACTLOG_NONE);
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
		text_addstr_printable(&out, moves[i].service);
		sbuf_addstr(&out, "' of worktree '");
		text_addstr_printable(&out, moves[i].worktree);
		sbuf_addf(&out, "' from %u to %u: %u is %s\n", moves[i].from,
			  moves[i].to, moves[i].from, moves[i].why);
	}
	for (i = 0; i < files->nr; i++) {
		if (!files->items[i].changed)
			continue;
		sbuf_addstr(&out, dry_run ? "would rewrite " : "wrote ");
		text_addstr_printable(&out, files->items[i].path);
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
		flags |= SESSION_DRY_RUN;
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
	ret = misfit_survey(&mf, &s, all ? NULL : t.name, &gone, 0, err);
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
	heal_env(&s, all ? NULL : t.name, moves, nr, dry_run,
		 g->quiet || g->json);
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
	timing_mark("total");
	return ret;
}
