#include "common.h"
#include "sbuf.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

static void test_rtrim_strips_white_space(void **state UNUSED)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addstr(&sb, "value \t\r\n\n");
	sbuf_rtrim(&sb);
	assert_string_equal("value", sb.buf);
	assert_int_equal(5, sb.len);
	sbuf_reset(&sb);
	sbuf_addstr(&sb, " \n");
	sbuf_rtrim(&sb);
	assert_int_equal(0, sb.len);
	assert_string_equal("", sb.buf);
	sbuf_release(&sb);
}

static void test_rtrim_keeps_nul_bytes(void **state UNUSED)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_add(&sb, "a\0\0 \n", 5);
	sbuf_rtrim(&sb);
	assert_int_equal(3, sb.len);
	assert_memory_equal("a\0\0", sb.buf, 3);
	sbuf_release(&sb);
}

static void test_rtrim_of_empty(void **state UNUSED)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_rtrim(&sb);
	assert_int_equal(0, sb.len);
	assert_string_equal("", sb.buf);
}

static void test_addf_grows(void **state UNUSED)
{
	struct sbuf sb = SBUF_INIT;
	int i;

	for (i = 0; i < 100; i++)
		sbuf_addf(&sb, "%03d:%s;", i, "0123456789");
	assert_int_equal(100 * 15, sb.len);
	assert_memory_equal("099:0123456789;", sb.buf + sb.len - 15, 15);
	assert_int_equal(strlen(sb.buf), sb.len);
	sbuf_release(&sb);
}

/* Write 'len' bytes of a pattern into a pipe and read them back. */
static void read_back(size_t len, size_t hint)
{
	struct sbuf sb = SBUF_INIT;
	FILE *f = tmpfile();
	size_t i;

	assert_non_null(f);
	for (i = 0; i < len; i++)
		assert_int_not_equal(EOF, fputc('a' + (int)(i % 26), f));
	assert_int_equal(0, fflush(f));
	rewind(f);
	sbuf_addstr(&sb, ">");
	assert_int_equal(0, sbuf_read_fd(&sb, fileno(f), hint));
	assert_int_equal(len + 1, sb.len);
	for (i = 0; i < len; i++)
		assert_int_equal('a' + (int)(i % 26), sb.buf[i + 1]);
	assert_int_equal('\0', sb.buf[sb.len]);
	fclose(f);
	sbuf_release(&sb);
}

static void test_read_fd_reads_everything(void **state UNUSED)
{
	read_back(0, 0);
	read_back(1, 0);
	read_back(8191, 0);
	read_back(8192, 0);
	read_back(100000, 0);
	/* a hint that is right, too small and too large */
	read_back(100000, 100000);
	read_back(100000, 10);
	read_back(10, 100000);
}

static void test_read_fd_max_stops(void **state UNUSED)
{
	static char x[20000];
	struct sbuf sb = SBUF_INIT;
	FILE *f = tmpfile();

	assert_non_null(f);
	memset(x, 'x', sizeof(x));
	assert_int_equal(sizeof(x), fwrite(x, 1, sizeof(x), f));
	assert_int_equal(0, fflush(f));
	rewind(f);
	sbuf_addstr(&sb, "ab");
	assert_int_equal(0, sbuf_read_fd_max(&sb, fileno(f), 10001));
	assert_int_equal(10003, sb.len);
	assert_int_equal(0, sbuf_read_fd_max(&sb, fileno(f), 0));
	assert_int_equal(10003, sb.len);
	assert_int_equal(0, sbuf_read_fd_max(&sb, fileno(f), 100000));
	assert_int_equal(20002, sb.len);
	assert_int_equal('\0', sb.buf[sb.len]);
	fclose(f);
	sbuf_release(&sb);
}

static void test_read_fd_error_keeps_buffer(void **state UNUSED)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addstr(&sb, "kept");
	assert_int_equal(-1, sbuf_read_fd(&sb, -1, 0));
	assert_int_equal(EBADF, errno);
	assert_string_equal("kept", sb.buf);
	assert_int_equal(-1, sbuf_read_file(&sb, "/nonexistent/file"));
	assert_int_equal(ENOENT, errno);
	assert_string_equal("kept", sb.buf);
	sbuf_release(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rtrim_strips_white_space),
		cmocka_unit_test(test_rtrim_keeps_nul_bytes),
		cmocka_unit_test(test_rtrim_of_empty),
		cmocka_unit_test(test_addf_grows),
		cmocka_unit_test(test_read_fd_reads_everything),
		cmocka_unit_test(test_read_fd_max_stops),
		cmocka_unit_test(test_read_fd_error_keeps_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
