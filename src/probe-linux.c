#include "common.h"
#include "probe.h"
#include "alloc.h"

/*
 * The Linux half of probe.h: who listens on a port. Other systems build
 * probe-other.c instead: the Makefile picks one of the two.
 */

#include "error.h"
#include "path.h"
#include "sbuf.h"
#include "text.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* not every libc's <netinet/tcp.h> has the state names */
#define LISTEN_STATE 10 /* TCP_LISTEN in the kernel */

/* argv beyond this is cut, and "..." says so */
#define CMDLINE_MAX 32768

/* an ancestor walk longer than this is a loop (pids reused under us) */
/* more environment than this is not searched for the marker */
#define ENVIRON_MAX (1 << 20)

/* Listeners collected so far: what probe_listeners() returns. */
struct list {
	struct probe_listener *items;
	size_t nr, alloc;
};

/* A socket found in some process's fd table: (pid, listener). */
struct hit {
	long pid;
	size_t listener;
};

struct hits {
	struct hit *items;
	size_t nr, alloc;
};

/* The ports asked about: one port, or a set of them ('set' not NULL). */
struct want {
	uint16_t port;
	const struct portset *set;
};

static bool wanted(const struct want *w, unsigned port)
{
	if (port > 65535)
		return false;
	return w->set ? portset_has(w->set, (uint16_t)port) : port == w->port;
}

static void list_release(struct list *l)
{
	probe_listeners_free(l->items, l->nr);
	memset(l, 0, sizeof(*l));
}

/* 'addr' is 4 bytes (AF_INET) or 16 (AF_INET6), in network order. */
static void list_add(struct list *l, int family, const void *addr,
		     uint16_t port, unsigned long inode, unsigned uid)
{
	char text[INET6_ADDRSTRLEN];
	struct probe_listener *s;

	if (!inet_ntop(family, addr, text, sizeof(text)))
		snprintf(text, sizeof(text), "?");
	ALLOC_GROW(l->items, l->nr + 1, l->alloc);
	s = &l->items[l->nr++];
	memset(s, 0, sizeof(*s));
	s->family = family;
	s->address = xstrdup(text);
	s->port = port;
	s->inode = inode;
	s->uid = uid;
}

/* sock_diag netlink, as ss(8) does it */

/*
 * Ask the kernel for the sockets of 'family' listening on 'port'. The
 * bytecode filter (sport >= port && sport <= port, which every kernel with
 * sock_diag understands) keeps the answer to the few sockets we want
 * however many the host has.
 */
static int diag_send(int fd, int family, const struct want *w, uint32_t seq)
{
	uint16_t port = w->port;
	size_t len;
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
		struct nlattr attr;
		struct inet_diag_bc_op bc[4];
	} msg;
	struct sockaddr_nl kernel;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	/* a set of ports: every listener, matched here (they are few) */
	len = w->set ? offsetof(__typeof__(msg), attr) : sizeof(msg);
	msg.nlh.nlmsg_len = (uint32_t)len;
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	msg.nlh.nlmsg_seq = seq;
	msg.req.sdiag_family = (uint8_t)family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = 1u << LISTEN_STATE;
	msg.attr.nla_len = NLA_HDRLEN + sizeof(msg.bc);
	msg.attr.nla_type = INET_DIAG_REQ_BYTECODE;
	/*
	 * A true test moves on by 'yes' bytes, a false one by 'no'; ending
	 * exactly at the end accepts, jumping 4 bytes past it rejects.
	 */
	msg.bc[0].code = INET_DIAG_BC_S_GE;
	msg.bc[0].yes = 2 * sizeof(msg.bc[0]);
	msg.bc[0].no = 5 * sizeof(msg.bc[0]);
	msg.bc[1].no = port;
	msg.bc[2].code = INET_DIAG_BC_S_LE;
	msg.bc[2].yes = 2 * sizeof(msg.bc[0]);
	msg.bc[2].no = 3 * sizeof(msg.bc[0]);
	msg.bc[3].no = port;

	memset(&kernel, 0, sizeof(kernel));
	kernel.nl_family = AF_NETLINK;
	do
		n = sendto(fd, &msg, len, 0,
			   (const struct sockaddr *)&kernel, sizeof(kernel));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/*
 * One message of the answer to diag_send(), 'h' checked to fit what was
 * received. Returns 1 to read on, 0 at the end of the answer, -1 with
 * errno set for an error.
 */
static int diag_message(struct list *l, const struct nlmsghdr *h, int family,
			const struct want *w)
{
	const struct inet_diag_msg *m = NLMSG_DATA(h);
	const int *done = NLMSG_DATA(h);
	const struct nlmsgerr *e = NLMSG_DATA(h);

	switch (h->nlmsg_type) {
	case NLMSG_DONE:
		/* a dump that failed half way says so here */
		if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*done)) && *done < 0) {
			errno = -*done;
			return -1;
		}
		return 0;
	case NLMSG_ERROR:
		errno = EIO;
		if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0)
			errno = -e->error;
		return -1;
	case SOCK_DIAG_BY_FAMILY:
		/* the kernel ran the filter; check what we rely on anyway */
		if (h->nlmsg_len >= NLMSG_LENGTH(sizeof(*m)) &&
		    m->idiag_family == family &&
		    m->idiag_state == LISTEN_STATE &&
		    wanted(w, ntohs(m->id.idiag_sport)))
			list_add(l, family, m->id.idiag_src,
				 ntohs(m->id.idiag_sport),
				 m->idiag_inode, m->idiag_uid);
		return 1;
	default:
		return 1;
	}
}

/*
 * Read the answer to diag_send() until NLMSG_DONE. Returns 0, or -1 with
 * errno set (the kernel's own error for NLMSG_ERROR).
 */
static int diag_recv(int fd, struct list *l, int family,
		     const struct want *w, uint32_t seq)
{
	/* long: netlink messages are 4-byte aligned */
	long buf[8192 / sizeof(long)];

	for (;;) {
		const char *p = (const char *)buf;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		size_t left;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (!n) {
			errno = EIO;
			return -1;
		}
		left = (size_t)n;
		while (left >= sizeof(struct nlmsghdr)) {
			const struct nlmsghdr *h = (const void *)p;
			size_t len = h->nlmsg_len;

			if (len < sizeof(*h) || len > left) {
				errno = EIO;
				return -1;
			}
			/* another sequence number: a stale answer, not ours */
			if (h->nlmsg_seq == seq) {
				int ret = diag_message(l, h, family, w);

				if (ret <= 0)
					return ret;
			}
			len = NLMSG_ALIGN(len);
			if (len >= left)
				break;
			p += len;
			left -= len;
		}
	}
}

static int from_netlink(struct list *l, const struct want *w)
{
	static const int families[] = { AF_INET, AF_INET6 };
	size_t i;
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -1;
	for (i = 0; i < ARRAY_SIZE(families); i++) {
		uint32_t seq = (uint32_t)i + 1;

		if (diag_send(fd, families[i], w, seq) < 0 ||
		    diag_recv(fd, l, families[i], w, seq) < 0) {
			/* no IPv6 in this kernel: nothing listens there */
			if (families[i] == AF_INET6 &&
			    (errno == ENOENT || errno == EAFNOSUPPORT))
				break;
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

/* /proc/net/tcp{,6}: the fallback, and what older tools read */

static const char *net_table(int family)
{
	return family == AF_INET6 ? "/proc/net/tcp6" : "/proc/net/tcp";
}

/*
 * "0100007F" or a 32-digit IPv6 address: each group of 8 digits is one
 * 32-bit word of the address as it sits in memory, printed in host order.
 */
static bool parse_address(void *out, const char *hex, size_t len)
{
	uint32_t words[4];
	size_t i, k;

	if (len != 8 && len != 32)
		return false;
	for (i = 0; i < len / 8; i++) {
		uint32_t w = 0;

		for (k = 0; k < 8; k++) {
			int c = hex[i * 8 + k];
			int v;

			if (c >= '0' && c <= '9')
				v = c - '0';
			else if (c >= 'A' && c <= 'F')
				v = c - 'A' + 10;
			else if (c >= 'a' && c <= 'f')
				v = c - 'a' + 10;
			else
				return false;
			w = w << 4 | (uint32_t)v;
		}
		words[i] = w;
	}
	memcpy(out, words, len / 2);
	return true;
}

/*
 * One line: "sl: local rem st tx:rx tr:when retrnsmt uid timeout inode
 * ...". Returns 1 for a listener on 'port', 0 for another socket, -1 if
 * the line is malformed.
 */
static int parse_line(struct list *l, const char *line, int family,
		      const struct want *w)
{
	char local[33];
	unsigned lport, state, uid;
	unsigned long inode;
	unsigned char addr[16];
	int n = 0;

	if (sscanf(line,
		   "%*u: %32[0-9A-Fa-f]:%x %*s %x %*s %*s %*s %u %*d %lu%n",
		   local, &lport, &state, &uid, &inode, &n) != 5 ||
	    !n)
		return -1;
	if (strlen(local) != (family == AF_INET6 ? 32u : 8u) ||
	    !parse_address(addr, local, strlen(local)) || lport > 65535)
		return -1;
	if (state != LISTEN_STATE || !wanted(w, lport))
		return 0;
	list_add(l, family, addr, (uint16_t)lport, inode, uid);
	return 1;
}

static int parse_table(struct list *l, const char *text, int family,
		       const struct want *w, struct error *err)
{
	struct sbuf line = SBUF_INIT;
	const char *p = text;
	int nr = 0;
	int ret = 0;

	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		const char *s;

		nr++;
		sbuf_reset(&line);
		sbuf_add(&line, p, len);
		p += len + (eol ? 1 : 0);
		s = line.buf + strspn(line.buf, " \t\r");
		if (!*s || !strncmp(s, "sl ", 3))
			continue;
		if (parse_line(l, s, family, w) < 0) {
			ret = error_set(err, ERR_CORRUPT, net_table(family), nr,
					NULL, "cannot parse the socket table");
			break;
		}
	}
	sbuf_release(&line);
	return ret;
}

int probe_parse_proc_net_tcp(struct probe_listener **out, size_t *nr,
			     const char *text, int family, uint16_t port,
			     struct error *err)
{
	struct want w = { port, NULL };
	struct list l = { 0 };
	int ret;

	ret = parse_table(&l, text, family, &w, err);
	if (ret < 0) {
		list_release(&l);
		return ret;
	}
	*out = l.items;
	*nr = l.nr;
	return 0;
}

static int from_proc_net(struct list *l, const struct want *w,
			 struct error *err)
{
	static const int families[] = { AF_INET, AF_INET6 };
	struct sbuf text = SBUF_INIT;
	size_t i;
	int ret = 0;

	for (i = 0; i < ARRAY_SIZE(families) && !ret; i++) {
		const char *path = net_table(families[i]);

		sbuf_reset(&text);
		if (sbuf_read_file(&text, path) < 0) {
			/* a kernel without IPv6 has no tcp6 */
			if (families[i] == AF_INET6 && errno == ENOENT)
				break;
			ret = error_errno(err, path,
					  "cannot list the listening sockets");
			break;
		}
		ret = parse_table(l, text.buf, families[i], w, err);
	}
	sbuf_release(&text);
	return ret;
}

/* the processes: whose fd table holds the socket */

static bool is_pid(const char *name)
{
	if (*name < '1' || *name > '9')
		return false;
	while (*++name)
		if (*name < '0' || *name > '9')
			return false;
	return true;
}

/* "socket:[12345]" -> 12345; 0 for any other link */
static unsigned long socket_inode(const char *link, size_t len)
{
	unsigned long inode = 0;
	size_t i;

	if (len < 10 || memcmp(link, "socket:[", 8) || link[len - 1] != ']')
		return 0;
	for (i = 8; i < len - 1; i++) {
		if (link[i] < '0' || link[i] > '9')
			return 0;
		inode = inode * 10 + (unsigned long)(link[i] - '0');
	}
	return inode;
}

/*
 * One entry as getdents64() returns it. The call is used directly, not
 * through readdir(): fdopendir() would cost an fstat() and two fcntl()
 * per process, a quarter of the scan's system calls.
 */
struct dirent64_raw {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* room for a process with about a thousand open files in one call */
#define FD_LIST_BUF 32768

/*
 * Check one entry of /proc/PID/fd against the listeners; returns -1 when
 * the links are refused (they all would be: the check is per process).
 */
static int match_fd(struct hits *hits, int fd, const char *name, long pid,
		    const struct list *l, bool *held, size_t *nr_held)
{
	char link[64];
	unsigned long inode;
	ssize_t len;
	size_t i;

	if (name[0] == '.')
		return 0;
	len = readlinkat(fd, name, link, sizeof(link));
	if (len < 0 && (errno == EACCES || errno == EPERM))
		return -1;
	if (len <= 0)
		return 0;
	inode = socket_inode(link, (size_t)len);
	if (!inode)
		return 0;
	for (i = 0; i < l->nr; i++) {
		if (l->items[i].inode != inode || held[i])
			continue;
		held[i] = true;
		(*nr_held)++;
		ALLOC_GROW(hits->items, hits->nr + 1, hits->alloc);
		hits->items[hits->nr].pid = pid;
		hits->items[hits->nr].listener = i;
		hits->nr++;
	}
	return 0;
}

/*
 * Record which of the listeners' sockets process 'pid' holds. This is the
 * hot loop: one readlinkat() per open file of every process we may look
 * into, so nothing is allocated per file and no stdio is used. A process
 * is left as soon as it holds every socket, or as soon as one of its
 * links is refused. 'held' has room for one flag per listener.
 */
static void scan_fds(struct hits *hits, int procfd, const char *pid,
		     const struct list *l, bool *held, char *buf)
{
	char path[NAME_MAX + 8];
	size_t nr_held = 0;
	long id = strtol(pid, NULL, 10);
	int fd;

	snprintf(path, sizeof(path), "%s/fd", pid);
	fd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return; /* EACCES: another user's; ENOENT: it exited */
	memset(held, 0, l->nr * sizeof(*held));
	while (nr_held < l->nr) {
		long n = syscall(SYS_getdents64, fd, buf, FD_LIST_BUF);
		long off = 0;
		bool last;

		if (n <= 0)
			break;
		/*
		 * /proc fills the buffer with a process's descriptors until
		 * they end or the next one does not fit (proc_readfd_common()
		 * stops only then): a call that left half the buffer unused
		 * listed them all, and the call that would return 0 is saved,
		 * a tenth of the scan's system calls.
		 */
		last = n < FD_LIST_BUF / 2;
		while (off < n && nr_held < l->nr) {
			const struct dirent64_raw *e =
				(const struct dirent64_raw *)(buf + off);

			if (match_fd(hits, fd, e->name, id, l, held,
				     &nr_held) < 0)
				goto done;
			off += e->reclen;
		}
		if (last)
			break;
	}
done:
	close(fd);
}

/*
 * The scan is split among threads when there are many processes: each
 * process costs a few system calls of kernel work that two cores do side
 * by side. Work is handed out in small batches from one counter, so a
 * process with thousands of files does not leave one thread behind.
 */
#define SCAN_THREADS_MAX 4
#define SCAN_THREADS_FROM 256 /* processes; fewer are not worth a thread */
#define SCAN_BATCH 16

struct scan {
	const struct list *l;
	int procfd;
	char (*pids)[16];
	size_t nr;
	atomic_size_t next;
};

struct scan_worker {
	struct scan *scan;
	struct hits hits;
	pthread_t thread;
};

static void *scan_work(void *arg)
{
	struct scan_worker *w = arg;
	struct scan *sc = w->scan;
	bool *held = xcalloc(sc->l->nr, sizeof(*held));
	char *buf = xmalloc(FD_LIST_BUF);

	for (;;) {
		size_t i = atomic_fetch_add(&sc->next, SCAN_BATCH);
		size_t end = i + SCAN_BATCH < sc->nr ? i + SCAN_BATCH : sc->nr;

		if (i >= sc->nr)
			break;
		for (; i < end; i++)
			scan_fds(&w->hits, sc->procfd, sc->pids[i], sc->l,
				 held, buf);
	}
	free(held);
	free(buf);
	return NULL;
}

static size_t scan_threads(size_t nr_procs)
{
	long cpus;

	if (nr_procs < SCAN_THREADS_FROM)
		return 1;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus < 1)
		return 1;
	return cpus < SCAN_THREADS_MAX ? (size_t)cpus : SCAN_THREADS_MAX;
}

static int scan_procs(struct hits *hits, const struct list *l,
		      struct error *err)
{
	struct scan_worker workers[SCAN_THREADS_MAX] = { { 0 } };
	struct scan sc = { .l = l };
	size_t alloc = 0, nr_workers, started, i;
	struct dirent *e;
	DIR *proc;

	proc = opendir("/proc");
	if (!proc)
		return error_errno(err, "/proc", "cannot list the processes");
	while ((e = readdir(proc))) {
		if (!is_pid(e->d_name) || strlen(e->d_name) >= sizeof(*sc.pids))
			continue;
		ALLOC_GROW(sc.pids, sc.nr + 1, alloc);
		memcpy(sc.pids[sc.nr++], e->d_name, strlen(e->d_name) + 1);
	}
	sc.procfd = dirfd(proc);
	atomic_init(&sc.next, 0);

	nr_workers = scan_threads(sc.nr);
	for (i = 0; i < nr_workers; i++)
		workers[i].scan = &sc;
	/* worker 0 is this thread; one that cannot start leaves its share */
	for (started = 1; started < nr_workers; started++)
		if (pthread_create(&workers[started].thread, NULL, scan_work,
				   &workers[started]))
			break;
	scan_work(&workers[0]);
	for (i = 0; i < started; i++) {
		struct hits *h = &workers[i].hits;

		if (i)
			pthread_join(workers[i].thread, NULL);
		ALLOC_GROW(hits->items, hits->nr + h->nr, hits->alloc);
		if (h->nr)
			memcpy(hits->items + hits->nr, h->items,
			       h->nr * sizeof(*h->items));
		hits->nr += h->nr;
		free(h->items);
	}
	closedir(proc);
	free(sc.pids);
	return 0;
}

/* what we say about one process, read only for the few that matched */

/*
 * Read the file 'name' under 'dirfd' into 'sb', at most 'max' bytes.
 * Returns 0, or -1 with errno set.
 */
static int read_at(struct sbuf *sb, int dirfd, const char *name, size_t max)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	int ret, saved;

	if (fd < 0)
		return -1;
	ret = sbuf_read_fd_max(sb, fd, max > sb->len ? max - sb->len : 0);
	saved = errno;
	close(fd);
	errno = saved;
	return ret;
}

static char *link_at(int dirfd, const char *name)
{
	struct sbuf sb = SBUF_INIT;
	ssize_t n;

	for (;;) {
		sbuf_grow(&sb, sb.alloc ? sb.alloc * 2 : 256);
		n = readlinkat(dirfd, name, sb.buf, sb.alloc - 1);
		if (n < 0) {
			sbuf_release(&sb);
			return NULL;
		}
		if ((size_t)n < sb.alloc - 1)
			break;
	}
	sbuf_setlen(&sb, (size_t)n);
	return sbuf_detach(&sb);
}

/*
 * argv as /proc/PID/cmdline has it, NUL after each argument, into one
 * line that is safe to print and valid UTF-8.
 */
static void add_cmdline(struct sbuf *out, const char *argv, size_t len)
{
	size_t i = 0;

	while (len && !argv[len - 1])
		len--;
	while (i < len) {
		const char *nul = memchr(argv + i, '\0', len - i);
		size_t n = nul ? (size_t)(nul - (argv + i)) : len - i;

		text_add_printable(out, argv + i, n, TEXT_KEEP_C1);
		i += n;
		if (i < len) {
			sbuf_addch(out, ' ');
			i++;
		}
	}
}

/*
 * /proc/PID/stat: "pid (comm) state ppid ...", field 22 the start time in
 * clock ticks after boot. The name may hold spaces and parentheses, so it
 * ends at the last ')'.
 */
static bool parse_stat(const char *text, struct sbuf *comm, long *ppid,
		       unsigned long long *start)
{
	const char *open = strchr(text, '(');
	const char *close = strrchr(text, ')');
	const char *p;
	int field;

	if (!open || !close || close < open)
		return false;
	sbuf_add(comm, open + 1, (size_t)(close - open - 1));
	p = close + 1;
	for (field = 3; field <= 22; field++) {
		char *end;

		while (*p == ' ')
			p++;
		if (field == 4)
			*ppid = strtol(p, &end, 10);
		else if (field == 22)
			*start = strtoull(p, &end, 10);
		else
			end = (char *)p + strcspn(p, " ");
		if (end == p)
			return false;
		p = end;
	}
	return true;
}

struct user {
	unsigned uid;
	char *name;
};

/* What stays the same for every process of one probe_listeners() call. */
struct context {
	int procfd;
	/* boot time in seconds since the epoch; 0 not read yet, -1 unknown */
	long long btime;
	long ticks; /* clock ticks a second */
	struct user *users;
	size_t nr_users, alloc_users;
};

static long long boot_time(void)
{
	struct sbuf stat = SBUF_INIT;
	long long btime = -1;
	const char *p;

	if (!sbuf_read_file(&stat, "/proc/stat")) {
		p = strstr(stat.buf, "\nbtime ");
		if (p)
			btime = strtoll(p + 7, NULL, 10);
	}
	sbuf_release(&stat);
	return btime;
}

/* The login name of 'uid', or the uid in decimal; looked up once. */
static const char *user_name(struct context *ctx, unsigned uid)
{
	struct passwd pw, *found = NULL;
	size_t size = 1024;
	char *buf = NULL;
	struct user *u;
	size_t i;

	for (i = 0; i < ctx->nr_users; i++)
		if (ctx->users[i].uid == uid)
			return ctx->users[i].name;
	for (;;) {
		buf = xrealloc(buf, size);
		if (getpwuid_r((uid_t)uid, &pw, buf, size, &found) != ERANGE ||
		    size >= 1 << 20)
			break;
		size *= 2;
	}
	ALLOC_GROW(ctx->users, ctx->nr_users + 1, ctx->alloc_users);
	u = &ctx->users[ctx->nr_users++];
	u->uid = uid;
	if (found && found->pw_name && *found->pw_name) {
		u->name = xstrdup(found->pw_name);
	} else {
		char num[24];

		snprintf(num, sizeof(num), "%u", uid);
		u->name = xstrdup(num);
	}
	free(buf);
	return u->name;
}

static void context_release(struct context *ctx)
{
	size_t i;

	if (ctx->procfd >= 0)
		close(ctx->procfd);
	for (i = 0; i < ctx->nr_users; i++)
		free(ctx->users[i].name);
	free(ctx->users);
}

static char *iso_time(long long t)
{
	char buf[UTC_TIME_SIZE];

	return iso8601_utc(buf, (time_t)t) ? xstrdup(buf) : NULL;
}

/*
 * Linux writes the link of a removed directory as its old path and
 * " (deleted)". A directory really named so is told apart by looking at
 * it: the path without the suffix, or with it, must not be the
 * process's directory.
 */
static bool cwd_deleted(int dirfd, const char *cwd)
{
	static const char suffix[] = " (deleted)";
	size_t len = strlen(cwd), slen = sizeof(suffix) - 1;
	struct stat real, named;

	if (len <= slen || strcmp(cwd + len - slen, suffix))
		return false;
	if (fstatat(dirfd, "cwd", &real, 0) < 0)
		return true;
	if (!stat(cwd, &named) && named.st_dev == real.st_dev &&
	    named.st_ino == real.st_ino)
		return false;
	return real.st_nlink == 0;
}

/* The value of PROBE_MARKER_VAR in the process's environment, or NULL. */
static char *read_marker(int dirfd)
{
	static const char var[] = PROBE_MARKER_VAR "=";
	struct sbuf env = SBUF_INIT;
	char *found = NULL;
	size_t i = 0;

	if (read_at(&env, dirfd, "environ", ENVIRON_MAX) < 0) {
		sbuf_release(&env);
		return NULL;
	}
	while (i < env.len) {
		const char *entry = env.buf + i;
		size_t len = strnlen(entry, env.len - i);

		if (len > sizeof(var) - 1 && !memcmp(entry, var, sizeof(var) - 1)) {
			free(found);
			found = xstrndup(entry + sizeof(var) - 1,
					 len - (sizeof(var) - 1));
		}
		i += len + 1;
	}
	sbuf_release(&env);
	return found;
}

/*
 * Fill 'p' for process 'pid'. What cannot be read stays NULL (cwd, exe,
 * start time) or falls back (user, cmdline): the process may exit or be
 * another user's, and what we did see is still worth saying.
 */
static void proc_read(struct probe_proc *p, struct context *ctx, long pid)
{
	struct sbuf text = SBUF_INIT, comm = SBUF_INIT, line = SBUF_INIT;
	unsigned long long start = 0;
	char name[24];
	const char *uid;
	bool have_stat = false;
	int dirfd;

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	snprintf(name, sizeof(name), "%ld", pid);
	dirfd = openat(ctx->procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd >= 0 && !read_at(&text, dirfd, "stat", 4096))
		have_stat = parse_stat(text.buf, &comm, &p->ppid, &start);
	if (have_stat && ctx->ticks > 0) {
		if (!ctx->btime)
			ctx->btime = boot_time();
		start /= (unsigned long long)ctx->ticks;
		if (ctx->btime >= 0)
			p->start_time = iso_time(ctx->btime + (long long)start);
	}

	sbuf_reset(&text);
	if (dirfd >= 0 && !read_at(&text, dirfd, "status", 8192)) {
		uid = strstr(text.buf, "\nUid:");
		if (uid)
			p->uid = (unsigned)strtoul(uid + 5, NULL, 10);
	}
	p->user = xstrdup(user_name(ctx, p->uid));

	sbuf_reset(&text);
	if (dirfd >= 0 && !read_at(&text, dirfd, "cmdline", CMDLINE_MAX + 1)) {
		add_cmdline(&line, text.buf,
			    text.len > CMDLINE_MAX ? CMDLINE_MAX : text.len);
		if (text.len > CMDLINE_MAX)
			sbuf_addstr(&line, "...");
	}
	if (!line.len) {
		sbuf_addch(&line, '[');
		add_cmdline(&line, comm.buf, comm.len);
		sbuf_addch(&line, ']');
	}
	p->cmdline = sbuf_detach(&line);

	if (dirfd >= 0) {
		p->cwd = link_at(dirfd, "cwd");
		p->cwd_deleted = p->cwd && cwd_deleted(dirfd, p->cwd);
		p->exe = link_at(dirfd, "exe");
		p->marker = read_marker(dirfd);
		close(dirfd);
	}
	sbuf_release(&text);
	sbuf_release(&comm);
	sbuf_release(&line);
}

static void proc_copy(struct probe_proc *dst, const struct probe_proc *src)
{
	*dst = *src;
	dst->user = xstrdup_or_null(src->user);
	dst->cmdline = xstrdup_or_null(src->cmdline);
	dst->cwd = xstrdup_or_null(src->cwd);
	dst->exe = xstrdup_or_null(src->exe);
	dst->start_time = xstrdup_or_null(src->start_time);
	dst->marker = xstrdup_or_null(src->marker);
}

static int cmp_hit(const void *a, const void *b)
{
	const struct hit *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->listener < y->listener ? -1 : x->listener > y->listener;
}

/*
 * Give each listener its processes, reading each process once even when
 * it holds several of the sockets (IPv4 and IPv6 of one server).
 */
static void add_procs(struct list *l, struct hits *hits, struct context *ctx)
{
	struct probe_proc proc;
	size_t i, j;

	if (hits->nr > 1)
		qsort(hits->items, hits->nr, sizeof(*hits->items), cmp_hit);
	for (i = 0; i < hits->nr; i = j) {
		proc_read(&proc, ctx, hits->items[i].pid);
		for (j = i; j < hits->nr && hits->items[j].pid == proc.pid;
		     j++) {
			struct probe_listener *s =
				&l->items[hits->items[j].listener];

			s->procs =
				xrealloc(s->procs,
					 sizeof(*s->procs) * (s->nr_procs + 1));
			proc_copy(&s->procs[s->nr_procs++], &proc);
		}
		probe_proc_release(&proc);
	}
}

static int cmp_listener(const void *a, const void *b)
{
	const struct probe_listener *x = a, *y = b;
	unsigned char ax[16], ay[16];
	int c;

	if (x->family != y->family)
		return x->family == AF_INET ? -1 : 1;
	/* by address as a number: 10.0.0.2 before 127.0.0.1 */
	if (inet_pton(x->family, x->address, ax) == 1 &&
	    inet_pton(y->family, y->address, ay) == 1) {
		c = memcmp(ax, ay, x->family == AF_INET ? 4 : 16);
		if (c)
			return c;
	}
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

static int listeners(struct probe_listener **out, size_t *nr,
		     const struct want *w, struct error *err)
{
	struct context ctx = { .procfd = -1 };
	struct hits hits = { 0 };
	struct list l = { 0 };
	size_t i;
	int ret = 0;

	if (from_netlink(&l, w) < 0) {
		/* a kernel or sandbox without sock_diag: read the tables */
		list_release(&l);
		ret = from_proc_net(&l, w, err);
		if (ret < 0)
			goto out;
	}
	if (!l.nr)
		goto done;

	ret = scan_procs(&hits, &l, err);
	if (ret < 0)
		goto out;
	ctx.procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ctx.ticks = sysconf(_SC_CLK_TCK);
	if (ctx.procfd < 0) {
		ret = error_errno(err, "/proc", "cannot read the processes");
		goto out;
	}
	add_procs(&l, &hits, &ctx);
	for (i = 0; i < l.nr; i++)
		l.items[i].user = xstrdup(user_name(&ctx, l.items[i].uid));
	if (l.nr > 1)
		qsort(l.items, l.nr, sizeof(*l.items), cmp_listener);

done:
	*out = l.items;
	*nr = l.nr;
	l.items = NULL;
	l.nr = 0;
out:
	list_release(&l);
	free(hits.items);
	context_release(&ctx);
	return ret;
}

int probe_listeners(struct probe_listener **out, size_t *nr, uint16_t port,
		    struct error *err)
{
	struct want w = { port, NULL };

	return listeners(out, nr, &w, err);
}

int probe_listeners_set(struct probe_listener **out, size_t *nr,
			const struct portset *ports, struct error *err)
{
	struct want w = { 0, ports };

	return listeners(out, nr, &w, err);
}


int probe_proc_read(struct probe_proc *out, long pid)
{
	struct context ctx = { .procfd = -1 };
	char name[24];
	struct stat st;
	int ret = -1;

	memset(out, 0, sizeof(*out));
	ctx.procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ctx.ticks = sysconf(_SC_CLK_TCK);
	snprintf(name, sizeof(name), "%ld", pid);
	if (pid > 0 && ctx.procfd >= 0 && !fstatat(ctx.procfd, name, &st, 0)) {
		proc_read(out, &ctx, pid);
		ret = 0;
	}
	context_release(&ctx);
	return ret;
}

int probe_proc_parent(long pid, long *ppid, char **cwd, bool *deleted)
{
	struct sbuf text = SBUF_INIT, comm = SBUF_INIT;
	unsigned long long start;
	char name[32];
	int dirfd, ret = -1;

	*ppid = 0;
	*cwd = NULL;
	*deleted = false;
	if (pid <= 0)
		return -1;
	snprintf(name, sizeof(name), "/proc/%ld", pid);
	dirfd = open(name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -1;
	if (!read_at(&text, dirfd, "stat", 4096) &&
	    parse_stat(text.buf, &comm, ppid, &start)) {
		*cwd = link_at(dirfd, "cwd");
		*deleted = *cwd && cwd_deleted(dirfd, *cwd);
		ret = 0;
	}
	close(dirfd);
	sbuf_release(&text);
	sbuf_release(&comm);
	return ret;
}
