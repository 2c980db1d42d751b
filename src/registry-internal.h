#ifndef WTP_REGISTRY_INTERNAL_H
#define WTP_REGISTRY_INTERNAL_H

/*
 * registry-internal: what the files of the registry module share, and
 * nothing else includes (tests/layering.sh checks):
 *
 *	registry.c        the model: memory, defaults, queries, changes
 *	registry-read.c   reading a file: the fast scanner or jansson
 *	registry-check.c  validation, on every load and before every save
 *	registry-write.c  writing: JSON text, saved under the lock
 */

#include "registry.h"

#include <stdbool.h>
#include <stddef.h>

struct error;
struct reader;

/* What this version writes into "metadata", and the newest it reads. */
#define FORMAT_VERSION "1.0.0"
#define SCHEMA_VERSION 1

/*
 * The members of one object that the tool does not know, in the order
 * they were read, each value as JSON text: the bytes of the file, or
 * jansson's compact form of them. Saving reads them back with jansson,
 * so they are written as they were. One block holds it all.
 */
struct unknown {
	const char *key;
	const char *json; /* not NUL-terminated */
	size_t len;
};

struct extra {
	size_t nr;
	struct unknown m[];
};

/* The unknown keys of a range, which are found by its name. */
struct range_extra {
	const char *name;
	struct extra *extra;
};

/*
 * Where a load puts its strings and unknown keys: a few large blocks,
 * freed with the registry, so that reading a file costs a few calls to
 * malloc() rather than one per string. Nothing in them is freed alone.
 */
struct arena {
	struct arena *next;
	size_t size;
	size_t used;
	char data[]; /* aligned for any struct below */
};

#define ARENA_MIN 4096

/*
 * The strings of ranges, allocations and metadata are either in an arena
 * or in a block of their own, and the byte before each says which: so
 * registry_set_string(), which does not know the registry, frees only
 * what it may.
 */
#define STR_IN_ARENA 0
#define STR_OWN_BLOCK 1

/*
 * What the registry keeps beyond the public struct: the metadata, every
 * key it does not know, and the arena of the load. Allocations keep their
 * unknown keys in 'extra', in the arena.
 */
struct priv {
	struct arena *arena;	  /* the block being filled, then older ones */
	char *text;		  /* the file, if strings were kept in it */
	struct extra *extra;	  /* unknown top-level keys, or NULL */
	struct extra *meta_extra; /* unknown keys of "metadata", or NULL */
	struct range_extra *range_extra; /* ranges with unknown keys */
	size_t nr_range_extra;
	size_t alloc_range_extra;
	struct extra **reserved_extra; /* reservation i -> its own, or NULL */
	size_t nr_reserved_extra;
	size_t alloc_reserved_extra;
	size_t alloc_ranges;
	size_t alloc_reserved;
	char *version;
	char *last_updated; /* NULL: null */
	long long schema_version;
};

/*
 * Where in the file a value is, formatted only when something is wrong
 * there: "section", "section.name" or "section[index]", then ".key".
 */
struct where {
	const char *section;
	const char *name; /* a range name, or NULL */
	long index;	  /* an array index, or -1 */
};

struct parse {
	const char *path;
	struct error *err;
	bool saving; /* checking a registry about to be written, not read */
	struct arena **arena; /* where a load puts what it keeps */
	struct reader *rd;    /* what a load reads from */
};

/* The hints of the registry's errors. */
extern const char reg_fix_hint[];
extern const char reg_json_hint[];
extern const char reg_range_hint[];
extern const char reg_default_hint[];
extern const char reg_name_hint[];
extern const char reg_twice_hint[];
extern const char reg_save_hint[];
extern const char *const reg_health_statuses[];
extern const char *const reg_span_keys[];
extern const char *const reg_alloc_keys[];
extern const char *const reg_meta_keys[];

/* A new arena block of at least 'size' bytes, first in '*arena'. */
void reg_arena_reserve(struct arena **arena, size_t size);

/* A string in a block of its own (registry_set_string() may free it). */
char *reg_str_dup(const char *s);

/* Free a string of the registry, unless it lives in an arena. */
void reg_str_free(char *s);

/* The private part of 'reg', made on first use. */
struct priv *reg_priv(struct registry *reg);

/* An empty registry for 'path', with an arena for a file of 'len' bytes. */
struct registry *reg_new(const char *path, size_t len);

/*
 * Report a bad value at 'w' (NULL: the top level) and 'key' (NULL: the
 * whole element), with 'hint' or the usual one. Returns ERR_CORRUPT.
 */
int reg_corrupt(struct parse *p, const struct where *w, const char *key,
		const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Is 's' one of the NULL-terminated 'list'? */
bool reg_in_list(const char *s, const char *const *list);

/* ERR_CORRUPT for a port below ALLOC_MIN_PORT at 'w'.'key'. */
int reg_port_too_low(struct parse *p, const struct where *w, const char *key,
		     long long value);

/*
 * What the types cannot say: names, bounds, ranges that exist, and no
 * worktree holding two ports for one service nor (unless 'flags' allows
 * it) one port allocated twice. Run on every load and before every save.
 */
int reg_check(const struct registry *reg, unsigned flags, struct parse *p);

#endif
