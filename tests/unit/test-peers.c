#include "common.h"
#include "peers.h"
#include "alloc.h"
#include "error.h"
#include "lockfile.h"
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

/* Each test gets a fresh directory, and $XDG_STATE_HOME inside it. */
struct fixture {
	char root[64];
	char state[128]; /* $XDG_STATE_HOME, not created */
	char dir[160];	 /* what peers_dir() should say */
	char list[192];
	char a[128], b[128], c[128], gone[128];
	char *home; /* $HOME as it was, put back afterwards */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	if (make_temp_dir(f->root, sizeof(f->root), "peers") < 0) {
		free(f);
		return -1;
	}
	snprintf(f->state, sizeof(f->state), "%s/state", f->root);
	snprintf(f->dir, sizeof(f->dir), "%s/git-worktree-ports", f->state);
	snprintf(f->list, sizeof(f->list), "%s/registries", f->dir);
	snprintf(f->a, sizeof(f->a), "%s/a.json", f->root);
	snprintf(f->b, sizeof(f->b), "%s/b.json", f->root);
	snprintf(f->c, sizeof(f->c), "%s/c.json", f->root);
	snprintf(f->gone, sizeof(f->gone), "%s/gone.json", f->root);
	f->home = xstrdup_or_null(getenv("HOME"));
	setenv("XDG_STATE_HOME", f->state, 1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_rf(f->root);
	if (f->home)
		setenv("HOME", f->home, 1);
	else
		unsetenv("HOME");
	free(f->home);
	free(f);
	return 0;
}

static void assert_file_is(const char *path, const char *expect)
{
	struct sbuf text = SBUF_INIT;

	read_file(&text, path);
	assert_string_equal(expect, text.buf);
	sbuf_release(&text);
}

/*
 * Write a registry at 'path' allocating 'ports' (0-terminated) to the
 * worktree "wt-N" for the service "web", N counting from 0.
 */
static void write_registry(const char *path, const uint16_t *ports)
{
	struct sbuf sb = SBUF_INIT;
	size_t i;

	sbuf_addstr(&sb, "{\n"
			 "  \"ranges\": {\n"
			 "    \"web\": {\"start\": 8080, \"end\": 8099},\n"
			 "    \"api\": {\"start\": 3000, \"end\": 3099}\n"
			 "  },\n"
			 "  \"reserved\": [],\n"
			 "  \"allocations\": [");
	for (i = 0; ports[i]; i++)
		sbuf_addf(
			&sb,
			"%s\n    {\"port\": %u, \"worktree\": \"wt-%zu\", "
			"\"path\": \"/src/wt-%zu\", \"service\": \"web\", "
			"\"allocated_at\": \"2026-11-21T10:00:00Z\", "
			"\"allocated_by\": \"me@host\", "
			"\"process_id\": null, \"health_status\": \"unknown\"}",
			i ? "," : "", (unsigned)ports[i], i, i);
	sbuf_addf(&sb,
		  "\n  ],\n"
		  "  \"metadata\": {\"version\": \"1.0.0\", "
		  "\"last_updated\": \"2026-11-21T10:00:00Z\", "
		  "\"total_allocations\": %zu, \"schema_version\": 1}\n"
		  "}\n",
		  i);
	write_file(path, sb.buf);
	sbuf_release(&sb);
}

static void write_list(struct fixture *f, const char *text)
{
	struct lockfile lk = LOCKFILE_INIT;

	/* peers_lock() makes the directory */
	assert_int_equal(0, peers_lock(&lk, 0, NULL));
	lockfile_unlock(&lk);
	write_file(f->list, text);
}

/* peers_collect() under the host lock, as callers use it. */
static int collect(struct portset *taken, const char *self)
{
	struct lockfile lk = LOCKFILE_INIT;
	struct error err = ERROR_INIT;
	int ret;

	ret = peers_lock(&lk, 1000, &err);
	assert_int_equal(0, ret);
	ret = peers_collect(taken, self, &err);
	lockfile_unlock(&lk);
	if (ret)
		print_error("%s: %s\n", err.file, err.msg);
	return ret;
}

static unsigned count_ports(const struct portset *s)
{
	unsigned n = 0;
	uint32_t p;

	for (p = 0; p <= UINT16_MAX; p++)
		if (portset_has(s, (uint16_t)p))
			n++;
	return n;
}

static void test_dir_follows_xdg_state_home(void **state)
{
	struct fixture *f = *state;
	char *dir = NULL;

	assert_int_equal(0, peers_dir(&dir, NULL));
	assert_string_equal(f->dir, dir);
	free(dir);

	setenv("XDG_STATE_HOME", "/some/state///", 1);
	assert_int_equal(0, peers_dir(&dir, NULL));
	assert_string_equal("/some/state/git-worktree-ports", dir);
	free(dir);
}

static void test_dir_falls_back_to_home(void **state UNUSED)
{
	char *dir = NULL;

	unsetenv("XDG_STATE_HOME");
	setenv("HOME", "/home/me/", 1);
	assert_int_equal(0, peers_dir(&dir, NULL));
	assert_string_equal("/home/me/.local/state/git-worktree-ports", dir);
	free(dir);

	/* a relative $XDG_STATE_HOME is ignored, as the XDG spec says */
	setenv("XDG_STATE_HOME", "state", 1);
	assert_int_equal(0, peers_dir(&dir, NULL));
	assert_string_equal("/home/me/.local/state/git-worktree-ports", dir);
	free(dir);

	setenv("HOME", "/", 1);
	assert_int_equal(0, peers_dir(&dir, NULL));
	assert_string_equal("/.local/state/git-worktree-ports", dir);
	free(dir);
}

static void test_dir_without_home_fails(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	char *dir = (char *)"untouched";

	unsetenv("XDG_STATE_HOME");
	unsetenv("HOME");
	assert_int_equal(ERR_FAIL, peers_dir(&dir, &err));
	assert_null(dir);
	assert_non_null(strstr(err.msg, "$HOME"));
}

static void test_lock_creates_private_directories(void **state)
{
	struct fixture *f = *state;
	struct lockfile lk = LOCKFILE_INIT;
	struct lockfile other = LOCKFILE_INIT;
	struct sbuf path = SBUF_INIT;
	struct stat st;

	assert_int_equal(0, peers_lock(&lk, 0, NULL));
	assert_int_equal(0, stat(f->state, &st));
	assert_int_equal(0700, st.st_mode & 07777);
	assert_int_equal(0, stat(f->dir, &st));
	assert_int_equal(0700, st.st_mode & 07777);

	/* it is the one host lock: a second taker has to wait */
	sbuf_addf(&path, "%s/registries.lock", f->dir);
	assert_int_equal(ERR_LOCKED, lockfile_lock(&other, path.buf, 0, NULL));
	lockfile_unlock(&lk);
	assert_int_equal(0, lockfile_lock(&other, path.buf, 0, NULL));
	lockfile_unlock(&other);
	sbuf_release(&path);
}

static void test_lock_keeps_an_existing_directory(void **state)
{
	struct fixture *f = *state;
	struct lockfile lk = LOCKFILE_INIT;
	struct stat st;

	assert_int_equal(0, mkdir(f->state, 0755));
	assert_int_equal(0, chmod(f->state, 0755));
	assert_int_equal(0, peers_lock(&lk, 0, NULL));
	lockfile_unlock(&lk);
	assert_int_equal(0, stat(f->state, &st));
	assert_int_equal(0755, st.st_mode & 07777);
}

static void test_collect_registers_self(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf expect = SBUF_INIT;
	struct stat st;
	const uint16_t ports[] = { 8080, 0 };

	write_registry(f->a, ports);
	assert_int_equal(0, collect(&taken, f->a));
	assert_int_equal(0, count_ports(&taken));
	sbuf_addf(&expect, "%s\n", f->a);
	assert_file_is(f->list, expect.buf);
	assert_int_equal(0, stat(f->list, &st));
	assert_int_equal(0, st.st_mode & 077);
	sbuf_release(&expect);
}

static void test_collect_takes_the_ports_of_peers(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf list = SBUF_INIT;
	const uint16_t mine[] = { 8080, 8081, 0 };
	const uint16_t theirs[] = { 8082, 3005, 0 };
	const uint16_t more[] = { 8099, 0 };

	write_registry(f->a, mine);
	write_registry(f->b, theirs);
	write_registry(f->c, more);
	sbuf_addf(&list, "%s\n%s\n%s\n", f->b, f->a, f->c);
	write_list(f, list.buf);

	assert_int_equal(0, collect(&taken, f->a));
	assert_int_equal(3, count_ports(&taken));
	assert_true(portset_has(&taken, 8082));
	assert_true(portset_has(&taken, 3005));
	assert_true(portset_has(&taken, 8099));
	assert_false(portset_has(&taken, 8080));
	assert_file_is(f->list, list.buf);
	sbuf_release(&list);
}

static void test_collect_adds_to_what_is_taken(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf list = SBUF_INIT;
	const uint16_t theirs[] = { 8082, 0 };

	write_registry(f->b, theirs);
	sbuf_addf(&list, "%s\n", f->b);
	write_list(f, list.buf);
	portset_add(&taken, 9000);

	assert_int_equal(0, collect(&taken, f->a));
	assert_true(portset_has(&taken, 9000));
	assert_true(portset_has(&taken, 8082));
	sbuf_release(&list);
}

static void test_collect_adds_self_at_the_end(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf list = SBUF_INIT;
	const uint16_t theirs[] = { 8082, 0 };

	write_registry(f->b, theirs);
	sbuf_addf(&list, "%s\n", f->b);
	write_list(f, list.buf);

	assert_int_equal(0, collect(&taken, f->a));
	sbuf_addf(&list, "%s\n", f->a);
	assert_file_is(f->list, list.buf);
	sbuf_release(&list);
}

static void test_collect_drops_registries_that_are_gone(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf list = SBUF_INIT;
	struct sbuf expect = SBUF_INIT;
	const uint16_t theirs[] = { 8082, 0 };

	write_registry(f->a, theirs);
	write_registry(f->b, theirs);
	sbuf_addf(&list, "%s\n%s\n%s/no/such/dir.json\n%s\n", f->a, f->gone,
		  f->root, f->b);
	write_list(f, list.buf);

	assert_int_equal(0, collect(&taken, f->a));
	assert_true(portset_has(&taken, 8082));
	sbuf_addf(&expect, "%s\n%s\n", f->a, f->b);
	assert_file_is(f->list, expect.buf);
	sbuf_release(&list);
	sbuf_release(&expect);
}

static void test_collect_skips_a_corrupt_registry(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf list = SBUF_INIT;
	const uint16_t theirs[] = { 8082, 0 };

	write_file(f->b, "{ oops");
	write_registry(f->c, theirs);
	sbuf_addf(&list, "%s\n%s\n%s\n", f->a, f->b, f->c);
	write_list(f, list.buf);

	assert_int_equal(0, collect(&taken, f->a));
	assert_int_equal(1, count_ports(&taken));
	assert_true(portset_has(&taken, 8082));
	/* kept: it is there, and its own commands report it */
	assert_file_is(f->list, list.buf);
	sbuf_release(&list);
}

static void test_collect_accepts_duplicate_ports(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf list = SBUF_INIT;
	const uint16_t theirs[] = { 8082, 8082, 8083, 0 };

	write_registry(f->b, theirs);
	sbuf_addf(&list, "%s\n", f->b);
	write_list(f, list.buf);

	assert_int_equal(0, collect(&taken, f->a));
	assert_int_equal(2, count_ports(&taken));
	assert_true(portset_has(&taken, 8082));
	assert_true(portset_has(&taken, 8083));
	sbuf_release(&list);
}

static void test_collect_leaves_an_unchanged_list_alone(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf list = SBUF_INIT;
	struct sbuf link_path = SBUF_INIT;
	struct stat st;
	const uint16_t ports[] = { 8082, 0 };

	write_registry(f->a, ports);
	write_registry(f->b, ports);
	sbuf_addf(&list, "%s\n%s\n", f->a, f->b);
	write_list(f, list.buf);

	/*
	 * A rewrite renames a new file into place, which breaks this hard
	 * link; inode numbers alone could be reused.
	 */
	sbuf_addf(&link_path, "%s.link", f->list);
	assert_int_equal(0, link(f->list, link_path.buf));
	assert_int_equal(0, collect(&taken, f->a));
	assert_int_equal(0, collect(&taken, f->b));
	assert_int_equal(0, stat(f->list, &st));
	assert_int_equal(2, st.st_nlink);
	assert_file_is(f->list, list.buf);
	sbuf_release(&list);
	sbuf_release(&link_path);
}

static void test_collect_cleans_up_a_damaged_list(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf list = SBUF_INIT;
	struct sbuf expect = SBUF_INIT;
	const uint16_t ports[] = { 8082, 0 };

	write_registry(f->a, ports);
	write_registry(f->b, ports);
	/* repeated, relative, blank, and no final newline */
	sbuf_addf(&list, "%s\n%s\nrelative.json\n\n%s\n%s", f->b, f->b, f->a,
		  f->b);
	write_list(f, list.buf);

	assert_int_equal(0, collect(&taken, f->a));
	sbuf_addf(&expect, "%s\n%s\n", f->b, f->a);
	assert_file_is(f->list, expect.buf);
	sbuf_release(&list);
	sbuf_release(&expect);
}

static void test_collect_without_self_only_reads(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct sbuf list = SBUF_INIT;
	const uint16_t mine[] = { 8080, 0 };
	const uint16_t theirs[] = { 8082, 0 };

	write_registry(f->a, mine);
	write_registry(f->b, theirs);
	sbuf_addf(&list, "%s\n%s\n%s\n", f->a, f->gone, f->b);
	write_list(f, list.buf);

	assert_int_equal(0, peers_collect(&taken, NULL, NULL));
	assert_int_equal(2, count_ports(&taken));
	assert_true(portset_has(&taken, 8080));
	assert_true(portset_has(&taken, 8082));
	assert_file_is(f->list, list.buf);
	sbuf_release(&list);
}

static void test_collect_without_a_list_or_self_creates_nothing(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct stat st;

	assert_int_equal(0, peers_collect(&taken, NULL, NULL));
	assert_int_equal(0, count_ports(&taken));
	assert_int_equal(-1, stat(f->state, &st));
	assert_int_equal(ENOENT, errno);
}

static void test_collect_reports_an_unreadable_list(void **state)
{
	struct fixture *f = *state;
	struct portset taken = { { 0 } };
	struct error err = ERROR_INIT;
	struct lockfile lk = LOCKFILE_INIT;

	/* a directory where the list should be: read() fails, even as root */
	assert_int_equal(0, peers_lock(&lk, 0, NULL));
	assert_int_equal(0, mkdir(f->list, 0700));
	assert_int_equal(ERR_FAIL, peers_collect(&taken, f->a, &err));
	lockfile_unlock(&lk);
	assert_string_equal(f->list, err.file);
	assert_non_null(strstr(err.msg, "cannot read the list of registries"));
}

static void test_holder_names_the_other_registry(void **state)
{
	struct fixture *f = *state;
	struct sbuf list = SBUF_INIT;
	char *holder = NULL;
	const uint16_t mine[] = { 8080, 0 };
	const uint16_t theirs[] = { 8082, 3005, 0 };

	write_registry(f->a, mine);
	write_file(f->b, "{ oops");
	write_registry(f->c, theirs);
	sbuf_addf(&list, "%s\n%s\n%s\n%s\n", f->a, f->gone, f->b, f->c);
	write_list(f, list.buf);

	assert_int_equal(0, peers_holder(&holder, 3005, f->a, NULL));
	assert_non_null(holder);
	assert_string_equal(f->c, holder);
	free(holder);

	holder = (char *)"untouched";
	assert_int_equal(0, peers_holder(&holder, 9999, f->a, NULL));
	assert_null(holder);

	/* its own registry is not "another" one */
	holder = (char *)"untouched";
	assert_int_equal(0, peers_holder(&holder, 8080, f->a, NULL));
	assert_null(holder);
	assert_int_equal(0, peers_holder(&holder, 8080, f->c, NULL));
	assert_string_equal(f->a, holder);
	free(holder);

	/* only reads: the gone entry stays */
	assert_file_is(f->list, list.buf);
	sbuf_release(&list);
}

static void test_holder_without_a_list(void **state UNUSED)
{
	char *holder = (char *)"untouched";

	assert_int_equal(0, peers_holder(&holder, 8080, NULL, NULL));
	assert_null(holder);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_dir_follows_xdg_state_home),
		T(test_dir_falls_back_to_home),
		T(test_dir_without_home_fails),
		T(test_lock_creates_private_directories),
		T(test_lock_keeps_an_existing_directory),
		T(test_collect_registers_self),
		T(test_collect_takes_the_ports_of_peers),
		T(test_collect_adds_to_what_is_taken),
		T(test_collect_adds_self_at_the_end),
		T(test_collect_drops_registries_that_are_gone),
		T(test_collect_skips_a_corrupt_registry),
		T(test_collect_accepts_duplicate_ports),
		T(test_collect_leaves_an_unchanged_list_alone),
		T(test_collect_cleans_up_a_damaged_list),
		T(test_collect_without_self_only_reads),
		T(test_collect_without_a_list_or_self_creates_nothing),
		T(test_collect_reports_an_unreadable_list),
		T(test_holder_names_the_other_registry),
		T(test_holder_without_a_list),
	};

	/* the directories created must not depend on the caller's umask */
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
