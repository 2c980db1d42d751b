#include "common.h"
#include "actlog.h"
#include "error.h"
#include "sbuf.h"
#include "text.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#define REGISTRY_NAME "ports.json"
#define LOG_NAME "ports.log"

static const char *const actions[] = {
	"allocate", "release", "auto-release", "prune", "repair", "health",
	"move", "range", "restore",
};

void actlog_path(struct sbuf *out, const char *registry_path)
{
	const char *slash = strrchr(registry_path, '/');
	const char *base = slash ? slash + 1 : registry_path;

	if (!strcmp(base, REGISTRY_NAME)) {
		sbuf_add(out, registry_path, base - registry_path);
		sbuf_addstr(out, LOG_NAME);
	} else {
		sbuf_addf(out, "%s.log", registry_path);
	}
}

bool actlog_is_action(const char *action)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(actions); i++)
		if (!strcmp(action, actions[i]))
			return true;
	return false;
}

/* 'n' decimal digits at 's' into '*out'. */
static bool digits(const char *s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * "YYYY-MM-DDTHH:MM:SSZ", or with 'date_ok' also "YYYY-MM-DD", in UTC.
 * The fields must name a real time: timegm() would move 02-30 to March,
 * so the result is converted back and compared.
 */
static bool parse_utc(const char *s, bool date_ok, time_t *out)
{
	int year, mon, day, hour = 0, min = 0, sec = 0;
	size_t len = strlen(s);
	struct tm tm = { 0 };
	time_t t;

	if (len < 10 || !digits(s, 4, &year) || s[4] != '-' ||
	    !digits(s + 5, 2, &mon) || s[7] != '-' || !digits(s + 8, 2, &day))
		return false;
	if (len != 10 || !date_ok) {
		if (len != 20 || s[10] != 'T' || !digits(s + 11, 2, &hour) ||
		    s[13] != ':' || !digits(s + 14, 2, &min) || s[16] != ':' ||
		    !digits(s + 17, 2, &sec) || s[19] != 'Z')
			return false;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1 || !gmtime_r(&t, &tm))
		return false;
	if (tm.tm_year != year - 1900 || tm.tm_mon != mon - 1 ||
	    tm.tm_mday != day || tm.tm_hour != hour || tm.tm_min != min ||
	    tm.tm_sec != sec)
		return false;
	*out = t;
	return true;
}

int actlog_parse_since(time_t *out, const char *spec, time_t now,
		       struct error *err)
{
	/* A bound that keeps n * seconds far from overflow. */
	const unsigned long long cap = 1000000000000ULL;
	unsigned long long n = 0, unit;
	char shown[TEXT_SHOW_SIZE];
	const char *p;
	time_t t;
	int ret;

	if (parse_utc(spec, true, &t)) {
		*out = t;
		return 0;
	}
	for (p = spec; *p >= '0' && *p <= '9'; p++)
		if (n < cap)
			n = n * 10 + (unsigned long long)(*p - '0');
	switch (p == spec || !*p || p[1] ? '\0' : *p) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 60 * 60;
		break;
	case 'd':
		unit = 24 * 60 * 60;
		break;
	case 'w':
		unit = 7 * 24 * 60 * 60;
		break;
	default:
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid time '%s' for --since",
				text_show(shown, sizeof(shown), spec));
		error_hint(
			err,
			"give a duration (45s, 30m, 2h, 3d, 1w) or a UTC time (2026-11-21T10:00:00Z)");
		return ret;
	}
	if (now <= 0 || n * unit >= (unsigned long long)now)
		*out = 0;
	else
		*out = now - (time_t)(n * unit);
	return 0;
}

/* Writing */

/* 's' as valid UTF-8: each byte that is not part of it becomes U+FFFD. */
static void add_utf8(struct sbuf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), i = 0;

	while (i < len) {
		size_t n = text_utf8_len(p + i, len - i);

		if (n) {
			sbuf_add(out, p + i, n);
			i += n;
		} else {
			sbuf_addstr(out, "\xef\xbf\xbd");
			i++;
		}
	}
}

/* jansson returns NULL or -1 only when out of memory, as x*alloc aborts. */
static void json_oom(void)
{
	die_oom("building a log line");
}

static void set_string(json_t *obj, const char *key, const char *value)
{
	struct sbuf clean = SBUF_INIT;
	json_t *s;

	if (!value)
		return;
	add_utf8(&clean, value);
	s = json_stringn(clean.buf, clean.len);
	if (!s || json_object_set_new(obj, key, s) < 0)
		json_oom();
	sbuf_release(&clean);
}

static void set_int(json_t *obj, const char *key, long value)
{
	json_t *i;

	if (value == ACTLOG_NONE)
		return;
	i = json_integer(value);
	if (!i || json_object_set_new(obj, key, i) < 0)
		json_oom();
}

/*
 * Append 'line', from json_dumps(), and a newline. jansson escapes only
 * the controls below U+0020; DEL and the C1 controls (U+0080-U+009F,
 * which some terminals obey as escapes) are escaped here too, so that
 * 'cat ports.log' shows text and nothing else. Valid UTF-8 holds C2 80
 * to C2 9F only as those characters, and only strings hold them.
 */
static void add_line(struct sbuf *out, const char *line)
{
	const unsigned char *p = (const unsigned char *)line;

	for (; *p; p++) {
		if (*p == 0x7f) {
			sbuf_addstr(out, "\\u007F");
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			sbuf_addf(out, "\\u%04X", p[1]);
			p++;
		} else {
			sbuf_addch(out, *p);
		}
	}
	sbuf_addch(out, '\n');
}

/*
 * Append one line per entry to 'out', keys in the documented order:
 * time, action, worktree, service, port, pid, by, detail.
 */
static int render(struct sbuf *out, const struct actlog_entry *entries,
		  size_t nr, const char *log_path, struct error *err)
{
	char now[UTC_TIME_SIZE], shown[TEXT_SHOW_SIZE];
	char *me = NULL;
	size_t i;
	int ret = 0;

	if (!iso8601_utc(now, time(NULL)))
		snprintf(now, sizeof(now), "1970-01-01T00:00:00Z");
	for (i = 0; i < nr; i++) {
		const struct actlog_entry *e = &entries[i];
		json_t *obj;
		char *line;
		time_t t;

		assert(e->action && *e->action);
		assert(e->port == ACTLOG_NONE ||
		       (e->port > 0 && e->port <= 65535));
		assert(e->pid == ACTLOG_NONE || e->pid > 0);
		if (e->time && !parse_utc(e->time, false, &t)) {
			ret = error_set(
				err, ERR_FAIL, log_path, 0, NULL,
				"malformed time '%s' in a log entry; nothing logged",
				text_show(shown, sizeof(shown), e->time));
			goto out;
		}
		if (!e->by && !me)
			me = user_at_host();
		obj = json_object();
		if (!obj)
			json_oom();
		set_string(obj, "time", e->time ? e->time : now);
		set_string(obj, "action", e->action);
		set_string(obj, "worktree", e->worktree);
		set_string(obj, "service", e->service);
		set_int(obj, "port", e->port);
		set_int(obj, "pid", e->pid);
		set_string(obj, "by", e->by ? e->by : me);
		set_string(obj, "detail", e->detail);
		line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(obj);
		if (!line)
			json_oom();
		add_line(out, line);
		free(line);
	}
out:
	free(me);
	return ret;
}

/* The bound, or the test override from the environment. */
static unsigned long long max_bytes(void)
{
	const char *v = getenv(ACTLOG_MAX_ENV);
	unsigned long long n;
	char *end;

	if (!v || *v < '0' || *v > '9')
		return ACTLOG_MAX_BYTES;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || !n)
		return ACTLOG_MAX_BYTES;
	return n;
}

/*
 * Open the log for appending (and reading its last byte). A symbolic link is
 * not followed: the directory may be shared or checked out, and appending must
 * never write to another file. O_NONBLOCK keeps a FIFO from blocking the open;
 * the type check then refuses it.
 */
static int open_append(int *fd_out, struct stat *st, const char *path,
		       struct error *err)
{
	int fd = open(path,
		      O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
			      O_CLOEXEC,
		      0666);

	if (fd < 0 && errno == ELOOP)
		return error_set(
			err, ERR_FAIL, path, 0, NULL,
			"the activity log is a symbolic link; not followed");
	if (fd < 0)
		return error_errno(err, path, "cannot open the activity log");
	if (fstat(fd, st) < 0) {
		error_errno(err, path, "cannot stat the activity log");
		close(fd);
		return ERR_FAIL;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return error_set(err, ERR_FAIL, path, 0, NULL,
				 "the activity log is not a regular file");
	}
	*fd_out = fd;
	return 0;
}

static bool ends_in_newline(int fd, off_t size)
{
	char ch;

	return pread(fd, &ch, 1, size - 1) != 1 || ch == '\n';
}

int actlog_append(const char *registry_path, const struct actlog_entry *entries,
		  size_t nr, struct error *err)
{
	struct sbuf path = SBUF_INIT, prev = SBUF_INIT, batch = SBUF_INIT;
	unsigned long long max = max_bytes(), size;
	struct stat st;
	size_t start = 1;
	int fd = -1, ret;

	if (!nr)
		return 0;
	actlog_path(&path, registry_path);
	/* A leading newline, written only to end a line cut short. */
	sbuf_addch(&batch, '\n');
	ret = render(&batch, entries, nr, path.buf, err);
	if (ret)
		goto out;
	ret = open_append(&fd, &st, path.buf, err);
	if (ret)
		goto out;
	size = (unsigned long long)st.st_size;
	if (size && (size >= max || batch.len - 1 > max - size)) {
		sbuf_addf(&prev, "%s.1", path.buf);
		if (rename(path.buf, prev.buf) < 0) {
			ret = error_errno(err, path.buf,
					  "cannot rotate the activity log");
			goto out;
		}
		close(fd);
		fd = -1;
		ret = open_append(&fd, &st, path.buf, err);
		if (ret)
			goto out;
	}
	if (st.st_size && !ends_in_newline(fd, st.st_size))
		start = 0;
	if (write_in_full(fd, batch.buf + start, batch.len - start) < 0) {
		ret = error_errno(err, path.buf,
				  "cannot write to the activity log");
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = error_errno(err, path.buf,
				  "cannot write to the activity log");
		goto out;
	}
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	sbuf_release(&path);
	sbuf_release(&prev);
	sbuf_release(&batch);
	return ret;
}

/* Reading */

struct reader {
	const struct actlog_filter *f;
	actlog_warn_fn warn;
	void *payload;
	struct actlog_record *recs;
	size_t nr, alloc;
	const char *path; /* of the file being read */
	int line;
	unsigned warnings; /* of this file */
};

/* A line's fields, borrowed from its JSON until it passes the filter. */
struct fields {
	const char *time, *action, *worktree, *service, *by, *detail;
	long port, pid;
	time_t when;
};

__attribute__((format(printf, 4, 5))) static void
skip(struct reader *r, int column, const char *field, const char *fmt, ...)
{
	struct error w = ERROR_INIT;
	char msg[ERROR_MSG_MAX];
	va_list ap;

	if (++r->warnings > ACTLOG_MAX_WARNINGS || !r->warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_set(&w, ERR_CORRUPT, r->path, r->line, field, "%s; skipped", msg);
	error_set_column(&w, column);
	r->warn(&w, r->payload);
}

static const char *type_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a floating-point number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "an unknown value";
}

/* An optional string: absent and null leave '*out' NULL. */
static bool get_string(struct reader *r, const json_t *obj, const char *key,
		       const char **out)
{
	const json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_string(v)) {
		skip(r, 0, key, "expected a string, not %s", type_name(v));
		return false;
	}
	*out = json_string_value(v);
	return true;
}

/* An optional integer from 'min' to 'max'; absent and null: ACTLOG_NONE. */
static bool get_int(struct reader *r, const json_t *obj, const char *key,
		    long min, long max, long *out)
{
	const json_t *v = json_object_get(obj, key);
	json_int_t n;

	*out = ACTLOG_NONE;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v)) {
		skip(r, 0, key, "expected an integer, not %s", type_name(v));
		return false;
	}
	n = json_integer_value(v);
	if (n < min || n > max) {
		skip(r, 0, key, "%lld is not from %ld to %ld", (long long)n,
		     min, max);
		return false;
	}
	*out = (long)n;
	return true;
}

static bool get_fields(struct reader *r, const json_t *obj, struct fields *fl)
{
	char shown[TEXT_SHOW_SIZE];

	if (!get_string(r, obj, "time", &fl->time) ||
	    !get_string(r, obj, "action", &fl->action) ||
	    !get_string(r, obj, "worktree", &fl->worktree) ||
	    !get_string(r, obj, "service", &fl->service) ||
	    !get_int(r, obj, "port", 1, 65535, &fl->port) ||
	    !get_int(r, obj, "pid", 1, INT_MAX, &fl->pid) ||
	    !get_string(r, obj, "by", &fl->by) ||
	    !get_string(r, obj, "detail", &fl->detail))
		return false;
	if (!fl->time) {
		skip(r, 0, "time", "missing");
		return false;
	}
	if (!parse_utc(fl->time, false, &fl->when)) {
		skip(r, 0, "time",
		     "malformed time '%s', expected YYYY-MM-DDTHH:MM:SSZ",
		     text_show(shown, sizeof(shown), fl->time));
		return false;
	}
	if (!fl->action || !*fl->action) {
		skip(r, 0, "action", "missing");
		return false;
	}
	return true;
}

static bool same(const char *want, const char *have)
{
	return !want || (have && !strcmp(want, have));
}

static bool wanted(const struct actlog_filter *f, const struct fields *fl)
{
	return !f ||
	       ((!f->since || fl->when >= f->since) &&
		same(f->worktree, fl->worktree) &&
		same(f->service, fl->service) && same(f->action, fl->action));
}

static void add_record(struct reader *r, const struct fields *fl)
{
	struct actlog_record *rec;

	ALLOC_GROW(r->recs, r->nr + 1, r->alloc);
	rec = &r->recs[r->nr++];
	rec->time = xstrdup(fl->time);
	rec->when = fl->when;
	rec->action = xstrdup(fl->action);
	rec->worktree = xstrdup_or_null(fl->worktree);
	rec->service = xstrdup_or_null(fl->service);
	rec->port = fl->port;
	rec->by = xstrdup_or_null(fl->by);
	rec->detail = xstrdup_or_null(fl->detail);
	rec->pid = fl->pid;
}

static bool blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isspace((unsigned char)s[i]))
			return false;
	return true;
}

static void read_line(struct reader *r, const char *text, size_t len)
{
	char shown[TEXT_SHOW_SIZE];
	struct fields fl;
	json_error_t jerr;
	json_t *obj;

	if (blank(text, len))
		return;
	obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!obj) {
		skip(r, jerr.column > 0 ? jerr.column : 0, NULL, "%s",
		     text_show(shown, sizeof(shown), jerr.text));
		return;
	}
	if (!json_is_object(obj))
		skip(r, 0, NULL, "expected an object, not %s", type_name(obj));
	else if (get_fields(r, obj, &fl) && wanted(r->f, &fl))
		add_record(r, &fl);
	json_decref(obj);
}

/* Open 'path' for reading; a missing file leaves '*fd' at -1. */
static int open_read(int *fd, struct stat *st, const char *path,
		     struct error *err)
{
	*fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (*fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_errno(err, path, "cannot open the activity log");
	}
	if (fstat(*fd, st) < 0) {
		error_errno(err, path, "cannot stat the activity log");
	} else if (!S_ISREG(st->st_mode)) {
		error_set(err, ERR_FAIL, path, 0, NULL,
			  "the activity log is not a regular file");
	} else {
		return 0;
	}
	close(*fd);
	*fd = -1;
	return ERR_FAIL;
}

/* Read every line of 'fd', which this closes. */
static int read_fd(struct reader *r, int fd, const char *path,
		   struct error *err)
{
	FILE *f = fdopen(fd, "r");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (!f) {
		ret = error_errno(err, path, "cannot read the activity log");
		close(fd);
		return ret;
	}
	r->path = path;
	r->line = 0;
	r->warnings = 0;
	for (;;) {
		ssize_t n = getline(&line, &cap, f);

		if (n < 0)
			break;
		r->line++;
		if (n && line[n - 1] == '\n')
			n--;
		read_line(r, line, (size_t)n);
	}
	if (ferror(f))
		ret = error_errno(err, path, "cannot read the activity log");
	else if (r->warnings > ACTLOG_MAX_WARNINGS && r->warn) {
		struct error w = ERROR_INIT;

		error_set(&w, ERR_CORRUPT, path, 0, NULL,
			  "%u more malformed lines skipped",
			  r->warnings - ACTLOG_MAX_WARNINGS);
		r->warn(&w, r->payload);
	}
	free(line);
	fclose(f);
	return ret;
}

void actlog_records_free(struct actlog_record *records, size_t nr)
{
	size_t i;

	if (!records)
		return;
	for (i = 0; i < nr; i++) {
		free(records[i].time);
		free(records[i].action);
		free(records[i].worktree);
		free(records[i].service);
		free(records[i].by);
		free(records[i].detail);
	}
	free(records);
}

int actlog_read(struct actlog_record **out, size_t *nr,
		const char *registry_path, const struct actlog_filter *f,
		actlog_warn_fn warn, void *payload, struct error *err)
{
	struct reader r = { f, warn, payload, NULL, 0, 0, NULL, 0, 0 };
	struct sbuf cur = SBUF_INIT, prev = SBUF_INIT;
	struct stat cur_st, prev_st;
	int cur_fd = -1, prev_fd = -1, ret;
	size_t i;

	*out = NULL;
	*nr = 0;
	actlog_path(&cur, registry_path);
	sbuf_addf(&prev, "%s.1", cur.buf);
	/*
	 * The current file first: if a rotation comes between the two
	 * opens, both name the file just rotated, which is read once, and
	 * the new empty log is not read at all.
	 */
	ret = open_read(&cur_fd, &cur_st, cur.buf, err);
	if (ret)
		goto out;
	ret = open_read(&prev_fd, &prev_st, prev.buf, err);
	if (ret)
		goto out;
	if (cur_fd >= 0 && prev_fd >= 0 && cur_st.st_dev == prev_st.st_dev &&
	    cur_st.st_ino == prev_st.st_ino) {
		close(prev_fd);
		prev_fd = -1;
	}
	if (prev_fd >= 0) {
		ret = read_fd(&r, prev_fd, prev.buf, err);
		prev_fd = -1;
		if (ret)
			goto out;
	}
	if (cur_fd >= 0) {
		ret = read_fd(&r, cur_fd, cur.buf, err);
		cur_fd = -1;
		if (ret)
			goto out;
	}
	for (i = 0; i < r.nr / 2; i++) {
		struct actlog_record tmp = r.recs[i];

		r.recs[i] = r.recs[r.nr - 1 - i];
		r.recs[r.nr - 1 - i] = tmp;
	}
	*out = r.recs;
	*nr = r.nr;
	r.recs = NULL;
	r.nr = 0;
out:
	if (cur_fd >= 0)
		close(cur_fd);
	if (prev_fd >= 0)
		close(prev_fd);
	actlog_records_free(r.recs, r.nr);
	sbuf_release(&cur);
	sbuf_release(&prev);
	return ret;
}
