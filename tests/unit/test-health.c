#include "common.h"
#include "health.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void test_status_names_round_trip(void **state UNUSED)
{
	static const enum health_status all[] = { HEALTH_UNKNOWN,
						  HEALTH_HEALTHY,
						  HEALTH_UNHEALTHY,
						  HEALTH_NOT_RUNNING };
	enum health_status s = HEALTH_HEALTHY;
	size_t i;

	assert_string_equal("unknown", health_status_name(HEALTH_UNKNOWN));
	assert_string_equal("healthy", health_status_name(HEALTH_HEALTHY));
	assert_string_equal("unhealthy", health_status_name(HEALTH_UNHEALTHY));
	assert_string_equal("not_running",
			    health_status_name(HEALTH_NOT_RUNNING));
	assert_string_equal("unknown", health_status_name(42));
	for (i = 0; i < ARRAY_SIZE(all); i++) {
		assert_int_equal(
			0, health_status_parse(&s, health_status_name(all[i])));
		assert_int_equal(all[i], s);
	}
	assert_int_equal(-1, health_status_parse(&s, "Healthy"));
	assert_int_equal(-1, health_status_parse(&s, "not running"));
	assert_int_equal(-1, health_status_parse(&s, ""));
	assert_int_equal(HEALTH_NOT_RUNNING, s);
}

static void test_path_validation(void **state UNUSED)
{
	char long_path[HEALTH_PATH_MAX + 2];

	assert_true(health_path_is_valid(NULL));
	assert_true(health_path_is_valid("tcp"));
	assert_true(health_path_is_valid("/"));
	assert_true(health_path_is_valid("/health?x=1&y=%20"));
	assert_true(health_path_is_valid("//example.com/x"));
	assert_false(health_path_is_valid(""));
	assert_false(health_path_is_valid("health"));
	assert_false(health_path_is_valid("TCP"));
	assert_false(health_path_is_valid("/a b"));
	assert_false(health_path_is_valid("/a\r\nX-Evil: 1"));
	assert_false(health_path_is_valid("/a\tb"));
	assert_false(health_path_is_valid("/\x7f"));
	assert_false(health_path_is_valid("/caf\xc3\xa9"));

	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	long_path[HEALTH_PATH_MAX] = '\0';
	assert_true(health_path_is_valid(long_path));
	long_path[HEALTH_PATH_MAX] = 'a';
	long_path[HEALTH_PATH_MAX + 1] = '\0';
	assert_false(health_path_is_valid(long_path));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_names_round_trip),
		cmocka_unit_test(test_path_validation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
