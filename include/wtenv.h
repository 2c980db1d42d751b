#ifndef WTP_WTENV_H
#define WTP_WTENV_H

/*
 * wtenv: a worktree's variables (its ports, COMPOSE_PROJECT_NAME, the
 * [vars] of .worktree-ports.ini) and writing them into its .env files
 * (envfile.h does the file; this module decides what goes in it).
 */

#include <stdbool.h>
#include <stddef.h>

struct error;
struct session;
struct target;
struct sbuf;
struct wt_repo;
struct config;
struct envfile_var;

/*
 * Variables for a .env file or 'env': owned name and value strings. A
 * NULL value makes a comment line of the name (envfile.h).
 */
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
int wtenv_build(struct env_list *out, const struct session *s,
		const struct target *t, const struct config *c);

/* A target file of [env] file, and whether sync wrote it. */
struct env_written {
	const char *file; /* borrowed from the config */
	bool changed;
};

/*
 * Write the variables of worktree 't' (wtenv_build(), returned in 'vars')
 * into every [env] file of 'c', keeping them out of git status (info/
 * exclude), with the comment lines of 'notes' (may be NULL) after them:
 * what could not be set, and why. '*out' (the caller frees it) says which
 * files changed. The caller holds the registry lock (session_load()).
 */
int wtenv_write(struct session *s, const struct target *t,
		const struct config *c, struct env_list *vars,
		const struct env_list *notes, struct env_written **out,
		struct error *err);

/*
 * After a command changed worktree 'name' (at 'path') in the registry
 * (release, allocate, repair): write its .env files as sync would, from
 * its .worktree-ports.ini, with a comment for each declared service that
 * has no port now. Nothing to do without a config; a config or a file
 * that cannot be used is a warning (the registry change stands). Unless
 * 'quiet', each file rewritten is said in a note. The caller holds the
 * registry lock. Returns how many files were rewritten.
 */
size_t wtenv_refresh(struct session *s, const char *name, const char *path,
		     bool quiet);

/*
 * Does an .env file of worktree 'name' (at 'path') hold other variables
 * than the registry gives it? '*file' (the caller frees it) is the first
 * such file, relative to the worktree; NULL when all agree, or when the
 * worktree has no usable config.
 */
void wtenv_stale(char **file, const struct session *s, const char *name,
		 const char *path);

/*
 * Add to the registry each [range] of 'c' it has no range of that name
 * for (the project's layout, shared by the team through the committed
 * file; a range the registry has already wins), with a note and a log
 * line each. The caller holds the lock and saves.
 */
void wtenv_add_ranges(struct session *s, const struct config *c);

/* The COMPOSE_PROJECT_NAME of 'worktree': valid for compose, unique. */
void wtenv_compose_name(struct sbuf *out, const struct wt_repo *repo,
			const char *worktree);

/* "PORT_" + the service upper-cased, non-alphanumerics as '_'. */
void wtenv_port_var(struct sbuf *out, const char *service);

#endif
