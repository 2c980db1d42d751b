#ifndef WTP_COMMON_H
#define WTP_COMMON_H

/*
 * common: included first by every .c file.
 *
 * Feature macros, the few types everything uses, and the x*alloc family,
 * which abort on out-of-memory as git's do: a command-line tool cannot
 * recover from it, and checking every allocation hides the real logic.
 */

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L

#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1

#endif

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNUSED __attribute__((unused))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * "fatal: out of memory WHAT" and abort(): the one way the program dies
 * when memory runs out (x*alloc(), and a library such as jansson that
 * reports it by returning NULL).
 */
__attribute__((noreturn)) void die_oom(const char *what);

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
/* xstrdup(), but NULL stays NULL. */
char *xstrdup_or_null(const char *s);
char *xstrndup(const char *s, size_t n);

/* Room for "YYYY-MM-DDTHH:MM:SSZ" and its NUL. */
#define UTC_TIME_SIZE 21

/*
 * Write 't' into 'buf' as "YYYY-MM-DDTHH:MM:SSZ", the form every time in
 * the registry and the log has. Returns 'buf', or NULL (and 'buf' empty)
 * for a time that cannot be written so.
 */
char *iso8601_utc(char buf[UTC_TIME_SIZE], time_t t);
/* Parse what iso8601_utc() writes: 0 and '*out', or -1. */
int iso8601_parse(const char *s, time_t *out);

/* Microseconds on the monotonic clock, for deadlines and timings. */
int64_t monotonic_us(void);

/* Sleep 'ms' milliseconds, resuming after signals. */
void sleep_ms(long ms);

/*
 * "user@host" for the current user, as allocations and the log record who
 * did something. The caller frees it.
 */
char *user_at_host(void);

/*
 * Grow 'p', an array of 'nr' used elements and 'alloc' allocated ones, so
 * it holds at least 'want'. Doubles, so appends cost amortized O(1).
 */
#define ALLOC_GROW(p, want, alloc)                                             \
	do {                                                                   \
		if ((want) > (alloc)) {                                        \
			size_t grow_ = (alloc) * 2 + 8;                        \
			if (grow_ < (want))                                    \
				grow_ = (want);                                \
			(p) = xrealloc((p), grow_ * sizeof(*(p)));             \
			(alloc) = grow_;                                       \
		}                                                              \
	} while (0)

/*
 * With GIT_WORKTREE_PORTS_TIMING=1, print "timing: PHASE MICROSECONDS"
 * to stderr: the time since the previous call (or since the start);
 * PHASE "total" prints the time since the start.
 */
void timing_mark(const char *phase);

/*
 * Write all 'len' bytes, again after EINTR and short writes. Returns 0,
 * or -1 with errno set (EIO for a write that wrote nothing).
 */
int write_in_full(int fd, const void *buf, size_t len);

#endif
