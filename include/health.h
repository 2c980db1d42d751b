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

/* The longest health path accepted, in bytes (as in .worktree-ports.ini). */
#define HEALTH_PATH_MAX 1024

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
	HEALTH_NOT_RUNNING /* both addresses refused the connection */
};

/*
 * The name of a status as stored in the registry: "unknown", "healthy",
 * "unhealthy", "not_running". A value outside the enum gives "unknown".
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

#endif
