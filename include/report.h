#ifndef WTP_REPORT_H
#define WTP_REPORT_H

/*
 * report: the JSON shapes of --json (docs/json.md), one function per
 * concept, so that an allocation looks the same whichever command
 * prints it.
 *
 *	jsonw_object_begin(&w, NULL);
 *	report_allocation(&w, a, r ? r->name : NULL);
 *	jsonw_bool(&w, "new", fresh);       (what this command adds)
 *	jsonw_object_end(&w);
 */

struct allocation;
struct jsonw;
struct released;

/*
 * The members of an allocation, into the object 'w' has open: port,
 * worktree, path, service, range ('range', the name of the range it
 * resolves to, or else its own "range" field), description,
 * allocated_at, allocated_by, process_id, health_status,
 * health_checked_at; what is unknown is null.
 */
void report_allocation(struct jsonw *w, const struct allocation *a,
		       const char *range);

/* report_allocation() of what a released allocation was. */
void report_released(struct jsonw *w, const struct released *r);

#endif
