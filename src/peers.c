#include "common.h"
#include "peers.h"
#include "alloc.h"
#include "error.h"
#include "path.h"
#include "lockfile.h"
#include "registry.h"
#include "sbuf.h"

#include <assert.h>
#include <errno.h>
#include <sys/stat.h>

#define PEERS_SUBDIR "git-worktree-ports"
#define PEERS_LIST "registries"
#define PEERS_LOCK "registries.lock"

/* The registry paths of the list, in file order; NULL for a dropped one. */
struct peer_list {
	char **items;
	size_t nr;
	size_t alloc;
	bool changed; /* differs from the file: rewrite it */
};

static void peer_list_release(struct peer_list *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->nr = 0;
	list->alloc = 0;
	list->changed = false;
}

static bool peer_list_has(const struct peer_list *list, const char *path,
			  size_t len)
{
	size_t i;

	for (i = 0; i < list->nr; i++)
		if (list->items[i] && !strncmp(list->items[i], path, len) &&
		    !list->items[i][len])
			return true;
	return false;
}

static void peer_list_append(struct peer_list *list, const char *path,
			     size_t len)
{
	ALLOC_GROW(list->items, list->nr + 1, list->alloc);
	list->items[list->nr++] = xstrndup(path, len);
}

static void peer_list_drop(struct peer_list *list, size_t i)
{
	free(list->items[i]);
	list->items[i] = NULL;
	list->changed = true;
}

/*
 * Read the list at 'path'; a missing file is an empty list. Lines that are
 * not absolute paths, and repeated ones, are dropped as they are read:
 * the list is machine-written, so they can only be damage.
 */
static int peer_list_read(struct peer_list *list, const char *path,
			  struct error *err)
{
	struct sbuf text = SBUF_INIT;
	const char *p, *end;
	int ret = 0;

	if (sbuf_read_file(&text, path) < 0) {
		if (errno != ENOENT)
			ret = error_errno(err, path,
					  "cannot read the list of registries");
		goto out;
	}
	p = text.buf;
	end = text.buf + text.len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (!len || p[0] != '/' || memchr(p, '\0', len) ||
		    peer_list_has(list, p, len))
			list->changed = true;
		else
			peer_list_append(list, p, len);
		if (!nl) {
			list->changed = true; /* no final newline */
			break;
		}
		p = nl + 1;
	}
out:
	sbuf_release(&text);
	return ret;
}

static int ensure_dir(const char *dir, struct error *err)
{
	if (path_is_dir(dir))
		return 0;
	return mkdir_p(dir, 0700, err);
}

static int peer_list_write(const struct peer_list *list, const char *dir,
			   const char *path, struct error *err)
{
	struct sbuf text = SBUF_INIT;
	size_t i;
	int ret;

	for (i = 0; i < list->nr; i++) {
		if (!list->items[i])
			continue;
		sbuf_addstr(&text, list->items[i]);
		sbuf_addch(&text, '\n');
	}
	ret = ensure_dir(dir, err);
	if (!ret)
		ret = lockfile_replace(path, text.buf, text.len, 0600,
				       LOCKFILE_HELD, err);
	sbuf_release(&text);
	return ret;
}

int peers_dir(char **out, struct error *err)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	const char *sub = "/" PEERS_SUBDIR;
	struct sbuf dir = SBUF_INIT;

	*out = NULL;
	/* the XDG base directory spec says to ignore a relative path */
	if (state && state[0] == '/') {
		sbuf_addstr(&dir, state);
	} else if (home && home[0] == '/') {
		sbuf_addstr(&dir, home);
		sub = "/.local/state/" PEERS_SUBDIR;
	} else {
		return error_set(
			err, ERR_FAIL, NULL, 0, NULL,
			"cannot find a state directory: neither $XDG_STATE_HOME nor $HOME is an absolute path");
	}
	while (dir.len && dir.buf[dir.len - 1] == '/')
		sbuf_setlen(&dir, dir.len - 1);
	sbuf_addstr(&dir, sub);
	*out = sbuf_detach(&dir);
	return 0;
}

int peers_lock(struct lockfile *lk, int timeout_ms, struct error *err)
{
	struct sbuf path = SBUF_INIT;
	char *dir = NULL;
	int ret;

	ret = peers_dir(&dir, err);
	if (ret)
		goto out;
	ret = ensure_dir(dir, err);
	if (ret)
		goto out;
	sbuf_addf(&path, "%s/%s", dir, PEERS_LOCK);
	ret = lockfile_lock(lk, path.buf, timeout_ms, err);
out:
	sbuf_release(&path);
	free(dir);
	return ret;
}

enum peer_state {
	PEER_LOADED,
	PEER_GONE,  /* its file no longer exists: forget it */
	PEER_BROKEN /* there, but unreadable: its own commands say why */
};

static enum peer_state load_peer(struct registry **out, const char *path)
{
	struct error ignored = ERROR_INIT;
	struct stat st;

	if (!registry_load(out, path, REGISTRY_ALLOW_DUPLICATES, &ignored))
		return PEER_LOADED;
	/* only now, so the common case costs no extra system call */
	if (stat(path, &st) < 0 && (errno == ENOENT || errno == ENOTDIR))
		return PEER_GONE;
	return PEER_BROKEN;
}

/* Read the list, into 'list', and the directory and file names. */
static int open_list(struct peer_list *list, char **dir, struct sbuf *path,
		     struct error *err)
{
	int ret;

	ret = peers_dir(dir, err);
	if (ret)
		return ret;
	sbuf_addf(path, "%s/%s", *dir, PEERS_LIST);
	return peer_list_read(list, path->buf, err);
}

int peers_collect(struct portset *taken, const char *self, struct error *err)
{
	struct peer_list list = { 0 };
	struct sbuf path = SBUF_INIT;
	char *dir = NULL;
	bool have_self = false;
	size_t i, j;
	int ret;

	assert(!self || self[0] == '/');
	ret = open_list(&list, &dir, &path, err);
	if (ret)
		goto out;
	for (i = 0; i < list.nr; i++) {
		struct registry *reg = NULL;

		if (self && !strcmp(list.items[i], self)) {
			have_self = true;
			continue;
		}
		switch (load_peer(&reg, list.items[i])) {
		case PEER_LOADED:
			for (j = 0; j < reg->nr_allocs; j++)
				portset_add(taken, reg->allocs[j].port);
			registry_free(reg);
			break;
		case PEER_GONE:
			peer_list_drop(&list, i);
			break;
		case PEER_BROKEN:
			break;
		}
	}
	if (!self)
		goto out; /* only reading: leave the list as it is */
	/* a newline in the path would split it in two entries */
	if (!have_self && !strchr(self, '\n')) {
		peer_list_append(&list, self, strlen(self));
		list.changed = true;
	}
	if (list.changed)
		ret = peer_list_write(&list, dir, path.buf, err);
out:
	peer_list_release(&list);
	sbuf_release(&path);
	free(dir);
	return ret;
}

int peers_holder(char **out, uint16_t port, const char *self, struct error *err)
{
	struct peer_list list = { 0 };
	struct sbuf path = SBUF_INIT;
	char *dir = NULL;
	size_t i, j;
	int ret;

	*out = NULL;
	/* the list is replaced atomically: reading needs no lock */
	ret = open_list(&list, &dir, &path, err);
	if (ret)
		goto out;
	for (i = 0; i < list.nr && !*out; i++) {
		struct registry *reg = NULL;

		if (self && !strcmp(list.items[i], self))
			continue;
		if (load_peer(&reg, list.items[i]) != PEER_LOADED)
			continue;
		for (j = 0; j < reg->nr_allocs; j++) {
			if (reg->allocs[j].port == port) {
				*out = xstrdup(list.items[i]);
				break;
			}
		}
		registry_free(reg);
	}
out:
	peer_list_release(&list);
	sbuf_release(&path);
	free(dir);
	return ret;
}

int peers_list(char ***out, size_t *nr, const char *self, struct error *err)
{
	struct peer_list list = { 0 };
	struct sbuf path = SBUF_INIT;
	char **paths = NULL;
	char *dir = NULL;
	size_t i, n = 0;
	int ret;

	*out = NULL;
	*nr = 0;
	ret = open_list(&list, &dir, &path, err);
	if (ret)
		goto out;
	paths = xcalloc(list.nr + 1, sizeof(*paths));
	for (i = 0; i < list.nr; i++) {
		if (self && !strcmp(list.items[i], self))
			continue;
		paths[n++] = list.items[i];
		list.items[i] = NULL;
	}
	*out = paths;
	*nr = n;
out:
	peer_list_release(&list);
	sbuf_release(&path);
	free(dir);
	return ret;
}

void peers_each(const char *self,
		void (*fn)(const char *path, const struct registry *reg,
			   void *data),
		void *data)
{
	struct peer_list list = { 0 };
	struct sbuf path = SBUF_INIT;
	char *dir = NULL;
	size_t i;

	if (!open_list(&list, &dir, &path, NULL)) {
		for (i = 0; i < list.nr; i++) {
			struct registry *reg = NULL;

			if (self && !strcmp(list.items[i], self))
				continue;
			if (load_peer(&reg, list.items[i]) != PEER_LOADED)
				continue;
			fn(list.items[i], reg, data);
			registry_free(reg);
		}
	}
	peer_list_release(&list);
	sbuf_release(&path);
	free(dir);
}

struct holds_span {
	struct peers_holds *out;
	uint16_t lo, hi;
};

static void add_holds(const char *path, const struct registry *reg,
		      void *data)
{
	struct holds_span *hs = data;
	size_t i;

	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];
		struct peers_hold *h;

		if (a->port < hs->lo || a->port > hs->hi)
			continue;
		ALLOC_GROW(hs->out->items, hs->out->nr + 1, hs->out->alloc);
		h = &hs->out->items[hs->out->nr++];
		h->port = a->port;
		h->registry = xstrdup(path);
		h->worktree = xstrdup(a->worktree);
	}
}

static int cmp_hold(const void *a, const void *b)
{
	const struct peers_hold *x = a, *y = b;

	return (x->port > y->port) - (x->port < y->port);
}

void peers_holds_collect(struct peers_holds *out, const char *self,
			 uint16_t lo, uint16_t hi)
{
	struct holds_span hs = { out, lo, hi };

	peers_each(self, add_holds, &hs);
	if (out->nr > 1)
		qsort(out->items, out->nr, sizeof(*out->items), cmp_hold);
}

const struct peers_hold *peers_holds_find(const struct peers_holds *h,
					  uint16_t port)
{
	size_t lo = 0, hi = h->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (h->items[mid].port < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < h->nr && h->items[lo].port == port ? &h->items[lo] : NULL;
}

void peers_holds_release(struct peers_holds *h)
{
	size_t i;

	for (i = 0; i < h->nr; i++) {
		free(h->items[i].registry);
		free(h->items[i].worktree);
	}
	free(h->items);
	h->items = NULL;
	h->nr = h->alloc = 0;
}
