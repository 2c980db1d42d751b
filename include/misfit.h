#ifndef WTP_MISFIT_H
#define WTP_MISFIT_H

/*
 * misfit: the allocations that cannot keep their port, and why; 'check'
 * reports them and 'repair' moves them.
 */

#include <stddef.h>

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
	MISFIT_FOREIGN	  /* a process outside the worktree listens on it */
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
	long pid; /* MISFIT_FOREIGN: the process; else ACTLOG_NONE */
};

struct misfit_list {
	struct misfit *items;
	size_t nr, alloc;
};

#define MISFIT_LIST_INIT { NULL, 0, 0 }

/*
 * Append to 'out' every reason why an allocation of 'worktree' (NULL:
 * of any worktree) cannot keep its port, in registry order, leaving out
 * the worktrees named in 'gone' (may be NULL). Of the allocations that
 * share a port, the one whose worktree a listening process runs in keeps
 * it (else the first in the registry) and the others are
 * MISFIT_DUPLICATE. The listening sockets are read once for all ports
 * (probe_listeners_set()); a port whose holder cannot be judged (a
 * socket of root or of our own user whose process is not visible, or
 * docker-proxy publishing a container's port) is left alone with a note.
 * When the sockets cannot be read, a warning says so and no
 * MISFIT_FOREIGN is reported. Only reads.
 */
int misfit_survey(struct misfit_list *out, struct session *s,
		  const char *worktree, const struct released_list *gone,
		  struct error *err);

struct probe_listener;

/*
 * misfit_survey() on the listening sockets 'ls' ('nr' of them, in any
 * order, borrowed) instead of the system's: for tests, and for a caller
 * that has read them already. Listeners on ports no allocation holds are
 * ignored.
 */
int misfit_survey_listeners(struct misfit_list *out, struct session *s,
			    const char *worktree,
			    const struct released_list *gone,
			    const struct probe_listener *ls, size_t nr,
			    struct error *err);
void misfit_list_release(struct misfit_list *l);

#endif
