#include "common.h"
#include "lockfile.h"
#include "error.h"
#include "sbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int lockfile_lock(struct lockfile *lk, const char *path, int timeout_ms,
		  struct error *err)
{
	int64_t deadline = monotonic_us() / 1000 + timeout_ms;
	long wait = 1;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return error_errno(err, path, "cannot open lock file");
	for (;;) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			break;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error_errno(err, path, "cannot lock");
			close(fd);
			return ERR_FAIL;
		}
		if (monotonic_us() / 1000 >= deadline) {
			close(fd);
			error_set(err, ERR_LOCKED, path, 0, NULL,
				  "another git-worktree-ports process has held this lock for %d ms",
				  timeout_ms);
			error_hint(err, "wait for it to finish and try again; the lock is freed when that process exits");
			return ERR_LOCKED;
		}
		sleep_ms(wait);
		if (wait < 32)
			wait *= 2;
	}
	lk->fd = fd;
	lk->path = xstrdup(path);
	return 0;
}

void lockfile_unlock(struct lockfile *lk)
{
	if (lk->fd >= 0)
		close(lk->fd); /* closing drops the flock */
	free(lk->path);
	lk->fd = -1;
	lk->path = NULL;
}

static void dir_of(struct sbuf *out, const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		sbuf_addstr(out, ".");
	else if (slash == path)
		sbuf_addstr(out, "/");
	else
		sbuf_add(out, path, (size_t)(slash - path));
}

static int fsync_dir(const char *path)
{
	struct sbuf dir = SBUF_INIT;
	int fd, ret = 0, saved;

	dir_of(&dir, path);
	fd = open(dir.buf, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		/* some file systems refuse fsync on a directory: not fatal */
		if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
			ret = -1;
		saved = errno;
		close(fd);
		errno = saved;
	}
	sbuf_release(&dir);
	return ret;
}

int lockfile_replace(const char *path, const void *data, size_t len,
		     mode_t mode, unsigned flags, struct error *err)
{
	struct sbuf tmp = SBUF_INIT;
	struct stat st;
	bool exists = !lstat(path, &st) && S_ISREG(st.st_mode);
	int fd = -1, ret = 0;

	if (flags & LOCKFILE_HELD) {
		sbuf_addf(&tmp, "%s.new", path);
		fd = open(tmp.buf,
			  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
			  0600);
	} else {
		const char *base = strrchr(path, '/');

		dir_of(&tmp, path);
		sbuf_addf(&tmp, "/.%s.XXXXXX", base ? base + 1 : path);
		fd = mkstemp(tmp.buf);
	}
	if (fd < 0) {
		ret = error_errno(err, tmp.buf, "cannot create temporary file");
		goto out;
	}
	if (exists) {
		if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM) {
			ret = error_errno(err, tmp.buf, "cannot set owner");
			goto out;
		}
		mode = st.st_mode & 07777;
	} else {
		mode_t mask = umask(0);

		umask(mask);
		mode &= ~mask;
	}
	if (fchmod(fd, mode) < 0) {
		ret = error_errno(err, tmp.buf, "cannot set mode");
		goto out;
	}
	if (write_in_full(fd, data, len) < 0 || fsync(fd) < 0) {
		ret = error_errno(err, tmp.buf, "cannot write");
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = error_errno(err, tmp.buf, "cannot write");
		goto out;
	}
	fd = -1;
	if (rename(tmp.buf, path) < 0) {
		ret = error_errno(err, path, "cannot replace");
		goto out;
	}
	/*
	 * The file is replaced: failing now would report a change that was
	 * made as one that was not. It may not survive a power loss, which
	 * is worth a warning.
	 */
	sbuf_setlen(&tmp, 0);
	if (fsync_dir(path) < 0)
		warning("cannot sync the directory of '%s' (%s); the change is made but may not survive a crash",
			path, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (ret && tmp.len)
		unlink(tmp.buf);
	sbuf_release(&tmp);
	return ret;
}
