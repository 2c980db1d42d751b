#include "common.h"
#include "builtin.h"
#include "session.h"
#include "actlog.h"
#include "error.h"
#include "jsonw.h"
#include "report.h"
#include "parse-options.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"
#include "wt.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/* The worktree named by 'arg': its git name, or a path to its folder. */
static int resolve(struct wt_info *out, const struct wt_repo *repo,
		   const char *arg, struct error *err)
{
	struct wt_list list = WT_LIST_INIT;
	char real[PATH_MAX];
	size_t i;
	int ret;

	if (!strchr(arg, '/') && !wt_lookup(out, repo, arg, NULL))
		return 0;
	if (!realpath(arg, real))
		goto unknown;
	ret = wt_list(&list, repo, err);
	if (ret < 0)
		return ret;
	for (i = 0; i < list.nr; i++) {
		if (!list.items[i].path || strcmp(list.items[i].path, real))
			continue;
		ret = wt_lookup(out, repo, list.items[i].name, err);
		wt_list_release(&list);
		return ret;
	}
	wt_list_release(&list);
unknown:
	ret = error_set(err, ERR_NOTFOUND, NULL, 0, NULL,
			"'%s' is not a worktree of this repository", arg);
	error_hint(err, "name it by its git name or its folder; see 'git worktree list'");
	return ret;
}

/* Run 'git worktree remove [--force] PATH'; git prints its own errors. */
static int git_worktree_remove(const char *path, bool force, struct error *err)
{
	const char *argv[6];
	int n = 0, status;
	pid_t pid;

	argv[n++] = "git";
	argv[n++] = "worktree";
	argv[n++] = "remove";
	if (force)
		argv[n++] = "--force";
	argv[n++] = path;
	argv[n] = NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return error_errno(err, NULL, "cannot start git");
	if (!pid) {
		execvp("git", (char *const *)argv);
		fprintf(stderr, "error: cannot run git: %s\n", strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return error_errno(err, NULL, "cannot wait for git");
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return 0;
	error_set(err, ERR_FAIL, NULL, 0, NULL,
		  "'git worktree remove' refused to remove '%s'; its ports are kept",
		  path);
	if (!force)
		error_hint(err, "see git's message above; --force removes a worktree with changes");
	else
		error_hint(err, "see git's message above; a locked worktree must be unlocked first ('git worktree unlock')");
	return ERR_FAIL;
}

static const char *const remove_usage[] = {
	"git worktree-ports remove [--force] <worktree>",
	"",
	"Remove a worktree through 'git worktree remove' (git's own checks apply)",
	"and release its ports. <worktree> is its git name or its folder.",
	NULL,
};

int cmd_remove(int argc, const char **argv, struct global_opts *g,
	       struct error *err)
{
	struct session s = SESSION_INIT;
	struct wt_info wt = { 0 };
	struct released_list done = RELEASED_LIST_INIT;
	struct jsonw w = JSONW_INIT;
	bool force = false;
	struct option options[] = {
		OPT_BOOL(0, "force", &force,
			 "passed to git: remove it even with changes"),
		OPT_END(),
	};
	size_t i;
	int ret;

	argc = cli_parse_options(argc, argv, remove_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (!argc)
		return cli_usage_error(remove_usage, options,
				       "'remove' needs a <worktree>");
	if (argc > 1)
		return cli_usage_error(
			remove_usage, options,
			"'remove' takes one <worktree>, got '%s' too", argv[1]);
	ret = session_open(&s, g->registry, 0, err);
	if (ret < 0)
		goto out;
	ret = resolve(&wt, s.repo, argv[0], err);
	if (ret < 0)
		goto out;
	if (wt.is_main) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"the main worktree cannot be removed");
		goto out;
	}
	if (!wt.path) {
		ret = error_set(err, ERR_NOTFOUND, NULL, 0, NULL,
				"git does not know where worktree '%s' is",
				wt.name);
		error_hint(err, "'git worktree prune' drops it; its ports go with it");
		goto out;
	}
	ret = git_worktree_remove(wt.path, force, err);
	if (ret < 0)
		goto out;
	for (i = s.reg->nr_allocs; i-- > 0;) {
		if (strcmp(s.reg->allocs[i].worktree, wt.name))
			continue;
		released_list_add(&done, &s.reg->allocs[i]);
		registry_remove(s.reg, i);
		s.dirty = true;
	}
	for (i = 0; i < done.nr; i++)
		session_log(&s, "release", wt.name, done.items[i].service,
			    done.items[i].port, ACTLOG_NONE, "worktree removed");
	ret = session_finish(&s, err);
	if (ret < 0)
		goto out;
	if (g->json) {
		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "worktree", wt.name);
		jsonw_string(&w, "path", wt.path);
		jsonw_array_begin(&w, "released");
		for (i = 0; i < done.nr; i++) {
			jsonw_object_begin(&w, NULL);
			report_released(&w, &done.items[i]);
			jsonw_object_end(&w);
		}
		jsonw_array_end(&w);
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
	} else if (!g->quiet) {
		for (i = 0; i < done.nr; i++)
			printf("released port %u ('%s')\n", done.items[i].port,
			       text_printable(done.items[i].service));
		printf("removed worktree '%s' (%s)\n", text_printable(wt.name),
		       text_printable(wt.path));
	}
out:
	jsonw_release(&w);
	released_list_release(&done);
	wt_info_release(&wt);
	session_release(&s);
	return ret;
}
