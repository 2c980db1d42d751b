/*
 * Sockets for the tests: a plain listener, a set of small servers, and
 * a check that an address can be bound.
 *
 *	test-tool listen ADDR PORT PIDFILE
 *	test-tool servers [--pidfile FILE] [--delay SECONDS] SPEC...
 *	test-tool can-bind ADDR
 *
 * listen listens on TCP ADDR PORT (127.0.0.1, 0.0.0.0, ::1 or ::; an
 * IPv6 socket is IPv6 only) and accepts and closes connections until it
 * gets SIGTERM or SIGINT, then exits 0. Its pid goes to PIDFILE once it
 * listens.
 *
 * servers runs TCP servers on 127.0.0.1, all in this one process, until
 * SIGTERM or SIGINT (exit 0). Each SPEC is KIND:PORTS, PORTS a port,
 * FIRST-LAST or a comma-separated list of those:
 *
 *	ok:PORTS       HTTP: '200 OK' for GET /health, '404 Not Found' for
 *	               any other path
 *	error:PORTS    HTTP: '500 Internal Server Error' for every request
 *	hang:PORTS     accepts, reads what comes and never answers
 *	slow:PORTS     answers '200 OK', one byte a second
 *	garbage:PORTS  answers binary garbage and a line end, then closes
 *	listen:PORTS   only listens: connections wait in the queue
 *	               unaccepted
 *	pairs:N        N connected TCP pairs on the loopback (2N sockets, on
 *	               ports the system picks); for a machine with many
 *	               sockets
 *
 * An HTTP server answers once it has read the request's head (up to the
 * empty line), then shuts its side down and closes when the client does.
 * The pid of the process goes to FILE once every socket listens and every
 * pair is connected, so a test that waits for the file knows the servers
 * are up and can stop them by that pid. --delay waits that long before
 * making any socket (a server that comes up later). The soft limit on
 * open files is raised to the hard one. A port that cannot be bound is
 * an error (exit 2).
 *
 * can-bind exits 0 if a TCP socket can be bound to ADDR on a port the
 * system picks, 1 if not (the IPV6 prerequisite of lib.sh).
 */
#define _GNU_SOURCE 1
#include "test-tool.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void exit_on_signal(int sig)
{
	(void)sig;
	_exit(0);
}

static void handle_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = exit_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* A TCP socket bound to ADDR:PORT and listening, or -1 with errno. */
static int listen_on(const char *addr, int port, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, saved;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			die(2, "bad address '%s'", addr);
		len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			die(2, "bad address '%s'", addr);
		len = sizeof(*sin);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) ||
	    (backlog && listen(fd, backlog))) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int cmd__can_bind(int argc, const char **argv)
{
	int fd;

	if (argc != 2)
		die(1, "usage: test-tool can-bind ADDR");
	fd = listen_on(argv[1], 0, 0);
	if (fd < 0)
		return 1;
	close(fd);
	return 0;
}

int cmd__listen(int argc, const char **argv)
{
	int fd;

	if (argc != 4)
		die(1, "usage: test-tool listen ADDR PORT PIDFILE");
	handle_signals();
	fd = listen_on(argv[1], parse_port(argv[2], argv[2]), 16);
	if (fd < 0)
		die(1, "cannot listen on %s port %s: %s", argv[1], argv[2],
		    strerror(errno));
	write_pidfile(argv[3]);
	for (;;) {
		int c = accept(fd, NULL, NULL);

		if (c >= 0)
			close(c);
		else if (errno != EINTR && errno != ECONNABORTED)
			die(1, "accept: %s", strerror(errno));
	}
}

enum kind { OK, ERROR, HANG, SLOW, GARBAGE, LISTEN };

static const char *const kind_names[] = {
	[OK] = "ok", [ERROR] = "error", [HANG] = "hang", [SLOW] = "slow",
	[GARBAGE] = "garbage", [LISTEN] = "listen",
};

static const char answer_ok[] =
	"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	"Content-Length: 3\r\nConnection: close\r\n\r\nok\n";
static const char answer_not_found[] =
	"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n"
	"Content-Length: 10\r\nConnection: close\r\n\r\nnot found\n";
static const char answer_error[] =
	"HTTP/1.1 500 Internal Server Error\r\n"
	"Content-Type: text/plain\r\nContent-Length: 6\r\n"
	"Connection: close\r\n\r\nerror\n";
static const char answer_slow[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
static const char answer_garbage[] =
	"\x00\xff\xfe\x1b[31m\x80garbage\x7f\x01\r\n";

/* A socket the loop polls: a listener, or a connection it accepted. */
struct sock {
	int fd;
	enum kind kind;
	bool listener;
	bool answered;
	struct buf head;	/* what came, until the request's head ends */
	const char *pending;	/* the rest of a slow answer */
	size_t pending_len;
	long long next_ms;	/* when its next slow byte is due */
};

static struct sock **socks;
static size_t nr_socks, alloc_socks;

static struct sock *add_sock(int fd, enum kind kind, bool listener)
{
	struct sock *s = xmalloc(sizeof(*s));

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->kind = kind;
	s->listener = listener;
	if (nr_socks == alloc_socks) {
		alloc_socks = alloc_socks ? 2 * alloc_socks : 64;
		socks = xrealloc(socks, alloc_socks * sizeof(*socks));
	}
	socks[nr_socks++] = s;
	return s;
}

static void close_sock(struct sock *s)
{
	close(s->fd);
	s->fd = -1; /* removed from the list by the loop */
	buf_release(&s->head);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_blocking(int fd, bool blocking)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags >= 0)
		fcntl(fd, F_SETFL,
		      blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK);
}

static void accept_all(struct sock *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return; /* none left, or out of descriptors */
		add_sock(fd, l->kind, false);
	}
}

/* The path of the request line "GET /health HTTP/1.1". */
static bool asks_for_health(const struct buf *head)
{
	const char *line_end = strstr(head->buf, "\r\n");
	size_t len = line_end ? (size_t)(line_end - head->buf) : head->len;
	const char *sp = memchr(head->buf, ' ', len), *sp2;
	size_t path_len;

	if (!sp)
		return false;
	sp++;
	sp2 = memchr(sp, ' ', len - (size_t)(sp - head->buf));
	path_len = sp2 ? (size_t)(sp2 - sp) : len - (size_t)(sp - head->buf);
	return path_len == 7 && !memcmp(sp, "/health", 7);
}

static void serve(struct sock *s)
{
	char data[65536];
	const char *answer;
	size_t answer_len;
	ssize_t n = recv(s->fd, data, sizeof(data), 0);

	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		      errno == EINTR))
		return;
	if (n <= 0) {
		close_sock(s);
		return;
	}
	if (s->answered || s->kind == HANG)
		return;
	buf_add(&s->head, data, (size_t)n);
	if (!memmem(s->head.buf, s->head.len, "\r\n\r\n", 4))
		return;
	s->answered = true;
	switch (s->kind) {
	case SLOW:
		s->pending = answer_slow;
		s->pending_len = sizeof(answer_slow) - 1;
		s->next_ms = now_ms();
		return;
	case OK:
		if (asks_for_health(&s->head)) {
			answer = answer_ok;
			answer_len = sizeof(answer_ok) - 1;
		} else {
			answer = answer_not_found;
			answer_len = sizeof(answer_not_found) - 1;
		}
		break;
	case ERROR:
		answer = answer_error;
		answer_len = sizeof(answer_error) - 1;
		break;
	default:
		answer = answer_garbage;
		answer_len = sizeof(answer_garbage) - 1;
		break;
	}
	buf_release(&s->head);
	set_blocking(s->fd, true);
	if (write_all(s->fd, answer, answer_len) ||
	    shutdown(s->fd, SHUT_WR)) {
		close_sock(s);
		return;
	}
	set_blocking(s->fd, false);
	/* closed once the client closes its side */
}

/* Send the slow bytes that are due; the time of the next one, or -1. */
static long long send_slow(void)
{
	long long now = now_ms(), next = -1;
	size_t i;

	for (i = 0; i < nr_socks; i++) {
		struct sock *s = socks[i];

		if (s->fd < 0 || !s->pending_len)
			continue;
		if (s->next_ms <= now) {
			if (send(s->fd, s->pending, 1, MSG_NOSIGNAL) != 1) {
				close_sock(s);
				continue;
			}
			s->pending++;
			s->pending_len--;
			s->next_ms = now + 1000;
			if (!s->pending_len)
				continue;
		}
		if (next < 0 || s->next_ms < next)
			next = s->next_ms;
	}
	return next;
}

__attribute__((noreturn)) static void run_loop(void)
{
	struct pollfd *fds = NULL;
	size_t alloc = 0;

	for (;;) {
		long long next = send_slow();
		int timeout = next < 0 ? -1 : (int)(next - now_ms());
		size_t i, j, nr = 0;

		for (i = j = 0; i < nr_socks; i++) {
			if (socks[i]->fd < 0) {
				free(socks[i]);
				continue;
			}
			socks[j++] = socks[i];
		}
		nr_socks = j;
		if (alloc < nr_socks) {
			alloc = nr_socks * 2;
			fds = xrealloc(fds, alloc * sizeof(*fds));
		}
		for (i = 0; i < nr_socks; i++) {
			fds[nr].fd = socks[i]->fd;
			fds[nr].events = POLLIN;
			fds[nr].revents = 0;
			nr++;
		}
		if (next >= 0 && timeout < 0)
			timeout = 0;
		if (poll(fds, nr, timeout) < 0) {
			if (errno == EINTR)
				continue;
			die(2, "poll: %s", strerror(errno));
		}
		for (i = 0; i < nr; i++) {
			struct sock *s = socks[i];

			if (!fds[i].revents)
				continue;
			if (s->listener)
				accept_all(s);
			else
				serve(s);
		}
	}
}

static void add_pairs(const char *what)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	long n, i;
	char *end;
	int l;

	errno = 0;
	n = strtol(what, &end, 10);
	if (!*what || *end || errno || n < 0)
		die(2, "bad count '%s' in 'pairs:%s'", what, what);
	l = listen_on("127.0.0.1", 0, 128);
	if (l < 0 || getsockname(l, (struct sockaddr *)&sin, &len))
		die(2, "cannot listen on 127.0.0.1: %s", strerror(errno));
	for (i = 0; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (c < 0 || connect(c, (struct sockaddr *)&sin, len) ||
		    accept(l, NULL, NULL) < 0)
			die(2, "pair %ld: %s", i + 1, strerror(errno));
		/* both ends stay open, and are never looked at */
	}
	close(l);
}

static void add_servers(enum kind kind, const char *spec, const char *ports)
{
	const char *p = ports;

	for (;;) {
		size_t len = strcspn(p, ",");
		char *part = xstrndup(p, len), *dash = strchr(part, '-');
		int first, last, port;

		if (dash) {
			*dash = '\0';
			first = parse_port(part, spec);
			last = parse_port(dash + 1, spec);
		} else {
			first = last = parse_port(part, spec);
		}
		for (port = first; port <= last; port++) {
			int fd = listen_on("127.0.0.1", port, 128);

			if (fd < 0)
				die(2, "cannot bind 127.0.0.1:%d: %s", port,
				    strerror(errno));
			set_blocking(fd, false);
			if (kind != LISTEN)
				add_sock(fd, kind, true);
		}
		free(part);
		if (!p[len])
			break;
		p += len + 1;
	}
}

int cmd__servers(int argc, const char **argv)
{
	const char *pidfile = NULL;
	double delay = 0;
	struct rlimit rl;
	int i = 1;

	for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
		if (i + 1 >= argc)
			die(2, "%s needs a value", argv[i]);
		if (!strcmp(argv[i], "--pidfile")) {
			pidfile = argv[i + 1];
		} else if (!strcmp(argv[i], "--delay")) {
			char *end;

			delay = strtod(argv[i + 1], &end);
			if (*end || delay < 0)
				die(2, "bad delay '%s'", argv[i + 1]);
		} else {
			die(2, "unknown option %s", argv[i]);
		}
	}
	if (i >= argc)
		die(2, "usage: test-tool servers [--pidfile FILE] "
		       "[--delay SECONDS] KIND:PORTS...");

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	handle_signals();
	if (delay > 0) {
		struct timespec ts;

		ts.tv_sec = (time_t)delay;
		ts.tv_nsec = (long)((delay - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
	}

	for (; i < argc; i++) {
		const char *spec = argv[i], *colon = strchr(spec, ':');
		size_t k, len = colon ? (size_t)(colon - spec) : strlen(spec);

		if (len == 5 && !strncmp(spec, "pairs", 5) && colon) {
			add_pairs(colon + 1);
			continue;
		}
		for (k = 0; k < sizeof(kind_names) / sizeof(*kind_names); k++)
			if (strlen(kind_names[k]) == len &&
			    !strncmp(spec, kind_names[k], len))
				break;
		if (k == sizeof(kind_names) / sizeof(*kind_names) || !colon)
			die(2, "unknown kind '%.*s' in '%s'", (int)len, spec,
			    spec);
		add_servers((enum kind)k, spec, colon + 1);
	}
	if (pidfile)
		write_pidfile(pidfile);
	run_loop();
}
