#ifndef WTP_PICKER_H
#define WTP_PICKER_H

/*
 * picker: new allocations for a session. The host lock (peers.h) is taken
 * on the first port that must be picked, with what is taken (this
 * registry, the other registries of the host, the sockets listening now)
 * read once, and held until picker_release(), so that two commands in
 * different repositories cannot pick the same port.
 *
 *	struct picker pk = PICKER_INIT;
 *	ret = picker_allocate(&s, &pk, &t, "web", NULL, NULL, NULL,
 *			      &index, &fresh, err);
 *	... session_finish(&s, err) ...
 *	picker_release(&pk);
 */

#include "lockfile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct error;
struct session;
struct target;

/* Is anything listening on 'port' now? */
typedef bool (*picker_in_use_fn)(uint16_t port, void *payload);

/*
 * Picking new ports: the host lock and what is taken, set up on the first
 * new allocation of a command and kept for the rest of it.
 *
 * 'in_use' (with 'in_use_payload') says which ports are in use on the
 * system; NULL, as PICKER_INIT leaves it, asks probe_port_in_use(). It is
 * the seam for tests, and for a caller that has read the listening
 * sockets already.
 */
struct taken;
struct picker {
	struct lockfile host;
	struct taken *taken;
	picker_in_use_fn in_use;
	void *in_use_payload;
};

#define PICKER_INIT { LOCKFILE_INIT, NULL, NULL, NULL }

/*
 * Give worktree 't' a port for 'service' from the range 'range_name'
 * (NULL: the service's own range, else "default"), or exactly '*want'.
 * An existing allocation is returned as it is. '*index' is its index in
 * s->reg; '*fresh' says whether it is new. The caller saves.
 */
int picker_allocate(struct session *s, struct picker *pk,
		    const struct target *t, const char *service,
		    const char *range_name, const char *description,
		    const uint16_t *want, size_t *index, bool *fresh,
		    struct error *err);
void picker_release(struct picker *pk);

#endif
