#ifndef WTP_HOLDERS_H
#define WTP_HOLDERS_H

/*
 * holders: who holds a port. The sockets listening on it with their
 * processes (probe.h), the allocations of the port in this repository's
 * registry with their worktrees' directories, and another registry of
 * the host that allocates it. For 'who'; reads only, without the lock.
 *
 *	struct holders h = HOLDERS_INIT;
 *	if (!holders_find(&h, 3000, NULL, err))
 *		... h.ls, h.owners, holders_owner_of(&h, proc) ...
 *	holders_release(&h);
 */

#include "owner.h"
#include "session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct probe_listener;
struct probe_proc;

/* An allocation of the port. */
struct owner {
	const struct allocation *a; /* borrowed from the registry */
	char *dir;		    /* its worktree's directory, or NULL */
};

/* An allocation of the port in another registry of the host. */
struct peer_owner {
	char *registry; /* its path */
	char *worktree;
	char *service;
	char *path; /* the worktree's recorded directory, or NULL */
};

struct holders {
	uint16_t port;
	struct session s;     /* holds the registry 'owners' point into */
	bool have_registry;   /* the registry was read */
	const char *registry; /* its path, or NULL */
	struct owner *owners; /* allocations of the port in it */
	size_t nr_owners;
	char *other; /* another registry allocating it, or NULL */
	struct peer_owner *peer_owners; /* allocations of it in others */
	size_t nr_peer_owners;
	struct probe_listener *ls;
	size_t nr_ls;
	/* every worktree known on the host: this repository's, the peers' */
	struct owner_map map;
};

#define HOLDERS_INIT                                                     \
	{ 0, SESSION_INIT, false, NULL, NULL, 0, NULL, NULL, 0, NULL, 0, \
	  OWNER_MAP_INIT }

/*
 * Fill 'h' for 'port'. The registry is 'registry' (--registry, may be
 * NULL) or the repository's; outside a repository, or when it cannot be
 * read, a note or warning says so and only the listeners are known. Fails
 * only when the sockets cannot be read.
 */
int holders_find(struct holders *h, uint16_t port, const char *registry,
		 struct error *err);

/* The allocation of this registry whose worktree 'p' belongs to, or NULL. */
const struct owner *holders_owner_of(const struct holders *h,
				     const struct probe_proc *p);

/* An allocation of another registry whose worktree 'p' belongs to. */
const struct peer_owner *holders_peer_owner_of(const struct holders *h,
					       const struct probe_proc *p);

/* What the ownership rule says about the port as a whole. */
enum holders_verdict {
	HOLDERS_NOTHING,   /* nothing listens */
	HOLDERS_OWN,	   /* a process of the allocation's worktree */
	HOLDERS_FOREIGN,   /* allocated, held by a process of elsewhere */
	HOLDERS_ORPHAN,	   /* held by an orphan of a removed worktree */
	HOLDERS_UNALLOCATED, /* listening, allocated nowhere known */
	HOLDERS_UNKNOWN	   /* allocated, but no process is visible */
};

enum holders_verdict holders_verdict(const struct holders *h);

void holders_release(struct holders *h);

struct sbuf;

/*
 * One line on who holds 'port', for an error message: "pid 123 (python3
 * -m http.server) in worktree 'review'", "... outside every known
 * worktree", "... whose directory was deleted", or "user 'bob' (uid
 * 1001), whose process is not visible". The worktrees are those of 's'
 * (may have no registry loaded) and of the other registries. Appends
 * nothing when nothing listens or the sockets cannot be read.
 */
void holders_describe(struct sbuf *out, const struct session *s,
		      uint16_t port);

#endif
