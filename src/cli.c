#include "common.h"
#include "cli.h"
#include "alloc.h"
#include "builtin.h"
#include "hooks.h"
#include "error.h"
#include "parse-options.h"
#include "sbuf.h"
#include "text.h"
#include "wt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#ifndef WTP_VERSION
#define WTP_VERSION "unknown"
#endif

struct command {
	const char *name;
	int (*fn)(int argc, const char **argv, struct global_opts *g,
		  struct error *err);
	const char *summary; /* for the main usage */
};

static const struct command commands[] = {
	{ "init", cmd_init, "create the registry for this repository" },
	{ "allocate", cmd_allocate, "give this worktree a port for a service" },
	{ "release", cmd_release, "give ports back" },
	{ "status", cmd_status, "show allocations and free ports" },
	{ "prune", cmd_prune, "release the ports of removed worktrees" },
	{ "env", cmd_env, "print this worktree's port variables" },
	{ "wait", cmd_wait,
	  "wait until a service of this worktree is healthy" },
	{ "log", cmd_log, "show the activity log" },
	{ "remove", cmd_remove, "remove a worktree and release its ports" },
	{ "sync", cmd_sync,
	  "allocate what .worktree-ports.ini declares, write .env" },
	{ "install-hooks", cmd_install_hooks,
	  "install the post-checkout hook (init does it)" },
	{ "uninstall-hooks", cmd_uninstall_hooks,
	  "remove it, putting back the hook it replaced" },
	{ "who", cmd_who,
	  "what listens on a port, and whose allocation it is" },
	{ "check", cmd_check,
	  "report conflicts, with the command that fixes each" },
	{ "repair", cmd_repair,
	  "move the ports a worktree cannot keep, rewrite .env" },
	{ "help", NULL, "this usage, or the usage of a command" },
};

static const char main_synopsis[] =
	"git worktree-ports [-C <path>] [--registry <file>] [--json] [-q]\n"
	"                   <command> [<options>]";

static const char *const help_usage[] = {
	"git worktree-ports help [<command>]",
	"",
	"Print the usage of git worktree-ports, or of <command>.",
	NULL,
};

static int add_dir(const struct option *opt, const char *arg,
		   struct error *err UNUSED)
{
	struct global_opts *g = opt->value;

	ALLOC_GROW(g->dirs, g->nr_dirs + 1, g->alloc_dirs);
	g->dirs[g->nr_dirs++] = arg;
	return 0;
}

/* Accepted before the command and among its options. */
#define GLOBAL_OPTIONS(g)                                                      \
	OPT_CALLBACK('C', NULL, (g), "path", "run as if started in <path>",    \
		     add_dir),                                                 \
		OPT_STRING(0, "registry", &(g)->registry, "file",              \
			   "use this registry file"),                          \
		OPT_BOOL(0, "json", &(g)->json,                                \
			 "machine-readable output (docs/json.md)"),            \
		OPT_BOOL('q', "quiet", &(g)->quiet, "less output")

int cli_exit_status(int code)
{
	switch (code) {
	case 0:
		return 0;
	case ERR_USAGE:
	case PARSE_OPT_HELP:
		return 129;
	case ERR_NOREPO:
		return 3;
	case ERR_CORRUPT:
		return 4;
	case ERR_FULL:
		return 5;
	case ERR_TAKEN:
		return 6;
	case ERR_NOTFOUND:
		return 7;
	case ERR_LOCKED:
		return 8;
	case ERR_CONFLICT:
	case ERR_UNHEALTHY:
		return 9;
	case ERR_EXISTS:
		return 10;
	case ERR_CONFIG:
		return 11;
	case ERR_RUNNING:
		return 12;
	default:
		return 1;
	}
}

static void print_error(const struct error *err, const char *prefix)
{
	struct sbuf line = SBUF_INIT;

	/* escaped as a whole: registry and config text may be in it */
	error_format(err, &line);
	fprintf(stderr, "%s: %s\n", prefix, text_printable(line.buf));
	if (err->hint[0])
		fprintf(stderr, "hint: %s\n", text_printable(err->hint));
	sbuf_release(&line);
}

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/*
 * The main usage: the synopsis, each command with its summary (from
 * 'commands', so that none is left out) and the global options.
 */
static void main_usage(FILE *out, const struct option *options)
{
	const char *usage[ARRAY_SIZE(commands) + 4];
	struct sbuf lines[ARRAY_SIZE(commands)];
	size_t i, n = 0;

	usage[n++] = main_synopsis;
	usage[n++] = help_usage[0];
	usage[n++] = "";
	for (i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];

		sbuf_init(&lines[i]);
		if (strlen(c->name) > 10)
			sbuf_addf(&lines[i], "%s\n%11s%s", c->name, "",
				  c->summary);
		else
			sbuf_addf(&lines[i], "%-10s %s", c->name, c->summary);
		usage[n++] = lines[i].buf;
	}
	usage[n] = NULL;
	usage_with_options(out, usage, options);
	fputs("See 'git worktree-ports <command> -h' and git-worktree-ports(1).\n",
	      out);
	for (i = 0; i < ARRAY_SIZE(commands); i++)
		sbuf_release(&lines[i]);
}

/*
 * A usage error is "error: ...", then its hint or, when it has none, the
 * usage. It is printed here rather than by cli_main(), because the usage
 * comes from a table that does not outlive the command.
 */
static int report_usage_error(struct error *err, const char *const *usage,
			      const struct option *options)
{
	print_error(err, "error");
	if (!err->hint[0])
		usage_with_options(stderr, usage, options);
	error_clear(err);
	return ERR_USAGE;
}

int cli_parse_options(int argc, const char **argv, const char *const *usage,
		      const struct option *options, struct global_opts *g,
		      struct error *err)
{
	struct option globals[] = { GLOBAL_OPTIONS(g), OPT_END() };
	struct option *all = parse_options_concat(options, globals);
	size_t i;
	int ret;

	ret = parse_options(argc, argv, all, 0, err);
	free(all);
	if (ret == PARSE_OPT_HELP) {
		usage_with_options(stdout, usage, options);
		return ret;
	}
	if (ret == ERR_USAGE)
		return report_usage_error(err, usage, options);
	if (ret < 0)
		return ret;
	for (i = 0; i < g->nr_dirs; i++)
		if (chdir(g->dirs[i]) < 0)
			return error_errno(err, g->dirs[i],
					   "cannot change to this directory");
	/* once: a command that parses again does not change again */
	g->nr_dirs = 0;
	return ret;
}

int cli_usage_error(const char *const *usage, const struct option *options,
		    const char *fmt, ...)
{
	struct sbuf msg = SBUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	sbuf_vaddf(&msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "error: %s\n", msg.buf);
	usage_with_options(stderr, usage, options);
	sbuf_release(&msg);
	return ERR_USAGE;
}

int cli_parse_port(const struct option *opt, const char *arg, struct error *err)
{
	int ret;

	if (alloc_parse_port(opt->value, arg) < 0) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid port '%s'", arg);
		error_hint(err, "give a number from %d to 65535",
			   ALLOC_MIN_PORT);
		return ret;
	}
	return 0;
}

/* Seconds, with an optional fraction: "1", "0.5", "30". */
int cli_parse_timeout(const struct option *opt, const char *arg,
		      struct error *err)
{
	char *end;
	double secs;
	int ret;

	errno = 0;
	secs = strtod(arg, &end);
	if (errno || end == arg || *end || !(secs >= 0) || secs > 86400) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid timeout '%s'", arg);
		error_hint(err, "give seconds, such as 1, 0.5 or 30");
		return ret;
	}
	*(int *)opt->value = (int)(secs * 1000 + 0.5);
	return 0;
}

/*
 * 'help' prints the main usage, or a command's: the command asked for its
 * usage with -h, before it does anything. Like 'git help', it succeeds.
 */
static int cmd_help(int argc, const char **argv, struct global_opts *g,
		    struct error *err, const struct option *main_options)
{
	struct option options[] = { OPT_END() };
	const struct command *c;
	const char *args[3];
	int ret;

	argc = cli_parse_options(argc, argv, help_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc > 1)
		return cli_usage_error(help_usage, options,
				       "'help' takes one command, got '%s' too",
				       argv[1]);
	if (!argc) {
		main_usage(stdout, main_options);
		return 0;
	}
	c = find_command(argv[0]);
	if (!c) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"'%s' is not a git worktree-ports command",
				argv[0]);
		error_hint(err, "see 'git worktree-ports help'");
		return ret;
	}
	if (!c->fn) {
		usage_with_options(stdout, help_usage, options);
		return 0;
	}
	args[0] = c->name;
	args[1] = "-h";
	args[2] = NULL;
	ret = c->fn(2, args, g, err);
	return ret == PARSE_OPT_HELP ? 0 : ret;
}

int cli_main(int argc, char **argv)
{
	struct global_opts g = GLOBAL_OPTS_INIT;
	struct error err = ERROR_INIT;
	const char **args = (const char **)argv;
	const struct command *cmd = NULL;
	bool version = false;
	struct option options[] = {
		OPT_GROUP("Global options"),
		GLOBAL_OPTIONS(&g),
		OPT_BOOL_F(0, "version", &version, "print the version",
			   PARSE_OPT_NONEG),
		OPT_END(),
	};
	int ret;

	ret = parse_options(argc, args, options, PARSE_OPT_STOP_AT_NON_OPTION,
			    &err);
	if (ret == PARSE_OPT_HELP) {
		main_usage(stdout, options);
		goto out;
	}
	if (ret < 0) {
		print_error(&err, "error");
		if (!err.hint[0])
			main_usage(stderr, options);
		error_clear(&err);
		goto out;
	}
	if (version) {
		printf("git-worktree-ports version %s\n", WTP_VERSION);
		ret = 0;
		goto out;
	}
	if (!ret) {
		main_usage(stderr, options);
		ret = ERR_USAGE;
		goto out;
	}
	argc = ret;
	cmd = find_command(args[0]);
	if (!cmd) {
		ret = error_set(&err, ERR_USAGE, NULL, 0, NULL,
				"'%s' is not a git worktree-ports command",
				args[0]);
		error_hint(&err, "see 'git worktree-ports -h'");
		goto out;
	}
	if (!cmd->fn) {
		ret = cmd_help(argc, args, &g, &err, options);
		goto out;
	}
	ret = cmd->fn(argc, args, &g, &err);
	/*
	 * The hook must never fail a checkout: what went wrong in its sync
	 * is a warning, and the exit status is 0.
	 */
	if (ret < 0 && cmd->fn == cmd_sync && hooks_in_hook()) {
		if (err.code)
			print_error(&err, "warning");
		ret = 0;
	}
out:
	if (ret < 0 && err.code)
		print_error(&err, "error");
	free(g.dirs);
	wt_shutdown();
	fflush(stdout);
	return cli_exit_status(ret);
}
