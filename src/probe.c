#include "common.h"
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum bind_result {
	BIND_FREE,  /* the address could be bound: nobody holds it */
	BIND_TAKEN, /* someone holds the port on this address */
	BIND_SKIP   /* the system lacks this address or family */
};

static int socket_cloexec(int family)
{
	int fd;

#ifdef SOCK_CLOEXEC
	/* EINVAL: a kernel older than SOCK_CLOEXEC; fall back below */
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 || errno != EINVAL)
		return fd;
#endif
	fd = socket(family, SOCK_STREAM, 0);
	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/*
 * Bind, never listen or connect: the socket is closed at once, so nothing
 * ever sees it, and with no connection there is no TIME_WAIT either.
 */
static enum bind_result try_bind(int family, const struct sockaddr *sa,
				 socklen_t len)
{
	enum bind_result ret = BIND_SKIP;
	int one = 1;
	int fd;

	fd = socket_cloexec(family);
	if (fd < 0)
		return BIND_SKIP; /* EAFNOSUPPORT: no such family here */
	/* as servers do, so lingering connections do not count */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/*
	 * Without this, :: would also claim 0.0.0.0 on most systems, and
	 * each address would no longer be tested on its own.
	 */
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (!bind(fd, sa, len))
		ret = BIND_FREE;
	else if (errno == EADDRINUSE || errno == EACCES)
		ret = BIND_TAKEN;
	/*
	 * EADDRNOTAVAIL (no ::1 on this host) and anything else we cannot
	 * interpret say nothing about the port: skip the address.
	 */
	close(fd);
	return ret;
}

static enum bind_result try_inet(uint16_t port, uint32_t addr)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(addr);
	return try_bind(AF_INET, (const struct sockaddr *)&sin, sizeof(sin));
}

static enum bind_result try_inet6(uint16_t port, const struct in6_addr *addr)
{
	struct sockaddr_in6 sin6;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	sin6.sin6_addr = *addr;
	return try_bind(AF_INET6, (const struct sockaddr *)&sin6, sizeof(sin6));
}

bool probe_port_in_use(uint16_t port)
{
	/* the specific addresses first: a server bound to one is common */
	if (try_inet(port, INADDR_LOOPBACK) == BIND_TAKEN)
		return true;
	if (try_inet(port, INADDR_ANY) == BIND_TAKEN)
		return true;
	if (try_inet6(port, &in6addr_loopback) == BIND_TAKEN)
		return true;
	return try_inet6(port, &in6addr_any) == BIND_TAKEN;
}

void probe_proc_release(struct probe_proc *p)
{
	free(p->user);
	free(p->cmdline);
	free(p->cwd);
	free(p->exe);
	free(p->start_time);
	free(p->marker);
	memset(p, 0, sizeof(*p));
}

const struct probe_proc *probe_main_proc(const struct probe_listener *l)
{
	size_t i, j;

	for (i = 0; i < l->nr_procs; i++) {
		bool parent_holds = false;

		for (j = 0; j < l->nr_procs; j++)
			if (l->procs[j].pid == l->procs[i].ppid)
				parent_holds = true;
		if (!parent_holds)
			return &l->procs[i];
	}
	return l->nr_procs ? &l->procs[0] : NULL;
}

void probe_listeners_free(struct probe_listener *list, size_t nr)
{
	size_t i, j;

	if (!list)
		return;
	for (i = 0; i < nr; i++) {
		for (j = 0; j < list[i].nr_procs; j++)
			probe_proc_release(&list[i].procs[j]);
		free(list[i].procs);
		free(list[i].address);
		free(list[i].user);
	}
	free(list);
}
