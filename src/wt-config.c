#include "common.h"
#include "wt.h"
#include "error.h"
#include "sbuf.h"

#include <ctype.h>
#include "wt-libgit2.h"
#include <stdio.h>

/* Does 'text' contain 'word', ignoring case? */
static bool mentions(const char *text, const char *word)
{
	size_t len = strlen(word);
	const char *p;

	for (p = text; *p; p++)
		if (!strncasecmp(p, word, len))
			return true;
	return false;
}

static bool file_mentions(const char *path, const char *section)
{
	struct sbuf text = SBUF_INIT;
	bool hit = false;

	if (path && !sbuf_read_file(&text, path))
		hit = mentions(text.buf, section) || mentions(text.buf, "include");
	sbuf_release(&text);
	return hit;
}

/*
 * Could any configuration file git reads for this repository set a key
 * of 'section'? False only when none mentions it nor includes others.
 */
static bool may_be_set(const struct wt_repo *repo, const char *section)
{
	struct sbuf path = SBUF_INIT;
	const char *home = getenv("HOME");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *global = getenv("GIT_CONFIG_GLOBAL");
	const char *system = getenv("GIT_CONFIG_SYSTEM");
	const char *nosystem = getenv("GIT_CONFIG_NOSYSTEM");
	bool hit = false;

	sbuf_addf(&path, "%s/config", repo->commondir);
	hit = file_mentions(path.buf, section);
	sbuf_reset(&path);
	sbuf_addf(&path, "%s/config.worktree", repo->gitdir);
	hit = hit || file_mentions(path.buf, section);
	if (global) {
		hit = hit || file_mentions(global, section);
	} else {
		if (home) {
			sbuf_reset(&path);
			sbuf_addf(&path, "%s/.gitconfig", home);
			hit = hit || file_mentions(path.buf, section);
		}
		sbuf_reset(&path);
		if (xdg && *xdg)
			sbuf_addf(&path, "%s/git/config", xdg);
		else if (home)
			sbuf_addf(&path, "%s/.config/git/config", home);
		hit = hit || (path.len && file_mentions(path.buf, section));
	}
	if (!nosystem || !*nosystem || !strcmp(nosystem, "0") ||
	    !strcasecmp(nosystem, "false"))
		hit = hit || file_mentions(system ? system : "/etc/gitconfig",
					   section);
	sbuf_release(&path);
	return hit;
}

int wt_config_get(char **out, const struct wt_repo *repo, const char *key,
		  struct error *err)
{
	const char *dot = strchr(key, '.');
	char *section = dot ? xstrndup(key, (size_t)(dot - key)) : xstrdup(key);
	git_repository *r = NULL;
	git_config *cfg = NULL;
	git_buf value = { 0 };
	int ret = 0, rc;

	*out = NULL;
	if (!may_be_set(repo, section))
		goto out;
	ret = wt_libgit2_start(err);
	if (ret < 0)
		goto out;
	if (lg2.repository_open(&r, repo->gitdir) < 0 ||
	    lg2.repository_config_snapshot(&cfg, r) < 0) {
		const git_error *e = lg2.error_last();

		ret = error_set(err, ERR_FAIL, repo->gitdir, 0, NULL,
				"cannot read the git configuration: %s",
				e ? e->message : "unknown error");
		goto out;
	}
	rc = lg2.config_get_string_buf(&value, cfg, key);
	if (rc == GIT_ENOTFOUND)
		goto out;
	if (rc < 0) {
		const git_error *e = lg2.error_last();

		ret = error_set(err, ERR_FAIL, NULL, 0, key,
				"cannot read the git configuration: %s",
				e ? e->message : "unknown error");
		goto out;
	}
	*out = xstrdup(value.ptr);
out:
	lg2_buf_dispose(&value);
	lg2_config_free(cfg);
	lg2_repository_free(r);
	free(section);
	return ret;
}
