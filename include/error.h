#ifndef WTP_ERROR_H
#define WTP_ERROR_H

/*
 * error: what went wrong, where, and what to do about it.
 *
 * A function that can fail takes a 'struct error *err' as its last
 * parameter and returns 0 or one of the negative ERR_* codes below. The
 * code that knows the file, line and field fills them in; callers pass the
 * code up unchanged and may add a hint. Only the command line (cli.c)
 * prints an error and turns its code into an exit status.
 *
 * The first error set is kept: later error_set() calls on a filled error
 * return their code but change nothing, so the root cause is what the user
 * sees. 'err' may be NULL when the caller does not care why.
 */

#include <stdarg.h>

enum error_code {
	ERR_FAIL = -1,     /* a system call or I/O failed */
	ERR_USAGE = -2,    /* bad command line */
	ERR_NOREPO = -3,   /* not inside a git repository or worktree */
	ERR_CORRUPT = -4,  /* the registry (or another file) is malformed */
	ERR_FULL = -5,     /* no free port left in a range */
	ERR_TAKEN = -6,    /* the port asked for is held by someone else */
	ERR_NOTFOUND = -7, /* no such range, service, allocation or worktree */
	ERR_LOCKED = -8,   /* another process held the lock too long */
	ERR_EXISTS = -9,   /* would overwrite something that exists */
	ERR_CONFIG = -10,  /* .worktree-ports.ini is malformed */
	ERR_CONFLICT = -11, /* conflicts found (check) */
	ERR_UNHEALTHY = -12, /* a health check found a service not healthy */
	ERR_RUNNING = -13    /* servers still run in the worktree (remove) */
};

#define ERROR_FILE_MAX 1024
#define ERROR_FIELD_MAX 160
#define ERROR_MSG_MAX 512

struct error {
	int code;   /* 0 while no error is set */
	int line;   /* 1-based, 0 if none */
	int column; /* 1-based, 0 if none */
	char file[ERROR_FILE_MAX];
	char field[ERROR_FIELD_MAX]; /* e.g. "allocations[3].port" */
	char msg[ERROR_MSG_MAX];
	char hint[ERROR_MSG_MAX];
};

#define ERROR_INIT { 0 }

/*
 * Fill 'err' (unless NULL or already set) and return 'code'. 'file' and
 * 'field' may be NULL, 'line' 0.
 */
int error_set(struct error *err, int code, const char *file, int line,
	      const char *field, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* error_set() with ERR_FAIL, appending ": " and strerror(errno). */
int error_errno(struct error *err, const char *file, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Set the hint, unless one is set already. Safe on NULL. */
void error_hint(struct error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Set the column of an error already set (for JSON parse errors). */
void error_set_column(struct error *err, int column);

struct sbuf;

/*
 * Append the error as one line without a newline: "FILE:LINE:COL: FIELD:
 * message", leaving out the parts that are not set. The hint is not
 * included.
 */
void error_format(const struct error *err, struct sbuf *out);

/* Forget any error, as after ERROR_INIT. */
void error_clear(struct error *err);

/*
 * Print "warning: MESSAGE" or "note: MESSAGE" and a newline to stderr:
 * for what the user should know about a command that still succeeds.
 * The whole message is escaped for the terminal (text_add_printable()).
 */
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * An error that does not stop the command, as a warning: "warning: FILE:
 * MESSAGE" and, unless 'then' is NULL, "; THEN" (what follows from it).
 */
void warning_error(const struct error *e, const char *then);
void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hint: MESSAGE", after a warning: what to do about it. */
void hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
