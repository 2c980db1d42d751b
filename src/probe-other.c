#include "common.h"
#include "probe.h"

/*
 * probe.h's listener functions on systems other than Linux, which have no
 * /proc and no sock_diag: they say so. The Makefile builds either this
 * file or probe-linux.c.
 */

#include "error.h"

#include <string.h>

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

int probe_proc_read(struct probe_proc *out, long pid UNUSED)
{
	memset(out, 0, sizeof(*out));
	return -1;
}

int probe_proc_parent(long pid UNUSED, long *ppid, char **cwd,
		      bool *cwd_deleted)
{
	*ppid = 0;
	*cwd = NULL;
	*cwd_deleted = false;
	return -1;
}
