#ifndef WTP_TEXT_H
#define WTP_TEXT_H

/*
 * text: UTF-8 checks, and user text made safe to show, and nothing else.
 *
 * Pure: no files, no state. Names in a hand-edited registry or config, a
 * log line and another process's command line may hold any byte; what
 * reaches a terminal goes through here, so that it cannot move the
 * cursor, change colours or hide the rest of a message.
 *
 * Valid UTF-8 is what jansson accepts: no overlong forms, no surrogates
 * (U+D800-U+DFFF), nothing past U+10FFFF. A control character is a C0
 * control (U+0000-U+001F), DEL (U+007F) or a C1 control (U+0080-U+009F),
 * which some terminals obey as escapes.
 */

struct sbuf;

/*
 * The length of the valid UTF-8 sequence at 's', reading at most 'len'
 * bytes: 1 for an ASCII byte (NUL included), 2 to 4 for a longer
 * character, 0 if the bytes there are not UTF-8 or 'len' cuts them short.
 */
size_t text_utf8_len(const unsigned char *s, size_t len);

/* Is 's' valid UTF-8? Control characters are allowed. */
bool text_valid_utf8(const char *s);

/* Is 's' valid UTF-8 without a single control character? */
bool text_is_printable(const char *s);

/* Flags for text_add_printable(). */
#define TEXT_KEEP_C1 (1 << 0) /* copy C1 controls as they are */

/*
 * Append the 'len' bytes at 's' for a terminal: valid UTF-8 as it is, and
 * each byte of a control character or of what is not UTF-8 as "\xNN"
 * (lower case). A backslash stays as it is, so the result is for reading,
 * not for parsing back.
 */
void text_add_printable(struct sbuf *out, const char *s, size_t len,
			unsigned flags);

/* How much of a string text_show() shows, and room for all of it. */
#define TEXT_SHOW_MAX 64
#define TEXT_SHOW_SIZE (TEXT_SHOW_MAX * 4 + 8)

/* text_add_printable() of the whole of 's', keeping nothing else. */
void text_addstr_printable(struct sbuf *out, const char *s);

/*
 * 's' made printable (text_add_printable()), for one printf(): 's'
 * itself when it already is, else a copy in one of TEXT_PRINTABLE_SLOTS
 * buffers used in turn, valid until as many more calls. NULL gives "-".
 */
#define TEXT_PRINTABLE_SLOTS 8
const char *text_printable(const char *s);

/*
 * Write 's' into 'buf' (of 'size' bytes) for a one-line message, in
 * printable ASCII: ' ' to '~' as they are, except the backslash, and
 * every other byte as "\xNN", so that no text can pass for an escape. At
 * most TEXT_SHOW_MAX bytes are shown, then "..."; the text stops earlier,
 * without "...", once fewer than 9 bytes of 'buf' are left. Returns 'buf',
 * always NUL-terminated; 'size' must be at least 1.
 */
const char *text_show(char *buf, size_t size, const char *s);

/*
 * Append 's' (printable already) to 'out', cut to at most 'max' bytes
 * followed by "..." when longer, never inside a UTF-8 sequence.
 */
void text_add_cut(struct sbuf *out, const char *s, size_t max);

#endif
