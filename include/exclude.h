#ifndef WTP_EXCLUDE_H
#define WTP_EXCLUDE_H

/* exclude: keep machine state out of git status, in info/exclude. */

#include <stddef.h>

struct error;
struct wt_repo;

/*
 * Add each of 'patterns' that is missing to info/exclude in the common
 * dir (never to a .gitignore), under one comment line. Returns 1 if lines
 * were added, 0 if all were there, or an error.
 */
int exclude_add(const struct wt_repo *repo, const char *const *patterns,
		size_t nr, struct error *err);

#endif
