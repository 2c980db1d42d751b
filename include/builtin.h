#ifndef WTP_BUILTIN_H
#define WTP_BUILTIN_H

/*
 * builtin: the commands, one cmd_NAME() each in src/builtin/NAME.c, and
 * what the command line (cli.c) gives them. Included only by cli.c and
 * the command files.
 *
 * cli.c parses the global options before the command's name, then calls
 * the command with its name in argv[0] and everything after it (argv[argc]
 * is NULL). The command's first act is cli_parse_options() with its own
 * option table, which also produces its usage: the global options are
 * accepted there as well, among its own, and the -C directories are
 * changed to once all are known.
 *
 * A command writes its results to stdout (as a table, or as JSON with
 * --json) and its notes and warnings to stderr; it reports failure by
 * returning a negative ERR_* code with 'err' filled, and cli.c prints the
 * error and picks the exit status (docs/exit-codes.md). PARSE_OPT_HELP
 * and the ERR_USAGE of a usage error that cli_parse_options() or
 * cli_usage_error() printed come back with 'err' empty.
 */

struct error;
struct option;

/* The options every command accepts, before or after its name. */
struct global_opts {
	const char *registry; /* --registry <file>, or NULL */
	bool json;	      /* --json */
	bool quiet;	      /* -q, --quiet */
	/* -C <path>, in their order, borrowed from argv */
	const char **dirs;
	size_t nr_dirs, alloc_dirs;
};

#define GLOBAL_OPTS_INIT                                                       \
	{                                                                      \
		NULL, false, false, NULL, 0, 0                                 \
	}

int cmd_init(int argc, const char **argv, struct global_opts *g,
	     struct error *err);
int cmd_allocate(int argc, const char **argv, struct global_opts *g,
		 struct error *err);
int cmd_release(int argc, const char **argv, struct global_opts *g,
		struct error *err);
int cmd_status(int argc, const char **argv, struct global_opts *g,
	       struct error *err);
int cmd_prune(int argc, const char **argv, struct global_opts *g,
	      struct error *err);
int cmd_env(int argc, const char **argv, struct global_opts *g,
	    struct error *err);
int cmd_wait(int argc, const char **argv, struct global_opts *g,
	     struct error *err);
int cmd_log(int argc, const char **argv, struct global_opts *g,
	    struct error *err);
int cmd_remove(int argc, const char **argv, struct global_opts *g,
	       struct error *err);
int cmd_sync(int argc, const char **argv, struct global_opts *g,
	     struct error *err);
int cmd_install_hooks(int argc, const char **argv, struct global_opts *g,
		      struct error *err);
int cmd_uninstall_hooks(int argc, const char **argv, struct global_opts *g,
			struct error *err);
int cmd_who(int argc, const char **argv, struct global_opts *g,
	    struct error *err);
int cmd_check(int argc, const char **argv, struct global_opts *g,
	      struct error *err);
int cmd_repair(int argc, const char **argv, struct global_opts *g,
	       struct error *err);

/*
 * The rest is cli.c's, for the commands.
 *
 * Parse a command's options: 'options' and the global ones (into 'g'),
 * anywhere among its arguments. Returns how many arguments are left, in
 * argv[0..n-1], having changed to each -C directory (an error there is
 * ERR_FAIL with 'err' filled). For -h or --help, prints the usage made
 * from 'usage' and 'options' to stdout and returns PARSE_OPT_HELP; for a
 * usage error, prints "error: ..." and its hint or else that usage to
 * stderr and returns ERR_USAGE, 'err' left empty.
 */
int cli_parse_options(int argc, const char **argv, const char *const *usage,
		      const struct option *options, struct global_opts *g,
		      struct error *err);

/*
 * For arguments a command cannot take: print "error: MESSAGE" and the
 * usage to stderr; returns ERR_USAGE.
 */
int cli_usage_error(const char *const *usage, const struct option *options,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Option callbacks. OPT_PORT fills a uint16_t that stays 0 unless the
 * option is given (0 is no valid port); OPT_TIMEOUT fills an int with
 * milliseconds from seconds with an optional fraction ("1", "0.5"),
 * which stays as it is unless the option is given (start it at -1 to
 * tell). A bad value is ERR_USAGE, with a hint saying what is valid.
 */
int cli_parse_port(const struct option *opt, const char *arg,
		   struct error *err);
int cli_parse_timeout(const struct option *opt, const char *arg,
		      struct error *err);

#define OPT_PORT(l, v, h)                                                      \
	OPT_CALLBACK(0, (l), (1 ? (v) : (uint16_t *)0), "n", (h),              \
		     cli_parse_port)
#define OPT_TIMEOUT(l, v, h)                                                   \
	OPT_CALLBACK(0, (l), (1 ? (v) : (int *)0), "seconds", (h),             \
		     cli_parse_timeout)

#endif
