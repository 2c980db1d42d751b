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
 * file or directory and the 'commondir' file, and falls back to libgit2
 * only for layouts it does not handle itself (bare repositories,
 * $GIT_DIR without $GIT_WORK_TREE).
 *
 * The main worktree is named WT_MAIN_NAME. git never gives a linked
 * worktree a name that starts with a dot (it sanitizes "../.main" to
 * "-main"), so the name cannot collide with a linked worktree's.
 */

struct error;

/* The fixed name of the main worktree. */
#define WT_MAIN_NAME ".main"

struct wt_repo {
	char *commondir; /* absolute: the repository's common git dir */
	char *gitdir;    /* absolute: this worktree's git dir */
	char *main_path; /* the main worktree's top; NULL if bare */
	char *name;      /* this worktree's name; NULL in a bare repo itself */
	char *path;      /* this worktree's top; NULL in a bare repo itself */
	bool bare;
};

/*
 * Find the repository containing 'dir' (NULL: the current directory),
 * honouring $GIT_DIR and $GIT_WORK_TREE. ERR_NOREPO when 'dir' is in no
 * repository. Free with wt_free().
 */
int wt_open(struct wt_repo **out, const char *dir, struct error *err);
void wt_free(struct wt_repo *repo);

enum wt_state {
	WT_ALIVE,  /* git knows it and its folder is there */
	WT_LOCKED, /* gone or not, 'git worktree lock' keeps it */
	WT_GONE    /* removed, pruned, or its folder deleted */
};

/*
 * The state of the worktree 'name' (WT_MAIN_NAME: always alive unless the
 * repository is bare). Decides from the files git keeps when the answer is
 * "alive"; a worktree that looks gone is confirmed through libgit2 first,
 * so nothing is released on a guess.
 */
int wt_state(enum wt_state *out, const struct wt_repo *repo, const char *name,
	     struct error *err);

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
 * Every worktree of the repository, the main one first (unless bare).
 * Starts libgit2.
 */
int wt_list(struct wt_list *out, const struct wt_repo *repo,
	    struct error *err);
void wt_list_release(struct wt_list *list);

/*
 * The worktree named 'name' (its path, lock and validity), ERR_NOTFOUND if
 * the repository has none of that name.
 */
int wt_lookup(struct wt_info *out, const struct wt_repo *repo,
	      const char *name, struct error *err);
void wt_info_release(struct wt_info *info);

#endif
