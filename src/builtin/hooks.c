#include "common.h"
#include "builtin.h"
#include "error.h"
#include "hooks.h"
#include "jsonw.h"
#include "parse-options.h"
#include "sbuf.h"
#include "wt.h"

#include <stdio.h>

/*
 * The hooks directory of the current worktree; 'say_relative' says that a relative
 * one serves this worktree only.
 */
static int open_dir(struct wt_repo **repo, char **dir, bool say_relative,
		    struct error *err)
{
	bool relative = false;
	int ret;

	ret = wt_open(repo, NULL, err);
	if (ret < 0)
		return ret;
	ret = hooks_find_dir(dir, &relative, *repo, err);
	if (!ret && relative && say_relative)
		note(
			"core.hooksPath is relative: each worktree has its own hooks directory, and this one serves git commands run in '%s'",
			(*repo)->path ? (*repo)->path : (*repo)->gitdir);
	return ret;
}

static void print_json(const struct hooks_result *r, bool install)
{
	struct jsonw w = JSONW_INIT;

	jsonw_object_begin(&w, NULL);
	jsonw_string(&w, "action", hooks_action_name(r->action));
	jsonw_string(&w, "dir", r->dir);
	jsonw_string(&w, "hook", r->hook);
	if (install)
		jsonw_string(&w, "chained", r->chained ? r->aside : NULL);
	jsonw_object_end(&w);
	fputs(w.out.buf, stdout);
	jsonw_release(&w);
}

static void print_result(const struct hooks_result *r,
			 const struct global_opts *g, bool install)
{
	struct sbuf line = SBUF_INIT;

	if (g->json) {
		print_json(r, install);
	} else if (!g->quiet) {
		hooks_describe(&line, r);
		puts(line.buf);
	}
	sbuf_release(&line);
}

static const char *const install_hooks_usage[] = {
	"git worktree-ports install-hooks",
	"",
	"Install the post-checkout hook that runs 'sync' on branch checkouts and",
	"'git worktree add', in the hooks directory (core.hooksPath, else the",
	"repository's hooks/). A post-checkout hook already there keeps running",
	"after it, kept as post-checkout.before-worktree-ports.",
	NULL,
};

static const char *const uninstall_hooks_usage[] = {
	"git worktree-ports uninstall-hooks",
	"",
	"Remove the post-checkout hook and put back the hook it replaced.",
	NULL,
};

/* install-hooks and uninstall-hooks: the same options, opposite acts */
static int run(int argc, const char **argv, struct global_opts *g,
	       bool install, struct error *err)
{
	const char *const *usage =
		install ? install_hooks_usage : uninstall_hooks_usage;
	struct wt_repo *repo = NULL;
	struct hooks_result r = HOOKS_RESULT_INIT;
	char *dir = NULL;
	struct option options[] = { OPT_END() };
	int ret;

	argc = cli_parse_options(argc, argv, usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc)
		return cli_usage_error(usage, options,
				       "'%s' takes no arguments, got '%s'",
				       install ? "install-hooks" :
						 "uninstall-hooks",
				       argv[0]);
	ret = open_dir(&repo, &dir, install && !g->quiet && !g->json, err);
	if (ret < 0)
		goto out;
	ret = install ? hooks_install(&r, dir, err) :
			hooks_uninstall(&r, dir, err);
	if (ret < 0)
		goto out;
	if (!install && r.action == HOOKS_NOT_OURS && r.chained)
		note("'%s' is still there, from an earlier install",
			 r.aside);
	print_result(&r, g, install);
out:
	hooks_result_release(&r);
	free(dir);
	wt_free(repo);
	return ret;
}

int cmd_install_hooks(int argc, const char **argv, struct global_opts *g,
		      struct error *err)
{
	return run(argc, argv, g, true, err);
}

int cmd_uninstall_hooks(int argc, const char **argv, struct global_opts *g,
			struct error *err)
{
	return run(argc, argv, g, false, err);
}
