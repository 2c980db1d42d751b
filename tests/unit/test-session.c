#include "common.h"
#include "session.h"
#include "actlog.h"
#include "error.h"
#include "registry.h"
#include "sbuf.h"
#include "wt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define UNIT_SCRATCH
#include "unit.h"

/*
 * The session life cycle on real repositories made with git in a fresh
 * directory per test, which is also $HOME and holds $XDG_STATE_HOME. The
 * tests run inside the repository, as the commands do. Whether the
 * registry lock is held is asked of the kernel through a second open
 * file description of the lock file: flock(2) locks belong to the open
 * file description, so a non-blocking attempt from it fails exactly when
 * the session holds the lock.
 */

static char saved_cwd[PATH_MAX];
static char *saved_home;

#define REGISTRY "app/design/worktrees/ports.json"
#define LOCK "app/.git/worktree-ports/ports.json.lock"
#define LOG "app/.git/worktree-ports/ports.log"

/*
 * Write the registry of "app" with the ranges web (8080-8089) and
 * default, holding 'allocs', the text of the allocations' array.
 */
static void write_registry(const char *allocs)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb,
		  "{\n"
		  "  \"ranges\": {\n"
		  "    \"web\": {\"start\": 8080, \"end\": 8089},\n"
		  "    \"default\": {\"start\": 10000, \"end\": 11000}\n"
		  "  },\n"
		  "  \"reserved\": [],\n"
		  "  \"allocations\": [%s],\n"
		  "  \"metadata\": {\"version\": \"1.0.0\", "
		  "\"last_updated\": \"2026-11-21T10:00:00Z\", "
		  "\"total_allocations\": 0, \"schema_version\": 1}\n"
		  "}\n",
		  allocs);
	write_file(at(REGISTRY), sb.buf);
	sbuf_release(&sb);
}

/* One allocation of the registry's array, for write_registry(). */
static void add_alloc(struct sbuf *sb, unsigned port, const char *worktree,
		      const char *service)
{
	sbuf_addf(sb,
		  "%s\n    {\"port\": %u, \"worktree\": \"%s\", "
		  "\"service\": \"%s\", \"process_id\": null, "
		  "\"health_status\": \"unknown\"}",
		  sb->len ? "," : "", port, worktree, service);
}

/*
 * Does someone hold the flock on 'path', which must exist? Asked through
 * an open file description of our own, so the session's is not touched.
 */
static bool is_locked(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool held;

	if (fd < 0)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	held = flock(fd, LOCK_EX | LOCK_NB) < 0;
	if (held)
		assert_int_equal(EWOULDBLOCK, errno);
	close(fd); /* drops the lock taken here, if any */
	return held;
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

static int setup(void **state UNUSED)
{
	char tmp[64];

	if (make_temp_dir(tmp, sizeof(tmp), "session") < 0 ||
	    !realpath(tmp, root) || !getcwd(saved_cwd, sizeof(saved_cwd)))
		return -1;
	saved_home = xstrdup_or_null(getenv("HOME"));
	setenv("HOME", root, 1);
	setenv("XDG_STATE_HOME", at("state"), 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "A U Thor", 1);
	setenv("GIT_AUTHOR_EMAIL", "author@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "A U Thor", 1);
	setenv("GIT_COMMITTER_EMAIL", "author@example.com", 1);
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	unsetenv("GIT_WORKTREE_PORTS_REGISTRY");
	unsetenv("GIT_WORKTREE_PORTS_LOCK_TIMEOUT");
	sh("git init -q app && git -C app commit -q --allow-empty -m init && "
	   "mkdir -p app/design/worktrees");
	if (chdir(at("app")) < 0)
		return -1;
	return 0;
}

static int teardown(void **state UNUSED)
{
	if (chdir(saved_cwd) < 0)
		return -1;
	rm_rf(root);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
	free(saved_home);
	saved_home = NULL;
	unit_at_release();
	return 0;
}

static void open_ok(struct session *s, unsigned flags)
{
	struct error err = ERROR_INIT;
	int ret = session_open(s, NULL, flags, &err);

	if (ret)
		fail_msg("session_open: %d %s: %s", ret, err.file, err.msg);
}

static void finish_ok(struct session *s)
{
	struct error err = ERROR_INIT;
	int ret = session_finish(s, &err);

	if (ret)
		fail_msg("session_finish: %d %s: %s", ret, err.file, err.msg);
}

static void test_no_registry_leaves_no_lock(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(ERR_NOTFOUND, session_open(&s, NULL, 0, &err));
	assert_string_equal(at(REGISTRY), err.file);
	assert_string_equal("no registry", err.msg);
	assert_non_null(strstr(err.hint, "init"));
	assert_null(s.reg);
	assert_false(exists(at(LOCK)));
	session_release(&s);
	assert_false(exists(at(LOCK)));
	assert_false(exists(at(REGISTRY)));
}

static void test_open_holds_the_lock_until_release(void **state UNUSED)
{
	struct session s = SESSION_INIT;

	write_registry("");
	open_ok(&s, 0);
	assert_string_equal(at(REGISTRY), s.registry_path);
	assert_non_null(s.reg);
	assert_string_equal(WT_MAIN_NAME, s.repo->name);
	assert_false(s.dirty);
	assert_true(is_locked(at(LOCK)));
	session_release(&s);
	assert_false(is_locked(at(LOCK)));
	assert_null(s.reg);
	assert_null(s.registry_path);
	assert_null(s.repo);
	/* and release is safe twice, as after SESSION_INIT */
	session_release(&s);
}

static void test_no_load_takes_no_lock(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct error err = ERROR_INIT;

	write_registry("");
	open_ok(&s, SESSION_NO_LOAD);
	assert_string_equal(at(REGISTRY), s.registry_path);
	assert_null(s.reg);
	assert_false(exists(at(LOCK)));
	assert_int_equal(0, session_load(&s, 0, &err));
	assert_true(is_locked(at(LOCK)));
	session_release(&s);
	assert_false(is_locked(at(LOCK)));
}

static void test_corrupt_registry_is_left_as_it_is(void **state UNUSED)
{
	static const char *const broken[] = {
		/* not JSON */
		"{\n  \"ranges\": {\"web\": {\"start\": 8080,, \"end\": 8089}}\n",
		/* JSON, but a port no registry may hold */
		"{\"ranges\": {\"web\": {\"start\": 8080, \"end\": 8089}},\n"
		" \"allocations\": [{\"port\": 80, \"worktree\": \".main\", "
		"\"service\": \"web\"}]}\n",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(broken); i++) {
		struct session s = SESSION_INIT;
		struct error err = ERROR_INIT;
		struct sbuf after = SBUF_INIT;

		write_file(at(REGISTRY), broken[i]);
		assert_int_equal(ERR_CORRUPT,
				 session_open(&s, NULL, 0, &err));
		assert_string_equal(at(REGISTRY), err.file);
		assert_null(s.reg);
		/* the lock was taken to read it, and is held until release */
		assert_true(is_locked(at(LOCK)));
		session_release(&s);
		assert_false(is_locked(at(LOCK)));
		read_file(&after, at(REGISTRY));
		assert_string_equal(broken[i], after.buf);
		assert_false(exists(at(REGISTRY ".new")));
		sbuf_release(&after);
	}
}

static void test_unlock_and_load_again(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct error err = ERROR_INIT;
	struct sbuf allocs = SBUF_INIT;

	add_alloc(&allocs, 8080, WT_MAIN_NAME, "web");
	write_registry(allocs.buf);
	open_ok(&s, 0);
	assert_int_equal(1, s.reg->nr_allocs);
	s.dirty = true;

	session_unlock(&s);
	assert_false(is_locked(at(LOCK)));
	assert_null(s.reg);
	assert_false(s.dirty);
	/* the repository and the path stay for session_load() */
	assert_non_null(s.repo);
	assert_string_equal(at(REGISTRY), s.registry_path);

	/* what another command wrote meanwhile is what is loaded */
	sbuf_reset(&allocs);
	add_alloc(&allocs, 8080, WT_MAIN_NAME, "web");
	add_alloc(&allocs, 10000, WT_MAIN_NAME, "db");
	write_registry(allocs.buf);
	assert_int_equal(0, session_load(&s, 0, &err));
	assert_true(is_locked(at(LOCK)));
	assert_int_equal(2, s.reg->nr_allocs);

	session_unlock(&s);
	assert_false(is_locked(at(LOCK)));
	session_release(&s);
	assert_false(is_locked(at(LOCK)));
	sbuf_release(&allocs);
}

static void test_load_fails_locked(void **state UNUSED)
{
	struct session s = SESSION_INIT, other = SESSION_INIT;
	struct error err = ERROR_INIT;

	write_registry("");
	open_ok(&s, 0);
	setenv("GIT_WORKTREE_PORTS_LOCK_TIMEOUT", "0", 1);
	assert_int_equal(ERR_LOCKED, session_open(&other, NULL, 0, &err));
	unsetenv("GIT_WORKTREE_PORTS_LOCK_TIMEOUT");
	assert_string_equal(at(LOCK), err.file);
	assert_null(other.reg);
	session_release(&other);
	/* the failed one let go of nothing it did not hold */
	assert_true(is_locked(at(LOCK)));
	session_release(&s);
	assert_false(is_locked(at(LOCK)));
}

static void stat_ok(struct stat *st, const char *path)
{
	assert_int_equal(0, stat(path, st));
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static size_t count_lines(const char *path)
{
	struct sbuf text = SBUF_INIT;
	size_t i, n = 0;

	read_file(&text, path);
	for (i = 0; i < text.len; i++)
		n += text.buf[i] == '\n';
	sbuf_release(&text);
	return n;
}

static void test_finish_saves_only_when_dirty(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct stat before, after;
	struct sbuf text = SBUF_INIT;
	struct sbuf allocs = SBUF_INIT;
	struct allocation a = { 0 };

	add_alloc(&allocs, 8080, WT_MAIN_NAME, "web");
	write_registry(allocs.buf);
	stat_ok(&before, at(REGISTRY));

	/* clean, nothing logged: not a byte written */
	open_ok(&s, 0);
	finish_ok(&s);
	stat_ok(&after, at(REGISTRY));
	assert_true(same_file(&before, &after));
	assert_false(exists(at(LOG)));
	session_release(&s);

	/* clean with activity: the log grows, the registry stays */
	open_ok(&s, 0);
	session_log(&s, "health", WT_MAIN_NAME, "web", 8080, ACTLOG_NONE,
		    "unknown -> unknown");
	finish_ok(&s);
	assert_int_equal(0, s.nr_log);
	stat_ok(&after, at(REGISTRY));
	assert_true(same_file(&before, &after));
	assert_int_equal(1, count_lines(at(LOG)));
	session_release(&s);

	/* dirty: saved, and the entries logged after the save */
	open_ok(&s, 0);
	a.port = 10000;
	a.worktree = WT_MAIN_NAME;
	a.service = "db";
	a.process_id = ALLOCATION_NO_PID;
	registry_add(s.reg, &a);
	s.dirty = true;
	session_log(&s, "allocate", WT_MAIN_NAME, "db", 10000, ACTLOG_NONE,
		    "from range 'default'");
	session_log(&s, "allocate", WT_MAIN_NAME, "db2", 10001, 4242, NULL);
	finish_ok(&s);
	assert_false(s.dirty);
	assert_int_equal(0, s.nr_log);
	stat_ok(&after, at(REGISTRY));
	assert_false(same_file(&before, &after));
	read_file(&text, at(REGISTRY));
	assert_non_null(strstr(text.buf, "\"port\": 10000"));
	assert_null(strstr(text.buf, "2026-11-21T10:00:00Z"));
	assert_int_equal(3, count_lines(at(LOG)));
	read_file(&text, at(LOG));
	assert_non_null(strstr(text.buf, "\"from range 'default'\""));
	assert_non_null(strstr(text.buf, "\"db2\""));
	/* still locked: a finish does not let go */
	assert_true(is_locked(at(LOCK)));

	/* a second finish has nothing left to do */
	stat_ok(&before, at(REGISTRY));
	finish_ok(&s);
	stat_ok(&after, at(REGISTRY));
	assert_true(same_file(&before, &after));
	assert_int_equal(3, count_lines(at(LOG)));
	session_release(&s);
	assert_false(is_locked(at(LOCK)));
	sbuf_release(&text);
	sbuf_release(&allocs);
}

static void test_failed_save_drops_the_log(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct error err = ERROR_INIT;
	struct sbuf before = SBUF_INIT, after = SBUF_INIT;
	struct allocation a = { 0 };

	write_registry("");
	read_file(&before, at(REGISTRY));
	open_ok(&s, 0);
	/* a port no registry may hold: registry_save() refuses it */
	a.port = 80;
	a.worktree = WT_MAIN_NAME;
	a.service = "web";
	a.process_id = ALLOCATION_NO_PID;
	registry_add(s.reg, &a);
	s.dirty = true;
	session_log(&s, "allocate", WT_MAIN_NAME, "web", 80, ACTLOG_NONE,
		    NULL);
	assert_int_equal(ERR_CORRUPT, session_finish(&s, &err));
	assert_int_equal(0, s.nr_log);
	read_file(&after, at(REGISTRY));
	assert_string_equal(before.buf, after.buf);
	assert_false(exists(at(LOG)));
	session_release(&s);
	assert_false(is_locked(at(LOCK)));
	sbuf_release(&before);
	sbuf_release(&after);
}

/*
 * Worktrees "feat" (alive), "old" (removed with git), "kept" (its folder
 * deleted, but locked), and allocations for each and for a name git never
 * had.
 */
static void make_worktrees(void)
{
	struct sbuf allocs = SBUF_INIT;

	sh("git -C app worktree add -q ../feat && "
	   "git -C app worktree add -q ../old && "
	   "git -C app worktree remove old && "
	   "git -C app worktree add -q ../kept && "
	   "git -C app worktree lock kept && rm -rf kept");
	add_alloc(&allocs, 8080, WT_MAIN_NAME, "web");
	add_alloc(&allocs, 8081, "old", "web");
	add_alloc(&allocs, 8082, "feat", "web");
	add_alloc(&allocs, 10000, "old", "db");
	add_alloc(&allocs, 8083, "kept", "web");
	add_alloc(&allocs, 8084, "never", "web");
	write_registry(allocs.buf);
	sbuf_release(&allocs);
}

static void assert_worktrees(const struct registry *reg,
			     const char *const *expect, size_t nr)
{
	size_t i;

	assert_int_equal(nr, reg->nr_allocs);
	for (i = 0; i < nr; i++)
		assert_string_equal(expect[i], reg->allocs[i].worktree);
}

static void test_removed_worktrees_are_released(void **state UNUSED)
{
	static const char *const all[] = { WT_MAIN_NAME, "old",	 "feat",
					   "old",	 "kept", "never" };
	static const char *const left[] = { WT_MAIN_NAME, "feat", "kept" };
	struct session s = SESSION_INIT;
	struct sbuf text = SBUF_INIT, before = SBUF_INIT;
	struct registry *reg = NULL;
	struct stat st0, st1;
	size_t i;

	make_worktrees();
	read_file(&before, at(REGISTRY));
	stat_ok(&st0, at(REGISTRY));

	/* kept with SESSION_NO_AUTORELEASE, and nothing to save */
	open_ok(&s, SESSION_NO_AUTORELEASE);
	assert_worktrees(s.reg, all, ARRAY_SIZE(all));
	assert_false(s.dirty);
	assert_int_equal(0, s.nr_log);
	finish_ok(&s);
	session_release(&s);
	stat_ok(&st1, at(REGISTRY));
	assert_true(same_file(&st0, &st1));

	/* dropped on open, in memory only until the finish */
	open_ok(&s, 0);
	assert_worktrees(s.reg, left, ARRAY_SIZE(left));
	assert_true(s.dirty);
	assert_int_equal(3, s.nr_log);
	for (i = 0; i < s.nr_log; i++) {
		assert_string_equal("auto-release", s.log[i].action);
		assert_string_equal("worktree is gone", s.log[i].detail);
	}
	read_file(&text, at(REGISTRY));
	assert_string_equal(before.buf, text.buf);
	finish_ok(&s);
	session_release(&s);

	assert_int_equal(0, registry_load(&reg, at(REGISTRY), 0, NULL));
	assert_worktrees(reg, left, ARRAY_SIZE(left));
	registry_free(reg);
	assert_int_equal(3, count_lines(at(LOG)));
	read_file(&text, at(LOG));
	assert_non_null(strstr(text.buf, "\"never\""));
	assert_null(strstr(text.buf, "\"feat\""));
	sbuf_release(&text);
	sbuf_release(&before);
}

static void test_start_saves_the_release_at_once(void **state UNUSED)
{
	static const char *const left[] = { WT_MAIN_NAME, "feat", "kept" };
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;

	make_worktrees();
	assert_int_equal(0, chdir(at("feat")));
	assert_int_equal(0, session_start(&s, &t, NULL, NULL, 0, &err));
	assert_false(s.dirty);
	assert_true(is_locked(at(LOCK)));
	assert_string_equal("feat", t.name);
	assert_string_equal(at("feat"), t.path);
	assert_false(t.is_main);
	assert_int_equal(0, registry_load(&reg, at(REGISTRY), 0, NULL));
	assert_worktrees(reg, left, ARRAY_SIZE(left));
	registry_free(reg);
	target_release(&t);
	session_release(&s);
	assert_false(is_locked(at(LOCK)));
}

static void test_target(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct error err = ERROR_INIT;

	sh("git -C app worktree add -q ../feat && mkdir -p app/sub feat/sub");
	assert_int_equal(0, chdir(at("app/sub")));
	open_ok(&s, SESSION_NO_LOAD);

	/* the current worktree, from a subdirectory */
	assert_int_equal(0, session_target(&t, &s, NULL, &err));
	assert_string_equal(WT_MAIN_NAME, t.name);
	assert_string_equal(at("app"), t.path);
	assert_true(t.is_main);
	target_release(&t);
	assert_null(t.name);
	assert_null(t.path);

	/* a named one, from another worktree */
	assert_int_equal(0, session_target(&t, &s, "feat", &err));
	assert_string_equal("feat", t.name);
	assert_string_equal(at("feat"), t.path);
	assert_false(t.is_main);
	target_release(&t);

	assert_int_equal(0, session_target(&t, &s, WT_MAIN_NAME, &err));
	assert_string_equal(WT_MAIN_NAME, t.name);
	assert_string_equal(at("app"), t.path);
	assert_true(t.is_main);
	target_release(&t);

	assert_int_equal(ERR_NOTFOUND,
			 session_target(&t, &s, "no-such", &err));
	assert_null(t.name);
	target_release(&t);
	session_release(&s);

	/* and the current one of a linked worktree */
	assert_int_equal(0, chdir(at("feat/sub")));
	open_ok(&s, SESSION_NO_LOAD);
	assert_string_equal(at(REGISTRY), s.registry_path);
	assert_int_equal(0, session_target(&t, &s, NULL, &err));
	assert_string_equal("feat", t.name);
	assert_string_equal(at("feat"), t.path);
	assert_false(t.is_main);
	target_release(&t);
	session_release(&s);
}

static void test_lock_timeout(void **state UNUSED)
{
	static const struct {
		const char *value;
		int ms;
	} cases[] = {
		{ "0", 0 },   { "250", 250 }, { "", 10000 },
		{ "-1", 10000 }, { "5s", 10000 }, { "99999999999", 10000 },
	};
	size_t i;

	assert_int_equal(10000, session_lock_timeout());
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		setenv("GIT_WORKTREE_PORTS_LOCK_TIMEOUT", cases[i].value, 1);
		assert_int_equal(cases[i].ms, session_lock_timeout());
	}
	unsetenv("GIT_WORKTREE_PORTS_LOCK_TIMEOUT");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_no_registry_leaves_no_lock),
		T(test_open_holds_the_lock_until_release),
		T(test_no_load_takes_no_lock),
		T(test_corrupt_registry_is_left_as_it_is),
		T(test_unlock_and_load_again),
		T(test_load_fails_locked),
		T(test_finish_saves_only_when_dirty),
		T(test_failed_save_drops_the_log),
		T(test_removed_worktrees_are_released),
		T(test_start_saves_the_release_at_once),
		T(test_target),
		T(test_lock_timeout),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	wt_shutdown();
	return ret;
}
