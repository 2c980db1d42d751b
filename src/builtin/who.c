#include "common.h"
#include "builtin.h"
#include "holders.h"
#include "session.h"
#include "error.h"
#include "jsonw.h"
#include "report.h"
#include "parse-options.h"
#include "peers.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"
#include "wt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* 1 to 65535, decimal digits only: who is asked about any port. */
static int parse_port(uint16_t *out, const char *arg, struct error *err)
{
	unsigned long n = 0;
	const char *p;
	int ret;

	for (p = arg; *p >= '0' && *p <= '9' && n <= 65535; p++)
		n = n * 10 + (unsigned long)(*p - '0');
	if (p == arg || *p || !n || n > 65535) {
		struct sbuf shown = SBUF_INIT;

		text_addstr_printable(&shown, arg);
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid port '%s'", shown.buf);
		error_hint(err, "give a number from 1 to 65535");
		sbuf_release(&shown);
		return ret;
	}
	*out = (uint16_t)n;
	return 0;
}

static const char *family_name(int family)
{
	return family == AF_INET6 ? "ipv6" : "ipv4";
}

/* The registry of a worktree of the map, as a path. */
static const char *registry_of(const struct holders *w,
			       const struct owner_wt *wt)
{
	return wt->registry ? wt->registry : w->registry;
}

static void json_started_from(struct jsonw *j, const struct holders *w,
			      const struct owner_verdict *v,
			      const struct probe_proc *p)
{
	const struct owner_wt *from = NULL;
	char *cmd = NULL;
	long pid = 0;

	if (!owner_started_from(&w->map, v, p, &pid, &cmd, &from)) {
		jsonw_null(j, "started_from");
		return;
	}
	jsonw_object_begin(j, "started_from");
	jsonw_int(j, "pid", pid);
	jsonw_string(j, "command", cmd);
	jsonw_string(j, "worktree", from->name);
	jsonw_string(j, "registry", registry_of(w, from));
	jsonw_object_end(j);
	free(cmd);
}

static void json_proc(struct jsonw *j, const struct holders *w,
		      const struct probe_proc *p)
{
	const struct owner *in = w->nr_owners ? holders_owner_of(w, p) : NULL;
	struct sbuf buf = SBUF_INIT;
	struct owner_verdict v;
	const struct owner_wt *wt;

	owner_judge(&v, &w->map, p);
	wt = v.wt ? v.wt : v.was;

	jsonw_object_begin(j, NULL);
	jsonw_int(j, "pid", p->pid);
	jsonw_int(j, "ppid", p->ppid);
	jsonw_int(j, "uid", p->uid);
	jsonw_string(j, "user", p->user);
	jsonw_string(j, "command", p->cmdline);
	/* paths are the kernel's bytes: keep the JSON valid UTF-8 */
	if (p->cwd) {
		text_addstr_printable(&buf, p->cwd);
		jsonw_string(j, "cwd", buf.buf);
	} else {
		jsonw_null(j, "cwd");
	}
	sbuf_reset(&buf);
	if (p->exe) {
		text_addstr_printable(&buf, p->exe);
		jsonw_string(j, "exe", buf.buf);
	} else {
		jsonw_null(j, "exe");
	}
	jsonw_string(j, "start_time", p->start_time);
	if (w->nr_owners)
		jsonw_bool(j, "inside", in != NULL);
	else
		jsonw_null(j, "inside");
	jsonw_bool(j, "cwd_deleted", p->cwd_deleted);
	jsonw_string(j, "worktree", wt ? wt->name : NULL);
	jsonw_string(j, "worktree_registry", wt ? registry_of(w, wt) : NULL);
	jsonw_string(j, "worktree_path", wt ? wt->dir : NULL);
	jsonw_bool(j, "worktree_removed", wt && (wt->gone || v.deleted));
	jsonw_bool(j, "by_marker", v.by_marker);
	jsonw_bool(j, "orphan", owner_is_orphan(&v));
	json_started_from(j, w, &v, p);
	jsonw_object_end(j);
	sbuf_release(&buf);
}

static const char *verdict_word(enum holders_verdict v)
{
	switch (v) {
	case HOLDERS_NOTHING:
		return "nothing";
	case HOLDERS_OWN:
		return "own";
	case HOLDERS_FOREIGN:
		return "foreign";
	case HOLDERS_ORPHAN:
		return "orphan";
	case HOLDERS_UNALLOCATED:
		return "unallocated";
	case HOLDERS_UNKNOWN:
		break;
	}
	return "unknown";
}

static void print_json(const struct holders *w)
{
	struct jsonw j = JSONW_INIT;
	size_t i, k;

	jsonw_object_begin(&j, NULL);
	jsonw_int(&j, "port", w->port);
	jsonw_string(&j, "registry", w->registry);
	jsonw_array_begin(&j, "allocations");
	for (i = 0; i < w->nr_owners; i++) {
		const struct allocation *a = w->owners[i].a;

		jsonw_object_begin(&j, NULL);
		report_allocation(&j, a, NULL);
		jsonw_object_end(&j);
	}
	jsonw_array_end(&j);
	jsonw_string(&j, "other_registry", w->other);
	jsonw_array_begin(&j, "other_allocations");
	for (i = 0; i < w->nr_peer_owners; i++) {
		const struct peer_owner *o = &w->peer_owners[i];

		jsonw_object_begin(&j, NULL);
		jsonw_string(&j, "registry", o->registry);
		jsonw_string(&j, "worktree", o->worktree);
		jsonw_string(&j, "service", o->service);
		jsonw_string(&j, "path", o->path);
		jsonw_object_end(&j);
	}
	jsonw_array_end(&j);
	jsonw_array_begin(&j, "listeners");
	for (i = 0; i < w->nr_ls; i++) {
		const struct probe_listener *l = &w->ls[i];

		jsonw_object_begin(&j, NULL);
		jsonw_string(&j, "family", family_name(l->family));
		jsonw_string(&j, "address", l->address);
		jsonw_int(&j, "uid", l->uid);
		jsonw_string(&j, "user", l->user);
		jsonw_array_begin(&j, "processes");
		for (k = 0; k < l->nr_procs; k++)
			json_proc(&j, w, &l->procs[k]);
		jsonw_array_end(&j);
		jsonw_object_end(&j);
	}
	jsonw_array_end(&j);
	jsonw_string(&j, "verdict", verdict_word(holders_verdict(w)));
	jsonw_object_end(&j);
	fwrite(j.out.buf, 1, j.out.len, stdout);
	jsonw_release(&j);
}

/* Has a listener before 'l' shown process 'pid' already? */
static bool shown_before(const struct holders *w, const struct probe_listener *l,
			 long pid)
{
	const struct probe_listener *prev;
	size_t k;

	for (prev = w->ls; prev < l; prev++)
		for (k = 0; k < prev->nr_procs; k++)
			if (prev->procs[k].pid == pid)
				return true;
	return false;
}

/* 'name' (this registry) or 'name' of the registry PATH */
static void add_wt_name(struct sbuf *out, const struct holders *w,
			const struct owner_wt *wt)
{
	sbuf_addch(out, '\'');
	text_addstr_printable(out, wt->name);
	sbuf_addch(out, '\'');
	if (!wt->registry) {
		sbuf_addstr(out, " (this registry)");
	} else {
		sbuf_addstr(out, " of the registry ");
		text_addstr_printable(out, wt->registry);
	}
	(void)w;
}

/* Which worktree the process belongs to, by owner.h's rule. */
static void add_worktree(struct sbuf *out, const struct holders *w,
			 const struct probe_proc *p)
{
	const struct owner_wt *from = NULL;
	struct owner_verdict v;
	char *cmd = NULL;
	long pid = 0;

	owner_judge(&v, &w->map, p);
	sbuf_addstr(out, "    worktree: ");
	if (v.deleted) {
		sbuf_addstr(out, "none: its directory was deleted");
		if (v.was) {
			sbuf_addstr(out, "; it was in worktree ");
			add_wt_name(out, w, v.was);
		}
	} else if (v.wt) {
		add_wt_name(out, w, v.wt);
		if (v.wt->gone)
			sbuf_addstr(out, ", which was removed");
		if (v.by_marker)
			sbuf_addstr(out, ", started there by 'run'");
	} else if (!p->cwd) {
		sbuf_addstr(out, "unknown: its directory is not readable");
	} else {
		sbuf_addstr(out, "none: outside every known worktree");
	}
	sbuf_addch(out, '\n');
	if (owner_started_from(&w->map, &v, p, &pid, &cmd, &from)) {
		sbuf_addstr(out, "    started from a process in worktree ");
		add_wt_name(out, w, from);
		sbuf_addf(out, ": pid %ld, ", pid);
		sbuf_addstr(out, cmd); /* printable already (probe.h) */
		sbuf_addch(out, '\n');
		free(cmd);
	}
}

static void add_proc(struct sbuf *out, const struct holders *w,
		     const struct probe_listener *l, const struct probe_proc *p)
{
	const struct owner *in;
	size_t i;

	sbuf_addf(out, "  pid %ld, user ", p->pid);
	text_addstr_printable(out, p->user);
	if (shown_before(w, l, p->pid)) {
		sbuf_addstr(out, " (as above)\n");
		return;
	}
	if (p->start_time)
		sbuf_addf(out, ", started %s", p->start_time);
	sbuf_addstr(out, "\n    command: ");
	text_addstr_printable(out, p->cmdline);
	sbuf_addstr(out, "\n    directory: ");
	if (p->cwd)
		text_addstr_printable(out, p->cwd);
	else
		sbuf_addstr(out, "unknown (not readable)");
	sbuf_addch(out, '\n');
	add_worktree(out, w, p);
	if (!w->nr_owners)
		return;
	in = holders_owner_of(w, p);
	if (in) {
		sbuf_addstr(out, "    runs inside worktree '");
		text_addstr_printable(out, in->a->worktree);
		sbuf_addstr(out, "'\n");
		return;
	}
	for (i = 0; i < w->nr_owners; i++) {
		sbuf_addstr(out, "    runs outside worktree '");
		text_addstr_printable(out, w->owners[i].a->worktree);
		sbuf_addch(out, '\'');
		if (w->owners[i].dir) {
			sbuf_addstr(out, " (");
			text_addstr_printable(out, w->owners[i].dir);
			sbuf_addch(out, ')');
		}
		sbuf_addch(out, '\n');
	}
}

/* The first pid of the listeners, for "kill PID". */
static long first_pid(const struct holders *w)
{
	size_t i;

	for (i = 0; i < w->nr_ls; i++)
		if (w->ls[i].nr_procs)
			return w->ls[i].procs[0].pid;
	return 0;
}

static void add_allocated_to(struct sbuf *out, const struct holders *w)
{
	if (w->nr_owners) {
		sbuf_addstr(out, "'");
		text_addstr_printable(out, w->owners[0].a->service);
		sbuf_addstr(out, "' of worktree '");
		text_addstr_printable(out, w->owners[0].a->worktree);
		sbuf_addch(out, '\'');
	} else if (w->nr_peer_owners) {
		sbuf_addstr(out, "'");
		text_addstr_printable(out, w->peer_owners[0].service);
		sbuf_addstr(out, "' of worktree '");
		text_addstr_printable(out, w->peer_owners[0].worktree);
		sbuf_addstr(out, "' in ");
		text_addstr_printable(out, w->peer_owners[0].registry);
	}
}

static void add_verdict(struct sbuf *out, const struct holders *w)
{
	switch (holders_verdict(w)) {
	case HOLDERS_NOTHING:
		return;
	case HOLDERS_OWN:
		sbuf_addstr(out, "verdict: the allocation's own process (");
		add_allocated_to(out, w);
		sbuf_addstr(out, ")\n");
		return;
	case HOLDERS_FOREIGN:
		sbuf_addstr(out, "verdict: a foreign process holds the port of ");
		add_allocated_to(out, w);
		sbuf_addstr(out,
			    "; see 'git worktree-ports repair --dry-run'\n");
		return;
	case HOLDERS_ORPHAN:
		sbuf_addf(out,
			  "verdict: an orphan of a removed worktree; stop it with 'kill %ld'\n",
			  first_pid(w));
		return;
	case HOLDERS_UNALLOCATED:
		sbuf_addf(out,
			  "verdict: unallocated: no registry on this host allocates port %u\n",
			  w->port);
		return;
	case HOLDERS_UNKNOWN:
		sbuf_addstr(out,
			    "verdict: unknown: the process holding the port is not visible\n");
		return;
	}
}

static void print_human(const struct holders *w)
{
	struct sbuf out = SBUF_INIT;
	size_t i, k;

	for (i = 0; i < w->nr_owners; i++) {
		const struct allocation *a = w->owners[i].a;

		sbuf_addf(&out, "port %u is allocated to '", w->port);
		text_addstr_printable(&out, a->service);
		sbuf_addstr(&out, "' in worktree '");
		text_addstr_printable(&out, a->worktree);
		sbuf_addch(&out, '\'');
		if (a->path) {
			sbuf_addstr(&out, " (");
			text_addstr_printable(&out, a->path);
			sbuf_addch(&out, ')');
		}
		sbuf_addch(&out, '\n');
	}
	if (w->have_registry && !w->nr_owners)
		sbuf_addf(&out, "port %u is not allocated in this registry\n",
			  w->port);
	if (w->other) {
		sbuf_addf(&out,
			  "port %u is allocated in %s registry on this host: ",
			  w->port, w->have_registry ? "another" : "a");
		text_addstr_printable(&out, w->other);
		sbuf_addch(&out, '\n');
	}
	if (!w->nr_ls)
		sbuf_addf(&out, "nothing listens on port %u\n", w->port);
	for (i = 0; i < w->nr_ls; i++) {
		const struct probe_listener *l = &w->ls[i];

		sbuf_addf(&out, "listening on %s (%s)\n", l->address,
			  l->family == AF_INET6 ? "IPv6" : "IPv4");
		for (k = 0; k < l->nr_procs; k++)
			add_proc(&out, w, l, &l->procs[k]);
		if (l->nr_procs)
			continue;
		if (geteuid()) {
			sbuf_addstr(&out, "  held by ");
			text_addstr_printable(&out, l->user);
			sbuf_addf(&out,
				  " (uid %u); run as root to see the process\n",
				  l->uid);
		} else {
			sbuf_addstr(&out, "  held by ");
			text_addstr_printable(&out, l->user);
			sbuf_addf(
				&out,
				" (uid %u); no process found: it may run in another pid namespace\n",
				l->uid);
		}
	}
	add_verdict(&out, w);
	fwrite(out.buf, 1, out.len, stdout);
	sbuf_release(&out);
}

/* -q: the pids, one a line, for kill(1). */
static void print_pids(const struct holders *w)
{
	size_t i, k;

	for (i = 0; i < w->nr_ls; i++)
		for (k = 0; k < w->ls[i].nr_procs; k++)
			if (!shown_before(w, &w->ls[i], w->ls[i].procs[k].pid))
				printf("%ld\n", w->ls[i].procs[k].pid);
}

static const char *const who_usage[] = {
	"git worktree-ports who [-q] <port>",
	"",
	"Say what listens on <port>: each socket, and each process holding it",
	"(pid, user, command line, directory, start time) with the worktree it",
	"belongs to, of any registry on this host; which worktree and service",
	"the port is allocated to; and a verdict: the allocation's own process,",
	"a foreign one, an orphan of a removed worktree, or unallocated.",
	NULL,
};

int cmd_who(int argc, const char **argv, struct global_opts *g,
	    struct error *err)
{
	struct holders w = HOLDERS_INIT;
	struct option options[] = {
		OPT_BOOL('q', "quiet", &g->quiet,
			 "print only the pids, one a line"),
		OPT_END(),
	};
	uint16_t port = 0;
	int ret;

	argc = cli_parse_options(argc, argv, who_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (!argc)
		return cli_usage_error(who_usage, options,
				       "'who' needs a <port>");
	if (argc > 1)
		return cli_usage_error(who_usage, options,
				       "'who' takes one <port>, got '%s' too",
				       argv[1]);
	ret = parse_port(&port, argv[0], err);
	if (ret < 0)
		return ret;
	ret = holders_find(&w, port, g->registry, err);
	if (ret < 0)
		goto out;
	if (g->json)
		print_json(&w);
	else if (g->quiet)
		print_pids(&w);
	else
		print_human(&w);
out:
	holders_release(&w);
	timing_mark("total");
	return ret;
}
