#include "common.h"
#include "alloc.h"
#include "error.h"
#include "registry.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <cmocka.h>

static const struct range web = { .name = "web", .start = 8080, .end = 8099 };
static const struct range api = { .name = "api", .start = 3000, .end = 3099 };
static const struct range database = { .name = "database",
				       .start = 5432,
				       .end = 5439 };

static bool all_taken(uint16_t port UNUSED, void *payload UNUSED)
{
	return true;
}

static bool all_but_8080_taken(uint16_t port, void *payload UNUSED)
{
	return port != 8080;
}

/* 'payload' is a struct portset of the ports taken. */
static bool in_set(uint16_t port, void *payload)
{
	return portset_has(payload, port);
}

struct asked {
	unsigned calls;
	struct portset seen;
	bool twice;
	bool bad;
};

/* Records every port it is asked about; says all of them are taken. */
static bool record_taken(uint16_t port, void *payload)
{
	struct asked *a = payload;

	a->calls++;
	if (portset_has(&a->seen, port))
		a->twice = true;
	if (alloc_is_bad_port(port))
		a->bad = true;
	portset_add(&a->seen, port);
	return true;
}

static void add_range(struct portset *s, uint16_t from, uint16_t to)
{
	uint32_t p;

	for (p = from; p <= to; p++)
		portset_add(s, (uint16_t)p);
}

/*
 * The values below were computed outside this code. If one changes, the
 * hash changed, and every worktree on every machine would move: do not
 * "fix" the numbers.
 */
static void test_hash_is_pinned(void **state UNUSED)
{
	assert_int_equal(1311853195u, alloc_hash("feat", "web"));
	assert_int_equal(4182367351u, alloc_hash("feature-login", "web"));
	assert_int_equal(2991618941u, alloc_hash("feature-login", "api"));
	assert_int_equal(4260825909u, alloc_hash("review-GH-42", "database"));
	/* FNV-1a of the single separator byte */
	assert_int_equal(0x050c5d1fu, alloc_hash("", ""));
}

static void test_hash_separates_the_two_names(void **state UNUSED)
{
	assert_int_not_equal(alloc_hash("ab", "c"), alloc_hash("a", "bc"));
	assert_int_not_equal(alloc_hash("web", "x"), alloc_hash("x", "web"));
}

static void test_preferred_port_is_pinned(void **state UNUSED)
{
	assert_int_equal(8095, alloc_preferred_port(&web, "feat", "web"));
	assert_int_equal(8091,
			 alloc_preferred_port(&web, "feature-login", "web"));
	assert_int_equal(3041,
			 alloc_preferred_port(&api, "feature-login", "api"));
	assert_int_equal(5437, alloc_preferred_port(&database, "review-GH-42",
						    "database"));
}

static void test_pick_is_stable(void **state UNUSED)
{
	uint16_t a = 0, b = 0;

	assert_int_equal(0,
			 alloc_pick_port(&a, &web, "feat", "web", NULL, NULL));
	assert_int_equal(0,
			 alloc_pick_port(&b, &web, "feat", "web", NULL, NULL));
	assert_int_equal(8095, a);
	assert_int_equal(a, b);
}

static void test_pick_finds_the_only_free_port(void **state UNUSED)
{
	uint16_t port = 0;

	assert_int_equal(0, alloc_pick_port(&port, &web, "feat", "web",
					    all_but_8080_taken, NULL));
	assert_int_equal(8080, port);
}

static void test_worktrees_spread_over_the_range(void **state UNUSED)
{
	struct portset seen = { { 0 } };
	unsigned distinct = 0;
	char name[32];
	int i;

	for (i = 0; i < 100; i++) {
		uint16_t port;

		snprintf(name, sizeof(name), "wt-%d", i);
		port = alloc_preferred_port(&web, name, "web");
		assert_in_range(port, web.start, web.end);
		if (!portset_has(&seen, port))
			distinct++;
		portset_add(&seen, port);
	}
	/* 100 names over 20 ports: every port is someone's preference */
	assert_int_equal(20, distinct);
}

static void test_pick_probes_past_taken_ports(void **state UNUSED)
{
	struct portset taken = { { 0 } };
	uint16_t port = 0;

	portset_add(&taken, 8095);
	portset_add(&taken, 8096);
	assert_int_equal(
		0, alloc_pick_port(&port, &web, "feat", "web", in_set, &taken));
	assert_int_equal(8097, port);
}

static void test_pick_wraps_to_the_start(void **state UNUSED)
{
	struct portset taken = { { 0 } };
	uint16_t port = 0;

	add_range(&taken, 8091, 8099);
	assert_int_equal(0, alloc_pick_port(&port, &web, "feature-login", "web",
					    in_set, &taken));
	assert_int_equal(8080, port);
}

static void test_pick_wraps_only_once(void **state UNUSED)
{
	struct portset taken = { { 0 } };
	uint16_t port = 0;

	/* free: only 8090, just below the preferred 8091 */
	add_range(&taken, 8080, 8099);
	taken.bits[8090 / 64] &= ~((uint64_t)1 << (8090 % 64));
	assert_int_equal(0, alloc_pick_port(&port, &web, "feature-login", "web",
					    in_set, &taken));
	assert_int_equal(8090, port);
}

static void test_pick_skips_reserved_and_allocated(void **state UNUSED)
{
	struct portset taken = { { 0 } };
	uint16_t port = 0;

	/* a reservation over the top of the range, one allocation below */
	add_range(&taken, 8090, 8099);
	portset_add(&taken, 8080);
	assert_int_equal(
		0, alloc_pick_port(&port, &web, "feat", "web", in_set, &taken));
	assert_int_equal(8081, port);
}

static void test_pick_asks_once_and_never_about_bad_ports(void **state UNUSED)
{
	const struct range irc = { .name = "irc", .start = 6660, .end = 6670 };
	struct asked a = { 0 };
	uint16_t port = 4242;

	assert_int_equal(ERR_FULL, alloc_pick_port(&port, &irc, "wt-0", "irc",
						   record_taken, &a));
	assert_int_equal(4242, port);
	assert_int_equal(6, a.calls);
	assert_false(a.twice);
	assert_false(a.bad);
}

static void test_bad_ports_are_never_picked(void **state UNUSED)
{
	const struct range irc = { .name = "irc", .start = 6660, .end = 6670 };
	const struct range amanda = { .name = "amanda",
				      .start = 10075,
				      .end = 10085 };
	char name[32];
	int i;

	for (i = 0; i < 200; i++) {
		uint16_t port = 0;

		snprintf(name, sizeof(name), "wt-%d", i);
		assert_int_equal(0, alloc_pick_port(&port, &irc, name, "irc",
						    NULL, NULL));
		assert_true(port < 6665 || port > 6669);
		assert_int_equal(0, alloc_pick_port(&port, &amanda, name,
						    "amanda", NULL, NULL));
		assert_int_not_equal(10080, port);
	}
}

static void test_bad_preferred_port_moves_up(void **state UNUSED)
{
	const struct range irc = { .name = "irc", .start = 6660, .end = 6670 };
	const struct range amanda = { .name = "amanda",
				      .start = 10075,
				      .end = 10085 };
	uint16_t port = 0;

	/* wt-0 prefers 6665, wt-2 prefers 10080 */
	assert_int_equal(6665, alloc_preferred_port(&irc, "wt-0", "irc"));
	assert_int_equal(
		0, alloc_pick_port(&port, &irc, "wt-0", "irc", NULL, NULL));
	assert_int_equal(6670, port);
	assert_int_equal(10080,
			 alloc_preferred_port(&amanda, "wt-2", "amanda"));
	assert_int_equal(0, alloc_pick_port(&port, &amanda, "wt-2", "amanda",
					    NULL, NULL));
	assert_int_equal(10081, port);
}

static void test_main_worktree_prefers_the_start(void **state UNUSED)
{
	struct portset taken = { { 0 } };
	uint16_t port = 0;

	assert_int_equal(8080, alloc_preferred_port(&web, NULL, "web"));
	assert_int_equal(0,
			 alloc_pick_port(&port, &web, NULL, "web", NULL, NULL));
	assert_int_equal(8080, port);
	assert_int_equal(0, alloc_pick_port(&port, &database, NULL, "database",
					    NULL, NULL));
	assert_int_equal(5432, port);

	portset_add(&taken, 8080);
	assert_int_equal(
		0, alloc_pick_port(&port, &web, NULL, "web", in_set, &taken));
	assert_int_equal(8081, port);
}

static void test_main_worktree_skips_a_bad_start(void **state UNUSED)
{
	const struct range x11 = { .name = "x11", .start = 6000, .end = 6009 };
	const struct range irc = { .name = "irc", .start = 6665, .end = 6680 };
	uint16_t port = 0;

	assert_int_equal(0,
			 alloc_pick_port(&port, &x11, NULL, "x11", NULL, NULL));
	assert_int_equal(6001, port);
	assert_int_equal(0,
			 alloc_pick_port(&port, &irc, NULL, "irc", NULL, NULL));
	assert_int_equal(6670, port);
}

static void test_full_range_is_err_full(void **state UNUSED)
{
	uint16_t port = 4242;

	assert_int_equal(ERR_FULL, alloc_pick_port(&port, &web, "feat", "web",
						   all_taken, NULL));
	assert_int_equal(ERR_FULL, alloc_pick_port(&port, &web, NULL, "web",
						   all_taken, NULL));
	assert_int_equal(4242, port);
}

static void test_range_of_bad_ports_only_is_full(void **state UNUSED)
{
	const struct range irc = { .name = "irc", .start = 6665, .end = 6669 };
	uint16_t port = 4242;

	assert_int_equal(0, alloc_usable_ports(&irc));
	assert_int_equal(ERR_FULL, alloc_pick_port(&port, &irc, "feat", "irc",
						   NULL, NULL));
	assert_int_equal(4242, port);
}

static void test_one_port_range(void **state UNUSED)
{
	const struct range one = { .name = "one", .start = 9000, .end = 9000 };
	const struct range top = { .name = "top",
				   .start = 65535,
				   .end = 65535 };
	uint16_t port = 0;

	assert_int_equal(9000, alloc_preferred_port(&one, "feat", "one"));
	assert_int_equal(
		0, alloc_pick_port(&port, &one, "feat", "one", NULL, NULL));
	assert_int_equal(9000, port);
	assert_int_equal(
		0, alloc_pick_port(&port, &top, "feat", "top", NULL, NULL));
	assert_int_equal(65535, port);
	port = 4242;
	assert_int_equal(ERR_FULL, alloc_pick_port(&port, &one, "feat", "one",
						   all_taken, NULL));
	assert_int_equal(4242, port);
}

static void test_ranges_at_the_edges_of_the_port_space(void **state UNUSED)
{
	const struct range high = { .name = "high",
				    .start = 65530,
				    .end = 65535 };
	const struct range all = { .name = "all", .start = 0, .end = 65535 };
	struct portset taken = { { 0 } };
	uint16_t port = 0;

	/* feat prefers 65531: the top is taken, so it wraps to 65530 */
	add_range(&taken, 65531, 65535);
	assert_int_equal(0, alloc_pick_port(&port, &high, "feat", "high",
					    in_set, &taken));
	assert_int_equal(65530, port);

	/* 65536 ports: the size must not wrap around to 0 */
	assert_int_equal(19083, alloc_preferred_port(&all, "feat", "web"));
	assert_int_equal(0,
			 alloc_pick_port(&port, &all, NULL, "web", NULL, NULL));
	assert_int_equal(ALLOC_MIN_PORT, port);
	assert_int_equal(65536 - 1024 - 19, alloc_usable_ports(&all));
}

static void test_bad_ports(void **state UNUSED)
{
	static const uint16_t bad[] = { 1719, 1720, 1723, 2049, 3659,
					4045, 4190, 5060, 5061, 6000,
					6566, 6665, 6666, 6667, 6668,
					6669, 6679, 6697, 10080 };
	static const uint16_t good[] = { 1024,	1718,  1721, 3000, 5432,
					 5555,	6379,  6664, 6670, 8080,
					 10079, 10081, 65535 };
	size_t i;

	assert_true(alloc_is_bad_port(0));
	assert_true(alloc_is_bad_port(22));
	assert_true(alloc_is_bad_port(1023));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_true(alloc_is_bad_port(bad[i]));
	for (i = 0; i < ARRAY_SIZE(good); i++)
		assert_false(alloc_is_bad_port(good[i]));
}

static void test_usable_ports(void **state UNUSED)
{
	const struct range irc = { .name = "irc", .start = 6660, .end = 6670 };
	const struct range low = { .name = "low", .start = 1000, .end = 1100 };
	const struct range amanda = { .name = "amanda",
				      .start = 10080,
				      .end = 10080 };

	assert_int_equal(20, alloc_usable_ports(&web));
	assert_int_equal(6, alloc_usable_ports(&irc));
	assert_int_equal(77, alloc_usable_ports(&low));
	assert_int_equal(0, alloc_usable_ports(&amanda));
}

static void test_valid_names(void **state UNUSED)
{
	char name[ALLOC_NAME_MAX + 2];

	assert_true(alloc_valid_name("web"));
	assert_true(alloc_valid_name("a"));
	assert_true(alloc_valid_name("9"));
	assert_true(alloc_valid_name("API_v2.internal-x"));

	memset(name, 'a', ALLOC_NAME_MAX);
	name[ALLOC_NAME_MAX] = '\0';
	assert_true(alloc_valid_name(name));
	name[ALLOC_NAME_MAX] = 'a';
	name[ALLOC_NAME_MAX + 1] = '\0';
	assert_false(alloc_valid_name(name));
}

static void test_invalid_names(void **state UNUSED)
{
	static const char *bad[] = { "",     "-web", ".web",  "_web",
				     "we b", "web/", "web\n", "w\303\251b",
				     "a=b",  "${x}", "web ",  "\"web\"" };
	size_t i;

	assert_false(alloc_valid_name(NULL));
	for (i = 0; i < ARRAY_SIZE(bad); i++)
		assert_false(alloc_valid_name(bad[i]));
}

static void test_parse_port(void **state UNUSED)
{
	uint16_t port = 0;

	assert_int_equal(0, alloc_parse_port(&port, "8080"));
	assert_int_equal(8080, port);
	assert_int_equal(0, alloc_parse_port(&port, "1024"));
	assert_int_equal(1024, port);
	assert_int_equal(0, alloc_parse_port(&port, "65535"));
	assert_int_equal(65535, port);
	assert_int_equal(0, alloc_parse_port(&port, "08080"));
	assert_int_equal(8080, port);
	/* a bad port parses: refusing it is the caller's decision */
	assert_int_equal(0, alloc_parse_port(&port, "6667"));
	assert_int_equal(6667, port);
}

static void test_parse_port_refuses(void **state UNUSED)
{
	static const char *bad[] = {
		"",	 "0",	   "80",	  "1023",
		"65536", "70000",  "99999999999", "184467440737095516160000",
		" 8080", "8080 ",  "+8080",	  "-8080",
		"8080a", "0x1f90", "8e3",	  "80.80",
		"8080\n"
	};
	uint16_t port = 4242;
	size_t i;

	assert_int_equal(-1, alloc_parse_port(&port, NULL));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(-1, alloc_parse_port(&port, bad[i]));
		assert_int_equal(4242, port);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_is_pinned),
		cmocka_unit_test(test_hash_separates_the_two_names),
		cmocka_unit_test(test_preferred_port_is_pinned),
		cmocka_unit_test(test_pick_is_stable),
		cmocka_unit_test(test_pick_finds_the_only_free_port),
		cmocka_unit_test(test_worktrees_spread_over_the_range),
		cmocka_unit_test(test_pick_probes_past_taken_ports),
		cmocka_unit_test(test_pick_wraps_to_the_start),
		cmocka_unit_test(test_pick_wraps_only_once),
		cmocka_unit_test(test_pick_skips_reserved_and_allocated),
		cmocka_unit_test(test_pick_asks_once_and_never_about_bad_ports),
		cmocka_unit_test(test_bad_ports_are_never_picked),
		cmocka_unit_test(test_bad_preferred_port_moves_up),
		cmocka_unit_test(test_main_worktree_prefers_the_start),
		cmocka_unit_test(test_main_worktree_skips_a_bad_start),
		cmocka_unit_test(test_full_range_is_err_full),
		cmocka_unit_test(test_range_of_bad_ports_only_is_full),
		cmocka_unit_test(test_one_port_range),
		cmocka_unit_test(test_ranges_at_the_edges_of_the_port_space),
		cmocka_unit_test(test_bad_ports),
		cmocka_unit_test(test_usable_ports),
		cmocka_unit_test(test_valid_names),
		cmocka_unit_test(test_invalid_names),
		cmocka_unit_test(test_parse_port),
		cmocka_unit_test(test_parse_port_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
