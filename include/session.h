#ifndef WTP_SESSION_H
#define WTP_SESSION_H

/*
 * session: what every command works on, in this order: the repository
 * (wt.h), the registry path, the registry lock and the loaded registry;
 * the activity log entries of the command; the worktree it acts on.
 *
 *	struct session s = SESSION_INIT;
 *	ret = session_open(&s, registry_opt, 0, err);
 *	... change s.reg, set s.dirty, session_log() ...
 *	if (!ret)
 *		ret = session_finish(&s, err);
 *	session_release(&s);
 *
 * session_release() undoes whatever was done, on every path, and is safe
 * after SESSION_INIT; session_unlock() lets go of the lock for a long
 * wait (a health check), and session_load() takes it again.
 */

#include "lockfile.h"
#include "registry.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct error;
struct registry;
struct allocation;
struct wt_repo;

struct actlog_entry;

struct session {
	struct wt_repo *repo;
	char *registry_path; /* absolute */
	/*
	 * What the registry's lock, log and other volatile files are named
	 * after (add ".lock", or see actlog_path()): the registry's file name
	 * in <common dir>/worktree-ports/ for a registry of this repository,
	 * so that no working tree sees them change; the registry's own path
	 * for one placed elsewhere, which other repositories may share.
	 */
	char *state_base;
	struct lockfile lock;
	struct registry *reg;
	bool dirty; /* save on session_finish() */
	/* activity to log once the registry is saved (owned strings) */
	struct actlog_entry *log;
	size_t nr_log, alloc_log;
	bool hook_checked; /* hooks_check() ran (once a command) */
};

#define SESSION_INIT { NULL, NULL, NULL, LOCKFILE_INIT, NULL, false, NULL, 0, 0, false }

/*
 * Record activity for the log; it is appended to ports.log by
 * session_finish() right after the registry is saved, under its lock, and
 * dropped if the save fails. 'port' and 'pid' are ACTLOG_NONE when not
 * known; strings are copied; 'detail' may be NULL.
 */
void session_log(struct session *s, const char *action, const char *worktree,
		 const char *service, long port, long pid, const char *detail);

/* Do not drop the allocations of removed worktrees (prune does it). */
#define SESSION_NO_AUTORELEASE (1 << 0)
/* Load a registry holding a port twice (check reports it). */
#define SESSION_ALLOW_DUPLICATES (1 << 1)
/* Find the repository and registry path only: no lock, no load. */
#define SESSION_NO_LOAD (1 << 2)
/*
 * Change nothing that would need saving and say nothing about it: the
 * paths of moved worktrees are brought up to date in memory only, and
 * removed worktrees keep their ports (--dry-run).
 */
#define SESSION_DRY_RUN (1 << 3)

/* The folder of the common dir that holds the volatile files. */
#define SESSION_STATE_DIR "worktree-ports"

/*
 * Take the registry lock (creating the state folder first when needed),
 * as session_load() does; for commands that lock without loading.
 */
int session_lock(struct session *s, struct error *err);

/*
 * Every save of the repository's registry also writes a copy,
 * '<state base>.copy' in the common dir, where neither 'git clean -x' nor
 * a checkout reaches. Is there one to restore from?
 */
bool session_has_copy(const struct session *s);

/* '<state base>.copy' (the caller frees it), or NULL for a shared one. */
char *session_copy_path(const struct session *s);

/*
 * With the lock held: when the registry is missing and a valid copy is
 * there, put the copy back, with a warning and a log line (0 when there
 * is nothing to do; an error only when the restore itself fails).
 */
int session_restore(struct session *s, struct error *err);

/*
 * Find the repository and the registry ('registry': --registry, may be
 * NULL), then, unless SESSION_NO_LOAD, session_load().
 */
int session_open(struct session *s, const char *registry, unsigned flags,
		 struct error *err);
/*
 * The second half of session_open(), for a session opened with
 * SESSION_NO_LOAD: lock, load, bring the recorded paths of moved
 * worktrees up to date (said on stderr, saved by session_finish()) and
 * drop removed worktrees' ports.
 */
int session_load(struct session *s, unsigned flags, struct error *err);
struct target;

/*
 * session_open() for a command that reads the registry: the ports of
 * removed worktrees are dropped and saved at once, and, unless 't' is
 * NULL, 't' is set to the worktree the command acts on (--worktree W, or
 * the current one).
 */
int session_start(struct session *s, struct target *t, const char *registry,
		  const char *worktree, unsigned flags, struct error *err);

/*
 * Save the registry if anything changed, then append the logged activity
 * (a log that cannot be written is a warning: the change stands).
 */
int session_finish(struct session *s, struct error *err);

/*
 * Let go of the registry lock and of the registry loaded under it (it
 * may be stale once others can write), for a command that works long
 * without them; session_load() takes both again. Unsaved changes are
 * dropped: call session_finish() first.
 */
void session_unlock(struct session *s);
void session_release(struct session *s);

/* The lock timeout in ms: $GIT_WORKTREE_PORTS_LOCK_TIMEOUT, else 10000. */
int session_lock_timeout(void);

/* An allocation that was (or would be) released. */
struct released {
	uint16_t port;
	char *service;
	char *worktree;
	/* all of it (allocation_copy()); the three above point into it */
	struct allocation a;
};

struct released_list {
	struct released *items;
	size_t nr, alloc;
};

#define RELEASED_LIST_INIT { NULL, 0, 0 }

/* Append a copy of what identifies 'a' (its registry strings get freed). */
void released_list_add(struct released_list *l, const struct allocation *a);
void released_list_release(struct released_list *l);

/*
 * Drop (or, with 'dry_run', only list) the allocations of worktrees that
 * no longer exist, locked ones excepted. Appends them to 'out'.
 */
int session_autorelease(struct session *s, bool dry_run,
			struct released_list *out, struct error *err);

/*
 * What session_load() does for a session opened with
 * SESSION_NO_AUTORELEASE, for a command that needs to know what was
 * released (check): drop the removed worktrees' ports, log it, say it on
 * stderr, and append them to 'out'. session_finish() saves it.
 */
int session_release_removed(struct session *s, struct released_list *out,
			    struct error *err);

/*
 * Bring the recorded paths of the loaded registry up to date with where
 * git says each worktree is, in memory only and without a word, for a
 * command that reads the registry without its lock (who). session_load()
 * does the same, says it and saves it.
 */
int session_refresh_paths(struct session *s, struct error *err);

/* Log 'action' for each allocation of 'l' (auto-release, prune...). */
void session_log_released(struct session *s, const char *action,
			  const struct released_list *l, const char *detail);

/* The worktree a command acts on: --worktree W, or the current one. */
struct target {
	char *name;
	char *path; /* NULL if unknown */
	bool is_main;
};

#define TARGET_INIT { NULL, NULL, false }

int session_target(struct target *t, const struct session *s,
		   const char *worktree, struct error *err);
void target_release(struct target *t);

/*
 * The canonical top directory of 'worktree', for probe_runs_inside():
 * 'path' (the allocation's) resolved, else what git says (wt_lookup(),
 * which may start libgit2), else NULL. The caller frees it. 's->repo'
 * may be NULL (outside a repository): then only 'path' is used.
 */
char *session_worktree_dir(const struct session *s, const char *worktree,
			   const char *path);

#endif
