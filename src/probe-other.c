#include "common.h"
#include "probe.h"

/*
 * probe.h's listener functions on systems other than Linux, which have no
 * /proc and no sock_diag: they say so. The Makefile builds either this
 * file or probe-linux.c.
 */

#include "error.h"
#include "path.h"

int probe_listeners(struct probe_listener **out UNUSED, size_t *nr UNUSED,
		    uint16_t port, struct error *err)
{
	return error_set(
		err, ERR_FAIL, NULL, 0, NULL,
		"cannot tell who listens on port %u: not supported on this platform",
		(unsigned)port);
}

int probe_listeners_set(struct probe_listener **out UNUSED,
			size_t *nr UNUSED, const struct portset *ports UNUSED,
			struct error *err)
{
	return error_set(
		err, ERR_FAIL, NULL, 0, NULL,
		"cannot tell who listens on a port: not supported on this platform");
}

int probe_parse_proc_net_tcp(struct probe_listener **out UNUSED,
			     size_t *nr UNUSED, const char *text UNUSED,
			     int family UNUSED, uint16_t port UNUSED,
			     struct error *err)
{
	return error_set(err, ERR_FAIL, NULL, 0, NULL,
			 "/proc/net/tcp: not supported on this platform");
}

void probe_listeners_free(struct probe_listener *list, size_t nr)
{
	size_t i, j;

	if (!list)
		return;
	for (i = 0; i < nr; i++) {
		for (j = 0; j < list[i].nr_procs; j++) {
			free(list[i].procs[j].user);
			free(list[i].procs[j].cmdline);
			free(list[i].procs[j].cwd);
			free(list[i].procs[j].exe);
			free(list[i].procs[j].start_time);
		}
		free(list[i].procs);
		free(list[i].address);
		free(list[i].user);
	}
	free(list);
}

/* No process can be asked about its ancestors here: its own cwd only. */
bool probe_runs_inside(const struct probe_proc *proc, const char *dir)
{
	return path_is_under(proc->cwd, dir);
}

