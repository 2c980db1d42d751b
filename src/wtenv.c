#include "common.h"
#include "wtenv.h"
#include "actlog.h"
#include "alloc.h"
#include "config.h"
#include "envfile.h"
#include "error.h"
#include "exclude.h"
#include "registry.h"
#include "sbuf.h"
#include "session.h"
#include "wt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

void env_list_add(struct env_list *l, const char *name, const char *value)
{
	ALLOC_GROW(l->vars, l->nr + 1, l->alloc);
	l->vars[l->nr].name = xstrdup(name);
	l->vars[l->nr].value = xstrdup_or_null(value);
	l->nr++;
}

static bool env_list_has(const struct env_list *l, const char *name)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		if (!strcmp(l->vars[i].name, name))
			return true;
	return false;
}

void env_list_release(struct env_list *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++) {
		free((char *)l->vars[i].name);
		free((char *)l->vars[i].value);
	}
	free(l->vars);
	l->vars = NULL;
	l->nr = l->alloc = 0;
}

/* The folder name of the main worktree, or of a bare repository less ".git". */
static char *repo_name(const struct wt_repo *repo)
{
	const char *top = repo->main_path ? repo->main_path : repo->commondir;
	const char *base = strrchr(top, '/');
	size_t len;

	base = base ? base + 1 : top;
	len = strlen(base);
	if (!repo->main_path && len > 4 && !strcmp(base + len - 4, ".git"))
		len -= 4;
	if (!repo->main_path && !strcmp(base, ".git")) {
		/* a common dir named .git outside a worktree: its parent */
		const char *end = base - 1, *start = end;

		while (start > top && start[-1] != '/')
			start--;
		return xstrndup(start, (size_t)(end - start));
	}
	return xstrndup(base, len);
}

/*
 * docker compose accepts lower-case letters, digits, '-' and '_',
 * starting with a letter or digit. Append 'name' made so, and say
 * whether anything had to change.
 */
static bool compose_part(struct sbuf *out, const char *name)
{
	bool lossy = false;
	const char *p;

	for (p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (isdigit(c) || (c >= 'a' && c <= 'z') || c == '-' ||
		    c == '_') {
			sbuf_addch(out, c);
		} else if (c >= 'A' && c <= 'Z') {
			sbuf_addch(out, tolower(c));
			lossy = true;
		} else {
			sbuf_addch(out, '_');
			lossy = true;
		}
	}
	return lossy;
}

/*
 * COMPOSE_PROJECT_NAME: the repository's name, and for a linked worktree
 * "-" and its name; when a name had to be changed to fit, a hash of the
 * real name keeps two worktrees ("Feat" and "feat") apart.
 */
void wtenv_compose_name(struct sbuf *out, const struct wt_repo *repo,
		      const char *worktree)
{
	struct sbuf name = SBUF_INIT;
	char *repo_dir = repo_name(repo);
	size_t skip = 0;

	compose_part(&name, repo_dir);
	if (strcmp(worktree, WT_MAIN_NAME)) {
		sbuf_addch(&name, '-');
		if (compose_part(&name, worktree))
			sbuf_addf(&name, "-%08x",
				  (unsigned)alloc_hash(worktree, ""));
	}
	while (name.buf[skip] == '-' || name.buf[skip] == '_')
		skip++;
	if (!name.buf[skip])
		sbuf_addstr(out, "project");
	sbuf_addstr(out, name.buf + skip);
	sbuf_release(&name);
	free(repo_dir);
}

struct port_lookup {
	const struct registry *reg;
	const char *worktree;
};

static int lookup_port(uint16_t *out, const char *service, void *payload)
{
	const struct port_lookup *pl = payload;
	long i = registry_find(pl->reg, pl->worktree, service);

	if (i < 0)
		return ERR_NOTFOUND;
	*out = pl->reg->allocs[i].port;
	return 0;
}

int wtenv_build(struct env_list *out, const struct session *s,
		const struct target *t, const struct config *c)
{
	struct port_lookup pl = { s->reg, t->name };
	struct config_context ctx = { 0 };
	struct sbuf buf = SBUF_INIT;
	char *repo = repo_name(s->repo);
	char port[8];
	size_t i;
	long k;

	for (i = 0; c && i < c->nr_services; i++) {
		k = registry_find(s->reg, t->name, c->services[i].name);
		if (k < 0)
			continue;
		snprintf(port, sizeof(port), "%u", s->reg->allocs[k].port);
		env_list_add(out, c->services[i].var, port);
	}
	/* ports allocated by hand, with the default variable names */
	for (i = 0; i < s->reg->nr_allocs; i++) {
		const struct allocation *a = &s->reg->allocs[i];

		if (strcmp(a->worktree, t->name) ||
		    (c && config_find_service(c, a->service)))
			continue;
		sbuf_reset(&buf);
		wtenv_port_var(&buf, a->service);
		if (env_list_has(out, buf.buf)) {
			warning("'%s' and another service both make %s; only the first is set",
				    a->service, buf.buf);
			continue;
		}
		snprintf(port, sizeof(port), "%u", a->port);
		env_list_add(out, buf.buf, port);
	}
	if (c && c->compose_project_name) {
		sbuf_reset(&buf);
		wtenv_compose_name(&buf, s->repo, t->name);
		env_list_add(out, "COMPOSE_PROJECT_NAME", buf.buf);
	}
	ctx.worktree = t->name;
	ctx.repo = repo;
	ctx.port = lookup_port;
	ctx.payload = &pl;
	for (i = 0; c && i < c->nr_vars; i++) {
		struct error e = ERROR_INIT;

		sbuf_reset(&buf);
		if (config_expand(&buf, c, &c->vars[i], &ctx, &e) < 0) {
			warning_error(&e, NULL);
			continue;
		}
		if (env_list_has(out, c->vars[i].name))
			continue;
		env_list_add(out, c->vars[i].name, buf.buf);
	}
	sbuf_release(&buf);
	free(repo);
	return 0;
}

/* Is 'file' (relative to 'top') tracked by git? Asks git itself. */
static bool tracked_by_git(const char *top, const char *file)
{
	int status, devnull;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return false;
	if (!pid) {
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("git", "git", "-C", top, "ls-files", "--error-unmatch",
		       "--", file, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return false;
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

struct shadow_ctx {
	const char *file;
};

static void warn_shadowed(const char *name, int line, bool after_block,
			  void *payload)
{
	const struct shadow_ctx *sc = payload;

	if (after_block)
		warning("%s:%d: '%s' is also set after the git-worktree-ports block: this line comes last and wins for sh, direnv, docker compose and python-dotenv, so the tool's port is not used; remove the line",
			sc->file, line, name);
	else
		warning("%s:%d: '%s' is also set before the git-worktree-ports block: the block comes last and wins for sh, direnv, docker compose and python-dotenv; remove the line to be sure",
			sc->file, line, name);
}

/*
 * The files sync writes are machine state, and an untracked .env would
 * make every fresh worktree "dirty", so that plain 'git worktree remove'
 * refuses it: list them in info/exclude, as init does the registry. A
 * tracked file stays tracked (exclude does not apply to it); one the
 * user's .gitignore covers gets a harmless second line.
 */
static int exclude_targets(const struct wt_repo *repo, const struct config *c,
			   struct error *err)
{
	size_t nr = 2 * c->nr_env_files;
	const char **lines = xcalloc(nr + 1, sizeof(*lines));
	struct sbuf *buf = xcalloc(nr + 1, sizeof(*buf));
	size_t i;
	int ret;

	/* each file, and the '.new' a writer killed halfway may leave */
	for (i = 0; i < nr; i++) {
		sbuf_init(&buf[i]);
		sbuf_addf(&buf[i], "/%s%s", c->env_files[i / 2],
			  i % 2 ? ".new" : "");
		lines[i] = buf[i].buf;
	}
	ret = exclude_add(repo, lines, nr, err);
	for (i = 0; i < nr; i++)
		sbuf_release(&buf[i]);
	free(buf);
	free(lines);
	return ret < 0 ? ret : 0;
}

int wtenv_write(struct session *s, const struct target *t,
		const struct config *c, struct env_list *vars,
		const struct env_list *notes, struct env_written **out,
		struct error *err)
{
	struct env_written *files;
	struct env_list lines = ENV_LIST_INIT;
	struct stat st;
	size_t i;
	int ret;

	*out = NULL;
	wtenv_build(vars, s, t, c);
	/* the block: the variables, then the notes (borrowed) */
	lines.nr = vars->nr + (notes ? notes->nr : 0);
	lines.vars = xcalloc(lines.nr + 1, sizeof(*lines.vars));
	for (i = 0; i < vars->nr; i++)
		lines.vars[i] = vars->vars[i];
	for (i = 0; notes && i < notes->nr; i++)
		lines.vars[vars->nr + i] = notes->vars[i];
	ret = exclude_targets(s->repo, c, err);
	if (ret < 0) {
		free(lines.vars);
		return ret;
	}
	files = xcalloc(c->nr_env_files + 1, sizeof(*files));
	for (i = 0; i < c->nr_env_files; i++) {
		struct shadow_ctx sc = { c->env_files[i] };
		struct sbuf path = SBUF_INIT;
		bool existed;

		sbuf_addf(&path, "%s/%s", t->path, c->env_files[i]);
		existed = !lstat(path.buf, &st);
		sbuf_release(&path);
		files[i].file = c->env_files[i];
		ret = envfile_update(&files[i].changed, t->path,
				     c->env_files[i], lines.vars, lines.nr,
				     warn_shadowed, &sc, err);
		if (ret < 0) {
			free(files);
			free(lines.vars);
			return ret;
		}
		if (existed && files[i].changed &&
		    tracked_by_git(t->path, c->env_files[i]))
			warning("%s is tracked by git: the port block shows up as a change; untrack it (git rm --cached %s) and ignore it",
				    c->env_files[i], c->env_files[i]);
	}
	free(lines.vars);
	*out = files;
	return 0;
}


void wtenv_port_var(struct sbuf *out, const char *service)
{
	const char *p;

	sbuf_addstr(out, "PORT_");
	for (p = service; *p; p++)
		sbuf_addch(out, isalnum((unsigned char)*p) ?
					toupper((unsigned char)*p) : '_');
}

/* A comment for each declared service without a port in the registry. */
static void unset_notes(struct env_list *notes, const struct session *s,
			const char *name, const struct config *c)
{
	struct sbuf line = SBUF_INIT;
	size_t i;

	for (i = 0; i < c->nr_services; i++) {
		if (registry_find(s->reg, name, c->services[i].name) >= 0)
			continue;
		sbuf_reset(&line);
		sbuf_addf(&line,
			  "%s is not set: no port is allocated; 'git worktree-ports sync' gives one",
			  c->services[i].var);
		env_list_add(notes, line.buf, NULL);
	}
	sbuf_release(&line);
}

size_t wtenv_refresh(struct session *s, const char *name, const char *path,
		     bool quiet)
{
	struct target t = { (char *)name, (char *)path, false };
	struct env_list vars = ENV_LIST_INIT, notes = ENV_LIST_INIT;
	struct env_written *files = NULL;
	struct error e = ERROR_INIT;
	struct config *c = NULL;
	size_t i, nr = 0;

	if (!path || config_load(&c, path, &e) < 0) {
		if (e.code && e.code != ERR_NOTFOUND)
			warning_error(&e, "its .env files are not updated");
		return 0;
	}
	unset_notes(&notes, s, name, c);
	if (wtenv_write(s, &t, c, &vars, &notes, &files, &e) < 0) {
		warning_error(&e, "the .env files are not updated");
	} else {
		for (i = 0; i < c->nr_env_files; i++) {
			if (!files[i].changed)
				continue;
			nr++;
			if (!quiet)
				note("rewrote %s of worktree '%s' to match the registry",
				     files[i].file, name);
		}
	}
	free(files);
	env_list_release(&vars);
	env_list_release(&notes);
	config_free(c);
	return nr;
}

void wtenv_stale(char **file, const struct session *s, const char *name,
		 const char *path)
{
	struct target t = { (char *)name, (char *)path, false };
	struct env_list vars = ENV_LIST_INIT;
	struct error e = ERROR_INIT;
	struct config *c = NULL;
	size_t i;

	*file = NULL;
	if (!path || config_load(&c, path, &e) < 0)
		return;
	wtenv_build(&vars, s, &t, c);
	for (i = 0; i < c->nr_env_files && !*file; i++) {
		bool differs = false;

		error_clear(&e);
		if (!envfile_differs(&differs, path, c->env_files[i],
				     vars.vars, vars.nr, &e) &&
		    differs)
			*file = xstrdup(c->env_files[i]);
	}
	env_list_release(&vars);
	config_free(c);
}

void wtenv_add_ranges(struct session *s, const struct config *c)
{
	size_t i;

	for (i = 0; i < c->nr_ranges; i++) {
		const struct config_range *r = &c->ranges[i];
		struct sbuf detail = SBUF_INIT;

		if (registry_find_range(s->reg, r->name))
			continue;
		registry_add_range(s->reg, r->name, (uint16_t)r->start,
				   (uint16_t)r->end, r->description);
		s->dirty = true;
		note("range '%s' (%u-%u) of %s added to the registry",
		     r->name, r->start, r->end, CONFIG_FILE);
		sbuf_addf(&detail, "range %s %u-%u from %s", r->name,
			  r->start, r->end, CONFIG_FILE);
		session_log(s, "range", NULL, NULL, ACTLOG_NONE, ACTLOG_NONE,
			    detail.buf);
		sbuf_release(&detail);
	}
}
