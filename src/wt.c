#include "common.h"
#include "wt.h"
#include "error.h"
#include "nameset.h"
#include "sbuf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wt-libgit2.h"

#define NOREPO_HINT "run the command inside a worktree, or use -C <path>"

/* wt_open() hands the directory to libgit2 instead (a git dir itself). */
#define USE_LIBGIT2 1

static bool started;
static bool started_ever;

bool wt_libgit2_started(void)
{
	return started_ever;
}

void wt_shutdown(void)
{
	if (!started)
		return;
	lg2.libgit2_shutdown();
	started = false;
}

/* Copy libgit2's message for the failure that just happened. */
static int git_fail(struct error *err, int code)
{
	const git_error *e = lg2.error_last();

	error_set(err, code, NULL, 0, NULL, "%s",
		  e && e->message ? e->message : "libgit2 failed");
	lg2.error_clear();
	return code;
}

int wt_libgit2_start(struct error *err)
{
	int ret;

	if (started)
		return 0;
	ret = wt_libgit2_load(err);
	if (ret < 0)
		return ret;
	if (lg2.libgit2_init() < 0)
		return git_fail(err, ERR_FAIL);
	/*
	 * wt_open() has made git's ownership check, with git's rules
	 * (check_ownership()); libgit2's own differs (it trusts a root-owned
	 * repository, ignores $SUDO_UID and 'git -c safe.directory') and
	 * must not refuse a repository git accepts.
	 */
	if (lg2.libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0) < 0) {
		ret = git_fail(err, ERR_FAIL);
		lg2.libgit2_shutdown();
		return ret;
	}
	started = true;
	started_ever = true;
	return 0;
}

/* Open the repository at exactly 'gitdir', starting libgit2 if need be. */
static int open_gitdir(git_repository **out, const char *gitdir,
		       struct error *err)
{
	int ret;

	*out = NULL;
	ret = wt_libgit2_start(err);
	if (ret < 0)
		return ret;
	if (lg2.repository_open_ext(out, gitdir, GIT_REPOSITORY_OPEN_NO_SEARCH,
				    NULL) < 0)
		return git_fail(err, ERR_FAIL);
	return 0;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISDIR(st.st_mode);
}

static bool is_file(const char *path)
{
	struct stat st;

	return !stat(path, &st) && S_ISREG(st.st_mode);
}

static bool exists(const char *path)
{
	struct stat st;

	return !stat(path, &st);
}

static char *join(const char *dir, const char *name)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addstr(&sb, dir);
	if (!sb.len || sb.buf[sb.len - 1] != '/')
		sbuf_addch(&sb, '/');
	sbuf_addstr(&sb, name);
	return sbuf_detach(&sb);
}

/* 'path' taken relative to 'base' unless it is absolute. */
static char *resolve(const char *base, const char *path)
{
	return path[0] == '/' ? xstrdup(path) : join(base, path);
}

/*
 * The canonical form of an existing path, as realpath(3) gives it: the
 * only form two paths can be compared in. NULL with errno set if the path
 * does not exist.
 */
static char *canonical(const char *path)
{
	char *p = realpath(path, NULL);

	if (!p && errno == ENOMEM)
		die_oom("resolving a path");
	return p;
}

/* The parent of a canonical path; "/" is its own parent. */
static char *parent_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash || slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* The first line of a small file, without trailing white space. */
static int read_line(struct sbuf *sb, const char *path)
{
	char *nl;

	sbuf_reset(sb);
	if (sbuf_read_file(sb, path) < 0)
		return -1;
	nl = memchr(sb->buf, '\n', sb->len);
	if (nl)
		sbuf_setlen(sb, (size_t)(nl - sb->buf));
	sbuf_rtrim(sb);
	return 0;
}

/* Does 'dir' hold what every git dir has: a HEAD file? */
static bool has_head(const char *dir)
{
	char *head = join(dir, "HEAD");
	bool ret = is_file(head);

	free(head);
	return ret;
}

/*
 * Is 'dir' itself a git dir, as a bare repository or the inside of '.git'
 * is: HEAD, and objects/ and refs/ or the commondir file of a linked
 * worktree's git dir?
 */
static bool is_gitdir(const char *dir)
{
	char *objects = join(dir, "objects");
	char *refs = join(dir, "refs");
	char *commondir = join(dir, "commondir");
	bool ret = has_head(dir) &&
		   ((is_dir(objects) && is_dir(refs)) || is_file(commondir));

	free(objects);
	free(refs);
	free(commondir);
	return ret;
}

/*
 * Read a '.git' file, "gitdir: <path>", in 'dir'. Like git, a malformed
 * file or one that points nowhere ends the search: the worktree is broken
 * (typically pruned), and a repository further up is not the one meant.
 */
static int read_gitfile(char **out, const char *dotgit, const char *dir,
			struct error *err)
{
	struct sbuf text = SBUF_INIT;
	char *target = NULL;
	int ret = 0;

	*out = NULL;
	if (read_line(&text, dotgit) < 0) {
		ret = error_errno(err, dotgit, "cannot read the .git file");
		goto out;
	}
	if (strncmp(text.buf, "gitdir: ", 8) || !text.buf[8]) {
		ret = error_set(err, ERR_NOREPO, dotgit, 0, NULL,
				"invalid gitfile format");
		goto out;
	}
	target = resolve(dir, text.buf + 8);
	*out = canonical(target);
	if (!*out || !has_head(*out)) {
		free(*out);
		*out = NULL;
		ret = error_set(err, ERR_NOREPO, dotgit, 0, NULL,
				"not a git repository: '%s'", target);
		error_hint(
			err,
			"the worktree was pruned or its repository moved; 'git worktree repair' fixes a moved one");
	}
out:
	free(target);
	sbuf_release(&text);
	return ret;
}

/*
 * Does 'dir' hold a '.git' (directory or file) that leads to 'commondir'?
 * That is what makes 'dir' the main worktree of 'commondir'.
 */
static bool points_to(const char *dir, const char *commondir)
{
	char *dotgit = join(dir, ".git");
	char *gitdir = NULL;
	struct stat st;
	bool ret = false;

	if (stat(dotgit, &st) < 0)
		goto out;
	if (S_ISDIR(st.st_mode))
		gitdir = canonical(dotgit);
	else if (S_ISREG(st.st_mode) &&
		 read_gitfile(&gitdir, dotgit, dir, NULL) < 0)
		goto out;
	ret = gitdir && !strcmp(gitdir, commondir);
out:
	free(gitdir);
	free(dotgit);
	return ret;
}

/*
 * The common dir of 'gitdir': what its 'commondir' file names (relative to
 * 'gitdir'), else 'gitdir' itself.
 */
static int find_commondir(char **out, const char *gitdir, struct error *err)
{
	struct sbuf text = SBUF_INIT;
	char *file = join(gitdir, "commondir");
	char *target = NULL;
	int ret = 0;

	*out = NULL;
	if (read_line(&text, file) < 0 || !text.len) {
		*out = xstrdup(gitdir);
		goto out;
	}
	target = resolve(gitdir, text.buf);
	*out = canonical(target);
	if (!*out)
		ret = error_set(err, ERR_NOREPO, file, 0, NULL,
				"not a git repository: '%s'", target);
out:
	free(target);
	free(file);
	sbuf_release(&text);
	return ret;
}

/*
 * What the common config says about where the main worktree is, read
 * without libgit2: core.bare, and whether anything there needs a real
 * config parser (core.worktree, includes, per-worktree config, a value
 * this reader does not know). In doubt, libgit2 decides.
 */
struct config_sniff {
	bool unsure;
	int bare; /* -1: not set */
};

static bool word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !strncasecmp(s, word, len);
}

static int parse_bool(const char *s, size_t len)
{
	if (!len || word_is(s, len, "false") || word_is(s, len, "no") ||
	    word_is(s, len, "off") || word_is(s, len, "0"))
		return 0;
	if (word_is(s, len, "true") || word_is(s, len, "yes") ||
	    word_is(s, len, "on") || word_is(s, len, "1"))
		return 1;
	return -1;
}

static const char *skip_blank(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static bool is_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

/* One line of the config; 'section' is updated by section headers. */
static void sniff_line(struct config_sniff *cfg, char *section, size_t size,
		       const char *p, const char *end)
{
	const char *name, *value;
	size_t len;

	p = skip_blank(p, end);
	if (p < end && *p == '[') {
		name = ++p;
		while (p < end && (is_name_char(*p) || *p == '.'))
			p++;
		len = (size_t)(p - name);
		if (word_is(name, len, "include") ||
		    word_is(name, len, "includeif")) {
			cfg->unsure = true;
			return;
		}
		/* A subsection, [core "x"], is not [core]. */
		snprintf(section, size, "%.*s",
			 p < end && *p == ']' ? (int)len : 0, name);
		p = memchr(p, ']', (size_t)(end - p));
		if (!p) {
			cfg->unsure = true;
			return;
		}
		p = skip_blank(p + 1, end);
	}
	if (p == end || *p == '#' || *p == ';')
		return;
	name = p;
	while (p < end && is_name_char(*p))
		p++;
	len = (size_t)(p - name);
	p = skip_blank(p, end);
	if (p < end && *p != '=') {
		cfg->unsure = true;
		return;
	}
	value = p < end ? skip_blank(p + 1, end) : NULL;
	if (!strcasecmp(section, "extensions") &&
	    word_is(name, len, "worktreeconfig"))
		cfg->unsure = true;
	if (strcasecmp(section, "core"))
		return;
	if (word_is(name, len, "worktree")) {
		cfg->unsure = true;
	} else if (word_is(name, len, "bare")) {
		cfg->bare =
			value ? parse_bool(value, (size_t)(end - value)) : 1;
		if (cfg->bare < 0)
			cfg->unsure = true;
	}
}

static void sniff_config(struct config_sniff *cfg, const char *commondir)
{
	struct sbuf text = SBUF_INIT;
	char *path = join(commondir, "config");
	char section[32] = "";
	const char *line, *end, *eol, *next;

	cfg->unsure = false;
	cfg->bare = -1;
	if (sbuf_read_file(&text, path) < 0) {
		cfg->unsure = true;
		goto out;
	}
	end = text.buf + text.len;
	for (line = text.buf; line < end && !cfg->unsure; line = next) {
		eol = memchr(line, '\n', (size_t)(end - line));
		next = eol ? eol + 1 : end;
		eol = eol ? eol : end;
		while (eol > line && strchr(" \t\r", eol[-1]))
			eol--;
		sniff_line(cfg, section, sizeof(section), line, eol);
	}
out:
	free(path);
	sbuf_release(&text);
}

/*
 * Set 'main_path' and 'bare' from libgit2's view of the common dir. Its
 * work dir is core.worktree when set, else the parent of the common dir,
 * which is the main worktree only if its '.git' leads back here (with
 * --separate-git-dir it is some unrelated directory).
 */
static int find_main_libgit2(struct wt_repo *repo, bool top_from_config,
			     struct error *err)
{
	git_repository *r = NULL;
	char *workdir = NULL;
	char *parent = NULL;
	int ret;

	ret = open_gitdir(&r, repo->commondir, err);
	if (ret < 0)
		goto out;
	if (lg2.repository_is_bare(r) || !lg2.repository_workdir(r)) {
		repo->bare = true;
		goto out;
	}
	workdir = canonical(lg2.repository_workdir(r));
	if (!workdir)
		goto out;
	parent = parent_dir(repo->commondir);
	if (strcmp(workdir, parent)) {
		/* core.worktree: git takes it as the main worktree's top. */
		repo->main_path = xstrdup(workdir);
		if (top_from_config && !strcmp(repo->gitdir, repo->commondir)) {
			free(repo->path);
			repo->path = xstrdup(workdir);
		}
	} else if (points_to(workdir, repo->commondir)) {
		repo->main_path = xstrdup(workdir);
	}
out:
	free(parent);
	free(workdir);
	lg2_repository_free(r);
	return ret;
}

/*
 * Set 'main_path' and 'bare'. They depend on the common dir alone, so
 * that every worktree of the repository agrees on them. A plain config
 * answers without libgit2.
 */
static int find_main(struct wt_repo *repo, bool top_from_config,
		     struct error *err)
{
	struct config_sniff cfg;
	bool dotgit = !strcmp(base_name(repo->commondir), ".git");
	char *parent = NULL;

	sniff_config(&cfg, repo->commondir);
	if (cfg.unsure || (cfg.bare < 0 && !dotgit))
		return find_main_libgit2(repo, top_from_config, err);
	if (cfg.bare > 0) {
		repo->bare = true;
		return 0;
	}
	parent = parent_dir(repo->commondir);
	if (dotgit || points_to(parent, repo->commondir)) {
		repo->main_path = parent;
		parent = NULL;
	}
	free(parent);
	return 0;
}

/*
 * Fill everything else once 'gitdir' and 'path' are known: 'commondir',
 * 'name', 'main_path' and 'bare'.
 */
static int fill_from_gitdir(struct wt_repo *repo, bool top_from_config,
			    struct error *err)
{
	int ret;

	ret = find_commondir(&repo->commondir, repo->gitdir, err);
	if (ret < 0)
		return ret;
	if (repo->path)
		repo->name = xstrdup(strcmp(repo->gitdir, repo->commondir)
					     ? base_name(repo->gitdir)
					     : WT_MAIN_NAME);
	return find_main(repo, top_from_config, err);
}

/*
 * git's ownership check (ensure_valid_ownership() in git 2.39's setup.c),
 * made by the walk on what it finds, so that a command never works in a
 * repository git itself refuses as "dubious ownership".
 */

/* A boolean in the environment, as git_env_bool() reads one. */
static bool env_bool(const char *name)
{
	const char *value = getenv(name);
	char *end;
	long n;

	if (!value)
		return false;
	switch (parse_bool(value, strlen(value))) {
	case 0:
		return false;
	case 1:
		return true;
	}
	n = strtol(value, &end, 10);
	return *end || n != 0;
}

/*
 * Is 'path' itself (a link, not what it points to) owned by the user
 * running? Root running under sudo is taken to be the user who ran sudo,
 * $SUDO_UID, for a path root does not own.
 */
static bool owned_by_user(const char *path)
{
	const char *sudo_uid = getenv("SUDO_UID");
	uid_t uid = geteuid();
	struct stat st;

	if (lstat(path, &st) < 0)
		return false;
	if (uid == 0 && st.st_uid != 0 && sudo_uid && *sudo_uid) {
		unsigned long id;
		char *end;

		errno = 0;
		id = strtoul(sudo_uid, &end, 10);
		if (!*end && !errno)
			uid = (uid_t)id;
	}
	return st.st_uid == uid;
}

/*
 * A safe.directory value with '~/' or '~user/' expanded, as git expands a
 * path in its config; NULL when the home is unknown.
 */
static char *expand_home(const char *value)
{
	const char *slash, *home;
	struct sbuf sb = SBUF_INIT;

	if (value[0] != '~')
		return xstrdup(value);
	slash = strchr(value, '/');
	if (!slash)
		slash = value + strlen(value);
	if (slash == value + 1) {
		home = getenv("HOME");
	} else {
		char *name = xstrndup(value + 1, (size_t)(slash - value - 1));
		struct passwd *pw = getpwnam(name);

		free(name);
		home = pw ? pw->pw_dir : NULL;
	}
	if (!home)
		return NULL;
	sbuf_addf(&sb, "%s%s", home, slash);
	return sbuf_detach(&sb);
}

struct safe_directory {
	const char *path;
	bool safe;
	struct error *err;
};

/*
 * One safe.directory value: '*' admits every repository, the path
 * identifying the repository admits it, an empty value forgets the
 * values before it. Paths compare as strings, as in git 2.39.
 */
static int safe_directory_value(const char *key UNUSED, const char *value,
				void *payload)
{
	struct safe_directory *sd = payload;
	char *path;

	if (!value || !*value) {
		sd->safe = false;
		return 0;
	}
	if (!strcmp(value, "*")) {
		sd->safe = true;
		return 0;
	}
	path = expand_home(value);
	if (!path)
		return error_set(sd->err, ERR_FAIL, NULL, 0, "safe.directory",
				 "failed to expand user dir in: '%s'", value);
	if (!strcmp(path, sd->path))
		sd->safe = true;
	free(path);
	return 0;
}

/* 'path' quoted for a shell only if it needs it, as git quotes it. */
static void add_quoted(struct sbuf *sb, const char *path)
{
	const char *p;

	for (p = path; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("+,-./:=@_^", *p))
			break;
	if (*path && !*p) {
		sbuf_addstr(sb, path);
		return;
	}
	sbuf_addch(sb, '\'');
	for (p = path; *p; p++) {
		if (*p == '\'' || *p == '!')
			sbuf_addf(sb, "'\\%c'", *p);
		else
			sbuf_addch(sb, *p);
	}
	sbuf_addch(sb, '\'');
}

/*
 * May the repository found be used? Yes if the '.git' file (if any), the
 * worktree's top (if any) and the git dir all belong to the user running
 * (see owned_by_user()), unless $GIT_TEST_ASSUME_DIFFERENT_OWNER says
 * they do not (git's test knob). Otherwise only if safe.directory, from
 * the system, global or command-line config but never the repository's
 * own, is '*' or names the repository: its top, or the git dir of a bare
 * one. ERR_NOREPO with git's message if not.
 */
static int check_ownership(const char *gitfile, const char *top,
			   const char *gitdir, struct error *err)
{
	struct safe_directory sd = { top ? top : gitdir, false, err };
	struct sbuf quoted = SBUF_INIT;
	int ret;

	if (!env_bool("GIT_TEST_ASSUME_DIFFERENT_OWNER") &&
	    (!gitfile || owned_by_user(gitfile)) &&
	    (!top || owned_by_user(top)) && owned_by_user(gitdir))
		return 0;
	ret = wt_config_protected("safe.directory", safe_directory_value, &sd,
				  err);
	if (ret < 0 || sd.safe)
		return ret < 0 ? ret : 0;
	add_quoted(&quoted, sd.path);
	error_set(err, ERR_NOREPO, NULL, 0, NULL,
		  "detected dubious ownership in repository at '%s'", sd.path);
	error_hint(err,
		   "to add an exception for this directory, call: git config --global --add safe.directory %s",
		   quoted.buf);
	sbuf_release(&quoted);
	return ERR_NOREPO;
}

/*
 * Walk up from 'start' (canonical) as git's setup does: at each directory,
 * a '.git' directory with a HEAD or a '.git' file makes it the top of a
 * worktree; a directory that is a git dir itself is left to libgit2
 * (USE_LIBGIT2). Sets 'gitdir' and 'path'. With 'check_owner', what it
 * finds must pass git's ownership check, on the paths git checks: the
 * '.git' file, the top and the git dir it names, or the top and its
 * '.git' directory, or the git dir alone.
 */
static int discover(struct wt_repo *repo, const char *start, bool check_owner,
		    struct error *err)
{
	char *dir = xstrdup(start);
	char *dotgit = NULL;
	struct stat st;
	int ret = 0;

	for (;;) {
		free(dotgit);
		dotgit = join(dir, ".git");
		if (!stat(dotgit, &st)) {
			if (S_ISDIR(st.st_mode) && has_head(dotgit)) {
				repo->gitdir = canonical(dotgit);
				if (repo->gitdir) {
					if (check_owner)
						ret = check_ownership(
							NULL, dir, dotgit, err);
					if (ret < 0)
						goto out;
					break;
				}
			} else if (S_ISREG(st.st_mode)) {
				ret = read_gitfile(&repo->gitdir, dotgit, dir,
						   err);
				if (!ret && check_owner)
					ret = check_ownership(dotgit, dir,
							      repo->gitdir,
							      err);
				if (ret < 0)
					goto out;
				break;
			}
		}
		if (is_gitdir(dir)) {
			ret = check_owner ? check_ownership(NULL, NULL, dir, err)
					  : 0;
			if (!ret)
				ret = USE_LIBGIT2;
			goto out;
		}
		if (!strcmp(dir, "/")) {
			ret = error_set(
				err, ERR_NOREPO, NULL, 0, NULL,
				"not a git repository (or any parent up to '/')");
			error_hint(err, NOREPO_HINT);
			goto out;
		}
		*strrchr(dir, '/') = '\0';
		if (!dir[0])
			strcpy(dir, "/");
	}
	repo->path = dir;
	dir = NULL;
out:
	free(dotgit);
	free(dir);
	return ret;
}

/* libgit2 paths end in '/'; ours are canonical. */
static char *canonical_or_copy(const char *path)
{
	char *p = canonical(path);
	size_t len;

	if (p)
		return p;
	p = xstrdup(path);
	len = strlen(p);
	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	return p;
}

/*
 * Let libgit2 find the repository: from 'start', or with 'start' NULL
 * from the environment ($GIT_DIR).
 */
static int open_libgit2(struct wt_repo *repo, const char *start,
			struct error *err)
{
	git_repository *r = NULL;
	unsigned flags = start ? 0 : GIT_REPOSITORY_OPEN_FROM_ENV;
	int ret;

	ret = wt_libgit2_start(err);
	if (ret < 0)
		goto out;
	ret = lg2.repository_open_ext(&r, start, flags, NULL);
	if (ret < 0) {
		ret = git_fail(err,
			       ret == GIT_ENOTFOUND ? ERR_NOREPO : ERR_FAIL);
		error_hint(err, NOREPO_HINT);
		goto out;
	}
	repo->gitdir = canonical_or_copy(lg2.repository_path(r));
	repo->commondir = canonical_or_copy(lg2.repository_commondir(r));
	if (!lg2.repository_is_bare(r) && lg2.repository_workdir(r)) {
		repo->path = canonical_or_copy(lg2.repository_workdir(r));
		repo->name = xstrdup(strcmp(repo->gitdir, repo->commondir)
					     ? base_name(repo->gitdir)
					     : WT_MAIN_NAME);
	}
	lg2_repository_free(r);
	r = NULL;
	ret = find_main(repo, false, err);
out:
	lg2_repository_free(r);
	return ret;
}

/* $GIT_DIR and $GIT_WORK_TREE both set: they say it all. */
static int open_env(struct wt_repo *repo, const char *env_dir,
		    const char *env_tree, struct error *err)
{
	repo->gitdir = canonical(env_dir);
	if (!repo->gitdir || !has_head(repo->gitdir)) {
		error_set(err, ERR_NOREPO, NULL, 0, NULL,
			  "not a git repository: '%s'", env_dir);
		error_hint(err,
			   "unset GIT_DIR, or point it at a git directory");
		return ERR_NOREPO;
	}
	repo->path = canonical(env_tree);
	if (!repo->path)
		return error_errno(err, NULL, "cannot use $GIT_WORK_TREE '%s'",
				   env_tree);
	return fill_from_gitdir(repo, false, err);
}

/*
 * $GIT_DIR without $GIT_WORK_TREE, as git sets it for hooks. When the
 * usual search from 'start' finds that same git dir, the variable changes
 * nothing and the search's answer stands; otherwise libgit2 applies it.
 */
static int open_env_dir(struct wt_repo *repo, const char *start,
			const char *env_dir, struct error *err)
{
	struct error ignored = ERROR_INIT;
	char *want = canonical(env_dir);

	if (want && discover(repo, start, false, &ignored) == 0 &&
	    !strcmp(repo->gitdir, want)) {
		free(want);
		return fill_from_gitdir(repo, true, err);
	}
	free(want);
	free(repo->gitdir);
	free(repo->path);
	repo->gitdir = repo->path = NULL;
	return open_libgit2(repo, NULL, err);
}

/*
 * What worktrees/<name>/ holds, read the first time a command asks and
 * kept for the rest of it: a registry's check, its automatic release and
 * the map of who owns a process all ask about every worktree, and one
 * command should see one state of them.
 */
struct linked_files {
	char *name;
	bool locked;     /* worktrees/<name>/locked exists */
	bool registered; /* HEAD and commondir are there */
	char *top;       /* the parent of the '.git' gitdir names, if it exists */
};

struct wt_files {
	struct linked_files *items;
	size_t nr, alloc;
	struct nameset by_name;
};

static void files_key(const void *data, size_t i, const char **a,
		      const char **b)
{
	const struct wt_files *f = data;

	*a = f->items[i].name;
	*b = NULL;
}

static void files_read(struct linked_files *f, const char *commondir,
		       const char *name)
{
	struct sbuf sb = SBUF_INIT;
	char *dir, *file;

	sbuf_addf(&sb, "%s/worktrees/%s", commondir, name);
	dir = sbuf_detach(&sb);
	f->name = xstrdup(name);
	file = join(dir, "locked");
	f->locked = exists(file);
	free(file);
	file = join(dir, "commondir");
	f->registered = has_head(dir) && is_file(file);
	free(file);
	file = join(dir, "gitdir");
	f->top = NULL;
	if (!read_line(&sb, file) && sb.len) {
		char *target = resolve(dir, sb.buf);

		if (exists(target)) {
			char *parent = parent_dir(target);

			f->top = canonical_or_copy(parent);
			free(parent);
		}
		free(target);
	}
	free(file);
	free(dir);
	sbuf_release(&sb);
}

static struct wt_files *files_new(void)
{
	struct wt_files *f = xcalloc(1, sizeof(*f));

	nameset_init(&f->by_name, 16, files_key, f);
	return f;
}

static void linked_files_release(struct linked_files *l)
{
	free(l->name);
	free(l->top);
}

/*
 * The files of worktree 'name', read once per repository handle. A
 * handle made by hand (not by wt_open()) has no memo: the files are read
 * into 'scratch', which files_done() then releases.
 */
static const struct linked_files *files_of(const struct wt_repo *repo,
					   const char *name,
					   struct linked_files *scratch)
{
	struct wt_files *f = repo->files;
	long found;

	if (!f) {
		files_read(scratch, repo->commondir, name);
		return scratch;
	}
	found = nameset_find(&f->by_name, name, NULL);
	if (found >= 0)
		return &f->items[found];
	ALLOC_GROW(f->items, f->nr + 1, f->alloc);
	files_read(&f->items[f->nr], repo->commondir, name);
	nameset_add(&f->by_name, f->nr);
	return &f->items[f->nr++];
}

static void files_done(const struct linked_files *l,
		       struct linked_files *scratch)
{
	if (l == scratch)
		linked_files_release(scratch);
}

static void files_free(struct wt_files *f)
{
	size_t i;

	if (!f)
		return;
	for (i = 0; i < f->nr; i++)
		linked_files_release(&f->items[i]);
	free(f->items);
	nameset_release(&f->by_name);
	free(f);
}


int wt_open(struct wt_repo **out, const char *dir, struct error *err)
{
	struct wt_repo *repo = xcalloc(1, sizeof(*repo));
	const char *env_dir = getenv("GIT_DIR");
	const char *env_tree = getenv("GIT_WORK_TREE");
	char *start;
	int ret;

	*out = NULL;
	start = canonical(dir ? dir : ".");
	if (!start) {
		ret = error_errno(err, NULL, "cannot use the directory '%s'",
				  dir ? dir : ".");
		goto out;
	}
	if (env_dir && *env_dir && env_tree && *env_tree) {
		ret = open_env(repo, env_dir, env_tree, err);
	} else if (env_dir && *env_dir) {
		ret = open_env_dir(repo, start, env_dir, err);
	} else {
		ret = discover(repo, start, true, err);
		if (ret == USE_LIBGIT2)
			ret = open_libgit2(repo, start, err);
		else if (!ret)
			ret = fill_from_gitdir(repo, true, err);
	}
	if (ret < 0)
		goto out;
	repo->files = files_new();
	*out = repo;
	repo = NULL;
out:
	free(start);
	wt_free(repo);
	return ret;
}

void wt_forget(struct wt_repo *repo)
{
	if (!repo->files)
		return;
	files_free(repo->files);
	repo->files = files_new();
}

void wt_free(struct wt_repo *repo)
{
	if (!repo)
		return;
	free(repo->commondir);
	free(repo->gitdir);
	free(repo->main_path);
	free(repo->name);
	free(repo->path);
	files_free(repo->files);
	free(repo);
}

char *wt_default_registry(const struct wt_repo *repo)
{
	struct sbuf sb = SBUF_INIT;

	if (repo->main_path && !repo->bare)
		sbuf_addf(&sb, "%s/design/worktrees/ports.json",
			  repo->main_path);
	else
		sbuf_addf(&sb, "%s/worktree-ports/ports.json", repo->commondir);
	return sbuf_detach(&sb);
}

/* Names come from files: never let one climb out of 'worktrees/'. */
static bool valid_name(const char *name)
{
	return name[0] && strcmp(name, ".") && strcmp(name, "..") &&
	       !strchr(name, '/');
}

static int no_worktree(struct error *err, const char *name)
{
	error_set(err, ERR_NOTFOUND, NULL, 0, NULL, "no worktree '%s'", name);
	error_hint(err, "see 'git worktree list'");
	return ERR_NOTFOUND;
}

/*
 * What the files say, for the answers that need no confirming: the lock
 * file, or a registration whose '.git' is still where it says. For the
 * latter, '*top' (when 'top' is not NULL) is the worktree's canonical top
 * directory, the parent of that '.git'.
 */
static bool state_from_files(enum wt_state *out, char **top,
			     const struct wt_repo *repo, const char *name)
{
	struct linked_files scratch;
	const struct linked_files *f = files_of(repo, name, &scratch);
	bool ret = true;

	if (f->locked) {
		*out = WT_LOCKED;
	} else if (f->registered && f->top) {
		*out = WT_ALIVE;
		if (top)
			*top = xstrdup(f->top);
	} else {
		ret = false;
	}
	files_done(f, &scratch);
	return ret;
}

int wt_state(enum wt_state *out, const struct wt_repo *repo, const char *name,
	     struct error *err)
{
	return wt_state_path(out, NULL, repo, name, err);
}

int wt_state_path(enum wt_state *out, char **top, const struct wt_repo *repo,
		  const char *name, struct error *err)
{
	git_repository *r = NULL;
	git_worktree *w = NULL;
	int ret = 0;
	int locked;

	if (top)
		*top = NULL;
	if (!strcmp(name, WT_MAIN_NAME)) {
		*out = repo->bare ? WT_GONE : WT_ALIVE;
		if (top && !repo->bare && repo->main_path)
			*top = xstrdup(repo->main_path);
		return 0;
	}
	if (!valid_name(name))
		return no_worktree(err, name);
	if (state_from_files(out, top, repo, name))
		return 0;

	ret = open_gitdir(&r, repo->commondir, err);
	if (ret < 0)
		goto out;
	if (lg2.worktree_lookup(&w, r, name) < 0) {
		lg2.error_clear();
		*out = WT_GONE;
		goto out;
	}
	locked = lg2.worktree_is_locked(NULL, w);
	if (locked < 0) {
		ret = git_fail(err, ERR_FAIL);
		goto out;
	}
	if (locked)
		*out = WT_LOCKED;
	else if (lg2.worktree_validate(w) < 0)
		*out = WT_GONE;
	else
		*out = WT_ALIVE;
	lg2.error_clear();
out:
	lg2_worktree_free(w);
	lg2_repository_free(r);
	return ret;
}

void wt_info_release(struct wt_info *info)
{
	if (!info)
		return;
	free(info->name);
	free(info->path);
	memset(info, 0, sizeof(*info));
}

void wt_list_release(struct wt_list *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->nr; i++)
		wt_info_release(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->nr = 0;
}

static void main_info(struct wt_info *out, const struct wt_repo *repo)
{
	const char *path = repo->main_path;

	if (!path && repo->name && !strcmp(repo->name, WT_MAIN_NAME))
		path = repo->path;
	out->name = xstrdup(WT_MAIN_NAME);
	out->path = xstrdup_or_null(path);
	out->is_main = true;
	out->locked = false;
	out->valid = true;
}

/*
 * Fill 'out' for the linked worktree 'name': 0, 1 if libgit2 does not know
 * it, or a negative code.
 */
static int linked_info(struct wt_info *out, git_repository *r, const char *name,
		       struct error *err)
{
	git_worktree *w = NULL;
	const char *path;
	int locked;
	int ret = 0;

	if (lg2.worktree_lookup(&w, r, name) < 0) {
		lg2.error_clear();
		return 1;
	}
	locked = lg2.worktree_is_locked(NULL, w);
	if (locked < 0) {
		ret = git_fail(err, ERR_FAIL);
		goto out;
	}
	path = lg2.worktree_path(w);
	out->name = xstrdup(name);
	out->path = path ? canonical_or_copy(path) : NULL;
	out->is_main = false;
	out->locked = locked > 0;
	out->valid = lg2.worktree_validate(w) == 0;
	lg2.error_clear();
out:
	lg2_worktree_free(w);
	return ret;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int wt_list(struct wt_list *out, const struct wt_repo *repo, struct error *err)
{
	struct wt_list list = WT_LIST_INIT;
	git_strarray names = { NULL, 0 };
	git_repository *r = NULL;
	size_t i;
	int ret;

	out->items = NULL;
	out->nr = 0;
	ret = open_gitdir(&r, repo->commondir, err);
	if (ret < 0)
		goto out;
	if (lg2.worktree_list(&names, r) < 0) {
		ret = git_fail(err, ERR_FAIL);
		goto out;
	}
	if (names.count)
		qsort(names.strings, names.count, sizeof(*names.strings),
		      cmp_names);
	list.items = xcalloc(names.count + 1, sizeof(*list.items));
	if (!repo->bare)
		main_info(&list.items[list.nr++], repo);
	for (i = 0; i < names.count; i++) {
		ret = linked_info(&list.items[list.nr], r, names.strings[i],
				  err);
		if (ret < 0)
			goto out;
		if (!ret)
			list.nr++;
	}
	ret = 0;
	*out = list;
	list.items = NULL;
	list.nr = 0;
out:
	wt_list_release(&list);
	lg2_strarray_dispose(&names);
	lg2_repository_free(r);
	return ret;
}

int wt_lookup(struct wt_info *out, const struct wt_repo *repo, const char *name,
	      struct error *err)
{
	git_repository *r = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!strcmp(name, WT_MAIN_NAME)) {
		if (repo->bare)
			return no_worktree(err, name);
		main_info(out, repo);
		return 0;
	}
	if (!valid_name(name))
		return no_worktree(err, name);
	ret = open_gitdir(&r, repo->commondir, err);
	if (ret < 0)
		goto out;
	ret = linked_info(out, r, name, err);
	if (ret > 0)
		ret = no_worktree(err, name);
out:
	lg2_repository_free(r);
	return ret;
}

/*
 * A linked worktree as its files say: the directory holding the '.git'
 * that 'worktrees/<name>/gitdir' names, when that '.git' exists.
 */
static bool linked_from_files(struct wt_info *out, const struct wt_repo *repo,
			      const char *name)
{
	struct linked_files scratch;
	const struct linked_files *f = files_of(repo, name, &scratch);
	bool ret = f->top != NULL;

	if (ret) {
		out->name = xstrdup(name);
		out->path = xstrdup(f->top);
		out->is_main = false;
		out->locked = f->locked;
		out->valid = true;
	}
	files_done(f, &scratch);
	return ret;
}

int wt_list_files(struct wt_list *out, const struct wt_repo *repo)
{
	struct sbuf sb = SBUF_INIT;
	char **names = NULL;
	size_t nr = 0, alloc = 0, i, alloc_items;
	struct dirent *de;
	DIR *d;

	out->items = NULL;
	out->nr = 0;
	sbuf_addf(&sb, "%s/worktrees", repo->commondir);
	d = opendir(sb.buf);
	while (d && (de = readdir(d))) {
		if (!valid_name(de->d_name) || !strcmp(de->d_name, "."))
			continue;
		ALLOC_GROW(names, nr + 1, alloc);
		names[nr++] = xstrdup(de->d_name);
	}
	if (d)
		closedir(d);
	if (nr > 1)
		qsort(names, nr, sizeof(*names), cmp_names);
	alloc_items = nr + 1;
	out->items = xcalloc(alloc_items, sizeof(*out->items));
	if (!repo->bare)
		main_info(&out->items[out->nr++], repo);
	for (i = 0; i < nr; i++) {
		if (linked_from_files(&out->items[out->nr], repo, names[i]))
			out->nr++;
		free(names[i]);
	}
	free(names);
	sbuf_release(&sb);
	return 0;
}
