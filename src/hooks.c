#include "common.h"
#include "hooks.h"
#include "error.h"
#include "path.h"
#include "lockfile.h"
#include "sbuf.h"
#include "wt.h"

#include <errno.h>
#include <pwd.h>
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
	r->dir = r->hook = r->aside = NULL;
	r->chained = false;
	r->action = HOOKS_ABSENT;
}

static void result_init(struct hooks_result *r, const char *dir)
{
	struct sbuf path = SBUF_INIT;

	r->action = HOOKS_ABSENT;
	r->chained = false;
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

static int refuse_aside(const struct hooks_result *r, struct error *err)
{
	int ret = error_set(
		err, ERR_EXISTS, r->aside, 0, NULL,
		"a hook set aside by an earlier install is in the way");

	error_hint(
		err,
		"move it back to '%s' or remove it, then run 'git worktree-ports install-hooks'",
		HOOKS_NAME);
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
	if (out->chained) {
		ret = refuse_aside(out, err);
		goto out;
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
