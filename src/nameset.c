#include "common.h"
#include "nameset.h"
#include "alloc.h"

void nameset_init(struct nameset *s, size_t nr, nameset_key_fn key,
		  const void *data)
{
	size_t size = 16;

	/* at most half full, so that probe runs stay short */
	while (size < nr * 2)
		size *= 2;
	s->slot = xcalloc(size, sizeof(*s->slot));
	s->mask = size - 1;
	s->nr = 0;
	s->key = key;
	s->data = data;
}

static bool same(const char *a, const char *b, const char *ka, const char *kb)
{
	if (strcmp(a, ka))
		return false;
	if (!b || !kb)
		return !b && !kb;
	return !strcmp(b, kb);
}

/* The slot holding ('a', 'b'), or the empty slot where it would go. */
static size_t lookup(const struct nameset *s, const char *a, const char *b)
{
	size_t i = alloc_hash(a, b ? b : "") & s->mask;

	for (; s->slot[i]; i = (i + 1) & s->mask) {
		const char *ka, *kb;

		s->key(s->data, s->slot[i] - 1, &ka, &kb);
		if (same(a, b, ka, kb))
			break;
	}
	return i;
}

long nameset_find(const struct nameset *s, const char *a, const char *b)
{
	size_t i = lookup(s, a, b);

	return s->slot[i] ? (long)(s->slot[i] - 1) : -1;
}

static void grow(struct nameset *s)
{
	size_t *old = s->slot, old_size = s->mask + 1, i;

	s->mask = 2 * old_size - 1;
	s->slot = xcalloc(2 * old_size, sizeof(*s->slot));
	for (i = 0; i < old_size; i++) {
		const char *a, *b;

		if (!old[i])
			continue;
		s->key(s->data, old[i] - 1, &a, &b);
		s->slot[lookup(s, a, b)] = old[i];
	}
	free(old);
}

long nameset_add(struct nameset *s, size_t index)
{
	const char *a, *b;
	size_t i;

	s->key(s->data, index, &a, &b);
	i = lookup(s, a, b);
	if (s->slot[i])
		return (long)(s->slot[i] - 1);
	if (2 * (s->nr + 1) > s->mask + 1) {
		grow(s);
		i = lookup(s, a, b);
	}
	s->slot[i] = index + 1;
	s->nr++;
	return -1;
}

void nameset_release(struct nameset *s)
{
	free(s->slot);
	s->slot = NULL;
	s->mask = 0;
}
