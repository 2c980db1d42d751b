#include "common.h"
#include "alloc.h"
#include "builtin.h"
#include "checked.h"
#include "probe.h"
#include "health.h"
#include "wtenv.h"
#include "session.h"
#include "config.h"
#include "envfile.h"
#include "error.h"
#include "jsonw.h"
#include "report.h"
#include "parse-options.h"
#include "peers.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"
#include "wt.h"

#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

/*
 * A recorded health older than this is shown as "unknown": a server
 * checked yesterday says nothing about today (docs/health.md).
 */
#define HEALTH_SHOWN_FOR (24 * 3600)

/* The age of the recorded health of 'a' in seconds, or -1 if unknown. */
static long long health_age(const struct allocation *a, time_t now)
{
	time_t t;

	if (iso8601_parse(a->health_checked_at, &t) < 0)
		return -1;
	return now >= t ? (long long)(now - t) : 0;
}

/*
 * The health to show: "healthy, 3 h ago", or "unknown" for a status
 * never checked or checked too long ago. Printable.
 */
static void add_health(struct sbuf *out, const struct allocation *a,
		       time_t now)
{
	const char *status = a->health_status && *a->health_status
				     ? a->health_status
				     : "unknown";
	long long age = health_age(a, now);

	if (!strcmp(status, "unknown") || age > HEALTH_SHOWN_FOR) {
		sbuf_addstr(out, "unknown");
		return;
	}
	text_addstr_printable(out, status);
	if (age < 0)
		return; /* a status written by hand, without its time */
	if (age < 60)
		sbuf_addf(out, ", %lld s ago", age);
	else if (age < 3600)
		sbuf_addf(out, ", %lld min ago", age / 60);
	else
		sbuf_addf(out, ", %lld h ago", age / 3600);
}

/* Ports of the ranges that a process listens on: the pid to show. */
struct in_use {
	struct portset ports;
	long pid[65536]; /* ALLOCATION_NO_PID: none visible */
};

/*
 * Who listens on the ports of the registry's ranges, read once; NULL
 * when the sockets cannot be read (said in a warning).
 */
static struct in_use *find_in_use(const struct registry *reg)
{
	struct portset *wanted = xcalloc(1, sizeof(*wanted));
	struct in_use *u = NULL;
	struct probe_listener *ls = NULL;
	struct error e = ERROR_INIT;
	size_t nr = 0, i;
	unsigned p;

	for (i = 0; i < reg->nr_ranges; i++)
		for (p = reg->ranges[i].start; p <= reg->ranges[i].end; p++)
			portset_add(wanted, (uint16_t)p);
	if (probe_listeners_set(&ls, &nr, wanted, &e) < 0) {
		warning_error(&e, "ports in use are not shown");
		goto out;
	}
	u = xcalloc(1, sizeof(*u));
	for (i = 0; i < nr; i++) {
		const struct probe_proc *proc = probe_main_proc(&ls[i]);

		if (!portset_has(&u->ports, ls[i].port))
			u->pid[ls[i].port] = ALLOCATION_NO_PID;
		portset_add(&u->ports, ls[i].port);
		if (proc && u->pid[ls[i].port] == ALLOCATION_NO_PID)
			u->pid[ls[i].port] = proc->pid;
	}
out:
	probe_listeners_free(ls, nr);
	free(wanted);
	return u;
}

/* "pid 123", or "yes" when the process is not visible; "-" if unused. */
static void add_in_use(struct sbuf *out, const struct in_use *u,
		       uint16_t port)
{
	if (!u || !portset_has(&u->ports, port))
		sbuf_addch(out, '-');
	else if (u->pid[port] == ALLOCATION_NO_PID)
		sbuf_addstr(out, "yes");
	else
		sbuf_addf(out, "pid %ld", u->pid[port]);
}

/* One allocation to show, with the range it belongs to. */
struct row {
	const struct allocation *a;
	const struct range *r;
	size_t range_index; /* order of ranges in the registry */
};

static int cmp_row(const void *x, const void *y)
{
	const struct row *a = x, *b = y;

	if (a->range_index != b->range_index)
		return a->range_index < b->range_index ? -1 : 1;
	return (int)a->a->port - (int)b->a->port;
}

static size_t collect_rows(struct row **out, const struct registry *reg,
			   const char *worktree)
{
	struct row *rows = xcalloc(reg->nr_allocs + 1, sizeof(*rows));
	size_t i, nr = 0;

	for (i = 0; i < reg->nr_allocs; i++) {
		const struct allocation *a = &reg->allocs[i];

		if (worktree && strcmp(a->worktree, worktree))
			continue;
		rows[nr].a = a;
		rows[nr].r = registry_range_for(reg, a->service, a->range);
		rows[nr].range_index = rows[nr].r ?
			(size_t)(rows[nr].r - reg->ranges) : reg->nr_ranges;
		nr++;
	}
	qsort(rows, nr, sizeof(*rows), cmp_row);
	*out = rows;
	return nr;
}

/*
 * The ports of this registry's ranges that other registries of the host
 * allocate: never free here. They join 'allocated', so that they are
 * shown as held, not as free or as a stranger's.
 */
static void collect_holds(struct peers_holds *h, const struct session *s,
			  struct portset *allocated)
{
	size_t i;

	peers_holds_collect(h, s->registry_path, 1024, 65535);
	for (i = 0; i < h->nr; i++)
		portset_add(allocated, h->items[i].port);
}

/* A port of range 'r' that another registry holds, and this one not. */
static bool held_elsewhere(const struct peers_hold *x, const struct range *r,
			   const struct portset *own)
{
	return x->port >= r->start && x->port <= r->end &&
	       !portset_has(own, x->port);
}

/*
 * "  held by /src/other/design/worktrees/ports.json: 5432 (.main), 5433
 * (feat)": one line per registry that holds ports of range 'r'.
 */
static void print_holds(struct sbuf *out, const struct range *r,
			const struct peers_holds *h, const struct portset *own)
{
	bool *said = xcalloc(h->nr + 1, sizeof(*said));
	size_t i, j;

	for (i = 0; i < h->nr; i++) {
		const struct peers_hold *first = &h->items[i];

		if (said[i] || !held_elsewhere(first, r, own))
			continue;
		sbuf_addf(out, "  held by %s: ", text_printable(first->registry));
		for (j = i; j < h->nr; j++) {
			const struct peers_hold *x = &h->items[j];

			if (said[j] || !held_elsewhere(x, r, own) ||
			    strcmp(x->registry, first->registry))
				continue;
			said[j] = true;
			sbuf_addf(out, "%s%u (%s)", j == i ? "" : ", ", x->port,
				  text_printable(x->worktree));
		}
		sbuf_addch(out, '\n');
	}
	free(said);
}

static void json_holds(struct jsonw *w, const struct range *r,
		       const struct peers_holds *h, const struct portset *own)
{
	size_t i;

	jsonw_array_begin(w, "held_elsewhere");
	for (i = 0; i < h->nr; i++) {
		const struct peers_hold *x = &h->items[i];

		if (!held_elsewhere(x, r, own))
			continue;
		jsonw_object_begin(w, NULL);
		jsonw_int(w, "port", x->port);
		jsonw_string(w, "registry", x->registry);
		jsonw_string(w, "worktree", x->worktree);
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
}

/* Free ports of a range: not allocated, not reserved, not refused. */
struct span {
	uint16_t first, last;
};

static unsigned free_spans(struct span **out, size_t *nr_out,
			   const struct registry *reg, const struct range *r,
			   const struct portset *allocated,
			   const struct in_use *u)
{
	struct span *spans = NULL;
	size_t nr = 0, alloc = 0;
	unsigned count = 0;
	uint32_t p;

	for (p = r->start; p <= r->end; p++) {
		uint16_t port = (uint16_t)p;

		if (portset_has(allocated, port) || alloc_is_bad_port(port) ||
		    registry_reserved_at(reg, port) ||
		    (u && portset_has(&u->ports, port)))
			continue;
		count++;
		if (nr && spans[nr - 1].last + 1u == p) {
			spans[nr - 1].last = port;
			continue;
		}
		ALLOC_GROW(spans, nr + 1, alloc);
		spans[nr].first = spans[nr].last = port;
		nr++;
	}
	*out = spans;
	*nr_out = nr;
	return count;
}

static void json_alloc(struct jsonw *w, const struct row *row, time_t now,
		       const struct in_use *u)
{
	long long age = health_age(row->a, now);

	jsonw_object_begin(w, NULL);
	report_allocation(w, row->a, row->r ? row->r->name : NULL);
	jsonw_int_or_null(w, "health_age_seconds", age, -1);
	jsonw_bool(w, "health_stale", age < 0 || age > HEALTH_SHOWN_FOR);
	if (u) {
		if (portset_has(&u->ports, row->a->port))
			jsonw_int_or_null(w, "listening_pid",
					  u->pid[row->a->port],
					  ALLOCATION_NO_PID);
		else
			jsonw_null(w, "listening_pid");
	}
	jsonw_object_end(w);
}

/* The ports of 'r' in use by a process and allocated to nobody. */
static void json_in_use(struct jsonw *w, const struct range *r,
			const struct in_use *u, const struct portset *allocated)
{
	unsigned p;

	jsonw_array_begin(w, "in_use");
	for (p = r->start; u && p <= r->end; p++) {
		if (!portset_has(&u->ports, (uint16_t)p) ||
		    portset_has(allocated, (uint16_t)p))
			continue;
		jsonw_object_begin(w, NULL);
		jsonw_int(w, "port", p);
		jsonw_int_or_null(w, "pid", u->pid[p], ALLOCATION_NO_PID);
		jsonw_object_end(w);
	}
	jsonw_array_end(w);
}

static void print_json(const struct session *s, const struct row *rows,
		       size_t nr, bool all, const char *worktree)
{
	struct jsonw w = JSONW_INIT;
	struct portset *allocated = NULL, *own = NULL;
	struct peers_holds holds = PEERS_HOLDS_INIT;
	struct in_use *u = all ? find_in_use(s->reg) : NULL;
	time_t now = time(NULL);
	size_t i, j;

	jsonw_object_begin(&w, NULL);
	jsonw_string(&w, "registry", s->registry_path);
	jsonw_string(&w, "worktree", worktree);
	jsonw_array_begin(&w, "allocations");
	for (i = 0; i < nr; i++)
		json_alloc(&w, &rows[i], now, u);
	jsonw_array_end(&w);
	if (all) {
		allocated = xcalloc(1, sizeof(*allocated));
		for (i = 0; i < s->reg->nr_allocs; i++)
			portset_add(allocated, s->reg->allocs[i].port);
		own = xcalloc(1, sizeof(*own));
		*own = *allocated;
		collect_holds(&holds, s, allocated);
		jsonw_array_begin(&w, "ranges");
		for (i = 0; i < s->reg->nr_ranges; i++) {
			const struct range *r = &s->reg->ranges[i];
			struct span *spans;
			size_t nr_spans;
			unsigned nfree, used = 0;

			nfree = free_spans(&spans, &nr_spans, s->reg, r,
					   allocated, u);
			for (j = 0; j < nr; j++)
				used += rows[j].r == r;
			jsonw_object_begin(&w, NULL);
			jsonw_string(&w, "name", r->name);
			jsonw_int(&w, "start", r->start);
			jsonw_int(&w, "end", r->end);
			jsonw_string(&w, "description", r->description);
			jsonw_int(&w, "size", alloc_usable_ports(r));
			jsonw_int(&w, "allocated", used);
			jsonw_int(&w, "free", nfree);
			jsonw_array_begin(&w, "free_ports");
			for (j = 0; j < nr_spans; j++) {
				jsonw_array_begin(&w, NULL);
				jsonw_int(&w, NULL, spans[j].first);
				jsonw_int(&w, NULL, spans[j].last);
				jsonw_array_end(&w);
			}
			jsonw_array_end(&w);
			json_holds(&w, r, &holds, own);
			json_in_use(&w, r, u, allocated);
			jsonw_object_end(&w);
			free(spans);
		}
		jsonw_array_end(&w);
	}
	jsonw_object_end(&w);
	fwrite(w.out.buf, 1, w.out.len, stdout);
	jsonw_release(&w);
	peers_holds_release(&holds);
	free(own);
	free(allocated);
	free(u);
}

/*
 * A field for the table: "-" when empty, and nothing a terminal would
 * take as a control sequence (the registry may be edited by hand).
 */
static const char *or_dash(const char *s)
{
	return s && *s ? text_printable(s) : "-";
}

static void print_spans(struct sbuf *out, const struct span *spans, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		if (i)
			sbuf_addstr(out, ", ");
		if (spans[i].first == spans[i].last)
			sbuf_addf(out, "%u", spans[i].first);
		else
			sbuf_addf(out, "%u-%u", spans[i].first, spans[i].last);
	}
}

/* The health cell of each row, and the width of the widest. */
static char **health_cells(const struct row *rows, size_t nr, int *width)
{
	char **cells = xcalloc(nr + 1, sizeof(*cells));
	struct sbuf cell = SBUF_INIT;
	time_t now = time(NULL);
	size_t i;

	*width = 6; /* "HEALTH" */
	for (i = 0; i < nr; i++) {
		sbuf_reset(&cell);
		add_health(&cell, rows[i].a, now);
		if ((int)cell.len > *width)
			*width = (int)cell.len;
		cells[i] = xstrdup(cell.buf);
	}
	sbuf_release(&cell);
	return cells;
}

static void free_cells(char **cells, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		free(cells[i]);
	free(cells);
}

/* "  in use: 3005 (pid 123), 3007 (pid 456)": taken by no allocation */
static void print_in_use(struct sbuf *out, const struct range *r,
			 const struct in_use *u, const struct portset *allocated)
{
	bool any = false;
	unsigned p;

	for (p = r->start; u && p <= r->end; p++) {
		if (!portset_has(&u->ports, (uint16_t)p) ||
		    portset_has(allocated, (uint16_t)p))
			continue;
		sbuf_addstr(out, any ? ", " : "  in use: ");
		sbuf_addf(out, "%u (", p);
		add_in_use(out, u, (uint16_t)p);
		sbuf_addch(out, ')');
		any = true;
	}
	if (any)
		sbuf_addch(out, '\n');
}

static void print_all(const struct session *s, const struct row *rows,
		      size_t nr)
{
	struct portset *allocated = xcalloc(1, sizeof(*allocated));
	struct in_use *u = find_in_use(s->reg);
	struct peers_holds holds = PEERS_HOLDS_INIT;
	struct portset *own;
	struct sbuf out = SBUF_INIT, pid = SBUF_INIT;
	int wt_width = 8, svc_width = 7, health_width;
	char **health = health_cells(rows, nr, &health_width);
	size_t i, j = 0;

	for (i = 0; i < s->reg->nr_allocs; i++)
		portset_add(allocated, s->reg->allocs[i].port);
	own = xcalloc(1, sizeof(*own));
	*own = *allocated;
	collect_holds(&holds, s, allocated);
	for (i = 0; i < nr; i++) {
		int w = (int)strlen(rows[i].a->worktree);
		int v = (int)strlen(rows[i].a->service);

		wt_width = w > wt_width ? w : wt_width;
		svc_width = v > svc_width ? v : svc_width;
	}
	sbuf_addf(&out, "registry: %s\n", text_printable(s->registry_path));
	for (i = 0; i < s->reg->nr_ranges; i++) {
		const struct range *r = &s->reg->ranges[i];
		struct span *spans;
		size_t nr_spans, start = j;
		unsigned nfree;

		while (j < nr && rows[j].r == r)
			j++;
		nfree = free_spans(&spans, &nr_spans, s->reg, r, allocated, u);
		sbuf_addf(&out, "\n%s %u-%u%s%s: %zu allocated, %u free\n",
			  text_printable(r->name), r->start, r->end,
			  r->description ? " - " : "",
			  r->description ? text_printable(r->description) : "",
			  j - start,
			  nfree);
		if (j > start)
			sbuf_addf(&out, "  %-5s  %-*s  %-*s  %-*s  %-10s  %s\n",
				  "PORT", wt_width, "WORKTREE", svc_width,
				  "SERVICE", health_width, "HEALTH", "IN USE",
				  "PATH");
		for (; start < j; start++) {
			const struct allocation *a = rows[start].a;

			sbuf_reset(&pid);
			add_in_use(&pid, u, a->port);
			sbuf_addf(&out, "  %-5u  %-*s  ", a->port, wt_width,
				  or_dash(a->worktree));
			sbuf_addf(&out, "%-*s  %-*s  %-10s  %s\n", svc_width,
				  or_dash(a->service), health_width,
				  health[start], pid.buf, or_dash(a->path));
		}
		sbuf_addstr(&out, "  free: ");
		if (nr_spans)
			print_spans(&out, spans, nr_spans);
		else
			sbuf_addstr(&out, "none");
		sbuf_addch(&out, '\n');
		print_holds(&out, r, &holds, own);
		print_in_use(&out, r, u, allocated);
		free(spans);
	}
	fwrite(out.buf, 1, out.len, stdout);
	sbuf_release(&out);
	sbuf_release(&pid);
	free_cells(health, nr);
	peers_holds_release(&holds);
	free(own);
	free(allocated);
	free(u);
}

static void print_one(const struct target *t, const struct row *rows,
		      size_t nr)
{
	int svc_width = 7, range_width = 5, health_width;
	char **health;
	size_t i;

	printf("worktree '%s'%s%s%s\n", text_printable(t->name),
	       t->path ? " (" : "", t->path ? text_printable(t->path) : "",
	       t->path ? ")" : "");
	if (!nr) {
		printf("no ports allocated\n");
		return;
	}
	health = health_cells(rows, nr, &health_width);
	for (i = 0; i < nr; i++) {
		int v = (int)strlen(rows[i].a->service);
		int r = rows[i].r ? (int)strlen(rows[i].r->name) : 1;

		svc_width = v > svc_width ? v : svc_width;
		range_width = r > range_width ? r : range_width;
	}
	printf("  %-*s  %-5s  %-*s  %-*s  %s\n", svc_width, "SERVICE", "PORT",
	       range_width, "RANGE", health_width, "HEALTH", "DESCRIPTION");
	for (i = 0; i < nr; i++) {
		const struct allocation *a = rows[i].a;

		printf("  %-*s  %-5u  ", svc_width, or_dash(a->service),
		       a->port);
		printf("%-*s  %-*s  %s\n", range_width,
		       rows[i].r ? or_dash(rows[i].r->name) : "-", health_width,
		       health[i], or_dash(a->description));
	}
	free_cells(health, nr);
}

#define DEFAULT_CHECK_MS 2000

static double ms(long us)
{
	return us < 0 ? -1 : us / 1000.0;
}

static void print_checked(const struct global_opts *g, bool verbose,
			  const struct session *s, const struct checked_list *l,
			  long elapsed_us, int timeout_ms, size_t healthy)
{
	int wt_width = 8, svc_width = 7;
	size_t i;

	if (g->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "registry", s->registry_path);
		jsonw_int(&w, "timeout_ms", timeout_ms);
		jsonw_int(&w, "elapsed_us", elapsed_us);
		jsonw_int(&w, "checked", (long long)l->nr);
		jsonw_int(&w, "healthy", (long long)healthy);
		jsonw_array_begin(&w, "allocations");
		for (i = 0; i < l->nr; i++)
			checked_json(&w, &l->items[i]);
		jsonw_array_end(&w);
		jsonw_object_end(&w);
		fwrite(w.out.buf, 1, w.out.len, stdout);
		jsonw_release(&w);
		return;
	}
	if (g->quiet)
		return;
	for (i = 0; i < l->nr; i++) {
		int a = (int)strlen(l->items[i].worktree);
		int b = (int)strlen(l->items[i].service);

		wt_width = a > wt_width ? a : wt_width;
		svc_width = b > svc_width ? b : svc_width;
	}
	printf("%-5s  %-*s  %-*s  %-11s  %-7s  %s\n", "PORT", wt_width,
	       "WORKTREE", svc_width, "SERVICE", "HEALTH", "PID", "COMMAND");
	for (i = 0; i < l->nr; i++) {
		const struct checked *ck = &l->items[i];
		const struct health_result *r = &ck->result;
		char pid[24] = "-";

		if (ck->pid != ALLOCATION_NO_PID)
			snprintf(pid, sizeof(pid), "%ld", ck->pid);
		printf("%-5u  %-*s  %-*s  %-11s  %-7s  %s\n", ck->port,
		       wt_width, or_dash(ck->worktree), svc_width,
		       or_dash(ck->service), health_status_name(r->status), pid,
		       or_dash(ck->command));
		if (!verbose)
			continue;
		printf("       check %s: %s", or_dash(ck->health_path),
		       or_dash(r->detail));
		if (r->connect_us >= 0)
			printf("; connected in %.1f ms", ms(r->connect_us));
		if (r->response_us >= 0)
			printf(", answered in %.1f ms", ms(r->response_us));
		printf("\n");
	}
	printf("%zu of %zu healthy, checked in %.0f ms\n", healthy, l->nr,
	       ms(elapsed_us));
}

/* status --health-check; 'timeout_ms' -1 for the default */
static int status_health(const struct global_opts *g, const char *worktree,
			 bool all, int timeout_ms, bool verbose,
			 struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct checked_list l = CHECKED_LIST_INIT;
	struct config_cache cc = CONFIG_CACHE_INIT;
	size_t i, healthy = 0;
	long start;
	int ret;

	if (timeout_ms < 0)
		timeout_ms = DEFAULT_CHECK_MS;
	ret = session_start(&s, all ? NULL : &t, g->registry, worktree, 0, err);
	if (ret < 0)
		goto out;
	for (i = 0; i < s.reg->nr_allocs; i++) {
		const struct allocation *a = &s.reg->allocs[i];

		if (!all && strcmp(a->worktree, t.name))
			continue;
		checked_list_add(&l, a, all ? a->path : t.path, &cc);
	}
	checked_list_sort(&l);
	/* nobody waits on the lock while the network is asked */
	session_unlock(&s);

	start = (long)monotonic_us();
	ret = checked_list_run(&l, timeout_ms, &s, err);
	if (ret < 0)
		goto out;
	ret = checked_list_write_back(&s, &l, err);
	if (ret < 0)
		goto out;
	for (i = 0; i < l.nr; i++)
		healthy += l.items[i].result.status == HEALTH_HEALTHY;
	print_checked(g, verbose, &s, &l, (long)monotonic_us() - start,
		      timeout_ms, healthy);
	if (healthy < l.nr)
		ret = error_set(err, ERR_UNHEALTHY, NULL, 0, NULL,
				"%zu of %zu checked services are not healthy",
				l.nr - healthy, l.nr);
out:
	config_cache_release(&cc);
	checked_list_release(&l);
	target_release(&t);
	session_release(&s);
	return ret;
}

static const char *const status_usage[] = {
	"git worktree-ports status [--all | --worktree <name>]\n"
	"                          [--health-check [--timeout <seconds>] [-v]]",
	"",
	"Show this worktree's ports, or all of them grouped by range with the",
	"free ports of each range.",
	NULL,
};

int cmd_status(int argc, const char **argv, struct global_opts *g,
	       struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct row *rows = NULL;
	bool all = false, health_check = false, verbose = false;
	const char *worktree = NULL;
	int timeout_ms = -1;
	struct option options[] = {
		OPT_BOOL(0, "all", &all, "every worktree"),
		OPT_STRING(0, "worktree", &worktree, "name",
			   "another worktree"),
		OPT_BOOL(0, "health-check", &health_check,
			 "check every port at once: listening, the process\n"
			 "holding it, the answer to its health path; exit 9\n"
			 "unless all are healthy"),
		OPT_TIMEOUT("timeout", &timeout_ms,
			    "for the whole check (default 2)"),
		OPT_BOOL('v', "verbose", &verbose,
			 "with the check: why, and how long each took"),
		OPT_END(),
	};
	size_t nr;
	int ret;

	argc = cli_parse_options(argc, argv, status_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc)
		return cli_usage_error(status_usage, options,
				       "'status' takes no arguments, got '%s'",
				       argv[0]);
	if (all && worktree) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"--all and --worktree cannot be used together");
		return ret;
	}
	if (health_check)
		return status_health(g, worktree, all, timeout_ms, verbose,
				     err);
	if (timeout_ms >= 0 || verbose) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"--timeout and --verbose go with --health-check");
		return ret;
	}
	ret = session_start(&s, all ? NULL : &t, g->registry, worktree, 0, err);
	if (ret < 0)
		goto out;
	nr = collect_rows(&rows, s.reg, all ? NULL : t.name);
	if (g->json)
		print_json(&s, rows, nr, all, all ? s.repo->name : t.name);
	else if (all)
		print_all(&s, rows, nr);
	else
		print_one(&t, rows, nr);
out:
	free(rows);
	target_release(&t);
	session_release(&s);
	timing_mark("total");
	return ret;
}

static const char *const env_usage[] = {
	"git worktree-ports env [--format <format>] [--worktree <name>]",
	"",
	"Print this worktree's variables, e.g. for",
	"    eval \"$(git worktree-ports env --format sh)\"",
	NULL,
};

/*
 * A service the worktree's .worktree-ports.ini declares that has no port
 * yet (before any sync, or one that failed): what env printed is not the
 * whole set, which a script must hear about.
 */
static int missing_ports(const struct session *s, const struct target *t,
			 const struct config *c, struct error *err)
{
	struct sbuf names = SBUF_INIT;
	size_t i, n = 0;
	int ret = 0;

	for (i = 0; c && i < c->nr_services; i++) {
		if (registry_find(s->reg, t->name, c->services[i].name) >= 0)
			continue;
		sbuf_addf(&names, "%s%s", n++ ? ", " : "", c->services[i].var);
	}
	if (n) {
		ret = error_set(err, ERR_NOTFOUND, NULL, 0, NULL,
				"worktree '%s' has no port yet for %s, which %s declares",
				t->name, names.buf, CONFIG_FILE);
		error_hint(err, "run 'git worktree-ports sync' there first");
	}
	sbuf_release(&names);
	return ret;
}

int cmd_env(int argc, const char **argv, struct global_opts *g,
	    struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct env_list vars = ENV_LIST_INIT;
	struct sbuf value = SBUF_INIT;
	struct jsonw w = JSONW_INIT;
	const char *format = "dotenv";
	const char *worktree = NULL;
	struct option options[] = {
		OPT_STRING(0, "format", &format, "format",
			   "dotenv (the default), sh or json"),
		OPT_STRING(0, "worktree", &worktree, "name",
			   "the variables of another worktree"),
		OPT_END(),
	};
	struct config *c = NULL;
	size_t i;
	int ret;

	argc = cli_parse_options(argc, argv, env_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc)
		return cli_usage_error(env_usage, options,
				       "'env' takes no arguments, got '%s'",
				       argv[0]);
	if (g->json)
		format = "json";
	if (strcmp(format, "dotenv") && strcmp(format, "sh") &&
	    strcmp(format, "json")) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"unknown format '%s'", format);
		error_hint(err, "use --format dotenv, sh or json");
		return ret;
	}
	ret = session_start(&s, &t, g->registry, worktree, 0, err);
	if (ret < 0)
		goto out;
	if (t.path) {
		ret = config_load(&c, t.path, err);
		if (ret == ERR_NOTFOUND) {
			error_clear(err);
			ret = 0;
		}
		if (ret < 0)
			goto out;
		for (i = 0; c && i < c->nr_warnings; i++)
			warning("%s", c->warnings[i]);
	}
	wtenv_build(&vars, &s, &t, c);
	if (!strcmp(format, "sh"))
		printf("# for one command or a script: exported into a long-lived shell, these\n"
		       "# override every other worktree's .env (compose and dotenv let the\n"
		       "# environment win); see 'Per-directory environment' in the README\n");
	if (!strcmp(format, "json"))
		jsonw_object_begin(&w, NULL);
	for (i = 0; i < vars.nr; i++) {
		const struct envfile_var *v = &vars.vars[i];

		sbuf_reset(&value);
		if (!strcmp(format, "json")) {
			jsonw_string(&w, v->name, v->value);
		} else if (!strcmp(format, "sh")) {
			/* values never hold a quote: config and envfile refuse it */
			printf("export %s='%s'\n", v->name, v->value);
		} else {
			envfile_quote(&value, v->value);
			printf("%s=%s\n", v->name, value.buf);
		}
	}
	if (!strcmp(format, "json")) {
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
	}
	ret = missing_ports(&s, &t, c, err);
out:
	jsonw_release(&w);
	sbuf_release(&value);
	env_list_release(&vars);
	config_free(c);
	target_release(&t);
	session_release(&s);
	return ret;
}
