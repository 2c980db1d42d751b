#include "common.h"
#include "owner.h"
#include "probe.h"
#include "alloc.h"
#include "error.h"
#include "sbuf.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#ifdef __linux__

#include <sys/prctl.h>

/* this program, for the tests that run it again as a listener */
static char self_exe[PATH_MAX];

/*
 * Each test gets a fresh directory 'root' holding 'wt' (where a child
 * runs), 'wtx' (a sibling whose name starts with "wt") and 'other'; all
 * canonical. The children a test starts are killed by pid afterwards,
 * whether the test passed or not.
 */
struct fixture {
	char root[PATH_MAX];
	char wt[PATH_MAX + 8];
	char wtx[PATH_MAX + 8];
	char other[PATH_MAX + 8];
	pid_t kids[2];	/* our children, reaped */
	pid_t grand[2]; /* their children, ours once they are orphans */
	size_t nr_kids;
	struct probe_listener *list;
	size_t nr;
};

/* What a child says once it listens; 'error' is errno if it could not. */
struct report {
	long pid;    /* the process that listens */
	long holder; /* another process holding the socket, or 0 */
	uint16_t port;
	int error;
	bool has_v6; /* LISTEN_BOTH: the IPv6 socket exists too */
};

enum mode {
	LISTEN_V4,   /* 127.0.0.1, port 0 */
	LISTEN_V6,   /* ::1, port 0 */
	LISTEN_BOTH, /* 127.0.0.1 and ::1, on one port */
	PREFORK,     /* listens, then forks: both hold the socket */
	GRANDCHILD   /* forks; the grandchild listens in 'other' */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/test-probe.XXXXXX";

	if (!mkdtemp(tmpl) || !realpath(tmpl, f->root))
		return -1;
	snprintf(f->wt, sizeof(f->wt), "%s/wt", f->root);
	snprintf(f->wtx, sizeof(f->wtx), "%s/wtx", f->root);
	snprintf(f->other, sizeof(f->other), "%s/other", f->root);
	if (mkdir(f->wt, 0700) || mkdir(f->wtx, 0700) || mkdir(f->other, 0700))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < f->nr_kids; i++) {
		if (f->grand[i] > 0)
			kill(f->grand[i], SIGKILL);
		kill(f->kids[i], SIGKILL);
		waitpid(f->kids[i], NULL, 0);
		/* orphaned, it is our child now (we are a subreaper) */
		if (f->grand[i] > 0)
			waitpid(f->grand[i], NULL, 0);
	}
	probe_listeners_free(f->list, f->nr);
	rmdir(f->wt);
	rmdir(f->wtx);
	rmdir(f->other);
	rmdir(f->root);
	free(f);
	return 0;
}

static void hold_forever(void)
{
	for (;;)
		pause();
}

/* A listening socket on the loopback of 'family'; -1 with errno set. */
static int listen_on(int family, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(*port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(*port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 4) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	if (family == AF_INET)
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	else
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

static void report(int wfd, struct report *r)
{
	if (write(wfd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		_exit(1);
	close(wfd);
}

/* In the child: never returns. */
static void child_main(int wfd, enum mode mode, const char *cwd,
		       const char *other)
{
	struct report r = { .pid = getpid() };
	pid_t pid;

	if (chdir(cwd) < 0)
		goto fail;
	switch (mode) {
	case LISTEN_V4:
	case LISTEN_V6:
		if (listen_on(mode == LISTEN_V4 ? AF_INET : AF_INET6, &r.port) <
		    0)
			goto fail;
		break;
	case LISTEN_BOTH:
		if (listen_on(AF_INET, &r.port) < 0)
			goto fail;
		r.has_v6 = listen_on(AF_INET6, &r.port) >= 0;
		break;
	case PREFORK:
		if (listen_on(AF_INET, &r.port) < 0)
			goto fail;
		pid = fork();
		if (pid < 0)
			goto fail;
		if (!pid)
			hold_forever();
		r.holder = pid;
		break;
	case GRANDCHILD:
		pid = fork();
		if (pid < 0)
			goto fail;
		if (pid)
			hold_forever();
		r.pid = getpid();
		if (chdir(other) < 0 || listen_on(AF_INET, &r.port) < 0)
			goto fail;
		break;
	}
	report(wfd, &r);
	hold_forever();
fail:
	r.error = errno ? errno : EIO;
	report(wfd, &r);
	_exit(1);
}

/*
 * Start a child in 'mode' with its working directory 'cwd'; it is killed
 * at teardown. Fills 'r'; returns -1 if the child could not listen.
 */
static int start_child(struct fixture *f, struct report *r, enum mode mode,
		       const char *cwd)
{
	int fds[2];
	pid_t pid;
	ssize_t n;

	assert_true(f->nr_kids < ARRAY_SIZE(f->kids));
	assert_int_equal(0, pipe(fds));
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fds[0]);
		child_main(fds[1], mode, cwd, f->other);
	}
	close(fds[1]);
	f->kids[f->nr_kids] = pid;
	memset(r, 0, sizeof(*r));
	n = read(fds[0], r, sizeof(*r));
	close(fds[0]);
	assert_int_equal(sizeof(*r), n);
	/* the grandchild, to kill; the pre-forked copy, likewise */
	if (mode == GRANDCHILD && r->pid != pid)
		f->grand[f->nr_kids] = (pid_t)r->pid;
	else if (r->holder)
		f->grand[f->nr_kids] = (pid_t)r->holder;
	f->nr_kids++;
	return r->error ? -1 : 0;
}

static void probe(struct fixture *f, uint16_t port)
{
	struct error err = ERROR_INIT;

	probe_listeners_free(f->list, f->nr);
	f->list = NULL;
	f->nr = 0;
	assert_int_equal(0, probe_listeners(&f->list, &f->nr, port, &err));
	assert_int_equal(0, err.code);
}

static const char *current_user(void)
{
	static char num[24];
	struct passwd *pw = getpwuid(getuid());

	if (pw)
		return pw->pw_name;
	snprintf(num, sizeof(num), "%u", (unsigned)getuid());
	return num;
}

static time_t parse_utc(const char *s)
{
	struct tm tm;
	char z = 0;

	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &z) != 7 ||
	    z != 'Z')
		return (time_t)-1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static void test_finds_the_listener_and_its_process(void **state)
{
	struct fixture *f = *state;
	const struct probe_listener *l;
	const struct probe_proc *p;
	struct report r;
	time_t started;

	assert_int_equal(0, start_child(f, &r, LISTEN_V4, f->wt));
	probe(f, r.port);
	assert_int_equal(1, f->nr);
	l = &f->list[0];
	assert_int_equal(AF_INET, l->family);
	assert_string_equal("127.0.0.1", l->address);
	assert_int_equal(r.port, l->port);
	assert_true(l->inode > 0);
	assert_int_equal(getuid(), l->uid);
	assert_string_equal(current_user(), l->user);
	assert_int_equal(1, l->nr_procs);
	p = &l->procs[0];
	assert_int_equal(r.pid, p->pid);
	assert_int_equal(getpid(), p->ppid);
	assert_int_equal(getuid(), p->uid);
	assert_string_equal(current_user(), p->user);
	assert_non_null(p->cmdline);
	assert_true(strlen(p->cmdline) > 0);
	assert_non_null(p->cwd);
	assert_string_equal(f->wt, p->cwd);
	assert_non_null(p->exe);
	assert_non_null(p->start_time);
	started = parse_utc(p->start_time);
	assert_true(started != (time_t)-1);
	assert_true(started <= time(NULL) + 1);
	assert_true(started >= time(NULL) - 60);
}

static void test_set_finds_the_listeners_of_every_port(void **state)
{
	struct fixture *f = *state;
	struct error err = ERROR_INIT;
	struct portset *ports = calloc(1, sizeof(*ports));
	struct report a, b;
	bool seen_a = false, seen_b = false;
	size_t i;

	assert_non_null(ports);
	assert_int_equal(0, start_child(f, &a, LISTEN_V4, f->wt));
	assert_int_equal(0, start_child(f, &b, LISTEN_V4, f->other));
	portset_add(ports, a.port);
	portset_add(ports, b.port);
	assert_int_equal(0, probe_listeners_set(&f->list, &f->nr, ports, &err));
	free(ports);
	for (i = 0; i < f->nr; i++) {
		const struct probe_listener *l = &f->list[i];

		/* only the ports asked about */
		assert_true(l->port == a.port || l->port == b.port);
		assert_int_equal(1, l->nr_procs);
		if (l->port == a.port) {
			assert_int_equal(a.pid, l->procs[0].pid);
			assert_string_equal(f->wt, l->procs[0].cwd);
			seen_a = true;
		} else {
			assert_int_equal(b.pid, l->procs[0].pid);
			assert_string_equal(f->other, l->procs[0].cwd);
			seen_b = true;
		}
	}
	assert_true(seen_a);
	assert_true(seen_b);
}

static void test_nothing_listening_is_no_listener(void **state)
{
	struct fixture *f = *state;
	uint16_t port = 0;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	/* bound but not listening: the port is ours, and nobody listens */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(0, bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
	assert_int_equal(0, getsockname(fd, (struct sockaddr *)&sin, &len));
	port = ntohs(sin.sin_port);
	probe(f, port);
	close(fd);
	assert_int_equal(0, f->nr);
	assert_null(f->list);
}

static void test_finds_an_ipv6_listener(void **state)
{
	struct fixture *f = *state;
	struct report r;

	if (start_child(f, &r, LISTEN_V6, f->wt) < 0)
		skip(); /* no ::1 on this host */
	probe(f, r.port);
	assert_int_equal(1, f->nr);
	assert_int_equal(AF_INET6, f->list[0].family);
	assert_string_equal("::1", f->list[0].address);
	assert_int_equal(1, f->list[0].nr_procs);
	assert_int_equal(r.pid, f->list[0].procs[0].pid);
}

static void test_one_process_holding_two_sockets(void **state)
{
	struct fixture *f = *state;
	struct report r;

	assert_int_equal(0, start_child(f, &r, LISTEN_BOTH, f->wt));
	if (!r.has_v6)
		skip();
	probe(f, r.port);
	assert_int_equal(2, f->nr);
	assert_int_equal(AF_INET, f->list[0].family);
	assert_int_equal(AF_INET6, f->list[1].family);
	assert_true(f->list[0].inode != f->list[1].inode);
	assert_int_equal(1, f->list[0].nr_procs);
	assert_int_equal(1, f->list[1].nr_procs);
	assert_int_equal(r.pid, f->list[0].procs[0].pid);
	assert_int_equal(r.pid, f->list[1].procs[0].pid);
	assert_string_equal(f->wt, f->list[1].procs[0].cwd);
}

static void test_forked_processes_share_a_socket(void **state)
{
	struct fixture *f = *state;
	struct report r;
	long first, second;

	assert_int_equal(0, start_child(f, &r, PREFORK, f->wt));
	probe(f, r.port);
	assert_int_equal(1, f->nr);
	assert_int_equal(2, f->list[0].nr_procs);
	first = r.pid < r.holder ? r.pid : r.holder;
	second = r.pid < r.holder ? r.holder : r.pid;
	assert_int_equal(first, f->list[0].procs[0].pid);
	assert_int_equal(second, f->list[0].procs[1].pid);
}

/*
 * Run this program again as the listener, so that its argv can hold tabs,
 * newlines and bytes that are not UTF-8.
 */
static void test_cmdline_is_escaped(void **state)
{
	struct fixture *f = *state;
	const struct probe_proc *p;
	uint16_t port = 0;
	int fds[2];
	int sock;
	pid_t pid;
	char ready;

	sock = listen_on(AF_INET, &port);
	assert_true(sock >= 0);
	assert_int_equal(0, pipe(fds));
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		char *argv[] = { "test-probe", "--hold",      "tab\there",
				 "new\nline",  "caf\xc3\xa9", "bad\xff",
				 "two words",  NULL };

		if (chdir(f->wt) < 0 || dup2(fds[1], 1) < 0)
			_exit(1);
		execv(self_exe, argv);
		_exit(1);
	}
	f->kids[f->nr_kids++] = pid;
	close(fds[1]);
	close(sock);
	assert_int_equal(1, read(fds[0], &ready, 1));
	close(fds[0]);

	probe(f, port);
	assert_int_equal(1, f->nr);
	assert_int_equal(1, f->list[0].nr_procs);
	p = &f->list[0].procs[0];
	assert_int_equal(pid, p->pid);
	assert_string_equal("test-probe --hold tab\\x09here new\\x0aline "
			    "caf\xc3\xa9 bad\\xff two words",
			    p->cmdline);
	assert_string_equal(self_exe, p->exe);
}

/* The deepest known worktree holding the process's own directory. */
static void test_owner_is_its_own_directory(void **state)
{
	struct fixture *f = *state;
	struct owner_map m = OWNER_MAP_INIT;
	struct owner_verdict v;
	struct report r;
	const struct probe_proc *p;

	assert_int_equal(0, start_child(f, &r, LISTEN_V4, f->wt));
	probe(f, r.port);
	assert_int_equal(1, f->nr);
	assert_int_equal(1, f->list[0].nr_procs);
	p = &f->list[0].procs[0];
	assert_false(p->cwd_deleted);
	owner_map_add(&m, "root", f->root, NULL, false);
	owner_judge(&v, &m, p);
	assert_non_null(v.wt);
	assert_string_equal("root", v.wt->name);
	/* a worktree nested in another owns what runs in it */
	owner_map_add(&m, "wt", f->wt, NULL, false);
	/* a shared prefix is not a parent: .../wt is not in .../wtx */
	owner_map_add(&m, "wtx", f->wtx, NULL, false);
	owner_judge(&v, &m, p);
	assert_non_null(v.wt);
	assert_string_equal("wt", v.wt->name);
	assert_false(v.by_marker);
	owner_map_release(&m);
}

static void test_owner_not_a_sibling_with_its_prefix(void **state)
{
	struct fixture *f = *state;
	struct owner_map m = OWNER_MAP_INIT;
	struct owner_verdict v;
	struct report r;

	/* the child runs in .../wtx, which starts with .../wt */
	assert_int_equal(0, start_child(f, &r, LISTEN_V4, f->wtx));
	probe(f, r.port);
	assert_int_equal(1, f->nr);
	assert_int_equal(1, f->list[0].nr_procs);
	owner_map_add(&m, "wt", f->wt, NULL, false);
	owner_judge(&v, &m, &f->list[0].procs[0]);
	assert_null(v.wt);
	owner_map_release(&m);
}

/*
 * A parent in a worktree does not make its child the worktree's: the
 * parent is only the labelled fact owner_started_from() gives.
 */
static void test_owner_ignores_the_ancestors(void **state)
{
	struct fixture *f = *state;
	struct owner_map m = OWNER_MAP_INIT;
	struct owner_verdict v;
	const struct owner_wt *from = NULL;
	struct report r;
	const struct probe_proc *p;
	char *cmd = NULL;
	long pid = 0;

	assert_int_equal(0, start_child(f, &r, GRANDCHILD, f->wt));
	probe(f, r.port);
	assert_int_equal(1, f->nr);
	assert_int_equal(1, f->list[0].nr_procs);
	p = &f->list[0].procs[0];
	assert_int_equal(r.pid, p->pid);
	assert_int_equal(f->kids[0], p->ppid);
	assert_string_equal(f->other, p->cwd);
	owner_map_add(&m, "wt", f->wt, NULL, false);
	owner_judge(&v, &m, p);
	assert_null(v.wt);
	assert_true(owner_started_from(&m, &v, p, &pid, &cmd, &from));
	assert_int_equal(f->kids[0], pid);
	assert_non_null(from);
	assert_string_equal("wt", from->name);
	assert_non_null(strstr(cmd, "test-probe"));
	free(cmd);
	cmd = NULL;
	/* once 'other' is a worktree, the process is its own */
	owner_map_add(&m, "other", f->other, NULL, false);
	owner_judge(&v, &m, p);
	assert_non_null(v.wt);
	assert_string_equal("other", v.wt->name);
	owner_map_release(&m);
}

/* A removed directory: Linux says "(deleted)", and it is nobody's. */
static void test_owner_of_a_deleted_directory(void **state)
{
	struct fixture *f = *state;
	struct owner_map m = OWNER_MAP_INIT;
	struct owner_verdict v;
	struct report r;
	const struct probe_proc *p;

	assert_int_equal(0, start_child(f, &r, LISTEN_V4, f->wtx));
	assert_int_equal(0, rmdir(f->wtx));
	probe(f, r.port);
	assert_int_equal(1, f->nr);
	assert_int_equal(1, f->list[0].nr_procs);
	p = &f->list[0].procs[0];
	assert_true(p->cwd_deleted);
	assert_non_null(strstr(p->cwd, " (deleted)"));
	owner_map_add(&m, "root", f->root, NULL, false);
	owner_map_add(&m, "gone", f->wtx, NULL, true);
	owner_judge(&v, &m, p);
	assert_null(v.wt);
	assert_true(v.deleted);
	assert_non_null(v.was);
	assert_string_equal("gone", v.was->name);
	assert_true(owner_is_orphan(&v));
	owner_map_release(&m);
	assert_int_equal(0, mkdir(f->wtx, 0700));
}

/*
 * Seen by another user, a socket shows with its owner and no process.
 * Needs root, to become that other user.
 */
static void test_other_users_process_is_not_shown(void **state)
{
	struct fixture *f = *state;
	struct report r;
	long seen[3] = { -1, -1, -1 }; /* listeners, processes, owner */
	int fds[2];
	pid_t pid;
	int status;

	if (getuid() != 0)
		skip();
	assert_int_equal(0, start_child(f, &r, LISTEN_V4, f->wt));
	assert_int_equal(0, pipe(fds));
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct probe_listener *l = NULL;
		size_t nr = 0;

		close(fds[0]);
		if (setgid(65534) || setuid(65534))
			_exit(2);
		if (probe_listeners(&l, &nr, r.port, NULL) < 0)
			_exit(1);
		seen[0] = (long)nr;
		if (nr) {
			seen[1] = (long)l[0].nr_procs;
			seen[2] = (long)l[0].uid;
		}
		if (write(fds[1], seen, sizeof(seen)) != sizeof(seen))
			_exit(1);
		probe_listeners_free(l, nr);
		_exit(0);
	}
	close(fds[1]);
	assert_int_equal(pid, waitpid(pid, &status, 0));
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 2) {
		close(fds[0]);
		skip(); /* cannot become another user here */
	}
	assert_int_equal(0, WEXITSTATUS(status));
	assert_int_equal(sizeof(seen), read(fds[0], seen, sizeof(seen)));
	close(fds[0]);
	assert_int_equal(1, seen[0]);
	assert_int_equal(0, seen[1]);
	assert_int_equal(0, seen[2]);
}

/*
 * Samples as this host's kernel writes them: each 32-bit word of an
 * address in host byte order.
 */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LO4 "0100007F"
#define ANY4 "00000000"
#define TEN4 "0200000A"
#define LO6 "00000000000000000000000001000000"
#define ANY6 "00000000000000000000000000000000"
#else
#define LO4 "7F000001"
#define ANY4 "00000000"
#define TEN4 "0A000002"
#define LO6 "00000000000000000000000000000001"
#define ANY6 "00000000000000000000000000000000"
#endif

static const char tcp_sample[] =
	"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when "
	"retrnsmt   uid  timeout inode\n"
	"   0: " LO4 ":1F90 " ANY4 ":0000 0A 00000000:00000000 00:00000000 "
	"00000000  1000        0 4242 1 0000000000000000 100 0 0 10 0\n"
	"   1: " TEN4 ":1F90 " ANY4 ":0000 0A 00000000:00000000 00:00000000 "
	"00000000     0        0 17 1 0000000000000000 100 0 0 10 0\n"
	/* established, on the same port: not a listener */
	"   2: " LO4 ":1F90 " LO4 ":D431 01 00000000:00000000 00:00000000 "
	"00000000  1000        0 4343 1 0000000000000000 20 4 30 10 -1\n"
	/* listening on another port */
	"   3: " ANY4 ":1F91 " ANY4 ":0000 0A 00000000:00000000 00:00000000 "
	"00000000  1000        0 4444 1 0000000000000000 100 0 0 10 0\n";

static const char tcp6_sample[] =
	"  sl  local_address                         remote_address        "
	"                st tx_queue rx_queue tr tm->when retrnsmt   uid  "
	"timeout inode\n"
	"   0: " ANY6 ":0BB8 " ANY6 ":0000 0A 00000000:00000000 00:00000000 "
	"00000000   501        0 99 1 0000000000000000 100 0 0 10 0\n"
	"   1: " LO6 ":0BB8 " ANY6 ":0000 0A 00000000:00000000 00:00000000 "
	"00000000   501        0 100 1 0000000000000000 100 0 0 10 0\n";

static void test_parse_proc_net_tcp(void **state UNUSED)
{
	struct probe_listener *l = NULL;
	struct error err = ERROR_INIT;
	size_t nr = 0;

	assert_int_equal(0, probe_parse_proc_net_tcp(&l, &nr, tcp_sample,
						     AF_INET, 8080, &err));
	assert_int_equal(2, nr);
	assert_int_equal(AF_INET, l[0].family);
	assert_string_equal("127.0.0.1", l[0].address);
	assert_int_equal(8080, l[0].port);
	assert_int_equal(4242, l[0].inode);
	assert_int_equal(1000, l[0].uid);
	assert_int_equal(0, l[0].nr_procs);
	assert_null(l[0].procs);
	assert_string_equal("10.0.0.2", l[1].address);
	assert_int_equal(17, l[1].inode);
	assert_int_equal(0, l[1].uid);
	probe_listeners_free(l, nr);
}

static void test_parse_proc_net_tcp6(void **state UNUSED)
{
	struct probe_listener *l = NULL;
	struct error err = ERROR_INIT;
	size_t nr = 0;

	assert_int_equal(0, probe_parse_proc_net_tcp(&l, &nr, tcp6_sample,
						     AF_INET6, 3000, &err));
	assert_int_equal(2, nr);
	assert_int_equal(AF_INET6, l[0].family);
	assert_string_equal("::", l[0].address);
	assert_int_equal(99, l[0].inode);
	assert_int_equal(501, l[0].uid);
	assert_string_equal("::1", l[1].address);
	assert_int_equal(100, l[1].inode);
	probe_listeners_free(l, nr);
}

static void test_parse_proc_net_tcp_nothing_on_port(void **state UNUSED)
{
	struct probe_listener *l = NULL;
	struct error err = ERROR_INIT;
	size_t nr = 1;

	assert_int_equal(0, probe_parse_proc_net_tcp(&l, &nr, tcp_sample,
						     AF_INET, 8082, &err));
	assert_int_equal(0, nr);
	assert_null(l);
	/* an empty table, and the header alone */
	assert_int_equal(
		0, probe_parse_proc_net_tcp(&l, &nr, "", AF_INET, 8080, &err));
	assert_int_equal(0, nr);
	assert_int_equal(0, probe_parse_proc_net_tcp(&l, &nr, "  sl  local\n",
						     AF_INET, 8080, &err));
	assert_int_equal(0, nr);
}

static void test_parse_proc_net_tcp_rejects_garbage(void **state UNUSED)
{
	static const char text[] =
		"  sl  local_address rem_address   st\n"
		"   0: " LO4 ":1F90 " ANY4 ":0000 0A 00000000:00000000 "
		"00:00000000 00000000  1000        0 4242 1\n"
		"   1: nonsense\n";
	struct probe_listener *l = NULL;
	struct error err = ERROR_INIT;
	size_t nr = 7;

	assert_int_equal(
		ERR_CORRUPT,
		probe_parse_proc_net_tcp(&l, &nr, text, AF_INET, 8080, &err));
	assert_int_equal(ERR_CORRUPT, err.code);
	assert_string_equal("/proc/net/tcp", err.file);
	assert_int_equal(3, err.line);
	assert_null(l);
	assert_int_equal(7, nr);

	/* an IPv4 address in the IPv6 table */
	error_clear(&err);
	assert_int_equal(
		ERR_CORRUPT,
		probe_parse_proc_net_tcp(&l, &nr, text, AF_INET6, 8080, &err));
	assert_string_equal("/proc/net/tcp6", err.file);
	assert_int_equal(2, err.line);
}

/* The fallback, on this host's own table, finds what netlink found. */
static void test_proc_net_tcp_agrees_with_the_kernel(void **state)
{
	struct fixture *f = *state;
	struct sbuf text = SBUF_INIT;
	struct probe_listener *l = NULL;
	struct error err = ERROR_INIT;
	struct report r;
	size_t nr = 0;

	assert_int_equal(0, start_child(f, &r, LISTEN_V4, f->wt));
	probe(f, r.port);
	assert_int_equal(1, f->nr);
	if (sbuf_read_file(&text, "/proc/net/tcp") < 0)
		skip();
	assert_int_equal(0, probe_parse_proc_net_tcp(&l, &nr, text.buf, AF_INET,
						     r.port, &err));
	sbuf_release(&text);
	assert_int_equal(1, nr);
	assert_string_equal("127.0.0.1", l[0].address);
	assert_int_equal(f->list[0].inode, l[0].inode);
	assert_int_equal(f->list[0].uid, l[0].uid);
	probe_listeners_free(l, nr);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			test_finds_the_listener_and_its_process, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_nothing_listening_is_no_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_finds_an_ipv6_listener,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_one_process_holding_two_sockets, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_forked_processes_share_a_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmdline_is_escaped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_owner_is_its_own_directory,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_owner_not_a_sibling_with_its_prefix, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_owner_ignores_the_ancestors, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_owner_of_a_deleted_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_other_users_process_is_not_shown, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_set_finds_the_listeners_of_every_port, setup,
			teardown),
		cmocka_unit_test(test_parse_proc_net_tcp),
		cmocka_unit_test(test_parse_proc_net_tcp6),
		cmocka_unit_test(test_parse_proc_net_tcp_nothing_on_port),
		cmocka_unit_test(test_parse_proc_net_tcp_rejects_garbage),
		cmocka_unit_test_setup_teardown(
			test_proc_net_tcp_agrees_with_the_kernel, setup,
			teardown),
	};
	ssize_t n;

	/* run again by test_cmdline_is_escaped: hold the socket, say so */
	if (argc > 1 && !strcmp(argv[1], "--hold")) {
		if (write(1, "y", 1) != 1)
			return 1;
		hold_forever();
	}
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n < 0)
		return 1;
	self_exe[n] = '\0';
	/* so that a grandchild whose parent was killed can be reaped */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* !__linux__ */

static void test_listeners_not_supported(void **state UNUSED)
{
	struct probe_listener *l = NULL;
	struct error err = ERROR_INIT;
	size_t nr = 0;

	assert_int_equal(ERR_FAIL, probe_listeners(&l, &nr, 8080, &err));
	assert_non_null(strstr(err.msg, "not supported on this platform"));
	assert_null(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listeners_not_supported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
