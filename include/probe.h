#ifndef WTP_PROBE_H
#define WTP_PROBE_H

/*
 * probe: what the operating system says about a port.
 *
 * Only loopback and wildcard addresses are ever touched. The portable part
 * (probe.c) uses plain sockets; anything that needs the kernel's own
 * tables lives in probe-linux.c behind this same interface, and other
 * systems get a clear "not supported" from those functions.
 */

/*
 * Is anything bound to TCP 'port' on 127.0.0.1, 0.0.0.0, ::1 or ::? Found
 * by trying to bind each (with SO_REUSEADDR, as servers do, so connections
 * lingering in TIME_WAIT do not count); an address family the system does
 * not have is skipped.
 */
bool probe_port_in_use(uint16_t port);

/*
 * Who listens on a port, from the kernel's own tables (Linux only; other
 * systems get ERR_FAIL "not supported on this platform").
 *
 * A listener is one TCP socket in LISTEN state. The kernel shows every
 * socket of the network namespace to everyone, but the processes holding
 * it only to their own user and root: another user's server appears with
 * its address, inode and owner, and no processes. See docs/probe.md.
 */

/* A process that holds a listening socket. All strings are owned. */
struct probe_proc {
	long pid;
	long ppid;    /* 0 if unknown */
	unsigned uid; /* the real uid */
	char *user;   /* its login name, or the uid in decimal; never NULL */
	/*
	 * argv joined by spaces, for display: control bytes and bytes that
	 * are not UTF-8 are written as \xNN, and a process with no argv
	 * (a kernel thread, a zombie) is "[name]". Never NULL.
	 */
	char *cmdline;
	/*
	 * the working directory, NULL if unreadable; a removed one as Linux
	 * shows it, "/old/path (deleted)", with 'cwd_deleted' set
	 */
	char *cwd;
	bool cwd_deleted;
	char *exe;	  /* the executable, NULL if unreadable */
	char *start_time; /* "2026-11-21T10:00:00Z", NULL if unknown */
	/* PROBE_MARKER_VAR in its environment, NULL if unset or unreadable */
	char *marker;
};

/*
 * The variable 'run' sets, in the environment of what it starts, to the
 * canonical top of the worktree it runs for (owner.h reads it).
 */
#define PROBE_MARKER_VAR "GIT_WORKTREE_PORTS_WORKTREE"


struct probe_listener {
	int family;    /* AF_INET or AF_INET6 */
	char *address; /* as inet_ntop() writes it: "127.0.0.1", "::" */
	uint16_t port;
	unsigned long inode; /* the socket's inode, as in "socket:[inode]" */
	unsigned uid;	     /* the socket's owner */
	char *user;	     /* its login name, or the uid in decimal */
	/*
	 * Every process holding the socket, by pid (several after a fork,
	 * as in a pre-forking server). Empty when none is visible to us.
	 */
	struct probe_proc *procs;
	size_t nr_procs;
};

struct error;

/*
 * Every TCP socket listening on 'port', IPv4 and IPv6, sorted by family
 * and address, each with the processes holding it. On success *out (NULL
 * when *nr is 0) goes to probe_listeners_free(). No listener is not an
 * error. Fails with ERR_FAIL when the kernel's tables cannot be read.
 *
 * The sockets come from sock_diag netlink, or from /proc/net/tcp and
 * /proc/net/tcp6 where netlink is unavailable; the processes from a scan
 * of the fd links in /proc, skipping processes we may not look into.
 */
int probe_listeners(struct probe_listener **out, size_t *nr, uint16_t port,
		    struct error *err);

struct portset;

/*
 * probe_listeners() for every port in 'ports' at once: one read of the
 * socket tables and one scan of /proc however many ports there are, so a
 * health check of hundreds of ports stays cheap. The listeners of all
 * the ports come back in one list ('port' says whose), sorted by family
 * and address.
 */
int probe_listeners_set(struct probe_listener **out, size_t *nr,
			const struct portset *ports, struct error *err);

/*
 * The process to name for a listener: the one whose parent does not hold
 * the socket too (the parent of a pre-forking server, not a worker);
 * NULL when no process is visible.
 */
const struct probe_proc *probe_main_proc(const struct probe_listener *l);

/* Free what probe_listeners() returned. Accepts NULL. */
void probe_listeners_free(struct probe_listener *list, size_t nr);

/*
 * Read process 'pid' from the live system, as a listener's processes
 * are read (its parent, for one): 0, or -1 when there is no such process
 * (or no way to look, on other systems). 'out' goes to
 * probe_proc_release() either way.
 */
int probe_proc_read(struct probe_proc *out, long pid);

/*
 * The little of process 'pid' that a walk up its ancestors needs: its
 * parent's pid, and its working directory ('*cwd', NULL if unreadable;
 * the caller frees it) with whether that was deleted. 0, or -1 when
 * there is no such process (or no way to look, on other systems).
 */
int probe_proc_parent(long pid, long *ppid, char **cwd, bool *cwd_deleted);
void probe_proc_release(struct probe_proc *p);

/*
 * Parse 'text', the contents of /proc/net/tcp (family AF_INET) or
 * /proc/net/tcp6 (AF_INET6), as Linux writes them on this host (addresses
 * in host byte order), and return the sockets in LISTEN state on 'port',
 * with no processes, as probe_listeners() does. The header line and blank
 * lines are skipped; any other line that does not parse is ERR_CORRUPT
 * naming the file and line. This is probe_listeners()'s fallback, exposed
 * so it can be tested; other systems get ERR_FAIL.
 */
int probe_parse_proc_net_tcp(struct probe_listener **out, size_t *nr,
			     const char *text, int family, uint16_t port,
			     struct error *err);

#endif
