#include "common.h"
#include "sbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

char sbuf_empty[1];

void sbuf_init(struct sbuf *sb)
{
	sb->buf = sbuf_empty;
	sb->len = 0;
	sb->alloc = 0;
}

void sbuf_release(struct sbuf *sb)
{
	if (sb->alloc)
		free(sb->buf);
	sbuf_init(sb);
}

char *sbuf_detach(struct sbuf *sb)
{
	char *p;

	if (!sb->alloc)
		sbuf_grow(sb, 0);
	p = sb->buf;
	sbuf_init(sb);
	return p;
}

void sbuf_reset(struct sbuf *sb)
{
	sbuf_setlen(sb, 0);
}

void sbuf_grow(struct sbuf *sb, size_t extra)
{
	size_t want = sb->len + extra + 1;
	bool fresh = !sb->alloc;

	if (want < sb->len) {
		fprintf(stderr, "fatal: string too long\n");
		abort();
	}
	if (fresh)
		sb->buf = NULL;
	ALLOC_GROW(sb->buf, want, sb->alloc);
	if (fresh)
		sb->buf[0] = '\0';
}

void sbuf_setlen(struct sbuf *sb, size_t len)
{
	if (!sb->alloc)
		return;
	sb->len = len;
	sb->buf[len] = '\0';
}

void sbuf_add(struct sbuf *sb, const void *data, size_t len)
{
	sbuf_grow(sb, len);
	memcpy(sb->buf + sb->len, data, len);
	sbuf_setlen(sb, sb->len + len);
}

void sbuf_addstr(struct sbuf *sb, const char *s)
{
	sbuf_add(sb, s, strlen(s));
}

void sbuf_addch(struct sbuf *sb, int c)
{
	char ch = (char)c;

	sbuf_add(sb, &ch, 1);
}

void sbuf_vaddf(struct sbuf *sb, const char *fmt, va_list ap)
{
	va_list cp;
	int n;

	sbuf_grow(sb, 64);
	va_copy(cp, ap);
	n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, cp);
	va_end(cp);
	if (n < 0)
		return;
	if ((size_t)n >= sb->alloc - sb->len) {
		sbuf_grow(sb, (size_t)n);
		n = vsnprintf(sb->buf + sb->len, sb->alloc - sb->len, fmt, ap);
	}
	sbuf_setlen(sb, sb->len + (size_t)n);
}

void sbuf_addf(struct sbuf *sb, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sbuf_vaddf(sb, fmt, ap);
	va_end(ap);
}

static int read_fd(struct sbuf *sb, int fd, size_t hint, size_t max)
{
	size_t old = sb->len;
	ssize_t n;

	/* room for 'hint' bytes and the read that finds the end */
	sbuf_grow(sb, hint ? hint + 1 : (max < 8192 ? max : 8192));
	for (;;) {
		size_t room;

		if (sb->len - old >= max)
			return 0;
		if (sb->alloc - sb->len - 1 == 0)
			sbuf_grow(sb, 8192);
		room = sb->alloc - sb->len - 1;
		if (room > max - (sb->len - old))
			room = max - (sb->len - old);
		n = read(fd, sb->buf + sb->len, room);
		if (n < 0) {
			int saved = errno;

			if (saved == EINTR)
				continue;
			sbuf_setlen(sb, old);
			errno = saved;
			return -1;
		}
		if (!n)
			return 0;
		sbuf_setlen(sb, sb->len + (size_t)n);
	}
}

int sbuf_read_fd(struct sbuf *sb, int fd, size_t hint)
{
	return read_fd(sb, fd, hint, SIZE_MAX);
}

int sbuf_read_fd_max(struct sbuf *sb, int fd, size_t max)
{
	return read_fd(sb, fd, 0, max);
}

int sbuf_read_file(struct sbuf *sb, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t hint = 0;
	int ret, saved;

	if (fd < 0)
		return -1;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && st.st_size > 0)
		hint = (size_t)st.st_size;
	ret = sbuf_read_fd(sb, fd, hint);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

void sbuf_rtrim(struct sbuf *sb)
{
	while (sb->len) {
		char c = sb->buf[sb->len - 1];

		if (c != ' ' && c != '\t' && c != '\r' && c != '\n')
			break;
		sb->len--;
	}
	sbuf_setlen(sb, sb->len);
}
