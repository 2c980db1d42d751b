#ifndef WTP_CMD_H
#define WTP_CMD_H

/*
 * cmd: one cmd_NAME() per command, glue between the parsed command line
 * and the modules below. Only cli.c includes this header.
 *
 * A command writes its results to stdout (as a table, or as JSON with
 * --json) and its notes and warnings to stderr; it reports failure by
 * returning a negative ERR_* code with 'err' filled, and cli.c prints the
 * error and picks the exit status.
 */

#include "lockfile.h"

struct error;
struct registry;
struct allocation;
struct wt_repo;
struct sbuf;

/*
 * The state every command works on: the repository, the registry path,
 * the registry lock and the loaded registry. session_open() fills it in
 * that order; session_release() undoes whatever was done and is safe
 * after SESSION_INIT.
 */
struct actlog_entry;

struct session {
	struct wt_repo *repo;
	char *registry_path; /* absolute */
	struct lockfile lock;
	struct registry *reg;
	bool dirty; /* save on session_finish() */
	/* activity to log once the registry is saved (owned strings) */
	struct actlog_entry *log;
	size_t nr_log, alloc_log;
};

#define SESSION_INIT { NULL, NULL, LOCKFILE_INIT, NULL, false, NULL, 0, 0 }

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
 * Find the repository and the registry ('registry': --registry, may be
 * NULL), then, unless SESSION_NO_LOAD, session_load().
 */
int session_open(struct session *s, const char *registry, unsigned flags,
		 struct error *err);
/*
 * The second half of session_open(), for a session opened with
 * SESSION_NO_LOAD: lock, load and drop removed worktrees' ports.
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

/* Save the registry if anything changed. */
int session_finish(struct session *s, struct error *err);
void session_release(struct session *s);

/* An allocation that was (or would be) released. */
struct released {
	uint16_t port;
	char *service;
	char *worktree;
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
 * Picking new ports: the host lock and what is taken, set up on the first
 * new allocation of a command and kept for the rest of it.
 */
struct taken;
struct picker {
	struct lockfile host;
	struct taken *taken;
};

#define PICKER_INIT { LOCKFILE_INIT, NULL }

/*
 * Give worktree 't' a port for 'service' from the range 'range_name'
 * (NULL: the service's own range, else "default"), or exactly '*want'.
 * An existing allocation is returned as it is. '*index' is its index in
 * s->reg; '*fresh' says whether it is new. The caller saves.
 */
int session_allocate(struct session *s, struct picker *pk,
		     const struct target *t, const char *service,
		     const char *range_name, const char *description,
		     const uint16_t *want, size_t *index, bool *fresh,
		     struct error *err);
void picker_release(struct picker *pk);

struct config;
struct envfile_var;

/* Variables for a .env file or 'env': owned name and value strings. */
struct env_list {
	struct envfile_var *vars;
	size_t nr, alloc;
};

#define ENV_LIST_INIT { NULL, 0, 0 }

void env_list_add(struct env_list *l, const char *name, const char *value);
void env_list_release(struct env_list *l);

/*
 * The variables of worktree 't': each service of 'c' it has a port for
 * (under the configured name), every other port it has (PORT_<SERVICE>),
 * COMPOSE_PROJECT_NAME if 'c' asks for it, and the [vars] of 'c' (one that
 * cannot be expanded is left out with a warning). 'c' may be NULL.
 */
int session_env(struct env_list *out, const struct session *s,
		const struct target *t, const struct config *c);

/* A target file of [env] file, and whether sync wrote it. */
struct env_written {
	const char *file; /* borrowed from the config */
	bool changed;
};

/*
 * Write the variables of worktree 't' (session_env(), returned in 'vars')
 * into every [env] file of 'c', keeping them out of git status (info/
 * exclude). '*out' (the caller frees it) says which files changed. The
 * caller holds the registry lock (session_load()).
 */
int session_write_env(struct session *s, const struct target *t,
		      const struct config *c, struct env_list *vars,
		      struct env_written **out, struct error *err);

/* The COMPOSE_PROJECT_NAME of 'worktree': valid for compose, unique. */
void cmd_compose_name(struct sbuf *out, const struct wt_repo *repo,
		      const char *worktree);

/* "PORT_" + the service upper-cased, non-alphanumerics as '_'. */
void cmd_port_var(struct sbuf *out, const char *service);

/* mkdir -p of the directory holding 'path'. */
int cmd_make_parent_dirs(const char *path, struct error *err);

/*
 * Add each of 'patterns' that is missing to info/exclude in the common
 * dir (never to a .gitignore), under one comment line. Returns 1 if lines
 * were added, 0 if all were there, or an error.
 */
int cmd_exclude(const struct wt_repo *repo, const char *const *patterns,
		size_t nr, struct error *err);

/*
 * With GIT_WORKTREE_PORTS_TIMING=1, print "timing: PHASE MICROSECONDS"
 * to stderr: the time since the previous call (or since the start).
 */
void cmd_timing(const char *phase);

/* Is this the post-checkout hook's run ($GIT_WORKTREE_PORTS_HOOK=1)? */
bool cmd_in_hook(void);

/* Lock timeout in ms: $GIT_WORKTREE_PORTS_LOCK_TIMEOUT, default 10000. */
int cmd_lock_timeout(void);

/*
 * Append 's' safe to print on a terminal: control characters (C0, DEL and
 * C1) and bytes that are not UTF-8 as \xNN. For strings from a
 * hand-edited registry and from other processes.
 */
void cmd_add_printable(struct sbuf *out, const char *s);

/*
 * The canonical top directory of 'worktree', for probe_runs_inside():
 * 'path' (the allocation's) resolved, else what git says (wt_lookup(),
 * which may start libgit2), else NULL. The caller frees it. 's->repo'
 * may be NULL (outside a repository): then only 'path' is used.
 */
char *session_worktree_dir(const struct session *s, const char *worktree,
			   const char *path);

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
	 * Printable (cmd_add_printable()). Owned.
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
int session_misfits(struct misfit_list *out, struct session *s,
		    const char *worktree, const struct released_list *gone,
		    struct error *err);
void misfit_list_release(struct misfit_list *l);

#endif
