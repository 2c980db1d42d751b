#include "common.h"
#include "wt.h"
#include "error.h"
#include "sbuf.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#define UNIT_SCRATCH
#include "unit.h"

/*
 * Every test builds real repositories with git in one temporary directory
 * and compares what wt.c says with what it must be (or with what git
 * itself says). The first test must run first: it checks that the common
 * layouts never start libgit2, which only means something while nothing
 * else in the process has.
 */

static char saved_cwd[PATH_MAX];


/* The first line git prints for 'args' run in 'root/dir'. */
static char *git_says(const char *dir, const char *args)
{
	struct sbuf cmd = SBUF_INIT;
	struct sbuf line = SBUF_INIT;
	char buf[PATH_MAX];
	FILE *fp;

	sbuf_addf(&cmd, "cd '%s' && git %s 2>/dev/null", at(dir), args);
	fp = popen(cmd.buf, "r");
	assert_non_null(fp);
	if (fgets(buf, sizeof(buf), fp))
		sbuf_addstr(&line, buf);
	assert_int_equal(0, pclose(fp));
	sbuf_rtrim(&line);
	sbuf_release(&cmd);
	return sbuf_detach(&line);
}

static void assert_git_says(const char *expect, const char *dir,
			    const char *args)
{
	char *got = git_says(dir, args);

	assert_string_equal(expect, got);
	free(got);
}

static struct wt_repo *open_ok(const char *rel)
{
	struct error err = ERROR_INIT;
	struct wt_repo *repo = NULL;
	int ret = wt_open(&repo, rel ? at(rel) : NULL, &err);

	if (ret)
		fail_msg("wt_open(%s): %d %s", rel ? rel : "NULL", ret,
			 err.msg);
	assert_non_null(repo);
	return repo;
}

static void assert_path(const char *rel, const char *got)
{
	if (!rel) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(at(rel), got);
}

static void assert_repo(const struct wt_repo *repo, const char *name,
			const char *path, const char *gitdir,
			const char *commondir, const char *main_path, bool bare)
{
	if (name)
		assert_string_equal(name, repo->name);
	else
		assert_null(repo->name);
	assert_path(path, repo->path);
	assert_path(gitdir, repo->gitdir);
	assert_path(commondir, repo->commondir);
	assert_path(main_path, repo->main_path);
	assert_int_equal(bare, repo->bare);
}

static enum wt_state state_of(const struct wt_repo *repo, const char *name)
{
	struct error err = ERROR_INIT;
	enum wt_state state = WT_ALIVE;
	int ret = wt_state(&state, repo, name, &err);

	if (ret)
		fail_msg("wt_state(%s): %d %s", name, ret, err.msg);
	return state;
}

static void assert_registry(const struct wt_repo *repo, const char *rel)
{
	char *path = wt_default_registry(repo);

	assert_string_equal(at(rel), path);
	free(path);
}

/* Run in a directory, then come back: wt_open(NULL) uses the cwd. */
static void enter(const char *rel)
{
	assert_int_equal(0, chdir(at(rel)));
}

static void leave(void)
{
	assert_int_equal(0, chdir(saved_cwd));
}

static void new_repo(const char *name)
{
	sh("git init -q '%s' && git -C '%s' commit -q --allow-empty -m init",
	   name, name);
}

static void test_fast_layouts_do_not_start_libgit2(void **state UNUSED)
{
	struct wt_info info = { 0 };
	struct wt_repo *repo;

	new_repo("fast");
	sh("git -C fast worktree add -q ../fast-wt && "
	   "mkdir -p fast/sub fast-wt/sub");
	sh("git clone -q --bare fast fast-bare.git && "
	   "git -C fast-bare.git worktree add -q ../fast-bare-wt");
	sh("git init -q --separate-git-dir=fast-sep.git fast-sep && "
	   "git -C fast-sep commit -q --allow-empty -m init && "
	   "git -C fast-sep worktree add -q ../fast-sep-wt");

	repo = open_ok("fast/sub");
	assert_repo(repo, WT_MAIN_NAME, "fast", "fast/.git", "fast/.git",
		    "fast", false);
	assert_int_equal(WT_ALIVE, state_of(repo, WT_MAIN_NAME));
	assert_int_equal(WT_ALIVE, state_of(repo, "fast-wt"));
	assert_int_equal(0, wt_lookup(&info, repo, WT_MAIN_NAME, NULL));
	assert_path("fast", info.path);
	wt_info_release(&info);
	wt_free(repo);

	repo = open_ok("fast-wt/sub");
	assert_repo(repo, "fast-wt", "fast-wt", "fast/.git/worktrees/fast-wt",
		    "fast/.git", "fast", false);
	assert_int_equal(WT_ALIVE, state_of(repo, "fast-wt"));
	wt_free(repo);

	/* what a post-checkout hook in a linked worktree sees */
	setenv("GIT_DIR", at("fast/.git/worktrees/fast-wt"), 1);
	repo = open_ok("fast-wt");
	unsetenv("GIT_DIR");
	assert_repo(repo, "fast-wt", "fast-wt", "fast/.git/worktrees/fast-wt",
		    "fast/.git", "fast", false);
	wt_free(repo);

	repo = open_ok("fast-bare-wt");
	assert_repo(repo, "fast-bare-wt", "fast-bare-wt",
		    "fast-bare.git/worktrees/fast-bare-wt", "fast-bare.git",
		    NULL, true);
	assert_int_equal(WT_ALIVE, state_of(repo, "fast-bare-wt"));
	wt_free(repo);

	repo = open_ok("fast-sep-wt");
	assert_repo(repo, "fast-sep-wt", "fast-sep-wt",
		    "fast-sep.git/worktrees/fast-sep-wt", "fast-sep.git", NULL,
		    false);
	wt_free(repo);

	assert_false(wt_libgit2_started());
}

static void test_main_from_top(void **state UNUSED)
{
	struct wt_repo *repo = open_ok("m");

	assert_repo(repo, WT_MAIN_NAME, "m", "m/.git", "m/.git", "m", false);
	assert_registry(repo, "m/design/worktrees/ports.json");
	wt_free(repo);
}

static void test_main_from_subdirectory_and_cwd(void **state UNUSED)
{
	struct wt_repo *repo;

	enter("m/a/b");
	repo = open_ok(NULL);
	leave();
	assert_repo(repo, WT_MAIN_NAME, "m", "m/.git", "m/.git", "m", false);
	wt_free(repo);
	assert_git_says(at("m"), "m/a/b", "rev-parse --show-toplevel");
}

static void test_linked_from_subdirectory(void **state UNUSED)
{
	struct wt_repo *repo = open_ok("l1/x/y");

	assert_repo(repo, "l1", "l1", "m/.git/worktrees/l1", "m/.git", "m",
		    false);
	assert_registry(repo, "m/design/worktrees/ports.json");
	assert_git_says(repo->path, "l1/x/y", "rev-parse --show-toplevel");
	assert_git_says(repo->gitdir, "l1/x/y", "rev-parse --absolute-git-dir");
	assert_git_says(repo->commondir, "l1/x/y",
			"rev-parse --path-format=absolute --git-common-dir");
	wt_free(repo);
}

static void test_symlinked_paths_are_canonical(void **state UNUSED)
{
	struct wt_repo *repo;

	sh("ln -s m link-m && ln -s l1 link-l1");
	repo = open_ok("link-m/a");
	assert_repo(repo, WT_MAIN_NAME, "m", "m/.git", "m/.git", "m", false);
	wt_free(repo);
	repo = open_ok("link-l1/x");
	assert_repo(repo, "l1", "l1", "m/.git/worktrees/l1", "m/.git", "m",
		    false);
	wt_free(repo);
}

static void test_not_a_repository(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct wt_repo *repo = (struct wt_repo *)&err;

	sh("mkdir -p plain/deep");
	assert_int_equal(ERR_NOREPO, wt_open(&repo, at("plain/deep"), &err));
	assert_null(repo);
	assert_int_equal(ERR_NOREPO, err.code);
	assert_string_equal("not a git repository (or any parent up to '/')",
			    err.msg);
	assert_string_equal(
		"run the command inside a worktree, or use -C <path>",
		err.hint);
}

static void test_missing_directory(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct wt_repo *repo = NULL;

	assert_int_equal(ERR_FAIL, wt_open(&repo, at("no/such/dir"), &err));
	assert_null(repo);
	assert_non_null(strstr(err.msg, "no/such/dir"));
}

static void test_pruned_worktree_is_no_repository(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct wt_repo *repo = NULL;

	new_repo("pr");
	sh("git -C pr worktree add -q ../pr-wt && "
	   "rm -rf pr/.git/worktrees/pr-wt");
	assert_int_equal(ERR_NOREPO, wt_open(&repo, at("pr-wt"), &err));
	assert_null(repo);
	assert_string_equal(at("pr-wt/.git"), err.file);
	assert_non_null(strstr(err.msg, "not a git repository"));
	assert_non_null(strstr(err.msg, "pr/.git/worktrees/pr-wt"));
}

static void test_invalid_gitfile(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct wt_repo *repo = NULL;

	sh("mkdir -p badgit && echo nonsense >badgit/.git");
	assert_int_equal(ERR_NOREPO, wt_open(&repo, at("badgit"), &err));
	assert_string_equal("invalid gitfile format", err.msg);
}

static void test_separate_git_dir(void **state UNUSED)
{
	struct wt_list list = WT_LIST_INIT;
	char expect[PATH_MAX + 16];
	struct wt_repo *repo;

	sh("git init -q --separate-git-dir=sep.git sepwt && "
	   "git -C sepwt commit -q --allow-empty -m init");
	sh("git -C sepwt worktree add -q ../sepl && mkdir -p sepwt/sub");

	/* git itself cannot tell where the main worktree is from 'sepl' */
	snprintf(expect, sizeof(expect), "worktree %s", at("sep.git"));
	assert_git_says(expect, "sepl", "worktree list --porcelain");

	repo = open_ok("sepwt/sub");
	assert_repo(repo, WT_MAIN_NAME, "sepwt", "sep.git", "sep.git", NULL,
		    false);
	assert_registry(repo, "sep.git/worktree-ports/ports.json");
	assert_int_equal(WT_ALIVE, state_of(repo, WT_MAIN_NAME));
	assert_int_equal(0, wt_list(&list, repo, NULL));
	assert_int_equal(2, list.nr);
	assert_string_equal(WT_MAIN_NAME, list.items[0].name);
	assert_path("sepwt", list.items[0].path);
	assert_string_equal("sepl", list.items[1].name);
	assert_path("sepl", list.items[1].path);
	wt_list_release(&list);
	wt_free(repo);

	repo = open_ok("sepl");
	assert_repo(repo, "sepl", "sepl", "sep.git/worktrees/sepl", "sep.git",
		    NULL, false);
	assert_registry(repo, "sep.git/worktree-ports/ports.json");
	assert_int_equal(WT_ALIVE, state_of(repo, "sepl"));
	wt_free(repo);
}

static void make_bare(void)
{
	static bool made;

	if (made)
		return;
	made = true;
	new_repo("bsrc");
	sh("git clone -q --bare bsrc bare.git && "
	   "git -C bare.git worktree add -q ../bw1 && mkdir -p bw1/sub");
}

static void test_bare_from_linked_worktree(void **state UNUSED)
{
	struct wt_list list = WT_LIST_INIT;
	struct wt_info info = { 0 };
	struct error err = ERROR_INIT;
	struct wt_repo *repo;

	make_bare();
	repo = open_ok("bw1/sub");
	assert_repo(repo, "bw1", "bw1", "bare.git/worktrees/bw1", "bare.git",
		    NULL, true);
	assert_registry(repo, "bare.git/worktree-ports/ports.json");
	assert_int_equal(WT_GONE, state_of(repo, WT_MAIN_NAME));
	assert_int_equal(WT_ALIVE, state_of(repo, "bw1"));
	assert_int_equal(0, wt_list(&list, repo, NULL));
	assert_int_equal(1, list.nr);
	assert_string_equal("bw1", list.items[0].name);
	assert_path("bw1", list.items[0].path);
	assert_false(list.items[0].is_main);
	wt_list_release(&list);
	assert_int_equal(ERR_NOTFOUND,
			 wt_lookup(&info, repo, WT_MAIN_NAME, &err));
	wt_info_release(&info);
	wt_free(repo);
}

static void test_bare_repository_itself(void **state UNUSED)
{
	struct wt_list list = WT_LIST_INIT;
	struct wt_repo *repo;

	make_bare();
	repo = open_ok("bare.git");
	assert_repo(repo, NULL, NULL, "bare.git", "bare.git", NULL, true);
	assert_registry(repo, "bare.git/worktree-ports/ports.json");
	assert_int_equal(0, wt_list(&list, repo, NULL));
	assert_int_equal(1, list.nr);
	assert_string_equal("bw1", list.items[0].name);
	wt_list_release(&list);
	wt_free(repo);

	repo = open_ok("bare.git/refs/heads");
	assert_repo(repo, NULL, NULL, "bare.git", "bare.git", NULL, true);
	wt_free(repo);
}

static void test_state_removed_worktree_is_gone(void **state UNUSED)
{
	struct wt_repo *repo;

	new_repo("st");
	sh("git -C st worktree add -q ../st-rm");
	repo = open_ok("st");
	assert_int_equal(WT_ALIVE, state_of(repo, WT_MAIN_NAME));
	assert_int_equal(WT_ALIVE, state_of(repo, "st-rm"));
	sh("git -C st worktree remove st-rm");
	/* one handle, one reading: what it knew stays until forgotten */
	assert_int_equal(WT_ALIVE, state_of(repo, "st-rm"));
	wt_forget(repo);
	assert_int_equal(WT_GONE, state_of(repo, "st-rm"));
	assert_int_equal(WT_GONE, state_of(repo, "never-existed"));
	wt_free(repo);
}

static void test_state_deleted_folder_is_gone(void **state UNUSED)
{
	struct wt_repo *repo;

	new_repo("sd");
	sh("git -C sd worktree add -q ../sd-del && rm -rf sd-del");
	repo = open_ok("sd");
	assert_int_equal(WT_GONE, state_of(repo, "sd-del"));
	sh("git -C sd worktree prune");
	assert_int_equal(WT_GONE, state_of(repo, "sd-del"));
	wt_free(repo);
}

static void test_state_locked_worktree_keeps(void **state UNUSED)
{
	struct wt_repo *repo;

	new_repo("sl");
	sh("git -C sl worktree add -q --lock ../sl-lock");
	repo = open_ok("sl");
	assert_int_equal(WT_LOCKED, state_of(repo, "sl-lock"));
	sh("rm -rf sl-lock");
	wt_forget(repo);
	assert_int_equal(WT_LOCKED, state_of(repo, "sl-lock"));
	sh("git -C sl worktree prune");
	wt_forget(repo);
	assert_int_equal(WT_LOCKED, state_of(repo, "sl-lock"));
	sh("git -C sl worktree unlock sl-lock");
	wt_forget(repo);
	assert_int_equal(WT_GONE, state_of(repo, "sl-lock"));
	wt_free(repo);
}

static void test_state_path_follows_a_move(void **state UNUSED)
{
	enum wt_state st = WT_GONE;
	struct error err = ERROR_INIT;
	struct wt_repo *repo;
	char *top = NULL;

	new_repo("sm");
	sh("git -C sm worktree add -q ../sm-a && mkdir sm-dir");
	repo = open_ok("sm");
	assert_int_equal(0, wt_state_path(&st, &top, repo, "sm-a", &err));
	assert_int_equal(WT_ALIVE, st);
	assert_string_equal(at("sm-a"), top);
	free(top);
	sh("git -C sm worktree move ../sm-a ../sm-dir/b");
	wt_forget(repo);
	assert_int_equal(0, wt_state_path(&st, &top, repo, "sm-a", &err));
	assert_int_equal(WT_ALIVE, st);
	assert_string_equal(at("sm-dir/b"), top);
	free(top);
	assert_int_equal(0, wt_state_path(&st, &top, repo, WT_MAIN_NAME, &err));
	assert_string_equal(at("sm"), top);
	free(top);
	sh("git -C sm worktree lock ../sm-dir/b");
	wt_forget(repo);
	assert_int_equal(0, wt_state_path(&st, &top, repo, "sm-a", &err));
	assert_int_equal(WT_LOCKED, st);
	assert_null(top);
	wt_free(repo);
}

static void test_state_rejects_names_that_climb(void **state UNUSED)
{
	static const char *bad[] = { "", ".", "..", "a/b", "../m", "/" };
	struct wt_repo *repo = open_ok("m");
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct error err = ERROR_INIT;
		enum wt_state st = WT_ALIVE;

		assert_int_equal(ERR_NOTFOUND,
				 wt_state(&st, repo, bad[i], &err));
		assert_int_equal(ERR_NOTFOUND, err.code);
	}
	wt_free(repo);
}

static void test_list_all_worktrees(void **state UNUSED)
{
	struct wt_list list = WT_LIST_INIT;
	struct wt_repo *repo;

	new_repo("ls");
	sh("git -C ls worktree add -q ../ls-b && "
	   "git -C ls worktree add -q ../ls-a");
	sh("git -C ls worktree add -q --lock ../ls-c && "
	   "git -C ls worktree add -q ../ls-d && rm -rf ls-d");
	repo = open_ok("ls-a");
	assert_int_equal(0, wt_list(&list, repo, NULL));
	assert_int_equal(5, list.nr);

	assert_string_equal(WT_MAIN_NAME, list.items[0].name);
	assert_path("ls", list.items[0].path);
	assert_true(list.items[0].is_main);
	assert_true(list.items[0].valid);

	assert_string_equal("ls-a", list.items[1].name);
	assert_path("ls-a", list.items[1].path);
	assert_false(list.items[1].is_main);
	assert_false(list.items[1].locked);
	assert_true(list.items[1].valid);

	assert_string_equal("ls-b", list.items[2].name);
	assert_path("ls-b", list.items[2].path);

	assert_string_equal("ls-c", list.items[3].name);
	assert_true(list.items[3].locked);
	assert_true(list.items[3].valid);

	assert_string_equal("ls-d", list.items[4].name);
	assert_path("ls-d", list.items[4].path);
	assert_false(list.items[4].valid);
	wt_list_release(&list);
	wt_list_release(&list);
	wt_free(repo);
}

static void test_lookup(void **state UNUSED)
{
	struct wt_info info = { 0 };
	struct error err = ERROR_INIT;
	struct wt_repo *repo = open_ok("l1");

	assert_int_equal(0, wt_lookup(&info, repo, WT_MAIN_NAME, NULL));
	assert_string_equal(WT_MAIN_NAME, info.name);
	assert_path("m", info.path);
	assert_true(info.is_main);
	wt_info_release(&info);

	assert_int_equal(0, wt_lookup(&info, repo, "l1", NULL));
	assert_string_equal("l1", info.name);
	assert_path("l1", info.path);
	assert_false(info.is_main);
	assert_true(info.valid);
	wt_info_release(&info);

	assert_int_equal(ERR_NOTFOUND, wt_lookup(&info, repo, "nope", &err));
	assert_string_equal("no worktree 'nope'", err.msg);
	assert_string_equal("see 'git worktree list'", err.hint);
	wt_info_release(&info);

	error_clear(&err);
	assert_int_equal(ERR_NOTFOUND, wt_lookup(&info, repo, "..", &err));
	wt_free(repo);
}

static void test_git_dir_and_work_tree(void **state UNUSED)
{
	struct wt_repo *repo;

	setenv("GIT_DIR", at("m/.git"), 1);
	setenv("GIT_WORK_TREE", at("m"), 1);
	repo = open_ok("plain");
	assert_repo(repo, WT_MAIN_NAME, "m", "m/.git", "m/.git", "m", false);
	wt_free(repo);

	/* relative values are taken from the current directory */
	enter("");
	setenv("GIT_DIR", "m/.git/worktrees/l1", 1);
	setenv("GIT_WORK_TREE", "l1", 1);
	repo = open_ok(NULL);
	leave();
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	assert_repo(repo, "l1", "l1", "m/.git/worktrees/l1", "m/.git", "m",
		    false);
	wt_free(repo);
}

static void test_git_dir_alone(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct wt_repo *repo = NULL;

	/* the search from the directory finds the same git dir */
	setenv("GIT_DIR", at("m/.git/worktrees/l1"), 1);
	repo = open_ok("l1/x");
	assert_repo(repo, "l1", "l1", "m/.git/worktrees/l1", "m/.git", "m",
		    false);
	wt_free(repo);

	/* it does not: libgit2 applies $GIT_DIR */
	setenv("GIT_DIR", at("m/.git"), 1);
	repo = open_ok("plain");
	assert_repo(repo, WT_MAIN_NAME, "m", "m/.git", "m/.git", "m", false);
	wt_free(repo);

	setenv("GIT_DIR", at("no-such.git"), 1);
	assert_int_equal(ERR_NOREPO, wt_open(&repo, at("plain"), &err));
	assert_null(repo);
	unsetenv("GIT_DIR");
}

/* Apply the environment a hook saw, open, and put ours back. */
static struct wt_repo *open_as_hook(const char *cwd, char *env)
{
	char *names[64];
	char *old[64];
	size_t nr = 0, i;
	char *line, *next, *eq;
	struct wt_repo *repo;

	for (line = env; *line; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		eq = strchr(line, '=');
		assert_non_null(eq);
		*eq = '\0';
		assert_true(nr < ARRAY_SIZE(names));
		names[nr] = line;
		old[nr++] = xstrdup_or_null(getenv(line));
		setenv(line, eq + 1, 1);
	}
	assert_int_equal(0, chdir(cwd));
	repo = open_ok(NULL);
	leave();
	for (i = 0; i < nr; i++) {
		if (old[i])
			setenv(names[i], old[i], 1);
		else
			unsetenv(names[i]);
		free(old[i]);
	}
	return repo;
}

static void test_post_checkout_hook_environment(void **state UNUSED)
{
	struct sbuf log = SBUF_INIT;
	const char *names[] = { "hkw", WT_MAIN_NAME, "hkw" };
	const char *paths[] = { "hkw", "hk", "hkw" };
	char *p, *end, *cwd, *env;
	size_t n = 0;

	new_repo("hk");
	sh("printf '%%s\\n' '#!/bin/sh' 'echo \"cwd=$PWD\" >>\"%s\"' "
	   "'env | grep ^GIT_ >>\"%s\"' 'echo -- >>\"%s\"' "
	   ">hk/.git/hooks/post-checkout && "
	   "chmod +x hk/.git/hooks/post-checkout",
	   at("hook.log"), at("hook.log"), at("hook.log"));
	/* git worktree add, a checkout in main, one in the linked worktree */
	sh("git -C hk worktree add -q ../hkw");
	sh("git -C hk checkout -q -b topic");
	sh("cd hkw && git checkout -q -b other");
	assert_int_equal(0, sbuf_read_file(&log, at("hook.log")));
	/* git sets $GIT_DIR, not $GIT_WORK_TREE, in a linked worktree */
	assert_non_null(strstr(log.buf, "GIT_DIR="));

	for (p = log.buf; (end = strstr(p, "--\n")); p = end + 3) {
		struct wt_repo *repo;

		*end = '\0';
		assert_true(n < ARRAY_SIZE(names));
		assert_int_equal(0, strncmp(p, "cwd=", 4));
		cwd = p + 4;
		env = strchr(cwd, '\n');
		*env++ = '\0';
		repo = open_as_hook(cwd, env);
		assert_string_equal(names[n], repo->name);
		assert_path(paths[n], repo->path);
		assert_path("hk", repo->main_path);
		assert_path("hk/.git", repo->commondir);
		wt_free(repo);
		n++;
	}
	assert_int_equal(3, n);
	assert_null(getenv("GIT_DIR"));
	sbuf_release(&log);
}

static void test_configs_only_libgit2_reads(void **state UNUSED)
{
	struct wt_repo *repo;

	/* an include: the config may say anything */
	new_repo("inc");
	sh("printf '[core]\\n\\tbare = false\\n' >inc/.git/extra && "
	   "git -C inc config include.path extra");
	repo = open_ok("inc");
	assert_repo(repo, WT_MAIN_NAME, "inc", "inc/.git", "inc/.git", "inc",
		    false);
	wt_free(repo);

	/* core.worktree: the work tree is somewhere else */
	new_repo("cw");
	sh("mkdir cwtop && git -C cw config core.worktree '%s'", at("cwtop"));
	repo = open_ok("cw");
	assert_repo(repo, WT_MAIN_NAME, "cwtop", "cw/.git", "cw/.git", "cwtop",
		    false);
	assert_git_says(repo->path, "cw", "rev-parse --show-toplevel");
	wt_free(repo);
	assert_true(wt_libgit2_started());
}

static int collect(const char *key, const char *value, void *payload)
{
	sbuf_addf(payload, "%s=%s\n", key, value ? value : "(none)");
	return 0;
}

/* What wt_config_cmdline() reads from 'env' as $GIT_CONFIG_PARAMETERS. */
static char *cmdline_items(const char *env, int expect_ret)
{
	struct error err = ERROR_INIT;
	struct sbuf got = SBUF_INIT;
	int ret;

	setenv("GIT_CONFIG_PARAMETERS", env, 1);
	ret = wt_config_cmdline(collect, &got, &err);
	unsetenv("GIT_CONFIG_PARAMETERS");
	if (ret != expect_ret)
		fail_msg("'%s': %d (%s), want %d", env, ret, err.msg,
			 expect_ret);
	return sbuf_detach(&got);
}

static void assert_items(const char *expect, const char *env)
{
	char *got = cmdline_items(env, 0);

	assert_string_equal(expect, got);
	free(got);
}

static void test_config_cmdline_as_git_writes_it(void **state UNUSED)
{
	char *env = git_says("", "-c alias.penv='!printenv GIT_CONFIG_PARAMETERS' "
				 "-c \"A.Sub.KEY=it's  '!' x\" -c a.b -c a.c= "
				 "-c Core.HooksPath=hooks penv");

	assert_items("alias.penv=!printenv GIT_CONFIG_PARAMETERS\n"
		     "a.Sub.key=it's  '!' x\n"
		     "a.b=(none)\n"
		     "a.c=\n"
		     "core.hookspath=hooks\n",
		     env);
	free(env);

	/* what git before 2.31 wrote, and blanks between items */
	assert_items("a.b=x\nc.d=(none)\ne.f= y\n",
		     "'A.b=x'  'c.D'\t' e.f = y'");
	assert_items("", "");
}

static void test_config_cmdline_rejects_what_git_rejects(void **state UNUSED)
{
	static const char *bogus[] = { "'a.b=x", "'a.b'x", "'a.b'='x'y",
				       "'a.b'=x", "a.b=x", "'a.b'\\'" };
	static const char *bad_key[] = { "'nodot=x'", "'.b=x'", "'a.=x'",
					 "'a.1b'='x'", "'a_b.c=x'", "'=x'",
					 "''" };
	struct error err = ERROR_INIT;
	struct sbuf got = SBUF_INIT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bogus); i++)
		free(cmdline_items(bogus[i], ERR_USAGE));
	for (i = 0; i < ARRAY_SIZE(bad_key); i++)
		free(cmdline_items(bad_key[i], ERR_USAGE));

	setenv("GIT_CONFIG_COUNT", "2", 1);
	setenv("GIT_CONFIG_KEY_0", "x.Y", 1);
	setenv("GIT_CONFIG_VALUE_0", "0", 1);
	setenv("GIT_CONFIG_KEY_1", "x.z", 1);
	assert_int_equal(ERR_USAGE, wt_config_cmdline(collect, &got, &err));
	assert_string_equal("missing config value GIT_CONFIG_VALUE_1", err.msg);
	setenv("GIT_CONFIG_VALUE_1", "1", 1);
	setenv("GIT_CONFIG_PARAMETERS", "'x.y'='2'", 1);
	sbuf_reset(&got);
	error_clear(&err);
	assert_int_equal(0, wt_config_cmdline(collect, &got, &err));
	assert_string_equal("x.y=0\nx.z=1\nx.y=2\n", got.buf);
	unsetenv("GIT_CONFIG_COUNT");
	unsetenv("GIT_CONFIG_PARAMETERS");
	sbuf_release(&got);
}

static void test_config_cmdline_beats_the_files(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct wt_repo *repo;
	char *value;

	new_repo("cfg");
	sh("git -C cfg config worktree-ports.registry repo.json");
	repo = open_ok("cfg");
	assert_int_equal(0, wt_config_get(&value, repo,
					  "worktree-ports.registry", &err));
	assert_string_equal("repo.json", value);
	free(value);
	setenv("GIT_CONFIG_PARAMETERS",
	       "'worktree-ports.registry'='cli.json'", 1);
	assert_int_equal(0, wt_config_get(&value, repo,
					  "worktree-ports.registry", &err));
	assert_string_equal("cli.json", value);
	free(value);
	setenv("GIT_CONFIG_PARAMETERS", "'worktree-ports.registry'=", 1);
	assert_int_equal(ERR_USAGE,
			 wt_config_get(&value, repo, "worktree-ports.registry",
				       &err));
	assert_null(value);
	unsetenv("GIT_CONFIG_PARAMETERS");
	wt_free(repo);
}

/*
 * wt_open(rel) as if another user owned everything (git's own test knob,
 * so no second user is needed): the code, and the message if refused.
 */
static int open_as_stranger(const char *rel, char **msg)
{
	struct error err = ERROR_INIT;
	struct wt_repo *repo = NULL;
	int ret;

	setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "true", 1);
	ret = wt_open(&repo, at(rel), &err);
	unsetenv("GIT_TEST_ASSUME_DIFFERENT_OWNER");
	wt_free(repo);
	if (msg)
		*msg = ret ? xstrdup(err.msg) : NULL;
	return ret;
}

static void assert_dubious(const char *rel, const char *top)
{
	struct sbuf expect = SBUF_INIT;
	char *msg;

	sbuf_addf(&expect, "detected dubious ownership in repository at '%s'",
		  at(top));
	assert_int_equal(ERR_NOREPO, open_as_stranger(rel, &msg));
	assert_string_equal(expect.buf, msg);
	free(msg);
	sbuf_release(&expect);
}

static void test_ownership_needs_safe_directory(void **state UNUSED)
{
	make_bare();
	/* fast path, linked worktree, and libgit2's (inside a git dir) */
	assert_dubious("m/a", "m");
	assert_dubious("l1/x", "l1");
	assert_dubious("bw1/sub", "bw1");
	assert_dubious("bare.git/refs", "bare.git");
	assert_dubious("m/.git/refs", "m/.git");

	setenv("GIT_CONFIG_PARAMETERS", "'safe.directory'='*'", 1);
	assert_int_equal(0, open_as_stranger("bare.git/refs", NULL));
	assert_int_equal(0, open_as_stranger("l1/x", NULL));
	setenv("GIT_CONFIG_PARAMETERS", "'safe.directory=~/m'", 1);
	assert_int_equal(0, open_as_stranger("m/a/b", NULL));
	assert_dubious("l1", "l1");
	assert_dubious("m/.git", "m/.git");
	unsetenv("GIT_CONFIG_PARAMETERS");
	/* without the knob, the files belong to the user running */
	wt_free(open_ok("m/a"));
}

static void test_ownership_config_order(void **state UNUSED)
{
	sh("printf '[safe]\\n\\tdirectory = *\\n' >global-safe && "
	   "printf '[include]\\n\\tpath = global-safe\\n' >global-inc && "
	   "printf '[safe]\\n\\tdirectory = *\\n\\tdirectory\\n' "
	   ">global-reset");

	/* global file first, then the command line, each able to reset */
	setenv("GIT_CONFIG_GLOBAL", at("global-safe"), 1);
	assert_int_equal(0, open_as_stranger("m", NULL));
	setenv("GIT_CONFIG_PARAMETERS", "'safe.directory'=''", 1);
	assert_dubious("m", "m");
	setenv("GIT_CONFIG_PARAMETERS", "'safe.directory'='' 'safe.directory'='*'",
	       1);
	assert_int_equal(0, open_as_stranger("m", NULL));
	unsetenv("GIT_CONFIG_PARAMETERS");

	/* in a file, too, a later empty value forgets the earlier ones */
	setenv("GIT_CONFIG_GLOBAL", at("global-reset"), 1);
	assert_dubious("m", "m");

	/* an include is followed; the system file counts too */
	setenv("GIT_CONFIG_GLOBAL", at("global-inc"), 1);
	assert_int_equal(0, open_as_stranger("m", NULL));
	setenv("GIT_CONFIG_GLOBAL", at("no-such-file"), 1);
	assert_dubious("m", "m");
	setenv("GIT_CONFIG_SYSTEM", at("global-safe"), 1);
	assert_dubious("m", "m");
	unsetenv("GIT_CONFIG_NOSYSTEM");
	assert_int_equal(0, open_as_stranger("m", NULL));
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	unsetenv("GIT_CONFIG_SYSTEM");
	unsetenv("GIT_CONFIG_GLOBAL");

	/* the repository's own config is not asked */
	sh("git -C m config safe.directory '*'");
	assert_dubious("m", "m");
	sh("git -C m config --unset safe.directory");
}

static void test_release_accepts_empty(void **state UNUSED)
{
	struct wt_list list = WT_LIST_INIT;
	struct wt_info info = { 0 };

	wt_free(NULL);
	wt_list_release(&list);
	wt_list_release(NULL);
	wt_info_release(&info);
	wt_info_release(NULL);
	wt_shutdown();
	wt_shutdown();
}

static int setup(void **state UNUSED)
{
	static const char *unset[] = { "GIT_DIR",
				       "GIT_WORK_TREE",
				       "GIT_COMMON_DIR",
				       "GIT_INDEX_FILE",
				       "GIT_OBJECT_DIRECTORY",
				       "GIT_CEILING_DIRECTORIES",
				       "GIT_NAMESPACE",
				       "GIT_CONFIG_PARAMETERS",
				       "GIT_CONFIG_COUNT",
				       "GIT_CONFIG_GLOBAL",
				       "GIT_CONFIG_SYSTEM",
				       "XDG_CONFIG_HOME",
				       "GIT_PREFIX" };
	const char *tmp = getenv("TMPDIR");
	char tmpl[PATH_MAX];
	size_t i;

	snprintf(tmpl, sizeof(tmpl), "%s/test-wt.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(tmpl) || !realpath(tmpl, root) ||
	    !getcwd(saved_cwd, sizeof(saved_cwd)))
		return -1;
	for (i = 0; i < ARRAY_SIZE(unset); i++)
		unsetenv(unset[i]);
	setenv("HOME", root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	sh("printf '[user]\\n\\tname = T\\n\\temail = t@example.com\\n"
	   "[init]\\n\\tdefaultBranch = main\\n' >.gitconfig");
	new_repo("m");
	sh("mkdir -p m/a/b plain && git -C m worktree add -q ../l1 && "
	   "mkdir -p l1/x/y");
	return 0;
}

static int teardown(void **state UNUSED)
{
	struct sbuf cmd = SBUF_INIT;
	int rc;

	wt_shutdown();
	unit_at_release();
	if (chdir(saved_cwd) < 0)
		return -1;
	sbuf_addf(&cmd, "rm -rf '%s'", root);
	rc = system(cmd.buf);
	sbuf_release(&cmd);
	return rc ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: nothing may have started libgit2 before it */
		cmocka_unit_test(test_fast_layouts_do_not_start_libgit2),
		cmocka_unit_test(test_main_from_top),
		cmocka_unit_test(test_main_from_subdirectory_and_cwd),
		cmocka_unit_test(test_linked_from_subdirectory),
		cmocka_unit_test(test_symlinked_paths_are_canonical),
		cmocka_unit_test(test_not_a_repository),
		cmocka_unit_test(test_missing_directory),
		cmocka_unit_test(test_pruned_worktree_is_no_repository),
		cmocka_unit_test(test_invalid_gitfile),
		cmocka_unit_test(test_separate_git_dir),
		cmocka_unit_test(test_bare_from_linked_worktree),
		cmocka_unit_test(test_bare_repository_itself),
		cmocka_unit_test(test_state_removed_worktree_is_gone),
		cmocka_unit_test(test_state_deleted_folder_is_gone),
		cmocka_unit_test(test_state_locked_worktree_keeps),
		cmocka_unit_test(test_state_path_follows_a_move),
		cmocka_unit_test(test_state_rejects_names_that_climb),
		cmocka_unit_test(test_list_all_worktrees),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_git_dir_and_work_tree),
		cmocka_unit_test(test_git_dir_alone),
		cmocka_unit_test(test_post_checkout_hook_environment),
		cmocka_unit_test(test_configs_only_libgit2_reads),
		cmocka_unit_test(test_config_cmdline_as_git_writes_it),
		cmocka_unit_test(test_config_cmdline_rejects_what_git_rejects),
		cmocka_unit_test(test_config_cmdline_beats_the_files),
		cmocka_unit_test(test_ownership_needs_safe_directory),
		cmocka_unit_test(test_ownership_config_order),
		cmocka_unit_test(test_release_accepts_empty),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
