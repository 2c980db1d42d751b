#include "common.h"
#include "hooks.h"
#include "error.h"
#include "path.h"
#include "lockfile.h"
#include "sbuf.h"
#include "text.h"
#include "wt.h"

#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Generated from hooks/post-checkout: 'hook_post_checkout[]'. */
#include "hook-post-checkout.h"

const char *hooks_script(size_t *len)
{
	*len = sizeof(hook_post_checkout);
	return (const char *)hook_post_checkout;
}

char *hooks_resolve_path(const char *value, const char *base, const char *home)
{
	struct sbuf out = SBUF_INIT;

	if (value[0] == '~') {
		const char *rest = strchr(value, '/');
		size_t name_len =
			rest ? (size_t)(rest - value - 1) : strlen(value + 1);
		const char *dir = home;

		if (name_len) {
			char *name = xstrndup(value + 1, name_len);
			struct passwd *pw = getpwnam(name);

			free(name);
			dir = pw ? pw->pw_dir : NULL;
		}
		if (!dir || !*dir)
			return NULL;
		sbuf_addstr(&out, dir);
		if (rest)
			sbuf_addstr(&out, rest);
	} else if (value[0] == '/') {
		sbuf_addstr(&out, value);
	} else {
		sbuf_addf(&out, "%s/%s", base, value);
	}
	/* No trailing slash, so that '<dir>/post-checkout' reads well. */
	while (out.len > 1 && out.buf[out.len - 1] == '/')
		sbuf_setlen(&out, out.len - 1);
	return sbuf_detach(&out);
}

int hooks_find_dir(char **out, bool *relative, const struct wt_repo *repo,
		   struct error *err)
{
	char *value = NULL;
	const char *base;
	int ret;

	*out = NULL;
	if (relative)
		*relative = false;
	ret = wt_config_get(&value, repo, "core.hooksPath", err);
	if (ret < 0)
		goto out;
	if (value && !*value) {
		/* Git then finds no hooks at all. */
		ret = error_set(err, ERR_FAIL, NULL, 0, "core.hooksPath",
				"is empty, so git runs no hooks");
		error_hint(
			err,
			"unset it ('git config --unset core.hooksPath') or name a directory");
		goto out;
	}
	if (!value) {
		struct sbuf dir = SBUF_INIT;

		sbuf_addf(&dir, "%s/hooks", repo->commondir);
		*out = sbuf_detach(&dir);
		goto out;
	}
	/* Git runs hooks from the worktree's top, or a bare git dir. */
	base = repo->path ? repo->path : repo->gitdir;
	*out = hooks_resolve_path(value, base, getenv("HOME"));
	if (!*out) {
		ret = error_set(err, ERR_FAIL, NULL, 0, "core.hooksPath",
				"cannot expand '%s'", value);
		error_hint(err, "is $HOME set, and does the user exist?");
		goto out;
	}
	if (relative)
		*relative = value[0] != '/' && value[0] != '~';
out:
	free(value);
	return ret;
}

void hooks_result_release(struct hooks_result *r)
{
	free(r->dir);
	free(r->hook);
	free(r->aside);
	free(r->kept);
	r->dir = r->hook = r->aside = r->kept = NULL;
	r->chained = false;
	r->action = HOOKS_ABSENT;
}

static void result_init(struct hooks_result *r, const char *dir)
{
	struct sbuf path = SBUF_INIT;

	r->action = HOOKS_ABSENT;
	r->chained = false;
	r->kept = NULL;
	r->dir = xstrdup(dir);
	sbuf_addf(&path, "%s/%s", dir, HOOKS_NAME);
	r->hook = sbuf_detach(&path);
	sbuf_addf(&path, "%s/%s", dir, HOOKS_ASIDE);
	r->aside = sbuf_detach(&path);
}

/* mkdir -p 'dir'. */
/* Is one of the lines of 'buf' (LF or CRLF) exactly 'line'? */
static bool has_line(const char *buf, size_t len, const char *line)
{
	size_t n = strlen(line);
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (l && p[l - 1] == '\r')
			l--;
		if (l == n && !memcmp(p, line, n))
			return true;
		if (!nl)
			break;
		p = nl + 1;
	}
	return false;
}

enum hook_state { HOOK_ABSENT, HOOK_OURS, HOOK_FOREIGN };

/*
 * What is at 'path'; for our hook, its bytes go to 'text'. A file that
 * cannot be read (a dangling link, no permission) is not ours: git could
 * not be running our script from it either.
 */
static int hook_state(enum hook_state *out, const char *path, struct sbuf *text,
		      struct error *err)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			return error_errno(err, path, "cannot read the hook");
		*out = HOOK_ABSENT;
		return 0;
	}
	if (S_ISDIR(st.st_mode))
		return error_set(err, ERR_FAIL, path, 0, NULL,
				 "the hook is a directory");
	*out = HOOK_FOREIGN;
	if (!sbuf_read_file(text, path) &&
	    has_line(text->buf, text->len, HOOKS_MARKER))
		*out = HOOK_OURS;
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/*
 * A hook manager rewrote post-checkout after an earlier install, which
 * had set the hook before it aside: that one goes, so that the current
 * hook can be chained. Same bytes: it is simply dropped. Else it is kept
 * under the first free name HOOKS_ASIDE.N, in 'out->kept'.
 */
static int retire_aside(struct hooks_result *out, struct error *err)
{
	struct sbuf old = SBUF_INIT, cur = SBUF_INIT, name = SBUF_INIT;
	int ret = 0, n;

	if (!sbuf_read_file(&old, out->aside) &&
	    !sbuf_read_file(&cur, out->hook) && old.len == cur.len &&
	    !memcmp(old.buf, cur.buf, old.len)) {
		if (unlink(out->aside) < 0)
			ret = error_errno(err, out->aside,
					  "cannot remove the hook set aside");
		goto out;
	}
	for (n = 1; n < 1000; n++) {
		sbuf_reset(&name);
		sbuf_addf(&name, "%s.%d", out->aside, n);
		if (!exists(name.buf))
			break;
	}
	if (n == 1000 || rename(out->aside, name.buf) < 0) {
		ret = error_errno(err, out->aside,
				  "cannot keep the hook set aside earlier");
		goto out;
	}
	out->kept = sbuf_detach(&name);
out:
	sbuf_release(&old);
	sbuf_release(&cur);
	sbuf_release(&name);
	return ret;
}

int hooks_install(struct hooks_result *out, const char *dir, struct error *err)
{
	struct sbuf text = SBUF_INIT;
	enum hook_state state;
	const char *script;
	size_t len;
	int ret;

	result_init(out, dir);
	script = hooks_script(&len);
	ret = mkdir_p(dir, 0777, err);
	if (ret < 0)
		goto out;
	ret = hook_state(&state, out->hook, &text, err);
	if (ret < 0)
		goto out;
	out->chained = exists(out->aside);
	if (state == HOOK_OURS) {
		if (text.len == len && !memcmp(text.buf, script, len)) {
			out->action = HOOKS_UNCHANGED;
			goto out;
		}
		ret = lockfile_replace(out->hook, script, len, 0755, 0, err);
		out->action = HOOKS_UPDATED;
		goto out;
	}
	if (out->chained && state == HOOK_ABSENT) {
		/* ours went, the hook it chained is still there */
		ret = lockfile_replace(out->hook, script, len, 0755, 0, err);
		out->action = HOOKS_INSTALLED;
		goto out;
	}
	if (out->chained) {
		ret = retire_aside(out, err);
		if (ret < 0)
			goto out;
		out->chained = false;
	}
	if (state == HOOK_ABSENT) {
		ret = lockfile_replace(out->hook, script, len, 0755, 0, err);
		out->action = HOOKS_INSTALLED;
		goto out;
	}
	/* rename(2) keeps the bytes, mode and owner; a link stays a link. */
	if (rename(out->hook, out->aside) < 0) {
		ret = error_errno(err, out->hook, "cannot move the hook aside");
		goto out;
	}
	ret = lockfile_replace(out->hook, script, len, 0755, 0, err);
	if (ret < 0) {
		if (rename(out->aside, out->hook) < 0)
			error_hint(err,
				   "the hook is kept as '%s'; rename it back",
				   out->aside);
		goto out;
	}
	out->action = HOOKS_CHAINED;
	out->chained = true;
out:
	sbuf_release(&text);
	return ret;
}

int hooks_uninstall(struct hooks_result *out, const char *dir,
		    struct error *err)
{
	struct sbuf text = SBUF_INIT;
	enum hook_state state;
	int ret;

	result_init(out, dir);
	ret = hook_state(&state, out->hook, &text, err);
	if (ret < 0)
		goto out;
	out->chained = exists(out->aside);
	if (state == HOOK_FOREIGN) {
		out->action = HOOKS_NOT_OURS;
		goto out;
	}
	if (out->chained) {
		/* One rename: post-checkout is never missing meanwhile. */
		if (rename(out->aside, out->hook) < 0) {
			ret = error_errno(err, out->aside,
					  "cannot restore the hook");
			goto out;
		}
		out->action = HOOKS_RESTORED;
		out->chained = false;
	} else if (state == HOOK_OURS) {
		if (unlink(out->hook) < 0) {
			ret = error_errno(err, out->hook,
					  "cannot remove the hook");
			goto out;
		}
		out->action = HOOKS_REMOVED;
	} else {
		out->action = HOOKS_ABSENT;
	}
out:
	sbuf_release(&text);
	return ret;
}

void hooks_describe(struct sbuf *out, const struct hooks_result *r)
{
	switch (r->action) {
	case HOOKS_INSTALLED:
		sbuf_addf(out, "installed %s hook in %s", HOOKS_NAME, r->dir);
		break;
	case HOOKS_CHAINED:
		sbuf_addf(
			out,
			"installed %s hook in %s (chaining the existing hook, kept as %s)",
			HOOKS_NAME, r->dir, HOOKS_ASIDE);
		break;
	case HOOKS_UPDATED:
		sbuf_addf(out, "updated %s hook in %s", HOOKS_NAME, r->dir);
		break;
	case HOOKS_UNCHANGED:
		sbuf_addf(out, "%s hook already installed in %s", HOOKS_NAME,
			  r->dir);
		break;
	case HOOKS_REMOVED:
		sbuf_addf(out, "removed %s hook from %s", HOOKS_NAME, r->dir);
		break;
	case HOOKS_RESTORED:
		sbuf_addf(
			out,
			"removed %s hook from %s and restored the hook it replaced",
			HOOKS_NAME, r->dir);
		break;
	case HOOKS_NOT_OURS:
		sbuf_addf(
			out,
			"the %s hook in %s is not from git-worktree-ports; left it alone",
			HOOKS_NAME, r->dir);
		break;
	case HOOKS_ABSENT:
		sbuf_addf(out, "no %s hook in %s; nothing to do", HOOKS_NAME,
			  r->dir);
		break;
	}
}

const char *hooks_action_name(enum hooks_action action)
{
	switch (action) {
	case HOOKS_INSTALLED:
		return "installed";
	case HOOKS_CHAINED:
		return "chained";
	case HOOKS_UPDATED:
		return "updated";
	case HOOKS_UNCHANGED:
		return "unchanged";
	case HOOKS_REMOVED:
		return "removed";
	case HOOKS_RESTORED:
		return "restored";
	case HOOKS_NOT_OURS:
		return "not_ours";
	case HOOKS_ABSENT:
		return "absent";
	}
	return "unknown";
}

bool hooks_in_hook(void)
{
	const char *v = getenv("GIT_WORKTREE_PORTS_HOOK");

	return v && !strcmp(v, "1");
}

/* Hook managers */

/* The same lines as docs/hooks.md; t0502 runs each with its manager. */
static const char husky_snippet[] =
	"[ \"$3\" != 1 ] || [ \"${GIT_WORKTREE_PORTS_SKIP-}\" = 1 ] ||\n"
	"\tGIT_WORKTREE_PORTS_HOOK=1 git worktree-ports sync || true\n";

static const char lefthook_snippet[] =
	"post-checkout:\n"
	"  commands:\n"
	"    worktree-ports:\n"
	"      run: '[ \"{3}\" != 1 ] || [ \"${GIT_WORKTREE_PORTS_SKIP-}\" = 1 ] || GIT_WORKTREE_PORTS_HOOK=1 git worktree-ports sync || true'\n";

static const char pre_commit_snippet[] =
	"repos:\n"
	"  - repo: local\n"
	"    hooks:\n"
	"      - id: worktree-ports\n"
	"        name: worktree ports\n"
	"        language: system\n"
	"        entry: sh -c '[ \"$PRE_COMMIT_CHECKOUT_TYPE\" != 1 ] || [ \"${GIT_WORKTREE_PORTS_SKIP-}\" = 1 ] || GIT_WORKTREE_PORTS_HOOK=1 git worktree-ports sync || true'\n"
	"        stages: [post-checkout]\n"
	"        always_run: true\n"
	"        pass_filenames: false\n";

/* Each manager's name, config file and lines, indexed by the enum. */
static const struct {
	const char *name, *config, *snippet;
} managers[] = {
	[HOOKS_MANAGER_NONE] = { NULL, NULL, NULL },
	[HOOKS_MANAGER_HUSKY] = { "husky", ".husky/post-checkout",
				  husky_snippet },
	[HOOKS_MANAGER_LEFTHOOK] = { "lefthook", "lefthook.yml",
				     lefthook_snippet },
	[HOOKS_MANAGER_PRE_COMMIT] = { "pre-commit", ".pre-commit-config.yaml",
				       pre_commit_snippet },
};

const char *hooks_manager_name(enum hooks_manager m)
{
	return managers[m].name;
}

const char *hooks_manager_config(enum hooks_manager m)
{
	return managers[m].config;
}

const char *hooks_manager_snippet(enum hooks_manager m)
{
	return managers[m].snippet;
}

static const char *const lefthook_files[] = {
	"lefthook.yml",	       ".lefthook.yml",	       "lefthook.yaml",
	".lefthook.yaml",      "lefthook.toml",	       ".lefthook.toml",
	"lefthook.json",       ".lefthook.json",       "lefthook-local.yml",
	".lefthook-local.yml", "lefthook-local.yaml", ".lefthook-local.yaml",
	NULL,
};

static bool exists_in(const char *top, const char *name)
{
	struct sbuf path = SBUF_INIT;
	bool ret;

	sbuf_addf(&path, "%s/%s", top, name);
	ret = exists(path.buf);
	sbuf_release(&path);
	return ret;
}

static bool mentions_us(const char *top, const char *name)
{
	struct sbuf path = SBUF_INIT, text = SBUF_INIT;
	bool ret;

	sbuf_addf(&path, "%s/%s", top, name);
	ret = !sbuf_read_file(&text, path.buf) &&
	      strstr(text.buf, "worktree-ports") != NULL;
	sbuf_release(&path);
	sbuf_release(&text);
	return ret;
}

enum hooks_manager hooks_manager_of(const char *top, const char *hooks_dir,
				    const char *hook_text)
{
	size_t i;

	if (top) {
		struct sbuf husky = SBUF_INIT;
		bool in_husky;

		sbuf_addf(&husky, "%s/.husky", top);
		in_husky = hooks_dir && path_is_under(hooks_dir, husky.buf);
		sbuf_release(&husky);
		if (in_husky)
			return HOOKS_MANAGER_HUSKY;
		for (i = 0; lefthook_files[i]; i++)
			if (exists_in(top, lefthook_files[i]))
				return HOOKS_MANAGER_LEFTHOOK;
		if (exists_in(top, ".pre-commit-config.yaml"))
			return HOOKS_MANAGER_PRE_COMMIT;
	}
	if (!hook_text)
		return HOOKS_MANAGER_NONE;
	if (strstr(hook_text, "lefthook"))
		return HOOKS_MANAGER_LEFTHOOK;
	if (strstr(hook_text, "husky") ||
	    (hooks_dir && strstr(hooks_dir, "/.husky")))
		return HOOKS_MANAGER_HUSKY;
	if (strstr(hook_text, "pre-commit"))
		return HOOKS_MANAGER_PRE_COMMIT;
	return HOOKS_MANAGER_NONE;
}

bool hooks_manager_runs_us(enum hooks_manager m, const char *top)
{
	size_t i;

	if (!top)
		return false;
	switch (m) {
	case HOOKS_MANAGER_HUSKY:
		return mentions_us(top, ".husky/post-checkout");
	case HOOKS_MANAGER_LEFTHOOK:
		for (i = 0; lefthook_files[i]; i++)
			if (mentions_us(top, lefthook_files[i]))
				return true;
		return false;
	case HOOKS_MANAGER_PRE_COMMIT:
		return mentions_us(top, ".pre-commit-config.yaml");
	case HOOKS_MANAGER_NONE:
		break;
	}
	return false;
}

/* The check that the hook is still installed */

#define HOOKS_RECORD "worktree-ports/hooks"

static void record_path(struct sbuf *out, const struct wt_repo *repo)
{
	sbuf_addf(out, "%s/%s", repo->commondir, HOOKS_RECORD);
}

void hooks_record(const struct wt_repo *repo, const char *dir)
{
	struct sbuf path = SBUF_INIT, text = SBUF_INIT;
	struct error err = ERROR_INIT;

	record_path(&path, repo);
	if (!dir) {
		if (unlink(path.buf) < 0 && errno != ENOENT)
			warning("cannot remove '%s': %s", path.buf,
				strerror(errno));
		goto out;
	}
	sbuf_addf(&text, "%s\n", dir);
	if (mkdir_parents(path.buf, &err) < 0 ||
	    lockfile_replace(path.buf, text.buf, text.len, 0666, 0, &err) < 0)
		warning_error(&err, "whether the hook stays installed is not checked");
out:
	error_clear(&err);
	sbuf_release(&path);
	sbuf_release(&text);
}

/*
 * pre-commit installs over a hook by renaming it post-checkout.legacy,
 * and runs it before its own ("legacy mode"): ours there still runs.
 */
static bool ours_runs_as_legacy(const char *dir)
{
	struct sbuf path = SBUF_INIT, text = SBUF_INIT;
	struct error err = ERROR_INIT;
	enum hook_state state;
	bool ret;

	sbuf_addf(&path, "%s/%s.legacy", dir, HOOKS_NAME);
	ret = !hook_state(&state, path.buf, &text, &err) && state == HOOK_OURS;
	error_clear(&err);
	sbuf_release(&path);
	sbuf_release(&text);
	return ret;
}

void hooks_check_release(struct hooks_check *c)
{
	free(c->hook);
	c->hook = NULL;
}

void hooks_check(struct hooks_check *out, const struct wt_repo *repo)
{
	struct sbuf path = SBUF_INIT, text = SBUF_INIT;
	struct error err = ERROR_INIT;
	enum hook_state state;
	bool relative = false;
	char *dir = NULL;
	const char *top = repo->main_path ? repo->main_path : repo->path;

	out->state = HOOKS_CHECK_UNKNOWN;
	out->manager = HOOKS_MANAGER_NONE;
	out->hook = NULL;
	record_path(&path, repo);
	if (sbuf_read_file(&text, path.buf) < 0)
		goto out; /* never installed, or uninstalled */
	if (hooks_find_dir(&dir, &relative, repo, &err) < 0)
		goto out;
	if (relative && repo->main_path && repo->path &&
	    strcmp(repo->path, repo->main_path)) {
		/*
		 * A relative core.hooksPath (husky's ".husky/_") is one
		 * directory per worktree; 'git worktree add' run in the main
		 * worktree uses the main worktree's, which is the one that
		 * matters for new worktrees.
		 */
		char *value = NULL;

		free(dir);
		dir = NULL;
		if (wt_config_get(&value, repo, "core.hooksPath", &err) < 0 ||
		    !value)
			goto out;
		dir = hooks_resolve_path(value, repo->main_path,
					 getenv("HOME"));
		free(value);
		if (!dir)
			goto out;
	}
	sbuf_reset(&path);
	sbuf_reset(&text);
	sbuf_addf(&path, "%s/%s", dir, HOOKS_NAME);
	if (hook_state(&state, path.buf, &text, &err) < 0)
		goto out;
	if (state == HOOK_OURS) {
		out->state = HOOKS_CHECK_FINE;
		goto out;
	}
	out->manager = hooks_manager_of(top, dir,
					state == HOOK_ABSENT ? NULL : text.buf);
	if (hooks_manager_runs_us(out->manager, top) ||
	    (state == HOOK_FOREIGN && ours_runs_as_legacy(dir))) {
		out->state = HOOKS_CHECK_FINE;
		goto out;
	}
	out->state = state == HOOK_ABSENT ? HOOKS_CHECK_MISSING :
					    HOOKS_CHECK_REPLACED;
	out->hook = sbuf_detach(&path);
out:
	error_clear(&err);
	free(dir);
	sbuf_release(&path);
	sbuf_release(&text);
}

void hooks_check_warn(const struct hooks_check *c)
{
	const char *name = hooks_manager_name(c->manager);

	if (c->state != HOOKS_CHECK_REPLACED && c->state != HOOKS_CHECK_MISSING)
		return;
	if (c->state == HOOKS_CHECK_MISSING)
		warning("the post-checkout hook of git-worktree-ports is gone from '%s': new worktrees get no ports and no .env",
			text_printable(c->hook));
	else if (name)
		warning("%s replaced the post-checkout hook of git-worktree-ports ('%s'): new worktrees get no ports and no .env",
			name, text_printable(c->hook));
	else
		warning("another post-checkout hook replaced the one of git-worktree-ports ('%s'): new worktrees get no ports and no .env",
			text_printable(c->hook));
	if (name)
		hint("run 'git worktree-ports install-hooks'; to survive %s's next install, add to %s the lines 'git worktree-ports install-hooks --snippet' prints",
		     name, hooks_manager_config(c->manager));
	else
		hint("run 'git worktree-ports install-hooks', which chains the hook that is there now");
}

bool hooks_drop_manager_copy(const char *dir)
{
	struct sbuf path = SBUF_INIT, text = SBUF_INIT;
	struct error err = ERROR_INIT;
	enum hook_state state;
	bool ret = false;

	sbuf_addf(&path, "%s/%s.old", dir, HOOKS_NAME);
	if (!hook_state(&state, path.buf, &text, &err) && state == HOOK_OURS)
		ret = !unlink(path.buf);
	error_clear(&err);
	sbuf_release(&path);
	sbuf_release(&text);
	return ret;
}

/* Is 'dir' inside the repository: one of its worktrees or its git dir? */
static bool in_repository(const char *dir, const struct wt_repo *repo)
{
	return path_is_under(dir, repo->commondir) ||
	       (repo->main_path && path_is_under(dir, repo->main_path)) ||
	       (repo->path && path_is_under(dir, repo->path));
}

int hooks_setup(struct hooks_result *out, const struct wt_repo *repo,
		bool shared_ok, struct error *err)
{
	char *dir = NULL;
	int ret;

	result_init(out, ".");
	ret = hooks_find_dir(&dir, NULL, repo, err);
	if (ret < 0)
		goto out;
	if (!shared_ok && !in_repository(dir, repo)) {
		ret = error_set(err, ERR_EXISTS, NULL, 0, "core.hooksPath",
				"'%s' is outside this repository: a hook installed there runs in every repository that uses it",
				dir);
		error_hint(err, "use 'git worktree-ports install-hooks --shared-hooks' if that is what you want, or set core.hooksPath for this repository only");
		goto out;
	}
	hooks_result_release(out);
	if (ours_runs_as_legacy(dir)) {
		/* chaining pre-commit's hook would run ours twice */
		result_init(out, dir);
		out->action = HOOKS_UNCHANGED;
		hooks_record(repo, dir);
		goto out;
	}
	ret = hooks_install(out, dir, err);
	if (ret < 0)
		goto out;
	hooks_record(repo, dir);
	hooks_drop_manager_copy(dir);
out:
	free(dir);
	return ret;
}

int hooks_teardown(struct hooks_result *out, const struct wt_repo *repo,
		   struct error *err)
{
	char *dir = NULL;
	int ret;

	result_init(out, ".");
	ret = hooks_find_dir(&dir, NULL, repo, err);
	if (ret < 0)
		goto out;
	hooks_result_release(out);
	ret = hooks_uninstall(out, dir, err);
	if (ret < 0)
		goto out;
	if (out->action != HOOKS_NOT_OURS)
		hooks_record(repo, NULL);
out:
	free(dir);
	return ret;
}
