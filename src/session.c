#include "common.h"
#include "session.h"
#include "alloc.h"
#include "actlog.h"
#include "checktime.h"
#include "error.h"
#include "hooks.h"
#include "lockfile.h"
#include "nameset.h"
#include "path.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"
#include "wt.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int session_lock_timeout(void)
{
	const char *v = getenv("GIT_WORKTREE_PORTS_LOCK_TIMEOUT");
	char *end;
	long ms;

	if (!v || !*v)
		return 10000;
	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno || *end || ms < 0 || ms > INT_MAX)
		return 10000;
	return (int)ms;
}

/*
 * Make 'path' absolute and canonical. The file itself may not exist yet
 * (init), so only its directory is resolved; a directory that does not
 * exist either is kept as written, made absolute.
 */
static char *canonical_path(const char *path, const char *base)
{
	struct sbuf abs = SBUF_INIT;
	char resolved[PATH_MAX];
	const char *slash;
	char *dir;

	if (path[0] != '/' && base)
		sbuf_addf(&abs, "%s/", base);
	sbuf_addstr(&abs, path);
	slash = strrchr(abs.buf, '/');
	if (!slash || slash == abs.buf)
		return sbuf_detach(&abs);
	dir = xstrndup(abs.buf, (size_t)(slash - abs.buf));
	if (realpath(dir, resolved)) {
		struct sbuf out = SBUF_INIT;

		sbuf_addf(&out, "%s%s", strcmp(resolved, "/") ? resolved : "",
			  slash);
		sbuf_release(&abs);
		free(dir);
		return sbuf_detach(&out);
	}
	free(dir);
	return sbuf_detach(&abs);
}

static int registry_path(char **out, const struct wt_repo *repo,
			 const char *opt, struct error *err)
{
	char cwd[PATH_MAX];
	const char *env = getenv("GIT_WORKTREE_PORTS_REGISTRY");
	char *config = NULL;
	int ret;

	*out = NULL;
	if (!getcwd(cwd, sizeof(cwd)))
		return error_errno(err, NULL, "cannot get the current directory");
	if (opt && *opt) {
		*out = canonical_path(opt, cwd);
		return 0;
	}
	if (env && *env) {
		*out = canonical_path(env, cwd);
		return 0;
	}
	ret = wt_config_get(&config, repo, "worktree-ports.registry", err);
	if (ret < 0)
		return ret;
	if (config) {
		/*
		 * relative to the main worktree, wherever the command runs
		 * (git itself takes a relative core.hooksPath from where
		 * the hook runs, which for a registry would mean one per
		 * worktree)
		 */
		*out = canonical_path(config, repo->main_path ? repo->main_path :
								 repo->commondir);
		free(config);
		return 0;
	}
	*out = wt_default_registry(repo);
	return 0;
}

/*
 * A registry in this repository (in its main worktree or its common dir)
 * keeps its lock and log in <common dir>/worktree-ports/: a watcher in
 * the main worktree must not see them change. One placed elsewhere keeps
 * them beside it, where every repository that uses it meets.
 */
static char *state_base(const struct wt_repo *repo, const char *registry)
{
	const char *slash = strrchr(registry, '/');
	struct sbuf sb = SBUF_INIT;

	if (!slash || !((repo->main_path && !repo->bare &&
			 path_is_under(registry, repo->main_path)) ||
			path_is_under(registry, repo->commondir)))
		return xstrdup(registry);
	sbuf_addf(&sb, "%s/%s%s", repo->commondir, SESSION_STATE_DIR, slash);
	return sbuf_detach(&sb);
}

int session_open(struct session *s, const char *registry, unsigned flags,
		 struct error *err)
{
	int ret;

	timing_mark("start");
	ret = wt_open(&s->repo, NULL, err);
	if (ret < 0)
		return ret;
	ret = registry_path(&s->registry_path, s->repo, registry, err);
	timing_mark("discover");
	if (ret < 0)
		return ret;
	s->state_base = state_base(s->repo, s->registry_path);
	if (flags & SESSION_NO_LOAD)
		return ret;
	return session_load(s, flags, err);
}

/*
 * Versions before the state directory kept the lock and the log beside
 * the registry: move the log (and its previous part) to where it is kept
 * now, and drop the empty lock file. Only when the new log does not
 * exist yet, so this is one failing stat() once done.
 */
static void move_old_state(const struct session *s)
{
	struct sbuf old = SBUF_INIT, cur = SBUF_INIT;
	struct stat st;

	if (!strcmp(s->state_base, s->registry_path))
		return;
	actlog_path(&old, s->registry_path);
	actlog_path(&cur, s->state_base);
	if (!lstat(old.buf, &st) && lstat(cur.buf, &st) < 0 &&
	    errno == ENOENT) {
		size_t old_len = old.len, cur_len = cur.len;

		sbuf_addstr(&old, ".1");
		sbuf_addstr(&cur, ".1");
		if (!lstat(old.buf, &st))
			(void)rename(old.buf, cur.buf);
		sbuf_setlen(&old, old_len);
		sbuf_setlen(&cur, cur_len);
		if (rename(old.buf, cur.buf) < 0)
			warning("cannot move the activity log '%s' to '%s': %s",
				text_printable(old.buf), text_printable(cur.buf),
				strerror(errno));
	}
	sbuf_reset(&old);
	sbuf_addf(&old, "%s.lock", s->registry_path);
	if (!lstat(old.buf, &st) && S_ISREG(st.st_mode) && !st.st_size)
		(void)unlink(old.buf);
	sbuf_release(&old);
	sbuf_release(&cur);
}

/* The copy of the last registry written, or NULL for a shared one. */
char *session_copy_path(const struct session *s)
{
	struct sbuf sb = SBUF_INIT;

	if (!s->state_base || !strcmp(s->state_base, s->registry_path))
		return NULL;
	sbuf_addf(&sb, "%s.copy", s->state_base);
	return sbuf_detach(&sb);
}

/*
 * A registry written before copies were kept (or whose copy went) gets
 * one now, from the file as loaded: in the common dir, so no working
 * tree sees it. One stat() when the copy is there.
 */
static void keep_copy(const struct session *s)
{
	struct sbuf text = SBUF_INIT;
	struct error e = ERROR_INIT;
	char *copy = session_copy_path(s);
	struct stat st;

	if (copy && stat(copy, &st) < 0 && errno == ENOENT &&
	    !sbuf_read_file(&text, s->registry_path) &&
	    lockfile_replace(copy, text.buf, text.len, 0644, LOCKFILE_HELD,
			     &e) < 0)
		warning_error(&e, "the copy that restores the registry is not kept");
	sbuf_release(&text);
	free(copy);
}

bool session_has_copy(const struct session *s)
{
	char *copy = session_copy_path(s);
	struct stat st;
	bool ret = copy && !stat(copy, &st) && S_ISREG(st.st_mode);

	free(copy);
	return ret;
}

int session_restore(struct session *s, struct error *err)
{
	struct sbuf text = SBUF_INIT;
	struct registry *reg = NULL;
	struct error why = ERROR_INIT;
	char *copy;
	struct stat st;
	int ret = 0;

	if (!stat(s->registry_path, &st) || errno != ENOENT)
		return 0;
	copy = session_copy_path(s);
	if (!copy || sbuf_read_file(&text, copy) < 0)
		goto out;
	/* a copy that does not load restores nothing: say no registry */
	if (registry_parse(&reg, text.buf, text.len, copy, 0, &why) < 0) {
		warning_error(&why, "it is not used to restore the registry");
		goto out;
	}
	ret = mkdir_parents(s->registry_path, err);
	if (!ret)
		ret = lockfile_replace(s->registry_path, text.buf, text.len,
				       0644, LOCKFILE_HELD, err);
	if (!ret) {
		warning("the registry '%s' was gone ('git clean -x', a checkout or a hand took it away); restored it, with its %zu allocation%s, from '%s'",
			text_printable(s->registry_path), reg->nr_allocs,
			reg->nr_allocs == 1 ? "" : "s", text_printable(copy));
		session_log(s, "restore", NULL, NULL, ACTLOG_NONE,
			    ACTLOG_NONE, "registry restored from its copy");
	}
out:
	registry_free(reg);
	sbuf_release(&text);
	free(copy);
	return ret;
}

int session_lock(struct session *s, struct error *err)
{
	int ret;

	if (strcmp(s->state_base, s->registry_path)) {
		const char *slash = strrchr(s->state_base, '/');
		char *dir = xstrndup(s->state_base,
				     (size_t)(slash - s->state_base));
		struct stat st;

		/* made once: after that, one stat() and no mkdir() */
		ret = stat(dir, &st) < 0 ? mkdir_parents(s->state_base, err) :
					   0;
		free(dir);
		if (ret < 0)
			return ret;
	}
	ret = registry_lock(&s->lock, s->state_base, session_lock_timeout(),
			    err);
	if (ret < 0)
		return ret;
	move_old_state(s);
	return 0;
}

int session_start(struct session *s, struct target *t, const char *registry,
		  const char *worktree, unsigned flags, struct error *err)
{
	int ret;

	ret = session_open(s, registry, flags, err);
	if (ret < 0)
		return ret;
	ret = session_finish(s, err);
	if (ret < 0 || !t)
		return ret;
	return session_target(t, s, worktree, err);
}

void session_log(struct session *s, const char *action, const char *worktree,
		 const char *service, long port, long pid, const char *detail)
{
	struct actlog_entry *e;

	ALLOC_GROW(s->log, s->nr_log + 1, s->alloc_log);
	e = &s->log[s->nr_log++];
	memset(e, 0, sizeof(*e));
	e->action = xstrdup(action);
	e->worktree = xstrdup_or_null(worktree);
	e->service = xstrdup_or_null(service);
	e->port = port;
	e->pid = pid;
	e->detail = xstrdup_or_null(detail);
}

void session_log_released(struct session *s, const char *action,
			  const struct released_list *l, const char *detail)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		session_log(s, action, l->items[i].worktree,
			    l->items[i].service, l->items[i].port, ACTLOG_NONE,
			    detail);
}

static void drop_log(struct session *s)
{
	size_t i;

	for (i = 0; i < s->nr_log; i++) {
		free((char *)s->log[i].action);
		free((char *)s->log[i].worktree);
		free((char *)s->log[i].service);
		free((char *)s->log[i].detail);
	}
	s->nr_log = 0;
}

int session_finish(struct session *s, struct error *err)
{
	struct error log_err = ERROR_INIT;
	int ret = 0;

	if (s->reg && s->dirty) {
		char *copy = session_copy_path(s);

		ret = registry_save_copy(s->reg, copy, err);
		free(copy);
		if (!ret)
			s->dirty = false;
		timing_mark("save");
	}
	if (!ret && s->nr_log &&
	    actlog_append(s->state_base, s->log, s->nr_log, &log_err) < 0) {
		/* the registry change stands; only its record is lost */
		warning_error(&log_err, NULL);
	}
	drop_log(s);
	return ret;
}

void session_unlock(struct session *s)
{
	registry_free(s->reg);
	s->reg = NULL;
	s->dirty = false;
	lockfile_unlock(&s->lock);
}

void session_release(struct session *s)
{
	drop_log(s);
	free(s->log);
	s->log = NULL;
	s->alloc_log = 0;
	registry_free(s->reg);
	lockfile_unlock(&s->lock);
	free(s->registry_path);
	free(s->state_base);
	wt_free(s->repo);
	s->reg = NULL;
	s->registry_path = NULL;
	s->state_base = NULL;
	s->repo = NULL;
	s->dirty = false;
}

void released_list_add(struct released_list *l, const struct allocation *a)
{
	struct released *r;

	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	r = &l->items[l->nr++];
	allocation_copy(&r->a, a);
	r->port = r->a.port;
	r->service = r->a.service;
	r->worktree = r->a.worktree;
}

void released_list_release(struct released_list *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		allocation_copy_release(&l->items[i].a);
	free(l->items);
	l->items = NULL;
	l->nr = l->alloc = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void free_names(char **names, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		free(names[i]);
	free(names);
}

/* Where git says an alive worktree is now. */
struct wt_place {
	char *name;
	char *top; /* canonical */
	bool said; /* its move was noted */
};

/* What git says about the registry's worktrees (scan_worktrees()). */
struct wt_scan {
	char **gone; /* names, sorted, for bsearch */
	size_t nr_gone, alloc_gone;
	struct wt_place *places; /* sorted by name, for bsearch */
	size_t nr_places, alloc_places;
};

#define WT_SCAN_INIT { NULL, 0, 0, NULL, 0, 0 }

static void wt_scan_release(struct wt_scan *scan)
{
	size_t i;

	free_names(scan->gone, scan->nr_gone);
	for (i = 0; i < scan->nr_places; i++) {
		free(scan->places[i].name);
		free(scan->places[i].top);
	}
	free(scan->places);
	memset(scan, 0, sizeof(*scan));
}

static int cmp_place(const void *a, const void *b)
{
	return strcmp(((const struct wt_place *)a)->name,
		      ((const struct wt_place *)b)->name);
}

static const struct wt_place *find_place(const struct wt_scan *scan,
					 const char *name)
{
	struct wt_place key = { (char *)name, NULL, false };

	if (!scan->nr_places)
		return NULL;
	return bsearch(&key, scan->places, scan->nr_places,
		       sizeof(*scan->places), cmp_place);
}

/*
 * Ask git once about each worktree the registry names: which are gone,
 * and where the alive ones are now. Every name is copied (removing
 * allocations frees the registry's strings) and looked at once, found
 * through a hash set, so this stays linear in the number of
 * allocations.
 */
static int scan_worktrees(struct wt_scan *scan, const struct session *s,
			  struct error *err)
{
	const struct registry *reg = s->reg;
	struct nameset seen;
	size_t i;
	int ret = 0;

	nameset_init(&seen, reg->nr_allocs, registry_worktree_key, reg);
	for (i = 0; i < reg->nr_allocs; i++) {
		const char *name = reg->allocs[i].worktree;
		enum wt_state state;
		char *top = NULL;

		if (nameset_add(&seen, i) >= 0)
			continue;
		ret = wt_state_path(&state, &top, s->repo, name, err);
		if (ret == ERR_NOTFOUND) {
			/* a name git could never have given ('..', 'a/b') */
			error_clear(err);
			ret = 0;
			state = WT_GONE;
		}
		if (ret < 0)
			break;
		if (state == WT_GONE) {
			ALLOC_GROW(scan->gone, scan->nr_gone + 1,
				   scan->alloc_gone);
			scan->gone[scan->nr_gone++] = xstrdup(name);
		} else if (top) {
			ALLOC_GROW(scan->places, scan->nr_places + 1,
				   scan->alloc_places);
			scan->places[scan->nr_places].name = xstrdup(name);
			scan->places[scan->nr_places].top = top;
			scan->places[scan->nr_places].said = false;
			scan->nr_places++;
			top = NULL;
		}
		free(top);
	}
	nameset_release(&seen);
	if (ret < 0)
		return ret;
	if (scan->nr_gone > 1)
		qsort(scan->gone, scan->nr_gone, sizeof(*scan->gone), cmp_str);
	if (scan->nr_places > 1)
		qsort(scan->places, scan->nr_places, sizeof(*scan->places),
		      cmp_place);
	return 0;
}

static bool is_gone(const struct wt_scan *scan, const char *name)
{
	return scan->nr_gone && bsearch(&name, scan->gone, scan->nr_gone,
					sizeof(*scan->gone), cmp_str);
}

static int release_gone(struct session *s, const struct wt_scan *scan,
			bool dry_run, struct released_list *out)
{
	struct registry *reg = s->reg;
	size_t i;

	if (!scan->nr_gone)
		return 0;
	for (i = 0; i < reg->nr_allocs; i++)
		if (is_gone(scan, reg->allocs[i].worktree))
			released_list_add(out, &reg->allocs[i]);
	if (dry_run)
		return 0;
	/* remove from the end, so indexes stay valid and moves stay short */
	for (i = reg->nr_allocs; i-- > 0;) {
		if (is_gone(scan, reg->allocs[i].worktree)) {
			registry_remove(reg, i);
			s->dirty = true;
		}
	}
	return 0;
}

/* Log the automatic release of 'gone' and say it on stderr. */
static void said_released(struct session *s, const struct released_list *gone)
{
	struct sbuf svc = SBUF_INIT, wt = SBUF_INIT;
	size_t i;

	session_log_released(s, "auto-release", gone, "worktree is gone");
	for (i = 0; i < gone->nr; i++) {
		sbuf_reset(&svc);
		sbuf_reset(&wt);
		text_addstr_printable(&svc, gone->items[i].service);
		text_addstr_printable(&wt, gone->items[i].worktree);
		note("released port %u ('%s') of removed worktree '%s'",
		     gone->items[i].port, svc.buf, wt.buf);
	}
	sbuf_release(&svc);
	sbuf_release(&wt);
}

int session_release_removed(struct session *s, struct released_list *out,
			    struct error *err)
{
	size_t before = out->nr;
	struct released_list said = RELEASED_LIST_INIT;
	int ret;

	ret = session_autorelease(s, false, out, err);
	if (ret < 0 || out->nr == before)
		return ret;
	/* only what this call released is said */
	said.items = out->items + before;
	said.nr = out->nr - before;
	said_released(s, &said);
	return 0;
}

int session_autorelease(struct session *s, bool dry_run,
			struct released_list *out, struct error *err)
{
	struct wt_scan scan = WT_SCAN_INIT;
	int ret;

	ret = scan_worktrees(&scan, s, err);
	if (!ret)
		ret = release_gone(s, &scan, dry_run, out);
	wt_scan_release(&scan);
	return ret;
}

/*
 * Is 'recorded' somewhere else than 'top' (canonical)? The same string
 * is the same place; a recorded path that still resolves to 'top' (a
 * symlink, a hand-written path) is not a move either.
 */
static bool moved_from(const char *recorded, const char *top)
{
	char resolved[PATH_MAX];

	if (!strcmp(recorded, top))
		return false;
	return !realpath(recorded, resolved) || strcmp(resolved, top);
}

/*
 * Bring every recorded path up to date with where git says its worktree
 * is ('git worktree move', or the whole repository moved), in memory.
 * With 'say', each moved worktree is noted on stderr once and logged.
 * Allocations without a path (seed registries) are left so.
 */
static void refresh_paths(struct session *s, struct wt_scan *scan, bool say)
{
	struct registry *reg = s->reg;
	size_t i;

	if (!scan->nr_places)
		return;
	for (i = 0; i < reg->nr_allocs; i++) {
		struct allocation *a = &reg->allocs[i];
		struct wt_place *place;

		if (!a->path)
			continue;
		place = (struct wt_place *)find_place(scan, a->worktree);
		if (!place || !moved_from(a->path, place->top))
			continue;
		if (say && !place->said) {
			struct sbuf name = SBUF_INIT, to = SBUF_INIT;
			struct sbuf from = SBUF_INIT, detail = SBUF_INIT;

			text_addstr_printable(&name, a->worktree);
			text_addstr_printable(&to, place->top);
			text_addstr_printable(&from, a->path);
			note("worktree '%s' moved to '%s' (was '%s'): its recorded path is updated",
			     name.buf, to.buf, from.buf);
			sbuf_addf(&detail, "moved from %s to %s", a->path,
				  place->top);
			session_log(s, "move", a->worktree, NULL, ACTLOG_NONE,
				    ACTLOG_NONE, detail.buf);
			sbuf_release(&name);
			sbuf_release(&to);
			sbuf_release(&from);
			sbuf_release(&detail);
			place->said = true;
		}
		registry_set_string(&a->path, place->top);
		s->dirty = true;
	}
}

int session_refresh_paths(struct session *s, struct error *err)
{
	struct wt_scan scan = WT_SCAN_INIT;
	int ret;

	ret = scan_worktrees(&scan, s, err);
	if (!ret)
		refresh_paths(s, &scan, false);
	wt_scan_release(&scan);
	return ret;
}

/*
 * Say once a command when a hook manager has dropped our hook; not in
 * the hook's own run, which is proof enough that it is there.
 */
static void check_hook(struct session *s)
{
	struct hooks_check c;

	if (s->hook_checked || hooks_in_hook())
		return;
	s->hook_checked = true;
	hooks_check(&c, s->repo);
	hooks_check_warn(&c);
	hooks_check_release(&c);
}

int session_load(struct session *s, unsigned flags, struct error *err)
{
	struct wt_scan scan = WT_SCAN_INIT;
	unsigned load_flags = 0;
	struct stat st;
	bool missing;
	int ret;

	/*
	 * No registry: say what to do, and leave no lock file behind in a
	 * repository that never ran init. One that git or a hand took away
	 * comes back from its copy.
	 */
	missing = stat(s->registry_path, &st) < 0 && errno == ENOENT;
	if (missing && !session_has_copy(s)) {
		ret = error_set(err, ERR_NOTFOUND, s->registry_path, 0, NULL,
				"no registry");
		error_hint(err, "run 'git worktree-ports init' to create it");
		return ret;
	}
	ret = session_lock(s, err);
	if (ret < 0)
		return ret;
	timing_mark("lock");
	if (missing) {
		ret = session_restore(s, err);
		if (ret < 0)
			return ret;
	}
	if (flags & SESSION_ALLOW_DUPLICATES)
		load_flags |= REGISTRY_ALLOW_DUPLICATES;
	ret = registry_load(&s->reg, s->registry_path, load_flags, err);
	timing_mark("load");
	if (ret < 0)
		return ret;
	keep_copy(s);
	checktime_apply(s->reg, s->state_base);
	check_hook(s);
	ret = scan_worktrees(&scan, s, err);
	if (ret < 0)
		goto out;
	refresh_paths(s, &scan, !(flags & SESSION_DRY_RUN));
	if (flags & SESSION_DRY_RUN)
		s->dirty = false;
	else if (!(flags & SESSION_NO_AUTORELEASE)) {
		struct released_list gone = RELEASED_LIST_INIT;

		release_gone(s, &scan, false, &gone);
		said_released(s, &gone);
		released_list_release(&gone);
	}
	timing_mark("autorelease");
out:
	wt_scan_release(&scan);
	return ret;
}

int session_target(struct target *t, const struct session *s,
		   const char *worktree, struct error *err)
{
	struct wt_info info = { 0 };
	int ret;

	if (!worktree) {
		if (!s->repo->name) {
			ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
					"this is a bare repository, not a worktree");
			error_hint(err, "name the worktree with --worktree <name>, or run the command inside one");
			return ret;
		}
		t->name = xstrdup(s->repo->name);
		t->path = xstrdup_or_null(s->repo->path);
		t->is_main = !strcmp(t->name, WT_MAIN_NAME);
		return 0;
	}
	ret = wt_lookup(&info, s->repo, worktree, err);
	if (ret < 0)
		return ret;
	t->name = xstrdup(info.name);
	t->path = xstrdup_or_null(info.path);
	t->is_main = info.is_main;
	wt_info_release(&info);
	return 0;
}

void target_release(struct target *t)
{
	free(t->name);
	free(t->path);
	t->name = t->path = NULL;
}

char *session_worktree_dir(const struct session *s, const char *worktree,
			   const char *path)
{
	char resolved[PATH_MAX];
	struct wt_info info;
	char *dir = NULL;

	if (path)
		return xstrdup(realpath(path, resolved) ? resolved : path);
	if (!s->repo)
		return NULL;
	if (!strcmp(worktree, WT_MAIN_NAME) && s->repo->main_path)
		return xstrdup(s->repo->main_path);
	if (!wt_lookup(&info, s->repo, worktree, NULL) && info.path)
		dir = xstrdup(info.path);
	wt_info_release(&info);
	return dir;
}
