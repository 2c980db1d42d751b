#include "common.h"
#include "registry-scan.h"
#include "text.h"

#include <limits.h>

/*
 * Every function here gives up at the first byte it is not sure about;
 * registry.c then asks jansson, whose message is the one the user sees.
 * So there are no messages here, and "sure" means: jansson, called with
 * JSON_REJECT_DUPLICATES, reads the same bytes to the same values.
 *
 * A registry of 10,000 allocations is some 3 MB of short strings and
 * indentation, read by a command that should take a few milliseconds:
 * the position lives in a local between the few places that store it
 * back, and strings and runs of spaces are looked at 8 bytes at a time.
 */

/* Objects with more members check for duplicates by sorting at the end. */
#define PAIRWISE_KEYS 16

#define ONES ((uint64_t)0x0101010101010101ULL)
#define HIGHS ((uint64_t)0x8080808080808080ULL)
#define SPACES                                                                 \
	((1ULL << ' ') | (1ULL << '\n') | (1ULL << '\r') | (1ULL << '\t'))

void scan_init(struct scan *s, const char *text, size_t len)
{
	memset(s, 0, sizeof(*s));
	s->text = text;
	s->pos = text;
	s->end = text + len;
}

void scan_release(struct scan *s)
{
	free(s->keys);
	free(s->decoded);
	memset(s, 0, sizeof(*s));
}

/*
 * The index of the first of the 8 bytes loaded into a word whose top bit
 * is set in 'mask', which has one. Words are loaded with memcpy(), so on
 * a big-endian machine the first byte is the highest.
 */
static inline unsigned first_byte(uint64_t mask)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return (unsigned)__builtin_clzll(mask) / 8;
#else
	return (unsigned)__builtin_ctzll(mask) / 8;
#endif
}

static inline bool is_space(char c)
{
	unsigned char u = (unsigned char)c;

	return u <= ' ' && ((1ULL << u) & SPACES);
}

/* Past white space; indentation is skipped 8 spaces at a time. */
static const char *skip_spaces(const char *p, const char *end)
{
	while (p < end && is_space(*p)) {
		uint64_t w, x;

		if (*p != ' ' || end - p < 8) {
			p++;
			continue;
		}
		memcpy(&w, p, 8);
		x = w ^ (ONES * ' ');
		if (!x) {
			p += 8;
			continue;
		}
		/* the bytes that are not spaces, exactly; the first is not */
		x = (x | ((x & ~HIGHS) + ~HIGHS)) & HIGHS;
		p += first_byte(x);
	}
	return p;
}

static inline const char *skip_space(const char *p, const char *end)
{
	/* the usual cases: none, and one space after a colon */
	if (p < end && (unsigned char)*p > ' ')
		return p;
	if (end - p >= 2 && *p == ' ' && (unsigned char)p[1] > ' ')
		return p + 1;
	return skip_spaces(p, end);
}

/*
 * The bytes of 'w' that need a closer look in a string: a quote, a
 * backslash, a control character or a byte above 0x7f, each marked by
 * its top bit. No byte before the first one that needs it is marked.
 */
static inline uint64_t special_bytes(uint64_t w)
{
	uint64_t quote = w ^ (ONES * '"');
	uint64_t slash = w ^ (ONES * '\\');

	quote = (quote - ONES) & ~quote;
	slash = (slash - ONES) & ~slash;
	return (quote | slash | ((w - ONES * 0x20) & ~w) | w) & HIGHS;
}

static inline bool is_plain(char c)
{
	unsigned char u = (unsigned char)c;

	return u >= 0x20 && u < 0x80 && u != '"' && u != '\\';
}

/*
 * string_end() once a byte that is not plain has been met at 'p': escapes,
 * UTF-8, and the end of the text. Kept apart so that the common case
 * stays small.
 */
static const char *string_end_slow(const char *p, const char *end,
				   bool *escaped)
{
	for (;;) {
		size_t n;

		while (p < end && is_plain(*p))
			p++;
		if (p >= end)
			return NULL;
		if (*p == '"')
			return p;
		if (*p == '\\') {
			/* \u and anything unknown: jansson decides */
			if (end - p < 2 || !p[1] || !strchr("\"\\/bfnrt", p[1]))
				return NULL;
			*escaped = true;
			p += 2;
			continue;
		}
		if ((unsigned char)*p < 0x80)
			return NULL; /* a control character */
		n = text_utf8_len((const unsigned char *)p, (size_t)(end - p));
		if (!n)
			return NULL; /* not UTF-8 */
		p += n;
	}
}

/*
 * The closing quote of the string whose bytes start at 'p', or NULL to
 * give up. '*escaped' is set if it holds a backslash.
 */
static inline const char *string_end(const char *p, const char *end,
				     bool *escaped)
{
	*escaped = false;
	while (end - p >= 8) {
		uint64_t w, special;

		memcpy(&w, p, 8);
		special = special_bytes(w);
		if (special) {
			p += first_byte(special);
			if (*p == '"')
				return p;
			return string_end_slow(p, end, escaped);
		}
		p += 8;
	}
	return string_end_slow(p, end, escaped);
}

size_t scan_unescape(char *dst, const char *src, size_t len)
{
	const char *end = src + len;
	char *d = dst;

	while (src < end) {
		const char *bs = memchr(src, '\\', (size_t)(end - src));
		size_t plain = bs ? (size_t)(bs - src) : (size_t)(end - src);

		memmove(d, src, plain);
		d += plain;
		src += plain;
		if (!bs)
			break;
		switch (bs[1]) {
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		default: /* '"', '\\' and '/' stand for themselves */
			*d++ = bs[1];
			break;
		}
		src = bs + 2;
	}
	return (size_t)(d - dst);
}

/*
 * An integer at 'p', as jansson reads one: no leading zeros, and within
 * the range of json_int_t (long long), or it gives up. So does a
 * fraction or an exponent, which jansson would read as a real. Returns
 * the end of the number, or NULL.
 */
static const char *read_number(const char *p, const char *end, long long *out)
{
	unsigned long long value = 0;
	unsigned long long limit = (unsigned long long)LLONG_MAX;
	bool negative = false;

	if (*p == '-') {
		negative = true;
		limit += 1;
		p++;
	}
	if (p >= end || *p < '0' || *p > '9')
		return NULL;
	if (*p == '0') {
		p++;
	} else {
		while (p < end && *p >= '0' && *p <= '9') {
			unsigned digit = (unsigned)(*p - '0');

			if (value > (limit - digit) / 10)
				return NULL;
			value = value * 10 + digit;
			p++;
		}
	}
	if (p < end &&
	    ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E'))
		return NULL;
	if (!negative)
		*out = (long long)value;
	else if (value)
		*out = -(long long)(value - 1) - 1;
	else
		*out = 0; /* "-0": jansson's strtoll() makes it 0 */
	return p;
}

static const char *read_literal(const char *p, const char *end,
				const char *word, size_t len)
{
	if ((size_t)(end - p) < len || memcmp(p, word, len))
		return NULL;
	return p + len;
}

static const char *open_container(struct scan *s, const char *p, bool object)
{
	struct scan_frame *f;

	if (s->depth == SCAN_MAX_DEPTH)
		return NULL;
	f = &s->frames[s->depth++];
	f->object = object;
	f->count = 0;
	f->keys = s->nr_keys;
	f->filter = 0;
	return p + 1;
}

/*
 * The value at 'p' (white space skipped) into 'out'; returns the byte
 * after it, or after the bracket that opens it, or NULL.
 */
static inline __attribute__((always_inline)) const char *
read_value(struct scan *s, const char *p, struct scan_value *out)
{
	const char *end = s->end;
	const char *q;

	p = skip_space(p, end);
	if (p >= end)
		return NULL;
	out->integer = 0;
	out->str = NULL;
	out->len = 0;
	out->escaped = false;
	out->raw = p;
	out->raw_len = 0;
	switch (*p) {
	case '"':
		out->type = SCAN_STRING;
		q = string_end(p + 1, end, &out->escaped);
		if (!q)
			return NULL;
		out->str = p + 1;
		out->len = (size_t)(q - p - 1);
		q++;
		break;
	case '{':
		out->type = SCAN_OBJECT;
		return open_container(s, p, true);
	case '[':
		out->type = SCAN_ARRAY;
		return open_container(s, p, false);
	case 't':
		out->type = SCAN_TRUE;
		q = read_literal(p, end, "true", 4);
		break;
	case 'f':
		out->type = SCAN_FALSE;
		q = read_literal(p, end, "false", 5);
		break;
	case 'n':
		out->type = SCAN_NULL;
		q = read_literal(p, end, "null", 4);
		break;
	default:
		out->type = SCAN_INTEGER;
		q = read_number(p, end, &out->integer);
		break;
	}
	if (q)
		out->raw_len = (size_t)(q - p);
	return q;
}

/* The length and a few bytes of a key: equal for equal keys. */
static inline uint64_t key_print(const char *str, size_t len)
{
	const unsigned char *u = (const unsigned char *)str;

	if (!len)
		return 0;
	return (uint64_t)len << 32 | (uint64_t)u[0] << 16 |
	       (uint64_t)u[len / 2] << 8 | u[len - 1];
}

static int compare_keys(const void *a, const void *b)
{
	const struct scan_keyent *x = a, *y = b;

	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return memcmp(x->str, y->str, x->len);
}

/*
 * Remember the key of the member just read, giving up if the object has
 * it already. In a small object, a key whose bit in the object's filter
 * is set is compared with each earlier key; larger objects are sorted
 * when they end (close_container()).
 */
static inline int add_key(struct scan *s, struct scan_frame *f, const char *str,
			  size_t len)
{
	struct scan_keyent *k;
	uint64_t print = key_print(str, len);
	uint64_t bit = 1ULL << ((print * 0x9e3779b97f4a7c15ULL) >> 58);
	size_t i;

	if (f->count < PAIRWISE_KEYS && (f->filter & bit))
		for (i = f->keys; i < s->nr_keys; i++)
			if (s->keys[i].print == print &&
			    !memcmp(s->keys[i].str, str, len))
				return SCAN_GIVE_UP;
	f->filter |= bit;
	ALLOC_GROW(s->keys, s->nr_keys + 1, s->alloc_keys);
	k = &s->keys[s->nr_keys++];
	k->str = str;
	k->len = len;
	k->print = print;
	return 0;
}

/* Close the innermost container, whose closing bracket is at 'p'. */
static const char *close_container(struct scan *s, const char *p)
{
	struct scan_frame *f = &s->frames[s->depth - 1];
	size_t i;

	if (f->object && f->count > PAIRWISE_KEYS) {
		struct scan_keyent *k = s->keys + f->keys;

		qsort(k, f->count, sizeof(*k), compare_keys);
		for (i = 1; i < f->count; i++)
			if (!compare_keys(&k[i - 1], &k[i]))
				return NULL;
	}
	s->nr_keys = f->keys; /* the keys of this object only */
	s->depth--;
	return p + 1;
}

/*
 * Up to the next member ('object') or element of the innermost container,
 * which must be of that kind: 1 with s->pos on it (past the comma, if
 * any) and '*out' its frame, 0 if the container ended (it is closed), or
 * SCAN_GIVE_UP.
 */
static inline int next_item(struct scan *s, bool object,
			    struct scan_frame **out)
{
	struct scan_frame *f;
	const char *p;

	if (!s->depth || s->frames[s->depth - 1].object != object)
		return SCAN_GIVE_UP;
	f = &s->frames[s->depth - 1];
	p = skip_space(s->pos, s->end);
	if (p >= s->end)
		return SCAN_GIVE_UP;
	if (*p == (object ? '}' : ']')) {
		p = close_container(s, p);
		if (!p)
			return SCAN_GIVE_UP;
		s->pos = p;
		return 0;
	}
	if (f->count) {
		if (*p != ',')
			return SCAN_GIVE_UP;
		p = skip_space(p + 1, s->end);
	}
	s->pos = p;
	*out = f;
	return 1;
}

int scan_member(struct scan *s, struct scan_key *key, struct scan_value *out)
{
	const char *p, *end = s->end, *q;
	struct scan_frame *f;
	bool escaped;
	size_t len;
	int ret;

	ret = next_item(s, true, &f);
	if (ret <= 0)
		return ret;
	p = s->pos;
	if (p >= end || *p != '"')
		return SCAN_GIVE_UP;
	q = string_end(p + 1, end, &escaped);
	if (!q)
		return SCAN_GIVE_UP;
	key->str = p + 1;
	len = (size_t)(q - p - 1);
	if (escaped) {
		char *d;

		if (!s->decoded)
			s->decoded = xmalloc((size_t)(end - s->text) + 1);
		d = s->decoded + s->decoded_len;
		len = scan_unescape(d, key->str, len);
		key->str = d;
		s->decoded_len += len;
	}
	key->len = len;
	if (add_key(s, f, key->str, len) < 0)
		return SCAN_GIVE_UP;
	f->count++;
	p = skip_space(q + 1, end);
	if (p >= end || *p != ':')
		return SCAN_GIVE_UP;
	p = read_value(s, p + 1, out);
	if (!p)
		return SCAN_GIVE_UP;
	s->pos = p;
	return 1;
}

int scan_element(struct scan *s, struct scan_value *out)
{
	const char *p;
	struct scan_frame *f;
	int ret;

	ret = next_item(s, false, &f);
	if (ret <= 0)
		return ret;
	f->count++;
	p = read_value(s, s->pos, out);
	if (!p)
		return SCAN_GIVE_UP;
	s->pos = p;
	return 1;
}

int scan_skip(struct scan *s, struct scan_value *v)
{
	int depth = s->depth;

	if (v->type != SCAN_OBJECT && v->type != SCAN_ARRAY)
		return 0;
	while (s->depth >= depth) {
		struct scan_value inner;
		struct scan_key key;
		int ret;

		if (s->frames[s->depth - 1].object)
			ret = scan_member(s, &key, &inner);
		else
			ret = scan_element(s, &inner);
		if (ret < 0)
			return SCAN_GIVE_UP;
	}
	v->raw_len = (size_t)(s->pos - v->raw);
	return 0;
}

int scan_begin(struct scan *s, struct scan_value *out)
{
	const char *p = read_value(s, s->pos, out);

	if (!p)
		return SCAN_GIVE_UP;
	s->pos = p;
	return 0;
}

int scan_end(struct scan *s)
{
	if (s->depth)
		return SCAN_GIVE_UP;
	s->pos = skip_space(s->pos, s->end);
	return s->pos == s->end ? 0 : SCAN_GIVE_UP;
}
