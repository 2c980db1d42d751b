#include "common.h"
#include "procstop.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* How often a stopping process is looked at. */
#define POLL_MS 20

enum state { GONE, ZOMBIE, RUNNING };

/*
 * The state and start time of 'pid', from /proc/PID/stat: after the
 * command name in parentheses (which may hold any byte, ')' too: the
 * last one ends it) come the state, field 3, and 19 fields on the start
 * time, field 22.
 */
static enum state read_stat(long pid, unsigned long long *start)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t len;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return GONE;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return GONE;
	buf[len] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return GONE;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return ZOMBIE;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p)
		return GONE;
	*start = strtoull(p, NULL, 10);
	return RUNNING;
}

int procstop_identify(struct procstop_id *id, long pid)
{
	id->pid = pid;
	id->start = 0;
	if (pid <= 1)
		return -1;
	return read_stat(pid, &id->start) == RUNNING ? 0 : -1;
}

/* The process of 'id' right now. */
static enum procstop_how look(const struct procstop_id *id, bool *alive)
{
	unsigned long long start = 0;
	enum state st = read_stat(id->pid, &start);

	*alive = st == RUNNING && start == id->start;
	if (st == RUNNING && start != id->start)
		return PROCSTOP_REPLACED;
	return PROCSTOP_GONE;
}

bool procstop_alive(const struct procstop_id *id)
{
	bool alive;

	look(id, &alive);
	return alive;
}

/*
 * A handle on the process itself where Linux has one (pidfd, 5.3 and
 * later): once it is open and the start time still matches, signals
 * through it reach that process or none, however soon the pid is reused.
 * Without it, the start time is checked right before each kill().
 */
struct target {
	const struct procstop_id *id;
	int pidfd; /* -1: none */
};

static void target_open(struct target *t, const struct procstop_id *id)
{
	t->id = id;
	t->pidfd = -1;
#ifdef SYS_pidfd_open
	t->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)id->pid, 0);
#endif
}

static void target_close(struct target *t)
{
	if (t->pidfd >= 0)
		close(t->pidfd);
	t->pidfd = -1;
}

/* Has the process exited? With a pidfd, wait for it up to 'ms'. */
static bool wait_gone(const struct target *t, long ms)
{
	long waited;

	if (t->pidfd >= 0) {
		struct pollfd p = { t->pidfd, POLLIN, 0 };
		int n;

		do
			n = poll(&p, 1, (int)ms);
		while (n < 0 && errno == EINTR);
		/* a zombie has exited too; a poll error: look at /proc */
		if (n > 0)
			return true;
		if (!n)
			return !procstop_alive(t->id);
	}
	for (waited = 0;; waited += POLL_MS) {
		if (!procstop_alive(t->id))
			return true;
		if (waited >= ms)
			return false;
		sleep_ms(POLL_MS);
	}
}

/* Signal the process; 1 if it is gone already (nothing was sent). */
static int send(const struct target *t, int sig, struct error *err)
{
	int ret;

	if (!procstop_alive(t->id))
		return 1;
#ifdef SYS_pidfd_send_signal
	if (t->pidfd >= 0)
		ret = (int)syscall(SYS_pidfd_send_signal, t->pidfd, sig, NULL,
				   0);
	else
#endif
		ret = kill((pid_t)t->id->pid, sig);
	if (!ret)
		return 0;
	if (errno == ESRCH)
		return 1;
	return error_errno(err, NULL, "cannot stop pid %ld", t->id->pid);
}

int procstop_stop(const struct procstop_id *id, int term_ms,
		  enum procstop_how *how, struct error *err)
{
	struct target t;
	bool alive;
	int ret;

	target_open(&t, id);
	/* checked after the pidfd is open: it is this process, or none */
	*how = look(id, &alive);
	if (!alive) {
		target_close(&t);
		return 0;
	}
	ret = send(&t, SIGTERM, err);
	if (ret)
		goto out;
	*how = PROCSTOP_TERM;
	if (wait_gone(&t, term_ms))
		goto out;
	ret = send(&t, SIGKILL, err);
	if (ret)
		goto out;
	*how = PROCSTOP_KILL;
	if (!wait_gone(&t, PROCSTOP_KILL_MS))
		ret = error_set(err, ERR_FAIL, NULL, 0, NULL,
				"pid %ld did not exit %d s after SIGKILL",
				id->pid, PROCSTOP_KILL_MS / 1000);
out:
	target_close(&t);
	return ret < 0 ? ret : 0;
}
