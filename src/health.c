#include "common.h"
#include "health.h"
#include "error.h"
#include "sbuf.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * Bytes of a response read at most before its final status line: room
 * for a few interim (1xx) answers with their headers, and a bound on what
 * a server streaming interim answers can make us read.
 */
#define RESPONSE_MAX 16384

/* Descriptors kept free for the rest of the process when raising the limit. */
#define FD_SLACK 64

#ifdef MSG_NOSIGNAL
#define SEND_FLAGS MSG_NOSIGNAL
#else
#define SEND_FLAGS 0 /* SO_NOSIGPIPE is set on the socket instead */
#endif

enum state {
	ST_WAITING,    /* not started: no descriptor was free */
	ST_CONNECTING, /* one or both connects are pending */
	ST_SENDING,    /* connected, writing the request */
	ST_READING,    /* reading up to the final status line */
	ST_DONE
};

/* Index of the pollfd slot of the connected socket; 0 and 1 are attempts. */
#define SLOT_CONN 2

struct attempt {
	int fd;	 /* -1 when not open */
	int err; /* errno of a failed attempt, 0 otherwise */
};

struct check {
	const struct health_target *target;
	struct health_result *result;
	enum state state;
	int64_t start_us;
	struct attempt att[2]; /* indexed like 'families' */
	int fd;		       /* the connected socket, -1 before */
	int send_err;	       /* errno of a failed send, 0 if none */
	struct sbuf req;
	size_t req_off; /* bytes of 'req' sent */
	char *line;	/* HEALTH_LINE_MAX bytes, while reading */
	size_t line_len;
	size_t received; /* bytes of the response read */
	bool in_headers; /* skipping the headers of an interim answer */
	bool blank_line; /* the header line being read is empty so far */
};

static const int families[2] = { AF_INET, AF_INET6 };

static const char *const status_names[] = {
	[HEALTH_UNKNOWN] = "unknown",
	[HEALTH_HEALTHY] = "healthy",
	[HEALTH_UNHEALTHY] = "unhealthy",
	[HEALTH_NOT_RUNNING] = "not_running",
	[HEALTH_FOREIGN] = "foreign",
};

const char *health_status_name(enum health_status status)
{
	if ((unsigned)status >= ARRAY_SIZE(status_names))
		return status_names[HEALTH_UNKNOWN];
	return status_names[status];
}

int health_status_parse(enum health_status *out, const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(status_names); i++) {
		if (!strcmp(name, status_names[i])) {
			*out = (enum health_status)i;
			return 0;
		}
	}
	return -1;
}

static bool is_tcp(const char *path)
{
	return !path || !strcmp(path, "tcp");
}

/* Why 'path' cannot be sent, or NULL if it can. */
static const char *path_problem(const char *path)
{
	size_t i;

	if (is_tcp(path))
		return NULL;
	if (path[0] != '/')
		return "expected 'tcp' or a path starting with '/'";
	for (i = 0; path[i]; i++) {
		if (i >= HEALTH_PATH_MAX)
			return "longer than 1024 bytes";
		if ((unsigned char)path[i] <= ' ' ||
		    (unsigned char)path[i] >= 0x7f)
			return "a space, control or non-ASCII byte";
	}
	return NULL;
}

bool health_path_is_valid(const char *path)
{
	return !path_problem(path);
}

/*
 * Copy 'n' bytes of 'src' into 'dst' as printable ASCII: bytes outside
 * ' '..'~', and the quote and backslash, become \xNN. What does not fit in
 * 'size' is cut and marked with "...". Bytes from a server or a config go
 * through here before they reach a detail, so a terminal never sees them.
 */
static void escape(char *dst, size_t size, const char *src, size_t n)
{
	size_t i, len = 0;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)src[i];
		bool plain = ch >= ' ' && ch <= '~' && ch != '\'' && ch != '\\';
		size_t need = plain ? 1 : 4;

		/* keep room for "..." and the NUL */
		if (len + need + 4 > size) {
			memcpy(dst + len, "...", 3);
			len += 3;
			break;
		}
		if (plain)
			dst[len++] = (char)ch;
		else
			len += (size_t)snprintf(dst + len, size - len,
						"\\x%02x", ch);
	}
	dst[len] = '\0';
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void finish(struct check *c, enum health_status status, const char *fmt,
		   ...) __attribute__((format(printf, 3, 4)));

/* Decide the check: set its status and detail, and free what it holds. */
static void finish(struct check *c, enum health_status status, const char *fmt,
		   ...)
{
	va_list ap;

	c->result->status = status;
	va_start(ap, fmt);
	vsnprintf(c->result->detail, sizeof(c->result->detail), fmt, ap);
	va_end(ap);
	close_fd(&c->att[0].fd);
	close_fd(&c->att[1].fd);
	close_fd(&c->fd);
	sbuf_release(&c->req);
	free(c->line);
	c->line = NULL;
	c->state = ST_DONE;
}

static bool transient(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR;
}

/* The loopback of this family has nothing to say about the port. */
static bool family_unavailable(int err)
{
	return err == EAFNOSUPPORT || err == EPROTONOSUPPORT ||
	       err == EADDRNOTAVAIL || err == ENETUNREACH;
}

static bool out_of_fds(int err)
{
	return err == EMFILE || err == ENFILE;
}

/* A non-blocking, close-on-exec stream socket; -1 with errno on failure. */
static int open_socket(int family)
{
	int fd, flags;

#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
	/* EINVAL: a kernel without the flags; set them by hand below */
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 || errno != EINVAL)
		return fd;
#endif
	fd = socket(family, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void no_sigpipe(int fd UNUSED)
{
#ifdef SO_NOSIGPIPE
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
}

/* 0, or the errno of a connect that failed at once; EINPROGRESS pends. */
static int connect_loopback(int fd, int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if (!connect(fd, (struct sockaddr *)&ss, len))
		return 0;
	/* interrupted, the connect goes on in the background: wait for it */
	return errno == EINTR ? EINPROGRESS : errno;
}

/*
 * A connect from an ephemeral port to the same port on the same address
 * "succeeds" by TCP simultaneous open when nothing listens there. Seen
 * from here that is a refused connection.
 */
static bool connected_to_self(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t alen = sizeof(a), blen = sizeof(b);

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0 ||
	    getpeername(fd, (struct sockaddr *)&b, &blen) < 0)
		return false;
	return alen == blen && !memcmp(&a, &b, alen);
}

/* Both attempts failed: say why. */
static void connect_failed(struct check *c)
{
	int e0 = c->att[0].err, e1 = c->att[1].err;
	int shown;

	if (e0 == ECONNREFUSED || e1 == ECONNREFUSED) {
		finish(c, HEALTH_NOT_RUNNING, "connection refused");
		return;
	}
	if (family_unavailable(e0) && family_unavailable(e1)) {
		finish(c, HEALTH_UNKNOWN, "no loopback address to connect to");
		return;
	}
	shown = family_unavailable(e0) ? e1 : e0;
	finish(c, HEALTH_UNKNOWN, "cannot connect: %s", strerror(shown));
}

static void fail_attempt(struct check *c, int i, int err)
{
	close_fd(&c->att[i].fd);
	c->att[i].err = err;
	if (c->att[0].fd < 0 && c->att[1].fd < 0)
		connect_failed(c);
}

static void send_request(struct check *c, int64_t now);

static void connected(struct check *c, int i, int64_t now)
{
	struct health_result *r = c->result;
	uint16_t port = c->target->port;

	close_fd(&c->att[!i].fd);
	c->fd = c->att[i].fd;
	c->att[i].fd = -1;
	r->listening = true;
	r->family = families[i];
	r->connect_us = (long)(now - c->start_us);

	if (is_tcp(c->target->path)) {
		finish(c, HEALTH_HEALTHY, "accepting connections");
		return;
	}
	/*
	 * The Host is the address connected to: the request goes nowhere
	 * else, whatever the path looks like ("//host/x" is just a path).
	 */
	sbuf_addf(&c->req,
		  "GET %s HTTP/1.1\r\n"
		  "Host: %s:%u\r\n"
		  "User-Agent: git-worktree-ports\r\n"
		  "Connection: close\r\n"
		  "Accept: */*\r\n"
		  "\r\n",
		  c->target->path,
		  families[i] == AF_INET ? "127.0.0.1" : "[::1]",
		  (unsigned)port);
	c->line = xmalloc(HEALTH_LINE_MAX);
	c->state = ST_SENDING;
	send_request(c, now);
}

/* Start both attempts; an errno of out_of_fds() if the check must wait. */
static int start(struct check *c)
{
	int i, fd, ret;

	for (i = 0; i < 2; i++) {
		c->att[i].err = 0;
		fd = open_socket(families[i]);
		if (fd < 0 && out_of_fds(errno)) {
			ret = errno;
			close_fd(&c->att[0].fd);
			close_fd(&c->att[1].fd);
			return ret;
		}
		if (fd < 0)
			c->att[i].err = errno;
		c->att[i].fd = fd;
	}

	c->start_us = monotonic_us();
	c->state = ST_CONNECTING;
	for (i = 0; i < 2 && c->state == ST_CONNECTING; i++) {
		if (c->att[i].fd < 0)
			continue;
		no_sigpipe(c->att[i].fd);
		ret = connect_loopback(c->att[i].fd, families[i],
				       c->target->port);
		if (!ret && connected_to_self(c->att[i].fd))
			ret = ECONNREFUSED;
		if (!ret)
			connected(c, i, monotonic_us());
		else if (ret != EINPROGRESS)
			fail_attempt(c, i, ret);
	}
	if (c->state == ST_CONNECTING && c->att[0].fd < 0 && c->att[1].fd < 0)
		connect_failed(c); /* no socket could be made at all */
	return 0;
}

/* poll() says attempt 'i' is done, one way or the other. */
static void attempt_done(struct check *c, int i, int64_t now)
{
	int soerr = 0;
	socklen_t len = sizeof(soerr);

	if (getsockopt(c->att[i].fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	if (!soerr && connected_to_self(c->att[i].fd))
		soerr = ECONNREFUSED;
	if (soerr)
		fail_attempt(c, i, soerr);
	else
		connected(c, i, now);
}

static void connection_lost(struct check *c, int err, const char *doing)
{
	if (err == ECONNRESET || err == EPIPE)
		finish(c, HEALTH_UNHEALTHY, "connection reset %s", doing);
	else
		finish(c, HEALTH_UNHEALTHY, "connection lost %s: %s", doing,
		       strerror(err));
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/*
 * The status line in c->line (its LF stripped) is complete. Returns true
 * when it decides the check, false after an interim answer.
 */
static bool status_line(struct check *c, int64_t now)
{
	const char *l = c->line;
	size_t len = c->line_len;
	char shown[48];
	int code;

	if (len && l[len - 1] == '\r')
		len--;
	/* HTTP/D.D SP DDD, then SP and a reason or nothing (RFC 9112) */
	if (len < 12 || memcmp(l, "HTTP/", 5) || !is_digit(l[5]) ||
	    l[6] != '.' || !is_digit(l[7]) || l[8] != ' ' || !is_digit(l[9]) ||
	    !is_digit(l[10]) || !is_digit(l[11]) ||
	    (len > 12 && l[12] != ' ')) {
		escape(shown, sizeof(shown), l, len);
		finish(c, HEALTH_UNHEALTHY, "malformed status line '%s'",
		       shown);
		return true;
	}
	code = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
	if (code >= 100 && code < 200 && code != 101) {
		/* 103 Early Hints and the like: the real answer follows */
		c->in_headers = true;
		c->blank_line = true;
		c->line_len = 0;
		return false;
	}
	c->result->http_status = code;
	c->result->response_us = (long)(now - c->start_us);
	finish(c, code >= 200 && code < 400 ? HEALTH_HEALTHY : HEALTH_UNHEALTHY,
	       "HTTP %d", code);
	return true;
}

/* Take 'n' bytes of the response; true once the check is decided. */
static bool take(struct check *c, const char *buf, size_t n, int64_t now)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = buf[i];

		if (++c->received > RESPONSE_MAX) {
			finish(c, HEALTH_UNHEALTHY,
			       "no final status line in the first %d bytes",
			       RESPONSE_MAX);
			return true;
		}
		if (c->in_headers) {
			/* only the empty line ending the headers matters */
			if (ch == '\n') {
				if (c->blank_line)
					c->in_headers = false;
				c->blank_line = true;
			} else if (ch != '\r') {
				c->blank_line = false;
			}
			continue;
		}
		if (ch == '\n') {
			if (status_line(c, now))
				return true;
			continue;
		}
		if (c->line_len == HEALTH_LINE_MAX) {
			finish(c, HEALTH_UNHEALTHY,
			       "status line longer than %d bytes",
			       HEALTH_LINE_MAX);
			return true;
		}
		c->line[c->line_len++] = ch;
	}
	return false;
}

static void read_response(struct check *c, int64_t now)
{
	char buf[HEALTH_LINE_MAX];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && transient(errno)) {
			/* nothing to read, and the request could not go out */
			if (c->send_err)
				connection_lost(c, c->send_err,
						"sending the request");
			return;
		}
		if (n < 0) {
			connection_lost(c, errno,
					c->received ? "reading the response"
						    : "before the response");
			return;
		}
		if (!n) {
			if (!c->received)
				finish(c, HEALTH_UNHEALTHY,
				       "connection closed without a response");
			else
				finish(c, HEALTH_UNHEALTHY,
				       "connection closed before the end of the status line");
			return;
		}
		if (take(c, buf, (size_t)n, now))
			return;
	}
}

static void send_request(struct check *c, int64_t now)
{
	ssize_t n;

	while (c->req_off < c->req.len) {
		n = send(c->fd, c->req.buf + c->req_off,
			 c->req.len - c->req_off, SEND_FLAGS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && transient(errno))
			return; /* wait for POLLOUT */
		if (n < 0) {
			/*
			 * A server may answer and close before reading the
			 * request: what it said may still be readable.
			 */
			c->send_err = errno;
			break;
		}
		c->req_off += (size_t)n;
	}
	c->state = ST_READING;
	if (c->send_err)
		read_response(c, now);
}

static void on_event(struct check *c, int slot, short revents, int64_t now)
{
	if (!revents)
		return;
	switch (c->state) {
	case ST_CONNECTING:
		/* the other attempt may have been closed this round */
		if (slot < SLOT_CONN && c->att[slot].fd >= 0)
			attempt_done(c, slot, now);
		break;
	case ST_SENDING:
		if (slot == SLOT_CONN)
			send_request(c, now);
		break;
	case ST_READING:
		if (slot == SLOT_CONN)
			read_response(c, now);
		break;
	default:
		break;
	}
}

/* At the deadline: decide what is left by how far it got. */
static void expire(struct check *c, int timeout_ms)
{
	switch (c->state) {
	case ST_WAITING:
		finish(c, HEALTH_UNKNOWN,
		       "not checked: no file descriptor was free before the deadline");
		break;
	case ST_CONNECTING:
		finish(c, HEALTH_UNHEALTHY, "timed out after %d ms connecting",
		       timeout_ms);
		break;
	case ST_SENDING:
		finish(c, HEALTH_UNHEALTHY,
		       "timed out after %d ms sending the request", timeout_ms);
		break;
	case ST_READING:
		if (c->received)
			finish(c, HEALTH_UNHEALTHY,
			       "timed out after %d ms reading the response",
			       timeout_ms);
		else
			finish(c, HEALTH_UNHEALTHY,
			       "timed out after %d ms waiting for the response",
			       timeout_ms);
		break;
	case ST_DONE:
		break;
	}
}

/*
 * Make room for 'want' descriptors: raise the soft limit towards the hard
 * one. Returns true if it changed, with the old limits in '*saved'.
 */
static bool raise_fd_limit(struct rlimit *saved, rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return false;
	*saved = rl;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
		return false;
	if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	/*
	 * Some systems refuse a soft limit above a fixed maximum even when
	 * the hard limit is higher (macOS and OPEN_MAX): halve the step
	 * until one is accepted.
	 */
	while (want > saved->rlim_cur) {
		rl.rlim_cur = want;
		if (!setrlimit(RLIMIT_NOFILE, &rl))
			return true;
		want = saved->rlim_cur + (want - saved->rlim_cur) / 2;
	}
	return false;
}

static bool running(const struct check *c)
{
	return c->state != ST_WAITING && c->state != ST_DONE;
}

/* The poll set of a running check; returns the number of entries added. */
static size_t add_fds(struct pollfd *pfd, int *slot, const struct check *c)
{
	size_t n = 0;
	int i;

	if (c->state == ST_CONNECTING) {
		for (i = 0; i < 2; i++) {
			if (c->att[i].fd < 0)
				continue;
			pfd[n].fd = c->att[i].fd;
			pfd[n].events = POLLOUT;
			pfd[n].revents = 0;
			slot[n++] = i;
		}
	} else if (c->state == ST_SENDING || c->state == ST_READING) {
		pfd[n].fd = c->fd;
		pfd[n].events = c->state == ST_SENDING ? POLLOUT : POLLIN;
		pfd[n].revents = 0;
		slot[n++] = SLOT_CONN;
	}
	return n;
}

int health_check(struct health_result *results,
		 const struct health_target *targets, size_t nr, int timeout_ms,
		 struct error *err)
{
	struct check *checks = NULL;
	struct pollfd *pfd = NULL;
	int *slot = NULL;
	size_t *owner = NULL;
	struct rlimit saved;
	bool raised = false;
	int64_t deadline;
	size_t i, next = 0;
	int ret = 0;

	assert(timeout_ms >= 0);
	if (timeout_ms < 0)
		timeout_ms = 0;
	if (!nr)
		return 0;
	deadline = monotonic_us() + (int64_t)timeout_ms * 1000;

	checks = xcalloc(nr, sizeof(*checks));
	for (i = 0; i < nr; i++) {
		struct check *c = &checks[i];
		struct health_result *r = &results[i];
		const char *why = path_problem(targets[i].path);

		memset(r, 0, sizeof(*r));
		r->status = HEALTH_UNKNOWN;
		r->connect_us = -1;
		r->response_us = -1;
		c->target = &targets[i];
		c->result = r;
		c->state = ST_WAITING;
		c->att[0].fd = c->att[1].fd = c->fd = -1;
		sbuf_init(&c->req);
		if (why) {
			char shown[40];

			escape(shown, sizeof(shown), targets[i].path,
			       strlen(targets[i].path));
			finish(c, HEALTH_UNKNOWN,
			       "invalid health path '%s': %s", shown, why);
		} else if (!targets[i].port) {
			finish(c, HEALTH_UNKNOWN, "port 0 cannot be checked");
		}
	}

	raised = raise_fd_limit(&saved, (rlim_t)nr * 2 + FD_SLACK);
	pfd = xcalloc(nr * 2, sizeof(*pfd));
	slot = xcalloc(nr * 2, sizeof(*slot));
	owner = xcalloc(nr * 2, sizeof(*owner));

	for (;;) {
		size_t active = 0, n = 0;
		int64_t now, left;
		int rc, wait_ms;

		for (i = 0; i < nr; i++)
			active += running(&checks[i]);
		/*
		 * Start what the descriptors allow. When they run out, the
		 * rest waits for running checks to end: the next wave shares
		 * the deadline of the first.
		 */
		for (; next < nr; next++) {
			struct check *c = &checks[next];
			int e;

			if (c->state != ST_WAITING)
				continue;
			e = start(c);
			if (e && active)
				break;
			if (e)
				finish(c, HEALTH_UNKNOWN,
				       "cannot create a socket: %s",
				       strerror(e));
			active += running(c);
		}

		for (i = 0; i < nr; i++) {
			size_t added = add_fds(pfd + n, slot + n, &checks[i]);
			size_t k;

			for (k = 0; k < added; k++)
				owner[n + k] = i;
			n += added;
		}
		if (!n) {
			if (next >= nr)
				break; /* everything is decided */
			continue;
		}

		now = monotonic_us();
		left = deadline - now;
		if (left <= 0)
			wait_ms = 0; /* one last look at what is ready */
		else if (left / 1000 >= INT_MAX)
			wait_ms = INT_MAX;
		else
			wait_ms = (int)((left + 999) / 1000);
		rc = poll(pfd, (nfds_t)n, wait_ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			char why[HEALTH_DETAIL_MAX];

			ret = error_errno(err, NULL,
					  "cannot wait for the health checks");
			snprintf(why, sizeof(why), "not checked: poll: %s",
				 strerror(errno));
			for (i = 0; i < nr; i++)
				if (checks[i].state != ST_DONE)
					finish(&checks[i], HEALTH_UNKNOWN, "%s",
					       why);
			break;
		}
		now = monotonic_us();
		for (i = 0; i < n; i++)
			on_event(&checks[owner[i]], slot[i], pfd[i].revents,
				 now);
		if (now >= deadline)
			break;
	}

	for (i = 0; i < nr; i++)
		expire(&checks[i], timeout_ms);
	if (raised)
		setrlimit(RLIMIT_NOFILE, &saved);
	free(owner);
	free(slot);
	free(pfd);
	free(checks);
	return ret;
}
