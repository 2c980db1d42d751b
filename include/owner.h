#ifndef WTP_OWNER_H
#define WTP_OWNER_H

/*
 * owner: which worktree a process belongs to. One rule, used by 'who',
 * 'check', 'repair', 'remove' and the health check (docs/probe.md):
 *
 *  - a process that carries the marker 'run' puts in the environment of
 *    what it starts (PROBE_MARKER_VAR in probe.h, the worktree's canonical
 *    top) belongs to the known worktree at that directory;
 *  - else it belongs to worktree W when its own working directory is W's
 *    top or lies below it and no other known worktree lies between: the
 *    deepest worktree wins, so a worktree nested in the main one owns its
 *    own servers. Paths are compared canonical, whole name by whole name
 *    ("/a/bc" is not under "/a/b");
 *  - a process whose working directory was deleted belongs to no
 *    worktree; 'was' says whose tree the directory was in;
 *  - nothing else decides. The ancestors' directories are only a fact to
 *    show ("started from a process in worktree X").
 *
 *	struct owner_map m = OWNER_MAP_INIT;
 *	owner_map_add_repo(&m, s);
 *	owner_map_add_peers(&m, s->registry_path);
 *	owner_judge(&v, &m, proc);
 *	... v.wt, v.deleted, v.was ...
 *	owner_map_release(&m);
 */

#include "nameset.h"

#include <stdbool.h>
#include <stddef.h>

struct probe_proc;
struct released_list;
struct session;

/* A worktree a process may run in. All strings are owned. */
struct owner_wt {
	char *name; /* the worktree's name in its registry */
	char *dir;  /* its canonical top, without a final slash */
	/* the registry it belongs to; NULL: the one of this command */
	char *registry;
	/* removed: git no longer has it (its allocations are released) */
	bool gone;
};

struct owner_map {
	struct owner_wt *items;
	size_t nr, alloc;
	struct nameset by_dir; /* once 'nr' > 0 */
	/* the walks owner_started_from() made, for the next listener */
	struct owner_walks *walks;
};

#define OWNER_MAP_INIT { NULL, 0, 0, { NULL, 0, 0, NULL, NULL }, NULL }

/*
 * Add a worktree (the map indexes itself: do not move it once added
 * to). 'dir' is made canonical when it exists (a path that
 * does not is kept as given, less final slashes). A directory already
 * in the map is not added twice: the first entry stays, except that a
 * live entry replaces a gone one.
 */
void owner_map_add(struct owner_map *m, const char *name, const char *dir,
		   const char *registry, bool gone);

/*
 * This command's repository: every worktree git has (from git's own
 * files, without libgit2), then each directory recorded in the loaded
 * registry ('s->reg', may be NULL) for a worktree git no longer has, as
 * gone. Outside a repository ('s->repo' NULL) only the registry's.
 */
void owner_map_add_repo(struct owner_map *m, const struct session *s);

/*
 * The worktrees of 'l' (released by this command), as gone: an entry of
 * this registry already in the map under the same name and directory is
 * marked gone.
 */
void owner_map_add_released(struct owner_map *m,
			    const struct released_list *l);

/*
 * The worktrees every other registry of the host records for its
 * allocations (peers.h), 'self' (may be NULL) left out. Registries that
 * cannot be read are skipped.
 */
void owner_map_add_peers(struct owner_map *m, const char *self);

void owner_map_release(struct owner_map *m);

/*
 * The deepest worktree of 'm' whose top is 'dir' or an ancestor of it,
 * or NULL. 'dir' need not exist; it is compared as given.
 */
const struct owner_wt *owner_of_dir(const struct owner_map *m,
				    const char *dir);

/* What the rule says about one process. */
struct owner_verdict {
	/* the worktree it belongs to; NULL: outside every known worktree */
	const struct owner_wt *wt;
	bool by_marker; /* decided by PROBE_MARKER_VAR, not by directory */
	bool deleted;	/* its working directory was deleted */
	/* deleted: the worktree whose tree the directory was in, or NULL */
	const struct owner_wt *was;
};

void owner_judge(struct owner_verdict *v, const struct owner_map *m,
		 const struct probe_proc *p);

/* Is 'p' an orphan: in a deleted directory, or in a gone worktree? */
bool owner_is_orphan(const struct owner_verdict *v);

struct sbuf;

/*
 * Append where the verdict places a process, printable, to follow "pid
 * 123 (cmd)": "in worktree 'review'" (and "of the registry R" for
 * another registry's), "in removed worktree 'feat'", "whose directory
 * was deleted (it was in worktree 'feat')", or "outside every known
 * worktree".
 */
void owner_add_place(struct sbuf *out, const struct owner_verdict *v);

/*
 * Append ", started from a process in worktree 'X' (pid N, cmd)" when
 * owner_started_from() finds such an ancestor of 'p'; nothing otherwise.
 */
void owner_add_started_from(struct sbuf *out, const struct owner_map *m,
			    const struct owner_verdict *v,
			    const struct probe_proc *p);

/*
 * The labelled fact: the nearest ancestor of 'p' (below pid 1) whose
 * working directory lies in a worktree of 'm' other than 'v->wt'.
 * Returns true and fills '*pid', '*cmdline' (owned, printable) and
 * '*wt'; false when there is none (or the ancestors cannot be read).
 * Read from the live system; never part of a verdict.
 */
bool owner_started_from(const struct owner_map *m,
			const struct owner_verdict *v,
			const struct probe_proc *p, long *pid, char **cmdline,
			const struct owner_wt **wt);

#endif
