/*
 * test-tool: the integration tests' helper program; see test-tool.h.
 *
 *	test-tool NAME ARGS...
 *
 * Run with no arguments for the list of subcommands.
 */
#include "test-tool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *test_tool_cmd = "test-tool";

struct subcommand {
	const char *name;
	int (*fn)(int argc, const char **argv);
	const char *usage;
};

static const struct subcommand subcommands[] = {
	{ "can-bind", cmd__can_bind, "ADDR" },
	{ "env-block", cmd__env_block, "outside|block|vars FILE" },
	{ "json-edit", cmd__json_edit,
	  "FILE set|append PATH JSON | FILE delete PATH" },
	{ "json-get", cmd__json_get, "FILE PATH" },
	{ "json-lines", cmd__json_lines, "FILE PATH KEY..." },
	{ "listen", cmd__listen, "ADDR PORT PIDFILE" },
	{ "servers", cmd__servers,
	  "[--pidfile FILE] [--delay SECONDS] KIND:PORTS..." },
	{ "set-ranges", cmd__set_ranges, "REGISTRY NAME:START-END..." },
};

void die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", test_tool_cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		die(1, "out of memory");
	return p;
}

void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		die(1, "out of memory");
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void buf_grow(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->alloc)
		return;
	b->alloc = (b->len + extra + 1) * 2;
	b->buf = xrealloc(b->buf, b->alloc);
}

void buf_add(struct buf *b, const void *data, size_t len)
{
	buf_grow(b, len);
	memcpy(b->buf + b->len, data, len);
	b->len += len;
	b->buf[b->len] = '\0';
}

void buf_addstr(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die(1, "bad format '%s'", fmt);
	buf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_release(struct buf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->alloc = 0;
}

int read_file(struct buf *b, const char *path)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY) : 0;
	int ret = 0;

	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t n;

		buf_grow(b, 65536);
		n = read(fd, b->buf + b->len, b->alloc - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -1;
			break;
		}
		if (!n)
			break;
		b->len += (size_t)n;
	}
	b->buf[b->len] = '\0';
	if (fd) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return ret;
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void write_pidfile(const char *path)
{
	struct buf tmp = BUF_INIT, line = BUF_INIT;
	int fd;

	buf_addf(&tmp, "%s.tmp", path);
	buf_addf(&line, "%ld\n", (long)getpid());
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	if (fd < 0 || write_all(fd, line.buf, line.len) || close(fd))
		die(1, "cannot write '%s': %s", tmp.buf, strerror(errno));
	if (rename(tmp.buf, path))
		die(1, "cannot rename '%s' to '%s': %s", tmp.buf, path,
		    strerror(errno));
	buf_release(&tmp);
	buf_release(&line);
}

int parse_port(const char *arg, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (!*arg || *end || errno || v < 0 || v > 65535)
		die(2, "bad port '%s' in '%s'", arg, what);
	return (int)v;
}

__attribute__((noreturn)) static void usage(void)
{
	size_t i;

	fprintf(stderr, "usage: test-tool NAME ARGS...\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++)
		fprintf(stderr, "   or: test-tool %s %s\n", subcommands[i].name,
			subcommands[i].usage);
	exit(129);
}

int main(int argc, const char **argv)
{
	size_t i;

	if (argc < 2)
		usage();
	for (i = 0; i < sizeof(subcommands) / sizeof(*subcommands); i++) {
		if (strcmp(argv[1], subcommands[i].name))
			continue;
		test_tool_cmd = subcommands[i].name;
		return subcommands[i].fn(argc - 1, argv + 1);
	}
	fprintf(stderr, "test-tool: no subcommand '%s'\n", argv[1]);
	usage();
}
