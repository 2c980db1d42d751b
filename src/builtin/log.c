#include "common.h"
#include "actlog.h"
#include "builtin.h"
#include "session.h"
#include "error.h"
#include "jsonw.h"
#include "parse-options.h"
#include "sbuf.h"

#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

static void warn_line(const struct error *w, void *payload UNUSED)
{
	warning_error(w, NULL);
}

/* A field for the table: "-" when missing, control characters as '?'. */
static void add_field(struct sbuf *out, const char *s)
{
	if (!s || !*s) {
		sbuf_addch(out, '-');
		return;
	}
	for (; *s; s++)
		sbuf_addch(out, ((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' :
									    *s);
}

static void print_json(const struct actlog_record *r, size_t nr)
{
	struct jsonw w = JSONW_INIT;
	size_t i;

	jsonw_object_begin(&w, NULL);
	jsonw_array_begin(&w, "entries");
	for (i = 0; i < nr; i++) {
		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "time", r[i].time);
		jsonw_string(&w, "action", r[i].action);
		jsonw_string(&w, "worktree", r[i].worktree);
		jsonw_string(&w, "service", r[i].service);
		jsonw_int_or_null(&w, "port", r[i].port, ACTLOG_NONE);
		jsonw_int_or_null(&w, "pid", r[i].pid, ACTLOG_NONE);
		jsonw_string(&w, "by", r[i].by);
		jsonw_string(&w, "detail", r[i].detail);
		jsonw_object_end(&w);
	}
	jsonw_array_end(&w);
	jsonw_object_end(&w);
	fwrite(w.out.buf, 1, w.out.len, stdout);
	jsonw_release(&w);
}

static void print_table(const struct actlog_record *r, size_t nr)
{
	struct sbuf out = SBUF_INIT;
	size_t i;

	for (i = 0; i < nr; i++) {
		sbuf_addf(&out, "%s  %-12s  ", r[i].time, r[i].action);
		add_field(&out, r[i].worktree);
		sbuf_addch(&out, ' ');
		add_field(&out, r[i].service);
		if (r[i].port != ACTLOG_NONE)
			sbuf_addf(&out, " %ld", r[i].port);
		if (r[i].detail) {
			sbuf_addstr(&out, "  (");
			add_field(&out, r[i].detail);
			sbuf_addch(&out, ')');
		}
		sbuf_addstr(&out, "  by ");
		add_field(&out, r[i].by);
		sbuf_addch(&out, '\n');
	}
	fwrite(out.buf, 1, out.len, stdout);
	sbuf_release(&out);
}

static const char *const log_usage[] = {
	"git worktree-ports log [--since <when>] [--worktree <name>]\n"
	"                       [--service <name>] [--action <action>]",
	"",
	"Show the activity log, newest first: allocations, releases, prunes,",
	"repairs and health changes.",
	NULL,
};

/*
 * The log is kept in the state folder (session.h); one that an older
 * version left beside the registry is read there until the next change
 * moves it.
 */
static const char *log_base(const struct session *s)
{
	struct sbuf cur = SBUF_INIT, old = SBUF_INIT;
	const char *base = s->state_base;
	struct stat st;

	actlog_path(&cur, s->state_base);
	actlog_path(&old, s->registry_path);
	if (lstat(cur.buf, &st) < 0 && !lstat(old.buf, &st))
		base = s->registry_path;
	sbuf_release(&cur);
	sbuf_release(&old);
	return base;
}

int cmd_log(int argc, const char **argv, struct global_opts *g,
	    struct error *err)
{
	struct session s = SESSION_INIT;
	struct actlog_filter f = { 0 };
	struct actlog_record *records = NULL;
	const char *since = NULL, *worktree = NULL, *service = NULL;
	const char *action = NULL;
	struct option options[] = {
		OPT_STRING(
			0, "since", &since, "when",
			"only what happened since:\n30m, 2h, 3d, 1w, or a UTC time"),
		OPT_STRING(0, "worktree", &worktree, "name",
			   "only this worktree"),
		OPT_STRING(0, "service", &service, "name", "only this service"),
		OPT_STRING(
			0, "action", &action, "action",
			"only this action: allocate, release,\nauto-release, prune, repair or health"),
		OPT_END(),
	};
	size_t nr = 0;
	int ret;

	argc = cli_parse_options(argc, argv, log_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc)
		return cli_usage_error(log_usage, options,
				       "'log' takes no arguments, got '%s'",
				       argv[0]);
	if (since) {
		ret = actlog_parse_since(&f.since, since, time(NULL), err);
		if (ret < 0)
			return ret;
	}
	if (action && !actlog_is_action(action)) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"unknown action '%s'", action);
		error_hint(err, "use one of %s", ACTLOG_ACTIONS);
		return ret;
	}
	f.worktree = worktree;
	f.service = service;
	f.action = action;
	/* the log is append-only and read whole: no lock, no registry */
	ret = session_open(&s, g->registry, SESSION_NO_LOAD, err);
	if (ret < 0)
		goto out;
	ret = actlog_read(&records, &nr, log_base(&s), &f, warn_line, NULL,
			  err);
	if (ret < 0)
		goto out;
	if (g->json)
		print_json(records, nr);
	else if (!nr && !g->quiet)
		printf("no activity%s\n",
		       f.since || f.worktree || f.service || f.action ?
			       " matches" :
			       " logged yet");
	else
		print_table(records, nr);
out:
	actlog_records_free(records, nr);
	session_release(&s);
	return ret;
}
