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
	char *kept;   /* an earlier hook set aside, kept under this name */
};

#define HOOKS_RESULT_INIT { HOOKS_ABSENT, NULL, NULL, NULL, false, NULL }

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
 * When HOOKS_ASIDE exists already and post-checkout is another hook (a
 * hook manager rewrote it after an earlier install), the current hook is
 * the one chained: the one set aside before is dropped when it has the
 * same bytes, else kept as HOOKS_ASIDE ".1" (or the next free number),
 * named in 'kept', and no longer run. With HOOKS_ASIDE and no
 * post-checkout at all, ours is written and chains it. ERR_FAIL when
 * post-checkout is a directory, or a system call fails. '*out' need not be initialized; it is filled on success and
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

/*
 * Hook managers, which write their own post-checkout when they install
 * and so drop ours (docs/hooks.md, "Hook managers").
 */
enum hooks_manager {
	HOOKS_MANAGER_NONE,
	HOOKS_MANAGER_HUSKY,
	HOOKS_MANAGER_LEFTHOOK,
	HOOKS_MANAGER_PRE_COMMIT
};

/* "husky", "lefthook", "pre-commit"; NULL for none */
const char *hooks_manager_name(enum hooks_manager m);

/*
 * The manager a project uses, from its files: husky when the hooks
 * directory 'hooks_dir' is in '<top>/.husky' (husky sets core.hooksPath
 * there), lefthook for a lefthook.yml (or .lefthook.yml, .yaml, .toml,
 * .json), pre-commit for a .pre-commit-config.yaml; else what the hook
 * text (may be NULL) names.
 */
enum hooks_manager hooks_manager_of(const char *top, const char *hooks_dir,
				    const char *hook_text);

/*
 * Does the manager's configuration in 'top' call git-worktree-ports
 * (the snippet of docs/hooks.md)? Then it sets the ports up itself and
 * our hook is not needed.
 */
bool hooks_manager_runs_us(enum hooks_manager m, const char *top);

/* The file a manager's snippet goes in: ".husky/post-checkout", ... */
const char *hooks_manager_config(enum hooks_manager m);

/*
 * The lines that make the manager run 'sync' as our hook does, to add to
 * hooks_manager_config() (docs/hooks.md, "Hook managers"); NULL for none.
 */
const char *hooks_manager_snippet(enum hooks_manager m);

/*
 * Is the post-checkout hook that was installed still the one git runs?
 *
 * install-hooks (and init) records the hooks directory it installed in
 * (hooks_record()), and uninstall-hooks drops the record. Every command
 * that loads the registry asks: with no record it has nothing to say;
 * with one, git's post-checkout (core.hooksPath honoured) must be ours,
 * or a manager's whose configuration calls us. The usual cost is one
 * failed open (no record) or one read of the record and one of the hook.
 */
enum hooks_check_state {
	HOOKS_CHECK_FINE,     /* ours runs, or a manager runs us */
	HOOKS_CHECK_UNKNOWN,  /* never installed, or nothing to compare */
	HOOKS_CHECK_REPLACED, /* another hook is there now */
	HOOKS_CHECK_MISSING   /* no post-checkout hook at all */
};

struct hooks_check {
	enum hooks_check_state state;
	enum hooks_manager manager; /* who replaced it, when known */
	char *hook;		    /* the hook git runs */
};

void hooks_check(struct hooks_check *out, const struct wt_repo *repo);
void hooks_check_release(struct hooks_check *c);

/* Print the warning for a state other than fine or unknown. */
void hooks_check_warn(const struct hooks_check *c);

/*
 * Record that our hook is installed in 'dir' (NULL: that it is not),
 * in <common dir>/worktree-ports/hooks. A failure is a warning: the
 * check then has nothing to say.
 */
void hooks_record(const struct wt_repo *repo, const char *dir);

/*
 * install-hooks as a whole, for the current worktree of 'repo': find the
 * hooks directory (hooks_find_dir()), install (hooks_install()), record
 * it for hooks_check(), and drop a hook manager's copy of ours. A
 * core.hooksPath outside the repository (a global one, shared by every
 * repository that uses it) is refused with ERR_EXISTS unless
 * 'shared_ok'. '*out' as for hooks_install().
 */
int hooks_setup(struct hooks_result *out, const struct wt_repo *repo,
		bool shared_ok, struct error *err);

/* uninstall-hooks as a whole: hooks_uninstall(), and the record goes. */
int hooks_teardown(struct hooks_result *out, const struct wt_repo *repo,
		   struct error *err);

/*
 * Remove 'dir'/post-checkout.old when it is ours: a hook manager's copy
 * of the hook it replaced (lefthook keeps one). True if removed.
 */
bool hooks_drop_manager_copy(const char *dir);

#endif
