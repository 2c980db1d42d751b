#ifndef WTP_REGISTRY_H
#define WTP_REGISTRY_H

/*
 * registry: design/worktrees/ports.json, the one file that says which port
 * belongs to which worktree and service.
 *
 * Loading validates the whole file and reports the first problem with the
 * file name and either the line and column (malformed JSON) or the field
 * ("allocations[3].port"), plus a hint; a registry that did not load is
 * never written. Saving writes the whole file atomically (lockfile.h): the
 * caller must hold the registry lock, taken with registry_lock(), across
 * the load, the change and the save, so that no update is lost.
 *
 * Keys the tool does not know, at the top level, in "metadata", in a range
 * or in an allocation, survive a load and save unchanged.
 *
 * Most files are read by a fast scanner (registry-scan.h, private to this
 * module); jansson reads the others, and any file with an error, so the
 * registry and every message are the same whichever reader read it (see
 * "Reading" in docs/registry.md).
 *
 * Ownership: a registry comes from registry_load(), registry_parse() or
 * registry_new_default() and goes to registry_free() (which accepts NULL).
 * Every string in it belongs to the registry, and most share a few large
 * blocks with the rest of the load: replace one only with
 * registry_set_string(), never with free() or a plain assignment.
 * Pointers to allocations are invalidated by registry_add() and
 * registry_remove().
 */

#include "alloc.h"
#include "lockfile.h"

struct error;
struct sbuf;


/* process_id when the registry holds null or nothing */
#define ALLOCATION_NO_PID (-1L)

struct allocation {
	uint16_t port;
	char *worktree;     /* the worktree's git name, or WT_MAIN_NAME */
	char *path;         /* its top directory; NULL in seed registries */
	char *service;
	char *range;        /* range it came from; NULL: resolve by service */
	char *allocated_at; /* "YYYY-MM-DDTHH:MM:SSZ", NULL if absent */
	char *allocated_by; /* "user@host", NULL if absent */
	char *description;  /* NULL if none */
	long process_id;    /* ALLOCATION_NO_PID if null */
	char *health_status; /* "unknown" when absent */
	char *health_checked_at; /* time of the last check; NULL if never */
	void *extra;        /* private to registry.c: the keys it does not know */
};

struct registry {
	char *path; /* the file it was loaded from or will be saved to */
	struct range *ranges;
	size_t nr_ranges;
	struct range *reserved; /* 'name' is NULL for reservations */
	size_t nr_reserved;
	struct allocation *allocs;
	size_t nr_allocs;
	size_t alloc_allocs;
	void *priv; /* private to registry.c */
};

/* Accept a port allocated twice (for 'check', which reports it). */
#define REGISTRY_ALLOW_DUPLICATES (1 << 0)

/*
 * For tests, which compare the two readers (see "Reading" in
 * docs/registry.md): read with jansson only, or with the fast scanner
 * only (ERR_CORRUPT, without a useful message, where it gives up).
 */
#define REGISTRY_NO_FAST_PATH (1 << 1)
#define REGISTRY_FAST_PATH_ONLY (1 << 2)

/*
 * Read and validate the registry at 'path'. ERR_NOTFOUND if it does not
 * exist (with a hint to run init), ERR_CORRUPT if it is malformed,
 * ERR_FAIL if it cannot be read.
 */
int registry_load(struct registry **out, const char *path, unsigned flags,
		  struct error *err);

/* registry_load() on text in memory; 'path' is used for messages and save. */
int registry_parse(struct registry **out, const char *text, size_t len,
		   const char *path, unsigned flags, struct error *err);

/*
 * A new registry with the built-in ranges, the same as the installed
 * ports.json.example, to be saved at 'path'.
 */
void registry_new_default(struct registry **out, const char *path);

/*
 * Append to 'out' the whole file as it would be saved (with the metadata
 * as it stands), with a final newline. Known keys come first, in a fixed
 * order (an allocation's: port, worktree, path, service, range if set,
 * allocated_at, allocated_by, description, process_id, health_status),
 * then the unknown ones in the order they were read.
 */
void registry_serialize(const struct registry *reg, struct sbuf *out);

/*
 * Write the registry back to reg->path atomically, with metadata
 * "last_updated" set to now and "total_allocations" to the count. The
 * caller holds the lock (LOCKFILE_HELD).
 *
 * A registry that would not load back is not written: ERR_CORRUPT, naming
 * the field, for the checks registry_load() makes and for strings that
 * are not UTF-8. A port allocated twice is written (the commands that
 * load with REGISTRY_ALLOW_DUPLICATES remove them one at a time).
 */
int registry_save(struct registry *reg, struct error *err);

/*
 * registry_save(), then the same bytes to 'copy' (NULL: none), the copy
 * in the common dir that restores a registry git or a hand took away
 * (session.h). A copy that cannot be written is a warning.
 */
int registry_save_copy(struct registry *reg, const char *copy,
		       struct error *err);

void registry_free(struct registry *reg);

/*
 * Take the lock that serializes every writer of the registry at 'path'
 * ('path' + ".lock"), waiting up to 'timeout_ms'.
 */
int registry_lock(struct lockfile *lk, const char *path, int timeout_ms,
		  struct error *err);

/*
 * Add a range named 'name' (which the registry must not have yet): the
 * ranges a project declares in .worktree-ports.ini join the registry
 * the first time they are used. Pointers to ranges are invalidated.
 */
void registry_add_range(struct registry *reg, const char *name,
			uint16_t start, uint16_t end, const char *description);

/*
 * A nameset_key_fn (nameset.h) naming allocation 'i' of the registry
 * 'reg' by its worktree: to visit each worktree of a registry once.
 */
void registry_worktree_key(const void *reg, size_t i, const char **a,
			   const char **b);

/* Borrowed pointer to the range named 'name', or NULL. */
const struct range *registry_find_range(const struct registry *reg,
					const char *name);

/*
 * The range an allocation of 'service' draws from: 'range_name' if not
 * NULL, else the range named like the service, else "default". NULL if
 * none of them exists.
 */
const struct range *registry_range_for(const struct registry *reg,
				       const char *service,
				       const char *range_name);

/* Index of the allocation of 'worktree' and 'service', or -1. */
long registry_find(const struct registry *reg, const char *worktree,
		   const char *service);

/* Index of the first allocation of 'port', or -1. */
long registry_find_port(const struct registry *reg, uint16_t port);

/* The reservation holding 'port', or NULL. */
const struct range *registry_reserved_at(const struct registry *reg,
					 uint16_t port);

/*
 * Append a copy of 'a' (strings duplicated, 'extra' ignored) and return
 * its index. 'worktree' and 'service' must be set; a NULL 'health_status'
 * becomes "unknown". Nothing is checked until registry_save().
 */
size_t registry_add(struct registry *reg, const struct allocation *a);

/* Remove the allocation at 'index', keeping the order of the others. */
void registry_remove(struct registry *reg, size_t index);

/*
 * Replace a string of the registry ('path', or a string field of an
 * allocation or a range) with a copy of 'value', which may be NULL.
 */
void registry_set_string(char **field, const char *value);

/*
 * A copy of 'a' that outlives the registry: every string its own (free
 * it with allocation_copy_release()), and none of the unknown keys.
 */
void allocation_copy(struct allocation *out, const struct allocation *a);
void allocation_copy_release(struct allocation *a);

#endif
