#ifndef WTP_LOCKFILE_H
#define WTP_LOCKFILE_H

/*
 * lockfile: exclusive locks that die with their holder, and atomic file
 * replacement.
 *
 * git's O_EXCL lock files outlive a process killed by SIGKILL and then
 * block every later writer. Here a lock is an flock(2) on a separate,
 * permanent file (the registry's is in the state folder of the common
 * dir, see session.h; by default '<path>.lock' beside the file): the kernel
 * drops it when the holder exits, however it exits, so no later command
 * ever waits on a dead process. The lock file is never deleted, since
 * deleting a file others may be waiting on would let two holders in.
 *
 * Calling sequence for a read-modify-write of FILE:
 *
 *	struct lockfile lk = LOCKFILE_INIT;
 *	lockfile_lock(&lk, "FILE.lock", timeout, err);
 *	... read FILE, change it in memory ...
 *	lockfile_replace("FILE", data, len, 0644, LOCKFILE_HELD, err);
 *	lockfile_unlock(&lk);
 *
 * lockfile_unlock() is safe after LOCKFILE_INIT and after a failed lock.
 */

#include <sys/types.h>

struct error;

struct lockfile {
	int fd;
	char *path;
};

#define LOCKFILE_INIT { -1, NULL }

/*
 * Take the exclusive lock on 'path', creating it if needed, waiting up to
 * 'timeout_ms' (0: try once). ERR_LOCKED on timeout, ERR_FAIL when the
 * lock file cannot be opened.
 */
int lockfile_lock(struct lockfile *lk, const char *path, int timeout_ms,
		  struct error *err);
void lockfile_unlock(struct lockfile *lk);

/* The caller holds a lock serializing every writer of the file. */
#define LOCKFILE_HELD (1 << 0)

/*
 * Replace 'path' with 'len' bytes of 'data' so that a reader, or a process
 * killed at any moment, sees either the old file or the new one, and the
 * new one survives a crash: write a temporary file in the same directory,
 * fsync it, rename it over 'path', fsync the directory. Once the rename is
 * done the call succeeds: a directory that cannot be synced is a warning.
 *
 * An existing file keeps its mode (and its owner, where permitted); a new
 * one gets 'mode' less the umask. If 'path' is a symbolic link, the link
 * itself is replaced, never its target.
 *
 * With LOCKFILE_HELD the temporary file is '<path>.new', reused by the
 * next writer if a killed one left it behind; without it a unique name is
 * made, so unserialized writers cannot clobber each other's.
 */
int lockfile_replace(const char *path, const void *data, size_t len,
		     mode_t mode, unsigned flags, struct error *err);

#endif
