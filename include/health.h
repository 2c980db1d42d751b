#ifndef WTP_HEALTH_H
#define WTP_HEALTH_H

/*
 * health: is a service on a port of this host up, checked for many ports
 * at once under one deadline.
 *
 * Only the loopback is ever contacted: 127.0.0.1 and ::1, whatever the
 * target says. A target's path is sent as the request target to the
 * address connected to and nothing else is read from it, so no input can
 * make this module reach another host or add a header.
 *
 * Levels, for each target:
 *  - listening: a TCP connection to 127.0.0.1:PORT or [::1]:PORT is
 *    established. Both are tried at once; the first to connect is used
 *    and the other attempt is dropped.
 *  - answering (HTTP targets only): "GET PATH HTTP/1.1" is sent and only
 *    the status line of the answer is read. 200-399 is healthy; any other
 *    code, or anything that is not a status line, is unhealthy. Interim
 *    1xx answers (such as 103 Early Hints) are skipped, 101 is not.
 *
 * Everything runs on non-blocking sockets driven by one poll(2) loop that
 * waits at most until the deadline: a server that accepts and never
 * answers, or answers a byte a second, costs the check nothing beyond the
 * deadline. docs/health.md says what each status and detail means.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct error;

/* The longest health path accepted, in bytes (as in .worktree-ports.ini). */
#define HEALTH_PATH_MAX 1024
/* Bytes of a status line read at most before it is refused as too long. */
#define HEALTH_LINE_MAX 1024
#define HEALTH_DETAIL_MAX 128

struct health_target {
	uint16_t port;
	/*
	 * NULL or "tcp": connect only. Otherwise the HTTP path to get: '/'
	 * and then at most HEALTH_PATH_MAX - 1 bytes of printable ASCII
	 * other than space. Borrowed: it must live until health_check()
	 * returns.
	 */
	const char *path;
};

/* Stored and shown by name (health_status_name()), never by number. */
enum health_status {
	HEALTH_UNKNOWN,	   /* not checked (invalid target, no socket) */
	HEALTH_HEALTHY,	   /* connected, and 2xx or 3xx for HTTP */
	HEALTH_UNHEALTHY,  /* something listens, but no good answer in time */
	HEALTH_NOT_RUNNING, /* both addresses refused the connection */
	/*
	 * a process of elsewhere answered: set by 'status --health-check'
	 * (checked.h) from the ownership rule, never by health_check()
	 */
	HEALTH_FOREIGN
};

/*
 * The name of a status as stored in the registry: "unknown", "healthy",
 * "unhealthy", "not_running", "foreign". A value outside the enum gives
 * "unknown".
 */
const char *health_status_name(enum health_status status);

/*
 * Parse a name given by health_status_name(), exactly (case matters).
 * Returns 0 and the status in '*out', or -1 and '*out' untouched.
 */
int health_status_parse(enum health_status *out, const char *name);

/*
 * Is 'path' acceptable as a target's path: NULL, "tcp", or '/' followed
 * by printable ASCII without spaces, at most HEALTH_PATH_MAX bytes in all?
 * health_check() refuses any other with HEALTH_UNKNOWN.
 */
bool health_path_is_valid(const char *path);

struct health_result {
	enum health_status status;
	/* a connection was established (true for every HTTP answer) */
	bool listening;
	/* AF_INET or AF_INET6: the address that connected; 0 if none */
	int family;
	/* the final status code received; 0 if none */
	int http_status;
	/*
	 * Microseconds from the start of this target's check to the
	 * connection, and to the end of the final status line; -1 when it
	 * did not happen.
	 */
	long connect_us;
	long response_us;
	/*
	 * One line of printable ASCII saying why, never empty: "connection
	 * refused", "HTTP 500", "timed out after 1000 ms waiting for the
	 * response"... Bytes from the server or the target appear in it only
	 * escaped (\xNN) and cut short.
	 */
	char detail[HEALTH_DETAIL_MAX];
};

/*
 * Check the 'nr' targets at once and fill results[i] for targets[i]: every
 * result is set when this returns, whatever it returns. Returns after
 * every target is decided, or after 'timeout_ms' (>= 0) from the call;
 * what is undecided then is unhealthy when something listens (it did not
 * answer in time, or its connection is still pending, which the loopback
 * only leaves so while a listener's queue is full) and unknown when it was
 * never started.
 *
 * Each target holds at most two descriptors at a time. If 2 * nr exceeds
 * the soft RLIMIT_NOFILE, the soft limit is raised towards the hard one
 * for the duration of the call (and put back afterwards); when that is not
 * enough, targets wait for the descriptors of decided ones, all still
 * under the same deadline.
 *
 * Returns 0, or ERR_FAIL when poll(2) itself fails (the undecided results
 * are then unknown, with the reason in their detail and in 'err'). A
 * problem with one target is reported in its result, never here.
 */
int health_check(struct health_result *results,
		 const struct health_target *targets, size_t nr, int timeout_ms,
		 struct error *err);

#endif
