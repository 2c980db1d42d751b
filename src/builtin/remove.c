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
#include "alloc.h"
#include "owner.h"
#include "probe.h"
#include "procstop.h"

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

/* Longest command line quoted in a message; the rest is "...". */
#define COMMAND_SHOWN 60

/* A process listening inside the worktree to remove. */
struct running {
	struct procstop_id id; /* identified when seen */
	char *cmdline;	       /* printable (probe.h) */
	uint16_t *ports;
	size_t nr_ports, alloc_ports;
};

struct running_list {
	struct running *items;
	size_t nr, alloc;
};

static void running_release(struct running_list *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++) {
		free(l->items[i].cmdline);
		free(l->items[i].ports);
	}
	free(l->items);
}

static void add_running(struct running_list *l, const struct probe_proc *p,
			uint16_t port)
{
	struct running *r = NULL;
	size_t i;

	for (i = 0; i < l->nr && !r; i++)
		if (l->items[i].id.pid == p->pid)
			r = &l->items[i];
	if (!r) {
		struct procstop_id id;

		/* identified now, to stop only this very process later */
		if (procstop_identify(&id, p->pid) < 0)
			return; /* it has exited meanwhile */
		ALLOC_GROW(l->items, l->nr + 1, l->alloc);
		r = &l->items[l->nr++];
		memset(r, 0, sizeof(*r));
		r->id = id;
		r->cmdline = xstrdup(p->cmdline);
	}
	for (i = 0; i < r->nr_ports; i++)
		if (r->ports[i] == port)
			return;
	ALLOC_GROW(r->ports, r->nr_ports + 1, r->alloc_ports);
	r->ports[r->nr_ports++] = port;
}

/*
 * The processes listening anywhere whose own directory lies in worktree
 * 'name' (owner.h's rule). When the sockets cannot be read, a warning
 * says so and none are found.
 */
static void find_running(struct running_list *out, const struct session *s,
			 const char *name)
{
	struct owner_map m = OWNER_MAP_INIT;
	struct probe_listener *ls = NULL;
	struct portset *every = xcalloc(1, sizeof(*every));
	struct error e = ERROR_INIT;
	size_t nr = 0, i, k;

	memset(every->bits, 0xff, sizeof(every->bits));
	if (probe_listeners_set(&ls, &nr, every, &e) < 0) {
		warning_error(&e, "cannot tell whether servers run in the worktree");
		goto out;
	}
	if (nr)
		owner_map_add_repo(&m, s);
	for (i = 0; i < nr; i++) {
		for (k = 0; k < ls[i].nr_procs; k++) {
			struct owner_verdict v;

			owner_judge(&v, &m, &ls[i].procs[k]);
			if (v.wt && !v.wt->registry && !v.wt->gone &&
			    !strcmp(v.wt->name, name))
				add_running(out, &ls[i].procs[k], ls[i].port);
		}
	}
out:
	owner_map_release(&m);
	probe_listeners_free(ls, nr);
	free(every);
}

/* "pid 123 (python3 -m http.server) on port 3000, 3001" */
static void add_running_desc(struct sbuf *out, const struct running *r)
{
	size_t i;

	sbuf_addf(out, "pid %ld (", r->id.pid);
	text_add_cut(out, r->cmdline, COMMAND_SHOWN);
	sbuf_addstr(out, r->nr_ports > 1 ? ") on ports " : ") on port ");
	for (i = 0; i < r->nr_ports; i++)
		sbuf_addf(out, "%s%u", i ? ", " : "", r->ports[i]);
}

static int refuse_running(const struct running_list *l, const char *name,
			  struct error *err)
{
	struct sbuf msg = SBUF_INIT;
	size_t i;
	int ret;

	for (i = 0; i < l->nr; i++) {
		sbuf_addstr(&msg, i ? "; " : "");
		add_running_desc(&msg, &l->items[i]);
	}
	ret = error_set(err, ERR_RUNNING, NULL, 0, NULL,
			"worktree '%s' is not removed: %zu server%s still run%s in it: %s",
			text_printable(name), l->nr, l->nr == 1 ? "" : "s",
			l->nr == 1 ? "s" : "", msg.buf);
	error_hint(err, "stop them first, or run again with --stop (SIGTERM, then SIGKILL after 5 s) or --keep-running (they stay, as orphans)");
	sbuf_release(&msg);
	return ret;
}

/* Stop every process of 'l' by its pid; the first failure is returned. */
static int stop_running(const struct running_list *l, bool quiet,
			struct error *err)
{
	struct sbuf line = SBUF_INIT;
	size_t i;
	int ret;

	for (i = 0; i < l->nr; i++) {
		enum procstop_how how;

		ret = procstop_stop(&l->items[i].id, PROCSTOP_TERM_MS, &how,
				    err);
		if (ret < 0) {
			error_hint(err, "the worktree is removed and its ports released; stop the process yourself");
			sbuf_release(&line);
			return ret;
		}
		sbuf_reset(&line);
		add_running_desc(&line, &l->items[i]);
		if (quiet)
			continue;
		switch (how) {
		case PROCSTOP_TERM:
			printf("stopped %s\n", line.buf);
			break;
		case PROCSTOP_KILL:
			printf("killed %s: it outlived SIGTERM by %d s\n",
			       line.buf, PROCSTOP_TERM_MS / 1000);
			break;
		case PROCSTOP_GONE:
		case PROCSTOP_REPLACED:
			printf("%s had exited already\n", line.buf);
			break;
		}
	}
	sbuf_release(&line);
	return 0;
}

static void warn_orphans(const struct running_list *l, const char *name)
{
	struct sbuf line = SBUF_INIT;
	size_t i;

	for (i = 0; i < l->nr; i++) {
		sbuf_reset(&line);
		add_running_desc(&line, &l->items[i]);
		warning("%s keeps running: an orphan of removed worktree '%s' now; stop it with 'kill %ld'",
			line.buf, text_printable(name), l->items[i].id.pid);
	}
	sbuf_release(&line);
}

static void json_running(struct jsonw *w, const char *key,
			 const struct running_list *l)
{
	size_t i, k;

	jsonw_array_begin(w, key);
	for (i = 0; l && i < l->nr; i++) {
		jsonw_object_begin(w, NULL);
		jsonw_int(w, "pid", l->items[i].id.pid);
		jsonw_string(w, "command", l->items[i].cmdline);
		jsonw_array_begin(w, "ports");
		for (k = 0; k < l->items[i].nr_ports; k++)
			jsonw_int(w, NULL, l->items[i].ports[k]);
		jsonw_array_end(w);
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
}

static const char *const remove_usage[] = {
	"git worktree-ports remove [--force] [--stop | --keep-running] <worktree>",
	"",
	"Remove a worktree through 'git worktree remove' (git's own checks apply)",
	"and release its ports. <worktree> is its git name or its folder. While",
	"servers run inside it, it is not removed (exit 12) unless --stop (stop",
	"them by pid once it is removed: SIGTERM, then SIGKILL after 5 s) or",
	"--keep-running (leave them running, as orphans).",
	NULL,
};

int cmd_remove(int argc, const char **argv, struct global_opts *g,
	       struct error *err)
{
	struct session s = SESSION_INIT;
	struct wt_info wt = { 0 };
	struct released_list done = RELEASED_LIST_INIT;
	struct running_list running = { NULL, 0, 0 };
	struct jsonw w = JSONW_INIT;
	bool force = false, stop = false, keep_running = false;
	struct option options[] = {
		OPT_BOOL(0, "force", &force,
			 "passed to git: remove it even with changes"),
		OPT_BOOL(0, "stop", &stop,
			 "stop the servers running inside it first"),
		OPT_BOOL(0, "keep-running", &keep_running,
			 "remove it while its servers run"),
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
	if (stop && keep_running)
		return cli_usage_error(
			remove_usage, options,
			"--stop and --keep-running cannot be used together");
	/* the registry is locked only once the servers are dealt with */
	ret = session_open(&s, g->registry, SESSION_NO_LOAD, err);
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
	find_running(&running, &s, wt.name);
	if (running.nr && !stop && !keep_running) {
		ret = refuse_running(&running, wt.name, err);
		goto out;
	}
	ret = session_load(&s, 0, err);
	if (ret < 0)
		goto out;
	ret = git_worktree_remove(wt.path, force, err);
	if (ret < 0)
		goto out;
	wt_forget(s.repo);
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
	/*
	 * Stopped only once git has removed the worktree: a removal git
	 * refuses leaves the servers running. The registry is let go by now,
	 * so nobody waits on its lock while they stop.
	 */
	session_unlock(&s);
	if (stop) {
		ret = stop_running(&running, g->quiet || g->json, err);
		if (ret < 0)
			goto out;
	}
	if (g->json) {
		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "worktree", wt.name);
		jsonw_string(&w, "path", wt.path);
		json_running(&w, "stopped", stop ? &running : NULL);
		json_running(&w, "left_running",
			     keep_running ? &running : NULL);
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
	if (keep_running)
		warn_orphans(&running, wt.name);
out:
	running_release(&running);
	jsonw_release(&w);
	released_list_release(&done);
	wt_info_release(&wt);
	session_release(&s);
	return ret;
}
