#include "common.h"
#include "text.h"
#include "sbuf.h"

#include <stdio.h>

size_t text_utf8_len(const unsigned char *s, size_t len)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (!len)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		need = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		need = 4;
	else
		return 0;
	/* no overlong forms, no surrogates, nothing past U+10FFFF */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (len < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need;
}

/* Is the character of 'n' bytes at 's' (valid UTF-8) a control? */
static bool is_control(const unsigned char *s, size_t n)
{
	if (n == 1)
		return s[0] < 0x20 || s[0] == 0x7f;
	/* U+0080-U+009F are C2 80 to C2 9F */
	return n == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

static bool all_utf8(const char *s, bool controls)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0;

	while (i < len) {
		size_t n = text_utf8_len(p + i, len - i);

		if (!n || (!controls && is_control(p + i, n)))
			return false;
		i += n;
	}
	return true;
}

bool text_valid_utf8(const char *s)
{
	return all_utf8(s, true);
}

bool text_is_printable(const char *s)
{
	return all_utf8(s, false);
}

void text_add_printable(struct sbuf *out, const char *s, size_t len,
			unsigned flags)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		size_t n = text_utf8_len(p + i, len - i);

		/*
		 * One byte at a time: the second byte of a C1 control is
		 * no lead byte, so it is escaped on the next turn.
		 */
		if (!n || (is_control(p + i, n) &&
			   !(n == 2 && (flags & TEXT_KEEP_C1)))) {
			sbuf_addf(out, "\\x%02x", p[i]);
			i++;
			continue;
		}
		sbuf_add(out, p + i, n);
		i += n;
	}
}

const char *text_show(char *buf, size_t size, const char *s)
{
	size_t used = 0, n = 0;

	for (; *s && used + 8 < size; s++, n++) {
		unsigned char ch = *s;

		if (n == TEXT_SHOW_MAX) {
			memcpy(buf + used, "...", 3);
			used += 3;
			break;
		}
		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			used += (size_t)snprintf(buf + used, size - used,
						 "\\x%02x", ch);
		else
			buf[used++] = ch;
	}
	buf[used] = '\0';
	return buf;
}

void text_addstr_printable(struct sbuf *out, const char *s)
{
	text_add_printable(out, s, strlen(s), 0);
}

const char *text_printable(const char *s)
{
	static struct sbuf slots[TEXT_PRINTABLE_SLOTS] = {
		SBUF_INIT, SBUF_INIT, SBUF_INIT, SBUF_INIT,
		SBUF_INIT, SBUF_INIT, SBUF_INIT, SBUF_INIT
	};
	static size_t next;
	struct sbuf *sb;

	if (!s)
		return "-";
	if (text_is_printable(s))
		return s;
	sb = &slots[next++ % TEXT_PRINTABLE_SLOTS];
	sbuf_reset(sb);
	text_addstr_printable(sb, s);
	return sb->buf;
}

void text_add_cut(struct sbuf *out, const char *s, size_t max)
{
	size_t len = strlen(s);

	if (len <= max) {
		sbuf_add(out, s, len);
		return;
	}
	len = max;
	while (len && ((unsigned char)s[len] & 0xc0) == 0x80)
		len--;
	sbuf_add(out, s, len);
	sbuf_addstr(out, "...");
}
