#include "common.h"
#include "wt.h"
#include "error.h"
#include "sbuf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include "wt-libgit2.h"
#include <stdio.h>

#define CMDLINE_HINT                                                          \
	"git passes 'git -c' options in $GIT_CONFIG_PARAMETERS; fix or unset it, or $GIT_CONFIG_COUNT"

/* Is 'c' allowed in a section or variable name? */
static bool is_key_char(int c)
{
	return isalnum(c) || c == '-';
}

/*
 * Do 'a' and 'b' name the same variable? The section and the name ignore
 * case, the subsection between them does not ("a.Sub.b" == "A.Sub.B").
 */
static bool same_key(const char *a, const char *b)
{
	const char *a_first = strchr(a, '.'), *a_last = strrchr(a, '.');
	const char *b_first = strchr(b, '.'), *b_last = strrchr(b, '.');
	size_t a_sub, b_sub;

	if (!a_first || !b_first)
		return !a_first && !b_first && !strcasecmp(a, b);
	a_sub = (size_t)(a_last - a_first);
	b_sub = (size_t)(b_last - b_first);
	return a_first - a == b_first - b &&
	       !strncasecmp(a, b, (size_t)(a_first - a)) && a_sub == b_sub &&
	       !strncmp(a_first, b_first, a_sub) && !strcasecmp(a_last, b_last);
}

/*
 * git's check of a key from the command line (git_config_parse_key()):
 * "section[.subsection].name", the section and name of letters, digits
 * and '-', the name starting with a letter. '*out' is the key with its
 * section and name in lower case; the caller frees it.
 */
static int parse_key(char **out, const char *key, struct error *err)
{
	const char *first = strchr(key, '.');
	const char *last = strrchr(key, '.');
	char *canon;
	size_t i;

	*out = NULL;
	if (!*key)
		return error_set(err, ERR_USAGE, NULL, 0, NULL,
				 "empty config key");
	if (!last || last == key)
		return error_set(err, ERR_USAGE, NULL, 0, NULL,
				 "key does not contain a section: %s", key);
	if (!last[1])
		return error_set(err, ERR_USAGE, NULL, 0, NULL,
				 "key does not contain variable name: %s", key);
	canon = xstrdup(key);
	for (i = 0; key[i]; i++) {
		const char *p = key + i;

		if (p < first || p > last) {
			if (!is_key_char((unsigned char)*p) ||
			    (p == last + 1 && !isalpha((unsigned char)*p))) {
				free(canon);
				return error_set(err, ERR_USAGE, NULL, 0, NULL,
						 "invalid key: %s", key);
			}
			canon[i] = (char)tolower((unsigned char)*p);
		} else if (*p == '\n') {
			free(canon);
			return error_set(err, ERR_USAGE, NULL, 0, NULL,
					 "invalid key (newline): %s", key);
		}
	}
	*out = canon;
	return 0;
}

static int emit(const char *key, const char *value, wt_config_fn fn,
		void *payload, struct error *err)
{
	char *canon;
	int ret = parse_key(&canon, key, err);

	if (ret < 0)
		return ret;
	ret = fn(canon, value, payload);
	free(canon);
	return ret < 0 ? ret : 0;
}

/* $GIT_CONFIG_COUNT entries, GIT_CONFIG_KEY_<n>=GIT_CONFIG_VALUE_<n>. */
static int from_count(wt_config_fn fn, void *payload, struct error *err)
{
	const char *env = getenv("GIT_CONFIG_COUNT");
	char name[64];
	unsigned long count, i;
	char *end;
	int ret;

	if (!env)
		return 0;
	errno = 0;
	count = strtoul(env, &end, 10);
	if (*end)
		return error_set(err, ERR_USAGE, NULL, 0, NULL,
				 "bogus count in GIT_CONFIG_COUNT");
	if (count > INT_MAX || errno)
		return error_set(err, ERR_USAGE, NULL, 0, NULL,
				 "too many entries in GIT_CONFIG_COUNT");
	for (i = 0; i < count; i++) {
		const char *key, *value;

		snprintf(name, sizeof(name), "GIT_CONFIG_KEY_%lu", i);
		key = getenv(name);
		if (!key)
			return error_set(err, ERR_USAGE, NULL, 0, NULL,
					 "missing config key %s", name);
		snprintf(name, sizeof(name), "GIT_CONFIG_VALUE_%lu", i);
		value = getenv(name);
		if (!value)
			return error_set(err, ERR_USAGE, NULL, 0, NULL,
					 "missing config value %s", name);
		ret = emit(key, value, fn, payload, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Unquote, in place, the shell word at 'arg' as git quotes it: within
 * single quotes, with a ' or ! written '\'' or '\!'. Returns the word, or
 * NULL if 'arg' starts no such word; '*next' is left at what follows the
 * closing quote (its end, a blank, '=' or garbage for the caller to judge).
 */
static char *unquote_word(char *arg, char **next)
{
	char *dst = arg, *src = arg;

	if (*src != '\'')
		return NULL;
	for (;;) {
		char c = *++src;

		if (!c)
			return NULL;
		if (c != '\'') {
			*dst++ = c;
			continue;
		}
		if (src[1] == '\\' && (src[2] == '\'' || src[2] == '!') &&
		    src[3] == '\'') {
			*dst++ = src[2];
			src += 3;
			continue;
		}
		/* 'dst' trails 'src' by the opening quote at least */
		*dst = '\0';
		*next = src + 1;
		return arg;
	}
}

/* An old-style item, 'key=value' quoted as one word: trim the key. */
static int old_style(char *text, wt_config_fn fn, void *payload,
		     struct error *err)
{
	char *eq = strchr(text, '=');
	const char *value = NULL;
	char *key = text, *end;

	if (eq) {
		*eq = '\0';
		value = eq + 1;
	}
	while (isspace((unsigned char)*key))
		key++;
	end = key + strlen(key);
	while (end > key && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (!*key) {
		if (eq)
			*eq = '=';
		return error_set(err, ERR_USAGE, NULL, 0, NULL,
				 "bogus config parameter: %s", text);
	}
	return emit(key, value, fn, payload, err);
}

static int bogus_parameters(struct error *err)
{
	return error_set(err, ERR_USAGE, NULL, 0, NULL,
			 "bogus format in GIT_CONFIG_PARAMETERS");
}

/*
 * $GIT_CONFIG_PARAMETERS: blank-separated items, each 'key=value' (git
 * before 2.31) or 'key'='value', or 'key'= for a key without a value.
 */
static int from_parameters(wt_config_fn fn, void *payload, struct error *err)
{
	const char *env = getenv("GIT_CONFIG_PARAMETERS");
	char *copy, *cur;
	int ret = 0;

	if (!env)
		return 0;
	copy = xstrdup(env);
	cur = copy;
	while (*cur) {
		char *key = unquote_word(cur, &cur);
		char *value = NULL;

		if (!key) {
			ret = bogus_parameters(err);
			break;
		}
		if (!*cur || isspace((unsigned char)*cur)) {
			ret = old_style(key, fn, payload, err);
		} else if (*cur == '=') {
			cur++;
			if (*cur == '\'') {
				value = unquote_word(cur, &cur);
				if (!value ||
				    (*cur && !isspace((unsigned char)*cur))) {
					ret = bogus_parameters(err);
					break;
				}
			} else if (*cur && !isspace((unsigned char)*cur)) {
				ret = bogus_parameters(err);
				break;
			}
			ret = emit(key, value, fn, payload, err);
		} else {
			ret = bogus_parameters(err);
		}
		if (ret < 0)
			break;
		while (isspace((unsigned char)*cur))
			cur++;
	}
	free(copy);
	return ret;
}

int wt_config_cmdline(wt_config_fn fn, void *payload, struct error *err)
{
	int ret = from_count(fn, payload, err);

	if (!ret)
		ret = from_parameters(fn, payload, err);
	if (ret == ERR_USAGE)
		error_hint(err, CMDLINE_HINT);
	return ret;
}

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

#define PROTECTED_MAX 3

/*
 * The files of git's protected configuration, in the order git reads
 * them: the system file (unless $GIT_CONFIG_NOSYSTEM), then the global
 * ones, $XDG_CONFIG_HOME/git/config and ~/.gitconfig, or
 * $GIT_CONFIG_GLOBAL instead of both. Unused slots are NULL; the caller
 * frees each.
 */
static void protected_files(char *files[PROTECTED_MAX])
{
	struct sbuf path = SBUF_INIT;
	const char *home = getenv("HOME");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *global = getenv("GIT_CONFIG_GLOBAL");
	const char *system = getenv("GIT_CONFIG_SYSTEM");
	const char *nosystem = getenv("GIT_CONFIG_NOSYSTEM");
	size_t n = 0;

	memset(files, 0, PROTECTED_MAX * sizeof(*files));
	if (!nosystem || !*nosystem || !strcmp(nosystem, "0") ||
	    !strcasecmp(nosystem, "false") || !strcasecmp(nosystem, "no") ||
	    !strcasecmp(nosystem, "off"))
		files[n++] = xstrdup(system ? system : "/etc/gitconfig");
	if (global) {
		files[n++] = xstrdup(global);
		return;
	}
	if (xdg && *xdg)
		sbuf_addf(&path, "%s/git/config", xdg);
	else if (home)
		sbuf_addf(&path, "%s/.config/git/config", home);
	if (path.len)
		files[n++] = sbuf_detach(&path);
	if (home) {
		sbuf_addf(&path, "%s/.gitconfig", home);
		files[n++] = sbuf_detach(&path);
	}
	sbuf_release(&path);
}

static void free_files(char *files[PROTECTED_MAX])
{
	size_t i;

	for (i = 0; i < PROTECTED_MAX; i++)
		free(files[i]);
}

/*
 * Could any configuration file git reads for this repository set a key
 * of 'section'? False only when none mentions it nor includes others.
 */
static bool may_be_set(const struct wt_repo *repo, const char *section)
{
	struct sbuf path = SBUF_INIT;
	char *files[PROTECTED_MAX];
	bool hit = false;
	size_t i;

	sbuf_addf(&path, "%s/config", repo->commondir);
	hit = file_mentions(path.buf, section);
	sbuf_reset(&path);
	sbuf_addf(&path, "%s/config.worktree", repo->gitdir);
	hit = hit || file_mentions(path.buf, section);
	protected_files(files);
	for (i = 0; i < PROTECTED_MAX; i++)
		hit = hit || file_mentions(files[i], section);
	free_files(files);
	sbuf_release(&path);
	return hit;
}

static char *section_of(const char *key)
{
	const char *dot = strchr(key, '.');

	return dot ? xstrndup(key, (size_t)(dot - key)) : xstrdup(key);
}

static int config_fail(struct error *err, const char *file, const char *key)
{
	const git_error *e = lg2.error_last();

	error_set(err, ERR_FAIL, file, 0, file ? NULL : key,
		  "cannot read the git configuration: %s",
		  e && e->message ? e->message : "unknown error");
	lg2.error_clear();
	return ERR_FAIL;
}

/* The last value the command line gives 'key'. */
struct last_value {
	const char *key;
	char *value;
	bool set;
};

static int keep_last(const char *key, const char *value, void *payload)
{
	struct last_value *last = payload;

	if (!same_key(key, last->key))
		return 0;
	free(last->value);
	last->value = xstrdup_or_null(value);
	last->set = true;
	return 0;
}

int wt_config_get(char **out, const struct wt_repo *repo, const char *key,
		  struct error *err)
{
	struct last_value cmdline = { key, NULL, false };
	char *section = section_of(key);
	git_repository *r = NULL;
	git_config *cfg = NULL;
	git_buf value = { 0 };
	int ret, rc;

	*out = NULL;
	/* the command line comes last in git's order, so it wins */
	ret = wt_config_cmdline(keep_last, &cmdline, err);
	if (ret < 0)
		goto out;
	if (cmdline.set) {
		if (!cmdline.value) {
			ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
					"missing value for '%s'", key);
			error_hint(err, "give it as 'git -c %s=VALUE'", key);
			goto out;
		}
		*out = cmdline.value;
		cmdline.value = NULL;
		goto out;
	}
	if (!may_be_set(repo, section))
		goto out;
	ret = wt_libgit2_start(err);
	if (ret < 0)
		goto out;
	if (lg2.repository_open(&r, repo->gitdir) < 0 ||
	    lg2.repository_config_snapshot(&cfg, r) < 0) {
		ret = config_fail(err, repo->gitdir, key);
		goto out;
	}
	rc = lg2.config_get_string_buf(&value, cfg, key);
	if (rc == GIT_ENOTFOUND) {
		lg2.error_clear();
		goto out;
	}
	if (rc < 0) {
		ret = config_fail(err, NULL, key);
		goto out;
	}
	*out = xstrdup(value.ptr);
out:
	free(cmdline.value);
	lg2_buf_dispose(&value);
	lg2_config_free(cfg);
	lg2_repository_free(r);
	free(section);
	return ret;
}

/* Each value of 'key' in the file 'path', through libgit2. */
static int file_values(const char *path, const char *key, wt_config_fn fn,
		       void *payload, struct error *err)
{
	git_config *cfg = NULL;
	git_config_iterator *iter = NULL;
	git_config_entry *entry;
	int ret, rc;

	ret = wt_libgit2_start(err);
	if (ret < 0)
		return ret;
	if (lg2.config_open_ondisk(&cfg, path) < 0 ||
	    lg2.config_multivar_iterator_new(&iter, cfg, key, NULL) < 0) {
		ret = config_fail(err, path, key);
		goto out;
	}
	while (!(rc = lg2.config_next(&entry, iter))) {
		ret = fn(entry->name, entry->value, payload);
		if (ret < 0)
			goto out;
	}
	if (rc != GIT_ITEROVER)
		ret = config_fail(err, path, key);
	else
		lg2.error_clear();
out:
	lg2_config_iterator_free(iter);
	lg2_config_free(cfg);
	return ret;
}

/* The command line's values of one key. */
struct key_filter {
	const char *key;
	wt_config_fn fn;
	void *payload;
};

static int filter_key(const char *key, const char *value, void *payload)
{
	struct key_filter *filter = payload;

	if (!same_key(key, filter->key))
		return 0;
	return filter->fn(key, value, filter->payload);
}

int wt_config_protected(const char *key, wt_config_fn fn, void *payload,
			struct error *err)
{
	struct key_filter filter = { key, fn, payload };
	char *section = section_of(key);
	char *files[PROTECTED_MAX];
	int ret = 0;
	size_t i;

	protected_files(files);
	for (i = 0; i < PROTECTED_MAX && !ret; i++)
		if (file_mentions(files[i], section))
			ret = file_values(files[i], key, fn, payload, err);
	if (!ret)
		ret = wt_config_cmdline(filter_key, &filter, err);
	free_files(files);
	free(section);
	return ret;
}
