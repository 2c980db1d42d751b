#include "common.h"
#include "alloc.h"
#include "error.h"

#include <assert.h>

#define FNV1A32_BASIS 2166136261u
#define FNV1A32_PRIME 16777619u

/*
 * The Fetch standard's "bad ports" at or above ALLOC_MIN_PORT, in
 * ascending order; everything below ALLOC_MIN_PORT is refused anyway.
 * Browsers will not connect to these, so a dev server there is useless.
 */
static const uint16_t bad_ports[] = {
	1719,  /* h323gatestat */
	1720,  /* h323hostcall */
	1723,  /* pptp */
	2049,  /* nfs */
	3659,  /* apple-sasl */
	4045,  /* npp */
	4190,  /* sieve */
	5060,  /* sip */
	5061,  /* sips */
	6000,  /* x11 */
	6566,  /* sane-port */
	6665,  /* ircu */
	6666,  /* ircu */
	6667,  /* ircu */
	6668,  /* ircu */
	6669,  /* ircu */
	6679,  /* osaut */
	6697,  /* ircs-u */
	10080, /* amanda */
};

static uint32_t fnv1a32(uint32_t h, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= FNV1A32_PRIME;
	}
	return h;
}

uint32_t alloc_hash(const char *worktree, const char *service)
{
	static const char nul = '\0';
	uint32_t h = FNV1A32_BASIS;

	assert(worktree && service);
	h = fnv1a32(h, worktree, strlen(worktree));
	h = fnv1a32(h, &nul, 1);
	return fnv1a32(h, service, strlen(service));
}

/* Number of ports in 'r': up to 65536, so it does not fit a uint16_t. */
static uint32_t range_size(const struct range *r)
{
	assert(r->start <= r->end);
	return (uint32_t)r->end - r->start + 1;
}

uint16_t alloc_preferred_port(const struct range *r, const char *worktree,
			      const char *service)
{
	uint32_t size = range_size(r);

	if (!worktree)
		return r->start;
	return (uint16_t)(r->start + alloc_hash(worktree, service) % size);
}

int alloc_pick_port(uint16_t *out, const struct range *r, const char *worktree,
		    const char *service, alloc_taken_fn taken, void *payload)
{
	uint32_t size = range_size(r);
	uint32_t first = alloc_preferred_port(r, worktree, service) - r->start;
	uint32_t i;

	for (i = 0; i < size; i++) {
		uint16_t port = (uint16_t)(r->start + (first + i) % size);

		if (alloc_is_bad_port(port))
			continue;
		if (taken && taken(port, payload))
			continue;
		*out = port;
		return 0;
	}
	return ERR_FULL;
}

bool alloc_is_bad_port(uint16_t port)
{
	size_t lo = 0, hi = ARRAY_SIZE(bad_ports);

	if (port < ALLOC_MIN_PORT)
		return true;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (bad_ports[mid] == port)
			return true;
		if (bad_ports[mid] < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

unsigned alloc_usable_ports(const struct range *r)
{
	uint32_t size = range_size(r);
	unsigned n = 0;
	uint32_t i;

	for (i = 0; i < size; i++)
		if (!alloc_is_bad_port((uint16_t)(r->start + i)))
			n++;
	return n;
}

/* ASCII only, whatever the locale says a letter is. */
static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

bool alloc_valid_name(const char *name)
{
	size_t i;

	if (!name || !is_alnum(name[0]))
		return false;
	for (i = 1; name[i]; i++) {
		if (i >= ALLOC_NAME_MAX)
			return false;
		if (!is_alnum(name[i]) && name[i] != '.' && name[i] != '_' &&
		    name[i] != '-')
			return false;
	}
	return true;
}

int alloc_parse_port(uint16_t *out, const char *s)
{
	uint32_t value = 0;
	size_t i;

	if (!s || !s[0])
		return -1;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		value = value * 10 + (uint32_t)(s[i] - '0');
		/* stop before the next digit could overflow */
		if (value > UINT16_MAX)
			return -1;
	}
	if (value < ALLOC_MIN_PORT)
		return -1;
	*out = (uint16_t)value;
	return 0;
}
