#include "common.h"
#include "cli.h"
#include "alloc.h"
#include "cmd.h"
#include "hooks.h"
#include "error.h"
#include "sbuf.h"
#include "text.h"
#include "wt.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#ifndef WTP_VERSION
#define WTP_VERSION "unknown"
#endif

/* Options a command accepts besides the global ones. */
enum {
	OPT_FORCE = (1 << 0),
	OPT_NO_HOOKS = (1 << 1),
	OPT_PORT = (1 << 2),
	OPT_WORKTREE = (1 << 3),
	OPT_DESCRIPTION = (1 << 4),
	OPT_ALL = (1 << 5),
	OPT_DRY_RUN = (1 << 6),
	OPT_FORMAT = (1 << 7),
	OPT_HEALTH = (1 << 8),
	OPT_TIMEOUT = (1 << 9),
	OPT_VERBOSE = (1 << 10),
	OPT_SINCE = (1 << 11),
	OPT_SERVICE = (1 << 12),
	OPT_ACTION = (1 << 13)
};

struct command {
	const char *name;
	int (*fn)(const struct cmd_opts *o, struct error *err);
	unsigned accepts;
	int min_args, max_args; /* max -1: any number */
	const char *usage;
};

static const struct command commands[] = {
	{ "init", cmd_init, OPT_FORCE | OPT_NO_HOOKS, 0, 0,
	  "git worktree-ports init [--force] [--no-hooks]\n"
	  "\n"
	  "Create the registry from the example ranges, keep it out of version\n"
	  "control (.git/info/exclude) and install the post-checkout hook (see\n"
	  "'git worktree-ports install-hooks -h').\n"
	  "\n"
	  "    --force       replace an existing registry (its allocations are lost)\n"
	  "    --no-hooks    do not install the post-checkout hook\n" },
	{ "allocate", cmd_allocate, OPT_PORT | OPT_WORKTREE | OPT_DESCRIPTION,
	  1, 1,
	  "git worktree-ports allocate <service> [--port <n>] [--worktree <name>]\n"
	  "                            [--description <text>] [-q]\n"
	  "\n"
	  "Give this worktree (or <name>) a port for <service> and print it. The\n"
	  "same worktree and service always get their existing port back.\n"
	  "\n"
	  "    --port <n>            ask for this port; refused if it is taken\n"
	  "    --worktree <name>     allocate for another worktree ('.main': the main one)\n"
	  "    --description <text>  what the port is for\n"
	  "    -q, --quiet           print only the port number\n" },
	{ "release", cmd_release, OPT_PORT | OPT_WORKTREE | OPT_ALL, 0, -1,
	  "git worktree-ports release [<service>...] [--port <n>] [--worktree <name>] [--all]\n"
	  "\n"
	  "Give ports back.\n"
	  "\n"
	  "    --port <n>         release this port, whichever worktree holds it\n"
	  "    --worktree <name>  act on another worktree\n"
	  "    --all              release every port of the worktree\n" },
	{ "status", cmd_status,
	  OPT_WORKTREE | OPT_ALL | OPT_HEALTH | OPT_TIMEOUT | OPT_VERBOSE, 0, 0,
	  "git worktree-ports status [--all | --worktree <name>] [--health-check]\n"
	  "                          [--timeout <seconds>] [--verbose]\n"
	  "\n"
	  "Show this worktree's ports, or all of them grouped by range with the\n"
	  "free ports of each range.\n"
	  "\n"
	  "    --all              every worktree\n"
	  "    --worktree <name>  another worktree\n"
	  "    --health-check     check every port at once: listening, the process\n"
	  "                       holding it, the answer to its health path; exit 9\n"
	  "                       unless all are healthy\n"
	  "    --timeout <s>      for the whole check (default 2)\n"
	  "    -v, --verbose      with the check: why, and how long each took\n" },
	{ "prune", cmd_prune, OPT_DRY_RUN, 0, 0,
	  "git worktree-ports prune [--dry-run]\n"
	  "\n"
	  "Release the ports of worktrees that no longer exist (locked worktrees\n"
	  "keep theirs).\n"
	  "\n"
	  "    --dry-run   only say what would be released\n" },
	{ "env", cmd_env, OPT_FORMAT | OPT_WORKTREE, 0, 0,
	  "git worktree-ports env [--format dotenv|sh|json] [--worktree <name>]\n"
	  "\n"
	  "Print this worktree's variables, e.g. for\n"
	  "    eval \"$(git worktree-ports env --format sh)\"\n" },
	{ "wait", cmd_wait, OPT_TIMEOUT | OPT_WORKTREE, 1, 1,
	  "git worktree-ports wait <service> [--timeout <seconds>] [--worktree <name>]\n"
	  "\n"
	  "Wait until this worktree's <service> is healthy, checking again with a\n"
	  "growing pause; exit 9 with the last status seen at the timeout.\n"
	  "\n"
	  "    --timeout <s>   give up after this long (default 60)\n" },
	{ "log", cmd_log, OPT_SINCE | OPT_WORKTREE | OPT_SERVICE | OPT_ACTION, 0,
	  0,
	  "git worktree-ports log [--since <30m|2h|3d|TIME>] [--worktree <name>]\n"
	  "                       [--service <name>] [--action <action>]\n"
	  "\n"
	  "Show the activity log, newest first: allocations, releases, prunes,\n"
	  "repairs and health changes.\n"
	  "\n"
	  "    --since <when>     only what happened since (30m, 2h, 3d, 1w, or a UTC time)\n"
	  "    --worktree <name>  only this worktree\n"
	  "    --service <name>   only this service\n"
	  "    --action <action>  allocate, release, auto-release, prune, repair, health\n" },
	{ "remove", cmd_remove, OPT_FORCE, 1, 1,
	  "git worktree-ports remove <worktree> [--force]\n"
	  "\n"
	  "Remove a worktree through 'git worktree remove' (git's own checks apply)\n"
	  "and release its ports. <worktree> is its git name or its folder.\n"
	  "\n"
	  "    --force   passed to git: remove it even with changes\n" },
	{ "sync", cmd_sync, OPT_WORKTREE, 0, 0,
	  "git worktree-ports sync [--worktree <name>]\n"
	  "\n"
	  "Allocate every service .worktree-ports.ini declares for this worktree,\n"
	  "release the ports of services it no longer declares, and write the\n"
	  "variables into the worktree's .env files. The post-checkout hook runs it.\n"
	  "\n"
	  "    --worktree <name>  set up another worktree\n" },
	{ "install-hooks", cmd_install_hooks, 0, 0, 0,
	  "git worktree-ports install-hooks\n"
	  "\n"
	  "Install the post-checkout hook that runs 'sync' on branch checkouts and\n"
	  "'git worktree add', in the hooks directory (core.hooksPath, else the\n"
	  "repository's hooks/). A post-checkout hook already there keeps running\n"
	  "after it, kept as post-checkout.before-worktree-ports.\n" },
	{ "uninstall-hooks", cmd_uninstall_hooks, 0, 0, 0,
	  "git worktree-ports uninstall-hooks\n"
	  "\n"
	  "Remove the post-checkout hook and put back the hook it replaced.\n" },
	{ "who", cmd_who, 0, 1, 1,
	  "git worktree-ports who <port>\n"
	  "\n"
	  "Say what listens on <port>: each socket, and each process holding it\n"
	  "(pid, user, command line, directory, start time); which worktree and\n"
	  "service the port is allocated to, and whether the process runs inside\n"
	  "that worktree. Outside a repository, only the listeners.\n"
	  "\n"
	  "    -q, --quiet   print only the pids, one a line\n" },
	{ "check", cmd_check, 0, 0, 0,
	  "git worktree-ports check\n"
	  "\n"
	  "Report every conflict, each with the command that fixes it: a port\n"
	  "allocated twice (here or in another registry on this host), outside its\n"
	  "range, reserved or refused by browsers, held by a process outside its\n"
	  "worktree, the ports of a removed worktree, ranges that overlap. Exit 9\n"
	  "when any is found. Changes nothing.\n" },
	{ "repair", cmd_repair, OPT_DRY_RUN | OPT_ALL | OPT_WORKTREE, 0, 0,
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

static const char main_usage[] =
	"usage: git worktree-ports [-C <path>] [--registry <file>] [--json] [-q]\n"
	"                          <command> [<options>]\n"
	"\n"
	"Commands:\n"
	"    init       create the registry for this repository\n"
	"    allocate   give this worktree a port for a service\n"
	"    release    give ports back\n"
	"    status     show allocations and free ports\n"
	"    prune      release the ports of removed worktrees\n"
	"    env        print this worktree's port variables\n"
	"    wait       wait until a service of this worktree is healthy\n"
	"    log        show the activity log\n"
	"    remove     remove a worktree and release its ports\n"
	"    sync       allocate what .worktree-ports.ini declares, write .env\n"
	"    install-hooks\n"
	"               install the post-checkout hook (init does it)\n"
	"    uninstall-hooks\n"
	"               remove it, putting back the hook it replaced\n"
	"    who        what listens on a port, and whose allocation it is\n"
	"    check      report conflicts, with the command that fixes each\n"
	"    repair     move the ports a worktree cannot keep, rewrite .env\n"
	"\n"
	"Global options:\n"
	"    -C <path>          run as if started in <path>\n"
	"    --registry <file>  use this registry file\n"
	"    --json             machine-readable output (docs/json.md)\n"
	"    -q, --quiet        less output\n"
	"    -h, --help         help for git worktree-ports or a command\n"
	"    --version          print the version\n"
	"\n"
	"See 'git worktree-ports <command> -h' and git-worktree-ports(1).\n";

int cli_exit_status(int code)
{
	switch (code) {
	case 0:
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

/* "--name=value" or "--name value"; NULL if 'arg' is not '--name'. */
static const char *long_value(const char *arg, const char *name, int *i,
			      int argc, char **argv, struct error *err)
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

struct parsed {
	struct cmd_opts o;
	const struct command *cmd;
	const char **dirs; /* -C, in order */
	int nr_dirs;
	bool help;
	bool version;
};

static int unknown_option(const char *arg, const struct command *cmd,
			  struct error *err)
{
	int ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
			    "unknown option '%s'", arg);

	if (cmd)
		error_hint(err, "see 'git worktree-ports %s -h'", cmd->name);
	else
		error_hint(err, "see 'git worktree-ports -h'");
	return ret;
}

static int parse_port(struct parsed *p, const char *value, struct error *err)
{
	int ret;

	if (alloc_parse_port(&p->o.port, value) < 0) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid port '%s'", value);
		error_hint(err, "give a number from %d to 65535",
			   ALLOC_MIN_PORT);
		return ret;
	}
	p->o.has_port = true;
	return 0;
}

/* Seconds, with an optional fraction: "1", "0.5", "30". */
static int parse_timeout(struct parsed *p, const char *value,
			 struct error *err)
{
	char *end;
	double secs;
	int ret;

	errno = 0;
	secs = strtod(value, &end);
	if (errno || end == value || *end || !(secs >= 0) || secs > 86400) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid timeout '%s'", value);
		error_hint(err, "give seconds, such as 1, 0.5 or 30");
		return ret;
	}
	p->o.timeout_ms = (int)(secs * 1000 + 0.5);
	p->o.has_timeout = true;
	return 0;
}

/*
 * One option at argv[*i]; global options are accepted anywhere, the
 * command's own only after it. Returns 1 if it was not an option.
 */
static int parse_option(struct parsed *p, int *i, int argc, char **argv,
			struct error *err)
{
	const char *arg = argv[*i];
	unsigned acc = p->cmd ? p->cmd->accepts : 0;
	const char *v;

	if (arg[0] != '-' || !arg[1])
		return 1;
	if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
		p->help = true;
		return 0;
	}
	if (!strcmp(arg, "--version")) {
		p->version = true;
		return 0;
	}
	if (!strcmp(arg, "--json")) {
		p->o.json = true;
		return 0;
	}
	if (!strcmp(arg, "-q") || !strcmp(arg, "--quiet")) {
		p->o.quiet = true;
		return 0;
	}
	if (!strcmp(arg, "-C")) {
		if (*i + 1 >= argc)
			return error_set(err, ERR_USAGE, NULL, 0, NULL,
					 "option '-C' needs a value");
		p->dirs[p->nr_dirs++] = argv[++*i];
		return 0;
	}
	if ((v = long_value(arg, "--registry", i, argc, argv, err))) {
		p->o.registry = v;
		return 0;
	}
	if (err->code)
		return err->code;
	if ((acc & OPT_FORCE) && !strcmp(arg, "--force")) {
		p->o.force = true;
		return 0;
	}
	if ((acc & OPT_NO_HOOKS) && !strcmp(arg, "--no-hooks")) {
		p->o.no_hooks = true;
		return 0;
	}
	if ((acc & OPT_ALL) && !strcmp(arg, "--all")) {
		p->o.all = true;
		return 0;
	}
	if ((acc & OPT_DRY_RUN) &&
	    (!strcmp(arg, "--dry-run") || !strcmp(arg, "-n"))) {
		p->o.dry_run = true;
		return 0;
	}
	if ((acc & OPT_PORT) &&
	    (v = long_value(arg, "--port", i, argc, argv, err)))
		return parse_port(p, v, err);
	if ((acc & OPT_WORKTREE) &&
	    (v = long_value(arg, "--worktree", i, argc, argv, err))) {
		p->o.worktree = v;
		return 0;
	}
	if ((acc & OPT_DESCRIPTION) &&
	    (v = long_value(arg, "--description", i, argc, argv, err))) {
		p->o.description = v;
		return 0;
	}
	if ((acc & OPT_FORMAT) &&
	    (v = long_value(arg, "--format", i, argc, argv, err))) {
		p->o.format = v;
		return 0;
	}
	if ((acc & OPT_HEALTH) && !strcmp(arg, "--health-check")) {
		p->o.health_check = true;
		return 0;
	}
	if ((acc & OPT_VERBOSE) &&
	    (!strcmp(arg, "--verbose") || !strcmp(arg, "-v"))) {
		p->o.verbose = true;
		return 0;
	}
	if ((acc & OPT_TIMEOUT) &&
	    (v = long_value(arg, "--timeout", i, argc, argv, err)))
		return parse_timeout(p, v, err);
	if ((acc & OPT_SINCE) &&
	    (v = long_value(arg, "--since", i, argc, argv, err))) {
		p->o.since = v;
		return 0;
	}
	if ((acc & OPT_SERVICE) &&
	    (v = long_value(arg, "--service", i, argc, argv, err))) {
		p->o.service = v;
		return 0;
	}
	if ((acc & OPT_ACTION) &&
	    (v = long_value(arg, "--action", i, argc, argv, err))) {
		p->o.action = v;
		return 0;
	}
	if (err->code)
		return err->code;
	return unknown_option(arg, p->cmd, err);
}

static int parse(struct parsed *p, int argc, char **argv, struct error *err)
{
	bool only_args = false;
	int i, ret;

	p->dirs = xcalloc((size_t)argc + 1, sizeof(*p->dirs));
	p->o.args = xcalloc((size_t)argc + 1, sizeof(*p->o.args));
	for (i = 1; i < argc; i++) {
		if (!only_args && !strcmp(argv[i], "--")) {
			only_args = true;
			continue;
		}
		if (!only_args) {
			ret = parse_option(p, &i, argc, argv, err);
			if (ret < 0)
				return ret;
			if (!ret)
				continue;
		}
		if (!p->cmd) {
			p->cmd = find_command(argv[i]);
			if (!p->cmd) {
				ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
						"'%s' is not a git worktree-ports command",
						argv[i]);
				error_hint(err, "see 'git worktree-ports -h'");
				return ret;
			}
			continue;
		}
		p->o.args[p->o.nr_args++] = argv[i];
	}
	return 0;
}

static int check_args(const struct parsed *p, struct error *err)
{
	const struct command *c = p->cmd;
	int ret;

	if (p->o.nr_args < c->min_args) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"'%s' needs %s", c->name,
				c->min_args == 1 ? "an argument" : "arguments");
	} else if (c->max_args >= 0 && p->o.nr_args > c->max_args) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"'%s' takes %s arguments, got '%s'", c->name,
				c->max_args ? "at most one of its" : "no",
				p->o.args[c->max_args]);
	} else {
		return 0;
	}
	error_hint(err, "see 'git worktree-ports %s -h'", c->name);
	return ret;
}

int cli_main(int argc, char **argv)
{
	struct parsed p;
	struct error err = ERROR_INIT;
	int i, ret;

	memset(&p, 0, sizeof(p));
	ret = parse(&p, argc, argv, &err);
	if (ret < 0)
		goto out;
	if (p.version) {
		printf("git-worktree-ports version %s\n", WTP_VERSION);
		goto out;
	}
	if (p.help || !p.cmd) {
		if (p.cmd)
			printf("usage: %s", p.cmd->usage);
		else
			fputs(main_usage, p.help ? stdout : stderr);
		if (!p.help)
			ret = ERR_USAGE;
		goto out;
	}
	ret = check_args(&p, &err);
	if (ret < 0)
		goto out;
	for (i = 0; i < p.nr_dirs; i++) {
		if (chdir(p.dirs[i]) < 0) {
			ret = error_errno(&err, p.dirs[i],
					  "cannot change to this directory");
			goto out;
		}
	}
	ret = p.cmd->fn(&p.o, &err);
	/*
	 * The hook must never fail a checkout: what went wrong in its sync
	 * is a warning, and the exit status is 0.
	 */
	if (ret < 0 && p.cmd->fn == cmd_sync && hooks_in_hook()) {
		if (err.code)
			print_error(&err, "warning");
		ret = 0;
	}
out:
	if (ret < 0 && err.code)
		print_error(&err, "error");
	free(p.dirs);
	free(p.o.args);
	wt_shutdown();
	fflush(stdout);
	return cli_exit_status(ret);
}
