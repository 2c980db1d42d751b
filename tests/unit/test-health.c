#include "common.h"
#include "health.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

/*
 * Real servers on the loopback, one forked process each, killed by pid in
 * the teardown of every test (which cmocka runs even when a test fails).
 * A port where nothing listens is a socket bound but never listening:
 * nobody else can take it while the test runs, and a connect to it is
 * refused.
 */

enum behaviour {
	SERVE_200,
	SERVE_302,
	SERVE_500,
	SERVE_EXPECT,	   /* 200 if the request is exactly ours for 'path' */
	SERVE_HANG,	   /* accept, never read or answer */
	SERVE_SLOW,	   /* "HTTP/1.1 200 OK" a byte every 'interval_ms' */
	SERVE_GARBAGE,	   /* a line of binary bytes */
	SERVE_LONG_LINE,   /* 4000 bytes without a newline */
	SERVE_CLOSE,	   /* accept and close at once */
	SERVE_CUT,	   /* half a status line, then close */
	SERVE_EARLY_HINTS, /* 103, then 204 */
};

#define MAX_SERVERS 16
#define MAX_BOUND 2100

static pid_t servers[MAX_SERVERS];
static size_t nr_servers;
static int bound[MAX_BOUND];
static size_t nr_bound;

static int open_fds(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 4096; fd++)
		n += fcntl(fd, F_GETFD) != -1;
	return n;
}

/* A socket bound to port 'port' (0: any) of the loopback of 'family'. */
static int bind_loopback(int family, uint16_t *port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(*port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(*port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -1;
	}
	len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	*port = ntohs(family == AF_INET
			      ? ((struct sockaddr_in *)&ss)->sin_port
			      : ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* A port nothing listens on, on either loopback, until the teardown. */
static uint16_t closed_port(void)
{
	uint16_t port = 0;
	int fd;

	assert_true(nr_bound + 2 <= MAX_BOUND);
	fd = bind_loopback(AF_INET, &port);
	assert_true(fd >= 0);
	bound[nr_bound++] = fd;
	/* without ::1, nothing can listen there either */
	fd = bind_loopback(AF_INET6, &port);
	if (fd >= 0)
		bound[nr_bound++] = fd;
	return port;
}

static void read_request(int fd)
{
	char buf[4096];
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return;
	}
}

static bool request_is(int fd, const char *expect)
{
	char buf[4096];
	size_t len = 0, want = strlen(expect);
	ssize_t n;

	while (len < want) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return false;
		len += (size_t)n;
	}
	return len == want && !memcmp(buf, expect, want);
}

static void say(int fd, const char *text, size_t len)
{
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		n = write(fd, text + off, len - off);
		if (n <= 0)
			return;
		off += (size_t)n;
	}
}

#define SAY(fd, s) say(fd, s, sizeof(s) - 1)

static void answer(int fd, enum behaviour b, const char *path, uint16_t port,
		   int interval_ms)
{
	static const char slow[] = "HTTP/1.1 200 OK\r\n\r\n";
	char junk[4000], expect[2048];
	size_t i;

	switch (b) {
	case SERVE_HANG:
		return; /* keep it open, say nothing */
	case SERVE_CLOSE:
		break;
	case SERVE_EXPECT:
		snprintf(expect, sizeof(expect),
			 "GET %s HTTP/1.1\r\n"
			 "Host: 127.0.0.1:%u\r\n"
			 "User-Agent: git-worktree-ports\r\n"
			 "Connection: close\r\n"
			 "Accept: */*\r\n"
			 "\r\n",
			 path, (unsigned)port);
		if (request_is(fd, expect))
			SAY(fd, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
		else
			SAY(fd, "HTTP/1.1 400 Bad Request\r\n\r\n");
		break;
	default:
		read_request(fd);
		break;
	}
	switch (b) {
	case SERVE_200:
		SAY(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
		break;
	case SERVE_302:
		SAY(fd, "HTTP/1.0 302 Found\r\nLocation: /login\r\n\r\n");
		break;
	case SERVE_500:
		SAY(fd, "HTTP/1.1 500 Internal Server Error\r\n\r\n");
		break;
	case SERVE_SLOW:
		for (i = 0; i < sizeof(slow) - 1; i++) {
			say(fd, slow + i, 1);
			sleep_ms(interval_ms);
		}
		break;
	case SERVE_GARBAGE:
		SAY(fd, "\x00\x01\xffgarbage\x1b[31m\r\n\r\n");
		break;
	case SERVE_LONG_LINE:
		memset(junk, 'A', sizeof(junk));
		say(fd, junk, sizeof(junk));
		break;
	case SERVE_CUT:
		SAY(fd, "HTTP/1.1 20");
		break;
	case SERVE_EARLY_HINTS:
		SAY(fd, "HTTP/1.1 103 Early Hints\r\n"
			"Link: </style.css>; rel=preload\r\n"
			"\r\n"
			"HTTP/1.1 204 No Content\r\n\r\n");
		break;
	default:
		break;
	}
	close(fd);
}

static void serve(int lfd, enum behaviour b, const char *path, uint16_t port,
		  int interval_ms, pid_t parent)
{
	struct pollfd p;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		/* never outlive the test, even when it is killed */
		if (getppid() != parent)
			_exit(0);
		p.fd = lfd;
		p.events = POLLIN;
		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = accept(lfd, NULL, NULL);
		if (fd >= 0)
			answer(fd, b, path, port, interval_ms);
	}
}

/* Start a server on the loopback of 'family'; its port, or 0 if none. */
static uint16_t start_server_on(int family, enum behaviour b, const char *path,
				int interval_ms)
{
	pid_t parent = getpid(), pid;
	uint16_t port = 0;
	int lfd;

	assert_true(nr_servers < MAX_SERVERS);
	lfd = bind_loopback(family, &port);
	if (lfd < 0)
		return 0;
	assert_int_equal(0, listen(lfd, 1024));
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		serve(lfd, b, path, port, interval_ms, parent);
		_exit(0);
	}
	close(lfd);
	servers[nr_servers++] = pid;
	return port;
}

static uint16_t start_server(enum behaviour b)
{
	return start_server_on(AF_INET, b, NULL, 0);
}

static int setup(void **state UNUSED)
{
	nr_servers = 0;
	nr_bound = 0;
	return 0;
}

static int teardown(void **state UNUSED)
{
	size_t i;

	for (i = 0; i < nr_servers; i++) {
		kill(servers[i], SIGKILL);
		waitpid(servers[i], NULL, 0);
	}
	for (i = 0; i < nr_bound; i++)
		close(bound[i]);
	nr_servers = 0;
	nr_bound = 0;
	return 0;
}

/* Check one target; returns the elapsed milliseconds. */
static long check1(struct health_result *r, uint16_t port, const char *path,
		   int timeout_ms)
{
	struct health_target t = { .port = port, .path = path };
	struct error err = ERROR_INIT;
	int64_t t0 = (monotonic_us() / 1000);

	assert_int_equal(0, health_check(r, &t, 1, timeout_ms, &err));
	return (long)((monotonic_us() / 1000) - t0);
}

static void test_status_names_round_trip(void **state UNUSED)
{
	static const enum health_status all[] = { HEALTH_UNKNOWN,
						  HEALTH_HEALTHY,
						  HEALTH_UNHEALTHY,
						  HEALTH_NOT_RUNNING };
	enum health_status s = HEALTH_HEALTHY;
	size_t i;

	assert_string_equal("unknown", health_status_name(HEALTH_UNKNOWN));
	assert_string_equal("healthy", health_status_name(HEALTH_HEALTHY));
	assert_string_equal("unhealthy", health_status_name(HEALTH_UNHEALTHY));
	assert_string_equal("not_running",
			    health_status_name(HEALTH_NOT_RUNNING));
	assert_string_equal("unknown", health_status_name(42));
	for (i = 0; i < ARRAY_SIZE(all); i++) {
		assert_int_equal(
			0, health_status_parse(&s, health_status_name(all[i])));
		assert_int_equal(all[i], s);
	}
	assert_int_equal(-1, health_status_parse(&s, "Healthy"));
	assert_int_equal(-1, health_status_parse(&s, "not running"));
	assert_int_equal(-1, health_status_parse(&s, ""));
	assert_int_equal(HEALTH_NOT_RUNNING, s);
}

static void test_path_validation(void **state UNUSED)
{
	char long_path[HEALTH_PATH_MAX + 2];

	assert_true(health_path_is_valid(NULL));
	assert_true(health_path_is_valid("tcp"));
	assert_true(health_path_is_valid("/"));
	assert_true(health_path_is_valid("/health?x=1&y=%20"));
	assert_true(health_path_is_valid("//example.com/x"));
	assert_false(health_path_is_valid(""));
	assert_false(health_path_is_valid("health"));
	assert_false(health_path_is_valid("TCP"));
	assert_false(health_path_is_valid("/a b"));
	assert_false(health_path_is_valid("/a\r\nX-Evil: 1"));
	assert_false(health_path_is_valid("/a\tb"));
	assert_false(health_path_is_valid("/\x7f"));
	assert_false(health_path_is_valid("/caf\xc3\xa9"));

	memset(long_path, 'a', sizeof(long_path));
	long_path[0] = '/';
	long_path[HEALTH_PATH_MAX] = '\0';
	assert_true(health_path_is_valid(long_path));
	long_path[HEALTH_PATH_MAX] = 'a';
	long_path[HEALTH_PATH_MAX + 1] = '\0';
	assert_false(health_path_is_valid(long_path));
}

static void test_200_is_healthy(void **state UNUSED)
{
	struct health_result r;
	uint16_t port = start_server(SERVE_200);
	int fds = open_fds();

	check1(&r, port, "/health", 2000);
	assert_string_equal("HTTP 200", r.detail);
	assert_int_equal(HEALTH_HEALTHY, r.status);
	assert_true(r.listening);
	assert_int_equal(AF_INET, r.family);
	assert_int_equal(200, r.http_status);
	assert_true(r.connect_us >= 0);
	assert_true(r.response_us >= r.connect_us);
	assert_int_equal(fds, open_fds());
}

static void test_request_is_exact_and_stays_local(void **state UNUSED)
{
	struct health_result r;
	uint16_t port;

	/* a path that looks like another host is only ever a path */
	port = start_server_on(AF_INET, SERVE_EXPECT,
			       "//example.com/x?next=http://evil/", 0);
	check1(&r, port, "//example.com/x?next=http://evil/", 2000);
	assert_string_equal("HTTP 200", r.detail);
	assert_int_equal(HEALTH_HEALTHY, r.status);
}

static void test_302_is_healthy(void **state UNUSED)
{
	struct health_result r;

	check1(&r, start_server(SERVE_302), "/", 2000);
	assert_int_equal(HEALTH_HEALTHY, r.status);
	assert_int_equal(302, r.http_status);
	assert_string_equal("HTTP 302", r.detail);
}

static void test_500_is_unhealthy(void **state UNUSED)
{
	struct health_result r;

	check1(&r, start_server(SERVE_500), "/health", 2000);
	assert_int_equal(HEALTH_UNHEALTHY, r.status);
	assert_true(r.listening);
	assert_int_equal(500, r.http_status);
	assert_string_equal("HTTP 500", r.detail);
}

static void test_early_hints_are_skipped(void **state UNUSED)
{
	struct health_result r;

	check1(&r, start_server(SERVE_EARLY_HINTS), "/", 2000);
	assert_int_equal(HEALTH_HEALTHY, r.status);
	assert_int_equal(204, r.http_status);
}

static void test_hanging_server_times_out(void **state UNUSED)
{
	struct health_result r;
	uint16_t port = start_server(SERVE_HANG);
	int fds = open_fds();
	long ms;

	ms = check1(&r, port, "/health", 300);
	printf("# a server that never answers, timeout 300 ms: %ld ms\n", ms);
	assert_int_equal(HEALTH_UNHEALTHY, r.status);
	assert_true(r.listening);
	assert_true(r.connect_us >= 0);
	assert_int_equal(-1, r.response_us);
	assert_int_equal(0, r.http_status);
	assert_string_equal("timed out after 300 ms waiting for the response",
			    r.detail);
	assert_true(ms >= 290);
	assert_true(ms < 300 + 300);
	assert_int_equal(fds, open_fds());
}

static void test_byte_a_second_times_out(void **state UNUSED)
{
	struct health_result r;
	uint16_t port = start_server_on(AF_INET, SERVE_SLOW, NULL, 1000);
	long ms;

	ms = check1(&r, port, "/", 400);
	assert_int_equal(HEALTH_UNHEALTHY, r.status);
	assert_string_equal("timed out after 400 ms reading the response",
			    r.detail);
	assert_true(ms < 400 + 300);
}

static void test_garbage_is_unhealthy_and_escaped(void **state UNUSED)
{
	struct health_result r;

	check1(&r, start_server(SERVE_GARBAGE), "/", 2000);
	assert_int_equal(HEALTH_UNHEALTHY, r.status);
	assert_int_equal(0, r.http_status);
	assert_string_equal(
		"malformed status line '\\x00\\x01\\xffgarbage\\x1b[31m'",
		r.detail);
}

static void test_long_line_is_unhealthy(void **state UNUSED)
{
	struct health_result r;

	check1(&r, start_server(SERVE_LONG_LINE), "/", 2000);
	assert_int_equal(HEALTH_UNHEALTHY, r.status);
	assert_string_equal("status line longer than 1024 bytes", r.detail);
}

static void test_close_at_once_is_unhealthy(void **state UNUSED)
{
	struct health_result r;
	long ms;

	ms = check1(&r, start_server(SERVE_CLOSE), "/", 2000);
	assert_int_equal(HEALTH_UNHEALTHY, r.status);
	assert_true(r.listening);
	assert_int_equal(0, r.http_status);
	/* FIN or RST first is up to the kernel; either is quick */
	assert_true(!strcmp(r.detail, "connection closed without a response") ||
		    !strncmp(r.detail, "connection reset", 16));
	assert_true(ms < 1000);
}

static void test_cut_status_line_is_unhealthy(void **state UNUSED)
{
	struct health_result r;

	check1(&r, start_server(SERVE_CUT), "/", 2000);
	assert_int_equal(HEALTH_UNHEALTHY, r.status);
	assert_string_equal(
		"connection closed before the end of the status line",
		r.detail);
}

static void test_nothing_listening_is_not_running(void **state UNUSED)
{
	struct health_result r;
	long ms;

	ms = check1(&r, closed_port(), "/health", 2000);
	assert_int_equal(HEALTH_NOT_RUNNING, r.status);
	assert_false(r.listening);
	assert_int_equal(0, r.family);
	assert_int_equal(-1, r.connect_us);
	assert_string_equal("connection refused", r.detail);
	assert_true(ms < 500);

	check1(&r, closed_port(), "tcp", 2000);
	assert_int_equal(HEALTH_NOT_RUNNING, r.status);
}

static void test_tcp_is_healthy_on_accept(void **state UNUSED)
{
	struct health_result r;
	uint16_t port = start_server(SERVE_HANG);
	long ms;

	ms = check1(&r, port, "tcp", 2000);
	assert_int_equal(HEALTH_HEALTHY, r.status);
	assert_true(r.listening);
	assert_int_equal(0, r.http_status);
	assert_string_equal("accepting connections", r.detail);
	assert_true(ms < 1000);

	check1(&r, port, NULL, 2000);
	assert_int_equal(HEALTH_HEALTHY, r.status);
}

static void test_ipv6_only_listener(void **state UNUSED)
{
	struct health_result r;
	uint16_t port = start_server_on(AF_INET6, SERVE_200, NULL, 0);

	if (!port)
		skip(); /* no ::1 on this machine */
	check1(&r, port, "/", 2000);
	assert_int_equal(HEALTH_HEALTHY, r.status);
	assert_int_equal(AF_INET6, r.family);
	assert_int_equal(200, r.http_status);
}

static void test_invalid_targets_are_unknown(void **state UNUSED)
{
	struct health_target t[] = {
		{ 8080, "health" },
		{ 8080, "/a b" },
		{ 8080, "/a\r\nX-Evil: 1" },
		{ 8080, "" },
		{ 0, "/" },
	};
	struct health_result r[ARRAY_SIZE(t)];
	struct error err = ERROR_INIT;
	size_t i;

	assert_int_equal(0, health_check(r, t, ARRAY_SIZE(t), 1000, &err));
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		assert_int_equal(HEALTH_UNKNOWN, r[i].status);
		assert_false(r[i].listening);
	}
	assert_string_equal(
		"invalid health path 'health': expected 'tcp' or a path starting with '/'",
		r[0].detail);
	assert_string_equal(
		"invalid health path '/a\\x0d\\x0aX-Evil: 1': a space, control or non-ASCII byte",
		r[2].detail);
	assert_string_equal("port 0 cannot be checked", r[4].detail);
}

static void test_every_kind_at_once(void **state UNUSED)
{
	struct health_target t[] = {
		{ start_server(SERVE_200), "/" },
		{ start_server(SERVE_500), "/" },
		{ start_server(SERVE_HANG), "/" },
		{ start_server_on(AF_INET, SERVE_SLOW, NULL, 1000), "/" },
		{ start_server(SERVE_GARBAGE), "/" },
		{ start_server(SERVE_CLOSE), "/" },
		{ closed_port(), "/" },
		{ 1, "no-slash" },
	};
	static const enum health_status want[] = {
		HEALTH_HEALTHY,	    HEALTH_UNHEALTHY, HEALTH_UNHEALTHY,
		HEALTH_UNHEALTHY,   HEALTH_UNHEALTHY, HEALTH_UNHEALTHY,
		HEALTH_NOT_RUNNING, HEALTH_UNKNOWN,
	};
	struct health_result r[ARRAY_SIZE(t)];
	struct error err = ERROR_INIT;
	int fds = open_fds();
	int64_t t0 = (monotonic_us() / 1000);
	long ms;
	size_t i;

	assert_int_equal(0, health_check(r, t, ARRAY_SIZE(t), 500, &err));
	ms = (long)((monotonic_us() / 1000) - t0);
	printf("# every kind at once, timeout 500 ms: %ld ms\n", ms);
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (r[i].status != want[i])
			print_error("target %zu: %s (%s)\n", i,
				    health_status_name(r[i].status),
				    r[i].detail);
		assert_int_equal(want[i], r[i].status);
	}
	assert_true(ms < 500 + 300);
	assert_int_equal(fds, open_fds());
}

/* 'nr' targets, the first 'hanging' of them on one hanging server. */
static long check_many(size_t nr, size_t hanging, int timeout_ms)
{
	struct health_target *t = xcalloc(nr, sizeof(*t));
	struct health_result *r = xcalloc(nr, sizeof(*r));
	struct error err = ERROR_INIT;
	uint16_t hang = hanging ? start_server(SERVE_HANG) : 0;
	int64_t t0;
	long ms;
	size_t i;

	for (i = 0; i < nr; i++) {
		t[i].port = i < hanging ? hang : closed_port();
		t[i].path = "/health";
	}
	t0 = (monotonic_us() / 1000);
	assert_int_equal(0, health_check(r, t, nr, timeout_ms, &err));
	ms = (long)((monotonic_us() / 1000) - t0);
	for (i = 0; i < nr; i++)
		assert_int_equal(i < hanging ? HEALTH_UNHEALTHY
					     : HEALTH_NOT_RUNNING,
				 r[i].status);
	free(t);
	free(r);
	return ms;
}

static void test_100_hanging_share_one_deadline(void **state UNUSED)
{
	long ms = check_many(100, 100, 500);

	printf("# 100 hanging, timeout 500 ms: %ld ms\n", ms);
	assert_true(ms < 500 + 300);
}

static void test_1000_nothing_listening_is_fast(void **state UNUSED)
{
	long ms = check_many(1000, 0, 1000);

	printf("# 1000 nothing listening, timeout 1000 ms: %ld ms\n", ms);
	assert_true(ms < 500);
}

static void test_1000_with_500_hanging(void **state UNUSED)
{
	long ms = check_many(1000, 500, 1000);

	printf("# 1000 with 500 hanging, timeout 1000 ms: %ld ms\n", ms);
	assert_true(ms < 1000 + 500);
}

/*
 * Run 'fn' in a child with RLIMIT_NOFILE set to 'soft' and 'hard' (which
 * cannot be raised again, hence the child); the test fails if it exits
 * non-zero, and is skipped where the limit cannot be set.
 */
static void in_child_with_fd_limit(rlim_t soft, rlim_t hard, int (*fn)(void))
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct rlimit rl = { soft, hard };
		int rc;

		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(77); /* valgrind, for one, does not allow it */
		rc = fn();
		fflush(stdout);
		_exit(rc);
	}
	assert_int_equal(pid, waitpid(pid, &status, 0));
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(0, WEXITSTATUS(status));
}

static uint16_t wave_ok_port, wave_closed_port, wave_hang_port;

/* 200 targets through a window of a few descriptors: all decided right. */
static int waves_decide_everything(void)
{
	struct health_target t[200];
	struct health_result r[ARRAY_SIZE(t)];
	struct error err = ERROR_INIT;
	int64_t t0 = (monotonic_us() / 1000);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		t[i].port = i % 2 ? wave_closed_port : wave_ok_port;
		t[i].path = "/";
	}
	if (health_check(r, t, ARRAY_SIZE(t), 2000, &err))
		return 3;
	printf("# 200 targets in waves of a few fds: %ld ms\n",
	       (long)((monotonic_us() / 1000) - t0));
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (r[i].status !=
		    (i % 2 ? HEALTH_NOT_RUNNING : HEALTH_HEALTHY)) {
			printf("# target %zu: %s\n", i, r[i].detail);
			return 4;
		}
	}
	return 0;
}

static void test_waves_when_descriptors_run_out(void **state UNUSED)
{
	wave_ok_port = start_server(SERVE_200);
	wave_closed_port = closed_port();
	/* few enough that only a handful of targets run at a time */
	in_child_with_fd_limit(24, 24, waves_decide_everything);
}

/* Hanging servers hold the window: the rest is unknown at the deadline. */
static int waves_stop_at_the_deadline(void)
{
	struct health_target t[40];
	struct health_result r[ARRAY_SIZE(t)];
	struct error err = ERROR_INIT;
	size_t i, unknown = 0, unhealthy = 0;
	int64_t t0 = (monotonic_us() / 1000);
	long ms;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		t[i].port = wave_hang_port;
		t[i].path = "/";
	}
	if (health_check(r, t, ARRAY_SIZE(t), 300, &err))
		return 3;
	ms = (long)((monotonic_us() / 1000) - t0);
	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (r[i].status == HEALTH_UNKNOWN &&
		    !strcmp(r[i].detail,
			    "not checked: no file descriptor was free before the deadline"))
			unknown++;
		else if (r[i].status == HEALTH_UNHEALTHY)
			unhealthy++;
		else
			return 4;
	}
	printf("# 40 hanging through a few fds: %zu timed out, %zu not checked, %ld ms\n",
	       unhealthy, unknown, ms);
	return unknown && unhealthy && ms < 300 + 300 ? 0 : 5;
}

static void test_waves_share_the_deadline(void **state UNUSED)
{
	wave_hang_port = start_server(SERVE_HANG);
	in_child_with_fd_limit(24, 24, waves_stop_at_the_deadline);
}

/* The soft limit is raised for the check and put back after it. */
static int limit_is_raised_and_restored(void)
{
	struct health_target t[100];
	struct health_result r[ARRAY_SIZE(t)];
	struct error err = ERROR_INIT;
	struct rlimit rl;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		t[i].port = wave_hang_port;
		t[i].path = "/";
	}
	if (health_check(r, t, ARRAY_SIZE(t), 300, &err))
		return 3;
	/* with 24 descriptors, some would not have been checked */
	for (i = 0; i < ARRAY_SIZE(t); i++)
		if (r[i].status != HEALTH_UNHEALTHY)
			return 4;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur != 24)
		return 5;
	return 0;
}

static void test_fd_limit_is_raised_and_restored(void **state UNUSED)
{
	wave_hang_port = start_server(SERVE_HANG);
	in_child_with_fd_limit(24, 1024, limit_is_raised_and_restored);
}

static void test_nothing_to_check(void **state UNUSED)
{
	struct error err = ERROR_INIT;

	assert_int_equal(0, health_check(NULL, NULL, 0, 1000, &err));
	assert_int_equal(0, err.code);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_names_round_trip),
		cmocka_unit_test(test_path_validation),
		T(test_200_is_healthy),
		T(test_request_is_exact_and_stays_local),
		T(test_302_is_healthy),
		T(test_500_is_unhealthy),
		T(test_early_hints_are_skipped),
		T(test_hanging_server_times_out),
		T(test_byte_a_second_times_out),
		T(test_garbage_is_unhealthy_and_escaped),
		T(test_long_line_is_unhealthy),
		T(test_close_at_once_is_unhealthy),
		T(test_cut_status_line_is_unhealthy),
		T(test_nothing_listening_is_not_running),
		T(test_tcp_is_healthy_on_accept),
		T(test_ipv6_only_listener),
		T(test_invalid_targets_are_unknown),
		T(test_every_kind_at_once),
		T(test_100_hanging_share_one_deadline),
		T(test_1000_nothing_listening_is_fast),
		T(test_1000_with_500_hanging),
		T(test_waves_when_descriptors_run_out),
		T(test_waves_share_the_deadline),
		T(test_fd_limit_is_raised_and_restored),
		cmocka_unit_test(test_nothing_to_check),
	};

	/*
	 * SIGPIPE keeps its default action: a check writing to a connection
	 * the server closed would kill the test.
	 */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
