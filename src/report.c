#include "common.h"
#include "report.h"
#include "jsonw.h"
#include "registry.h"
#include "session.h"

void report_allocation(struct jsonw *w, const struct allocation *a,
		       const char *range)
{
	jsonw_int(w, "port", a->port);
	jsonw_string(w, "worktree", a->worktree);
	jsonw_string(w, "path", a->path);
	jsonw_string(w, "service", a->service);
	jsonw_string(w, "range", range ? range : a->range);
	jsonw_string(w, "description", a->description);
	jsonw_string(w, "allocated_at", a->allocated_at);
	jsonw_string(w, "allocated_by", a->allocated_by);
	jsonw_int_or_null(w, "process_id", a->process_id, ALLOCATION_NO_PID);
	jsonw_string(w, "health_status", a->health_status);
	jsonw_string(w, "health_checked_at", a->health_checked_at);
}

void report_released(struct jsonw *w, const struct released *r)
{
	report_allocation(w, &r->a, NULL);
}
