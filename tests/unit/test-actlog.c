#include "common.h"
#include "actlog.h"
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

/* 2026-11-21T10:00:00Z */
#define NOW ((time_t)1795255200)

struct fixture {
	char root[64];
	char reg[128];	/* the registry: root/ports.json, never created */
	char log[128];	/* root/ports.log */
	char prev[128]; /* root/ports.log.1 */
};

/* The warnings of one actlog_read(), formatted. */
struct warnings {
	char *text[32];
	size_t nr;
};

static void collect(const struct error *w, void *payload)
{
	struct warnings *ws = payload;
	struct sbuf sb = SBUF_INIT;

	assert_int_equal(ERR_CORRUPT, w->code);
	error_format(w, &sb);
	assert_true(ws->nr < ARRAY_SIZE(ws->text));
	ws->text[ws->nr++] = sbuf_detach(&sb);
}

static void warnings_release(struct warnings *ws)
{
	size_t i;

	for (i = 0; i < ws->nr; i++)
		free(ws->text[i]);
	ws->nr = 0;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	if (make_temp_dir(f->root, sizeof(f->root), "actlog") < 0) {
		free(f);
		return -1;
	}
	snprintf(f->reg, sizeof(f->reg), "%s/ports.json", f->root);
	snprintf(f->log, sizeof(f->log), "%s/ports.log", f->root);
	snprintf(f->prev, sizeof(f->prev), "%s/ports.log.1", f->root);
	unsetenv(ACTLOG_MAX_ENV);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unsetenv(ACTLOG_MAX_ENV);
	rm_rf(f->root);
	free(f);
	return 0;
}

/* The whole file; "" if it does not exist. The caller frees it. */
static char *read_text(const char *path)
{
	struct sbuf sb = SBUF_INIT;

	if (sbuf_read_file(&sb, path) < 0)
		assert_int_equal(ENOENT, errno);
	return sbuf_detach(&sb);
}

static size_t count_lines(const char *path)
{
	char *text = read_text(path), *p;
	size_t n = 0;

	for (p = text; *p; p++)
		if (*p == '\n')
			n++;
	free(text);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(0, stat(path, &st));
	return st.st_size;
}

/* An entry with a fixed time, so that every line of a test is alike. */
static struct actlog_entry entry(const char *action, const char *worktree,
				 const char *service, long port)
{
	struct actlog_entry e = { .time = "2026-11-21T10:00:00Z",
				  .action = action,
				  .worktree = worktree,
				  .service = service,
				  .port = port,
				  .by = "me@laptop",
				  .pid = ACTLOG_NONE };

	return e;
}

static void append_ok(const char *reg, const struct actlog_entry *e, size_t nr)
{
	struct error err = ERROR_INIT;

	if (actlog_append(reg, e, nr, &err))
		fail_msg("unexpected error: %s: %s", err.file, err.msg);
}

static void append_one(const char *reg, const char *action,
		       const char *worktree, const char *service, long port)
{
	struct actlog_entry e = entry(action, worktree, service, port);

	append_ok(reg, &e, 1);
}

/* actlog_read() that must succeed without warnings. */
static struct actlog_record *read_ok(size_t *nr, const char *reg,
				     const struct actlog_filter *f)
{
	struct actlog_record *recs = NULL;
	struct warnings ws = { { NULL }, 0 };
	struct error err = ERROR_INIT;

	if (actlog_read(&recs, nr, reg, f, collect, &ws, &err))
		fail_msg("unexpected error: %s: %s", err.file, err.msg);
	if (ws.nr)
		fail_msg("unexpected warning: %s", ws.text[0]);
	return recs;
}

/* A log with a known history, oldest first. */
static void write_history(const struct fixture *f)
{
	write_file(
		f->log,
		"{\"time\":\"2026-11-18T10:00:00Z\",\"action\":\"allocate\",\"worktree\":\"feat\",\"service\":\"web\",\"port\":8081}\n"
		"{\"time\":\"2026-11-20T10:00:00Z\",\"action\":\"allocate\",\"worktree\":\"feat\",\"service\":\"api\",\"port\":3001}\n"
		"{\"time\":\"2026-11-21T08:00:00Z\",\"action\":\"allocate\",\"worktree\":\"fix\",\"service\":\"web\",\"port\":8082}\n"
		"{\"time\":\"2026-11-21T09:30:00Z\",\"action\":\"release\",\"worktree\":\"feat\",\"service\":\"web\",\"port\":8081}\n"
		"{\"time\":\"2026-11-21T09:50:00Z\",\"action\":\"health\",\"worktree\":\"fix\",\"service\":\"web\",\"port\":8082,\"detail\":\"unknown -> healthy\"}\n");
}

/* The ports of 'recs', in order, as "8081 3001". */
static char *ports_of(const struct actlog_record *recs, size_t nr)
{
	struct sbuf sb = SBUF_INIT;
	size_t i;

	for (i = 0; i < nr; i++)
		sbuf_addf(&sb, "%s%ld", i ? " " : "", recs[i].port);
	return sbuf_detach(&sb);
}

static void assert_filter(const struct fixture *f,
			  const struct actlog_filter *filter,
			  const char *expect)
{
	struct actlog_record *recs;
	size_t nr;
	char *ports;

	recs = read_ok(&nr, f->reg, filter);
	ports = ports_of(recs, nr);
	assert_string_equal(expect, ports);
	free(ports);
	actlog_records_free(recs, nr);
}

static void test_path(void **state UNUSED)
{
	static const char *const cases[][2] = {
		{ "/src/app/design/worktrees/ports.json",
		  "/src/app/design/worktrees/ports.log" },
		{ "ports.json", "ports.log" },
		{ "/tmp/team.json", "/tmp/team.json.log" },
		{ "/tmp/myports.json", "/tmp/myports.json.log" },
		{ "/tmp/ports.json/x", "/tmp/ports.json/x.log" },
		{ "registry", "registry.log" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct sbuf sb = SBUF_INIT;

		sbuf_addstr(&sb, "prefix:");
		actlog_path(&sb, cases[i][0]);
		assert_string_equal(sb.buf + strlen("prefix:"), cases[i][1]);
		sbuf_release(&sb);
	}
}

static void test_is_action(void **state UNUSED)
{
	assert_true(actlog_is_action("allocate"));
	assert_true(actlog_is_action("release"));
	assert_true(actlog_is_action("auto-release"));
	assert_true(actlog_is_action("prune"));
	assert_true(actlog_is_action("repair"));
	assert_true(actlog_is_action("health"));
	assert_true(actlog_is_action("move"));
	assert_false(actlog_is_action("Allocate"));
	assert_false(actlog_is_action("auto"));
	assert_false(actlog_is_action(""));
}

static void test_append_writes_one_line_in_key_order(void **state)
{
	struct fixture *f = *state;
	struct actlog_entry e = { .time = "2026-11-21T10:00:00Z",
				  .action = "repair",
				  .worktree = "feat",
				  .service = "web",
				  .port = 8082,
				  .by = "me@laptop",
				  .detail = "moved from 8081",
				  .pid = 4242 };
	char *text;

	append_ok(f->reg, &e, 1);
	text = read_text(f->log);
	assert_string_equal(
		"{\"time\":\"2026-11-21T10:00:00Z\",\"action\":\"repair\",\"worktree\":\"feat\",\"service\":\"web\",\"port\":8082,\"pid\":4242,\"by\":\"me@laptop\",\"detail\":\"moved from 8081\"}\n",
		text);
	free(text);
}

static void test_append_leaves_out_absent_fields(void **state)
{
	struct fixture *f = *state;
	struct actlog_entry e = { .time = "2026-11-21T10:00:00Z",
				  .action = "prune",
				  .by = "me@laptop",
				  .port = ACTLOG_NONE,
				  .pid = ACTLOG_NONE };
	char *text;

	append_ok(f->reg, &e, 1);
	text = read_text(f->log);
	assert_string_equal(
		"{\"time\":\"2026-11-21T10:00:00Z\",\"action\":\"prune\",\"by\":\"me@laptop\"}\n",
		text);
	free(text);
}

static void test_append_and_read_back(void **state)
{
	struct fixture *f = *state;
	struct actlog_entry e[] = {
		{ .time = "2026-11-21T10:00:00Z",
		  .action = "allocate",
		  .worktree = "feat",
		  .service = "web",
		  .port = 8081,
		  .by = "me@laptop",
		  .pid = ACTLOG_NONE },
		{ .time = "2026-11-21T10:00:05Z",
		  .action = "health",
		  .worktree = "feat",
		  .service = "web",
		  .port = 8081,
		  .by = "me@laptop",
		  .detail = "unknown -> healthy",
		  .pid = 77 },
	};
	struct actlog_record *r;
	size_t nr;

	append_ok(f->reg, e, ARRAY_SIZE(e));
	assert_int_equal(2, count_lines(f->log));
	r = read_ok(&nr, f->reg, NULL);
	assert_int_equal(2, nr);
	/* newest first */
	assert_string_equal("2026-11-21T10:00:05Z", r[0].time);
	assert_int_equal(NOW + 5, r[0].when);
	assert_string_equal("health", r[0].action);
	assert_string_equal("feat", r[0].worktree);
	assert_string_equal("web", r[0].service);
	assert_int_equal(8081, r[0].port);
	assert_int_equal(77, r[0].pid);
	assert_string_equal("me@laptop", r[0].by);
	assert_string_equal("unknown -> healthy", r[0].detail);
	assert_string_equal("allocate", r[1].action);
	assert_int_equal(NOW, r[1].when);
	assert_int_equal(ACTLOG_NONE, r[1].pid);
	assert_null(r[1].detail);
	actlog_records_free(r, nr);
}

static void test_append_fills_time_and_user(void **state)
{
	struct fixture *f = *state;
	struct actlog_entry e = { .action = "release",
				  .worktree = "feat",
				  .port = ACTLOG_NONE,
				  .pid = ACTLOG_NONE };
	time_t before = time(NULL), after;
	struct actlog_record *r;
	size_t nr;

	append_ok(f->reg, &e, 1);
	after = time(NULL);
	r = read_ok(&nr, f->reg, NULL);
	assert_int_equal(1, nr);
	assert_true(r[0].when >= before && r[0].when <= after);
	assert_non_null(r[0].by);
	assert_non_null(strchr(r[0].by, '@'));
	assert_null(r[0].service);
	assert_int_equal(ACTLOG_NONE, r[0].port);
	actlog_records_free(r, nr);
}

static void test_append_nothing(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;

	assert_int_equal(0, actlog_append(f->reg, NULL, 0, &err));
	assert_int_equal(-1, access(f->log, F_OK));
}

static void test_append_refuses_malformed_time(void **state)
{
	struct fixture *f = *state;
	struct actlog_entry e[2];
	struct error err = ERROR_INIT;

	e[0] = entry("allocate", "feat", "web", 8081);
	e[1] = entry("allocate", "feat", "api", 3001);
	e[1].time = "2026-11-21 10:00:00";
	assert_int_equal(ERR_FAIL, actlog_append(f->reg, e, 2, &err));
	assert_string_equal(f->log, err.file);
	assert_non_null(strstr(err.msg, "'2026-11-21 10:00:00'"));
	/* nothing of the batch is written */
	assert_int_equal(-1, access(f->log, F_OK));
}

static void test_append_refuses_symlink(void **state)
{
	struct fixture *f = *state;
	struct actlog_entry e = entry("allocate", "feat", "web", 8081);
	struct error err = ERROR_INIT;
	char target[160];
	char *text;

	snprintf(target, sizeof(target), "%s/elsewhere", f->root);
	write_file(target, "keep\n");
	assert_int_equal(0, symlink(target, f->log));
	assert_int_equal(ERR_FAIL, actlog_append(f->reg, &e, 1, &err));
	assert_string_equal(f->log, err.file);
	assert_non_null(strstr(err.msg, "symbolic link"));
	text = read_text(target);
	assert_string_equal("keep\n", text);
	free(text);
}

static void test_append_refuses_directory(void **state)
{
	struct fixture *f = *state;
	struct actlog_entry e = entry("allocate", "feat", "web", 8081);
	struct actlog_record *recs = NULL;
	struct error err = ERROR_INIT;
	size_t nr = 1;

	assert_int_equal(0, mkdir(f->log, 0755));
	assert_int_equal(ERR_FAIL, actlog_append(f->reg, &e, 1, &err));
	assert_string_equal(f->log, err.file);
	error_clear(&err);
	assert_int_equal(ERR_FAIL, actlog_read(&recs, &nr, f->reg, NULL, NULL,
					       NULL, &err));
	assert_string_equal(f->log, err.file);
	assert_non_null(strstr(err.msg, "not a regular file"));
	assert_null(recs);
	assert_int_equal(0, nr);
}

static void test_append_ends_a_cut_line(void **state)
{
	struct fixture *f = *state;
	struct warnings ws = { { NULL }, 0 };
	struct error err = ERROR_INIT;
	struct actlog_record *r;
	size_t nr;
	char expect[160];

	write_file(
		f->log,
		"{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"allocate\"}\n"
		"{\"time\":\"2026-11-21T09:");
	append_one(f->reg, "release", "feat", "web", 8081);
	assert_int_equal(3, count_lines(f->log));
	assert_int_equal(
		0, actlog_read(&r, &nr, f->reg, NULL, collect, &ws, &err));
	assert_int_equal(2, nr);
	assert_string_equal("release", r[0].action);
	assert_string_equal("allocate", r[1].action);
	assert_int_equal(1, ws.nr);
	snprintf(expect, sizeof(expect), "%s:2:", f->log);
	assert_memory_equal(expect, ws.text[0], strlen(expect));
	warnings_release(&ws);
	actlog_records_free(r, nr);
}

static void test_read_missing_log(void **state)
{
	struct fixture *f = *state;
	struct actlog_record *recs = (void *)1;
	struct error err = ERROR_INIT;
	size_t nr = 5;

	assert_int_equal(
		0, actlog_read(&recs, &nr, f->reg, NULL, NULL, NULL, &err));
	assert_null(recs);
	assert_int_equal(0, nr);
	assert_int_equal(0, err.code);
}

static void test_read_empty_and_blank_lines(void **state)
{
	struct fixture *f = *state;
	struct actlog_record *r;
	size_t nr;

	write_file(f->log, "");
	r = read_ok(&nr, f->reg, NULL);
	assert_int_equal(0, nr);
	assert_null(r);
	write_file(
		f->log,
		"\n  \n{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"allocate\"}\n\n");
	r = read_ok(&nr, f->reg, NULL);
	assert_int_equal(1, nr);
	actlog_records_free(r, nr);
}

static void test_filter_since(void **state)
{
	struct fixture *f = *state;
	struct actlog_filter filter = { .since = NOW - 30 * 60 };

	write_history(f);
	/* the bound is inclusive: 09:30:00 is in */
	assert_filter(f, &filter, "8082 8081");
	filter.since = NOW - 2 * 3600;
	assert_filter(f, &filter, "8082 8081 8082");
	filter.since = NOW - 86400;
	assert_filter(f, &filter, "8082 8081 8082 3001");
	filter.since = NOW - 7 * 86400;
	assert_filter(f, &filter, "8082 8081 8082 3001 8081");
	filter.since = NOW - 10 * 60 + 1;
	assert_filter(f, &filter, "");
}

static void test_filter_worktree(void **state)
{
	struct fixture *f = *state;
	struct actlog_filter filter = { .worktree = "feat" };

	write_history(f);
	assert_filter(f, &filter, "8081 3001 8081");
	filter.worktree = "fix";
	assert_filter(f, &filter, "8082 8082");
	filter.worktree = "fe";
	assert_filter(f, &filter, "");
}

static void test_filter_service(void **state)
{
	struct fixture *f = *state;
	struct actlog_filter filter = { .service = "web" };

	write_history(f);
	assert_filter(f, &filter, "8082 8081 8082 8081");
	filter.service = "api";
	assert_filter(f, &filter, "3001");
}

static void test_filter_action(void **state)
{
	struct fixture *f = *state;
	struct actlog_filter filter = { .action = "allocate" };

	write_history(f);
	assert_filter(f, &filter, "8082 3001 8081");
	filter.action = "release";
	assert_filter(f, &filter, "8081");
	filter.action = "prune";
	assert_filter(f, &filter, "");
}

static void test_filter_combined(void **state)
{
	struct fixture *f = *state;
	struct actlog_filter filter = { .worktree = "feat",
					.service = "web",
					.action = "allocate" };

	write_history(f);
	assert_filter(f, &filter, "8081");
	filter.since = NOW - 86400;
	assert_filter(f, &filter, "");
	filter.action = NULL;
	assert_filter(f, &filter, "8081");
	filter.worktree = "fix";
	assert_filter(f, &filter, "8082 8082");
}

static void test_filter_needs_the_field(void **state)
{
	struct fixture *f = *state;
	struct actlog_filter filter = { .worktree = "feat" };

	write_file(
		f->log,
		"{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"prune\",\"port\":8081}\n"
		"{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"prune\",\"worktree\":null,\"port\":8082}\n"
		"{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"prune\",\"worktree\":\"feat\",\"port\":8083}\n");
	assert_filter(f, &filter, "8083");
	assert_filter(f, NULL, "8083 8082 8081");
}

static void test_read_newest_first_across_rotation(void **state)
{
	struct fixture *f = *state;

	write_file(
		f->prev,
		"{\"time\":\"2026-11-20T10:00:00Z\",\"action\":\"allocate\",\"port\":8081}\n"
		"{\"time\":\"2026-11-20T11:00:00Z\",\"action\":\"allocate\",\"port\":8082}\n");
	write_file(
		f->log,
		"{\"time\":\"2026-11-21T10:00:00Z\",\"action\":\"allocate\",\"port\":8083}\n"
		"{\"time\":\"2026-11-21T11:00:00Z\",\"action\":\"allocate\",\"port\":8084}\n");
	assert_filter(f, NULL, "8084 8083 8082 8081");
	/* only the previous file */
	assert_int_equal(0, unlink(f->log));
	assert_filter(f, NULL, "8082 8081");
}

static void test_read_order_is_append_order(void **state)
{
	struct fixture *f = *state;

	/* the clock went back between the two lines */
	write_file(
		f->log,
		"{\"time\":\"2026-11-21T10:00:00Z\",\"action\":\"allocate\",\"port\":8081}\n"
		"{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"allocate\",\"port\":8082}\n");
	assert_filter(f, NULL, "8082 8081");
}

static void test_read_rotated_file_seen_twice(void **state)
{
	struct fixture *f = *state;

	/* as a reader sees a rotation between its two opens */
	write_file(
		f->log,
		"{\"time\":\"2026-11-21T10:00:00Z\",\"action\":\"allocate\",\"port\":8081}\n");
	assert_int_equal(0, link(f->log, f->prev));
	assert_filter(f, NULL, "8081");
}

static void test_rotation_at_the_bound(void **state)
{
	struct fixture *f = *state;
	struct actlog_entry batch[3];
	char max[32];
	off_t line;

	append_one(f->reg, "allocate", "feat", "web", 8081);
	line = file_size(f->log);
	snprintf(max, sizeof(max), "%lld", (long long)line * 2);
	assert_int_equal(0, setenv(ACTLOG_MAX_ENV, max, 1));

	/* up to the bound: one file */
	append_one(f->reg, "allocate", "feat", "web", 8082);
	assert_int_equal(line * 2, file_size(f->log));
	assert_int_equal(-1, access(f->prev, F_OK));

	/* past it: the log moves to .1 */
	append_one(f->reg, "allocate", "feat", "web", 8083);
	assert_int_equal(line, file_size(f->log));
	assert_int_equal(2, count_lines(f->prev));
	assert_filter(f, NULL, "8083 8082 8081");

	/* a batch that would not fit rotates again, replacing .1 */
	batch[0] = entry("allocate", "feat", "web", 8084);
	batch[1] = entry("allocate", "feat", "web", 8085);
	append_ok(f->reg, batch, 2);
	assert_int_equal(line * 2, file_size(f->log));
	assert_int_equal(line, file_size(f->prev));
	assert_filter(f, NULL, "8085 8084 8083");

	/* a batch larger than the bound gets a file of its own */
	batch[2] = entry("allocate", "feat", "web", 8086);
	append_ok(f->reg, batch, 3);
	assert_int_equal(line * 3, file_size(f->log));
	assert_int_equal(line * 2, file_size(f->prev));
	append_one(f->reg, "allocate", "feat", "web", 8087);
	assert_int_equal(line, file_size(f->log));
	assert_int_equal(line * 3, file_size(f->prev));
	assert_filter(f, NULL, "8087 8086 8085 8084");
}

static void test_rotation_ignores_bad_override(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = { "0", "-5", "10k", "", "x" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(0, setenv(ACTLOG_MAX_ENV, bad[i], 1));
		append_one(f->reg, "allocate", "feat", "web", 8081);
	}
	assert_int_equal(ARRAY_SIZE(bad), count_lines(f->log));
	assert_int_equal(-1, access(f->prev, F_OK));
}

static void test_corrupt_line_in_the_middle(void **state)
{
	struct fixture *f = *state;
	struct warnings ws = { { NULL }, 0 };
	struct error err = ERROR_INIT;
	struct actlog_record *r;
	char expect[160];
	size_t nr;

	write_file(
		f->log,
		"{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"allocate\",\"port\":8081}\n"
		"{\"time\":\"2026-11-21T09:00:01Z\",\"action\":\"allo\n"
		"{\"time\":\"2026-11-21T09:00:02Z\",\"action\":\"release\",\"port\":8081}\n");
	assert_int_equal(
		0, actlog_read(&r, &nr, f->reg, NULL, collect, &ws, &err));
	assert_int_equal(2, nr);
	assert_string_equal("release", r[0].action);
	assert_string_equal("allocate", r[1].action);
	assert_int_equal(1, ws.nr);
	snprintf(expect, sizeof(expect), "%s:2:", f->log);
	assert_memory_equal(expect, ws.text[0], strlen(expect));
	assert_non_null(strstr(ws.text[0], "; skipped"));
	warnings_release(&ws);
	actlog_records_free(r, nr);
}

static void test_corrupt_lines_of_each_kind(void **state)
{
	static const char *const bad[][2] = {
		{ "not json at all", NULL },
		{ "[1,2]", "expected an object, not an array" },
		{ "\"time\"", NULL },
		{ "{\"action\":\"allocate\"}", "time: missing" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\"}", "action: missing" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"\"}",
		  "action: missing" },
		{ "{\"time\":1795255200,\"action\":\"allocate\"}",
		  "time: expected a string, not an integer" },
		{ "{\"time\":\"yesterday\",\"action\":\"allocate\"}",
		  "time: malformed time 'yesterday'" },
		{ "{\"time\":\"2026-02-30T09:00:00Z\",\"action\":\"allocate\"}",
		  "time: malformed time" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":true}",
		  "action: expected a string, not a boolean" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"a\",\"port\":\"8081\"}",
		  "port: expected an integer, not a string" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"a\",\"port\":80810}",
		  "port: 80810 is not from 1 to 65535" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"a\",\"pid\":-3}",
		  "pid: -3 is not from 1 to" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"a\",\"worktree\":[]}",
		  "worktree: expected a string, not an array" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"a\",\"by\":{}}",
		  "by: expected a string, not an object" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"a\",\"detail\":1.5}",
		  "detail: expected a string, not a floating-point number" },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"a\",\"action\":\"b\"}",
		  NULL },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"a\"} {}",
		  NULL },
		{ "{\"time\":\"2026-11-21T09:00:00Z\",\"action\":\"a\",\"worktree\":\"\\u0000\"}",
		  NULL },
	};
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct warnings ws = { { NULL }, 0 };
		struct error err = ERROR_INIT;
		struct actlog_record *r;
		struct sbuf text = SBUF_INIT;
		char expect[160];
		size_t nr;

		sbuf_addf(
			&text,
			"{\"time\":\"2026-11-21T08:00:00Z\",\"action\":\"allocate\"}\n%s\n",
			bad[i][0]);
		write_file(f->log, text.buf);
		sbuf_release(&text);
		assert_int_equal(0, actlog_read(&r, &nr, f->reg, NULL, collect,
						&ws, &err));
		assert_int_equal(1, nr);
		if (ws.nr != 1)
			fail_msg("%zu warnings for %s", ws.nr, bad[i][0]);
		snprintf(expect, sizeof(expect), "%s:2", f->log);
		assert_memory_equal(expect, ws.text[0], strlen(expect));
		if (bad[i][1] && !strstr(ws.text[0], bad[i][1]))
			fail_msg("'%s' not in '%s'", bad[i][1], ws.text[0]);
		warnings_release(&ws);
		actlog_records_free(r, nr);
	}
}

static void test_corrupt_line_warning_is_printable(void **state)
{
	struct fixture *f = *state;
	struct warnings ws = { { NULL }, 0 };
	struct error err = ERROR_INIT;
	struct actlog_record *r;
	const char *p;
	size_t nr;

	write_file(f->log, "\x1b[2J\x1b]0;owned\x07\n"
			   "{\"time\":\"bad\x1b[31m\",\"action\":\"a\"}\n");
	assert_int_equal(
		0, actlog_read(&r, &nr, f->reg, NULL, collect, &ws, &err));
	assert_int_equal(0, nr);
	assert_int_equal(2, ws.nr);
	for (p = ws.text[0]; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	for (p = ws.text[1]; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	warnings_release(&ws);
}

static void test_corrupt_lines_warn_at_most(void **state)
{
	struct fixture *f = *state;
	struct warnings ws = { { NULL }, 0 };
	struct error err = ERROR_INIT;
	struct actlog_record *r;
	struct sbuf text = SBUF_INIT;
	char expect[160];
	size_t nr;
	int i;

	for (i = 0; i < ACTLOG_MAX_WARNINGS + 5; i++)
		sbuf_addstr(&text, "garbage\n");
	sbuf_addstr(
		&text,
		"{\"time\":\"2026-11-21T08:00:00Z\",\"action\":\"allocate\"}\n");
	write_file(f->log, text.buf);
	sbuf_release(&text);
	assert_int_equal(
		0, actlog_read(&r, &nr, f->reg, NULL, collect, &ws, &err));
	assert_int_equal(1, nr);
	assert_int_equal(ACTLOG_MAX_WARNINGS + 1, ws.nr);
	snprintf(expect, sizeof(expect), "%s: 5 more malformed lines skipped",
		 f->log);
	assert_string_equal(expect, ws.text[ACTLOG_MAX_WARNINGS]);
	warnings_release(&ws);
	actlog_records_free(r, nr);
}

static void test_read_without_warn_callback(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct actlog_record *r;
	size_t nr;

	write_file(
		f->log,
		"oops\n{\"time\":\"2026-11-21T08:00:00Z\",\"action\":\"allocate\"}\n");
	assert_int_equal(0,
			 actlog_read(&r, &nr, f->reg, NULL, NULL, NULL, &err));
	assert_int_equal(1, nr);
	assert_int_equal(0, err.code);
	actlog_records_free(r, nr);
}

static void test_read_keeps_unknown_keys_and_actions(void **state)
{
	struct fixture *f = *state;
	struct actlog_record *r;
	size_t nr;

	write_file(
		f->log,
		"{\"time\":\"2026-11-21T08:00:00Z\",\"action\":\"teleport\",\"extra\":[1,{}],\"port\":null,\"pid\":null,\"detail\":null}\n");
	r = read_ok(&nr, f->reg, NULL);
	assert_int_equal(1, nr);
	assert_string_equal("teleport", r[0].action);
	assert_int_equal(ACTLOG_NONE, r[0].port);
	assert_int_equal(ACTLOG_NONE, r[0].pid);
	assert_null(r[0].detail);
	actlog_records_free(r, nr);
}

static void test_control_characters_round_trip(void **state)
{
	struct fixture *f = *state;
	const char *name = "a\x01"
			   "b\nc\r\t\x1b[31m\"q\"\\z\x7f \xc3\xa9\xc2\x9b"
			   "1m\xc2\x85\xc2\xa0";
	struct actlog_entry e = entry("allocate", name, "we\nb", 8081);
	struct actlog_filter filter = { .worktree = name };
	struct actlog_record *r;
	char *text, *p;
	size_t nr;

	e.detail = "held by pid 123 (\x1b]0;x\x07)";
	append_ok(f->reg, &e, 1);
	text = read_text(f->log);
	/* one line, with no raw control character in it */
	assert_int_equal(1, count_lines(f->log));
	for (p = text; *p != '\n'; p++) {
		assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
		/* nor a C1 control */
		if ((unsigned char)*p == 0xc2)
			assert_true((unsigned char)p[1] > 0x9f);
	}
	free(text);
	r = read_ok(&nr, f->reg, &filter);
	assert_int_equal(1, nr);
	assert_string_equal(name, r[0].worktree);
	assert_string_equal("we\nb", r[0].service);
	assert_string_equal(e.detail, r[0].detail);
	actlog_records_free(r, nr);
}

static void test_invalid_utf8_becomes_replacement(void **state)
{
	struct fixture *f = *state;
	/* a stray continuation, an overlong '/', a surrogate, a cut sequence */
	struct actlog_entry e = entry("allocate",
				      "a\x80"
				      "b\xc0\xaf"
				      "c\xed\xa0\x80"
				      "d\xe2\x82",
				      "web", 8081);
	struct actlog_record *r;
	size_t nr;

	append_ok(f->reg, &e, 1);
	r = read_ok(&nr, f->reg, NULL);
	assert_int_equal(1, nr);
	assert_string_equal("a\xef\xbf\xbd"
			    "b\xef\xbf\xbd\xef\xbf\xbd"
			    "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			    "d\xef\xbf\xbd\xef\xbf\xbd",
			    r[0].worktree);
	actlog_records_free(r, nr);
}

static void test_valid_utf8_is_kept(void **state)
{
	struct fixture *f = *state;
	const char *name = "caf\xc3\xa9-\xe2\x82\xac-\xf0\x9f\x9a\x80";
	struct actlog_entry e = entry("allocate", name, "web", 8081);
	struct actlog_record *r;
	size_t nr;

	append_ok(f->reg, &e, 1);
	r = read_ok(&nr, f->reg, NULL);
	assert_int_equal(1, nr);
	assert_string_equal(name, r[0].worktree);
	actlog_records_free(r, nr);
}

static void test_registry_with_another_name(void **state)
{
	struct fixture *f = *state;
	char reg[160], log[160];

	snprintf(reg, sizeof(reg), "%s/team.json", f->root);
	snprintf(log, sizeof(log), "%s/team.json.log", f->root);
	append_one(reg, "allocate", "feat", "web", 8081);
	assert_int_equal(1, count_lines(log));
	assert_int_equal(-1, access(f->log, F_OK));
}

static void assert_since(const char *spec, time_t expect)
{
	struct error err = ERROR_INIT;
	time_t t = 12345;

	if (actlog_parse_since(&t, spec, NOW, &err))
		fail_msg("'%s' refused: %s", spec, err.msg);
	assert_int_equal(expect, t);
}

static void assert_since_refused(const char *spec)
{
	struct error err = ERROR_INIT;
	time_t t = 12345;

	if (!actlog_parse_since(&t, spec, NOW, &err))
		fail_msg("'%s' accepted", spec);
	assert_int_equal(ERR_USAGE, err.code);
	assert_int_equal(12345, t);
	assert_non_null(strstr(err.msg, "--since"));
	assert_non_null(strstr(err.hint, "30m"));
}

static void test_parse_since(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	time_t t;

	assert_since("45s", NOW - 45);
	assert_since("30m", NOW - 30 * 60);
	assert_since("2h", NOW - 2 * 3600);
	assert_since("3d", NOW - 3 * 86400);
	assert_since("1w", NOW - 7 * 86400);
	assert_since("0s", NOW);
	assert_since("007m", NOW - 7 * 60);
	assert_since("2026-11-21T10:00:00Z", NOW);
	assert_since("2026-11-20T09:30:15Z", NOW - 86400 - 1800 + 15);
	assert_since("2026-11-20", NOW - 86400 - 10 * 3600);
	assert_since("2028-02-29", 1835395200);
	/* before the epoch: everything */
	assert_since("100000w", 0);
	assert_since("99999999999999999999999999d", 0);

	assert_since_refused("");
	assert_since_refused("m");
	assert_since_refused("30");
	assert_since_refused("3x");
	assert_since_refused("3mm");
	assert_since_refused("3M");
	assert_since_refused("-3m");
	assert_since_refused("+3m");
	assert_since_refused(" 3m");
	assert_since_refused("3m ");
	assert_since_refused("1.5h");
	assert_since_refused("2026-11-21T10:00:00");
	assert_since_refused("2026-11-21T10:00:00+01:00");
	assert_since_refused("2026-11-21 10:00:00Z");
	assert_since_refused("2026-11-21T25:00:00Z");
	assert_since_refused("2026-02-30");
	assert_since_refused("2027-02-29");
	assert_since_refused("2026-1-21");
	assert_since_refused("yesterday");

	/* the value is quoted, with control characters escaped */
	assert_int_equal(ERR_USAGE,
			 actlog_parse_since(&t, "x\x1b[0m", NOW, &err));
	assert_string_equal("invalid time 'x\\x1b[0m' for --since", err.msg);
}

#define U(name) cmocka_unit_test(name)
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		U(test_path),
		U(test_is_action),
		T(test_append_writes_one_line_in_key_order),
		T(test_append_leaves_out_absent_fields),
		T(test_append_and_read_back),
		T(test_append_fills_time_and_user),
		T(test_append_nothing),
		T(test_append_refuses_malformed_time),
		T(test_append_refuses_symlink),
		T(test_append_refuses_directory),
		T(test_append_ends_a_cut_line),
		T(test_read_missing_log),
		T(test_read_empty_and_blank_lines),
		T(test_filter_since),
		T(test_filter_worktree),
		T(test_filter_service),
		T(test_filter_action),
		T(test_filter_combined),
		T(test_filter_needs_the_field),
		T(test_read_newest_first_across_rotation),
		T(test_read_order_is_append_order),
		T(test_read_rotated_file_seen_twice),
		T(test_rotation_at_the_bound),
		T(test_rotation_ignores_bad_override),
		T(test_corrupt_line_in_the_middle),
		T(test_corrupt_lines_of_each_kind),
		T(test_corrupt_line_warning_is_printable),
		T(test_corrupt_lines_warn_at_most),
		T(test_read_without_warn_callback),
		T(test_read_keeps_unknown_keys_and_actions),
		T(test_control_characters_round_trip),
		T(test_invalid_utf8_becomes_replacement),
		T(test_valid_utf8_is_kept),
		T(test_registry_with_another_name),
		U(test_parse_since),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
