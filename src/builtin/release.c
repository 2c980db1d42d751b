#include "common.h"
#include "builtin.h"
#include "session.h"
#include "wtenv.h"
#include "error.h"
#include "jsonw.h"
#include "report.h"
#include "parse-options.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"

#include <stdio.h>

static void take(struct released_list *out, struct session *s, size_t i)
{
	released_list_add(out, &s->reg->allocs[i]);
	registry_remove(s->reg, i);
	s->dirty = true;
}

static void print_released(const struct global_opts *g,
			   const struct released_list *l, bool dry_run,
			   bool prune)
{
	size_t i;

	if (g->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		if (prune)
			jsonw_bool(&w, "dry_run", dry_run);
		jsonw_array_begin(&w, "released");
		for (i = 0; i < l->nr; i++) {
			jsonw_object_begin(&w, NULL);
			report_released(&w, &l->items[i]);
			jsonw_object_end(&w);
		}
		jsonw_array_end(&w);
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
		jsonw_release(&w);
		return;
	}
	if (g->quiet)
		return;
	for (i = 0; i < l->nr; i++)
		printf("%s port %u ('%s') of %sworktree '%s'\n",
		       dry_run ? "would release" : "released",
		       l->items[i].port, text_printable(l->items[i].service),
		       prune ? "removed " : "",
		       text_printable(l->items[i].worktree));
}

static const char *const release_usage[] = {
	"git worktree-ports release (<service>... | --port <n> | --all)\n"
	"                           [--worktree <name>]",
	"",
	"Give ports back.",
	NULL,
};

/*
 * The .env files of each worktree that lost a port: a released port must
 * not stay there, where another worktree may be handed it next.
 */
static void refresh_env(struct session *s, const struct released_list *done,
			bool quiet)
{
	size_t i, j;

	for (i = 0; i < done->nr; i++) {
		const char *name = done->items[i].worktree;
		bool seen = false;

		for (j = 0; j < i && !seen; j++)
			seen = !strcmp(done->items[j].worktree, name);
		if (!seen)
			wtenv_refresh(s, name, done->items[i].a.path, quiet);
	}
}

int cmd_release(int argc, const char **argv, struct global_opts *g,
		struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct released_list done = RELEASED_LIST_INIT;
	uint16_t port = 0;
	const char *worktree = NULL;
	bool all = false;
	struct option options[] = {
		OPT_PORT("port", &port,
			 "release this port, whichever worktree holds it"),
		OPT_STRING(0, "worktree", &worktree, "name",
			   "act on another worktree"),
		OPT_BOOL(0, "all", &all, "release every port of the worktree"),
		OPT_END(),
	};
	long i;
	int n, ret;

	argc = cli_parse_options(argc, argv, release_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (!argc && !port && !all) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"nothing to release");
		error_hint(err, "name the services, or use --port <port> or --all");
		return ret;
	}
	ret = session_open(&s, g->registry, 0, err);
	if (ret < 0)
		goto out;
	if (argc || all || worktree) {
		ret = session_target(&t, &s, worktree, err);
		if (ret < 0)
			goto out;
	}
	for (n = 0; n < argc; n++) {
		i = registry_find(s.reg, t.name, argv[n]);
		if (i < 0)
			warning("worktree '%s' has no port for '%s'", t.name,
				argv[n]);
		else
			take(&done, &s, (size_t)i);
	}
	if (port) {
		i = registry_find_port(s.reg, port);
		if (i >= 0 && t.name && strcmp(s.reg->allocs[i].worktree, t.name))
			warning("port %u belongs to worktree '%s', not '%s'",
				port, s.reg->allocs[i].worktree, t.name);
		else if (i < 0)
			warning("port %u is not allocated", port);
		else
			take(&done, &s, (size_t)i);
	}
	if (all) {
		for (i = (long)s.reg->nr_allocs; i-- > 0;)
			if (!strcmp(s.reg->allocs[i].worktree, t.name))
				take(&done, &s, (size_t)i);
	}
	session_log_released(&s, "release", &done, NULL);
	ret = session_finish(&s, err);
	if (ret < 0)
		goto out;
	refresh_env(&s, &done, g->quiet || g->json);
	if (!done.nr) {
		ret = error_set(err, ERR_NOTFOUND, NULL, 0, NULL,
				"nothing was released");
		if (all)
			error_hint(err, "worktree '%s' holds no ports",
				   t.name);
		goto out;
	}
	print_released(g, &done, false, false);
out:
	released_list_release(&done);
	target_release(&t);
	session_release(&s);
	return ret;
}

static const char *const prune_usage[] = {
	"git worktree-ports prune [--dry-run]",
	"",
	"Release the ports of worktrees that no longer exist (locked worktrees",
	"keep theirs).",
	NULL,
};

int cmd_prune(int argc, const char **argv, struct global_opts *g,
	      struct error *err)
{
	struct session s = SESSION_INIT;
	struct released_list gone = RELEASED_LIST_INIT;
	bool dry_run = false;
	struct option options[] = {
		OPT_BOOL('n', "dry-run", &dry_run,
			 "only say what would be released"),
		OPT_END(),
	};
	int ret;

	argc = cli_parse_options(argc, argv, prune_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc)
		return cli_usage_error(prune_usage, options,
				       "'prune' takes no arguments, got '%s'",
				       argv[0]);
	ret = session_open(&s, g->registry,
			   SESSION_NO_AUTORELEASE |
				   (dry_run ? SESSION_DRY_RUN : 0),
			   err);
	if (ret < 0)
		goto out;
	ret = session_autorelease(&s, dry_run, &gone, err);
	if (ret < 0)
		goto out;
	if (!dry_run)
		session_log_released(&s, "prune", &gone, "worktree is gone");
	ret = session_finish(&s, err);
	if (ret < 0)
		goto out;
	print_released(g, &gone, dry_run, true);
	if (!gone.nr && !g->json && !g->quiet)
		printf("nothing to prune\n");
out:
	released_list_release(&gone);
	session_release(&s);
	return ret;
}
