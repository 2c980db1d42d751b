#include "common.h"
#include "cli.h"
#include "alloc.h"
#include "builtin.h"
#include "cmd.h"
#include "error.h"
#include "parse-options.h"
#include "sbuf.h"
#include "wt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#ifndef WTP_VERSION
#define WTP_VERSION "unknown"
#endif

/*
 * What the commands that do not parse their own options yet accept
 * besides the global options (run_unconverted()).
 */
enum {
	ACCEPT_FORCE = (1 << 0),
	ACCEPT_NO_HOOKS = (1 << 1),
	ACCEPT_PORT = (1 << 2),
	ACCEPT_WORKTREE = (1 << 3),
	ACCEPT_DESCRIPTION = (1 << 4),
	ACCEPT_ALL = (1 << 5),
	ACCEPT_DRY_RUN = (1 << 6),
	ACCEPT_FORMAT = (1 << 7),
	ACCEPT_HEALTH = (1 << 8),
	ACCEPT_TIMEOUT = (1 << 9),
	ACCEPT_VERBOSE = (1 << 10),
	ACCEPT_SINCE = (1 << 11),
	ACCEPT_SERVICE = (1 << 12),
	ACCEPT_ACTION = (1 << 13)
};

struct command {
	const char *name;
	int (*fn)(int argc, const char **argv, struct global_opts *g,
		  struct error *err);
	const char *summary; /* for the main usage */
	/* not converted yet: parsed by run_unconverted() */
	int (*old_fn)(const struct cmd_opts *o, struct error *err);
	unsigned accepts;
	int min_args, max_args; /* max -1: any number */
	const char *usage;
};

static const struct command commands[] = {
	{ "init", cmd_init, "create the registry for this repository", NULL, 0,
	  0, 0, NULL },
	{ "allocate", cmd_allocate, "give this worktree a port for a service",
	  NULL, 0, 0, 0, NULL },
	{ "release", cmd_release, "give ports back", NULL, 0, 0, 0, NULL },
	{ "status", cmd_status, "show allocations and free ports", NULL, 0, 0,
	  0, NULL },
	{ "prune", cmd_prune, "release the ports of removed worktrees", NULL, 0,
	  0, 0, NULL },
	{ "env", cmd_env, "print this worktree's port variables", NULL, 0, 0, 0,
	  NULL },
	{ "wait", cmd_wait, "wait until a service of this worktree is healthy",
	  NULL, 0, 0, 0, NULL },
	{ "log", cmd_log, "show the activity log", NULL, 0, 0, 0, NULL },
	{ "remove", cmd_remove, "remove a worktree and release its ports", NULL,
	  0, 0, 0, NULL },
	{ "sync", cmd_sync,
	  "allocate what .worktree-ports.ini declares, write .env", NULL, 0, 0,
	  0, NULL },
	{ "install-hooks", cmd_install_hooks,
	  "install the post-checkout hook (init does it)", NULL, 0, 0, 0,
	  NULL },
	{ "uninstall-hooks", cmd_uninstall_hooks,
	  "remove it, putting back the hook it replaced", NULL, 0, 0, 0, NULL },
	{ "who", NULL, "what listens on a port, and whose allocation it is",
	  cmd_who, 0, 1, 1,
	  "git worktree-ports who <port>\n"
	  "\n"
	  "Say what listens on <port>: each socket, and each process holding it\n"
	  "(pid, user, command line, directory, start time); which worktree and\n"
	  "service the port is allocated to, and whether the process runs inside\n"
	  "that worktree. Outside a repository, only the listeners.\n"
	  "\n"
	  "    -q, --quiet   print only the pids, one a line\n" },
	{ "check", NULL, "report conflicts, with the command that fixes each",
	  cmd_check, 0, 0, 0,
	  "git worktree-ports check\n"
	  "\n"
	  "Report every conflict, each with the command that fixes it: a port\n"
	  "allocated twice (here or in another registry on this host), outside its\n"
	  "range, reserved or refused by browsers, held by a process outside its\n"
	  "worktree, the ports of a removed worktree, ranges that overlap. Exit 9\n"
	  "when any is found. Changes nothing.\n" },
	{ "repair", NULL, "move the ports a worktree cannot keep, rewrite .env",
	  cmd_repair, ACCEPT_DRY_RUN | ACCEPT_ALL | ACCEPT_WORKTREE, 0, 0,
	  "git worktree-ports repair [--dry-run] [--all | --worktree <name>]\n"
	  "\n"
	  "Move every port of this worktree that it cannot keep (held by a process\n"
	  "outside the worktree, allocated twice, outside its range, reserved or\n"
	  "refused by browsers) to a new port of its range, say why, and rewrite the\n"
	  "worktree's .env files as sync does.\n"
	  "\n"
	  "    -n, --dry-run      only say what would be moved\n"
	  "    --all              every worktree\n"
	  "    --worktree <name>  another worktree\n" },
};

static const char main_synopsis[] =
	"git worktree-ports [-C <path>] [--registry <file>] [--json] [-q]\n"
	"                   <command> [<options>]";

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
	case PARSE_OPT_HELP:
		return 0;
	case ERR_USAGE:
		return 2;
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
	default:
		return 1;
	}
}

static void print_error(const struct error *err, const char *prefix)
{
	struct sbuf line = SBUF_INIT;

	error_format(err, &line);
	fprintf(stderr, "%s: %s\n", prefix, line.buf);
	if (err->hint[0])
		fprintf(stderr, "hint: %s\n", err->hint);
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
	const char *usage[ARRAY_SIZE(commands) + 3];
	struct sbuf lines[ARRAY_SIZE(commands)];
	size_t i, n = 0;

	usage[n++] = main_synopsis;
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

/* "--name=value" or "--name value"; NULL if 'arg' is not '--name'. */
static const char *long_value(const char *arg, const char *name, int *i,
			      int argc, const char **argv, struct error *err)
{
	size_t len = strlen(name);

	if (strncmp(arg, name, len))
		return NULL;
	if (arg[len] == '=')
		return arg + len + 1;
	if (arg[len])
		return NULL;
	if (*i + 1 >= argc) {
		error_set(err, ERR_USAGE, NULL, 0, NULL,
			  "option '%s' needs a value", name);
		return NULL;
	}
	return argv[++*i];
}

static int unknown_option(const char *arg, const struct command *cmd,
			  struct error *err)
{
	int ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
			    "unknown option '%s'", arg);

	error_hint(err, "see 'git worktree-ports %s -h'", cmd->name);
	return ret;
}

static int old_port(struct cmd_opts *o, const char *value, struct error *err)
{
	struct option opt = OPT_PORT("port", &o->port, NULL);
	int ret = cli_parse_port(&opt, value, err);

	if (!ret)
		o->has_port = true;
	return ret;
}

static int old_timeout(struct cmd_opts *o, const char *value, struct error *err)
{
	struct option opt = OPT_TIMEOUT("timeout", &o->timeout_ms, NULL);
	int ret = cli_parse_timeout(&opt, value, err);

	if (!ret)
		o->has_timeout = true;
	return ret;
}

/*
 * One option at argv[*i], for a command in 'o', global ones in 'g'.
 * Returns 1 if it was not an option.
 */
static int old_option(const struct command *c, struct cmd_opts *o,
		      struct global_opts *g, bool *help, int *i, int argc,
		      const char **argv, struct error *err)
{
	const char *arg = argv[*i];
	unsigned acc = c->accepts;
	const char *v;

	if (arg[0] != '-' || !arg[1])
		return 1;
	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		*help = true;
		return 0;
	}
	if (!strcmp(arg, "--json")) {
		g->json = true;
		return 0;
	}
	if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
		g->quiet = true;
		return 0;
	}
	if (!strcmp(arg, "-C")) {
		if (*i + 1 >= argc)
			return error_set(err, ERR_USAGE, NULL, 0, NULL,
					 "option '-C' needs a value");
		ALLOC_GROW(g->dirs, g->nr_dirs + 1, g->alloc_dirs);
		g->dirs[g->nr_dirs++] = argv[++*i];
		return 0;
	}
	if ((v = long_value(arg, "--registry", i, argc, argv, err))) {
		g->registry = v;
		return 0;
	}
	if (err->code)
		return err->code;
	if ((acc & ACCEPT_FORCE) && !strcmp(arg, "--force")) {
		o->force = true;
		return 0;
	}
	if ((acc & ACCEPT_NO_HOOKS) && !strcmp(arg, "--no-hooks")) {
		o->no_hooks = true;
		return 0;
	}
	if ((acc & ACCEPT_ALL) && !strcmp(arg, "--all")) {
		o->all = true;
		return 0;
	}
	if ((acc & ACCEPT_DRY_RUN) &&
	    (!strcmp(arg, "--dry-run") || !strcmp(arg, "-n"))) {
		o->dry_run = true;
		return 0;
	}
	if ((acc & ACCEPT_PORT) &&
	    (v = long_value(arg, "--port", i, argc, argv, err)))
		return old_port(o, v, err);
	if ((acc & ACCEPT_WORKTREE) &&
	    (v = long_value(arg, "--worktree", i, argc, argv, err))) {
		o->worktree = v;
		return 0;
	}
	if ((acc & ACCEPT_DESCRIPTION) &&
	    (v = long_value(arg, "--description", i, argc, argv, err))) {
		o->description = v;
		return 0;
	}
	if ((acc & ACCEPT_FORMAT) &&
	    (v = long_value(arg, "--format", i, argc, argv, err))) {
		o->format = v;
		return 0;
	}
	if ((acc & ACCEPT_HEALTH) && !strcmp(arg, "--health-check")) {
		o->health_check = true;
		return 0;
	}
	if ((acc & ACCEPT_VERBOSE) &&
	    (!strcmp(arg, "--verbose") || !strcmp(arg, "-v"))) {
		o->verbose = true;
		return 0;
	}
	if ((acc & ACCEPT_TIMEOUT) &&
	    (v = long_value(arg, "--timeout", i, argc, argv, err)))
		return old_timeout(o, v, err);
	if ((acc & ACCEPT_SINCE) &&
	    (v = long_value(arg, "--since", i, argc, argv, err))) {
		o->since = v;
		return 0;
	}
	if ((acc & ACCEPT_SERVICE) &&
	    (v = long_value(arg, "--service", i, argc, argv, err))) {
		o->service = v;
		return 0;
	}
	if ((acc & ACCEPT_ACTION) &&
	    (v = long_value(arg, "--action", i, argc, argv, err))) {
		o->action = v;
		return 0;
	}
	if (err->code)
		return err->code;
	return unknown_option(arg, c, err);
}

static int check_args(const struct command *c, const struct cmd_opts *o,
		      struct error *err)
{
	int ret;

	if (o->nr_args < c->min_args) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL, "'%s' needs %s",
				c->name,
				c->min_args == 1 ? "an argument" : "arguments");
	} else if (c->max_args >= 0 && o->nr_args > c->max_args) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"'%s' takes %s arguments, got '%s'", c->name,
				c->max_args ? "at most one of its" : "no",
				o->args[c->max_args]);
	} else {
		return 0;
	}
	error_hint(err, "see 'git worktree-ports %s -h'", c->name);
	return ret;
}

/*
 * A command that does not parse its own options yet: what follows its
 * name goes into one 'struct cmd_opts', as before the option tables.
 */
static int run_unconverted(const struct command *c, int argc, const char **argv,
			   struct global_opts *g, struct error *err)
{
	struct cmd_opts o;
	bool only_args = false, help = false;
	size_t k;
	int i, ret;

	memset(&o, 0, sizeof(o));
	o.args = xcalloc((size_t)argc + 1, sizeof(*o.args));
	for (i = 1; i < argc; i++) {
		if (!only_args && !strcmp(argv[i], "--")) {
			only_args = true;
			continue;
		}
		if (!only_args) {
			ret = old_option(c, &o, g, &help, &i, argc, argv, err);
			if (ret < 0)
				goto out;
			if (!ret)
				continue;
		}
		o.args[o.nr_args++] = (char *)argv[i];
	}
	if (help) {
		printf("usage: %s", c->usage);
		ret = PARSE_OPT_HELP;
		goto out;
	}
	ret = check_args(c, &o, err);
	if (ret < 0)
		goto out;
	for (k = 0; k < g->nr_dirs; k++) {
		if (chdir(g->dirs[k]) < 0) {
			ret = error_errno(err, g->dirs[k],
					  "cannot change to this directory");
			goto out;
		}
	}
	o.registry = g->registry;
	o.json = g->json;
	o.quiet = g->quiet;
	ret = c->old_fn(&o, err);
out:
	free(o.args);
	return ret;
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
	if (cmd->fn)
		ret = cmd->fn(argc, args, &g, &err);
	else
		ret = run_unconverted(cmd, argc, args, &g, &err);
	/*
	 * The hook must never fail a checkout: what went wrong in its sync
	 * is a warning, and the exit status is 0.
	 */
	if (ret < 0 && cmd->fn == cmd_sync && cmd_in_hook()) {
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
