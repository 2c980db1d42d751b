#include "common.h"
#include "jsonw.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void test_quote_escapes_what_json_requires(void **state UNUSED)
{
	struct sbuf out = SBUF_INIT;

	jsonw_quote(&out, "plain");
	jsonw_quote(&out, "a\"b\\c");
	jsonw_quote(&out, "\n\r\t");
	jsonw_quote(&out, "\x01\x1f\x7f");
	jsonw_quote(&out, "");
	jsonw_quote(&out, "caf\xc3\xa9");
	assert_string_equal("\"plain\"\"a\\\"b\\\\c\"\"\\n\\r\\t\""
			    "\"\\u0001\\u001f\\u007f\"\"\"\"caf\xc3\xa9\"",
			    out.buf);
	sbuf_release(&out);
}

static void test_quote_long_runs(void **state UNUSED)
{
	struct sbuf out = SBUF_INIT;
	char in[5000];

	memset(in, 'x', sizeof(in) - 1);
	in[sizeof(in) - 1] = '\0';
	in[2500] = '"';
	jsonw_quote(&out, in);
	assert_int_equal(sizeof(in) - 1 + 3, out.len);
	assert_memory_equal("\\\"", out.buf + 2501, 2);
	sbuf_release(&out);
}

static void test_nesting_and_commas(void **state UNUSED)
{
	struct jsonw w = JSONW_INIT;

	jsonw_object_begin(&w, NULL);
	jsonw_int(&w, "port", 8080);
	jsonw_string(&w, "path", NULL);
	jsonw_bool(&w, "new", true);
	jsonw_array_begin(&w, "spans");
	jsonw_array_begin(&w, NULL);
	jsonw_int(&w, NULL, 1);
	jsonw_int(&w, NULL, 2);
	jsonw_array_end(&w);
	jsonw_object_begin(&w, NULL);
	jsonw_null(&w, "x");
	jsonw_object_end(&w);
	jsonw_array_end(&w);
	jsonw_array_begin(&w, "empty");
	jsonw_array_end(&w);
	jsonw_object_end(&w);
	assert_string_equal("{\"port\":8080,\"path\":null,\"new\":true,"
			    "\"spans\":[[1,2],{\"x\":null}],\"empty\":[]}\n",
			    w.out.buf);
	jsonw_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_escapes_what_json_requires),
		cmocka_unit_test(test_quote_long_runs),
		cmocka_unit_test(test_nesting_and_commas),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
