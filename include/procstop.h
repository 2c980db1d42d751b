#ifndef WTP_PROCSTOP_H
#define WTP_PROCSTOP_H

/*
 * procstop: stop a process by its pid, and never another one that came
 * to have the same pid. A process is identified by its pid and its start
 * time (field 22 of /proc/PID/stat, in clock ticks after boot), taken
 * when it was seen; the start time is read again before each signal, and
 * a process that no longer matches is left alone.
 *
 *	struct procstop_id id;
 *	if (!procstop_identify(&id, pid)) {
 *		... later ...
 *		ret = procstop_stop(&id, PROCSTOP_TERM_MS, &how, err);
 *	}
 *
 * Linux only; elsewhere procstop_identify() fails.
 */

#include <stdbool.h>

struct error;

struct procstop_id {
	long pid;
	unsigned long long start;
};

/* How long a process has after SIGTERM before SIGKILL, and after SIGKILL. */
#define PROCSTOP_TERM_MS 5000
#define PROCSTOP_KILL_MS 5000

/* Identify 'pid' now: 0, or -1 when there is no such process (or a zombie). */
int procstop_identify(struct procstop_id *id, long pid);

/* Is the process of 'id' still running (not a zombie, not replaced)? */
bool procstop_alive(const struct procstop_id *id);

enum procstop_how {
	PROCSTOP_TERM,	  /* it exited after SIGTERM */
	PROCSTOP_KILL,	  /* it did not within the bound: SIGKILL */
	PROCSTOP_GONE,	  /* it had exited already: nothing was sent */
	PROCSTOP_REPLACED /* the pid is another process now: nothing sent */
};

/*
 * Send SIGTERM to the process of 'id', wait up to 'term_ms' for it to
 * exit, then SIGKILL and wait up to PROCSTOP_KILL_MS. Each signal is sent
 * only after the start time is checked again. 0 and '*how'; ERR_FAIL
 * when a signal cannot be sent (another user's process) or the process
 * outlives SIGKILL's bound.
 */
int procstop_stop(const struct procstop_id *id, int term_ms,
		  enum procstop_how *how, struct error *err);

#endif
