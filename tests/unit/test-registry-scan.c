#include "common.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <cmocka.h>

#include "error.h"
#include "registry-scan.h"
#include "registry.h"
#include "sbuf.h"

/*
 * The fast reader (registry-scan.c) against jansson: for every text, the
 * default reading (fast, then jansson) gives what jansson alone gives,
 * the same registry or the same error, and the fast reader alone never
 * accepts what jansson refuses. The texts below are written with single
 * quotes, which dq() turns into double ones.
 */

#define PATH "ports.json"

/* A file for registry_load(), which reads in place, made by main(). */
static char file[] = "/tmp/test-registry-scan.XXXXXX";

static char *dq(const char *s)
{
	char *copy = xstrdup(s), *p;

	for (p = copy; *p; p++)
		if (*p == '\'')
			*p = '"';
	return copy;
}

struct outcome {
	int ret;
	struct registry *reg;
	struct error err;
};

static void read_with(struct outcome *o, const char *text, size_t len,
		      unsigned flags)
{
	memset(o, 0, sizeof(*o));
	o->ret = registry_parse(&o->reg, text, len, PATH, flags, &o->err);
}

static void load_with(struct outcome *o, unsigned flags)
{
	memset(o, 0, sizeof(*o));
	o->ret = registry_load(&o->reg, file, flags, &o->err);
}

static void write_file(const char *text, size_t len)
{
	FILE *f = fopen(file, "w");

	assert_non_null(f);
	assert_int_equal(len, fwrite(text, 1, len, f));
	assert_int_equal(0, fclose(f));
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

#define SAME(what, cond)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fail_msg("%s differs, reading:\n%.*s", what,           \
				 (int)(len > 2000 ? 2000 : len), text);        \
	} while (0)

static void assert_same_span(const struct range *a, const struct range *b,
			     const char *text, size_t len)
{
	SAME("a range name", same_str(a->name, b->name));
	SAME("a start", a->start == b->start);
	SAME("an end", a->end == b->end);
	SAME("a description", same_str(a->description, b->description));
}

/* 'a' and 'b' hold the same registry and serialize to the same bytes. */
static void assert_same_registry(const struct registry *a,
				 const struct registry *b, const char *text,
				 size_t len)
{
	struct sbuf sa = SBUF_INIT, sb = SBUF_INIT;
	size_t i;

	SAME("the path", same_str(a->path, b->path));
	SAME("the number of ranges", a->nr_ranges == b->nr_ranges);
	for (i = 0; i < a->nr_ranges; i++)
		assert_same_span(&a->ranges[i], &b->ranges[i], text, len);
	SAME("the number of reservations", a->nr_reserved == b->nr_reserved);
	for (i = 0; i < a->nr_reserved; i++)
		assert_same_span(&a->reserved[i], &b->reserved[i], text, len);
	SAME("the number of allocations", a->nr_allocs == b->nr_allocs);
	for (i = 0; i < a->nr_allocs; i++) {
		const struct allocation *x = &a->allocs[i], *y = &b->allocs[i];

		SAME("a port", x->port == y->port);
		SAME("a worktree", same_str(x->worktree, y->worktree));
		SAME("a path", same_str(x->path, y->path));
		SAME("a service", same_str(x->service, y->service));
		SAME("a range", same_str(x->range, y->range));
		SAME("allocated_at",
		     same_str(x->allocated_at, y->allocated_at));
		SAME("allocated_by",
		     same_str(x->allocated_by, y->allocated_by));
		SAME("a description", same_str(x->description, y->description));
		SAME("a process id", x->process_id == y->process_id);
		SAME("a health status",
		     same_str(x->health_status, y->health_status));
		SAME("a health check",
		     same_str(x->health_checked_at, y->health_checked_at));
	}
	registry_serialize(a, &sa);
	registry_serialize(b, &sb);
	SAME("the serialized registry", !strcmp(sa.buf, sb.buf));
	sbuf_release(&sa);
	sbuf_release(&sb);
}

static void assert_same_error(const struct error *a, const struct error *b,
			      const char *text, size_t len)
{
	SAME("the error code", a->code == b->code);
	SAME("the error line", a->line == b->line);
	SAME("the error column", a->column == b->column);
	SAME("the error file", !strcmp(a->file, b->file));
	SAME("the error field", !strcmp(a->field, b->field));
	SAME("the error message", !strcmp(a->msg, b->msg));
	SAME("the error hint", !strcmp(a->hint, b->hint));
}

/*
 * Read 'bytes' three ways and check that they agree. Returns whether the
 * fast reader read it on its own. The readers get a copy of exactly
 * 'len' bytes, without a NUL after them, so that the sanitizer sees them
 * read one byte too far.
 */
static bool check_bytes(const char *bytes, size_t len, unsigned flags)
{
	struct outcome fast, json, dflt;
	char *text = xmalloc(len ? len : 1);
	bool read;

	memcpy(text, bytes, len);
	read_with(&json, text, len, flags | REGISTRY_NO_FAST_PATH);
	read_with(&fast, text, len, flags | REGISTRY_FAST_PATH_ONLY);
	read_with(&dflt, text, len, flags);
	read = !fast.ret;
	if (json.ret) {
		SAME("acceptance (the fast reader read what jansson refuses)",
		     fast.ret);
		SAME("the return value", dflt.ret == json.ret);
		SAME("the result", !dflt.reg && !fast.reg);
		assert_same_error(&dflt.err, &json.err, text, len);
	} else {
		SAME("acceptance", !dflt.ret && dflt.reg);
		assert_same_registry(dflt.reg, json.reg, text, len);
		if (read)
			assert_same_registry(fast.reg, json.reg, text, len);
		else
			SAME("the fast reader's error",
			     fast.ret == ERR_CORRUPT && !fast.reg);
	}
	registry_free(fast.reg);
	registry_free(dflt.reg);

	/*
	 * The same from a file, which the fast reader reads in place: when
	 * it gives up, having cut strings in the buffer, jansson reads the
	 * file again.
	 */
	write_file(text, len);
	load_with(&dflt, flags);
	load_with(&fast, flags | REGISTRY_FAST_PATH_ONLY);
	registry_free(json.reg);
	load_with(&json, flags | REGISTRY_NO_FAST_PATH);
	SAME("the return value (loaded)", dflt.ret == json.ret);
	SAME("acceptance (loaded)", !fast.ret == read);
	if (json.ret) {
		SAME("the result (loaded)", !dflt.reg);
		assert_same_error(&dflt.err, &json.err, text, len);
	} else {
		assert_same_registry(dflt.reg, json.reg, text, len);
		if (read)
			assert_same_registry(fast.reg, json.reg, text, len);
	}
	registry_free(fast.reg);
	registry_free(dflt.reg);
	registry_free(json.reg);
	free(text);
	return read;
}

/* Valid, and read by the fast reader. */
static void expect_fast(const char *text, unsigned flags)
{
	char *copy = dq(text);
	struct outcome o;

	read_with(&o, copy, strlen(copy), flags | REGISTRY_NO_FAST_PATH);
	if (o.ret)
		fail_msg("not valid: %s: %s\n%s", o.err.field, o.err.msg, copy);
	registry_free(o.reg);
	if (!check_bytes(copy, strlen(copy), flags))
		fail_msg("the fast reader gave up on:\n%s", copy);
	free(copy);
}

/* Valid, but left to jansson. */
static void expect_slow(const char *text)
{
	char *copy = dq(text);
	struct outcome o;

	read_with(&o, copy, strlen(copy), REGISTRY_NO_FAST_PATH);
	if (o.ret)
		fail_msg("not valid: %s: %s\n%s", o.err.field, o.err.msg, copy);
	registry_free(o.reg);
	if (check_bytes(copy, strlen(copy), 0))
		fail_msg("the fast reader read:\n%s", copy);
	free(copy);
}

/* Refused by jansson, with the same error either way. */
static void expect_refused_bytes(const char *text, size_t len)
{
	struct outcome o;

	read_with(&o, text, len, REGISTRY_NO_FAST_PATH);
	if (!o.ret)
		fail_msg("valid:\n%.*s", (int)len, text);
	registry_free(o.reg);
	check_bytes(text, len, 0);
}

static void expect_refused(const char *text)
{
	char *copy = dq(text);

	expect_refused_bytes(copy, strlen(copy));
	free(copy);
}

/* A registry with two ranges and the allocations 'a'. */
#define ALLOCS(a)                                                              \
	"{'ranges': {'web': {'start': 8080, 'end': 8099},"                     \
	" 'default': {'start': 10000, 'end': 11000}},"                         \
	" 'allocations': [" a "]}"

/* One allocation of 'web' to 'feat', with more keys. */
#define WEB(more) "{'port': 8080, 'worktree': 'feat', 'service': 'web'" more "}"

/* An allocation of 'web' whose port is 'p'. */
#define PORT(p) ALLOCS("{'port': " p ", 'worktree': 'a', 'service': 'web'}")

/* An allocation whose description is 's' (the bytes of a JSON string). */
#define DESCRIPTION(s) ALLOCS(WEB(", 'description': " s))

static const char seed[] =
	"{\n"
	"  'ranges': {\n"
	"    'web':      {'start': 8080, 'end': 8099, 'description': 'HTTP web servers'},\n"
	"    'database': {'start': 5432, 'end': 5439, 'description': 'Database services'}\n"
	"  },\n"
	"  'allocations': [\n"
	"    {'port': 8080, 'worktree': 'review-GH-42', 'service': 'web',\n"
	"     'allocated_at': '2026-11-21T10:00:00Z', 'allocated_by': 'me@laptop',\n"
	"     'description': 'Frontend dev server', 'process_id': null,\n"
	"     'health_status': 'unknown'}\n"
	"  ],\n"
	"  'metadata': {'version': '1.0.0', 'last_updated': '2026-11-21T10:00:00Z',\n"
	"               'total_allocations': 1, 'schema_version': 1}\n"
	"}\n";

static const char full[] =
	"{\n"
	"  'ranges': {\n"
	"    'web': {'start': 8080, 'end': 8099, 'description': 'HTTP web servers'},\n"
	"    'api.v2_x-1': {'start': 3000, 'end': 3099, 'description': null},\n"
	"    'default': {'start': 10000, 'end': 11000}\n"
	"  },\n"
	"  'reserved': [{'start': 0, 'end': 1023, 'description': 'system'},\n"
	"               {'start': 65535, 'end': 65535}],\n"
	"  'allocations': [\n"
	"    {'port': 8080, 'worktree': '.main', 'path': '/home/me/src/app',\n"
	"     'service': 'web', 'allocated_at': '2026-11-21T10:00:00Z',\n"
	"     'allocated_by': 'me@laptop', 'description': 'Frontend dev server',\n"
	"     'process_id': 2147483647, 'health_status': 'healthy',\n"
	"     'health_checked_at': '2026-11-21T10:05:00Z'},\n"
	"    {'port': 1024, 'worktree': 'feat', 'path': null, 'service': 'api',\n"
	"     'range': 'api.v2_x-1', 'allocated_at': null, 'allocated_by': null,\n"
	"     'description': null, 'process_id': null, 'health_status': null},\n"
	"    {'port': 65535, 'worktree': 'feat', 'service': 'db',\n"
	"     'process_id': 1, 'health_status': 'not_running'},\n"
	"    {'port': 10000, 'worktree': 'x', 'service': 'web',\n"
	"     'health_status': 'unhealthy'}\n"
	"  ],\n"
	"  'metadata': {'version': '1.0.0', 'last_updated': null,\n"
	"               'total_allocations': 4, 'schema_version': 1}\n"
	"}\n";

static const char unknown_everywhere[] =
	"{'x-top': {'nested': [1, -2, 0, -0, null, true, false, 'é', {}, []]},"
	" 'ranges': {'web': {'x-range': true, 'start': 8080, 'end': 8099,"
	" 'x-obj': {'port': 1, 'ranges': {}, 'deep': [[[[[['x']]]]]]}}},"
	" 'reserved': [{'start': 9000, 'end': 9001, 'x-res': 'kept'},"
	" {'start': 9002, 'end': 9003}, {'start': 9004, 'end': 9005, 'x': 1}],"
	" 'allocations': [{'port': 8080, 'x-alloc': [], 'worktree': 'a',"
	" 'service': 'web'}, {'port': 8081, 'worktree': 'b', 'service': 'web',"
	" 'x-second': {}, 'x-big': 9223372036854775807,"
	" 'x-small': -9223372036854775808}],"
	" 'metadata': {'x-meta': 'm', 'version': '1.0.0', 'x-null': null},"
	" 'x-last': 0, 'x-string': 'a \\' b'}";

static const char escapes[] = DESCRIPTION(
	"'quote \\\" backslash \\\\ slash \\/ b \\b f \\f n \\n r \\r t \\t'");

static const char escaped_keys[] =
	"{'ranges': {'web': {'start': 8080, 'end': 8099, 'x\\/': 1}},"
	" 'allocations': [{'port': 8080, 'worktree': 'a', 'service': 'web',"
	" '\\n': [{'\\\\u': 1}]}],"
	" 'x\\ty': {'a\\\"b': 1, 'a\\\\b': 2, 'a/b': 3, 'a\\/b\\/': 4}}";

static const char unicode[] = ALLOCS(
	"{'port': 8080, 'worktree': 'caf\xc3\xa9', 'path': '/src/\xe2\x9c\x93',"
	" 'service': 'web', 'description': '\xf0\x9f\x98\x80 \xe4\xb8\xad\xe6"
	"\x96\x87 \xc3\xa9\x7f', '\xc3\xa9-key': '\xf4\x8f\xbf\xbf'}");

static const char empty_sections[] =
	"{'ranges': {}, 'reserved': [], 'allocations': [], 'metadata': {}}";

static const char compact[] =
	"{'ranges':{'web':{'start':8080,'end':8099}},'allocations':"
	"[{'port':8080,'worktree':'a','service':'web','x':[1,{'y':null}]}]}";

static const char odd_space[] =
	"\r\n\t {\r\n\t'ranges'\t:\r\n{ 'web' :{'start'\n:\n8080\t,'end' : 8099}"
	"\t}\r\n, 'allocations' :\t[ ] \r\n}\r\n\t ";

static const char other_order[] =
	"{'metadata': {'schema_version': 1, 'version': '1.0.0'},"
	" 'x': 1, 'allocations': [{'health_status': 'healthy',"
	" 'service': 'web', 'process_id': 7, 'worktree': 'b', 'port': 8081},"
	" {'service': 'web', 'worktree': 'a', 'port': 8080}],"
	" 'reserved': [], 'ranges': {'web': {'end': 8099, 'start': 8080}}}";

static const char duplicate_ports[] =
	ALLOCS(WEB("") ", {'port': 8080, 'worktree': 'b', 'service': 'web'}");

static void add_many_keys(struct sbuf *sb, const char *prefix, int nr)
{
	int i;

	for (i = 0; i < nr; i++)
		sbuf_addf(sb, "%s'%s%d': %d", i ? ", " : "", prefix, i, i);
}

/* An unknown object and a range table too large to compare pairwise. */
static void test_many_keys(void **state UNUSED)
{
	struct sbuf sb = SBUF_INIT;
	int i;

	sbuf_addstr(&sb, "{'ranges': {");
	for (i = 0; i < 40; i++)
		sbuf_addf(&sb, "%s'r%d': {'start': %d, 'end': %d}",
			  i ? ", " : "", i, 2000 + i, 2000 + i);
	sbuf_addstr(&sb, "}, 'allocations': [], 'x': {");
	add_many_keys(&sb, "k", 100);
	sbuf_addstr(&sb, "}}");
	expect_fast(sb.buf, 0);

	/* the same, with one key twice, early and late */
	sbuf_reset(&sb);
	sbuf_addstr(&sb, "{'ranges': {}, 'allocations': [], 'x': {");
	add_many_keys(&sb, "k", 100);
	sbuf_addstr(&sb, ", 'k3': 0}}");
	expect_refused(sb.buf);
	sbuf_reset(&sb);
	sbuf_addstr(&sb, "{'ranges': {}, 'allocations': [], 'x': {");
	add_many_keys(&sb, "k", 100);
	sbuf_addstr(&sb, ", 'k99': 0}}");
	expect_refused(sb.buf);
	sbuf_release(&sb);
}

static void nest(struct sbuf *sb, int depth)
{
	int i;

	sbuf_addstr(sb, "{'ranges': {}, 'allocations': [], 'x': ");
	for (i = 0; i < depth; i++)
		sbuf_addch(sb, '[');
	for (i = 0; i < depth; i++)
		sbuf_addch(sb, ']');
	sbuf_addch(sb, '}');
}

static void test_nesting(void **state UNUSED)
{
	struct sbuf sb = SBUF_INIT;

	nest(&sb, SCAN_MAX_DEPTH - 1); /* the top-level object is one */
	expect_fast(sb.buf, 0);
	sbuf_reset(&sb);
	nest(&sb, SCAN_MAX_DEPTH);
	expect_slow(sb.buf);
	sbuf_reset(&sb);
	nest(&sb, 3000); /* deeper than jansson goes */
	expect_refused(sb.buf);
	sbuf_release(&sb);
}

static void test_fast_reads_the_seed_format(void **state UNUSED)
{
	expect_fast(seed, 0);
}

static void test_fast_reads_every_field(void **state UNUSED)
{
	expect_fast(full, 0);
}

static void test_fast_reads_unknown_keys(void **state UNUSED)
{
	expect_fast(unknown_everywhere, 0);
}

static void test_fast_reads_escapes(void **state UNUSED)
{
	expect_fast(escapes, 0);
	expect_fast(escaped_keys, 0);
}

static void test_fast_reads_unicode(void **state UNUSED)
{
	expect_fast(unicode, 0);
}

static void test_fast_reads_layouts(void **state UNUSED)
{
	expect_fast(empty_sections, 0);
	expect_fast(compact, 0);
	expect_fast(odd_space, 0);
	expect_fast(other_order, 0);
}

static void test_fast_reads_duplicate_ports_when_allowed(void **state UNUSED)
{
	expect_fast(duplicate_ports, REGISTRY_ALLOW_DUPLICATES);
	expect_refused(duplicate_ports);
}

/* valid, but jansson's to read */
/* a file cut short anywhere, even inside a UTF-8 sequence or an escape */
static void test_every_prefix(void **state UNUSED)
{
	const char *const texts[] = { full, unknown_everywhere, escapes,
				      unicode };
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(texts); i++) {
		char *text = dq(texts[i]);

		for (len = 0; len <= strlen(text); len++)
			check_bytes(text, len, 0);
		free(text);
	}
}

static void test_jansson_reads_the_rest(void **state UNUSED)
{
	expect_slow(DESCRIPTION("'caf\\u00e9 \\ud83d\\ude00'"));
	expect_slow(ALLOCS(WEB(", 'x': 2.5")));
	expect_slow(ALLOCS(WEB(", 'x': [1e3, 1E-2, -0.0]")));
	expect_slow("{'ranges': {}, 'allocations': [], 'x\\u0041': 1}");
	/* the unknown value keeps jansson's form */
	expect_slow("{'ranges': {}, 'allocations': [], 'x': {'b': 1.50,"
		    " 'a': '\\u00e9'}}");
}

/* JSON that is not */
static void test_refused_syntax(void **state UNUSED)
{
	static const char *const texts[] = {
		"",
		"   \n",
		"[]",
		"'ranges'",
		"{",
		"{'ranges': {}, 'allocations': [",
		"{'ranges': {}, 'allocations': []",
		"{'ranges': {}, 'allocations': [], 'x': 'abc",
		"{'ranges': {}, 'allocations': [], 'x': 12",
		"{'ranges': {}, 'allocations': [], 'x': tru",
		"{'ranges': {}, 'allocations': [], 'x': nul}",
		"{'ranges': {}, 'allocations': [], 'x': True}",
		"{'ranges': {}, 'allocations': [], 'x': nullx}",
		"{'ranges': {}, 'allocations': []} x",
		"{'ranges': {}, 'allocations': []}{}",
		"{'ranges': {}, 'allocations': []},",
		"{'ranges': {}, 'allocations': [],}",
		"{'ranges': {}, 'allocations': [1,]}",
		"{'ranges': {}, 'allocations': [,1]}",
		"{'ranges': {}, 'allocations' []}",
		"{'ranges': {} 'allocations': []}",
		"{'ranges': {}, allocations: []}",
		"{'ranges': {}, 'allocations': [], 'x': NaN}",
		"{'ranges': {}, 'allocations': [], 'x': Infinity}",
		"{'ranges': {}, 'allocations': [], 'x': -Infinity}",
		"{'ranges': {}, 'allocations': [], 'x': 0123}",
		"{'ranges': {}, 'allocations': [], 'x': -}",
		"{'ranges': {}, 'allocations': [], 'x': 1.}",
		"{'ranges': {}, 'allocations': [], 'x': .5}",
		"{'ranges': {}, 'allocations': [], 'x': +1}",
		"{'ranges': {}, 'allocations': [], 'x': 1e}",
		"{'ranges': {}, 'allocations': [], 'x': 0x10}",
		"{'ranges': {}, 'allocations': [], 'x': 9223372036854775808}",
		"{'ranges': {}, 'allocations': [], 'x': -9223372036854775809}",
		"{'ranges': {}, 'allocations': [], 'x': 99999999999999999999999}",
		"{'ranges': {}, 'allocations': [], 'x': 1e999}",
		"{'ranges': {}, 'allocations': [], 'x': '\\u0000'}",
		"{'ranges': {}, 'allocations': [], 'x': '\\ud800'}",
		"{'ranges': {}, 'allocations': [], 'x': '\\x41'}",
		"{'ranges': {}, 'allocations': [], 'x': '\\a'}",
		"{'ranges': {}, 'allocations': [], 'x': '\\'}",
		"{'ranges': {}, 'allocations': [], 'x': 'tab\there'}",
		"{'ranges': {}, 'allocations': [], 'x': 'new\nline'}",
		"{'ranges': {}, 'allocations': [], 'x': '\x01'}",
		"{'ranges': {}, 'allocations': [], 'x': '\x1f'}",
		"{'ranges': {}, 'allocations': [], 'x\x01': 1}",
		"\xef\xbb\xbf{'ranges': {}, 'allocations': []}",
		"{'ranges': {}, 'allocations': [], \xc3\xa9: 1}",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(texts); i++)
		expect_refused(texts[i]);
}

/* bytes that are not UTF-8, in a value, in a key and outside strings */
static void test_refused_utf8(void **state UNUSED)
{
	static const char *const bad[] = {
		"\x80",
		"\xa0",
		"\xbf",
		"\xc0\xaf",
		"\xc1\xbf",
		"\xc3",
		"\xc3\x28",
		"\xe0\x80\xaf",
		"\xe2\x82",
		"\xed\xa0\x80",
		"\xed\xbf\xbf",
		"\xf0\x80\x80\xaf",
		"\xf4\x90\x80\x80",
		"\xf5\x80\x80\x80",
		"\xfe",
		"\xff",
		"\xc3\xc3",
		"\xe2\xff\x80",
		"\xf0\x9f\x98\xc0",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		struct sbuf sb = SBUF_INIT;

		sbuf_addf(&sb, DESCRIPTION("'a%sb'"), bad[i]);
		expect_refused(sb.buf);
		sbuf_reset(&sb);
		sbuf_addf(&sb, ALLOCS(WEB(", 'x%s': 1")), bad[i]);
		expect_refused(sb.buf);
		sbuf_reset(&sb);
		sbuf_addf(&sb, ALLOCS(WEB(", 'x': %s")), bad[i]);
		expect_refused(sb.buf);
		sbuf_reset(&sb);
		sbuf_addf(&sb, "{'ranges': {}, %s 'allocations': []}", bad[i]);
		expect_refused(sb.buf);
		sbuf_release(&sb);
	}
}

static void test_refused_nul_byte(void **state UNUSED)
{
	static const char text[] =
		"{\"ranges\": {}, \"allocations\": [], \"x\": \"a\0b\"}";
	static const char escaped[] =
		"{\"ranges\": {}, \"allocations\": [], \"x\": \"a\\\0b\"}";
	static const char outside[] = "{\"ranges\": {},\0 \"allocations\": []}";

	expect_refused_bytes(text, sizeof(text) - 1);
	expect_refused_bytes(escaped, sizeof(escaped) - 1);
	expect_refused_bytes(outside, sizeof(outside) - 1);
	/* a NUL after the end */
	expect_refused_bytes(outside, sizeof(outside));
}

static void test_refused_duplicate_keys(void **state UNUSED)
{
	expect_refused("{'ranges': {}, 'allocations': [], 'ranges': {}}");
	expect_refused("{'ranges': {}, 'allocations': [], 'x': 1, 'x': 1}");
	expect_refused(ALLOCS(WEB(", 'port': 8080")));
	expect_refused(ALLOCS(WEB(", 'x': 1, 'x': 2")));
	expect_refused("{'ranges': {'web': {'start': 8080, 'end': 8099},"
		       " 'web': {'start': 8080, 'end': 8099}},"
		       " 'allocations': []}");
	expect_refused("{'ranges': {'web': {'start': 8080, 'end': 8099,"
		       " 'end': 8099}}, 'allocations': []}");
	expect_refused("{'ranges': {}, 'allocations': [],"
		       " 'x': [{'a': 1, 'b': {'c': 1, 'c': 2}}]}");
	/* the same key once decoded */
	expect_refused("{'ranges': {}, 'allocations': [], 'x': {'a/b': 1,"
		       " 'a\\/b': 2}}");
	expect_refused("{'ranges': {}, 'allocations': [], 'x': {'\\\\': 1,"
		       " '\\\\': 2}}");
	/* and keys that differ, though not by much */
	expect_fast("{'ranges': {}, 'allocations': [], 'x': {'ab': 1,"
		    " 'ba': 2, 'a': 3, 'b': 4, '': 5, 'aab': 6, 'abb': 7}}",
		    0);
}

/* JSON, but not a registry */
static void test_refused_types(void **state UNUSED)
{
	static const char *const texts[] = {
		"{'allocations': []}",
		"{'ranges': {}}",
		"{'ranges': [], 'allocations': []}",
		"{'ranges': {}, 'allocations': {}}",
		"{'ranges': {}, 'allocations': [], 'reserved': {}}",
		"{'ranges': {}, 'allocations': [], 'reserved': null}",
		"{'ranges': {}, 'allocations': [], 'metadata': []}",
		"{'ranges': {}, 'allocations': [], 'metadata': 1}",
		"{'ranges': {'web': 8080}, 'allocations': []}",
		"{'ranges': {'web': []}, 'allocations': []}",
		"{'ranges': {'web': {'start': '8080', 'end': 8099}},"
		" 'allocations': []}",
		"{'ranges': {'web': {'start': 8080}}, 'allocations': []}",
		"{'ranges': {'web': {'start': 8080, 'end': 8099,"
		" 'description': 1}}, 'allocations': []}",
		"{'ranges': {}, 'allocations': [], 'reserved': [1]}",
		"{'ranges': {}, 'allocations': [], 'reserved': [{'start': 1}]}",
		ALLOCS("1"),
		ALLOCS("[]"),
		ALLOCS("{'worktree': 'a', 'service': 'web'}"),
		PORT("'8080'"),
		PORT("8080.0"),
		PORT("true"),
		PORT("null"),
		PORT("[8080]"),
		PORT("{}"),
		ALLOCS("{'port': 8080, 'worktree': 1, 'service': 'web'}"),
		ALLOCS("{'port': 8080, 'worktree': 'a', 'service': null}"),
		ALLOCS(WEB(", 'path': 1")),
		ALLOCS(WEB(", 'range': true")),
		ALLOCS(WEB(", 'process_id': '1'")),
		ALLOCS(WEB(", 'process_id': 1.0")),
		ALLOCS(WEB(", 'health_status': 1")),
		ALLOCS(WEB(", 'description': {}")),
		"{'ranges': {}, 'allocations': [], 'metadata': {'version': 1}}",
		"{'ranges': {}, 'allocations': [],"
		" 'metadata': {'version': null}}",
		"{'ranges': {}, 'allocations': [],"
		" 'metadata': {'total_allocations': '1'}}",
		"{'ranges': {}, 'allocations': [],"
		" 'metadata': {'schema_version': null}}",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(texts); i++)
		expect_refused(texts[i]);
}

/* numbers that do not fit, or are spelled in a way jansson refuses */
static void test_refused_numbers(void **state UNUSED)
{
	static const char *const ports[] = {
		"0123",
		"08080",
		"-0",
		"0",
		"80",
		"1023",
		"-8080",
		"1e3",
		"8.08e3",
		"1E4",
		"65536",
		"70000",
		"2147483648",
		"9223372036854775807",
		"9223372036854775808",
		"-9223372036854775808",
		"-9223372036854775809",
		"18446744073709551616",
		"NaN",
		"-NaN",
	};
	static const char *const pids[] = {
		"0",   "-0",   "-1",  "2147483648",
		"1e3", "0123", "1.0", "9223372036854775808",
		"NaN", "'1'",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ports); i++) {
		struct sbuf sb = SBUF_INIT;

		sbuf_addf(&sb, PORT("%s"), ports[i]);
		expect_refused(sb.buf);
		sbuf_reset(&sb);
		sbuf_addf(&sb,
			  "{'ranges': {'web': {'start': %s, 'end': 8099}},"
			  " 'allocations': []}",
			  ports[i]);
		expect_refused(sb.buf);
		sbuf_release(&sb);
	}
	for (i = 0; i < ARRAY_SIZE(pids); i++) {
		struct sbuf sb = SBUF_INIT;

		sbuf_addf(&sb, ALLOCS(WEB(", 'process_id': %s")), pids[i]);
		expect_refused(sb.buf);
		sbuf_release(&sb);
	}
}

/* checks beyond the types, made by the same code for both readers */
static void test_refused_values(void **state UNUSED)
{
	static const char *const texts[] = {
		PORT("80"),
		"{'ranges': {'web': {'start': 8099, 'end': 8080}},"
		" 'allocations': []}",
		"{'ranges': {'web': {'start': 80, 'end': 8080}},"
		" 'allocations': []}",
		"{'ranges': {'we b': {'start': 8080, 'end': 8099}},"
		" 'allocations': []}",
		"{'ranges': {'': {'start': 8080, 'end': 8099}},"
		" 'allocations': []}",
		"{'ranges': {'w\\/eb': {'start': 8080, 'end': 8099}},"
		" 'allocations': [{'port': 8080, 'worktree': 'a',"
		" 'service': 'w/eb'}, {'port': 8081, 'worktree': 'a',"
		" 'service': 'w/eb'}]}",
		"{'ranges': {}, 'allocations': [],"
		" 'reserved': [{'start': 9, 'end': 8}]}",
		"{'ranges': {}, 'allocations': [],"
		" 'reserved': [{'start': -1, 'end': 8}]}",
		ALLOCS(WEB(", 'range': 'nope'")),
		"{'ranges': {'web': {'start': 8080, 'end': 8099}},"
		" 'allocations': [{'port': 8080, 'worktree': 'a',"
		" 'service': 'api'}]}",
		ALLOCS(WEB("") ", " WEB("")),
		ALLOCS(WEB("") ", {'port': 8081, 'worktree': 'feat',"
			       " 'service': 'web'}"),
		ALLOCS("{'port': 8080, 'worktree': '', 'service': 'web'}"),
		ALLOCS("{'port': 8080, 'worktree': 'a', 'service': ''}"),
		ALLOCS(WEB(", 'health_status': 'fine'")),
		ALLOCS(WEB(", 'process_id': 0")),
		ALLOCS(WEB(", 'process_id': -5")),
		ALLOCS(WEB(", 'process_id': 2147483648")),
		"{'ranges': {}, 'allocations': [],"
		" 'metadata': {'schema_version': 2}}",
		"{'ranges': {}, 'allocations': [],"
		" 'metadata': {'schema_version': 0}}",
		"{'ranges': {}, 'allocations': [],"
		" 'metadata': {'total_allocations': -1}}",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(texts); i++)
		expect_refused(texts[i]);
}

/* Random registries, from a fixed seed: the same ones on every run. */
struct rng {
	uint64_t state;
};

static uint64_t rnd(struct rng *r)
{
	r->state ^= r->state >> 12;
	r->state ^= r->state << 25;
	r->state ^= r->state >> 27;
	return r->state * 2685821657736338717ULL;
}

static unsigned pick(struct rng *r, unsigned n)
{
	return (unsigned)(rnd(r) % n);
}

static bool chance(struct rng *r, unsigned percent)
{
	return pick(r, 100) < percent;
}

static void space(struct rng *r, struct sbuf *sb)
{
	static const char *const ws[] = { "",	  "",	      " ",  " ",
					  "\n  ", "\n      ", "\t", "\r\n" };

	sbuf_addstr(sb, ws[pick(r, ARRAY_SIZE(ws))]);
}

/*
 * The inside of a JSON string: plain bytes, escapes and UTF-8, and with
 * 'slow', things only jansson reads.
 */
static void text(struct rng *r, struct sbuf *sb, unsigned max, bool slow)
{
	static const char *const pieces[] = {
		"a",
		"Z",
		"0",
		" ",
		"-",
		"_",
		".",
		"/",
		"@",
		":",
		"'",
		"\x7f",
		"\\\"",
		"\\\\",
		"\\/",
		"\\b",
		"\\f",
		"\\n",
		"\\r",
		"\\t",
		"\xc3\xa9",
		"\xce\xbb",
		"\xe2\x9c\x93",
		"\xef\xbf\xbd",
		"\xf0\x9f\x98\x80",
	};
	static const char *const slow_pieces[] = { "\\u00e9", "\\u0041",
						   "\\ud83d\\ude00" };
	unsigned n = pick(r, max + 1), i;

	for (i = 0; i < n; i++) {
		if (slow && chance(r, 5))
			sbuf_addstr(sb, slow_pieces[pick(r, 3)]);
		else
			sbuf_addstr(sb, pieces[pick(r, ARRAY_SIZE(pieces))]);
	}
}

/* A string unlike every other one made with a different 'n'. */
static void unique(struct rng *r, struct sbuf *sb, unsigned n, bool slow)
{
	sbuf_addch(sb, '"');
	text(r, sb, 4, slow);
	sbuf_addf(sb, "-%u\"", n);
}

static void any_string(struct rng *r, struct sbuf *sb, bool slow)
{
	sbuf_addch(sb, '"');
	text(r, sb, 12, slow);
	sbuf_addch(sb, '"');
}

/* A service is never empty. */
static void service(struct rng *r, struct sbuf *sb, bool slow)
{
	sbuf_addch(sb, '"');
	text(r, sb, 6, slow);
	sbuf_addstr(sb, "s\"");
}

static void any_value(struct rng *r, struct sbuf *sb, int depth, bool slow)
{
	static const char *const numbers[] = {
		"0",
		"-0",
		"1",
		"-1",
		"42",
		"65535",
		"65536",
		"-123456789",
		"9223372036854775807",
		"-9223372036854775808",
	};
	static const char *const reals[] = { "2.5", "-0.0", "1e3", "1E-2",
					     "0.1" };
	unsigned kind = pick(r, depth > 3 ? 6 : 8), i, n;

	switch (kind) {
	case 0:
		sbuf_addstr(sb, "null");
		break;
	case 1:
		sbuf_addstr(sb, chance(r, 50) ? "true" : "false");
		break;
	case 2:
		if (slow && chance(r, 20))
			sbuf_addstr(sb, reals[pick(r, ARRAY_SIZE(reals))]);
		else
			sbuf_addstr(sb, numbers[pick(r, ARRAY_SIZE(numbers))]);
		break;
	case 3:
		sbuf_addf(sb, "%lld", (long long)(rnd(r) >> 1) - (1LL << 62));
		break;
	case 4:
	case 5:
		any_string(r, sb, slow);
		break;
	case 6:
		n = pick(r, 4);
		sbuf_addch(sb, '[');
		for (i = 0; i < n; i++) {
			if (i)
				sbuf_addch(sb, ',');
			space(r, sb);
			any_value(r, sb, depth + 1, slow);
		}
		sbuf_addch(sb, ']');
		break;
	default:
		n = pick(r, 4);
		sbuf_addch(sb, '{');
		for (i = 0; i < n; i++) {
			if (i)
				sbuf_addch(sb, ',');
			space(r, sb);
			unique(r, sb, i, slow);
			sbuf_addch(sb, ':');
			space(r, sb);
			any_value(r, sb, depth + 1, slow);
		}
		sbuf_addch(sb, '}');
		break;
	}
}

/* The members of one object, each "key": value, joined in any order. */
struct members {
	struct sbuf m[24];
	unsigned nr;
};

static struct sbuf *member(struct members *ms, struct rng *r, const char *key)
{
	struct sbuf *sb = &ms->m[ms->nr++];

	assert_true(ms->nr <= ARRAY_SIZE(ms->m));
	sbuf_init(sb);
	sbuf_addf(sb, "\"%s\"", key);
	space(r, sb);
	sbuf_addch(sb, ':');
	space(r, sb);
	return sb;
}

static void unknown_members(struct members *ms, struct rng *r, bool slow)
{
	unsigned n = chance(r, 70) ? 0 : 1 + pick(r, 3), i;

	for (i = 0; i < n; i++) {
		struct sbuf *sb = &ms->m[ms->nr++];

		sbuf_init(sb);
		sbuf_addstr(sb, "\"x-");
		text(r, sb, 3, slow);
		sbuf_addf(sb, "-%u\":", i);
		space(r, sb);
		any_value(r, sb, 0, slow);
	}
}

static void join(struct members *ms, struct rng *r, struct sbuf *out)
{
	unsigned i;

	for (i = ms->nr; i > 1; i--) {
		unsigned j = pick(r, i);
		struct sbuf tmp = ms->m[i - 1];

		ms->m[i - 1] = ms->m[j];
		ms->m[j] = tmp;
	}
	sbuf_addch(out, '{');
	for (i = 0; i < ms->nr; i++) {
		if (i)
			sbuf_addch(out, ',');
		space(r, out);
		sbuf_addstr(out, ms->m[i].buf);
		sbuf_release(&ms->m[i]);
		space(r, out);
	}
	sbuf_addch(out, '}');
	ms->nr = 0;
}

/* null, absent, or a string */
static void maybe_string(struct members *ms, struct rng *r, const char *key,
			 bool slow)
{
	unsigned what = pick(r, 10);

	if (what < 3)
		return;
	if (what < 5)
		sbuf_addstr(member(ms, r, key), "null");
	else
		any_string(r, member(ms, r, key), slow);
}

static void range_name(struct rng *r, struct sbuf *sb, unsigned n)
{
	static const char first[] = "abcXYZ019";
	static const char rest[] = "abcXYZ019._-";
	unsigned len = pick(r, 8), i;

	sbuf_addch(sb, first[pick(r, sizeof(first) - 1)]);
	for (i = 0; i < len; i++)
		sbuf_addch(sb, rest[pick(r, sizeof(rest) - 1)]);
	sbuf_addf(sb, "%u", n);
}

/* A valid registry; with 'slow', one jansson may have to read. */
static void random_registry(struct rng *r, struct sbuf *out, bool slow)
{
	static const char *const statuses[] = { "healthy", "unhealthy",
						"not_running", "unknown" };
	struct members top = { .nr = 0 }, ms = { .nr = 0 };
	struct sbuf names[8], *sb;
	unsigned nr_names = pick(r, 6), nr, i, port = 1024;
	bool has_default = chance(r, 60);

	/* ranges, and "default" perhaps */
	sb = member(&top, r, "ranges");
	sbuf_addch(sb, '{');
	for (i = 0; i < nr_names + has_default; i++) {
		unsigned start = 1024 + pick(r, 60000);

		sbuf_init(&names[i]);
		if (i == nr_names)
			sbuf_addstr(&names[i], "default");
		else
			range_name(r, &names[i], i);
		sbuf_addf(sb, "%s", i ? "," : "");
		space(r, sb);
		sbuf_addf(sb, "\"%s\":", names[i].buf);
		sbuf_addf(member(&ms, r, "start"), "%u", start);
		sbuf_addf(member(&ms, r, "end"), "%u",
			  start + pick(r, 65536 - start));
		maybe_string(&ms, r, "description", slow);
		unknown_members(&ms, r, slow);
		join(&ms, r, sb);
	}
	sbuf_addch(sb, '}');
	nr_names += has_default;

	if (chance(r, 60)) {
		sb = member(&top, r, "reserved");
		sbuf_addch(sb, '[');
		nr = pick(r, 4);
		for (i = 0; i < nr; i++) {
			unsigned start = pick(r, 65536);

			sbuf_addstr(sb, i ? "," : "");
			space(r, sb);
			sbuf_addf(member(&ms, r, "start"), "%u", start);
			sbuf_addf(member(&ms, r, "end"), "%u",
				  start + pick(r, 65536 - start));
			maybe_string(&ms, r, "description", slow);
			unknown_members(&ms, r, slow);
			join(&ms, r, sb);
		}
		sbuf_addch(sb, ']');
	}

	sb = member(&top, r, "allocations");
	sbuf_addch(sb, '[');
	nr = nr_names ? pick(r, 16) : 0;
	for (i = 0; i < nr; i++) {
		const char *range = names[pick(r, nr_names)].buf;

		sbuf_addstr(sb, i ? "," : "");
		space(r, sb);
		port += 1 + pick(r, 100);
		sbuf_addf(member(&ms, r, "port"), "%u", port);
		unique(r, member(&ms, r, "worktree"), i, slow);
		if (has_default && chance(r, 30)) {
			service(r, member(&ms, r, "service"), slow);
		} else if (chance(r, 20)) {
			service(r, member(&ms, r, "service"), slow);
			sbuf_addf(member(&ms, r, "range"), "\"%s\"", range);
		} else {
			sbuf_addf(member(&ms, r, "service"), "\"%s\"", range);
			if (chance(r, 20))
				sbuf_addstr(member(&ms, r, "range"), "null");
		}
		maybe_string(&ms, r, "path", slow);
		maybe_string(&ms, r, "allocated_at", slow);
		maybe_string(&ms, r, "allocated_by", slow);
		maybe_string(&ms, r, "description", slow);
		maybe_string(&ms, r, "health_checked_at", slow);
		if (chance(r, 30))
			sbuf_addstr(member(&ms, r, "process_id"), "null");
		else if (chance(r, 40))
			sbuf_addf(member(&ms, r, "process_id"), "%u",
				  1 + pick(r, INT_MAX));
		if (chance(r, 70))
			sbuf_addf(member(&ms, r, "health_status"), "\"%s\"",
				  statuses[pick(r, 4)]);
		else if (chance(r, 50))
			sbuf_addstr(member(&ms, r, "health_status"), "null");
		unknown_members(&ms, r, slow);
		join(&ms, r, sb);
	}
	sbuf_addch(sb, ']');

	if (chance(r, 70)) {
		sb = member(&top, r, "metadata");
		if (chance(r, 80))
			any_string(r, member(&ms, r, "version"), slow);
		maybe_string(&ms, r, "last_updated", slow);
		if (chance(r, 80))
			sbuf_addf(member(&ms, r, "total_allocations"), "%u",
				  pick(r, 1000));
		if (chance(r, 80))
			sbuf_addstr(member(&ms, r, "schema_version"), "1");
		unknown_members(&ms, r, slow);
		join(&ms, r, sb);
	}
	unknown_members(&top, r, slow);
	space(r, out);
	join(&top, r, out);
	space(r, out);
	for (i = 0; i < nr_names; i++)
		sbuf_release(&names[i]);
}

/* Break a text the way an editor or a crash might. */
static void mutate(struct rng *r, struct sbuf *sb)
{
	static const char bytes[] =
		"{}[],:\"\\x0-e. \t\x01\x1f\x80\xa0\xc3\xff";
	static const char *const numbers[] = {
		"0123", "-0", "1e3", "1.5", "65536", "9223372036854775808",
		"NaN",	"-",  "1.",  ".5",  "0x1",   "99999999999999999999",
	};
	struct sbuf out = SBUF_INIT;
	size_t at = sb->len ? pick(r, (unsigned)sb->len) : 0, n;
	char c = bytes[pick(r, sizeof(bytes))]; /* the NUL too */

	switch (pick(r, 5)) {
	case 0: /* cut short */
		sbuf_setlen(sb, at);
		return;
	case 1: /* a byte more */
		sbuf_add(&out, sb->buf, at);
		sbuf_addch(&out, c);
		sbuf_add(&out, sb->buf + at, sb->len - at);
		break;
	case 2: /* a byte less */
		if (!sb->len)
			return;
		sbuf_add(&out, sb->buf, at);
		sbuf_add(&out, sb->buf + at + 1, sb->len - at - 1);
		break;
	case 3: /* a byte changed */
		if (!sb->len)
			return;
		sb->buf[at] = c;
		return;
	default: /* a number changed */
		while (at < sb->len && (sb->buf[at] < '0' || sb->buf[at] > '9'))
			at++;
		for (n = at;
		     n < sb->len && sb->buf[n] >= '0' && sb->buf[n] <= '9'; n++)
			;
		sbuf_add(&out, sb->buf, at);
		sbuf_addstr(&out, numbers[pick(r, ARRAY_SIZE(numbers))]);
		sbuf_add(&out, sb->buf + n, sb->len - n);
		break;
	}
	sbuf_reset(sb);
	sbuf_add(sb, out.buf, out.len);
	sbuf_release(&out);
}

#define RANDOM_REGISTRIES 300

/* valid registries the fast reader must read, as jansson does */
static void test_random_registries(void **state UNUSED)
{
	struct rng r = { 0x9e3779b97f4a7c15ULL };
	struct sbuf sb = SBUF_INIT;
	unsigned i;

	for (i = 0; i < RANDOM_REGISTRIES; i++) {
		struct outcome o;

		sbuf_reset(&sb);
		random_registry(&r, &sb, false);
		read_with(&o, sb.buf, sb.len, REGISTRY_NO_FAST_PATH);
		if (o.ret)
			fail_msg("registry %u is not valid: %s: %s\n%s", i,
				 o.err.field, o.err.msg, sb.buf);
		registry_free(o.reg);
		if (!check_bytes(sb.buf, sb.len, 0))
			fail_msg("the fast reader gave up on registry %u:\n%s",
				 i, sb.buf);
	}
	sbuf_release(&sb);
}

/* valid registries with what only jansson reads here and there */
static void test_random_registries_for_jansson(void **state UNUSED)
{
	struct rng r = { 0x2545f4914f6cdd1dULL };
	struct sbuf sb = SBUF_INIT;
	unsigned i, fast = 0;

	for (i = 0; i < RANDOM_REGISTRIES; i++) {
		struct outcome o;

		sbuf_reset(&sb);
		random_registry(&r, &sb, true);
		read_with(&o, sb.buf, sb.len, REGISTRY_NO_FAST_PATH);
		if (o.ret)
			fail_msg("registry %u is not valid: %s: %s\n%s", i,
				 o.err.field, o.err.msg, sb.buf);
		registry_free(o.reg);
		fast += check_bytes(sb.buf, sb.len, 0);
	}
	/* both kinds are there */
	assert_true(fast > 0 && fast < RANDOM_REGISTRIES);
	sbuf_release(&sb);
}

/* broken registries: the same error from both, and never a registry */
static void test_random_damage(void **state UNUSED)
{
	struct rng r = { 0xd1b54a32d192ed03ULL };
	struct sbuf sb = SBUF_INIT;
	unsigned i, refused = 0;

	for (i = 0; i < 3 * RANDOM_REGISTRIES; i++) {
		struct outcome o;

		sbuf_reset(&sb);
		random_registry(&r, &sb, i % 2);
		mutate(&r, &sb);
		if (chance(&r, 30))
			mutate(&r, &sb);
		check_bytes(sb.buf, sb.len, 0);
		read_with(&o, sb.buf, sb.len, REGISTRY_NO_FAST_PATH);
		refused += o.ret != 0;
		registry_free(o.reg);
	}
	assert_true(refused > RANDOM_REGISTRIES);
	sbuf_release(&sb);
}

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
	int fd = mkstemp(file), ret;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_walks_and_skips),
		cmocka_unit_test(test_scan_integers),
		cmocka_unit_test(test_fast_reads_the_seed_format),
		cmocka_unit_test(test_fast_reads_every_field),
		cmocka_unit_test(test_fast_reads_unknown_keys),
		cmocka_unit_test(test_fast_reads_escapes),
		cmocka_unit_test(test_fast_reads_unicode),
		cmocka_unit_test(test_fast_reads_layouts),
		cmocka_unit_test(test_fast_reads_duplicate_ports_when_allowed),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_every_prefix),
		cmocka_unit_test(test_jansson_reads_the_rest),
		cmocka_unit_test(test_refused_syntax),
		cmocka_unit_test(test_refused_utf8),
		cmocka_unit_test(test_refused_nul_byte),
		cmocka_unit_test(test_refused_duplicate_keys),
		cmocka_unit_test(test_refused_types),
		cmocka_unit_test(test_refused_numbers),
		cmocka_unit_test(test_refused_values),
		cmocka_unit_test(test_random_registries),
		cmocka_unit_test(test_random_registries_for_jansson),
		cmocka_unit_test(test_random_damage),
	};

	assert_true(fd >= 0);
	close(fd);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(file);
	return ret;
}
