#ifndef WTP_ALLOC_H
#define WTP_ALLOC_H

/*
 * alloc: the port allocation policy, and nothing else.
 *
 * Pure: no files, sockets, clock or git. The caller says which ports are
 * taken through 'taken'; the same inputs always give the same port.
 *
 * The preferred port of a linked worktree is
 *
 *	start + fnv1a32(worktree || 0x00 || service) mod (end - start + 1)
 *
 * where fnv1a32 is 32-bit FNV-1a (offset basis 2166136261, prime
 * 16777619) over the bytes of the two names as given, joined by one NUL
 * byte. The main worktree prefers 'start', a range's usual port. From the
 * preferred port the search goes upward, wrapping once to 'start', and
 * skips every port alloc_is_bad_port() names and every port 'taken' says
 * is taken.
 *
 * The names, the port bounds, the port sets and the hash the registry
 * uses are the ones defined here: the registry depends on alloc, never
 * the other way.
 */

#include <stdbool.h>
#include <stdint.h>

/* A range of ports, as the registry names it. */
struct range {
	char *name;
	uint16_t start; /* inclusive, 1024..65535 */
	uint16_t end;   /* inclusive, start..65535 */
	char *description; /* NULL if none */
};

typedef bool (*alloc_taken_fn)(uint16_t port, void *payload);

/* Lowest port ever handed out: 0-1023 are the system's. */
#define ALLOC_MIN_PORT 1024

/* 32-bit FNV-1a of worktree, a NUL byte, and service. */
uint32_t alloc_hash(const char *worktree, const char *service);

/*
 * The port 'worktree' prefers for 'service' in 'r'; 'worktree' NULL means
 * the main worktree.
 */
uint16_t alloc_preferred_port(const struct range *r, const char *worktree,
			      const char *service);

/*
 * Probe onward from the preferred port, wrapping once; 0 and the port in
 * '*out', or ERR_FULL if none is free. 'worktree' NULL means the main
 * worktree. 'taken' NULL means nothing is taken. 'taken' is asked about
 * each candidate at most once, bad ports never.
 */
int alloc_pick_port(uint16_t *out, const struct range *r, const char *worktree,
		    const char *service, alloc_taken_fn taken, void *payload);

/*
 * Is 'port' one that browsers refuse to connect to (the Fetch standard's
 * "bad ports"), or below ALLOC_MIN_PORT?
 */
bool alloc_is_bad_port(uint16_t port);

/* How many ports of 'r' could ever be handed out (bad ports excluded). */
unsigned alloc_usable_ports(const struct range *r);

/* Longest service or range name alloc_valid_name() accepts. */
#define ALLOC_NAME_MAX 64

/*
 * Is 'name' acceptable as a service or range name: 1 to ALLOC_NAME_MAX
 * characters of ASCII [A-Za-z0-9._-], starting with a letter or digit?
 */
bool alloc_valid_name(const char *name);

/*
 * Parse a port number given on the command line or in a file: decimal
 * digits only (no sign, no space; leading zeros are still decimal),
 * ALLOC_MIN_PORT..65535. Returns 0 and the port in '*out', or -1 and
 * '*out' untouched. Bad ports are accepted: the caller decides.
 */
int alloc_parse_port(uint16_t *out, const char *s);

/* A set of ports, for the taken-callbacks: a plain bitmap. */
struct portset {
	uint64_t bits[65536 / 64];
};

static inline void portset_add(struct portset *s, uint16_t port)
{
	s->bits[port / 64] |= (uint64_t)1 << (port % 64);
}

static inline bool portset_has(const struct portset *s, uint16_t port)
{
	return (s->bits[port / 64] >> (port % 64)) & 1;
}

#endif
