#include "common.h"
#include "hooks.h"
#include "error.h"
#include "sbuf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "unit.h"

/* Each test gets a fresh directory; 'dir' is a hooks dir not made yet. */
struct fixture {
	char root[64];
	char dir[128];
	char hook[192];
	char aside[192];
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	if (make_temp_dir(f->root, sizeof(f->root), "hooks") < 0) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/repo/.githooks", f->root);
	snprintf(f->hook, sizeof(f->hook), "%s/post-checkout", f->dir);
	snprintf(f->aside, sizeof(f->aside),
		 "%s/post-checkout.before-worktree-ports", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_rf(f->root);
	free(f);
	return 0;
}

static void write_script(const char *path, const char *text, mode_t mode)
{
	write_file(path, text);
	assert_int_equal(0, chmod(path, mode));
}

static void assert_file_is(const char *path, const char *expect, size_t len,
			   mode_t mode)
{
	struct sbuf sb = SBUF_INIT;
	struct stat st;

	read_file(&sb, path);
	assert_int_equal(len, sb.len);
	assert_memory_equal(expect, sb.buf, len);
	assert_int_equal(0, stat(path, &st));
	assert_int_equal(mode, st.st_mode & 07777);
	sbuf_release(&sb);
}

static void assert_is_ours(const char *path)
{
	size_t len;
	const char *script = hooks_script(&len);

	assert_file_is(path, script, len, 0755);
}

static void assert_missing(const char *path)
{
	struct stat st;

	assert_int_equal(-1, lstat(path, &st));
	assert_int_equal(ENOENT, errno);
}

static void make_dir(const struct fixture *f)
{
	char parent[128];

	snprintf(parent, sizeof(parent), "%s/repo", f->root);
	assert_int_equal(0, mkdir(parent, 0777));
	assert_int_equal(0, mkdir(f->dir, 0777));
}

static void test_script_carries_the_marker(void **state UNUSED)
{
	size_t len;
	const char *script = hooks_script(&len);
	char *text = xstrndup(script, len);

	assert_true(len > 100);
	assert_int_equal(0, strncmp(text, "#!/bin/sh\n", 10));
	assert_non_null(strstr(text, "\n" HOOKS_MARKER "\n"));
	assert_non_null(strstr(text, HOOKS_ASIDE));
	assert_int_equal('\n', text[len - 1]);
	free(text);
}

static void test_resolve_relative_absolute_and_home(void **state UNUSED)
{
	static const struct {
		const char *value, *expect;
	} cases[] = {
		{ ".githooks", "/top/.githooks" },
		{ ".husky/_/", "/top/.husky/_" },
		{ "../shared/hooks", "/top/../shared/hooks" },
		{ "/etc/git/hooks", "/etc/git/hooks" },
		{ "/", "/" },
		{ "~/hooks", "/home/me/hooks" },
		{ "~", "/home/me" },
		{ "~root/hooks", NULL }, /* filled from the password file */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		char *got =
			hooks_resolve_path(cases[i].value, "/top", "/home/me");

		assert_non_null(got);
		if (cases[i].expect)
			assert_string_equal(cases[i].expect, got);
		else
			assert_true(!strcmp(got + strlen(got) - 6, "/hooks") &&
				    got[0] == '/');
		free(got);
	}
}

static void test_resolve_without_home_fails(void **state UNUSED)
{
	assert_null(hooks_resolve_path("~/hooks", "/top", NULL));
	assert_null(hooks_resolve_path("~", "/top", ""));
	assert_null(
		hooks_resolve_path("~no-such-user-here/x", "/top", "/home/me"));
}

static void test_install_creates_the_directory(void **state)
{
	struct fixture *f = *state;
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	assert_int_equal(HOOKS_INSTALLED, r.action);
	assert_string_equal(f->dir, r.dir);
	assert_string_equal(f->hook, r.hook);
	assert_string_equal(f->aside, r.aside);
	assert_false(r.chained);
	assert_is_ours(f->hook);
	assert_missing(f->aside);
	hooks_result_release(&r);
}

static void test_install_twice_changes_nothing(void **state)
{
	struct fixture *f = *state;
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct error err = ERROR_INIT;
	struct stat before, after;

	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	hooks_result_release(&r);
	assert_int_equal(0, stat(f->hook, &before));
	/* a rewrite goes through a rename: the inode would change */
	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	assert_int_equal(HOOKS_UNCHANGED, r.action);
	assert_int_equal(0, stat(f->hook, &after));
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(before.st_mtime, after.st_mtime);
	assert_is_ours(f->hook);
	hooks_result_release(&r);
}

static void test_install_chains_a_hook_and_uninstall_restores_it(void **state)
{
	struct fixture *f = *state;
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct error err = ERROR_INIT;
	const char *mine = "#!/bin/sh\necho mine \"$@\"\nexit 3";

	make_dir(f);
	write_script(f->hook, mine, 0700);
	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	assert_int_equal(HOOKS_CHAINED, r.action);
	assert_true(r.chained);
	assert_is_ours(f->hook);
	assert_file_is(f->aside, mine, strlen(mine), 0700);
	hooks_result_release(&r);

	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	assert_int_equal(HOOKS_UNCHANGED, r.action);
	assert_true(r.chained);
	hooks_result_release(&r);

	assert_int_equal(0, hooks_uninstall(&r, f->dir, &err));
	assert_int_equal(HOOKS_RESTORED, r.action);
	assert_false(r.chained);
	assert_file_is(f->hook, mine, strlen(mine), 0700);
	assert_missing(f->aside);
	hooks_result_release(&r);
}

static void test_install_keeps_a_symlink_as_a_symlink(void **state)
{
	struct fixture *f = *state;
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct error err = ERROR_INIT;
	char target[512];
	char link[512];
	ssize_t n;

	make_dir(f);
	snprintf(target, sizeof(target), "%s/real-hook", f->root);
	write_script(target, "#!/bin/sh\n", 0755);
	assert_int_equal(0, symlink("../../real-hook", f->hook));
	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	assert_int_equal(HOOKS_CHAINED, r.action);
	n = readlink(f->aside, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal("../../real-hook", link);
	hooks_result_release(&r);

	assert_int_equal(0, hooks_uninstall(&r, f->dir, &err));
	n = readlink(f->hook, link, sizeof(link) - 1);
	assert_true(n > 0);
	link[n] = '\0';
	assert_string_equal("../../real-hook", link);
	hooks_result_release(&r);
}

/*
 * A hook manager rewrote post-checkout after an earlier install: the
 * hook there now is chained, and the one set aside before is kept under
 * a name of its own (or dropped when it has the same bytes).
 */
static void test_install_chains_a_rewritten_hook(void **state)
{
	struct fixture *f = *state;
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct error err = ERROR_INIT;
	char kept[256];

	make_dir(f);
	write_script(f->hook, "#!/bin/sh\necho new\n", 0755);
	write_script(f->aside, "#!/bin/sh\necho old\n", 0755);
	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	assert_int_equal(HOOKS_CHAINED, r.action);
	assert_true(r.chained);
	snprintf(kept, sizeof(kept), "%s.1", f->aside);
	assert_string_equal(kept, r.kept);
	assert_is_ours(f->hook);
	assert_file_is(f->aside, "#!/bin/sh\necho new\n", 19, 0755);
	assert_file_is(kept, "#!/bin/sh\necho old\n", 19, 0755);
	hooks_result_release(&r);

	/* the same bytes again: nothing to keep twice */
	write_script(f->hook, "#!/bin/sh\necho new\n", 0755);
	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	assert_int_equal(HOOKS_CHAINED, r.action);
	assert_null(r.kept);
	assert_file_is(f->aside, "#!/bin/sh\necho new\n", 19, 0755);
	hooks_result_release(&r);

	/* ours gone, the hook it chained left: ours again, chaining it */
	assert_int_equal(0, unlink(f->hook));
	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	assert_int_equal(HOOKS_INSTALLED, r.action);
	assert_true(r.chained);
	assert_is_ours(f->hook);
	assert_file_is(f->aside, "#!/bin/sh\necho new\n", 19, 0755);
	hooks_result_release(&r);
}

static void test_install_updates_another_version(void **state)
{
	struct fixture *f = *state;
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct error err = ERROR_INIT;
	struct stat st;

	make_dir(f);
	write_script(f->hook, "#!/bin/sh\n" HOOKS_MARKER "\nexit 0\n", 0750);
	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	assert_int_equal(HOOKS_UPDATED, r.action);
	assert_int_equal(0, stat(f->hook, &st));
	assert_int_equal(0750, st.st_mode & 07777);
	assert_missing(f->aside);
	hooks_result_release(&r);
}

static void test_install_rejects_a_directory(void **state)
{
	struct fixture *f = *state;
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct error err = ERROR_INIT;

	make_dir(f);
	assert_int_equal(0, mkdir(f->hook, 0777));
	assert_int_equal(ERR_FAIL, hooks_install(&r, f->dir, &err));
	assert_string_equal(f->hook, err.file);
	hooks_result_release(&r);
}

static void test_uninstall_leaves_another_hook_alone(void **state)
{
	struct fixture *f = *state;
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct error err = ERROR_INIT;

	make_dir(f);
	write_script(f->hook, "#!/bin/sh\nexit 0\n", 0755);
	assert_int_equal(0, hooks_uninstall(&r, f->dir, &err));
	assert_int_equal(HOOKS_NOT_OURS, r.action);
	assert_file_is(f->hook, "#!/bin/sh\nexit 0\n", 17, 0755);
	hooks_result_release(&r);
}

static void test_uninstall_removes_ours(void **state)
{
	struct fixture *f = *state;
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(0, hooks_install(&r, f->dir, &err));
	hooks_result_release(&r);
	assert_int_equal(0, hooks_uninstall(&r, f->dir, &err));
	assert_int_equal(HOOKS_REMOVED, r.action);
	assert_missing(f->hook);
	hooks_result_release(&r);

	assert_int_equal(0, hooks_uninstall(&r, f->dir, &err));
	assert_int_equal(HOOKS_ABSENT, r.action);
	hooks_result_release(&r);
}

static void test_describe_names_the_directory(void **state UNUSED)
{
	struct hooks_result r = HOOKS_RESULT_INIT;
	struct sbuf out = SBUF_INIT;

	r.dir = xstrdup("/r/.git/hooks");
	r.action = HOOKS_CHAINED;
	hooks_describe(&out, &r);
	assert_string_equal("installed post-checkout hook in /r/.git/hooks "
			    "(chaining the existing hook, kept as "
			    "post-checkout.before-worktree-ports)",
			    out.buf);
	sbuf_reset(&out);
	r.action = HOOKS_UNCHANGED;
	hooks_describe(&out, &r);
	assert_string_equal("post-checkout hook already installed in "
			    "/r/.git/hooks",
			    out.buf);
	assert_string_equal("not_ours", hooks_action_name(HOOKS_NOT_OURS));
	sbuf_release(&out);
	hooks_result_release(&r);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_script_carries_the_marker),
		cmocka_unit_test(test_resolve_relative_absolute_and_home),
		cmocka_unit_test(test_resolve_without_home_fails),
		T(test_install_creates_the_directory),
		T(test_install_twice_changes_nothing),
		T(test_install_chains_a_hook_and_uninstall_restores_it),
		T(test_install_keeps_a_symlink_as_a_symlink),
		T(test_install_chains_a_rewritten_hook),
		T(test_install_updates_another_version),
		T(test_install_rejects_a_directory),
		T(test_uninstall_leaves_another_hook_alone),
		T(test_uninstall_removes_ours),
		cmocka_unit_test(test_describe_names_the_directory),
	};

	/* the modes checked must not depend on the caller's umask */
	umask(022);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
