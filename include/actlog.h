#ifndef WTP_ACTLOG_H
#define WTP_ACTLOG_H

/*
 * actlog: ports.log, the activity log beside the registry, and nothing
 * else.
 *
 * Every change the commands make to the registry (allocate, release,
 * auto-release, prune, repair, a health status that changed) is appended
 * to the log as one JSON object a line (docs/activity-log.md). The log is
 * a record for people; nothing reads it to decide anything, so a failure
 * to write it never undoes or fails the change it describes.
 *
 * Location: named after the path the caller gives, which the commands
 * take from session.h's state base (the state folder of the common dir
 * for the repository's registry). A path ending in "ports.json" logs to
 * "ports.log" in its directory; any other logs to the path with ".log"
 * appended ("team.json" -> "team.json.log"). The previous log is
 * "<log>.1".
 *
 * Calling sequence for a command that changes the registry:
 *
 *	registry_lock(&lk, path, timeout, err);
 *	registry_load(&reg, path, 0, err);
 *	... change reg, fill entries[] ...
 *	registry_save(reg, err);
 *	if (actlog_append(path, entries, nr, &logerr) < 0)
 *		print logerr as a warning;
 *	lockfile_unlock(&lk);
 *
 * The registry lock serializes writers, which keeps rotation safe.
 * Readers need no lock (actlog_read()).
 */

#include <time.h>

struct error;
struct sbuf;

/*
 * Past this size the log is rotated: ACTLOG_MAX_BYTES bounds ports.log,
 * so the two files together hold at most twice as much.
 *
 * For tests only, $GIT_WORKTREE_PORTS_LOG_MAX (a decimal number of bytes,
 * at least 1) replaces the bound; any other value is ignored.
 */
#define ACTLOG_MAX_BYTES (1024 * 1024)
#define ACTLOG_MAX_ENV "GIT_WORKTREE_PORTS_LOG_MAX"

/* 'port' or 'pid' not given, or absent from a line */
#define ACTLOG_NONE (-1L)

/* The actions the commands write, for a usage message. */
#define ACTLOG_ACTIONS "allocate, release, auto-release, prune, repair, health"

/*
 * One line to append. Only 'action' is required; NULL strings and
 * ACTLOG_NONE numbers are left out of the line. Strings may hold any
 * bytes: control characters are escaped, and a byte that is not part of
 * valid UTF-8 is written as U+FFFD.
 */
struct actlog_entry {
	const char *time;     /* "YYYY-MM-DDTHH:MM:SSZ" (UTC); NULL: now */
	const char *action;   /* one of ACTLOG_ACTIONS */
	const char *worktree; /* the worktree's git name */
	const char *service;  /* as in the registry */
	long port;	      /* 1..65535, or ACTLOG_NONE */
	const char *by;	      /* "user@host"; NULL: the current user */
	const char *detail;   /* "healthy -> unhealthy", "moved from 8081" */
	long pid;	      /* > 0, or ACTLOG_NONE */
};

/* One line read back. Every string belongs to the record. */
struct actlog_record {
	char *time;	/* as written: "YYYY-MM-DDTHH:MM:SSZ" */
	time_t when;	/* 'time' as seconds since the epoch */
	char *action;	/* any non-empty string: unknown actions are kept */
	char *worktree; /* NULL if absent or null */
	char *service;	/* NULL if absent or null */
	long port;	/* ACTLOG_NONE if absent or null */
	char *by;	/* NULL if absent or null */
	char *detail;	/* NULL if absent or null */
	long pid;	/* ACTLOG_NONE if absent or null */
};

/* Which records actlog_read() returns: all of the conditions set. */
struct actlog_filter {
	time_t since;	      /* at or after; 0: any time */
	const char *worktree; /* exact match; NULL: any */
	const char *service;
	const char *action;
};

/*
 * Called for each line actlog_read() skips. 'warning' names the file and
 * line (and column when JSON is malformed) and ends in "; skipped"; the
 * caller prints error_format() of it after "warning: ". User text in it
 * is shown with non-printable bytes escaped ("\x1b"). After
 * ACTLOG_MAX_WARNINGS lines of one file, one more warning says how many
 * more were skipped.
 */
typedef void (*actlog_warn_fn)(const struct error *warning, void *payload);

#define ACTLOG_MAX_WARNINGS 10

/* Append to 'out' the path of the log of the registry at 'registry_path'. */
void actlog_path(struct sbuf *out, const char *registry_path);

/* Whether 'action' is one of ACTLOG_ACTIONS. */
bool actlog_is_action(const char *action);

/*
 * Append the 'nr' entries to the log of the registry at 'registry_path'
 * in one write(2) on a file opened with O_APPEND, creating it (mode 0666
 * less the umask) if needed. The caller holds the registry lock.
 *
 * If the log is not empty and the batch would take it past the bound, it
 * is first renamed to "<log>.1", replacing the one there, and a new log
 * is started. A batch larger than the bound gets a new file to itself.
 *
 * Not fsynced: a crash can lose the last lines, never a registry change.
 * A line cut short by a full disk is ended before the next batch, so it
 * costs only itself.
 *
 * Returns 0, or ERR_FAIL with the log's path and the reason (the log is a
 * symbolic link or not a regular file, an entry's time is malformed, a
 * system call failed); then nothing of the batch was written, unless the
 * write itself failed half way. The registry change stands: the caller
 * prints the error as a warning and goes on.
 */
int actlog_append(const char *registry_path, const struct actlog_entry *entries,
		  size_t nr, struct error *err);

/*
 * Read the log of the registry at 'registry_path' and its previous file,
 * and set '*out' to the 'nr' records that pass 'f' (NULL: all), newest
 * first: in the reverse of the order they were appended, which is the
 * order of time unless the clock went back.
 *
 * A line that is not a JSON object, lacks "time" or "action", has a
 * malformed time or a field of the wrong type is skipped, after a call to
 * 'warn' (which may be NULL). Blank lines are skipped silently, and keys
 * the module does not know are ignored. A missing file holds no records.
 *
 * Safe while another process appends or rotates: both files are opened
 * before either is read, the current one first, so a rotation in between
 * is seen as one file (read once), never as a gap.
 *
 * Returns 0, or ERR_FAIL when a file exists but cannot be read (or is not
 * a regular file); then '*out' is NULL and '*nr' 0, as when no record
 * passes. The records are the caller's, for actlog_records_free().
 */
int actlog_read(struct actlog_record **out, size_t *nr,
		const char *registry_path, const struct actlog_filter *f,
		actlog_warn_fn warn, void *payload, struct error *err);

/* Free 'nr' records and the array; accepts NULL. */
void actlog_records_free(struct actlog_record *records, size_t nr);

/*
 * Parse the argument of "log --since" into '*out', for
 * actlog_filter.since: a duration back from 'now', digits and one unit,
 * 's', 'm', 'h', 'd' or 'w' ("45s", "30m", "2h", "3d", "1w"), or a time in
 * UTC, "YYYY-MM-DDTHH:MM:SSZ" or "YYYY-MM-DD" (midnight). A duration
 * reaching before the epoch gives 0, which filters nothing.
 *
 * Returns 0, or ERR_USAGE naming the option and the value, with a hint
 * giving the accepted forms; '*out' is set only on success.
 */
int actlog_parse_since(time_t *out, const char *spec, time_t now,
		       struct error *err);

#endif
