#include "common.h"
#include "path.h"
#include "error.h"
#include "sbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "unit.h"

static void test_is_under(void **state UNUSED)
{
	assert_true(path_is_under("/a/b", "/a/b"));
	assert_true(path_is_under("/a/b/c", "/a/b"));
	assert_true(path_is_under("/a/b/c", "/a/b/"));
	assert_true(path_is_under("/a/b/c", "/a/b//"));
	assert_false(path_is_under("/a/bc", "/a/b"));
	assert_false(path_is_under("/a", "/a/b"));
	assert_false(path_is_under("/x/b", "/a/b"));
	assert_true(path_is_under("/anything", "/"));
	assert_true(path_is_under("/", "/"));
	assert_false(path_is_under("relative", "/"));
	assert_false(path_is_under(NULL, "/a"));
	assert_false(path_is_under("/a", NULL));
	assert_false(path_is_under("/a", ""));
}

static void test_mkdir_p(void **state UNUSED)
{
	char tmpl[] = "/tmp/wtp-path.XXXXXX";
	struct error err = ERROR_INIT;
	struct sbuf dir = SBUF_INIT, file = SBUF_INIT;
	struct stat st;

	assert_non_null(mkdtemp(tmpl));
	sbuf_addf(&dir, "%s/a//b/c/", tmpl);
	assert_int_equal(0, mkdir_p(dir.buf, 0700, &err));
	assert_true(path_is_dir(dir.buf));
	assert_int_equal(0, stat(dir.buf, &st));
	assert_int_equal(0700, st.st_mode & 0777);
	/* again: nothing to do */
	assert_int_equal(0, mkdir_p(dir.buf, 0700, &err));

	sbuf_addf(&file, "%s/a/f", tmpl);
	write_file(file.buf, "x");
	sbuf_reset(&dir);
	sbuf_addf(&dir, "%s/a/f/g", tmpl);
	assert_int_not_equal(0, mkdir_p(dir.buf, 0700, &err));
	assert_non_null(strstr(err.file, "/a/f"));
	error_clear(&err);

	sbuf_reset(&file);
	sbuf_addf(&file, "%s/p/q/r.json", tmpl);
	assert_int_equal(0, mkdir_parents(file.buf, &err));
	sbuf_reset(&dir);
	sbuf_addf(&dir, "%s/p/q", tmpl);
	assert_true(path_is_dir(dir.buf));
	assert_false(path_is_dir(file.buf));
	rm_rf(tmpl);
	sbuf_release(&dir);
	sbuf_release(&file);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_under),
		cmocka_unit_test(test_mkdir_p),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
