#include "common.h"
#include "owner.h"
#include "probe.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

/*
 * The ownership rule on process tables made by hand: which worktree a
 * process belongs to is decided by its own directory (or the marker),
 * the deepest worktree winning. The maps hold paths that need not exist
 * (kept as given) except where the test makes a symbolic link.
 */

#define R "/nonexistent-owner"

static struct probe_proc proc_in(const char *cwd)
{
	struct probe_proc p;

	memset(&p, 0, sizeof(p));
	p.pid = 4242;
	p.cwd = (char *)cwd;
	return p;
}

static const char *owner_name(const struct owner_map *m, const char *cwd)
{
	struct probe_proc p = proc_in(cwd);
	struct owner_verdict v;

	owner_judge(&v, m, &p);
	return v.wt ? v.wt->name : NULL;
}

static void test_whole_names_only(void **state UNUSED)
{
	struct owner_map m = OWNER_MAP_INIT;

	owner_map_add(&m, "b", R "/a/b/", NULL, false);
	assert_string_equal(R "/a/b", m.items[0].dir);
	assert_string_equal("b", owner_name(&m, R "/a/b"));
	assert_string_equal("b", owner_name(&m, R "/a/b/c"));
	assert_null(owner_name(&m, R "/a/bc"));
	assert_null(owner_name(&m, R "/a"));
	assert_null(owner_name(&m, "/"));
	assert_null(owner_name(&m, NULL));
	owner_map_release(&m);
}

/* .worktrees/feat inside the main worktree owns its own servers */
static void test_deepest_worktree_wins(void **state UNUSED)
{
	struct owner_map m = OWNER_MAP_INIT;

	/* the order of the map does not matter */
	owner_map_add(&m, "feat", R "/app/.worktrees/feat", NULL, false);
	owner_map_add(&m, ".main", R "/app", NULL, false);
	owner_map_add(&m, "deeper", R "/app/.worktrees/feat/sub/wt", NULL,
		      false);
	assert_string_equal(".main", owner_name(&m, R "/app"));
	assert_string_equal(".main", owner_name(&m, R "/app/src"));
	assert_string_equal(".main", owner_name(&m, R "/app/.worktrees"));
	assert_string_equal("feat", owner_name(&m, R "/app/.worktrees/feat"));
	assert_string_equal("feat",
			    owner_name(&m, R "/app/.worktrees/feat/web"));
	assert_string_equal("feat",
			    owner_name(&m, R "/app/.worktrees/feat/sub"));
	assert_string_equal("deeper",
			    owner_name(&m, R "/app/.worktrees/feat/sub/wt/x"));
	assert_null(owner_name(&m, R "/app-old"));
	owner_map_release(&m);
}

static void test_a_directory_is_added_once(void **state UNUSED)
{
	struct owner_map m = OWNER_MAP_INIT;

	owner_map_add(&m, "old", R "/w", NULL, true);
	owner_map_add(&m, "new", R "/w/", NULL, false);
	owner_map_add(&m, "later", R "/w", "/x/ports.json", false);
	assert_int_equal(1, m.nr);
	/* a live worktree replaces a gone one, and stays */
	assert_string_equal("new", m.items[0].name);
	assert_false(m.items[0].gone);
	assert_null(m.items[0].registry);
	owner_map_add(&m, "", NULL, NULL, false);
	assert_int_equal(1, m.nr);
	owner_map_release(&m);
}

static void test_deleted_directory_is_nobodys(void **state UNUSED)
{
	struct owner_map m = OWNER_MAP_INIT;
	struct probe_proc p = proc_in(R "/app/.worktrees/feat (deleted)");
	struct owner_verdict v;

	owner_map_add(&m, ".main", R "/app", NULL, false);
	owner_map_add(&m, "feat", R "/app/.worktrees/feat", NULL, true);
	p.cwd_deleted = true;
	owner_judge(&v, &m, &p);
	assert_null(v.wt);
	assert_true(v.deleted);
	assert_non_null(v.was);
	assert_string_equal("feat", v.was->name);
	assert_true(owner_is_orphan(&v));

	/* a real directory named so is just a directory */
	p.cwd_deleted = false;
	owner_judge(&v, &m, &p);
	assert_non_null(v.wt);
	assert_string_equal(".main", v.wt->name);
	assert_false(owner_is_orphan(&v));
	owner_map_release(&m);
}

static void test_gone_worktree_makes_an_orphan(void **state UNUSED)
{
	struct owner_map m = OWNER_MAP_INIT;
	struct probe_proc p = proc_in(R "/old/wt/src");
	struct owner_verdict v;

	owner_map_add(&m, "wt", R "/old/wt", NULL, true);
	owner_judge(&v, &m, &p);
	assert_non_null(v.wt);
	assert_true(v.wt->gone);
	assert_false(v.deleted);
	assert_true(owner_is_orphan(&v));
	owner_map_release(&m);
}

static void test_marker_decides_before_the_directory(void **state UNUSED)
{
	struct owner_map m = OWNER_MAP_INIT;
	struct probe_proc p = proc_in("/tmp");
	struct owner_verdict v;

	owner_map_add(&m, ".main", R "/app", NULL, false);
	owner_map_add(&m, "feat", R "/feat", NULL, false);
	p.marker = R "/feat";
	owner_judge(&v, &m, &p);
	assert_non_null(v.wt);
	assert_string_equal("feat", v.wt->name);
	assert_true(v.by_marker);
	/* a marker naming no known worktree is ignored */
	p.marker = R "/elsewhere";
	p.cwd = R "/app/x";
	owner_judge(&v, &m, &p);
	assert_non_null(v.wt);
	assert_string_equal(".main", v.wt->name);
	assert_false(v.by_marker);
	owner_map_release(&m);
}

/* Paths are canonical: a worktree reached through a symbolic link. */
static void test_symbolic_links_are_resolved(void **state UNUSED)
{
	char tmpl[] = "/tmp/test-owner.XXXXXX";
	char real[PATH_MAX], link[PATH_MAX + 8], wt[PATH_MAX + 8];
	struct owner_map m = OWNER_MAP_INIT;

	assert_non_null(mkdtemp(tmpl));
	assert_non_null(realpath(tmpl, real));
	snprintf(wt, sizeof(wt), "%s/wt", real);
	snprintf(link, sizeof(link), "%s/link", real);
	assert_int_equal(0, mkdir(wt, 0700));
	assert_int_equal(0, symlink("wt", link));
	/* recorded through the link, it compares as the real directory */
	owner_map_add(&m, "wt", link, NULL, false);
	assert_string_equal(wt, m.items[0].dir);
	/* the kernel gives a process's directory resolved */
	assert_string_equal("wt", owner_name(&m, wt));
	owner_map_release(&m);
	assert_int_equal(0, unlink(link));
	assert_int_equal(0, rmdir(wt));
	assert_int_equal(0, rmdir(real));
}

static void test_other_registries_are_told_apart(void **state UNUSED)
{
	struct owner_map m = OWNER_MAP_INIT;
	struct probe_proc p = proc_in(R "/other/web");
	struct owner_verdict v;

	owner_map_add(&m, ".main", R "/app", NULL, false);
	owner_map_add(&m, ".main", R "/other", "/x/design/worktrees/ports.json",
		      false);
	owner_judge(&v, &m, &p);
	assert_non_null(v.wt);
	assert_string_equal("/x/design/worktrees/ports.json", v.wt->registry);
	owner_map_release(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_names_only),
		cmocka_unit_test(test_deepest_worktree_wins),
		cmocka_unit_test(test_a_directory_is_added_once),
		cmocka_unit_test(test_deleted_directory_is_nobodys),
		cmocka_unit_test(test_gone_worktree_makes_an_orphan),
		cmocka_unit_test(test_marker_decides_before_the_directory),
		cmocka_unit_test(test_symbolic_links_are_resolved),
		cmocka_unit_test(test_other_registries_are_told_apart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
