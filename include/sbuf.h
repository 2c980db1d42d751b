#ifndef WTP_SBUF_H
#define WTP_SBUF_H

/*
 * sbuf: a growable, always NUL-terminated byte string.
 *
 * Initialize with SBUF_INIT; after that, sbuf_release() is always safe and
 * leaves the buffer ready for reuse. 'buf' is never NULL (it points to a
 * shared empty string until something is added), so it can be printed at
 * once. 'len' excludes the NUL; the buffer may hold NUL bytes of its own.
 */

#include <stdarg.h>

struct sbuf {
	char *buf;
	size_t len;
	size_t alloc;
};

extern char sbuf_empty[];
#define SBUF_INIT { sbuf_empty, 0, 0 }

void sbuf_init(struct sbuf *sb);
void sbuf_release(struct sbuf *sb);
/* Hand the buffer to the caller (to free()); 'sb' is empty afterwards. */
char *sbuf_detach(struct sbuf *sb);
void sbuf_reset(struct sbuf *sb);
void sbuf_grow(struct sbuf *sb, size_t extra);
void sbuf_setlen(struct sbuf *sb, size_t len);
void sbuf_add(struct sbuf *sb, const void *data, size_t len);
void sbuf_addstr(struct sbuf *sb, const char *s);
void sbuf_addch(struct sbuf *sb, int c);
void sbuf_addf(struct sbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sbuf_vaddf(struct sbuf *sb, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/*
 * Append everything left to read from 'fd' ('hint': the bytes expected,
 * 0 if not known, to size the buffer once). Returns 0, or -1 with errno
 * set (the buffer keeps what it had before). Does not close 'fd'.
 */
int sbuf_read_fd(struct sbuf *sb, int fd, size_t hint);

/* sbuf_read_fd() of at most 'max' bytes (to tell a file that is too big). */
int sbuf_read_fd_max(struct sbuf *sb, int fd, size_t max);

/*
 * Append the whole file at 'path'. Returns 0, or -1 with errno set (the
 * buffer keeps what it had before).
 */
int sbuf_read_file(struct sbuf *sb, const char *path);

/* Remove trailing spaces, tabs, CRs and LFs (never a NUL byte). */
void sbuf_rtrim(struct sbuf *sb);

#endif
