#include "common.h"
#include "alloc.h"
#include "cmd.h"
#include "picker.h"
#include "session.h"
#include "actlog.h"
#include "error.h"
#include "jsonw.h"
#include "peers.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static void print_result(const struct cmd_opts *o, const struct allocation *a,
			 const struct range *r, bool fresh)
{
	if (o->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		jsonw_int(&w, "port", a->port);
		jsonw_string(&w, "service", a->service);
		jsonw_string(&w, "worktree", a->worktree);
		jsonw_string(&w, "path", a->path);
		jsonw_string(&w, "range", r->name);
		jsonw_bool(&w, "new", fresh);
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
		jsonw_release(&w);
	} else if (o->quiet) {
		printf("%u\n", a->port);
	} else if (fresh) {
		printf("allocated port %u to '%s' in worktree '%s'\n", a->port,
		       text_printable(a->service), text_printable(a->worktree));
	} else {
		printf("port %u is allocated to '%s' in worktree '%s'\n",
		       a->port, text_printable(a->service),
		       text_printable(a->worktree));
	}
}

int cmd_allocate(const struct cmd_opts *o, struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	const char *service = o->args[0];
	size_t i = 0;
	bool fresh;
	int ret;

	if (!alloc_valid_name(service)) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid service name '%s'", service);
		error_hint(err, "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
		return ret;
	}
	ret = session_open(&s, o->registry, 0, err);
	if (ret < 0)
		goto out;
	ret = session_target(&t, &s, o->worktree, err);
	if (ret < 0)
		goto out;
	ret = picker_allocate(&s, &pk, &t, service, NULL, o->description,
			       o->has_port ? &o->port : NULL, &i, &fresh, err);
	if (ret < 0)
		goto out;
	ret = session_finish(&s, err);
	if (!ret)
		print_result(o, &s.reg->allocs[i],
			     registry_range_for(s.reg, s.reg->allocs[i].service,
						s.reg->allocs[i].range),
			     fresh);
out:
	picker_release(&pk);
	target_release(&t);
	session_release(&s);
	timing_mark("total");
	return ret;
}
