#ifndef WTP_CHECKED_H
#define WTP_CHECKED_H

/*
 * checked: health checks of allocations, for 'status --health-check' and
 * 'wait'. The allocations are copied (checked_list_add()) so that the
 * registry lock can be let go while the network is asked
 * (checked_list_run(): health.h, then the process behind each port that
 * answered), and the results are written back under the lock again
 * (checked_list_write_back()).
 */

#include "health.h"
#include "registry.h"

#include <stddef.h>
#include <stdint.h>

struct allocation;
struct config;
struct error;
struct jsonw;
struct session;

/* One allocation to check, copied so the registry can be reloaded. */
struct checked {
	/* the allocation as it was (allocation_copy()), for checked_json() */
	struct allocation a;
	char *worktree;
	char *path;
	char *service;
	uint16_t port;
	char *health_path; /* "/", "tcp" or the configured path */
	char *old_status;
	struct health_result result;
	long pid; /* ALLOCATION_NO_PID if none seen */
	char *command;
	/*
	 * every local address a socket listens on the port at ("127.0.0.2,
	 * ::"), or NULL when none is seen; printable
	 */
	char *addresses;
};

struct checked_list {
	struct checked *items;
	size_t nr, alloc;
};

/* The .worktree-ports.ini of each worktree, read once. */
struct config_cache {
	char **paths;
	struct config **configs;
	size_t nr, alloc;
};

#define CHECKED_LIST_INIT { NULL, 0, 0 }
#define CONFIG_CACHE_INIT { NULL, NULL, 0, 0 }

/*
 * Add allocation 'a' of the worktree at 'path' (may be NULL), with the
 * health path its .worktree-ports.ini gives (read once per worktree
 * through 'cc'), else "/".
 */
void checked_list_add(struct checked_list *l, const struct allocation *a,
		      const char *path, struct config_cache *cc);
/* By port. */
void checked_list_sort(struct checked_list *l);

/*
 * Check every item at once within 'timeout_ms', then find the processes
 * listening on each port. The one that answered is named ('pid',
 * 'command'); when it does not belong to the item's worktree by owner.h's
 * rule (of the worktrees of 's'), the status is HEALTH_FOREIGN, whatever
 * it answered. A port that refused on the loopback while a socket listens
 * on it at another address is HEALTH_UNHEALTHY, with that address and
 * its process.
 */
int checked_list_run(struct checked_list *l, int timeout_ms,
		     const struct session *s, struct error *err);

/*
 * Reload the registry under its lock (session_load()), record each
 * result on the allocation that still has the same port, log the changes
 * of status, and save (session_finish()).
 */
int checked_list_write_back(struct session *s, const struct checked_list *l,
			    struct error *err);

/* One checked allocation as a JSON object (docs/json.md). */
void checked_json(struct jsonw *w, const struct checked *ck);

void checked_list_release(struct checked_list *l);
void config_cache_release(struct config_cache *cc);

#endif
