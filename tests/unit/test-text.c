#include "common.h"
#include "text.h"
#include "sbuf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <cmocka.h>

/* text_utf8_len() of the whole of 's'. */
static size_t len_of(const char *s)
{
	return text_utf8_len((const unsigned char *)s, strlen(s));
}

static void test_utf8_len_of_each_length(void **state UNUSED)
{
	assert_int_equal(1, len_of("a"));
	assert_int_equal(1, len_of("\x7f"));
	assert_int_equal(2, len_of("\xc2\x80"));
	assert_int_equal(2, len_of("\xc3\xa9")); /* é */
	assert_int_equal(3, len_of("\xe0\xa0\x80"));
	assert_int_equal(3, len_of("\xe2\x82\xac")); /* € */
	assert_int_equal(3, len_of("\xed\x9f\xbf"));
	assert_int_equal(4, len_of("\xf0\x90\x80\x80"));
	assert_int_equal(4, len_of("\xf4\x8f\xbf\xbf")); /* U+10FFFF */
	/* only the first character counts */
	assert_int_equal(2, len_of("\xc3\xa9\xc3\xa9"));
	assert_int_equal(1, text_utf8_len((const unsigned char *)"", 1));
}

static void test_utf8_len_refuses(void **state UNUSED)
{
	assert_int_equal(0, len_of("\x80"));		 /* a continuation */
	assert_int_equal(0, len_of("\xc0\x80"));	 /* overlong NUL */
	assert_int_equal(0, len_of("\xc1\xbf"));	 /* overlong */
	assert_int_equal(0, len_of("\xe0\x9f\xbf"));	 /* overlong */
	assert_int_equal(0, len_of("\xf0\x8f\xbf\xbf")); /* overlong */
	assert_int_equal(0, len_of("\xed\xa0\x80"));	 /* a surrogate */
	assert_int_equal(0, len_of("\xed\xbf\xbf"));	 /* a surrogate */
	assert_int_equal(0, len_of("\xf4\x90\x80\x80")); /* past U+10FFFF */
	assert_int_equal(0, len_of("\xf5\x80\x80\x80"));
	assert_int_equal(0, len_of("\xff"));
	assert_int_equal(0, len_of("\xc3("));
	assert_int_equal(0, len_of("\xe2\x82("));
	assert_int_equal(0, len_of("\xc3"));
	assert_int_equal(0, text_utf8_len((const unsigned char *)"a", 0));
}

static void test_utf8_len_stops_at_len(void **state UNUSED)
{
	const unsigned char *euro = (const unsigned char *)"\xe2\x82\xac";

	assert_int_equal(0, text_utf8_len(euro, 2));
	assert_int_equal(3, text_utf8_len(euro, 3));
	/* a NUL never continues a sequence */
	assert_int_equal(0,
			 text_utf8_len((const unsigned char *)"\xe2\0\xac", 3));
}

static void test_valid_utf8(void **state UNUSED)
{
	assert_true(text_valid_utf8(""));
	assert_true(text_valid_utf8("plain ascii"));
	assert_true(
		text_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
	assert_true(text_valid_utf8("tab\there\x1b[31m\x7f"));
	assert_true(text_valid_utf8("\xc2\x85"));
	assert_false(text_valid_utf8("caf\xe9"));
	assert_false(text_valid_utf8("\xed\xa0\x80"));
	assert_false(text_valid_utf8("cut \xe2\x82"));
}

static void test_is_printable(void **state UNUSED)
{
	assert_true(text_is_printable(""));
	assert_true(text_is_printable("caf\xc3\xa9 \xe2\x82\xac \\ ok"));
	assert_true(text_is_printable("\xc2\xa0")); /* no-break space */
	assert_false(text_is_printable("tab\there"));
	assert_false(text_is_printable("\x1b[31m"));
	assert_false(text_is_printable("del\x7f"));
	assert_false(text_is_printable("\xc2\x80"));
	assert_false(text_is_printable("\xc2\x9f"));
	assert_false(text_is_printable("caf\xe9"));
}

/* text_add_printable() of the 'len' bytes at 's', checked against 'want'. */
static void check_printable(const char *want, const char *s, size_t len,
			    unsigned flags)
{
	struct sbuf out = SBUF_INIT;

	sbuf_addstr(&out, "[");
	text_add_printable(&out, s, len, flags);
	sbuf_addstr(&out, "]");
	assert_string_equal(want, out.buf);
	sbuf_release(&out);
}

static void test_add_printable_keeps_text(void **state UNUSED)
{
	const char *s = "caf\xc3\xa9 \xe2\x82\xac C:\\dir \xf0\x9f\x98\x80";
	char want[64];

	snprintf(want, sizeof(want), "[%s]", s);
	check_printable(want, s, strlen(s), 0);
	check_printable("[]", "", 0, 0);
}

static void test_add_printable_escapes_controls(void **state UNUSED)
{
	const char *s = "a\tb\x1b[31m\x7f";

	check_printable("[a\\x09b\\x1b[31m\\x7f]", s, strlen(s), 0);
	check_printable("[a\\x00b]", "a\0b", 3, 0);
	check_printable("[\\xc2\\x85\xc2\xa0]", "\xc2\x85\xc2\xa0", 4, 0);
}

static void test_add_printable_escapes_what_is_not_utf8(void **state UNUSED)
{
	check_printable("[caf\\xe9]", "caf\xe9", 4, 0);
	check_printable("[\\xed\\xa0\\x80]", "\xed\xa0\x80", 3, 0);
	check_printable("[\\xe2\\x82]", "\xe2\x82\xac", 2, 0);
	check_printable("[\\xe2\\x82(]", "\xe2\x82(", 3, 0);
}

static void test_add_printable_can_keep_c1(void **state UNUSED)
{
	check_printable("[\xc2\x85\\x1b\\xff]", "\xc2\x85\x1b\xff", 4,
			TEXT_KEEP_C1);
}

static void test_add_cut(void **state UNUSED)
{
	struct sbuf sb = SBUF_INIT;

	text_add_cut(&sb, "npm run dev", 11);
	assert_string_equal("npm run dev", sb.buf);
	sbuf_reset(&sb);
	text_add_cut(&sb, "npm run dev", 7);
	assert_string_equal("npm run...", sb.buf);
	/* "\xc3\xa9" is one character: cut before it, not inside */
	sbuf_reset(&sb);
	text_add_cut(&sb, "caf\xc3\xa9 au lait", 4);
	assert_string_equal("caf...", sb.buf);
	sbuf_reset(&sb);
	text_add_cut(&sb, "caf\xc3\xa9 au lait", 5);
	assert_string_equal("caf\xc3\xa9...", sb.buf);
	sbuf_release(&sb);
}

static void test_show_is_ascii(void **state UNUSED)
{
	char buf[TEXT_SHOW_SIZE];

	assert_string_equal("web api", text_show(buf, sizeof(buf), "web api"));
	assert_string_equal("a\\x5cb", text_show(buf, sizeof(buf), "a\\b"));
	assert_string_equal("caf\\xc3\\xa9\\x0a",
			    text_show(buf, sizeof(buf), "caf\xc3\xa9\n"));
	assert_string_equal("", text_show(buf, sizeof(buf), ""));
}

static void test_show_cuts_long_text(void **state UNUSED)
{
	char buf[TEXT_SHOW_SIZE], s[TEXT_SHOW_MAX + 2];
	char want[TEXT_SHOW_MAX + 4];

	memset(s, 'x', TEXT_SHOW_MAX);
	s[TEXT_SHOW_MAX] = '\0';
	assert_string_equal(s, text_show(buf, sizeof(buf), s));
	s[TEXT_SHOW_MAX] = 'y';
	s[TEXT_SHOW_MAX + 1] = '\0';
	memset(want, 'x', TEXT_SHOW_MAX);
	memcpy(want + TEXT_SHOW_MAX, "...", 4);
	assert_string_equal(want, text_show(buf, sizeof(buf), s));
}

static void test_show_fits_a_small_buffer(void **state UNUSED)
{
	char buf[12];

	/* it stops while fewer than 9 bytes are left */
	assert_string_equal("abcd", text_show(buf, sizeof(buf), "abcdefgh"));
	assert_string_equal("\\x1b", text_show(buf, sizeof(buf), "\x1b\x1b"));
	assert_string_equal("", text_show(buf, 1, "abc"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_len_of_each_length),
		cmocka_unit_test(test_utf8_len_refuses),
		cmocka_unit_test(test_utf8_len_stops_at_len),
		cmocka_unit_test(test_valid_utf8),
		cmocka_unit_test(test_is_printable),
		cmocka_unit_test(test_add_printable_keeps_text),
		cmocka_unit_test(test_add_printable_escapes_controls),
		cmocka_unit_test(test_add_printable_escapes_what_is_not_utf8),
		cmocka_unit_test(test_add_printable_can_keep_c1),
		cmocka_unit_test(test_add_cut),
		cmocka_unit_test(test_show_is_ascii),
		cmocka_unit_test(test_show_cuts_long_text),
		cmocka_unit_test(test_show_fits_a_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
