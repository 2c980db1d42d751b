#include "common.h"
#include "envfile.h"
#include "error.h"
#include "sbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <cmocka.h>

#define BEGIN ENVFILE_BEGIN_LINE "\n"
#define END ENVFILE_END "\n"

static const struct envfile_var ports[] = {
	{ "PORT_WEB", "8081" },
	{ "PORT_DATABASE", "5433" },
	{ "COMPOSE_PROJECT_NAME", "app-feature-login" },
};

static const struct envfile_var moved[] = {
	{ "PORT_WEB", "8082" },
	{ "PORT_DATABASE", "5434" },
	{ "COMPOSE_PROJECT_NAME", "app-feature-login" },
};

#define BLOCK                                                                  \
	BEGIN "PORT_WEB=8081\n"                                                \
	      "PORT_DATABASE=5433\n"                                           \
	      "COMPOSE_PROJECT_NAME=app-feature-login\n" END

#define MOVED_BLOCK                                                            \
	BEGIN "PORT_WEB=8082\n"                                                \
	      "PORT_DATABASE=5434\n"                                           \
	      "COMPOSE_PROJECT_NAME=app-feature-login\n" END

/* A file with every shape the block must leave alone. */
#define AWKWARD                                                                \
	"# database settings\n"                                                \
	"\n"                                                                   \
	"export DB_USER=app\n"                                                 \
	"DB_PASS='s3cr$t \"x\"'\n"                                             \
	"GREETING=\"h\\u00e9llo w\xc3\xb6rld\" # inline comment\n"             \
	"  INDENTED = yes\n"                                                   \
	"\t\n"

/* render() that must succeed; the caller frees the result. */
static char *render(const char *old, size_t len, const struct envfile_var *vars,
		    size_t nr, size_t *out_len)
{
	struct sbuf out = SBUF_INIT;
	int line = -1;

	assert_int_equal(0, envfile_render(&out, &line, old, len, vars, nr));
	assert_int_equal(0, line);
	if (out_len)
		*out_len = out.len;
	return sbuf_detach(&out);
}

static char *render_str(const char *old, const struct envfile_var *vars,
			size_t nr)
{
	return render(old, strlen(old), vars, nr, NULL);
}

/* Render 'old', check it is 'expect', and that rendering it again is too. */
static void assert_renders(const char *expect, const char *old,
			   const struct envfile_var *vars, size_t nr)
{
	char *once = render_str(old, vars, nr);
	char *twice = render_str(once, vars, nr);

	assert_string_equal(expect, once);
	assert_string_equal(expect, twice);
	free(once);
	free(twice);
}

static void test_render_empty_file(void **state UNUSED)
{
	assert_renders(BLOCK, "", ports, ARRAY_SIZE(ports));
}

static void test_render_null_text(void **state UNUSED)
{
	char *text = render(NULL, 0, ports, ARRAY_SIZE(ports), NULL);

	assert_string_equal(BLOCK, text);
	free(text);
	text = render(NULL, 0, NULL, 0, NULL);
	assert_string_equal("", text);
	free(text);
}

static void test_render_appends_after_final_newline(void **state UNUSED)
{
	assert_renders("A=1\n" BLOCK, "A=1\n", ports, ARRAY_SIZE(ports));
}

static void test_render_adds_missing_final_newline(void **state UNUSED)
{
	assert_renders("A=1\n" BLOCK, "A=1", ports, ARRAY_SIZE(ports));
}

static void test_render_keeps_awkward_lines(void **state UNUSED)
{
	assert_renders(AWKWARD BLOCK, AWKWARD, ports, ARRAY_SIZE(ports));
}

static void test_render_crlf_file(void **state UNUSED)
{
	const char *old = "# dev\r\nA=1\r\nB='x'\r\n";
	const char *expect =
		"# dev\r\nA=1\r\nB='x'\r\n" ENVFILE_BEGIN_LINE "\r\n"
		"PORT_WEB=8081\r\n"
		"PORT_DATABASE=5433\r\n"
		"COMPOSE_PROJECT_NAME=app-feature-login\r\n" ENVFILE_END "\r\n";

	assert_renders(expect, old, ports, ARRAY_SIZE(ports));
}

static void test_render_crlf_without_final_newline(void **state UNUSED)
{
	assert_renders("A=1\r\nB=2\r\n" ENVFILE_BEGIN_LINE "\r\n"
		       "PORT_WEB=8081\r\n" ENVFILE_END "\r\n",
		       "A=1\r\nB=2", ports, 1);
}

static void test_render_first_line_decides_line_endings(void **state UNUSED)
{
	/* a lone "\r\n" later on does not make the file CRLF */
	assert_renders("A=1\nB=2\r\n" BEGIN "PORT_WEB=8081\n" END,
		       "A=1\nB=2\r\n", ports, 1);
}

static void test_render_replaces_block_in_place(void **state UNUSED)
{
	const char *old = "A=1\n" BEGIN "PORT_OLD=1\n"
			  "# hand-written note inside the block\n" END "B=2\r\n"
			  "# tail";

	assert_renders("A=1\n" BLOCK "B=2\r\n# tail", old, ports,
		       ARRAY_SIZE(ports));
}

static void test_render_second_sync_changes_only_the_block(void **state UNUSED)
{
	const char *head = AWKWARD;
	const char *tail = "LATER=1\n# end";
	struct sbuf start = SBUF_INIT;
	char *first, *second;
	size_t hl = strlen(head), tl = strlen(tail);

	/* a user who moved the block up and added lines after it */
	sbuf_addf(&start, "%s%s%s", head, BLOCK, tail);
	first = render_str(start.buf, ports, ARRAY_SIZE(ports));
	assert_string_equal(start.buf, first);
	second = render_str(first, moved, ARRAY_SIZE(moved));
	assert_int_equal(hl + strlen(MOVED_BLOCK) + tl, strlen(second));
	assert_memory_equal(head, second, hl);
	assert_memory_equal(MOVED_BLOCK, second + hl, strlen(MOVED_BLOCK));
	assert_string_equal(tail, second + hl + strlen(MOVED_BLOCK));
	free(first);
	free(second);
	sbuf_release(&start);
}

static void test_render_recognises_markers_by_prefix(void **state UNUSED)
{
	/* another version's wording, trailing blanks and CRLF markers */
	const char *old =
		"A=1\n" ENVFILE_BEGIN " (made by an older version)\r\n"
		"PORT_WEB=1\r\n" ENVFILE_END "  \r\n"
		"B=2\n";

	assert_renders("A=1\n" BEGIN "PORT_WEB=8081\n" END "B=2\n", old, ports,
		       1);
}

static void test_render_crlf_block_in_crlf_file(void **state UNUSED)
{
	const char *old = "A=1\r\n" ENVFILE_BEGIN_LINE "\r\n"
			  "PORT_WEB=1\r\n" ENVFILE_END "\r\n"
			  "B=2\r\n";

	assert_renders("A=1\r\n" ENVFILE_BEGIN_LINE "\r\n"
		       "PORT_WEB=8081\r\n" ENVFILE_END "\r\n"
		       "B=2\r\n",
		       old, ports, 1);
}

static void test_render_markers_only_at_line_start(void **state UNUSED)
{
	const char *old = " " ENVFILE_BEGIN "\n"
			  "X=\"" ENVFILE_BEGIN "\"\n";

	assert_renders(" " ENVFILE_BEGIN "\n"
		       "X=\"" ENVFILE_BEGIN "\"\n" BEGIN "PORT_WEB=8081\n" END,
		       old, ports, 1);
}

static void test_render_only_the_first_block(void **state UNUSED)
{
	const char *old =
		BEGIN "PORT_WEB=1\n" END "A=1\n" BEGIN "PORT_WEB=2\n" END;

	assert_renders(BEGIN "PORT_WEB=8081\n" END "A=1\n" BEGIN
			     "PORT_WEB=2\n" END,
		       old, ports, 1);
}

static void test_render_keeps_stray_end_marker(void **state UNUSED)
{
	assert_renders(END "A=1\n" BEGIN "PORT_WEB=8081\n" END, END "A=1\n",
		       ports, 1);
}

static void test_render_block_without_final_newline(void **state UNUSED)
{
	/* the user's editor dropped the last newline: it stays dropped */
	assert_renders("A=1\n" BEGIN "PORT_WEB=8081\n" ENVFILE_END,
		       "A=1\n" BEGIN "PORT_WEB=1\n" ENVFILE_END, ports, 1);
}

static void test_render_keeps_nul_bytes(void **state UNUSED)
{
	static const char old[] = "A=1\0B\n" BEGIN "PORT_WEB=1\n" END "\0\n";
	static const char expect[] =
		"A=1\0B\n" BEGIN "PORT_WEB=8081\n" END "\0\n";
	size_t len;
	char *text = render(old, sizeof(old) - 1, ports, 1, &len);

	assert_int_equal(sizeof(expect) - 1, len);
	assert_memory_equal(expect, text, len);
	free(text);
}

static void test_render_remove_restores_original(void **state UNUSED)
{
	const char *shapes[] = { "", "A=1\n", AWKWARD, "# dev\r\nA=1\r\n",
				 "\n\n" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(shapes); i++) {
		char *with = render_str(shapes[i], ports, ARRAY_SIZE(ports));
		char *without = render_str(with, NULL, 0);

		assert_string_equal(shapes[i], without);
		free(with);
		free(without);
	}
}

static void test_render_remove_in_the_middle(void **state UNUSED)
{
	assert_renders("A=1\nB=2\n", "A=1\n" BLOCK "B=2\n", NULL, 0);
	assert_renders("A=1\r\nB=2",
		       "A=1\r\n" ENVFILE_BEGIN_LINE "\r\n"
		       "PORT_WEB=1\r\n" ENVFILE_END "\r\nB=2",
		       NULL, 0);
}

static void test_render_remove_keeps_added_newline(void **state UNUSED)
{
	/* documented: the newline added before an appended block stays */
	char *with = render_str("A=1", ports, 1);
	char *without = render_str(with, NULL, 0);

	assert_string_equal("A=1\n", without);
	free(with);
	free(without);
}

static void test_render_nothing_to_do(void **state UNUSED)
{
	assert_renders("A=1", "A=1", NULL, 0);
	assert_renders("", "", NULL, 0);
}

static void test_render_unterminated_block(void **state UNUSED)
{
	const char *old = "A=1\n\n" BEGIN "PORT_WEB=1\n";
	struct sbuf out = SBUF_INIT;
	int line = 0;

	sbuf_addstr(&out, "kept");
	assert_int_equal(ERR_CORRUPT,
			 envfile_render(&out, &line, old, strlen(old), ports,
					ARRAY_SIZE(ports)));
	assert_int_equal(3, line);
	assert_string_equal("kept", out.buf);

	/* also when removing, and with the end marker before the begin */
	old = END BEGIN;
	assert_int_equal(ERR_CORRUPT, envfile_render(&out, &line, old,
						     strlen(old), NULL, 0));
	assert_int_equal(2, line);
	assert_int_equal(ERR_CORRUPT,
			 envfile_render(&out, NULL, old, strlen(old), NULL, 0));
	assert_string_equal("kept", out.buf);
	sbuf_release(&out);
}

static void test_render_appends_to_out(void **state UNUSED)
{
	struct sbuf out = SBUF_INIT;

	sbuf_addstr(&out, ">");
	assert_int_equal(0, envfile_render(&out, NULL, "A=1\n", 4, NULL, 0));
	assert_string_equal(">A=1\n", out.buf);
	sbuf_release(&out);
}

static void test_render_quotes_special_values(void **state UNUSED)
{
	const struct envfile_var vars[] = {
		{ "DATABASE_URL", "postgres://app@127.0.0.1:5433/app_feat" },
		{ "API_URL", "http://localhost:3001/v1?x=1&y=2" },
		{ "EQ", "a=b" },
		{ "AMP", "&" },
		{ "Q", "?" },
		{ "BARE", "A-Za-z0-9_./:@%+,-" },
		{ "EMPTY", "" },
		{ "HASH", "a#b" },
		{ "_lower1", "x" },
	};

	assert_renders(BEGIN
		       "DATABASE_URL=postgres://app@127.0.0.1:5433/app_feat\n"
		       "API_URL='http://localhost:3001/v1?x=1&y=2'\n"
		       "EQ='a=b'\n"
		       "AMP='&'\n"
		       "Q='?'\n"
		       "BARE=A-Za-z0-9_./:@%+,-\n"
		       "EMPTY=\n"
		       "HASH='a#b'\n"
		       "_lower1=x\n" END,
		       "", vars, ARRAY_SIZE(vars));
}

static void test_quote(void **state UNUSED)
{
	struct sbuf out = SBUF_INIT;

	envfile_quote(&out, "8080");
	assert_string_equal("8080", out.buf);
	sbuf_reset(&out);
	envfile_quote(&out, "a&b");
	envfile_quote(&out, "");
	envfile_quote(&out, "x");
	assert_string_equal("'a&b'x", out.buf);
	sbuf_release(&out);
}

static void test_valid_names(void **state UNUSED)
{
	assert_true(envfile_valid_name("PORT_WEB"));
	assert_true(envfile_valid_name("_"));
	assert_true(envfile_valid_name("a1"));
	assert_false(envfile_valid_name(""));
	assert_false(envfile_valid_name(NULL));
	assert_false(envfile_valid_name("1A"));
	assert_false(envfile_valid_name("A-B"));
	assert_false(envfile_valid_name("A B"));
	assert_false(envfile_valid_name("A=B"));
	assert_false(envfile_valid_name("A\nB"));
	assert_false(envfile_valid_name("export A"));
	assert_false(envfile_valid_name("\xc3\xa9"));
}

static void test_valid_values(void **state UNUSED)
{
	assert_true(envfile_valid_value(""));
	assert_true(envfile_valid_value("8080"));
	assert_true(envfile_valid_value("http://a:1/b?c=d&e=f"));
	assert_true(envfile_valid_value("#!*~;|<>(){}[]^"));
	assert_false(envfile_valid_value(NULL));
	assert_false(envfile_valid_value("a'b"));
	assert_false(envfile_valid_value("a\"b"));
	assert_false(envfile_valid_value("a`b"));
	assert_false(envfile_valid_value("$HOME"));
	assert_false(envfile_valid_value("a\\b"));
	assert_false(envfile_valid_value("a b"));
	assert_false(envfile_valid_value("a\tb"));
	assert_false(envfile_valid_value("a\nb"));
	assert_false(envfile_valid_value("a\rb"));
	assert_false(envfile_valid_value("a\x7f"));
	assert_false(envfile_valid_value("w\xc3\xb6rld"));
}

static void test_render_refuses_bad_vars(void **state UNUSED)
{
	const struct envfile_var bad_value[] = { { "A", "1" },
						 { "B", "x'; rm -rf ~; '" } };
	const struct envfile_var bad_name[] = { { "A\nB", "1" } };
	const struct envfile_var twice[] = { { "A", "1" }, { "A", "2" } };
	const struct envfile_var null_value[] = { { "A", NULL } };
	struct sbuf out = SBUF_INIT;
	int line = -1;

	assert_int_equal(ERR_CONFIG,
			 envfile_render(&out, &line, "", 0, bad_value, 2));
	assert_int_equal(0, line);
	assert_int_equal(ERR_CONFIG,
			 envfile_render(&out, &line, "", 0, bad_name, 1));
	assert_int_equal(ERR_CONFIG,
			 envfile_render(&out, &line, "", 0, twice, 2));
	assert_int_equal(ERR_CONFIG,
			 envfile_render(&out, &line, "", 0, null_value, 1));
	assert_int_equal(0, out.len);
	sbuf_release(&out);
}

/* What the shadow callback saw, as "NAME:LINE " items. */
static void record_shadow(const char *name, int line, void *payload)
{
	sbuf_addf(payload, "%s:%d ", name, line);
}

static void test_find_shadowed(void **state UNUSED)
{
	const char *text = "PORT_WEB=1\n"
			   "export PORT_DATABASE=2\n"
			   "# PORT_WEB=3\n"
			   "PORT_WEBX=4\n"
			   " \tPORT_WEB = 5\r\n" BLOCK "exportPORT_WEB=6\n"
			   "export\tCOMPOSE_PROJECT_NAME=x\n"
			   "PORT_WEB";
	struct sbuf seen = SBUF_INIT;

	envfile_find_shadowed(text, strlen(text), ports, ARRAY_SIZE(ports),
			      record_shadow, &seen);
	assert_string_equal("PORT_WEB:1 PORT_DATABASE:2 PORT_WEB:5 "
			    "COMPOSE_PROJECT_NAME:12 ",
			    seen.buf);

	/* an unterminated block hides nothing */
	sbuf_reset(&seen);
	text = BEGIN "PORT_WEB=1\n";
	envfile_find_shadowed(text, strlen(text), ports, 1, record_shadow,
			      &seen);
	assert_string_equal("PORT_WEB:2 ", seen.buf);
	sbuf_release(&seen);
}

#define U(name) cmocka_unit_test(name)

int main(void)
{
	const struct CMUnitTest tests[] = {
		U(test_render_empty_file),
		U(test_render_null_text),
		U(test_render_appends_after_final_newline),
		U(test_render_adds_missing_final_newline),
		U(test_render_keeps_awkward_lines),
		U(test_render_crlf_file),
		U(test_render_crlf_without_final_newline),
		U(test_render_first_line_decides_line_endings),
		U(test_render_replaces_block_in_place),
		U(test_render_second_sync_changes_only_the_block),
		U(test_render_recognises_markers_by_prefix),
		U(test_render_crlf_block_in_crlf_file),
		U(test_render_markers_only_at_line_start),
		U(test_render_only_the_first_block),
		U(test_render_keeps_stray_end_marker),
		U(test_render_block_without_final_newline),
		U(test_render_keeps_nul_bytes),
		U(test_render_remove_restores_original),
		U(test_render_remove_in_the_middle),
		U(test_render_remove_keeps_added_newline),
		U(test_render_nothing_to_do),
		U(test_render_unterminated_block),
		U(test_render_appends_to_out),
		U(test_render_quotes_special_values),
		U(test_quote),
		U(test_valid_names),
		U(test_valid_values),
		U(test_render_refuses_bad_vars),
		U(test_find_shadowed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
