#include "common.h"
#include "builtin.h"
#include "path.h"
#include "exclude.h"
#include "session.h"
#include "actlog.h"
#include "error.h"
#include "hooks.h"
#include "jsonw.h"
#include "lockfile.h"
#include "parse-options.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"
#include "wt.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef WTP_DATADIR
#define WTP_DATADIR "/usr/local/share/git-worktree-ports"
#endif

/*
 * The registry to start from: the installed example when it is there and
 * valid, else the built-in defaults (which are the same ranges).
 */
static void starting_registry(struct registry **out, const char *path)
{
	struct error ignored = ERROR_INIT;
	struct sbuf text = SBUF_INIT;
	const char *example = WTP_DATADIR "/ports.json.example";

	if (!sbuf_read_file(&text, example) &&
	    !registry_parse(out, text.buf, text.len, path, 0, &ignored)) {
		sbuf_release(&text);
		return;
	}
	sbuf_release(&text);
	registry_new_default(out, path);
}

/*
 * Keep the registry and its temporary copy out of version control, when
 * it lies in the main worktree. Its lock and log are in the common dir
 * (session.h), which git never tracks.
 */
static int exclude_registry(const struct wt_repo *repo, const char *path,
			    struct error *err)
{
	struct sbuf buf[2];
	const char *lines[ARRAY_SIZE(buf)];
	size_t top_len, i;
	int ret;

	if (!repo->main_path)
		return 0;
	if (!path_is_under(path, repo->main_path) ||
	    !strcmp(path, repo->main_path))
		return 0; /* outside the main worktree: nothing to hide */
	top_len = strcmp(repo->main_path, "/") ? strlen(repo->main_path) : 0;
	for (i = 0; i < ARRAY_SIZE(buf); i++)
		sbuf_init(&buf[i]);
	sbuf_addstr(&buf[0], path + top_len);
	sbuf_addf(&buf[1], "%s.new", path + top_len);
	for (i = 0; i < ARRAY_SIZE(buf); i++)
		lines[i] = buf[i].buf;
	ret = exclude_add(repo, lines, ARRAY_SIZE(lines), err);
	for (i = 0; i < ARRAY_SIZE(buf); i++)
		sbuf_release(&buf[i]);
	return ret;
}

/*
 * Install the post-checkout hook. The registry exists by now, so a
 * failure says so: only the hook is missing.
 */
static int install_hook(struct hooks_result *r, const struct session *s,
			struct error *err)
{
	struct error why = ERROR_INIT;
	int ret;

	ret = hooks_setup(r, s->repo, false, &why);
	if (ret < 0) {
		error_set(
			err, why.code, why.file[0] ? why.file : NULL, why.line,
			why.field[0] ? why.field : NULL,
			"%s (the registry was created, the hook was not installed)",
			why.msg);
		if (why.hint[0])
			error_hint(err, "%s", why.hint);
		error_hint(
			err,
			"fix this, then run 'git worktree-ports install-hooks'");
	}
	return ret;
}

/*
 * A hook manager (husky, lefthook, pre-commit) rewrites post-checkout on
 * its next install: say so at once, with the lines that survive it.
 */
static enum hooks_manager say_manager(const struct session *s, bool print)
{
	const char *top = s->repo->main_path ? s->repo->main_path :
					       s->repo->path;
	struct error ignored = ERROR_INIT;
	enum hooks_manager m;
	char *dir = NULL;

	(void)hooks_find_dir(&dir, NULL, s->repo, &ignored);
	m = hooks_manager_of(top, dir, NULL);
	free(dir);
	error_clear(&ignored);

	if (m == HOOKS_MANAGER_NONE || hooks_manager_runs_us(m, top))
		return HOOKS_MANAGER_NONE;
	if (print)
		printf("this repository uses %s, whose next install replaces the hook; so that it runs the ports set-up itself, add to %s:\n%s",
		       hooks_manager_name(m), hooks_manager_config(m),
		       hooks_manager_snippet(m));
	return m;
}

static const char *const init_usage[] = {
	"git worktree-ports init [--force | --reset] [--no-hooks] [--no-sync]",
	"",
	"Create the registry from the example ranges, keep it out of version",
	"control (.git/info/exclude), install the post-checkout hook (see",
	"'git worktree-ports install-hooks -h') and, when the main worktree has a",
	".worktree-ports.ini, give it its ports ('sync'). Run again, it changes",
	"nothing in a registry that is there already.",
	NULL,
};

/* "web 8080-8099, database 5432-5439, ...": what init made. */
static void print_ranges(const struct registry *reg, const char *path)
{
	size_t i;

	printf("ranges:");
	for (i = 0; i < reg->nr_ranges; i++)
		printf("%s %s %u-%u", i ? "," : "",
		       text_printable(reg->ranges[i].name),
		       reg->ranges[i].start, reg->ranges[i].end);
	printf("\nwiden one by editing \"ranges\" in %s, or declare the project's own in .worktree-ports.ini ([range \"NAME\"])\n",
	       text_printable(path));
}

/*
 * The registry init writes over an existing one with --force: the
 * example's ranges and reservations, every allocation carried over.
 */
static void carry_over(struct registry *fresh, const struct registry *old)
{
	size_t i;

	for (i = 0; i < old->nr_allocs; i++)
		registry_add(fresh, &old->allocs[i]);
}

/*
 * 'sync' for the main worktree, as its own process (one command does not
 * call another): what a 'git worktree add' would have done for it.
 */
static int sync_main(const struct wt_repo *repo, const char *registry,
		     bool quiet)
{
	const char *argv[8];
	size_t n = 0;
	int status;
	pid_t pid;

	argv[n++] = "git-worktree-ports";
	argv[n++] = "-C";
	argv[n++] = repo->main_path;
	if (registry) {
		argv[n++] = "--registry";
		argv[n++] = registry;
	}
	if (quiet)
		argv[n++] = "-q";
	argv[n++] = "sync";
	argv[n] = NULL;
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		execv("/proc/self/exe", (char *const *)argv);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int cmd_init(int argc, const char **argv, struct global_opts *g,
	     struct error *err)
{
	struct session s = SESSION_INIT;
	struct hooks_result hook = HOOKS_RESULT_INIT;
	struct registry *reg = NULL, *old = NULL;
	struct stat st;
	bool existed, kept = false;
	bool force = false, reset = false, no_hooks = false, no_sync = false;
	struct option options[] = {
		OPT_BOOL(
			0, "force", &force,
			"rewrite an existing registry with the example's\nranges, keeping its allocations"),
		OPT_BOOL(0, "reset", &reset,
			 "replace an existing registry, or one that does\nnot load; its allocations are lost"),
		OPT_BOOL(0, "no-hooks", &no_hooks,
			 "do not install the post-checkout hook"),
		OPT_BOOL(0, "no-sync", &no_sync,
			 "do not give the main worktree its ports"),
		OPT_END(),
	};
	int ret, excluded = 0;

	argc = cli_parse_options(argc, argv, init_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc)
		return cli_usage_error(init_usage, options,
				       "'init' takes no arguments, got '%s'",
				       argv[0]);
	if (force && reset)
		return cli_usage_error(init_usage, options,
				       "--force and --reset cannot be used together");
	ret = session_open(&s, g->registry, SESSION_NO_LOAD, err);
	if (ret < 0)
		goto out;
	ret = mkdir_parents(s.registry_path, err);
	if (ret < 0)
		goto out;
	ret = session_lock(&s, err);
	if (ret < 0)
		goto out;
	/* a registry git or a hand took away comes back, unless --reset */
	if (!reset) {
		ret = session_restore(&s, err);
		if (ret < 0)
			goto out;
	}
	existed = !lstat(s.registry_path, &st);
	if (existed && !reset) {
		ret = registry_load(&old, s.registry_path, 0, err);
		if (ret < 0) {
			/* never replaced on a guess: the user says --reset */
			error_hint(err, "fix it by hand, or 'git worktree-ports init --reset' to start over (every allocation is lost)");
			goto out;
		}
		kept = !force;
	}
	if (kept) {
		reg = old;
		old = NULL;
	} else {
		char *copy = session_copy_path(&s);

		starting_registry(&reg, s.registry_path);
		if (old)
			carry_over(reg, old);
		ret = registry_save_copy(reg, copy, err);
		free(copy);
		if (ret < 0)
			goto out;
	}
	excluded = exclude_registry(s.repo, s.registry_path, err);
	if (excluded < 0) {
		ret = excluded;
		goto out;
	}
	if (!no_hooks) {
		ret = install_hook(&hook, &s, err);
		if (ret < 0)
			goto out;
	}
	if (g->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "registry", s.registry_path);
		jsonw_string(&w, "registry_action",
			     kept ? "kept" : existed ? "replaced" : "created");
		jsonw_bool(&w, "replaced", existed && !kept);
		jsonw_bool(&w, "excluded", excluded > 0);
		jsonw_string(&w, "hook",
			     no_hooks ? NULL : hooks_action_name(hook.action));
		jsonw_string(&w, "hook_manager",
			     hooks_manager_name(say_manager(&s, false)));
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
		jsonw_release(&w);
	} else if (!g->quiet) {
		if (kept)
			printf("the registry exists already: %s (%zu allocation%s); nothing changed in it\n",
			       text_printable(s.registry_path), reg->nr_allocs,
			       reg->nr_allocs == 1 ? "" : "s");
		else if (existed)
			printf("rewrote %s with the example's ranges, keeping its %zu allocation%s\n",
			       text_printable(s.registry_path), reg->nr_allocs,
			       reg->nr_allocs == 1 ? "" : "s");
		else
			printf("created %s\n", text_printable(s.registry_path));
		if (!kept)
			print_ranges(reg, s.registry_path);
		if (!no_hooks) {
			struct sbuf line = SBUF_INIT;

			hooks_describe(&line, &hook);
			puts(line.buf);
			sbuf_release(&line);
		}
		say_manager(&s, true);
	}
	/* the main worktree's ports, now that there is a registry */
	if (!no_sync && s.repo->main_path && !s.repo->bare) {
		struct sbuf ini = SBUF_INIT;

		sbuf_addf(&ini, "%s/.worktree-ports.ini", s.repo->main_path);
		if (!lstat(ini.buf, &st)) {
			session_unlock(&s);
			if (sync_main(s.repo, s.registry_path, g->quiet || g->json) != 0)
				warning("the main worktree's ports were not all set up; see above, then run 'git worktree-ports sync' there");
		}
		sbuf_release(&ini);
	}
out:
	hooks_result_release(&hook);
	registry_free(reg);
	registry_free(old);
	session_release(&s);
	return ret;
}
