#ifndef WTP_MISFIT_H
#define WTP_MISFIT_H

/*
 * misfit: the allocations that cannot keep their port, and why; 'check'
 * reports them and 'repair' moves them.
 */

#include <stddef.h>
#include <stdint.h>

struct error;
struct session;
struct released_list;

/* Why an allocation cannot keep its port; 'check' names them. */
enum misfit_kind {
	MISFIT_OUTSIDE_RANGE,
	MISFIT_BAD_PORT, /* one browsers refuse */
	MISFIT_RESERVED,
	MISFIT_DUPLICATE, /* another allocation of this registry has it */
	MISFIT_PEER,	  /* another registry on this host has it */
	MISFIT_FOREIGN,	  /* a process outside the worktree listens on it */
	/*
	 * an orphan listens on it: a process whose directory is in a removed
	 * worktree or was deleted. Stopping it frees the port; 'repair' does
	 * not move the allocation away from it.
	 */
	MISFIT_ORPHAN
};

struct misfit {
	enum misfit_kind kind;
	size_t index; /* of the allocation in s->reg */
	/*
	 * What is wrong with the port, to follow "8081 is": "held by pid 123
	 * (python3 -m http.server) in /tmp/x", "reserved (6881-6889)"...
	 * Printable (text_addstr_printable()). Owned.
	 */
	char *why;
	/* a shorter 'why' for the log ("held by pid 123 (python3)"); owned */
	char *brief;
	/* MISFIT_FOREIGN, MISFIT_ORPHAN: the process, if visible; else ACTLOG_NONE */
	long pid;
};

/*
 * A listener on a port of one of the registry's ranges (or of a worktree
 * released by this command) that no allocation holds (MISFIT_STRAYS).
 */
struct misfit_stray {
	uint16_t port;
	char *range; /* the range it lies in, or NULL; owned */
	long pid;    /* ACTLOG_NONE: no process visible */
	/* an orphan (MISFIT_ORPHAN's sense): 'check' fails on it */
	bool orphan;
	/* "held by pid 123 (python3 -m http.server) in /x, in worktree 'b'" */
	char *why;
};

struct misfit_list {
	struct misfit *items;
	size_t nr, alloc;
	struct misfit_stray *strays;
	size_t nr_strays, alloc_strays;
};

#define MISFIT_LIST_INIT { NULL, 0, 0, NULL, 0, 0 }

/* Also look at the listeners no allocation accounts for: 'strays'. */
#define MISFIT_STRAYS (1 << 0)

/*
 * Append to 'out' every reason why an allocation of 'worktree' (NULL:
 * of any worktree) cannot keep its port, in registry order, leaving out
 * the worktrees named in 'gone' (may be NULL). Of the allocations that
 * share a port, the one whose worktree a listening process runs in keeps
 * it (else the first in the registry) and the others are
 * MISFIT_DUPLICATE. A port held by an orphan is MISFIT_ORPHAN, not
 * MISFIT_FOREIGN. With MISFIT_STRAYS, the listeners on the ports of the
 * registry's ranges and of 'gone' that no live allocation holds are
 * listed in 'out->strays', by port. The listening sockets are read once for all ports
 * (probe_listeners_set()); a port whose holder cannot be judged (a
 * socket of root or of our own user whose process is not visible, or
 * docker-proxy publishing a container's port) is left alone with a note.
 * When the sockets cannot be read, a warning says so and no
 * MISFIT_FOREIGN is reported. Only reads.
 */
int misfit_survey(struct misfit_list *out, struct session *s,
		  const char *worktree, const struct released_list *gone,
		  unsigned flags, struct error *err);

struct probe_listener;

/*
 * misfit_survey() on the listening sockets 'ls' ('nr' of them, in any
 * order, borrowed) instead of the system's: for tests, and for a caller
 * that has read them already. Listeners on ports no allocation holds are
 * ignored unless MISFIT_STRAYS.
 */
int misfit_survey_listeners(struct misfit_list *out, struct session *s,
			    const char *worktree,
			    const struct released_list *gone,
			    const struct probe_listener *ls, size_t nr,
			    unsigned flags, struct error *err);
void misfit_list_release(struct misfit_list *l);

#endif
