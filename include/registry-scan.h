#ifndef WTP_REGISTRY_SCAN_H
#define WTP_REGISTRY_SCAN_H

/*
 * registry-scan: the fast reader of ports.json, part of the registry
 * module. Only registry.c includes this header.
 *
 * A pull scanner over the text in memory, which it never modifies nor
 * copies: scalars come back whole, an object or an array is opened and
 * then walked member by member (scan_member(), scan_element()) or
 * consumed whole (scan_skip()). It reads the strict RFC 8259 subset that
 * registries are made of: objects, arrays, strings (valid UTF-8, without
 * escapes or with \" \\ \/ \b \f \n \r \t), integers that fit a long
 * long, null, true and false. Anything else, valid or not, makes it give
 * up with SCAN_GIVE_UP: \u escapes, fractions and exponents, leading
 * zeros, control characters, bad UTF-8, a duplicate key in any object,
 * nesting deeper than SCAN_MAX_DEPTH, trailing bytes. It says nothing
 * about why: the caller then reads the text with jansson, which is the
 * authority on every error. Whatever the scanner accepts, jansson
 * accepts with the same values (JSON_REJECT_DUPLICATES).
 *
 * The pointers it returns point into the text, or for keys with
 * escapes into a buffer of the scanner, and stay valid until
 * scan_release(). The scanner only reads ahead, so the caller may write
 * behind it, over a string it returned and the closing quote, but not
 * over the key of an object still open: later keys are compared with it.
 */

#define SCAN_GIVE_UP (-1)
#define SCAN_MAX_DEPTH 32

enum scan_type {
	SCAN_NULL,
	SCAN_FALSE,
	SCAN_TRUE,
	SCAN_INTEGER,
	SCAN_REAL, /* never returned: registry.c's, for jansson's reals */
	SCAN_STRING,
	SCAN_ARRAY,
	SCAN_OBJECT
};

struct scan_value {
	enum scan_type type;
	long long integer; /* SCAN_INTEGER */
	const char *str;   /* SCAN_STRING: the bytes between the quotes */
	size_t len;
	bool escaped; /* 'str' holds backslash escapes: see scan_unescape() */
	const char *raw; /* the value's JSON text */
	size_t raw_len;	 /* 0 for an array or object not yet at its end */
};

/* A member's name, decoded; not NUL-terminated. */
struct scan_key {
	const char *str;
	size_t len;
};

struct scan_frame {
	bool object;
	size_t count;	 /* members or elements read so far */
	size_t keys;	 /* the index of its first key in 'keys' */
	uint64_t filter; /* a bit for each of its keys, from their prints */
};

struct scan_keyent {
	const char *str;
	size_t len;
	uint64_t print; /* its length and a few bytes: most keys differ there */
};

struct scan {
	const char *text;
	const char *pos;
	const char *end;
	int depth; /* open arrays and objects */
	struct scan_frame frames[SCAN_MAX_DEPTH];
	struct scan_keyent *keys; /* the keys of the open objects */
	size_t nr_keys;
	size_t alloc_keys;
	char *decoded; /* keys with escapes, decoded; never moves */
	size_t decoded_len;
};

/* Start reading the 'len' bytes at 'text'. */
void scan_init(struct scan *s, const char *text, size_t len);

void scan_release(struct scan *s);

/*
 * Read the top-level value into 'out'. Returns 0 or SCAN_GIVE_UP. An
 * array or object is only opened: walk it, or scan_skip() it.
 */
int scan_begin(struct scan *s, struct scan_value *out);

/*
 * The next member of the innermost open object: 1 with its name and its
 * value (opened if an array or object), 0 when the object ends (it is
 * then closed), or SCAN_GIVE_UP.
 */
int scan_member(struct scan *s, struct scan_key *key, struct scan_value *out);

/* scan_member() for the innermost open array. */
int scan_element(struct scan *s, struct scan_value *out);

/*
 * Read to the end of 'v', the array or object just opened, and set its
 * raw_len. Returns 0 or SCAN_GIVE_UP.
 */
int scan_skip(struct scan *s, struct scan_value *v);

/* After the top-level value: 0 if only white space is left. */
int scan_end(struct scan *s);

/*
 * Decode the 'len' bytes of an escaped string (from a scan_value) into
 * 'dst', which has room for 'len' bytes; returns the decoded length. No
 * NUL is added.
 */
size_t scan_unescape(char *dst, const char *src, size_t len);

#endif
