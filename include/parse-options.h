#ifndef WTP_PARSE_OPTIONS_H
#define WTP_PARSE_OPTIONS_H

/*
 * parse-options: a command's options as one table, which both parses the
 * command line and produces the usage text, as git's parse-options does.
 *
 * A command declares its options, each pointing at a local variable,
 * then lets parse_options() fill them in and leave its arguments:
 *
 *	static const char *const frob_usage[] = {
 *		"git frob [<options>] <file>...",
 *		"",
 *		"Frobnicate each <file>.",
 *		NULL
 *	};
 *
 *	bool force = false;
 *	const char *name = NULL;
 *	struct option options[] = {
 *		OPT_BOOL('f', "force", &force, "frobnicate even if locked"),
 *		OPT_STRING(0, "name", &name, "name", "call it <name>"),
 *		OPT_END()
 *	};
 *
 *	argc = parse_options(argc, argv, options, 0, err);
 *	if (argc == PARSE_OPT_HELP)
 *		usage_with_options(stdout, frob_usage, options);
 *
 * Options and arguments may come in any order. A long option takes its
 * value as "--name=value" or as the next argument "--name value"; a short
 * one as "-nvalue" or "-n value"; short options without a value may be
 * grouped ("-qv"). "--" ends the options: what follows is arguments, even
 * if it starts with '-'. A lone "-" is an argument. A boolean "--name"
 * can be turned off again with "--no-name" (unless PARSE_OPT_NONEG), and
 * one named "no-name" with "--name". "-h" and "--help" ask for the usage.
 * Long names must be given in full: there are no abbreviations, so a new
 * option never breaks a script that used a shorter spelling.
 *
 * Nothing here prints, exits or allocates, but parse_options_concat() and
 * usage_with_options(), which prints to the stream it is given.
 */

#include <stdio.h>

struct error;
struct option;

/*
 * Called with the option and its value ('arg', NULL for an option with
 * PARSE_OPT_NOARG); 'opt->value' is where the result goes. Returns 0, or
 * a negative ERR_* code (ERR_USAGE for a bad value) with 'err' filled:
 * "invalid port 'abc'", and a hint saying what is valid.
 */
typedef int (*parse_opt_cb)(const struct option *opt, const char *arg,
			    struct error *err);

enum parse_opt_type {
	OPTION_END,
	OPTION_GROUP,	/* a heading in the usage */
	OPTION_BOOL,	/* bool *: true, or false with --no-NAME */
	OPTION_STRING,	/* const char **: the value, borrowed from argv */
	OPTION_INTEGER, /* int *: a decimal number */
	OPTION_CALLBACK /* 'callback' turns the value into '*value' */
};

/* Flags of one option. */
#define PARSE_OPT_NONEG (1 << 0)  /* a bool without --no-NAME */
#define PARSE_OPT_HIDDEN (1 << 1) /* parsed, but left out of the usage */
#define PARSE_OPT_NOARG (1 << 2)  /* a callback that takes no value */

struct option {
	enum parse_opt_type type;
	int short_name;	       /* 'q' for -q, or 0 */
	const char *long_name; /* "quiet" for --quiet, or NULL */
	void *value;
	const char *argh; /* the value in the usage: "n" is shown as <n> */
	const char *help; /* one line, or several separated by '\n' */
	unsigned flags;	  /* PARSE_OPT_* */
	parse_opt_cb callback;
};

/*
 * Table entries. 'v' is type-checked: a bool option given an int * draws
 * a warning ("pointer type mismatch"), an error under -Werror.
 */
#define OPT_END()                                                              \
	{                                                                      \
		.type = OPTION_END                                             \
	}
#define OPT_GROUP(h)                                                           \
	{                                                                      \
		.type = OPTION_GROUP, .help = (h)                              \
	}
#define OPT_BOOL_F(s, l, v, h, f)                                              \
	{                                                                      \
		.type = OPTION_BOOL, .short_name = (s), .long_name = (l),      \
		.value = (1 ? (v) : (bool *)0), .help = (h),                   \
		.flags = PARSE_OPT_NOARG | (f)                                 \
	}
#define OPT_BOOL(s, l, v, h) OPT_BOOL_F(s, l, v, h, 0)
#define OPT_STRING(s, l, v, a, h)                                              \
	{                                                                      \
		.type = OPTION_STRING, .short_name = (s), .long_name = (l),    \
		.value = (1 ? (v) : (const char **)0), .argh = (a),            \
		.help = (h), .flags = PARSE_OPT_NONEG                          \
	}
#define OPT_INTEGER(s, l, v, a, h)                                             \
	{                                                                      \
		.type = OPTION_INTEGER, .short_name = (s), .long_name = (l),   \
		.value = (1 ? (v) : (int *)0), .argh = (a), .help = (h),       \
		.flags = PARSE_OPT_NONEG                                       \
	}
#define OPT_CALLBACK_F(s, l, v, a, h, f, cb)                                   \
	{                                                                      \
		.type = OPTION_CALLBACK, .short_name = (s), .long_name = (l),  \
		.value = (v), .argh = (a), .help = (h),                        \
		.flags = PARSE_OPT_NONEG | (f), .callback = (cb)               \
	}
#define OPT_CALLBACK(s, l, v, a, h, cb) OPT_CALLBACK_F(s, l, v, a, h, 0, cb)

/* parse_options() stops at the first argument (a command's name). */
#define PARSE_OPT_STOP_AT_NON_OPTION (1 << 0)

/*
 * What parse_options() returns for "-h" or "--help", with 'err' left
 * alone: the caller prints the usage (to stdout) and exits 129, as git
 * does. It is none of the ERR_* codes.
 */
#define PARSE_OPT_HELP (-129)

/*
 * Parse the options in argv[1..argc-1] into their variables; argv[0], the
 * command's name, is skipped. The arguments that are not options are
 * moved to argv[0..n-1], in their order, argv[n] is set to NULL (argv has
 * argc + 1 entries, as main()'s has) and n is returned. With
 * PARSE_OPT_STOP_AT_NON_OPTION, parsing stops at the first argument,
 * which and all after it are the n left.
 *
 * Returns PARSE_OPT_HELP as soon as "-h" or "--help" is seen, or ERR_USAGE
 * with 'err' naming the option for an unknown option, a missing value or
 * a value given to an option that takes none; a callback's error is
 * returned as it is. Options before the one that failed have been set.
 * The caller shows the usage when 'err' has no hint.
 */
int parse_options(int argc, const char **argv, const struct option *options,
		  unsigned flags, struct error *err);

/*
 * Print the usage to 'out' as git lays it out:
 *
 *	usage: <usagestr[0]>
 *	   or: <usagestr[1]>		(each next one, up to an empty string)
 *
 *	    <text>			(the strings after the empty one)
 *
 *	    -q, --[no-]quiet      <help>
 *	    --port <n>            <help>
 *
 * 'usagestr' ends with NULL. A synopsis string may hold '\n': its next
 * lines are indented under the first. Help starts in column 26, or on the
 * next line for a longer option. OPT_GROUP starts a new block under its
 * heading. Hidden options are left out. A blank line ends it.
 */
void usage_with_options(FILE *out, const char *const *usagestr,
			const struct option *options);

/*
 * A new table with the options of 'a' then those of 'b', for a command
 * that accepts options declared elsewhere: parse_options() takes the
 * first option of a name, so one of 'a' hides one of 'b'. The caller
 * frees it with free().
 */
struct option *parse_options_concat(const struct option *a,
				    const struct option *b);

#endif
