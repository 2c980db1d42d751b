#ifndef WTP_HOOKS_H
#define WTP_HOOKS_H

/*
 * hooks: our post-checkout hook in the repository's hooks directory, and
 * the hook that was there before it.
 *
 * The hook script is hooks/post-checkout, built into the program (the
 * Makefile turns it into a generated header), so installing never depends
 * on an installed data file. A file is ours when it has the line
 * HOOKS_MARKER.
 *
 * A post-checkout hook already in the directory (hand-written, or from
 * husky, lefthook or the pre-commit framework) is renamed to HOOKS_ASIDE,
 * which keeps its bytes and mode, and ours runs it after its own part with
 * the same arguments and standard input, so its exit status stays the
 * checkout's. Uninstalling renames it back. docs/hooks.md is the user's
 * side of this.
 *
 * Nothing here prints: the functions say what they did in a
 * 'struct hooks_result', which hooks_describe() puts in words.
 */

struct error;
struct sbuf;
struct wt_repo;

/* The line that marks a post-checkout hook as ours. */
#define HOOKS_MARKER "# git-worktree-ports post-checkout hook"
/* Our hook's name, and where the hook it replaced is kept. */
#define HOOKS_NAME "post-checkout"
#define HOOKS_ASIDE "post-checkout.before-worktree-ports"

/* The hook script, 'len' bytes, not NUL-terminated. */
const char *hooks_script(size_t *len);

/*
 * Resolve a core.hooksPath value the way git does: "~/" and "~user/" are
 * expanded ('home' for "~"), an absolute path is taken as it is, and a
 * relative one is taken from 'base' (the directory git runs hooks in: the
 * worktree's top, or the git dir of a bare repository). Returns a new
 * string, or NULL when a "~" cannot be expanded.
 */
char *hooks_resolve_path(const char *value, const char *base, const char *home);

/*
 * The effective hooks directory of the worktree 'repo' is in, in '*out'
 * (the caller frees it): core.hooksPath resolved by
 * hooks_resolve_path(), else '<commondir>/hooks'. '*relative' (may be
 * NULL) says whether core.hooksPath is a relative path, which git takes
 * from the top of the worktree a command runs in, so that each worktree
 * has its own hooks directory. ERR_FAIL when the configuration cannot be
 * read or a "~" not expanded. May start libgit2 (wt_config_get()).
 */
int hooks_find_dir(char **out, bool *relative, const struct wt_repo *repo,
		   struct error *err);

enum hooks_action {
	HOOKS_INSTALLED, /* ours written; there was no hook */
	HOOKS_CHAINED,	 /* ours written; the hook there moved to HOOKS_ASIDE */
	HOOKS_UPDATED,	 /* another version of ours replaced */
	HOOKS_UNCHANGED, /* ours was there already, byte for byte */
	HOOKS_REMOVED,	 /* ours removed; nothing to put back */
	HOOKS_RESTORED,	 /* ours removed; HOOKS_ASIDE renamed back */
	HOOKS_NOT_OURS,	 /* the hook there is not ours: left alone */
	HOOKS_ABSENT	 /* no hook there: nothing to do */
};

struct hooks_result {
	enum hooks_action action;
	char *dir;    /* the hooks directory */
	char *hook;   /* '<dir>/post-checkout' */
	char *aside;  /* '<dir>/post-checkout.before-worktree-ports' */
	bool chained; /* 'aside' is there after the call */
};

#define HOOKS_RESULT_INIT { HOOKS_ABSENT, NULL, NULL, NULL, false }

void hooks_result_release(struct hooks_result *r);

/*
 * Install our hook in 'dir', creating the directory if needed:
 *
 *  - no post-checkout: write ours (mode 0755 less the umask);
 *  - ours, byte for byte: nothing is written;
 *  - ours, another version: replace it atomically, keeping its mode;
 *  - another hook: rename it to HOOKS_ASIDE, then write ours. If writing
 *    fails it is renamed back.
 *
 * ERR_EXISTS, changing nothing, when HOOKS_ASIDE exists and post-checkout
 * is not ours (or is missing): the file set aside by an earlier install
 * would be lost. ERR_FAIL when post-checkout is a directory, or a system
 * call fails. '*out' need not be initialized; it is filled on success and
 * hooks_result_release() is safe on it either way.
 */
int hooks_install(struct hooks_result *out, const char *dir, struct error *err);

/*
 * Take our hook out of 'dir': when post-checkout is ours (or missing), it
 * is removed and HOOKS_ASIDE, if there, renamed back to post-checkout with
 * its bytes and mode. A post-checkout that is not ours is left alone
 * (HOOKS_NOT_OURS), and so is HOOKS_ASIDE beside it. ERR_FAIL when a
 * system call fails. '*out' as for hooks_install().
 */
int hooks_uninstall(struct hooks_result *out, const char *dir,
		    struct error *err);

/*
 * Append what was done, for people, without a newline:
 * "installed post-checkout hook in DIR", ...
 */
void hooks_describe(struct sbuf *out, const struct hooks_result *r);

/* The action's name in --json output: "installed", "not_ours", ... */
const char *hooks_action_name(enum hooks_action action);

/* Is this the post-checkout hook's run ($GIT_WORKTREE_PORTS_HOOK=1)? */
bool hooks_in_hook(void);

#endif
