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
	"git worktree-ports install-hooks [--shared-hooks]",
	"git worktree-ports install-hooks --snippet",
	"",
	"Install the post-checkout hook that runs 'sync' on branch checkouts and",
	"'git worktree add', in the hooks directory (core.hooksPath, else the",
	"repository's hooks/). A post-checkout hook already there keeps running",
	"after it, kept as post-checkout.before-worktree-ports; run it again",
	"after a hook manager (husky, lefthook, pre-commit) rewrote the hook.",
	NULL,
};

static const char *const uninstall_hooks_usage[] = {
	"git worktree-ports uninstall-hooks",
	"",
	"Remove the post-checkout hook and put back the hook it replaced.",
	NULL,
};

/*
 * The lines for the hook manager this repository uses, or for each of
 * them when it uses none we know.
 */
static void print_snippets(const struct wt_repo *repo, const char *dir)
{
	const char *top = repo->main_path ? repo->main_path : repo->path;
	enum hooks_manager m = hooks_manager_of(top, dir, NULL);
	enum hooks_manager all[] = { HOOKS_MANAGER_HUSKY,
				     HOOKS_MANAGER_LEFTHOOK,
				     HOOKS_MANAGER_PRE_COMMIT };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		if (m != HOOKS_MANAGER_NONE && all[i] != m)
			continue;
		printf("%s# %s: add to %s\n%s", i && m == HOOKS_MANAGER_NONE ?
							 "\n" :
							 "",
		       hooks_manager_name(all[i]), hooks_manager_config(all[i]),
		       hooks_manager_snippet(all[i]));
	}
}

/* install-hooks and uninstall-hooks: the same options, opposite acts */
static int run(int argc, const char **argv, struct global_opts *g,
	       bool install, struct error *err)
{
	const char *const *usage =
		install ? install_hooks_usage : uninstall_hooks_usage;
	struct wt_repo *repo = NULL;
	struct hooks_result r = HOOKS_RESULT_INIT;
	char *dir = NULL;
	bool shared = false, snippet = false;
	struct option install_options[] = {
		OPT_BOOL(0, "shared-hooks", &shared,
			 "install into a core.hooksPath outside this\nrepository, which other repositories use too"),
		OPT_BOOL(0, "snippet", &snippet,
			 "install nothing; print the lines that make this\nrepository's hook manager run the ports set-up"),
		OPT_END(),
	};
	struct option uninstall_options[] = { OPT_END() };
	struct option *options = install ? install_options : uninstall_options;
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
	ret = open_dir(&repo, &dir,
		       install && !snippet && !g->quiet && !g->json, err);
	if (ret < 0)
		goto out;
	if (snippet) {
		print_snippets(repo, dir);
		goto out;
	}
	ret = install ? hooks_setup(&r, repo, shared, err) :
			hooks_teardown(&r, repo, err);
	if (ret < 0)
		goto out;
	if (!install && r.action == HOOKS_NOT_OURS && r.chained)
		note("'%s' is still there, from an earlier install",
			 r.aside);
	if (install && r.kept)
		note("the hook set aside by an earlier install is kept as '%s' and no longer runs; the hook there now is chained instead",
		     r.kept);
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
