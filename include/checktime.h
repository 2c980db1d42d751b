#ifndef WTP_CHECKTIME_H
#define WTP_CHECKTIME_H

/*
 * checktime: when each allocation's health was last checked, for the
 * checks that changed nothing.
 *
 * A health check whose results are what the registry says already must
 * not rewrite the registry (it lies in the main worktree, where a file
 * watcher would restart a dev server). Its time is still worth showing
 * ("healthy, checked 2 min ago"), so it goes to '<state base>.checked'
 * in the state folder of the common dir (session.h), a small JSON file:
 *
 *	{"checked": [{"worktree": "feat", "service": "web", "port": 8081,
 *	              "at": "2026-12-04T10:00:00Z"}, ...]}
 *
 * The registry's own health_checked_at is the time of the last check
 * that changed something; readers take the later of the two for the
 * allocation with that worktree, service and port. The file is a cache
 * of times: a missing or unreadable one is as if no check had run, and a
 * failure to write it is a warning, never an error.
 */

#include <stddef.h>

struct registry;

/* One allocation checked: its worktree, service and port. */
struct checktime_entry {
	const char *worktree;
	const char *service;
	unsigned port;
};

/*
 * Give each allocation of 'reg' the later of its health_checked_at and
 * the time recorded for it in '<state_base>.checked'.
 */
void checktime_apply(struct registry *reg, const char *state_base);

/*
 * Record that 'entries' were checked at 'when' (iso8601_utc()), keeping
 * the times of other allocations still in 'reg' and dropping the rest.
 * The caller holds the registry lock.
 */
void checktime_record(const struct registry *reg, const char *state_base,
		      const struct checktime_entry *entries, size_t nr,
		      const char *when);

#endif
