#ifndef WTP_NAMESET_H
#define WTP_NAMESET_H

/*
 * nameset: an open-addressing hash index over an array the caller owns,
 * whose elements are named by one string or a pair of strings (a range
 * by its name, an allocation by its worktree and service). It stores
 * indexes only and asks 'key' for an element's name, so that checks
 * over a whole registry stay linear in its size.
 *
 *	struct nameset set;
 *	nameset_init(&set, reg->nr_allocs, alloc_key, reg);
 *	for (i = 0; i < reg->nr_allocs; i++)
 *		if ((other = nameset_add(&set, i)) >= 0)
 *			... allocs[other] has the same name as allocs[i] ...
 *	nameset_release(&set);
 */

#include <stddef.h>

/* The name of element 'index' of 'data': '*a', and '*b' (NULL if one). */
typedef void (*nameset_key_fn)(const void *data, size_t index,
			       const char **a, const char **b);

struct nameset {
	size_t *slot; /* 1 + an element's index; 0: empty */
	size_t mask;
	size_t nr; /* elements added */
	nameset_key_fn key;
	const void *data;
};

/* Room for 'nr' elements to begin with; it grows as needed. */
void nameset_init(struct nameset *s, size_t nr, nameset_key_fn key,
		  const void *data);

/* The index of the first element added under ('a', 'b'), or -1. */
long nameset_find(const struct nameset *s, const char *a, const char *b);

/*
 * Add element 'index' under its name; if an element with that name is
 * there already, leave the set as it is and return that one's index.
 * Returns -1 when 'index' was added.
 */
long nameset_add(struct nameset *s, size_t index);

void nameset_release(struct nameset *s);

#endif
