#ifndef WTP_CMD_H
#define WTP_CMD_H

/*
 * cmd: one cmd_NAME() per command (src/builtin/NAME.c), glue between the
 * parsed command line and the library below. Included by src/cli.c and
 * the files of src/builtin/ only, never by the library (tests/layering.sh
 * checks).
 *
 * A command writes its results to stdout (as a table, or as JSON with
 * --json) and its notes and warnings to stderr; it reports failure by
 * returning a negative ERR_* code with 'err' filled, and cli.c prints the
 * error and picks the exit status.
 */

#include <stdbool.h>
#include <stdint.h>

struct error;

/* Everything the command line can say; each command reads its part. */
struct cmd_opts {
	const char *registry; /* --registry */
	bool json;
	bool quiet;
	char **args; /* positional arguments after the command */
	int nr_args;
	bool force;
	bool no_hooks;
	bool all;
	bool dry_run;
	bool has_port;
	uint16_t port;
	const char *worktree;
	const char *description;
	const char *format;
	bool health_check;
	bool verbose;
	bool has_timeout;
	int timeout_ms;
	const char *since;
	const char *service;
	const char *action;
};

int cmd_init(const struct cmd_opts *o, struct error *err);
int cmd_allocate(const struct cmd_opts *o, struct error *err);
int cmd_release(const struct cmd_opts *o, struct error *err);
int cmd_status(const struct cmd_opts *o, struct error *err);
int cmd_prune(const struct cmd_opts *o, struct error *err);
int cmd_env(const struct cmd_opts *o, struct error *err);
int cmd_install_hooks(const struct cmd_opts *o, struct error *err);
int cmd_uninstall_hooks(const struct cmd_opts *o, struct error *err);
int cmd_remove(const struct cmd_opts *o, struct error *err);
int cmd_sync(const struct cmd_opts *o, struct error *err);
int cmd_wait(const struct cmd_opts *o, struct error *err);
int cmd_log(const struct cmd_opts *o, struct error *err);

/* who, check and repair: src/builtin/{who,check,repair}.c */
int cmd_who(const struct cmd_opts *o, struct error *err);
int cmd_check(const struct cmd_opts *o, struct error *err);
int cmd_repair(const struct cmd_opts *o, struct error *err);

#endif
