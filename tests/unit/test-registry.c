#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "lockfile.h"
#include "registry.h"
#include "sbuf.h"
#include "unit.h"

#define PATH "ports.json"

/*
 * The registries below are written with single quotes, which dq() turns
 * into double ones, so that they stay readable. None of them needs a
 * single quote of its own.
 */
static char *dq(const char *s)
{
	char *copy = xstrdup(s), *p;

	for (p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	return copy;
}

static int parse(struct registry **out, const char *json, unsigned flags,
		 struct error *err)
{
	char *text = dq(json);
	int ret = registry_parse(out, text, strlen(text), PATH, flags, err);

	free(text);
	return ret;
}

static struct registry *parse_ok(const char *json, unsigned flags)
{
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;

	if (parse(&reg, json, flags, &err))
		fail_msg("unexpected error: %s: %s: %s", err.file, err.field,
			 err.msg);
	assert_non_null(reg);
	return reg;
}

/*
 * 'json' is refused as corrupt, naming 'field', with 'msg' in the message,
 * no line (it is a field error), and a hint.
 */
static void expect_corrupt(const char *json, unsigned flags, const char *field,
			   const char *msg)
{
	struct error err = ERROR_INIT;
	struct registry *reg = (struct registry *)&err; /* must become NULL */

	assert_int_equal(ERR_CORRUPT, parse(&reg, json, flags, &err));
	assert_null(reg);
	assert_int_equal(ERR_CORRUPT, err.code);
	assert_string_equal(PATH, err.file);
	assert_string_equal(field, err.field);
	assert_int_equal(0, err.line);
	if (!strstr(err.msg, msg))
		fail_msg("message '%s' lacks '%s'", err.msg, msg);
	assert_true(strlen(err.hint) > 0);
}

static bool contains(const char *haystack, const char *needle)
{
	return strstr(haystack, needle) != NULL;
}

/* A registry with two ranges and the allocations 'a'. */
#define ALLOCS(a)                                                              \
	"{'ranges': {'web': {'start': 8080, 'end': 8099},"                     \
	" 'default': {'start': 10000, 'end': 11000}},"                         \
	" 'allocations': [" a "]}"

/* One allocation of 'web' to 'feat', with more keys. */
#define WEB(more) "{'port': 8080, 'worktree': 'feat', 'service': 'web'" more "}"

/* A registry with the ranges 'r' and no allocations. */
#define RANGES(r) "{'ranges': {" r "}, 'allocations': []}"

#define CORRUPT_TEST(name, json, field, msg)                                   \
	static void name(void **state UNUSED)                                  \
	{                                                                      \
		expect_corrupt(json, 0, field, msg);                           \
	}

/* the whole file */
CORRUPT_TEST(test_top_level_array, "[]", "",
	     "the registry must be a JSON object, not an array")
CORRUPT_TEST(test_ranges_missing, "{'allocations': []}", "ranges",
	     "required key 'ranges' is missing")
CORRUPT_TEST(test_ranges_not_object, "{'ranges': [], 'allocations': []}",
	     "ranges", "must be an object, not an array")
CORRUPT_TEST(test_allocations_missing, "{'ranges': {}}", "allocations",
	     "required key 'allocations' is missing")
CORRUPT_TEST(test_allocations_not_array, "{'ranges': {}, 'allocations': {}}",
	     "allocations", "must be an array, not an object")
CORRUPT_TEST(test_reserved_not_array,
	     "{'ranges': {}, 'reserved': {}, 'allocations': []}", "reserved",
	     "must be an array, not an object")
CORRUPT_TEST(test_metadata_not_object,
	     "{'ranges': {}, 'allocations': [], 'metadata': []}", "metadata",
	     "must be an object, not an array")

/* ranges */
CORRUPT_TEST(test_range_not_object, RANGES("'web': 8080"), "ranges.web",
	     "must be an object, not an integer")
CORRUPT_TEST(test_range_start_string,
	     RANGES("'web': {'start': '8080', 'end': 8099}"),
	     "ranges.web.start", "must be an integer, not a string")
CORRUPT_TEST(test_range_start_real,
	     RANGES("'web': {'start': 8080.0, 'end': 8099}"),
	     "ranges.web.start",
	     "must be an integer, not a floating-point number")
CORRUPT_TEST(test_range_end_missing, RANGES("'web': {'start': 8080}"),
	     "ranges.web.end", "required key 'end' is missing")
CORRUPT_TEST(test_range_end_null, RANGES("'web': {'start': 8080, 'end': null}"),
	     "ranges.web.end", "must be an integer, not null")
CORRUPT_TEST(test_range_description_number,
	     RANGES("'web': {'start': 8080, 'end': 8099, 'description': 1}"),
	     "ranges.web.description",
	     "must be a string or null, not an integer")
CORRUPT_TEST(test_range_start_after_end,
	     RANGES("'web': {'start': 8099, 'end': 8080}"), "ranges.web",
	     "start 8099 is after end 8080")
CORRUPT_TEST(test_range_start_below_1024,
	     RANGES("'web': {'start': 80, 'end': 8080}"), "ranges.web.start",
	     "start 80 is below 1024: ports 0-1023 are never handed out")
CORRUPT_TEST(test_range_end_above_65535,
	     RANGES("'web': {'start': 8080, 'end': 65536}"), "ranges.web.end",
	     "end 65536 is above 65535, the highest port")
CORRUPT_TEST(test_range_name_invalid,
	     RANGES("'-web': {'start': 8080, 'end': 8099}"), "ranges",
	     "'-web' is not a valid range name")
CORRUPT_TEST(test_range_name_with_space,
	     RANGES("'my web': {'start': 8080, 'end': 8099}"), "ranges",
	     "'my web' is not a valid range name")
CORRUPT_TEST(
	test_range_name_too_long,
	RANGES("'a1234567890123456789012345678901234567890123456789012345678901234'"
	       ": {'start': 8080, 'end': 8099}"),
	"ranges", "is not a valid range name")

/* reserved */
CORRUPT_TEST(test_reserved_entry_not_object,
	     "{'ranges': {}, 'reserved': [6881], 'allocations': []}",
	     "reserved[0]", "must be an object, not an integer")
CORRUPT_TEST(test_reserved_start_string,
	     "{'ranges': {}, 'reserved': [{'start': 'x', 'end': 6889}],"
	     " 'allocations': []}",
	     "reserved[0].start", "must be an integer, not a string")
CORRUPT_TEST(test_reserved_start_after_end,
	     "{'ranges': {}, 'reserved': [{'start': 1, 'end': 2},"
	     " {'start': 6889, 'end': 6881}], 'allocations': []}",
	     "reserved[1]", "start 6889 is after end 6881")
CORRUPT_TEST(test_reserved_negative,
	     "{'ranges': {}, 'reserved': [{'start': -1, 'end': 2}],"
	     " 'allocations': []}",
	     "reserved[0].start", "start -1 is below 0")

/* allocations: shape and types */
CORRUPT_TEST(test_alloc_not_object, ALLOCS("8080"), "allocations[0]",
	     "must be an object, not an integer")
CORRUPT_TEST(test_alloc_port_missing,
	     ALLOCS("{'worktree': 'feat', 'service': 'web'}"),
	     "allocations[0].port", "required key 'port' is missing")
CORRUPT_TEST(test_alloc_port_string,
	     ALLOCS("{'port': '8080', 'worktree': 'feat', 'service': 'web'}"),
	     "allocations[0].port", "must be an integer, not a string")
CORRUPT_TEST(test_alloc_port_null,
	     ALLOCS("{'port': null, 'worktree': 'feat', 'service': 'web'}"),
	     "allocations[0].port", "must be an integer, not null")
CORRUPT_TEST(test_alloc_worktree_missing,
	     ALLOCS("{'port': 8080, 'service': 'web'}"),
	     "allocations[0].worktree", "required key 'worktree' is missing")
CORRUPT_TEST(test_alloc_worktree_number,
	     ALLOCS("{'port': 8080, 'worktree': 7, 'service': 'web'}"),
	     "allocations[0].worktree", "must be a string, not an integer")
CORRUPT_TEST(test_alloc_worktree_empty,
	     ALLOCS("{'port': 8080, 'worktree': '', 'service': 'web'}"),
	     "allocations[0].worktree", "must not be empty")
CORRUPT_TEST(test_alloc_service_missing,
	     ALLOCS("{'port': 8080, 'worktree': 'feat'}"),
	     "allocations[0].service", "required key 'service' is missing")
CORRUPT_TEST(test_alloc_service_null,
	     ALLOCS("{'port': 8080, 'worktree': 'feat', 'service': null}"),
	     "allocations[0].service", "must be a string, not null")
CORRUPT_TEST(test_alloc_service_empty,
	     ALLOCS("{'port': 8080, 'worktree': 'feat', 'service': ''}"),
	     "allocations[0].service", "must not be empty")
CORRUPT_TEST(test_alloc_path_number, ALLOCS(WEB(", 'path': 1")),
	     "allocations[0].path", "must be a string or null, not an integer")
CORRUPT_TEST(test_alloc_range_bool, ALLOCS(WEB(", 'range': true")),
	     "allocations[0].range", "must be a string or null, not a boolean")
CORRUPT_TEST(test_alloc_allocated_at_number,
	     ALLOCS(WEB(", 'allocated_at': 20261121")),
	     "allocations[0].allocated_at",
	     "must be a string or null, not an integer")
CORRUPT_TEST(test_alloc_allocated_by_array,
	     ALLOCS(WEB(", 'allocated_by': ['me']")),
	     "allocations[0].allocated_by",
	     "must be a string or null, not an array")
CORRUPT_TEST(test_alloc_description_object, ALLOCS(WEB(", 'description': {}")),
	     "allocations[0].description",
	     "must be a string or null, not an object")
CORRUPT_TEST(test_alloc_process_id_string, ALLOCS(WEB(", 'process_id': '42'")),
	     "allocations[0].process_id",
	     "must be an integer or null, not a string")
CORRUPT_TEST(test_alloc_process_id_real, ALLOCS(WEB(", 'process_id': 4.2")),
	     "allocations[0].process_id",
	     "must be an integer or null, not a floating-point number")
CORRUPT_TEST(test_alloc_process_id_zero, ALLOCS(WEB(", 'process_id': 0")),
	     "allocations[0].process_id", "0 is not a process id")
CORRUPT_TEST(test_alloc_process_id_negative, ALLOCS(WEB(", 'process_id': -1")),
	     "allocations[0].process_id", "-1 is not a process id")
CORRUPT_TEST(test_alloc_health_number, ALLOCS(WEB(", 'health_status': 1")),
	     "allocations[0].health_status",
	     "must be a string or null, not an integer")
CORRUPT_TEST(test_alloc_health_unknown_word,
	     ALLOCS(WEB(", 'health_status': 'great'")),
	     "allocations[0].health_status",
	     "'great' is not one of healthy, unhealthy, not_running or unknown")

/* allocations: ports */
CORRUPT_TEST(test_alloc_port_below_1024,
	     ALLOCS("{'port': 80, 'worktree': 'feat', 'service': 'web'}"),
	     "allocations[0].port",
	     "port 80 is below 1024: ports 0-1023 are never handed out")
CORRUPT_TEST(test_alloc_port_negative,
	     ALLOCS("{'port': -8080, 'worktree': 'feat', 'service': 'web'}"),
	     "allocations[0].port",
	     "port -8080 is below 1024: ports 0-1023 are never handed out")
CORRUPT_TEST(test_alloc_port_above_65535,
	     ALLOCS("{'port': 70000, 'worktree': 'feat', 'service': 'web'}"),
	     "allocations[0].port",
	     "port 70000 is above 65535, the highest port")
CORRUPT_TEST(
	test_alloc_index_in_field,
	ALLOCS(WEB("") ", {'port': 8081, 'worktree': 'b', 'service': 'web'},"
		       " {'port': 8082, 'worktree': 'c', 'service': 'web'},"
		       " {'port': 1023, 'worktree': 'd', 'service': 'web'}"),
	"allocations[3].port", "port 1023 is below 1024")

/* allocations: ranges */
CORRUPT_TEST(test_alloc_no_range_no_default,
	     "{'ranges': {'web': {'start': 8080, 'end': 8099}}, 'allocations':"
	     " [{'port': 8080, 'worktree': 'feat', 'service': 'mystery'}]}",
	     "allocations[0].service",
	     "no range 'mystery' and no 'default' range")
CORRUPT_TEST(test_alloc_explicit_range_missing,
	     ALLOCS(WEB(", 'range': 'nope'")), "allocations[0].range",
	     "no range 'nope'")

/* metadata */
CORRUPT_TEST(test_meta_version_number,
	     "{'ranges': {}, 'allocations': [], 'metadata': {'version': 1}}",
	     "metadata.version", "must be a string, not an integer")
CORRUPT_TEST(test_meta_last_updated_number,
	     "{'ranges': {}, 'allocations': [], 'metadata':"
	     " {'last_updated': 5}}",
	     "metadata.last_updated",
	     "must be a string or null, not an integer")
CORRUPT_TEST(test_meta_total_string,
	     "{'ranges': {}, 'allocations': [], 'metadata':"
	     " {'total_allocations': '0'}}",
	     "metadata.total_allocations", "must be an integer, not a string")
CORRUPT_TEST(test_meta_total_negative,
	     "{'ranges': {}, 'allocations': [], 'metadata':"
	     " {'total_allocations': -2}}",
	     "metadata.total_allocations", "-2 is not a count")
CORRUPT_TEST(test_meta_schema_string,
	     "{'ranges': {}, 'allocations': [], 'metadata':"
	     " {'schema_version': '1'}}",
	     "metadata.schema_version", "must be an integer, not a string")
CORRUPT_TEST(test_meta_schema_newer,
	     "{'ranges': {}, 'allocations': [], 'metadata':"
	     " {'schema_version': 2}}",
	     "metadata.schema_version", "schema version 2 is newer")

/* duplicates */
#define TWO_ON_8080                                                            \
	ALLOCS(WEB("") ", {'port': 8081, 'worktree': 'b', 'service': 'web'},"  \
		       " {'port': 8080, 'worktree': 'c', 'service': 'web'}")

static void test_duplicate_port_is_refused(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;

	assert_int_equal(ERR_CORRUPT, parse(&reg, TWO_ON_8080, 0, &err));
	assert_null(reg);
	assert_string_equal("allocations[2].port", err.field);
	assert_string_equal(
		"port 8080 is allocated twice: allocations[0] and allocations[2]",
		err.msg);
	assert_true(contains(err.hint, "git worktree-ports check"));
}

static void test_duplicate_port_allowed_by_flag(void **state UNUSED)
{
	struct registry *reg = parse_ok(TWO_ON_8080, REGISTRY_ALLOW_DUPLICATES);

	assert_int_equal(3, reg->nr_allocs);
	assert_int_equal(0, registry_find_port(reg, 8080));
	assert_int_equal(2, registry_find(reg, "c", "web"));
	registry_free(reg);
}

#define TWO_FEAT_WEB                                                           \
	ALLOCS(WEB(                                                            \
		"") ", {'port': 10000, 'worktree': 'x', 'service': 'web'},"    \
		    " {'port': 8081, 'worktree': 'feat', 'service': 'web'}")

static void test_duplicate_worktree_service_is_refused(void **state UNUSED)
{
	expect_corrupt(
		TWO_FEAT_WEB, 0, "allocations[2]",
		"worktree 'feat' has two allocations for service 'web': allocations[0] and allocations[2]");
}

static void test_duplicate_worktree_service_even_with_flag(void **state UNUSED)
{
	expect_corrupt(TWO_FEAT_WEB, REGISTRY_ALLOW_DUPLICATES,
		       "allocations[2]", "worktree 'feat' has two allocations");
}

static void test_same_service_in_two_worktrees_is_fine(void **state UNUSED)
{
	struct registry *reg =
		parse_ok(ALLOCS(WEB("") ", {'port': 8081, 'worktree': 'other',"
					" 'service': 'web'}"),
			 0);

	assert_int_equal(1, registry_find(reg, "other", "web"));
	registry_free(reg);
}

/* malformed JSON */
static void test_malformed_json_has_line_and_column(void **state UNUSED)
{
	const char text[] = "{\n  \"ranges\": {\n    oops\n";
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;

	assert_int_equal(ERR_CORRUPT, registry_parse(&reg, text, strlen(text),
						     PATH, 0, &err));
	assert_null(reg);
	assert_string_equal(PATH, err.file);
	assert_int_equal(3, err.line);
	assert_int_equal(8, err.column);
	assert_string_equal("", err.field);
	assert_true(contains(err.msg, "'oops'"));
	assert_true(contains(err.hint, "not rewritten"));
}

static void test_duplicate_json_key_is_refused(void **state UNUSED)
{
	const char text[] = "{\"ranges\": {},\n"
			    " \"allocations\": [{\"port\": 8080,\n"
			    "   \"port\": 8081}]}";
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;

	assert_int_equal(ERR_CORRUPT, registry_parse(&reg, text, strlen(text),
						     PATH, 0, &err));
	assert_null(reg);
	assert_int_equal(3, err.line);
	assert_true(err.column > 0);
	assert_true(contains(err.msg, "duplicate object key"));
}

static void test_empty_text_is_corrupt(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;

	assert_int_equal(ERR_CORRUPT,
			 registry_parse(&reg, "", 0, PATH, 0, &err));
	assert_null(reg);
	assert_true(strlen(err.msg) > 0);
}

static void test_first_error_is_kept(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;

	error_set(&err, ERR_FAIL, "earlier", 7, NULL, "root cause");
	error_set_column(&err, 3);
	assert_int_equal(ERR_CORRUPT, parse(&reg, "{ oops", 0, &err));
	assert_int_equal(ERR_FAIL, err.code);
	assert_int_equal(7, err.line);
	assert_int_equal(3, err.column);
	assert_string_equal("root cause", err.msg);
}

/* what loads */
static const char seed[] =
	"{\n"
	"  'ranges': {\n"
	"    'web': {'start': 8080, 'end': 8099, 'description': 'HTTP web servers'},\n"
	"    'database': {'start': 5432, 'end': 5439, 'description': 'Database services'}\n"
	"  },\n"
	"  'allocations': [\n"
	"    {'port': 8080, 'worktree': 'review-GH-42', 'service': 'web',\n"
	"     'allocated_at': '2025-01-02T03:04:05Z', 'allocated_by': 'me@laptop',\n"
	"     'description': 'Frontend dev server', 'process_id': null,\n"
	"     'health_status': 'unknown'},\n"
	"    {'port': 5433, 'worktree': 'feat', 'service': 'database',\n"
	"     'allocated_at': '2025-01-02T03:04:06Z', 'allocated_by': 'me@laptop',\n"
	"     'description': null, 'process_id': 4242, 'health_status': 'healthy'}\n"
	"  ],\n"
	"  'metadata': {'version': '1.0.0', 'last_updated': '2025-01-02T03:04:06Z',\n"
	"               'total_allocations': 2, 'schema_version': 1}\n"
	"}\n";

static void test_seed_format_loads(void **state UNUSED)
{
	struct registry *reg = parse_ok(seed, 0);
	const struct allocation *a;

	assert_string_equal(PATH, reg->path);
	assert_int_equal(2, reg->nr_ranges);
	assert_string_equal("web", reg->ranges[0].name);
	assert_int_equal(8080, reg->ranges[0].start);
	assert_int_equal(8099, reg->ranges[0].end);
	assert_string_equal("HTTP web servers", reg->ranges[0].description);
	assert_string_equal("database", reg->ranges[1].name);
	assert_int_equal(0, reg->nr_reserved);
	assert_int_equal(2, reg->nr_allocs);

	a = &reg->allocs[0];
	assert_int_equal(8080, a->port);
	assert_string_equal("review-GH-42", a->worktree);
	assert_null(a->path);
	assert_string_equal("web", a->service);
	assert_null(a->range);
	assert_string_equal("2025-01-02T03:04:05Z", a->allocated_at);
	assert_string_equal("me@laptop", a->allocated_by);
	assert_string_equal("Frontend dev server", a->description);
	assert_int_equal(ALLOCATION_NO_PID, a->process_id);
	assert_string_equal("unknown", a->health_status);

	a = &reg->allocs[1];
	assert_null(a->description);
	assert_int_equal(4242, a->process_id);
	assert_string_equal("healthy", a->health_status);
	registry_free(reg);
}

static void test_full_format_loads(void **state UNUSED)
{
	struct registry *reg = parse_ok(
		"{'ranges': {'web': {'start': 8080, 'end': 8099}},"
		" 'reserved': [{'start': 8090, 'end': 8091,"
		" 'description': 'legacy'}],"
		" 'allocations': [{'port': 8085, 'worktree': 'a',"
		" 'path': '/src/a', 'service': 'frontend', 'range': 'web',"
		" 'process_id': 77, 'health_status': 'not_running'}]}",
		0);
	const struct allocation *a = &reg->allocs[0];

	assert_int_equal(1, reg->nr_reserved);
	assert_null(reg->reserved[0].name);
	assert_int_equal(8090, reg->reserved[0].start);
	assert_int_equal(8091, reg->reserved[0].end);
	assert_string_equal("legacy", reg->reserved[0].description);
	assert_string_equal("/src/a", a->path);
	assert_string_equal("web", a->range);
	assert_null(a->allocated_at);
	assert_null(a->allocated_by);
	assert_int_equal(77, a->process_id);
	assert_string_equal("not_running", a->health_status);
	assert_null(reg->ranges[0].description);
	registry_free(reg);
}

static void test_absent_health_status_is_unknown(void **state UNUSED)
{
	struct registry *reg = parse_ok(ALLOCS(WEB("")), 0);

	assert_string_equal("unknown", reg->allocs[0].health_status);
	registry_free(reg);
}

static void test_service_without_range_uses_default(void **state UNUSED)
{
	struct registry *reg = parse_ok(
		ALLOCS("{'port': 10001, 'worktree': 'a', 'service': 'mailhog'}"),
		0);

	assert_string_equal("default",
			    registry_range_for(reg, "mailhog", NULL)->name);
	registry_free(reg);
}

static void test_ports_outside_range_or_reserved_load(void **state UNUSED)
{
	/* conflicts for 'check' to report, not reasons to refuse the file */
	struct registry *reg =
		parse_ok("{'ranges': {'web': {'start': 8080, 'end': 8099}},"
			 " 'reserved': [{'start': 9000, 'end': 9000}],"
			 " 'allocations': [{'port': 9000, 'worktree': 'a',"
			 " 'service': 'web'}]}",
			 0);

	assert_int_equal(9000, reg->allocs[0].port);
	registry_free(reg);
}

static void test_range_for(void **state UNUSED)
{
	struct registry *reg =
		parse_ok(RANGES("'web': {'start': 8080, 'end': 8099},"
				" 'default': {'start': 10000, 'end': 11000}"),
			 0);
	struct registry *bare =
		parse_ok(RANGES("'web': {'start': 8080, 'end': 8099}"), 0);

	assert_ptr_equal(&reg->ranges[0], registry_find_range(reg, "web"));
	assert_null(registry_find_range(reg, "we"));
	assert_ptr_equal(&reg->ranges[0], registry_range_for(reg, "web", NULL));
	assert_ptr_equal(&reg->ranges[1],
			 registry_range_for(reg, "mailhog", NULL));
	assert_ptr_equal(&reg->ranges[0],
			 registry_range_for(reg, "frontend", "web"));
	/* an explicit range does not fall back to 'default' */
	assert_null(registry_range_for(reg, "web", "nope"));
	assert_null(registry_range_for(bare, "mailhog", NULL));
	registry_free(reg);
	registry_free(bare);
}

static void test_range_names_that_are_valid(void **state UNUSED)
{
	struct registry *reg = parse_ok(
		RANGES("'a123456789012345678901234567890123456789012345678901234567890123'"
		       ": {'start': 8080, 'end': 8080},"
		       " '9.x_y-z': {'start': 65535, 'end': 65535}"),
		0);

	assert_int_equal(64, strlen(reg->ranges[0].name));
	assert_string_equal("9.x_y-z", reg->ranges[1].name);
	assert_int_equal(65535, reg->ranges[1].end);
	registry_free(reg);
}

static void test_reserved_at(void **state UNUSED)
{
	struct registry *reg = parse_ok(
		"{'ranges': {}, 'reserved': [{'start': 6881, 'end': 6889},"
		" {'start': 7000, 'end': 7000}], 'allocations': []}",
		0);

	assert_null(registry_reserved_at(reg, 6880));
	assert_ptr_equal(&reg->reserved[0], registry_reserved_at(reg, 6881));
	assert_ptr_equal(&reg->reserved[0], registry_reserved_at(reg, 6889));
	assert_null(registry_reserved_at(reg, 6890));
	assert_ptr_equal(&reg->reserved[1], registry_reserved_at(reg, 7000));
	registry_free(reg);
}

/* unknown keys */
static const char unknown[] =
	"{'x-top': {'nested': [1, 2.5, null]},"
	" 'ranges': {'web': {'x-range': true, 'start': 8080, 'end': 8099}},"
	" 'reserved': [{'start': 9000, 'end': 9001, 'x-res': 'kept'}],"
	" 'allocations': [{'port': 8080, 'x-alloc': [], 'worktree': 'a',"
	" 'service': 'web'}, {'port': 8081, 'worktree': 'b', 'service': 'web',"
	" 'x-second': {}}],"
	" 'metadata': {'x-meta': 'm', 'version': '1.0.0'},"
	" 'x-last': 0}";

static void test_unknown_keys_survive_round_trip(void **state UNUSED)
{
	struct registry *reg = parse_ok(unknown, 0), *again = NULL;
	struct sbuf once = SBUF_INIT, twice = SBUF_INIT;
	struct error err = ERROR_INIT;
	const char *p;

	registry_serialize(reg, &once);
	assert_int_equal(
		0, registry_parse(&again, once.buf, once.len, PATH, 0, &err));
	registry_serialize(again, &twice);
	assert_string_equal(once.buf, twice.buf);

	assert_true(contains(once.buf, "\"x-top\": {\n    \"nested\": [\n"
				       "      1,\n      2.5,\n      null\n"));
	assert_true(contains(once.buf, "\"x-last\": 0\n}\n"));
	assert_true(contains(once.buf, "\"x-range\": true"));
	assert_true(contains(once.buf, "\"x-res\": \"kept\""));
	assert_true(contains(once.buf, "\"x-alloc\": []"));
	assert_true(contains(once.buf, "\"x-second\": {}"));
	assert_true(contains(once.buf, "\"x-meta\": \"m\""));

	/* known keys first, unknown ones after them, in their order */
	p = strstr(once.buf, "\"health_status\"");
	assert_non_null(p);
	assert_true(strstr(once.buf, "\"x-alloc\"") > p);
	assert_true(strstr(once.buf, "\"x-top\"") >
		    strstr(once.buf, "\"metadata\""));
	assert_true(strstr(once.buf, "\"x-last\"") >
		    strstr(once.buf, "\"x-top\""));
	assert_true(strstr(once.buf, "\"x-meta\"") >
		    strstr(once.buf, "\"schema_version\""));
	assert_true(strstr(once.buf, "\"x-range\"") >
		    strstr(once.buf, "\"end\""));

	/* the second allocation keeps its own key, not the first one's */
	p = strstr(once.buf, "\"worktree\": \"b\"");
	assert_non_null(p);
	assert_true(strstr(once.buf, "\"x-alloc\"") < p);
	assert_true(strstr(once.buf, "\"x-second\"") > p);
	registry_free(reg);
	registry_free(again);
	sbuf_release(&once);
	sbuf_release(&twice);
}

static void test_unknown_keys_survive_changes(void **state UNUSED)
{
	struct registry *reg = parse_ok(unknown, 0);
	struct allocation a = { .port = 8082,
				.worktree = "c",
				.service = "web",
				.process_id = ALLOCATION_NO_PID };
	struct sbuf out = SBUF_INIT;

	registry_remove(reg, 0);
	registry_add(reg, &a);
	registry_serialize(reg, &out);
	assert_false(contains(out.buf, "x-alloc"));
	assert_true(contains(out.buf, "x-second"));
	assert_true(contains(out.buf, "x-top"));
	assert_true(contains(out.buf, "x-range"));
	assert_true(contains(out.buf, "x-meta"));
	registry_free(reg);
	sbuf_release(&out);
}

/*
 * An unknown value is written back as jansson reads it: members in their
 * order, strings decoded and re-encoded, numbers as jansson prints them.
 */
static void test_unknown_values_are_written_as_read(void **state UNUSED)
{
	const char text[] =
		"{\"ranges\": {\"web\": {\"start\": 8080, \"end\": 8099}},"
		" \"allocations\": [{\"port\": 8080, \"worktree\": \"a\","
		" \"service\": \"web\", \"x\": {\"b\": [1, 2.5, -0, 1E2],"
		" \"a\": \"\\u00e9\\t\\/\\\"\\\\\"}}],"
		" \"x-top\": \"caf\\u00e9 \xe2\x9c\x93\"}";
	const char value[] = "      \"x\": {\n"
			     "        \"b\": [\n"
			     "          1,\n"
			     "          2.5,\n"
			     "          0,\n"
			     "          100.0\n"
			     "        ],\n"
			     "        \"a\": \"\xc3\xa9\\t/\\\"\\\\\"\n"
			     "      }\n"
			     "    }\n";
	const char last[] = "  \"x-top\": \"caf\xc3\xa9 \xe2\x9c\x93\"\n}\n";
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;
	struct sbuf out = SBUF_INIT;

	assert_int_equal(
		0, registry_parse(&reg, text, strlen(text), PATH, 0, &err));
	registry_serialize(reg, &out);
	if (!contains(out.buf, value))
		fail_msg("'%s' lacks '%s'", out.buf, value);
	assert_string_equal(last, out.buf + out.len - strlen(last));
	registry_free(reg);
	sbuf_release(&out);
}

/* the output */
static const char expect_text[] =
	"{\n"
	"  \"ranges\": {\n"
	"    \"web\": {\n"
	"      \"start\": 8080,\n"
	"      \"end\": 8099,\n"
	"      \"description\": \"HTTP web servers\"\n"
	"    }\n"
	"  },\n"
	"  \"reserved\": [\n"
	"    {\n"
	"      \"start\": 6881,\n"
	"      \"end\": 6889\n"
	"    }\n"
	"  ],\n"
	"  \"allocations\": [\n"
	"    {\n"
	"      \"port\": 8080,\n"
	"      \"worktree\": \"feat\",\n"
	"      \"path\": \"/src/feat\",\n"
	"      \"service\": \"frontend\",\n"
	"      \"range\": \"web\",\n"
	"      \"allocated_at\": \"2026-11-21T10:00:00Z\",\n"
	"      \"allocated_by\": \"me@laptop\",\n"
	"      \"description\": \"Frontend dev server\",\n"
	"      \"process_id\": 4242,\n"
	"      \"health_status\": \"healthy\"\n"
	"    },\n"
	"    {\n"
	"      \"port\": 8081,\n"
	"      \"worktree\": \"other\",\n"
	"      \"path\": null,\n"
	"      \"service\": \"web\",\n"
	"      \"allocated_at\": null,\n"
	"      \"allocated_by\": null,\n"
	"      \"description\": null,\n"
	"      \"process_id\": null,\n"
	"      \"health_status\": \"unknown\"\n"
	"    }\n"
	"  ],\n"
	"  \"metadata\": {\n"
	"    \"version\": \"1.0.0\",\n"
	"    \"last_updated\": null,\n"
	"    \"total_allocations\": 2,\n"
	"    \"schema_version\": 1\n"
	"  }\n"
	"}\n";

static void test_serialize_writes_keys_in_order(void **state UNUSED)
{
	struct registry *reg = parse_ok(
		"{'ranges': {'web': {'start': 8080, 'end': 8099,"
		" 'description': 'HTTP web servers'}},"
		" 'reserved': [{'start': 6881, 'end': 6889}], 'allocations': []}",
		0);
	struct allocation full = {
		.port = 8080,
		.worktree = "feat",
		.path = "/src/feat",
		.service = "frontend",
		.range = "web",
		.allocated_at = "2026-11-21T10:00:00Z",
		.allocated_by = "me@laptop",
		.description = "Frontend dev server",
		.process_id = 4242,
		.health_status = "healthy",
	};
	struct allocation bare = { .port = 8081,
				   .worktree = "other",
				   .service = "web",
				   .process_id = ALLOCATION_NO_PID };
	struct sbuf out = SBUF_INIT;

	assert_int_equal(0, registry_add(reg, &full));
	assert_int_equal(1, registry_add(reg, &bare));
	registry_serialize(reg, &out);
	assert_string_equal(expect_text, out.buf);
	registry_free(reg);
	sbuf_release(&out);
}

static void test_seed_serializes_to_full_format(void **state UNUSED)
{
	struct registry *reg = parse_ok(seed, 0);
	struct sbuf out = SBUF_INIT;

	registry_serialize(reg, &out);
	assert_true(contains(out.buf, "\"reserved\": []"));
	assert_true(contains(out.buf, "\"path\": null"));
	assert_false(contains(out.buf, "\"range\""));
	assert_true(contains(out.buf,
			     "\"last_updated\": \"2025-01-02T03:04:06Z\""));
	registry_free(reg);
	sbuf_release(&out);
}

/* changes */
static void test_add_find_remove(void **state UNUSED)
{
	struct registry *reg = parse_ok(ALLOCS(""), 0);
	struct allocation a = { .port = 8080,
				.worktree = "a",
				.service = "web",
				.process_id = ALLOCATION_NO_PID };
	const struct allocation *got;

	assert_int_equal(-1, registry_find(reg, "a", "web"));
	assert_int_equal(0, registry_add(reg, &a));
	a.worktree = "b";
	a.port = 8081;
	assert_int_equal(1, registry_add(reg, &a));
	a.worktree = "c";
	a.port = 8082;
	a.description = "third";
	assert_int_equal(2, registry_add(reg, &a));
	assert_int_equal(3, reg->nr_allocs);

	got = &reg->allocs[2];
	assert_string_equal("c", got->worktree);
	assert_ptr_not_equal(a.worktree, got->worktree); /* a copy */
	assert_string_equal("third", got->description);
	assert_string_equal("unknown", got->health_status);
	assert_null(got->path);

	assert_int_equal(1, registry_find(reg, "b", "web"));
	assert_int_equal(-1, registry_find(reg, "b", "api"));
	assert_int_equal(2, registry_find_port(reg, 8082));
	assert_int_equal(-1, registry_find_port(reg, 8083));

	registry_remove(reg, 1);
	assert_int_equal(2, reg->nr_allocs);
	assert_string_equal("a", reg->allocs[0].worktree);
	assert_string_equal("c", reg->allocs[1].worktree);
	assert_int_equal(-1, registry_find(reg, "b", "web"));
	assert_int_equal(1, registry_find(reg, "c", "web"));
	assert_int_equal(-1, registry_find_port(reg, 8081));

	registry_remove(reg, 1);
	registry_remove(reg, 0);
	assert_int_equal(0, reg->nr_allocs);
	registry_free(reg);
}

static void test_set_string(void **state UNUSED)
{
	struct registry *reg =
		parse_ok(ALLOCS(WEB(", 'description': 'old'")), 0);
	struct allocation *a = &reg->allocs[0];

	registry_set_string(&a->description, "new");
	assert_string_equal("new", a->description);
	registry_set_string(&a->description, a->description);
	assert_string_equal("new", a->description);
	registry_set_string(&a->description, NULL);
	assert_null(a->description);
	registry_set_string(&a->health_status, "healthy");
	assert_string_equal("healthy", a->health_status);
	registry_free(reg);
}

/* the strings of a load share blocks, yet each is replaced on its own */
static void test_strings_of_a_load_are_replaced_alone(void **state UNUSED)
{
	struct registry *reg =
		parse_ok(ALLOCS(WEB(", 'path': '/src/a'") ", {'port': 8081,"
							  " 'worktree': 'b',"
							  " 'service': 'web'}"),
			 0);

	registry_set_string(&reg->ranges[0].description, "web servers");
	registry_set_string(&reg->allocs[1].worktree, "c");
	registry_set_string(&reg->allocs[0].path, "/src/feat");
	registry_set_string(&reg->path, "other.json");
	registry_remove(reg, 0);
	assert_int_equal(1, reg->nr_allocs);
	assert_string_equal("c", reg->allocs[0].worktree);
	assert_string_equal("web", reg->allocs[0].service);
	assert_string_equal("web servers", reg->ranges[0].description);
	assert_string_equal("other.json", reg->path);
	registry_free(reg);
}

static void test_free_accepts_null(void **state UNUSED)
{
	registry_free(NULL);
}

/* the defaults */
static void test_new_default_has_seven_ranges(void **state UNUSED)
{
	struct registry *reg = NULL;
	const struct range *r;

	registry_new_default(&reg, "x/ports.json");
	assert_string_equal("x/ports.json", reg->path);
	assert_int_equal(7, reg->nr_ranges);
	assert_int_equal(0, reg->nr_reserved);
	assert_int_equal(0, reg->nr_allocs);
	r = registry_find_range(reg, "default");
	assert_non_null(r);
	assert_int_equal(10000, r->start);
	assert_int_equal(11000, r->end);
	r = registry_range_for(reg, "cache", NULL);
	assert_int_equal(6379, r->start);
	assert_int_equal(6389, r->end);
	registry_free(reg);
}

static const char *argv0;

/*
 * The example file, found from the current directory (make runs the tests
 * from the top of the project), from this source file, or from the test
 * program (build/tests/ or build/san/tests/).
 */
static void example_path(struct sbuf *out)
{
	const char *rel = "design/worktrees/ports.json.example";
	const char *bases[] = { __FILE__, argv0 };
	const char *ups[] = { "/../../", "/../../../" };
	size_t i, j;

	sbuf_addstr(out, rel);
	for (i = 0; i < ARRAY_SIZE(bases); i++) {
		const char *slash = bases[i] ? strrchr(bases[i], '/') : NULL;

		for (j = 0; slash && j < ARRAY_SIZE(ups); j++) {
			if (!access(out->buf, R_OK))
				return;
			sbuf_reset(out);
			sbuf_add(out, bases[i], (size_t)(slash - bases[i]));
			sbuf_addf(out, "%s%s", ups[j], rel);
		}
	}
}

static void test_new_default_matches_example(void **state UNUSED)
{
	struct sbuf path = SBUF_INIT, want = SBUF_INIT, got = SBUF_INIT;
	struct registry *example = NULL, *def = NULL;
	struct error err = ERROR_INIT;
	size_t i;

	example_path(&path);
	if (registry_load(&example, path.buf, 0, &err))
		fail_msg("%s: %s", err.file, err.msg);
	registry_new_default(&def, "ports.json");

	assert_int_equal(example->nr_ranges, def->nr_ranges);
	for (i = 0; i < def->nr_ranges; i++) {
		assert_string_equal(example->ranges[i].name,
				    def->ranges[i].name);
		assert_int_equal(example->ranges[i].start,
				 def->ranges[i].start);
		assert_int_equal(example->ranges[i].end, def->ranges[i].end);
		assert_string_equal(example->ranges[i].description,
				    def->ranges[i].description);
	}
	registry_serialize(example, &want);
	registry_serialize(def, &got);
	assert_string_equal(want.buf, got.buf);

	registry_free(example);
	registry_free(def);
	sbuf_release(&path);
	sbuf_release(&want);
	sbuf_release(&got);
}

/* files */
struct tmp {
	char dir[64];
	struct sbuf path;
};

static int tmp_setup(void **state)
{
	struct tmp *t = xcalloc(1, sizeof(*t));

	if (make_temp_dir(t->dir, sizeof(t->dir), "registry") < 0) {
		free(t);
		return -1;
	}
	sbuf_init(&t->path);
	sbuf_addf(&t->path, "%s/ports.json", t->dir);
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmp *t = *state;

	rm_rf(t->dir);
	sbuf_release(&t->path);
	free(t);
	return 0;
}

static bool is_utc_timestamp(const char *s)
{
	const char *shape = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	if (strlen(s) != strlen(shape))
		return false;
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9')
				    : s[i] != shape[i])
			return false;
	return true;
}

static void test_save_then_load_back(void **state)
{
	struct tmp *t = *state;
	struct allocation a = { .port = 8080,
				.worktree = "feat",
				.path = "/src/feat",
				.service = "web",
				.allocated_at = "2026-11-21T10:00:00Z",
				.process_id = 99,
				.health_status = "healthy" };
	struct registry *reg = NULL, *back = NULL;
	struct sbuf file = SBUF_INIT, mine = SBUF_INIT, theirs = SBUF_INIT;
	struct error err = ERROR_INIT;
	struct stat st;
	mode_t mask = umask(022);

	registry_new_default(&reg, t->path.buf);
	registry_add(reg, &a);
	a.port = 10000;
	a.service = "mailhog";
	registry_add(reg, &a);
	assert_int_equal(0, registry_save(reg, &err));
	umask(mask);

	assert_int_equal(0, stat(t->path.buf, &st));
	assert_int_equal(0644, st.st_mode & 07777);
	read_file(&file, t->path.buf);
	assert_true(contains(file.buf, "\"total_allocations\": 2,"));
	assert_int_equal('\n', file.buf[file.len - 1]);

	assert_int_equal(0, registry_load(&back, t->path.buf, 0, &err));
	assert_int_equal(2, back->nr_allocs);
	assert_int_equal(1, registry_find(back, "feat", "mailhog"));
	assert_string_equal("/src/feat", back->allocs[1].path);
	assert_int_equal(99, back->allocs[1].process_id);
	assert_string_equal("healthy", back->allocs[1].health_status);

	/* the file is what both registries serialize to */
	registry_serialize(reg, &mine);
	registry_serialize(back, &theirs);
	assert_string_equal(file.buf, mine.buf);
	assert_string_equal(file.buf, theirs.buf);

	registry_free(reg);
	registry_free(back);
	sbuf_release(&file);
	sbuf_release(&mine);
	sbuf_release(&theirs);
}

static void test_save_sets_metadata(void **state)
{
	struct tmp *t = *state;
	struct registry *reg = NULL;
	struct error err = ERROR_INIT;
	struct sbuf file = SBUF_INIT;
	char *stamp;

	/* the seed says 2 allocations, updated in 2025 */
	stamp = dq(seed);
	write_file(t->path.buf, stamp);
	free(stamp);
	assert_int_equal(0, registry_load(&reg, t->path.buf, 0, &err));
	registry_remove(reg, 0);
	assert_int_equal(0, registry_save(reg, &err));
	registry_free(reg);

	read_file(&file, t->path.buf);
	assert_true(contains(file.buf, "\"total_allocations\": 1,"));
	stamp = strstr(file.buf, "\"last_updated\": \"");
	assert_non_null(stamp);
	stamp += strlen("\"last_updated\": \"");
	stamp[20] = '\0';
	assert_true(is_utc_timestamp(stamp));
	assert_string_not_equal("2025-01-02T03:04:06Z", stamp);
	sbuf_release(&file);
}

static void test_save_refuses_what_would_not_load(void **state)
{
	struct tmp *t = *state;
	struct registry *reg = NULL;
	struct error err = ERROR_INIT;
	struct sbuf before = SBUF_INIT, after = SBUF_INIT;
	struct allocation bad = { .port = 8080,
				  .worktree = "caf\xe9",
				  .service = "web",
				  .process_id = ALLOCATION_NO_PID };

	write_file(t->path.buf, "{\"ranges\": {}, \"allocations\": []}\n");
	read_file(&before, t->path.buf);
	registry_new_default(&reg, t->path.buf);
	registry_add(reg, &bad);

	assert_int_equal(ERR_CORRUPT, registry_save(reg, &err));
	assert_string_equal("allocations[0].worktree", err.field);
	assert_string_equal("is not valid UTF-8", err.msg);
	assert_true(contains(err.hint, "nothing was written"));

	error_clear(&err);
	registry_set_string(&reg->allocs[0].worktree, "cafe");
	reg->allocs[0].port = 1000;
	assert_int_equal(ERR_CORRUPT, registry_save(reg, &err));
	assert_string_equal("allocations[0].port", err.field);

	read_file(&after, t->path.buf);
	assert_string_equal(before.buf, after.buf);
	assert_int_equal(1, count_entries(t->dir));
	registry_free(reg);
	sbuf_release(&before);
	sbuf_release(&after);
}

static void test_save_keeps_duplicate_ports(void **state)
{
	struct tmp *t = *state;
	struct registry *reg = parse_ok(TWO_ON_8080, REGISTRY_ALLOW_DUPLICATES);
	struct error err = ERROR_INIT;

	/* 'check' and the commands that repair need to write them back */
	registry_set_string(&reg->path, t->path.buf);
	assert_int_equal(0, registry_save(reg, &err));
	registry_free(reg);
	reg = NULL;
	assert_int_equal(ERR_CORRUPT,
			 registry_load(&reg, t->path.buf, 0, &err));
	error_clear(&err);
	assert_int_equal(0, registry_load(&reg, t->path.buf,
					  REGISTRY_ALLOW_DUPLICATES, &err));
	assert_int_equal(3, reg->nr_allocs);
	registry_free(reg);
}

static void test_load_missing_file(void **state)
{
	struct tmp *t = *state;
	struct registry *reg = (struct registry *)t;
	struct error err = ERROR_INIT;

	assert_int_equal(ERR_NOTFOUND,
			 registry_load(&reg, t->path.buf, 0, &err));
	assert_null(reg);
	assert_string_equal(t->path.buf, err.file);
	assert_string_equal("no registry", err.msg);
	assert_string_equal("run 'git worktree-ports init' to create it",
			    err.hint);
	assert_int_equal(0, count_entries(t->dir));
}

static void test_load_unreadable(void **state)
{
	struct tmp *t = *state;
	struct registry *reg = NULL;
	struct error err = ERROR_INIT;

	assert_int_equal(0, mkdir(t->path.buf, 0755));
	assert_int_equal(ERR_FAIL, registry_load(&reg, t->path.buf, 0, &err));
	assert_null(reg);
	assert_string_equal(t->path.buf, err.file);
	assert_true(contains(err.msg, "cannot read the registry: "));
	rmdir(t->path.buf);
}

static void test_corrupt_file_is_reported_and_kept(void **state)
{
	struct tmp *t = *state;
	struct registry *reg = NULL;
	struct error err = ERROR_INIT;
	struct sbuf after = SBUF_INIT;
	const char text[] = "{ oops\n";

	write_file(t->path.buf, text);
	assert_int_equal(ERR_CORRUPT,
			 registry_load(&reg, t->path.buf, 0, &err));
	assert_null(reg);
	assert_string_equal(t->path.buf, err.file);
	assert_int_equal(1, err.line);
	assert_int_equal(6, err.column);
	read_file(&after, t->path.buf);
	assert_int_equal(strlen(text), after.len);
	assert_memory_equal(text, after.buf, after.len);
	assert_int_equal(1, count_entries(t->dir));
	sbuf_release(&after);
}

static void test_invalid_field_file_is_reported_and_kept(void **state)
{
	struct tmp *t = *state;
	struct registry *reg = NULL;
	struct error err = ERROR_INIT;
	struct sbuf before = SBUF_INIT, after = SBUF_INIT;
	char *text =
		dq(ALLOCS("{'port': 80, 'worktree': 'a', 'service': 'web'}"));

	write_file(t->path.buf, text);
	read_file(&before, t->path.buf);
	assert_int_equal(ERR_CORRUPT,
			 registry_load(&reg, t->path.buf, 0, &err));
	assert_string_equal(t->path.buf, err.file);
	assert_string_equal("allocations[0].port", err.field);
	read_file(&after, t->path.buf);
	assert_string_equal(before.buf, after.buf);
	assert_int_equal(1, count_entries(t->dir));
	free(text);
	sbuf_release(&before);
	sbuf_release(&after);
}

static void test_lock_excludes_a_second_holder(void **state)
{
	struct tmp *t = *state;
	struct lockfile one = LOCKFILE_INIT, two = LOCKFILE_INIT;
	struct error err = ERROR_INIT;
	struct sbuf lock = SBUF_INIT;

	assert_int_equal(0, registry_lock(&one, t->path.buf, 0, &err));
	sbuf_addf(&lock, "%s.lock", t->path.buf);
	assert_int_equal(0, access(lock.buf, F_OK));
	assert_int_equal(ERR_LOCKED,
			 registry_lock(&two, t->path.buf, 10, &err));
	lockfile_unlock(&one);
	error_clear(&err);
	assert_int_equal(0, registry_lock(&two, t->path.buf, 0, &err));
	lockfile_unlock(&two);
	sbuf_release(&lock);
}

/* size */
#define MANY 50000

/* MANY allocations on distinct ports, one per worktree, then 'last'. */
static void many(struct sbuf *out, const char *last)
{
	size_t i;

	sbuf_addstr(out, "{\"ranges\": {\"default\": {\"start\": 1024,"
			 " \"end\": 65535}}, \"allocations\": [");
	for (i = 0; i < MANY; i++)
		sbuf_addf(out,
			  "%s{\"port\": %zu, \"worktree\": \"wt-%zu\","
			  " \"service\": \"svc\"}",
			  i ? ", " : "", 1024 + i, i);
	sbuf_addf(out, "%s]}", last);
}

static void test_many_allocations(void **state UNUSED)
{
	struct sbuf text = SBUF_INIT;
	struct registry *reg = NULL;
	struct error err = ERROR_INIT;

	many(&text, "");
	assert_int_equal(
		0, registry_parse(&reg, text.buf, text.len, PATH, 0, &err));
	assert_int_equal(MANY, reg->nr_allocs);
	assert_int_equal(MANY - 1, registry_find(reg, "wt-49999", "svc"));
	registry_free(reg);
	reg = NULL;

	sbuf_reset(&text);
	many(&text, ", {\"port\": 2000, \"worktree\": \"late\","
		    " \"service\": \"svc\"}");
	assert_int_equal(ERR_CORRUPT, registry_parse(&reg, text.buf, text.len,
						     PATH, 0, &err));
	assert_string_equal("allocations[50000].port", err.field);
	assert_string_equal(
		"port 2000 is allocated twice: allocations[976] and allocations[50000]",
		err.msg);

	sbuf_reset(&text);
	many(&text, ", {\"port\": 65000, \"worktree\": \"wt-7\","
		    " \"service\": \"svc\"}");
	error_clear(&err);
	assert_int_equal(ERR_CORRUPT,
			 registry_parse(&reg, text.buf, text.len, PATH,
					REGISTRY_ALLOW_DUPLICATES, &err));
	assert_string_equal("allocations[50000]", err.field);
	assert_true(contains(err.msg, "allocations[7] and allocations[50000]"));
	sbuf_release(&text);
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(int argc UNUSED, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_level_array),
		cmocka_unit_test(test_ranges_missing),
		cmocka_unit_test(test_ranges_not_object),
		cmocka_unit_test(test_allocations_missing),
		cmocka_unit_test(test_allocations_not_array),
		cmocka_unit_test(test_reserved_not_array),
		cmocka_unit_test(test_metadata_not_object),
		cmocka_unit_test(test_range_not_object),
		cmocka_unit_test(test_range_start_string),
		cmocka_unit_test(test_range_start_real),
		cmocka_unit_test(test_range_end_missing),
		cmocka_unit_test(test_range_end_null),
		cmocka_unit_test(test_range_description_number),
		cmocka_unit_test(test_range_start_after_end),
		cmocka_unit_test(test_range_start_below_1024),
		cmocka_unit_test(test_range_end_above_65535),
		cmocka_unit_test(test_range_name_invalid),
		cmocka_unit_test(test_range_name_with_space),
		cmocka_unit_test(test_range_name_too_long),
		cmocka_unit_test(test_reserved_entry_not_object),
		cmocka_unit_test(test_reserved_start_string),
		cmocka_unit_test(test_reserved_start_after_end),
		cmocka_unit_test(test_reserved_negative),
		cmocka_unit_test(test_alloc_not_object),
		cmocka_unit_test(test_alloc_port_missing),
		cmocka_unit_test(test_alloc_port_string),
		cmocka_unit_test(test_alloc_port_null),
		cmocka_unit_test(test_alloc_worktree_missing),
		cmocka_unit_test(test_alloc_worktree_number),
		cmocka_unit_test(test_alloc_worktree_empty),
		cmocka_unit_test(test_alloc_service_missing),
		cmocka_unit_test(test_alloc_service_null),
		cmocka_unit_test(test_alloc_service_empty),
		cmocka_unit_test(test_alloc_path_number),
		cmocka_unit_test(test_alloc_range_bool),
		cmocka_unit_test(test_alloc_allocated_at_number),
		cmocka_unit_test(test_alloc_allocated_by_array),
		cmocka_unit_test(test_alloc_description_object),
		cmocka_unit_test(test_alloc_process_id_string),
		cmocka_unit_test(test_alloc_process_id_real),
		cmocka_unit_test(test_alloc_process_id_zero),
		cmocka_unit_test(test_alloc_process_id_negative),
		cmocka_unit_test(test_alloc_health_number),
		cmocka_unit_test(test_alloc_health_unknown_word),
		cmocka_unit_test(test_alloc_port_below_1024),
		cmocka_unit_test(test_alloc_port_negative),
		cmocka_unit_test(test_alloc_port_above_65535),
		cmocka_unit_test(test_alloc_index_in_field),
		cmocka_unit_test(test_alloc_no_range_no_default),
		cmocka_unit_test(test_alloc_explicit_range_missing),
		cmocka_unit_test(test_meta_version_number),
		cmocka_unit_test(test_meta_last_updated_number),
		cmocka_unit_test(test_meta_total_string),
		cmocka_unit_test(test_meta_total_negative),
		cmocka_unit_test(test_meta_schema_string),
		cmocka_unit_test(test_meta_schema_newer),
		cmocka_unit_test(test_duplicate_port_is_refused),
		cmocka_unit_test(test_duplicate_port_allowed_by_flag),
		cmocka_unit_test(test_duplicate_worktree_service_is_refused),
		cmocka_unit_test(
			test_duplicate_worktree_service_even_with_flag),
		cmocka_unit_test(test_same_service_in_two_worktrees_is_fine),
		cmocka_unit_test(test_malformed_json_has_line_and_column),
		cmocka_unit_test(test_duplicate_json_key_is_refused),
		cmocka_unit_test(test_empty_text_is_corrupt),
		cmocka_unit_test(test_first_error_is_kept),
		cmocka_unit_test(test_seed_format_loads),
		cmocka_unit_test(test_full_format_loads),
		cmocka_unit_test(test_absent_health_status_is_unknown),
		cmocka_unit_test(test_service_without_range_uses_default),
		cmocka_unit_test(test_ports_outside_range_or_reserved_load),
		cmocka_unit_test(test_range_for),
		cmocka_unit_test(test_range_names_that_are_valid),
		cmocka_unit_test(test_reserved_at),
		cmocka_unit_test(test_unknown_keys_survive_round_trip),
		cmocka_unit_test(test_unknown_keys_survive_changes),
		cmocka_unit_test(test_unknown_values_are_written_as_read),
		cmocka_unit_test(test_serialize_writes_keys_in_order),
		cmocka_unit_test(test_seed_serializes_to_full_format),
		cmocka_unit_test(test_add_find_remove),
		cmocka_unit_test(test_set_string),
		cmocka_unit_test(test_strings_of_a_load_are_replaced_alone),
		cmocka_unit_test(test_free_accepts_null),
		cmocka_unit_test(test_new_default_has_seven_ranges),
		cmocka_unit_test(test_new_default_matches_example),
		TMP_TEST(test_save_then_load_back),
		TMP_TEST(test_save_sets_metadata),
		TMP_TEST(test_save_refuses_what_would_not_load),
		TMP_TEST(test_save_keeps_duplicate_ports),
		TMP_TEST(test_load_missing_file),
		TMP_TEST(test_load_unreadable),
		TMP_TEST(test_corrupt_file_is_reported_and_kept),
		TMP_TEST(test_invalid_field_file_is_reported_and_kept),
		TMP_TEST(test_lock_excludes_a_second_holder),
		cmocka_unit_test(test_many_allocations),
	};

	argv0 = argv[0];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
