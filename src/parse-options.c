#include "common.h"
#include "parse-options.h"
#include "error.h"

#include <errno.h>
#include <limits.h>

/* Column of the option help in the usage, as in git. */
#define USAGE_OPTS_WIDTH 26

/* One parse: the arguments still to read and where kept ones go. */
struct ctx {
	const char **argv; /* the next argument */
	int argc;	   /* how many are left */
	const char **out;  /* where kept arguments go */
	int nr_out;
};

/* How the option was named: "--name" or "--no-name" as given, or "-n". */
struct named {
	const char *name; /* after "--"; NULL for a short option */
	int len;
	int short_name;
};

static int usage_error(struct error *err, const struct named *n,
		       const char *what)
{
	if (n->name)
		return error_set(err, ERR_USAGE, NULL, 0, NULL,
				 "option '--%.*s' %s", n->len, n->name, what);
	return error_set(err, ERR_USAGE, NULL, 0, NULL, "option '-%c' %s",
			 n->short_name, what);
}

/*
 * The value of an option that takes one: the rest of "-nVALUE" or
 * "--name=VALUE" ('*inline_value'), else the next argument.
 */
static int take_value(const char **out, struct ctx *c,
		      const char **inline_value, const struct named *n,
		      struct error *err)
{
	if (*inline_value) {
		*out = *inline_value;
		*inline_value = NULL;
		return 0;
	}
	if (c->argc < 1)
		return usage_error(err, n, "needs a value");
	*out = *c->argv++;
	c->argc--;
	return 0;
}

static int parse_int(int *out, const char *s)
{
	const char *digits = *s == '-' ? s + 1 : s;
	char *end;
	long v;

	/* strtol() would take " 1" and "+1" */
	if (*digits < '0' || *digits > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < INT_MIN || v > INT_MAX)
		return -1;
	*out = (int)v;
	return 0;
}

/*
 * Set 'opt' from what follows it. 'unset' for --no-NAME; '*inline_value'
 * is the rest of the argument ("=VALUE", or what follows a short option),
 * consumed if the option takes a value.
 */
static int set_value(const struct option *opt, bool unset, struct ctx *c,
		     const char **inline_value, const struct named *n,
		     struct error *err)
{
	const char *arg = NULL;
	int ret;

	if (opt->flags & PARSE_OPT_NOARG) {
		if (*inline_value && n->name)
			return usage_error(err, n, "takes no value");
	} else {
		ret = take_value(&arg, c, inline_value, n, err);
		if (ret < 0)
			return ret;
	}

	switch (opt->type) {
	case OPTION_BOOL:
		*(bool *)opt->value = !unset;
		return 0;
	case OPTION_STRING:
		*(const char **)opt->value = arg;
		return 0;
	case OPTION_INTEGER:
		if (parse_int(opt->value, arg) < 0) {
			ret = usage_error(err, n, "expects a number");
			error_hint(err, "give a whole number, not '%s'", arg);
			return ret;
		}
		return 0;
	case OPTION_CALLBACK:
		return opt->callback(opt, arg, err);
	default:
		/* a table entry that cannot be given */
		return usage_error(err, n, "cannot be used");
	}
}

static bool takes_input(const struct option *opt)
{
	return opt->type != OPTION_END && opt->type != OPTION_GROUP;
}

static bool negatable(const struct option *opt)
{
	return opt->type == OPTION_BOOL && !(opt->flags & PARSE_OPT_NONEG);
}

/* 'arg' is what follows "--": "name", "name=value", "no-name"... */
static int parse_long(struct ctx *c, const char *arg,
		      const struct option *options, struct error *err)
{
	const char *eq = strchr(arg, '=');
	size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
	const char *value = eq ? eq + 1 : NULL;
	const struct named n = { arg, (int)len, 0 };
	const struct option *opt;

	for (opt = options; opt->type != OPTION_END; opt++) {
		const char *l = opt->long_name;
		size_t l_len;

		if (!takes_input(opt) || !l)
			continue;
		l_len = strlen(l);
		if (len == l_len && !strncmp(arg, l, len))
			return set_value(opt, false, c, &value, &n, err);
		if (!negatable(opt))
			continue;
		/* --no-NAME turns NAME off; --NAME turns no-NAME off */
		if (len == l_len + 3 && !strncmp(arg, "no-", 3) &&
		    !strncmp(arg + 3, l, l_len))
			return set_value(opt, true, c, &value, &n, err);
		if (!strncmp(l, "no-", 3) && len == l_len - 3 &&
		    !strncmp(arg, l + 3, len))
			return set_value(opt, true, c, &value, &n, err);
	}
	return error_set(err, ERR_USAGE, NULL, 0, NULL,
			 "unknown option '--%.*s'", n.len, n.name);
}

/* 'arg' is what follows "-": one or more short options. */
static int parse_short(struct ctx *c, const char *arg,
		       const struct option *options, struct error *err)
{
	while (*arg) {
		const struct option *opt;
		const char *rest = arg[1] ? arg + 1 : NULL;
		const struct named n = { NULL, 0, (unsigned char)*arg };
		int ret;

		if (*arg == 'h')
			return PARSE_OPT_HELP;
		for (opt = options; opt->type != OPTION_END; opt++)
			if (takes_input(opt) && opt->short_name == *arg)
				break;
		if (opt->type == OPTION_END)
			return error_set(err, ERR_USAGE, NULL, 0, NULL,
					 "unknown option '-%c'", *arg);
		ret = set_value(opt, false, c, &rest, &n, err);
		if (ret < 0)
			return ret;
		/* 'rest' is NULL if the option took it as its value */
		arg = rest ? rest : "";
	}
	return 0;
}

int parse_options(int argc, const char **argv, const struct option *options,
		  unsigned flags, struct error *err)
{
	struct ctx c;
	int ret;

	c.argv = argv + 1;
	c.argc = argc > 0 ? argc - 1 : 0;
	c.out = argv;
	c.nr_out = 0;
	while (c.argc > 0) {
		const char *arg = *c.argv;

		if (arg[0] != '-' || !arg[1]) {
			if (flags & PARSE_OPT_STOP_AT_NON_OPTION)
				break;
			c.out[c.nr_out++] = arg;
			c.argv++;
			c.argc--;
			continue;
		}
		c.argv++;
		c.argc--;
		if (!strcmp(arg, "--"))
			break;
		if (!strcmp(arg, "--help"))
			return PARSE_OPT_HELP;
		if (arg[1] == '-')
			ret = parse_long(&c, arg + 2, options, err);
		else
			ret = parse_short(&c, arg + 1, options, err);
		if (ret < 0)
			return ret;
	}
	/* what is left (after "--", or from the first argument) is kept */
	while (c.argc-- > 0)
		c.out[c.nr_out++] = *c.argv++;
	c.out[c.nr_out] = NULL;
	return c.nr_out;
}

/* "-q, --[no-]quiet <arg>", after the indent; returns its width. */
static int print_names(FILE *out, const struct option *opt)
{
	int pos = 0;

	if (opt->short_name)
		pos += fprintf(out, "-%c", opt->short_name);
	if (opt->short_name && opt->long_name)
		pos += fprintf(out, ", ");
	if (opt->long_name) {
		if (negatable(opt) && strncmp(opt->long_name, "no-", 3))
			pos += fprintf(out, "--[no-]%s", opt->long_name);
		else
			pos += fprintf(out, "--%s", opt->long_name);
	}
	if (!(opt->flags & PARSE_OPT_NOARG))
		pos += fprintf(out, " <%s>", opt->argh ? opt->argh : "...");
	return pos;
}

/* Move from column 'pos' to the help column, on the next line if past. */
static void pad_to_help(FILE *out, int pos)
{
	if (pos < USAGE_OPTS_WIDTH)
		fprintf(out, "%*s", USAGE_OPTS_WIDTH - pos, "");
	else
		fprintf(out, "\n%*s", USAGE_OPTS_WIDTH, "");
}

static void print_help(FILE *out, int pos, const char *help)
{
	const char *line = help ? help : "";

	do {
		const char *nl = strchr(line, '\n');
		int len = nl ? (int)(nl - line) : (int)strlen(line);

		pad_to_help(out, pos);
		fprintf(out, "%.*s\n", len, line);
		pos = 0;
		line = nl ? nl + 1 : NULL;
	} while (line && *line);
}

static bool has_long_name(const struct option *options, const char *name)
{
	for (; options->type != OPTION_END; options++)
		if (options->long_name && !strcmp(options->long_name, name))
			return true;
	return false;
}

/* Each line of 'str' after the first, under it: "usage: " is 7 wide. */
static void print_synopsis(FILE *out, const char *prefix, const char *str)
{
	const char *nl;

	fputs(prefix, out);
	while ((nl = strchr(str, '\n'))) {
		fprintf(out, "%.*s\n%*s", (int)(nl - str), str,
			(int)strlen(prefix), "");
		str = nl + 1;
	}
	fprintf(out, "%s\n", str);
}

static void print_text(FILE *out, const char *str)
{
	while (*str) {
		const char *nl = strchr(str, '\n');
		int len = nl ? (int)(nl - str) : (int)strlen(str);

		if (len)
			fprintf(out, "    %.*s\n", len, str);
		else
			fputc('\n', out);
		if (!nl)
			return;
		str = nl + 1;
	}
	fputc('\n', out);
}

void usage_with_options(FILE *out, const char *const *usagestr,
			const struct option *options)
{
	const char *prefix = "usage: ";
	const struct option *opt;
	bool need_newline = true;

	for (; *usagestr && **usagestr; usagestr++) {
		print_synopsis(out, prefix, *usagestr);
		prefix = "   or: ";
	}
	for (; *usagestr; usagestr++)
		print_text(out, *usagestr);

	for (opt = options; opt->type != OPTION_END; opt++) {
		int pos;

		if (opt->type == OPTION_GROUP) {
			fputc('\n', out);
			need_newline = false;
			if (opt->help && *opt->help)
				fprintf(out, "%s\n", opt->help);
			continue;
		}
		if (opt->flags & PARSE_OPT_HIDDEN)
			continue;
		if (need_newline) {
			fputc('\n', out);
			need_newline = false;
		}
		pos = fprintf(out, "    ");
		pos += print_names(out, opt);
		print_help(out, pos, opt->help);
		/* git's "--no-verify" is followed by its "--verify" */
		if (negatable(opt) && opt->long_name &&
		    !strncmp(opt->long_name, "no-", 3) &&
		    !has_long_name(options, opt->long_name + 3)) {
			pos = fprintf(out, "    --%s", opt->long_name + 3);
			pad_to_help(out, pos);
			fprintf(out, "opposite of --%s\n", opt->long_name);
		}
	}
	fputc('\n', out);
}

struct option *parse_options_concat(const struct option *a,
				    const struct option *b)
{
	size_t nr_a = 0, nr_b = 0;
	struct option *all;

	while (a[nr_a].type != OPTION_END)
		nr_a++;
	while (b[nr_b].type != OPTION_END)
		nr_b++;
	all = xcalloc(nr_a + nr_b + 1, sizeof(*all));
	memcpy(all, a, nr_a * sizeof(*all));
	memcpy(all + nr_a, b, nr_b * sizeof(*all));
	all[nr_a + nr_b].type = OPTION_END;
	return all;
}
