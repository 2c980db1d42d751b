#include "common.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>

#include <cmocka.h>

#include "registry-scan.h"

/* the scanner itself */
static void test_scan_walks_and_skips(void **state UNUSED)
{
	const char text[] =
		" {\"a\" : [1, {\"b\": \"x\\ty\"}] ,\"c\\/\":\"d\\n\"}  ";
	struct scan s;
	struct scan_value v, inner;
	struct scan_key k;
	char buf[16];

	scan_init(&s, text, strlen(text));
	assert_int_equal(0, scan_begin(&s, &v));
	assert_int_equal(SCAN_OBJECT, v.type);

	assert_int_equal(1, scan_member(&s, &k, &inner));
	assert_int_equal(1, k.len);
	assert_memory_equal("a", k.str, 1);
	assert_int_equal(SCAN_ARRAY, inner.type);
	assert_int_equal(0, scan_skip(&s, &inner));
	assert_int_equal(strlen("[1, {\"b\": \"x\\ty\"}]"), inner.raw_len);
	assert_memory_equal("[1, {\"b\": \"x\\ty\"}]", inner.raw,
			    inner.raw_len);

	assert_int_equal(1, scan_member(&s, &k, &inner));
	assert_int_equal(2, k.len);
	assert_memory_equal("c/", k.str, 2);
	assert_int_equal(SCAN_STRING, inner.type);
	assert_true(inner.escaped);
	assert_int_equal(2, scan_unescape(buf, inner.str, inner.len));
	assert_memory_equal("d\n", buf, 2);
	assert_int_equal(5, inner.raw_len);

	assert_int_equal(0, scan_member(&s, &k, &inner));
	assert_int_equal(0, scan_end(&s));
	scan_release(&s);
}

static void test_scan_integers(void **state UNUSED)
{
	static const struct {
		const char *text;
		long long value;
	} ok[] = {
		{ "[0]", 0 },
		{ "[-0]", 0 },
		{ "[7]", 7 },
		{ "[-7]", -7 },
		{ "[9223372036854775807]", LLONG_MAX },
		{ "[-9223372036854775808]", LLONG_MIN },
	};
	static const char *const bad[] = {
		"[01]",
		"[-01]",
		"[1.0]",
		"[1e2]",
		"[1E2]",
		"[-]",
		"[+1]",
		"[9223372036854775808]",
		"[-9223372036854775809]",
		"[1a]",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ok); i++) {
		struct scan s;
		struct scan_value v;

		scan_init(&s, ok[i].text, strlen(ok[i].text));
		assert_int_equal(0, scan_begin(&s, &v));
		assert_int_equal(1, scan_element(&s, &v));
		assert_int_equal(SCAN_INTEGER, v.type);
		assert_true(v.integer == ok[i].value);
		assert_int_equal(0, scan_element(&s, &v));
		assert_int_equal(0, scan_end(&s));
		scan_release(&s);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct scan s;
		struct scan_value v;

		scan_init(&s, bad[i], strlen(bad[i]));
		assert_int_equal(0, scan_begin(&s, &v));
		if (scan_element(&s, &v) == 1)
			assert_int_equal(SCAN_GIVE_UP, scan_element(&s, &v));
		scan_release(&s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_walks_and_skips),
		cmocka_unit_test(test_scan_integers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
