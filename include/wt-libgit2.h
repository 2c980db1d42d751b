#ifndef WTP_WT_LIBGIT2_H
#define WTP_WT_LIBGIT2_H

/*
 * wt-libgit2: libgit2, loaded when the wt module first needs it.
 *
 * Linking libgit2 drags some eighteen shared libraries into every run,
 * which costs about as much as a whole 'git worktree list', while most
 * runs (allocate finding its port, the hook in a healthy repository)
 * never call it. So the binary is not linked against libgit2: the wt
 * module calls it through 'lg2', a table filled by dlopen(3) and dlsym(3)
 * on first use. Each pointer has the type of libgit2's own prototype, so
 * the compiler checks every call as if it were linked.
 *
 * Private to the wt module (wt.c, wt-config.c): no other file includes
 * this header or <git2.h>.
 */

#include <git2.h>

struct error;

#define LG2_FUNCTIONS(X)                                                       \
	X(libgit2_init)                                                        \
	X(libgit2_shutdown)                                                    \
	X(libgit2_opts)                                                        \
	X(error_last)                                                          \
	X(error_clear)                                                         \
	X(repository_open)                                                     \
	X(repository_open_ext)                                                 \
	X(repository_free)                                                     \
	X(repository_workdir)                                                  \
	X(repository_path)                                                     \
	X(repository_commondir)                                                \
	X(repository_is_bare)                                                  \
	X(repository_config_snapshot)                                          \
	X(worktree_list)                                                       \
	X(worktree_lookup)                                                     \
	X(worktree_free)                                                       \
	X(worktree_path)                                                       \
	X(worktree_is_locked)                                                  \
	X(worktree_validate)                                                   \
	X(strarray_dispose)                                                    \
	X(config_get_string_buf)                                               \
	X(config_open_ondisk)                                                  \
	X(config_multivar_iterator_new)                                        \
	X(config_next)                                                         \
	X(config_iterator_free)                                                \
	X(config_free)                                                         \
	X(buf_dispose)

#define LG2_MEMBER(name) __typeof__(&git_##name) name;

struct lg2_table {
	LG2_FUNCTIONS(LG2_MEMBER)
};

#undef LG2_MEMBER

/* Filled by wt_libgit2_load(); only valid after it returned 0. */
extern struct lg2_table lg2;

/*
 * Releasing what libgit2 gave: safe on NULL or empty objects, and so on
 * a cleanup path reached before libgit2 was ever loaded.
 */
static inline void lg2_repository_free(git_repository *r)
{
	if (r)
		lg2.repository_free(r);
}

static inline void lg2_worktree_free(git_worktree *w)
{
	if (w)
		lg2.worktree_free(w);
}

static inline void lg2_config_free(git_config *c)
{
	if (c)
		lg2.config_free(c);
}

static inline void lg2_config_iterator_free(git_config_iterator *i)
{
	if (i)
		lg2.config_iterator_free(i);
}

static inline void lg2_buf_dispose(git_buf *b)
{
	if (b->ptr)
		lg2.buf_dispose(b);
}

static inline void lg2_strarray_dispose(git_strarray *a)
{
	if (a->strings)
		lg2.strarray_dispose(a);
}

/*
 * Load libgit2 and fill 'lg2', once; later calls return at once. The
 * library is the one the build found the headers with: its soname comes
 * from the Makefile (build/gen/libgit2-soname.h), and its
 * git_libgit2_version() must report the major.minor of the headers
 * (LIBGIT2_VER_MAJOR, LIBGIT2_VER_MINOR), since libgit2's ABI changes
 * between minor versions. ERR_FAIL with dlerror()'s message when the
 * library or a symbol is missing (the hint names the soname, and the
 * Debian package derived from it), or naming both versions when they
 * differ. Does not call git_libgit2_init().
 *
 * $GIT_WORKTREE_PORTS_TEST_LIBGIT2, for tests only, names a file to load
 * instead, so that a test can offer a fake libgit2 of another version.
 */
int wt_libgit2_load(struct error *err);

#endif
