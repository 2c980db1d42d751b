#include "common.h"
#include "envfile.h"
#include "error.h"
#include "sbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "unit.h"

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
	/* a NULL value is a comment line: one printable line, no marker */
	const struct envfile_var bad_comment[] = { { "a\nB=1", NULL } };
	const struct envfile_var marker[] = { { "<<< git-worktree-ports <<<",
						 NULL } };
	const struct envfile_var comment[] = { { "A", "1" },
					       { "B is not set: why", NULL } };
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
			 envfile_render(&out, &line, "", 0, bad_comment, 1));
	assert_int_equal(ERR_CONFIG,
			 envfile_render(&out, &line, "", 0, marker, 1));
	assert_int_equal(0, out.len);
	assert_int_equal(0, envfile_render(&out, &line, "", 0, comment, 2));
	assert_string_equal(ENVFILE_BEGIN_LINE "\nA=1\n# B is not set: why\n"
			    ENVFILE_END "\n", out.buf);
	sbuf_release(&out);
}

/* What the shadow callback saw, as "NAME:LINE " items. */
static void record_shadow(const char *name, int line, bool after_block,
			  void *payload)
{
	sbuf_addf(payload, "%s:%d%s ", name, line, after_block ? "+" : "");
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
			    "COMPOSE_PROJECT_NAME:12+ ",
			    seen.buf);

	/* an unterminated block hides nothing */
	sbuf_reset(&seen);
	text = BEGIN "PORT_WEB=1\n";
	envfile_find_shadowed(text, strlen(text), ports, 1, record_shadow,
			      &seen);
	assert_string_equal("PORT_WEB:2 ", seen.buf);
	sbuf_release(&seen);
}

/*
 * envfile_update() in a fresh directory: 'top' is the worktree, 'outside'
 * a sibling that must never be written.
 */
struct fixture {
	char root[64];
	char top[96];
	char outside[96];
	mode_t umask;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	if (make_temp_dir(f->root, sizeof(f->root), "envfile") < 0) {
		free(f);
		return -1;
	}
	snprintf(f->top, sizeof(f->top), "%s/wt", f->root);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->root);
	if (mkdir(f->top, 0755) < 0 || mkdir(f->outside, 0755) < 0)
		return -1;
	f->umask = umask(022);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	umask(f->umask);
	rm_rf(f->root);
	free(f);
	return 0;
}

/* 'dir'/'name' in a static buffer, for short calls. */
static const char *at(const char *dir, const char *name)
{
	static char buf[4][256];
	static int next;
	char *p = buf[next++ % 4];

	snprintf(p, sizeof(buf[0]), "%s/%s", dir, name);
	return p;
}

static void assert_file_is(const char *path, const char *expect)
{
	struct sbuf sb = SBUF_INIT;

	read_file(&sb, path);
	assert_string_equal(expect, sb.buf);
	sbuf_release(&sb);
}

static void assert_missing(const char *path)
{
	struct stat st;

	assert_int_equal(-1, lstat(path, &st));
	assert_int_equal(ENOENT, errno);
}

static int update(const char *top, const char *rel,
		  const struct envfile_var *vars, size_t nr, bool *changed,
		  struct error *err)
{
	return envfile_update(changed, top, rel, vars, nr, NULL, NULL, err);
}

static void test_update_creates_file(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	bool changed = false;

	assert_int_equal(0, update(f->top, ".env", ports, ARRAY_SIZE(ports),
				   &changed, NULL));
	assert_true(changed);
	assert_file_is(at(f->top, ".env"), BLOCK);
	assert_int_equal(0, stat(at(f->top, ".env"), &st));
	assert_int_equal(0644, st.st_mode & 07777);
	assert_int_equal(1, count_entries(f->top));
}

static void test_update_new_file_respects_umask(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	bool changed = false;

	umask(077);
	assert_int_equal(0, update(f->top, ".env", ports, 1, &changed, NULL));
	assert_int_equal(0, stat(at(f->top, ".env"), &st));
	assert_int_equal(0600, st.st_mode & 07777);
}

static void test_update_empty_block_creates_nothing(void **state)
{
	struct fixture *f = *state;
	bool changed = true;

	assert_int_equal(0, update(f->top, ".env", NULL, 0, &changed, NULL));
	assert_false(changed);
	assert_missing(at(f->top, ".env"));
}

static void test_update_keeps_mode_across_updates(void **state)
{
	struct fixture *f = *state;
	const char *env = at(f->top, ".env");
	struct stat st;
	bool changed = false;

	write_file(env, AWKWARD);
	assert_int_equal(0, chmod(env, 0600));
	assert_int_equal(0, update(f->top, ".env", ports, ARRAY_SIZE(ports),
				   &changed, NULL));
	assert_true(changed);
	assert_file_is(env, AWKWARD BLOCK);
	assert_int_equal(0, stat(env, &st));
	assert_int_equal(0600, st.st_mode & 07777);

	assert_int_equal(0, update(f->top, ".env", moved, ARRAY_SIZE(moved),
				   &changed, NULL));
	assert_true(changed);
	assert_file_is(env, AWKWARD MOVED_BLOCK);
	assert_int_equal(0, stat(env, &st));
	assert_int_equal(0600, st.st_mode & 07777);

	assert_int_equal(0, update(f->top, ".env", NULL, 0, &changed, NULL));
	assert_true(changed);
	assert_file_is(env, AWKWARD);
	assert_int_equal(0, stat(env, &st));
	assert_int_equal(0600, st.st_mode & 07777);
	assert_int_equal(1, count_entries(f->top));
}

static void test_update_unchanged_does_not_write(void **state)
{
	struct fixture *f = *state;
	const char *env = at(f->top, ".env");
	struct stat before, after;
	bool changed = true;

	write_file(env, "A=1\n" BLOCK "B=2\n");
	/* an mtime in the past, so a rewrite could not keep it by chance */
	{
		struct timespec times[2] = { { 1000000000, 0 },
					     { 1000000000, 0 } };

		assert_int_equal(0, utimensat(AT_FDCWD, env, times, 0));
	}
	assert_int_equal(0, stat(env, &before));
	assert_int_equal(0, update(f->top, ".env", ports, ARRAY_SIZE(ports),
				   &changed, NULL));
	assert_false(changed);
	assert_int_equal(0, stat(env, &after));
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	assert_int_equal(before.st_ctim.tv_sec, after.st_ctim.tv_sec);
	assert_int_equal(before.st_ctim.tv_nsec, after.st_ctim.tv_nsec);
	assert_int_equal(1, count_entries(f->top));
}

static void test_update_keeps_crlf(void **state)
{
	struct fixture *f = *state;
	const char *env = at(f->top, ".env");
	bool changed = false;

	write_file(env, "A=1\r\nB=2");
	assert_int_equal(0, update(f->top, ".env", ports, 1, &changed, NULL));
	assert_file_is(env, "A=1\r\nB=2\r\n" ENVFILE_BEGIN_LINE "\r\n"
			    "PORT_WEB=8081\r\n" ENVFILE_END "\r\n");
}

static void test_update_in_subdirectory(void **state)
{
	struct fixture *f = *state;
	bool changed = false;

	assert_int_equal(0, mkdir(at(f->top, "server"), 0755));
	assert_int_equal(
		0, update(f->top, "./server//.env", ports, 1, &changed, NULL));
	assert_true(changed);
	assert_file_is(at(f->top, "server/.env"), BEGIN "PORT_WEB=8081\n" END);
}

static void test_update_missing_directory(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	bool changed = true;

	assert_int_equal(ERR_FAIL, update(f->top, "server/config/.env", ports,
					  1, &changed, &err));
	assert_false(changed);
	assert_string_equal("directory 'server' does not exist", err.msg);
	assert_string_equal(at(f->top, "server/config/.env"), err.file);
	assert_int_equal(0, count_entries(f->top));

	error_clear(&err);
	assert_int_equal(0, mkdir(at(f->top, "server"), 0755));
	assert_int_equal(ERR_FAIL, update(f->top, "server/config/.env", ports,
					  1, &changed, &err));
	assert_string_equal("directory 'server/config' does not exist",
			    err.msg);

	error_clear(&err);
	write_file(at(f->top, "file"), "");
	assert_int_equal(ERR_FAIL,
			 update(f->top, "file/.env", ports, 1, &changed, &err));
	assert_non_null(strstr(err.msg, "'file'"));
}

static void test_update_target_is_a_directory(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	bool changed = true;

	assert_int_equal(0, mkdir(at(f->top, ".env"), 0755));
	assert_int_equal(ERR_FAIL,
			 update(f->top, ".env", ports, 1, &changed, &err));
	assert_false(changed);
	assert_string_equal("'.env' is not a regular file", err.msg);
	assert_int_equal(0, count_entries(at(f->top, ".env")));
}

static void test_update_target_is_a_fifo(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	bool changed = true;

	assert_int_equal(0, mkfifo(at(f->top, ".env"), 0644));
	assert_int_equal(ERR_FAIL,
			 update(f->top, ".env", ports, 1, &changed, &err));
	assert_string_equal("'.env' is not a regular file", err.msg);
}

static void test_update_refuses_symlink_outside(void **state)
{
	struct fixture *f = *state;
	const char *victim = at(f->outside, "victim");
	struct error err = ERROR_INIT;
	bool changed = true;

	write_file(victim, "SECRET=1\n");
	assert_int_equal(0, symlink(victim, at(f->top, ".env")));
	assert_int_equal(ERR_FAIL,
			 update(f->top, ".env", ports, 1, &changed, &err));
	assert_false(changed);
	assert_non_null(strstr(err.msg, "outside the worktree"));
	assert_file_is(victim, "SECRET=1\n");
	assert_int_equal(1, count_entries(f->outside));
	assert_int_equal(1, count_entries(f->top));

	/* a relative link climbing out is the same */
	error_clear(&err);
	assert_int_equal(0, symlink("../outside/victim", at(f->top, "rel")));
	assert_int_equal(ERR_FAIL,
			 update(f->top, "rel", ports, 1, &changed, &err));
	assert_file_is(victim, "SECRET=1\n");
}

static void test_update_refuses_dangling_symlink(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	bool changed = true;

	assert_int_equal(0, symlink(at(f->outside, "new"), at(f->top, ".env")));
	assert_int_equal(ERR_FAIL,
			 update(f->top, ".env", ports, 1, &changed, &err));
	assert_missing(at(f->outside, "new"));
	assert_int_equal(0, count_entries(f->outside));
}

static void test_update_follows_symlink_inside(void **state)
{
	struct fixture *f = *state;
	const char *real = at(f->top, "config/dev.env");
	char buf[64];
	struct stat st;
	ssize_t n;
	bool changed = false;

	assert_int_equal(0, mkdir(at(f->top, "config"), 0755));
	write_file(real, "A=1\n");
	assert_int_equal(0, chmod(real, 0640));
	assert_int_equal(0, symlink("config/dev.env", at(f->top, ".env")));
	assert_int_equal(0, update(f->top, ".env", ports, 1, &changed, NULL));
	assert_true(changed);
	assert_file_is(real, "A=1\n" BEGIN "PORT_WEB=8081\n" END);
	assert_int_equal(0, lstat(at(f->top, ".env"), &st));
	assert_true(S_ISLNK(st.st_mode));
	n = readlink(at(f->top, ".env"), buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal("config/dev.env", buf);
	assert_int_equal(0, stat(real, &st));
	assert_int_equal(0640, st.st_mode & 07777);
	assert_int_equal(2, count_entries(f->top));
	assert_int_equal(1, count_entries(at(f->top, "config")));
}

static void test_update_refuses_directory_outside(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	bool changed = true;

	assert_int_equal(0, symlink(f->outside, at(f->top, "server")));
	assert_int_equal(ERR_FAIL, update(f->top, "server/.env", ports, 1,
					  &changed, &err));
	assert_false(changed);
	assert_string_equal("directory 'server' leads outside the worktree",
			    err.msg);
	assert_int_equal(0, count_entries(f->outside));

	/* even when a later link would lead back in */
	error_clear(&err);
	assert_int_equal(0, mkdir(at(f->top, "real"), 0755));
	assert_int_equal(0,
			 symlink(at(f->top, "real"), at(f->outside, "back")));
	assert_int_equal(ERR_FAIL, update(f->top, "server/back/.env", ports, 1,
					  &changed, &err));
	assert_string_equal("directory 'server' leads outside the worktree",
			    err.msg);
	assert_int_equal(0, count_entries(at(f->top, "real")));
}

static void test_update_follows_directory_inside(void **state)
{
	struct fixture *f = *state;
	bool changed = false;

	assert_int_equal(0, mkdir(at(f->top, "real"), 0755));
	assert_int_equal(0, symlink("real", at(f->top, "server")));
	assert_int_equal(
		0, update(f->top, "server/.env", ports, 1, &changed, NULL));
	assert_file_is(at(f->top, "real/.env"), BEGIN "PORT_WEB=8081\n" END);
}

static void test_update_refuses_git_dir(void **state)
{
	struct fixture *f = *state;
	const char *config = at(f->top, ".git/config");
	struct error err = ERROR_INIT;
	bool changed = true;

	assert_int_equal(0, mkdir(at(f->top, ".git"), 0755));
	write_file(config, "[core]\n");
	assert_int_equal(0, symlink(".git/config", at(f->top, ".env")));
	assert_int_equal(ERR_FAIL,
			 update(f->top, ".env", ports, 1, &changed, &err));
	assert_non_null(strstr(err.msg, ".git"));
	assert_int_equal(0, symlink(".git", at(f->top, "conf")));
	error_clear(&err);
	assert_int_equal(ERR_FAIL, update(f->top, "conf/config", ports, 1,
					  &changed, &err));
	assert_string_equal("directory 'conf' leads into .git", err.msg);
	error_clear(&err);
	assert_int_equal(ERR_CONFIG, update(f->top, ".GIT/config", ports, 1,
					    &changed, &err));
	assert_file_is(config, "[core]\n");
}

static void test_update_refuses_bad_relpath(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = { "",	   "/etc/passwd", "../outside/x",
			      "a/../../x", "dir/",	  ".",
			      "./",	   ".git",	  "a/.Git/b" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct error err = ERROR_INIT;
		bool changed = true;

		assert_int_equal(ERR_CONFIG, update(f->top, bad[i], ports, 1,
						    &changed, &err));
		assert_false(changed);
		assert_true(err.msg[0] != '\0');
	}
	assert_int_equal(0, count_entries(f->top));
	assert_int_equal(0, count_entries(f->outside));
}

static void test_update_unterminated_block(void **state)
{
	struct fixture *f = *state;
	const char *env = at(f->top, ".env");
	struct error err = ERROR_INIT;
	bool changed = true;

	write_file(env, "A=1\n" BEGIN "PORT_WEB=1\n");
	assert_int_equal(ERR_CORRUPT,
			 update(f->top, ".env", ports, 1, &changed, &err));
	assert_false(changed);
	assert_string_equal(env, err.file);
	assert_int_equal(2, err.line);
	assert_string_equal(
		"unterminated git-worktree-ports block; remove it by hand",
		err.msg);
	assert_file_is(env, "A=1\n" BEGIN "PORT_WEB=1\n");
	assert_int_equal(1, count_entries(f->top));
}

static void test_update_refuses_bad_variable(void **state)
{
	struct fixture *f = *state;
	const struct envfile_var vars[] = { { "A", "1" }, { "EVIL", "$(id)" } };
	struct error err = ERROR_INIT;
	bool changed = true;

	assert_int_equal(ERR_CONFIG,
			 update(f->top, ".env", vars, 2, &changed, &err));
	assert_non_null(strstr(err.msg, "'EVIL'"));
	assert_missing(at(f->top, ".env"));
}

static void test_update_reports_shadowed(void **state)
{
	struct fixture *f = *state;
	struct sbuf seen = SBUF_INIT;
	bool changed = false;

	write_file(at(f->top, ".env"), "X=1\nPORT_WEB=3000\n");
	assert_int_equal(0, envfile_update(&changed, f->top, ".env", ports, 2,
					   record_shadow, &seen, NULL));
	assert_string_equal("PORT_WEB:2 ", seen.buf);
	/* the block was appended after it: it comes last, and wins */
	assert_int_equal(0, envfile_update(&changed, f->top, ".env", ports, 2,
					   record_shadow, &seen, NULL));
	assert_false(changed);
	assert_string_equal("PORT_WEB:2 PORT_WEB:2 ", seen.buf);
	sbuf_release(&seen);
}

static void test_update_non_canonical_top(void **state)
{
	struct fixture *f = *state;
	struct sbuf top = SBUF_INIT;
	bool changed = false;

	assert_int_equal(0, symlink("wt", at(f->root, "link")));
	sbuf_addf(&top, "%s/link/", f->root);
	assert_int_equal(0, mkdir(at(f->top, "server"), 0755));
	assert_int_equal(0, symlink("../.env", at(f->top, "server/.env")));
	write_file(at(f->top, ".env"), "");
	assert_int_equal(
		0, update(top.buf, "server/.env", ports, 1, &changed, NULL));
	assert_true(changed);
	assert_file_is(at(f->top, ".env"), BEGIN "PORT_WEB=8081\n" END);
	sbuf_release(&top);
}

#define U(name) cmocka_unit_test(name)
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

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
		T(test_update_creates_file),
		T(test_update_new_file_respects_umask),
		T(test_update_empty_block_creates_nothing),
		T(test_update_keeps_mode_across_updates),
		T(test_update_unchanged_does_not_write),
		T(test_update_keeps_crlf),
		T(test_update_in_subdirectory),
		T(test_update_missing_directory),
		T(test_update_target_is_a_directory),
		T(test_update_target_is_a_fifo),
		T(test_update_refuses_symlink_outside),
		T(test_update_refuses_dangling_symlink),
		T(test_update_follows_symlink_inside),
		T(test_update_refuses_directory_outside),
		T(test_update_follows_directory_inside),
		T(test_update_refuses_git_dir),
		T(test_update_refuses_bad_relpath),
		T(test_update_unterminated_block),
		T(test_update_refuses_bad_variable),
		T(test_update_reports_shadowed),
		T(test_update_non_canonical_top),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
