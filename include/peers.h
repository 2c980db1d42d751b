#ifndef WTP_PEERS_H
#define WTP_PEERS_H

/*
 * peers: the other registries on this host, so that two repositories
 * never hand out the same port.
 *
 * A per-user list of registry paths, one absolute path per line, lives in
 * $XDG_STATE_HOME/git-worktree-ports/registries (default
 * ~/.local/state/git-worktree-ports/registries). Handing out a new port is
 * serialized across all repositories by a host lock beside that list
 * ('registries.lock'), taken after the registry's own lock and never the
 * other way round, so the two cannot deadlock.
 */

struct error;
struct lockfile;
struct portset;

/*
 * The directory holding the list and the host lock, without a final
 * slash. Returns 0, or ERR_FAIL when neither $XDG_STATE_HOME nor $HOME is
 * set to an absolute path (a relative $XDG_STATE_HOME is ignored, as the
 * XDG base directory spec says). The caller frees '*out'.
 */
int peers_dir(char **out, struct error *err);

/*
 * Take the host lock, waiting up to 'timeout_ms'; ERR_LOCKED on timeout.
 * Creates the directory, and any missing parent, with mode 0700.
 */
int peers_lock(struct lockfile *lk, int timeout_ms, struct error *err);

/*
 * With the host lock held: add to 'taken' every port allocated in every
 * registry of the list other than 'self' (an absolute path); register
 * 'self' in the list if it is missing, and drop entries whose file no
 * longer exists. A registry that cannot be read or parsed is skipped (its
 * own commands report it). 'self' NULL only reads.
 *
 * Paths are compared as given, so pass canonical ones. The list is
 * rewritten (atomically, mode 0600) only when it changes. ERR_FAIL when
 * the list exists but cannot be read, or cannot be rewritten.
 */
int peers_collect(struct portset *taken, const char *self, struct error *err);

/*
 * Which other registry allocates 'port': its path (the caller frees it)
 * in '*out', or NULL. Used to name the holder when --port is refused.
 * Only reads, and needs no lock, so it may be called with the host lock
 * held or not.
 */
int peers_holder(char **out, uint16_t port, const char *self,
		 struct error *err);

/*
 * The registries of the list other than 'self' (NULL: all), in list
 * order, for commands that look into them ('check', 'repair'): '*out' is
 * an array of '*nr' absolute paths, each and the array the caller's to
 * free. Only reads: needs no lock and never rewrites the list, so an
 * entry whose file is gone is still listed. A missing list is empty.
 * ERR_FAIL when the list exists but cannot be read.
 */
int peers_list(char ***out, size_t *nr, const char *self, struct error *err);

struct registry;

/*
 * Call 'fn' for every registry of the list other than 'self' (may be
 * NULL) that can be read, in list order, with its path and contents
 * (borrowed for the call). Only reads, without any lock. A missing or
 * unreadable list calls nothing.
 */
void peers_each(const char *self,
		void (*fn)(const char *path, const struct registry *reg,
			   void *data),
		void *data);

/* A port another registry of this host allocates: who has it. */
struct peers_hold {
	uint16_t port;
	char *registry; /* its path */
	char *worktree; /* the worktree it is allocated to there */
};

struct peers_holds {
	struct peers_hold *items; /* by port */
	size_t nr, alloc;
};

#define PEERS_HOLDS_INIT { NULL, 0, 0 }

/*
 * Every allocation of the other registries (not 'self') whose port lies
 * in [lo, hi], sorted by port: the ports this registry cannot be given,
 * and who holds them. Reads only, as peers_each().
 */
void peers_holds_collect(struct peers_holds *out, const char *self,
			 uint16_t lo, uint16_t hi);

/* The first hold of 'port', or NULL. */
const struct peers_hold *peers_holds_find(const struct peers_holds *h,
					  uint16_t port);

void peers_holds_release(struct peers_holds *h);

#endif
