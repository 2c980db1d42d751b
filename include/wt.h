#ifndef WTP_WT_H
#define WTP_WT_H

/*
 * wt: which repository and worktree a command runs in, and which worktrees
 * the repository has.
 *
 * Worktrees are git's: libgit2 enumerates and validates them. libgit2 is
 * expensive to start (git_libgit2_init() loads the system's CA bundle), so
 * it is started lazily, only by the functions below that say so. wt_open()
 * finds the repository the way git's own setup does, by reading the '.git'
 * file or directory, the 'commondir' file and the common config, and falls
 * back to libgit2 only for layouts it does not handle itself: the command
 * runs inside a git directory (a bare repository itself), $GIT_DIR without
 * $GIT_WORK_TREE names another repository than the one around the
 * directory, or the config sets core.worktree, includes other files or
 * enables per-worktree config. docs/worktrees.md lists the layouts.
 *
 * The main worktree is named WT_MAIN_NAME. git never gives a linked
 * worktree a name that starts with a dot (it sanitizes "../.main" to
 * "-main"), so the name cannot collide with a linked worktree's.
 *
 * Every path this module returns is absolute and canonical (realpath(3)),
 * without a final slash, so equal paths compare equal with strcmp().
 */

struct error;

/* The fixed name of the main worktree. */
#define WT_MAIN_NAME ".main"

struct wt_repo {
	char *commondir; /* the repository's common git dir */
	char *gitdir;    /* this worktree's git dir (== commondir in main) */
	char *main_path; /* the main worktree's top; NULL if unknown */
	char *name;      /* this worktree's name; NULL in a bare repo itself */
	char *path;      /* this worktree's top; NULL in a bare repo itself */
	bool bare;
	/* what worktrees/<name>/ holds, read once per command (wt.c) */
	struct wt_files *files;
};

/*
 * Find the repository containing 'dir' (NULL: the current directory),
 * honouring $GIT_DIR and $GIT_WORK_TREE; relative values of those are
 * taken from the current directory, as git does after 'git -C'. Free the
 * result with wt_free(), which accepts NULL.
 *
 * What it returns, by layout:
 *
 *  - a worktree of a normal repository: 'name' is WT_MAIN_NAME in the main
 *    worktree, else the linked worktree's git name (the last component of
 *    'gitdir', '<commondir>/worktrees/<name>'); 'path' is its top, even
 *    when 'dir' is a subdirectory; 'main_path' is the parent of the common
 *    dir '<main>/.git'.
 *  - a linked worktree of a bare repository: 'name' and 'path' as above,
 *    'bare' true, 'main_path' NULL.
 *  - inside a bare repository itself: 'name' and 'path' NULL, 'gitdir' and
 *    'commondir' the repository, 'bare' true, 'main_path' NULL.
 *  - 'git init --separate-git-dir': the common dir records nowhere where
 *    its main worktree is (git itself then lists the common dir as the main
 *    worktree), so 'main_path' is NULL, from every worktree alike, and
 *    'bare' is false. In the main worktree, 'name' is WT_MAIN_NAME and
 *    'path' its top. The same holds for any common dir whose parent is not
 *    the worktree that points at it, unless core.worktree names it.
 *  - core.worktree set: 'main_path' is its value, and so is 'path' in the
 *    main worktree.
 *
 * 'main_path' depends on the common dir alone, never on where the command
 * runs, so that every worktree of a repository agrees on it.
 *
 * A repository the search finds must pass git's ownership check, with
 * git 2.39's rules: the '.git' file, the worktree's top and the git dir
 * belong to the user running (root under sudo: $SUDO_UID), or
 * safe.directory in the system, global or command-line config (never the
 * repository's own) is '*' or names the repository. $GIT_DIR is not
 * checked, as in git. docs/worktrees.md gives the details.
 *
 * ERR_NOREPO when 'dir' is in no repository, or its '.git' file is
 * malformed or points to a git dir that no longer exists (a pruned
 * worktree), or the repository fails the ownership check (git's
 * "detected dubious ownership" message, with the command that adds the
 * exception as the hint); ERR_FAIL when 'dir' cannot be resolved or
 * libgit2 fails. May start libgit2 (see above).
 */
int wt_open(struct wt_repo **out, const char *dir, struct error *err);
void wt_free(struct wt_repo *repo);

/*
 * What a handle knows of its linked worktrees is read once, on first use,
 * so that one command sees one state of them. After changing them (git
 * worktree remove), forget it.
 */
void wt_forget(struct wt_repo *repo);

/*
 * Where the registry lives when nothing overrides it:
 * '<main_path>/design/worktrees/ports.json', or, when the repository has no
 * main worktree this module can name (bare, or 'main_path' NULL),
 * '<commondir>/worktree-ports/ports.json'. The caller frees the result.
 */
char *wt_default_registry(const struct wt_repo *repo);

enum wt_state {
	WT_ALIVE,  /* git knows it and its folder is there */
	WT_LOCKED, /* gone or not, 'git worktree lock' keeps it */
	WT_GONE    /* removed, pruned, or its folder deleted */
};

/*
 * The state of the worktree 'name' (WT_MAIN_NAME: always alive unless the
 * repository is bare). Decides from the files git keeps when the answer is
 * "alive" or "locked"; a worktree that looks gone is confirmed through
 * libgit2 first (git_worktree_lookup(), git_worktree_is_locked(),
 * git_worktree_validate()), so nothing is released on a guess. A name that
 * cannot be a worktree's ('', '.', '..', or one with a '/') is
 * ERR_NOTFOUND; ERR_FAIL when libgit2 cannot open the repository.
 */
int wt_state(enum wt_state *out, const struct wt_repo *repo, const char *name,
	     struct error *err);

/*
 * wt_state(), and where git now says the worktree is: '*top' is its
 * canonical top directory when the answer came from git's files (an
 * alive worktree, and the main one unless 'main_path' is NULL), else
 * NULL. The caller frees it. Costs no more than wt_state().
 */
int wt_state_path(enum wt_state *out, char **top, const struct wt_repo *repo,
		  const char *name, struct error *err);

struct wt_info {
	char *name;
	char *path; /* NULL if git has lost it */
	bool is_main;
	bool locked;
	bool valid; /* false: prunable */
};

struct wt_list {
	struct wt_info *items;
	size_t nr;
};

#define WT_LIST_INIT { NULL, 0 }

/*
 * Every worktree of the repository, the main one first (unless bare), then
 * the linked ones sorted by name. The main worktree's path is 'main_path',
 * or this worktree's path when it is the main one and 'main_path' is NULL.
 * '*out' need not be initialized: it is emptied first and filled on
 * success, and wt_list_release() is safe on it either way. Starts libgit2.
 */
int wt_list(struct wt_list *out, const struct wt_repo *repo,
	    struct error *err);
void wt_list_release(struct wt_list *list);

/*
 * wt_list() from git's files alone, without libgit2, for the paths a
 * command compares with (who runs where): the main worktree (unless
 * bare), then each 'worktrees/<name>' whose 'gitdir' names a '.git' that
 * exists, sorted by name, with 'locked' from its lock file and 'valid'
 * true. A registration git would call prunable is left out. A missing
 * or unreadable 'worktrees' directory lists the main worktree alone. The
 * paths of linked worktrees are canonical (realpath(3)).
 */
int wt_list_files(struct wt_list *out, const struct wt_repo *repo);

/*
 * The worktree named 'name' (its path, lock and validity), ERR_NOTFOUND if
 * the repository has none of that name (WT_MAIN_NAME in a bare one).
 * '*out' need not be initialized: it is emptied first and filled on
 * success, and wt_info_release() is safe on it either way. Starts libgit2
 * unless 'name' is WT_MAIN_NAME.
 */
int wt_lookup(struct wt_info *out, const struct wt_repo *repo,
	      const char *name, struct error *err);
void wt_info_release(struct wt_info *info);

/*
 * Start libgit2 for the wt module's own files (wt-*.c), once per process:
 * 0, or ERR_FAIL with libgit2's message. Everything that needs libgit2
 * starts it through here, so that wt_shutdown() balances it. It turns
 * libgit2's own ownership check off: wt_open() makes git's.
 */
int wt_libgit2_start(struct error *err);

/*
 * Has this process started libgit2 through wt_libgit2_start()? For timing
 * traces and tests: true from the first start on, even after
 * wt_shutdown().
 */
bool wt_libgit2_started(void);

/*
 * Shut libgit2 down if this module started it, so that its global state is
 * freed before the process exits (leak checkers then see a clean heap).
 * Safe when libgit2 was never started; a later function that needs libgit2
 * starts it again.
 */
void wt_shutdown(void);

/*
 * Configuration, read as git reads it: the system and global files, the
 * repository's, and last, so winning, the command line ('git -c').
 *
 * A key is "section.name" or "section.subsection.name"; the section and
 * the name ignore case, the subsection does not.
 */

/*
 * The value of the git config variable 'key' as git would read it for
 * this repository, in '*out' (the caller frees it), or NULL when it is
 * not set. The command line is looked at first (see wt_config_cmdline()),
 * then the files; libgit2 is started only when one of the files mentions
 * the section or an include, so the common case stays cheap. ERR_USAGE
 * when the command line is malformed or gives 'key' without a value.
 */
int wt_config_get(char **out, const struct wt_repo *repo, const char *key,
		  struct error *err);

/*
 * Called for each configuration item with its 'key' (section and name in
 * lower case) and 'value' (NULL for a key given without '=', which git
 * takes as "true"). A negative return stops the walk and is returned.
 */
typedef int (*wt_config_fn)(const char *key, const char *value,
			    void *payload);

/*
 * Each item of the command line, in the order git reads them: git passes
 * 'git -c key=value' (and '--config-env') to a subcommand in
 * $GIT_CONFIG_PARAMETERS, blank-separated shell-quoted words, either
 * 'key=value' or, since git 2.31, 'key'='value' ('key'= for no value);
 * $GIT_CONFIG_COUNT=<n> with GIT_CONFIG_KEY_<i> and GIT_CONFIG_VALUE_<i>
 * come before them. ERR_USAGE, with git's message, when they are
 * malformed or a key is invalid. Never starts libgit2. An 'include.path'
 * given there is not followed.
 */
int wt_config_cmdline(wt_config_fn fn, void *payload, struct error *err);

/*
 * Each value of 'key' in git's protected configuration, the one git
 * trusts for safe.directory: the system file, the global files and the
 * command line, in that order (git's), never the repository's own
 * config. Includes in the files are followed. Starts libgit2 only when
 * one of the files mentions the section or an include.
 */
int wt_config_protected(const char *key, wt_config_fn fn, void *payload,
			struct error *err);

#endif
