#include "common.h"
#include "nameset.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <cmocka.h>

struct pair {
	char a[16];
	const char *b;
};

static void pair_key(const void *data, size_t i, const char **a,
		     const char **b)
{
	const struct pair *p = data;

	*a = p[i].a;
	*b = p[i].b;
}

static void test_pairs_and_singles_differ(void **state UNUSED)
{
	struct pair p[] = { { "web", NULL }, { "web", "" }, { "web", "api" },
			    { "web", NULL }, { "webapi", NULL } };
	struct nameset s;

	nameset_init(&s, ARRAY_SIZE(p), pair_key, p);
	assert_int_equal(-1, nameset_add(&s, 0));
	assert_int_equal(-1, nameset_add(&s, 1));
	assert_int_equal(-1, nameset_add(&s, 2));
	assert_int_equal(0, nameset_add(&s, 3)); /* the first keeps it */
	assert_int_equal(-1, nameset_add(&s, 4));
	assert_int_equal(0, nameset_find(&s, "web", NULL));
	assert_int_equal(1, nameset_find(&s, "web", ""));
	assert_int_equal(2, nameset_find(&s, "web", "api"));
	assert_int_equal(-1, nameset_find(&s, "we", "bapi"));
	assert_int_equal(-1, nameset_find(&s, "api", "web"));
	nameset_release(&s);
}

static void test_grows_past_its_first_size(void **state UNUSED)
{
	static struct pair p[5000];
	struct nameset s;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(p); i++)
		snprintf(p[i].a, sizeof(p[i].a), "wt%zu", i % 2500);
	/* sized for 1: it must grow, and keep what it holds */
	nameset_init(&s, 1, pair_key, p);
	for (i = 0; i < ARRAY_SIZE(p); i++)
		assert_int_equal(i < 2500 ? -1 : (long)(i - 2500),
				 nameset_add(&s, i));
	for (i = 0; i < 2500; i++)
		assert_int_equal((long)i, nameset_find(&s, p[i].a, NULL));
	assert_int_equal(2500, s.nr);
	nameset_release(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairs_and_singles_differ),
		cmocka_unit_test(test_grows_past_its_first_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
