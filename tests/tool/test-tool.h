#ifndef WTP_TEST_TOOL_H
#define WTP_TEST_TOOL_H

/*
 * test-tool: what the integration tests need and the shell lacks, in one
 * program (git's t/helper/test-tool model). Not installed; never used by
 * the command itself. Each subcommand is a cmd__NAME() in a file of its
 * own here, registered in test-tool.c, and documented at the top of that
 * file; tests/lib.sh wraps the ones scripts call often.
 *
 * A subcommand returns the exit status or calls die(), which prints
 * "NAME: message" (NAME the subcommand) and exits with the status given.
 */

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1
#endif

#include <stdbool.h>
#include <stddef.h>

int cmd__can_bind(int argc, const char **argv);
int cmd__env_block(int argc, const char **argv);
int cmd__json_edit(int argc, const char **argv);
int cmd__json_get(int argc, const char **argv);
int cmd__json_lines(int argc, const char **argv);
int cmd__listen(int argc, const char **argv);
int cmd__servers(int argc, const char **argv);
int cmd__set_ranges(int argc, const char **argv);

/* The running subcommand's name, for messages. */
extern const char *test_tool_cmd;

__attribute__((format(printf, 2, 3), noreturn))
void die(int status, const char *fmt, ...);

/* malloc() and friends that die on out-of-memory. */
void *xmalloc(size_t size);
void *xrealloc(void *p, size_t size);
char *xstrndup(const char *s, size_t n);

/* A growing byte string; 'buf' is NUL-terminated, 'len' excludes it. */
struct buf {
	char *buf;
	size_t len, alloc;
};
#define BUF_INIT { NULL, 0, 0 }

void buf_add(struct buf *b, const void *data, size_t len);
void buf_addstr(struct buf *b, const char *s);
__attribute__((format(printf, 2, 3)))
void buf_addf(struct buf *b, const char *fmt, ...);
void buf_release(struct buf *b);

/* Read all of 'path' ("-": stdin) into 'b'; -1 with errno on failure. */
int read_file(struct buf *b, const char *path);

/* Write all of 'len' bytes to 'fd'; -1 with errno on failure. */
int write_all(int fd, const void *data, size_t len);

/*
 * Write "PID\n" to 'path' whole: to 'path'.tmp first, then a rename, so
 * that whoever waits for a non-empty file sees all of it.
 */
void write_pidfile(const char *path);

/* A port number 0-65535 from 'arg', or die naming 'what'. */
int parse_port(const char *arg, const char *what);

#endif
