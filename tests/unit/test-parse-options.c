#include "common.h"
#include "parse-options.h"
#include "error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <cmocka.h>

/* The variables of the table 'frob' below, reset for each test. */
struct frob {
	bool force;
	bool quiet;
	bool no_hooks;
	bool keep; /* PARSE_OPT_NONEG */
	const char *name;
	const char *dir;
	int count;
	int calls;
	const char *seen;
};

#define FROB_INIT                                                              \
	{                                                                      \
		false, false, false, false, NULL, NULL, -1, 0, NULL            \
	}

/* A callback that takes a value: remembers it, refuses "bad". */
static int take_color(const struct option *opt, const char *arg,
		      struct error *err)
{
	struct frob *f = opt->value;
	int ret;

	f->calls++;
	f->seen = arg;
	if (!strcmp(arg, "bad")) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid color '%s'", arg);
		error_hint(err, "give red or blue");
		return ret;
	}
	return 0;
}

/* A callback without a value. */
static int count_up(const struct option *opt, const char *arg,
		    struct error *err UNUSED)
{
	struct frob *f = opt->value;

	assert_null(arg);
	f->calls++;
	return 0;
}

#define FROB_OPTIONS(f)                                                        \
	OPT_BOOL('f', "force", &(f)->force, "frobnicate even if locked"),      \
		OPT_BOOL('q', "quiet", &(f)->quiet, "say nothing"),            \
		OPT_BOOL(0, "no-hooks", &(f)->no_hooks, "run no hooks"),       \
		OPT_BOOL_F(0, "keep", &(f)->keep, "keep it", PARSE_OPT_NONEG), \
		OPT_STRING('n', "name", &(f)->name, "name", "call it <name>"), \
		OPT_STRING('C', NULL, &(f)->dir, "path", "start in <path>"),   \
		OPT_INTEGER(0, "count", &(f)->count, "n", "this many times"),  \
		OPT_CALLBACK(0, "color", (f), "color", "paint it",             \
			     take_color),                                      \
		OPT_CALLBACK_F('v', NULL, (f), NULL, "more", PARSE_OPT_NOARG,  \
			       count_up),                                      \
		OPT_END()

/*
 * parse_options() on a copy of 'args' (NULL-terminated, argv[0] first);
 * the arguments left are in 'left' (room for 16).
 */
static int parse(struct frob *f, unsigned flags, struct error *err,
		 const char **left, const char **args)
{
	struct option options[] = { FROB_OPTIONS(f) };
	int argc = 0;

	while (args[argc])
		argc++;
	assert_true(argc < 16);
	memcpy(left, args, (argc + 1) * sizeof(*args));
	return parse_options(argc, left, options, flags, err);
}

#define PARSE(f, flags, err, left, ...)                                        \
	parse((f), (flags), (err), (left),                                     \
	      (const char *[]){ __VA_ARGS__, NULL })

static void test_bools_short_long_and_negated(void **state UNUSED)
{
	struct frob f = FROB_INIT;
	struct error err = ERROR_INIT;
	const char *left[16];

	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "-f", "--quiet"));
	assert_true(f.force);
	assert_true(f.quiet);
	assert_null(left[0]);
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "--no-force"));
	assert_false(f.force);
	/* "no-hooks" is turned off by "--hooks" */
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "--no-hooks"));
	assert_true(f.no_hooks);
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "--hooks"));
	assert_false(f.no_hooks);
	f.no_hooks = true;
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "--no-no-hooks"));
	assert_false(f.no_hooks);
	assert_int_equal(0, err.code);
}

static void test_short_options_group(void **state UNUSED)
{
	struct frob f = FROB_INIT;
	struct error err = ERROR_INIT;
	const char *left[16];

	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "-qfv", "-vv"));
	assert_true(f.quiet);
	assert_true(f.force);
	assert_int_equal(3, f.calls);
	/* a value-taking option takes the rest of the group */
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "-qCdir"));
	assert_string_equal("dir", f.dir);
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "-fn", "x"));
	assert_string_equal("x", f.name);
}

static void test_values_inline_or_next(void **state UNUSED)
{
	struct frob f = FROB_INIT;
	struct error err = ERROR_INIT;
	const char *left[16];

	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "--name=a=b"));
	assert_string_equal("a=b", f.name);
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "--name", "c"));
	assert_string_equal("c", f.name);
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "-nd"));
	assert_string_equal("d", f.name);
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "-C", "e"));
	assert_string_equal("e", f.dir);
	/* the next argument is the value even if it looks like an option */
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "--name", "-q"));
	assert_string_equal("-q", f.name);
	assert_false(f.quiet);
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "--name="));
	assert_string_equal("", f.name);
	assert_int_equal(0, PARSE(&f, 0, &err, left, "frob", "--count", "-12"));
	assert_int_equal(-12, f.count);
	assert_int_equal(0, err.code);
}

static void test_arguments_keep_their_order(void **state UNUSED)
{
	struct frob f = FROB_INIT;
	struct error err = ERROR_INIT;
	const char *left[16];

	assert_int_equal(3, PARSE(&f, 0, &err, left, "frob", "a", "-q", "b",
				  "--name", "n", "-", "--force"));
	assert_string_equal("a", left[0]);
	assert_string_equal("b", left[1]);
	assert_string_equal("-", left[2]);
	assert_null(left[3]);
	assert_true(f.quiet);
	assert_true(f.force);
	assert_string_equal("n", f.name);
}

static void test_dashdash_ends_options(void **state UNUSED)
{
	struct frob f = FROB_INIT;
	struct error err = ERROR_INIT;
	const char *left[16];

	assert_int_equal(4, PARSE(&f, 0, &err, left, "frob", "a", "--", "-q",
				  "--", "--frobnicate"));
	assert_string_equal("a", left[0]);
	assert_string_equal("-q", left[1]);
	assert_string_equal("--", left[2]);
	assert_string_equal("--frobnicate", left[3]);
	assert_false(f.quiet);
	assert_int_equal(0, err.code);
}

static void test_stop_at_non_option(void **state UNUSED)
{
	struct frob f = FROB_INIT;
	struct error err = ERROR_INIT;
	const char *left[16];

	assert_int_equal(3, PARSE(&f, PARSE_OPT_STOP_AT_NON_OPTION, &err, left,
				  "main", "-q", "-C", "d", "cmd", "-f", "x"));
	assert_true(f.quiet);
	assert_string_equal("d", f.dir);
	assert_false(f.force);
	assert_string_equal("cmd", left[0]);
	assert_string_equal("-f", left[1]);
	assert_string_equal("x", left[2]);
	assert_null(left[3]);
	assert_int_equal(0, PARSE(&f, PARSE_OPT_STOP_AT_NON_OPTION, &err, left,
				  "main", "-q"));
}

static void test_help(void **state UNUSED)
{
	struct frob f = FROB_INIT;
	struct error err = ERROR_INIT;
	const char *left[16];

	assert_int_equal(PARSE_OPT_HELP, PARSE(&f, 0, &err, left, "f", "-h"));
	assert_int_equal(PARSE_OPT_HELP,
			 PARSE(&f, 0, &err, left, "f", "a", "--help"));
	assert_int_equal(PARSE_OPT_HELP,
			 PARSE(&f, 0, &err, left, "f", "-qh", "--frob"));
	assert_int_equal(0, err.code);
	/* after "--" it is an argument */
	assert_int_equal(1, PARSE(&f, 0, &err, left, "f", "--", "-h"));
}

/* The parse fails with ERR_USAGE and this message, and no hint. */
static void assert_usage_error(const char *msg, struct frob *f,
			       const char **args)
{
	struct error err = ERROR_INIT;
	const char *left[16];

	assert_int_equal(ERR_USAGE, parse(f, 0, &err, left, args));
	assert_int_equal(ERR_USAGE, err.code);
	assert_string_equal(msg, err.msg);
	assert_string_equal("", err.hint);
}

#define ASSERT_USAGE_ERROR(msg, f, ...)                                        \
	assert_usage_error((msg), (f), (const char *[]){ __VA_ARGS__, NULL })

static void test_usage_errors(void **state UNUSED)
{
	struct frob f = FROB_INIT;

	ASSERT_USAGE_ERROR("unknown option '--frobnicate'", &f, "f",
			   "--frobnicate");
	ASSERT_USAGE_ERROR("unknown option '--frob'", &f, "f", "--frob=1");
	ASSERT_USAGE_ERROR("unknown option '-x'", &f, "f", "-qx");
	ASSERT_USAGE_ERROR("option '--name' needs a value", &f, "f", "--name");
	ASSERT_USAGE_ERROR("option '-C' needs a value", &f, "f", "-C");
	ASSERT_USAGE_ERROR("option '--force' takes no value", &f, "f",
			   "--force=yes");
	ASSERT_USAGE_ERROR("option '--no-force' takes no value", &f, "f",
			   "--no-force=");
	/* only bools have a --no- form, and not all of them */
	ASSERT_USAGE_ERROR("unknown option '--no-name'", &f, "f", "--no-name");
	ASSERT_USAGE_ERROR("unknown option '--no-keep'", &f, "f", "--no-keep");
	/* no abbreviations */
	ASSERT_USAGE_ERROR("unknown option '--forc'", &f, "f", "--forc");
	/* the options before the bad one are set */
	f.quiet = false;
	ASSERT_USAGE_ERROR("unknown option '--bad'", &f, "f", "-q", "--bad");
	assert_true(f.quiet);
}

static void test_bad_numbers(void **state UNUSED)
{
	struct frob f = FROB_INIT;
	const char *bad[] = { "", "x", "1x", "99999999999", " 1" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct error err = ERROR_INIT;
		const char *left[16];

		assert_int_equal(ERR_USAGE, PARSE(&f, 0, &err, left, "f",
						  "--count", bad[i]));
		assert_string_equal("option '--count' expects a number",
				    err.msg);
		assert_non_null(strstr(err.hint, bad[i]));
	}
	assert_int_equal(-1, f.count);
}

static void test_callbacks(void **state UNUSED)
{
	struct frob f = FROB_INIT;
	struct error err = ERROR_INIT;
	const char *left[16];

	assert_int_equal(0, PARSE(&f, 0, &err, left, "f", "--color", "red"));
	assert_int_equal(1, f.calls);
	assert_string_equal("red", f.seen);
	assert_int_equal(0, PARSE(&f, 0, &err, left, "f", "--color=blue"));
	assert_string_equal("blue", f.seen);
	/* the callback's error comes back as it is, with its hint */
	assert_int_equal(ERR_USAGE,
			 PARSE(&f, 0, &err, left, "f", "--color", "bad"));
	assert_string_equal("invalid color 'bad'", err.msg);
	assert_string_equal("give red or blue", err.hint);
	error_clear(&err);
	assert_int_equal(ERR_USAGE, PARSE(&f, 0, &err, left, "f", "--color"));
	assert_string_equal("option '--color' needs a value", err.msg);
	assert_int_equal(3, f.calls);
}

/* What usage_with_options() prints for the table 'options'. */
static char *usage_of(const char *const *usagestr, const struct option *options)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	assert_non_null(fp);
	usage_with_options(fp, usagestr, options);
	assert_int_equal(0, fclose(fp));
	return text;
}

static void test_usage_layout(void **state UNUSED)
{
	static const char *const usage[] = { "git frob [<options>] <file>...\n"
					     "         [--color <color>]",
					     "git frob --count <n>",
					     "",
					     "Frobnicate each <file>.",
					     "",
					     "Twice if asked.",
					     NULL };
	struct frob f = FROB_INIT;
	struct option options[] = {
		OPT_BOOL('f', "force", &f.force, "frobnicate even if locked"),
		OPT_BOOL(0, "no-hooks", &f.no_hooks, "run no hooks"),
		OPT_BOOL_F(0, "keep", &f.keep, "keep it", PARSE_OPT_NONEG),
		OPT_STRING('n', "name", &f.name, "name", "call it <name>"),
		OPT_GROUP("Painting"),
		OPT_CALLBACK(0, "color-of-the-thing", &f, "color",
			     "paint it\nin this color", take_color),
		OPT_BOOL_F('q', "quiet", &f.quiet, "hidden", PARSE_OPT_HIDDEN),
		OPT_END()
	};
	char *text = usage_of(usage, options);

	assert_string_equal(
		"usage: git frob [<options>] <file>...\n"
		"                [--color <color>]\n"
		"   or: git frob --count <n>\n"
		"\n"
		"    Frobnicate each <file>.\n"
		"\n"
		"    Twice if asked.\n"
		"\n"
		"    -f, --[no-]force      frobnicate even if locked\n"
		"    --no-hooks            run no hooks\n"
		"    --hooks               opposite of --no-hooks\n"
		"    --keep                keep it\n"
		"    -n, --name <name>     call it <name>\n"
		"\n"
		"Painting\n"
		"    --color-of-the-thing <color>\n"
		"                          paint it\n"
		"                          in this color\n"
		"\n",
		text);
	free(text);
}

static void test_usage_without_options(void **state UNUSED)
{
	static const char *const usage[] = { "git frob", NULL };
	struct option none[] = { OPT_END() };
	char *text = usage_of(usage, none);

	assert_string_equal("usage: git frob\n\n", text);
	free(text);
}

static void test_concat(void **state UNUSED)
{
	bool a_quiet = false, b_quiet = false, b_json = false;
	struct option a[] = { OPT_BOOL('q', "quiet", &a_quiet, "a's"),
			      OPT_END() };
	struct option b[] = { OPT_BOOL('q', "quiet", &b_quiet, "b's"),
			      OPT_BOOL(0, "json", &b_json, "b's"), OPT_END() };
	struct option *all = parse_options_concat(a, b);
	const char *argv[] = { "f", "-q", "--json", NULL };
	struct error err = ERROR_INIT;

	assert_int_equal(OPTION_END, all[3].type);
	assert_int_equal(0, parse_options(3, argv, all, 0, &err));
	assert_true(a_quiet);
	assert_false(b_quiet);
	assert_true(b_json);
	free(all);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bools_short_long_and_negated),
		cmocka_unit_test(test_short_options_group),
		cmocka_unit_test(test_values_inline_or_next),
		cmocka_unit_test(test_arguments_keep_their_order),
		cmocka_unit_test(test_dashdash_ends_options),
		cmocka_unit_test(test_stop_at_non_option),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_callbacks),
		cmocka_unit_test(test_usage_layout),
		cmocka_unit_test(test_usage_without_options),
		cmocka_unit_test(test_concat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
