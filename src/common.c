#include "common.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

void die_oom(const char *what)
{
	fprintf(stderr, "fatal: out of memory %s\n", what);
	abort();
}

static void die_oom_size(size_t size)
{
	char what[64];

	snprintf(what, sizeof(what), "allocating %zu bytes", size);
	die_oom(what);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p)
		die_oom_size(size);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		die_oom_size(nmemb * size);
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);

	if (!p)
		die_oom_size(size);
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die_oom_size(strlen(s) + 1);
	return p;
}

char *xstrdup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		die_oom_size(n + 1);
	return p;
}

int iso8601_parse(const char *s, time_t *out)
{
	struct tm tm;
	char z = 0;
	int n = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year,
			 &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
			 &tm.tm_sec, &z, &n) != 7 ||
	    z != 'Z' || s[n] || tm.tm_mon < 1 || tm.tm_mon > 12)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
}

char *iso8601_utc(char buf[UTC_TIME_SIZE], time_t t)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    strftime(buf, UTC_TIME_SIZE, "%Y-%m-%dT%H:%M:%SZ", &tm) !=
		    UTC_TIME_SIZE - 1) {
		buf[0] = '\0';
		return NULL;
	}
	return buf;
}

char *user_at_host(void)
{
	struct passwd *pw = getpwuid(getuid());
	char host[256] = "localhost";
	char user[32];
	size_t len;
	char *out;

	if (gethostname(host, sizeof(host) - 1) < 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(user, sizeof(user), "%lu", (unsigned long)getuid());
	len = strlen(pw && pw->pw_name ? pw->pw_name : user) + strlen(host) + 2;
	out = xmalloc(len);
	snprintf(out, len, "%s@%s", pw && pw->pw_name ? pw->pw_name : user,
		 host);
	return out;
}

int64_t monotonic_us(void)
{
	struct timespec ts;

	/* cannot fail for CLOCK_MONOTONIC with a valid pointer */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void timing_mark(const char *phase)
{
	static int enabled = -1;
	static long long start, last;
	long long now;

	if (enabled < 0) {
		const char *v = getenv("GIT_WORKTREE_PORTS_TIMING");

		enabled = v && *v && strcmp(v, "0");
		start = last = monotonic_us();
	}
	if (!enabled)
		return;
	now = monotonic_us();
	if (!strcmp(phase, "total"))
		fprintf(stderr, "timing: total %lld\n", now - start);
	else
		fprintf(stderr, "timing: %s %lld\n", phase, now - last);
	last = now;
}

int write_in_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!n)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
