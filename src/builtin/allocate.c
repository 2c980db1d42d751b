#include "common.h"
#include "alloc.h"
#include "builtin.h"
#include "config.h"
#include "picker.h"
#include "session.h"
#include "actlog.h"
#include "error.h"
#include "jsonw.h"
#include "report.h"
#include "parse-options.h"
#include "peers.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"
#include "wtenv.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static void print_result(const struct global_opts *g,
			 const struct allocation *a, const struct range *r,
			 bool fresh)
{
	if (g->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		report_allocation(&w, a, r ? r->name : NULL);
		jsonw_bool(&w, "new", fresh);
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
		jsonw_release(&w);
	} else if (g->quiet) {
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

/*
 * The range .worktree-ports.ini of the worktree at 'top' gives 'service',
 * or NULL (no such file, no range there, or a file that cannot be used:
 * sync says what is wrong with it). '*c' keeps the string.
 */
static const char *config_range(struct session *s, struct config **c,
				const char *top, const char *service)
{
	struct error ignored = ERROR_INIT;
	const struct config_service *svc;

	if (!top || config_load(c, top, &ignored) < 0)
		return NULL;
	wtenv_add_ranges(s, *c);
	svc = config_find_service(*c, service);
	return svc ? svc->range : NULL;
}

static const char *const allocate_usage[] = {
	"git worktree-ports allocate <service> [<options>]",
	"",
	"Give this worktree (or <name>) a port for <service> and print it. The",
	"same worktree and service always get their existing port back.",
	NULL,
};

int cmd_allocate(int argc, const char **argv, struct global_opts *g,
		 struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	const char *service;
	const char *worktree = NULL, *description = NULL, *range = NULL;
	struct config *c = NULL;
	uint16_t port = 0;
	struct option options[] = {
		OPT_PORT("port", &port,
			 "ask for this port; refused if it is taken"),
		OPT_STRING(0, "range", &range, "name",
			   "take a new port from this range (default: the one\n.worktree-ports.ini gives the service, else the\nservice's own, else 'default')"),
		OPT_STRING(
			0, "worktree", &worktree, "name",
			"allocate for another worktree\n('.main': the main one)"),
		OPT_STRING(0, "description", &description, "text",
			   "what the port is for"),
		OPT_BOOL('q', "quiet", &g->quiet, "print only the port number"),
		OPT_END(),
	};
	size_t i = 0;
	bool fresh;
	int ret;

	argc = cli_parse_options(argc, argv, allocate_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (!argc)
		return cli_usage_error(allocate_usage, options,
				       "'allocate' needs a <service>");
	if (argc > 1)
		return cli_usage_error(
			allocate_usage, options,
			"'allocate' takes one <service>, got '%s' too",
			argv[1]);
	service = argv[0];
	if (!alloc_valid_name(service)) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid service name '%s'", service);
		error_hint(err, "use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
		return ret;
	}
	ret = session_open(&s, g->registry, 0, err);
	if (ret < 0)
		goto out;
	ret = session_target(&t, &s, worktree, err);
	if (ret < 0)
		goto out;
	if (range && !alloc_valid_name(range)) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"invalid range name '%s'", range);
		goto out;
	}
	/* a new port comes from the range the project gives the service */
	if (!range && registry_find(s.reg, t.name, service) < 0)
		range = config_range(&s, &c, t.path, service);
	ret = picker_allocate(&s, &pk, &t, service, range, description,
			      port ? &port : NULL, &i, &fresh, err);
	if (ret < 0)
		goto out;
	ret = session_finish(&s, err);
	if (ret < 0)
		goto out;
	print_result(g, &s.reg->allocs[i],
		     registry_range_for(s.reg, s.reg->allocs[i].service,
					s.reg->allocs[i].range),
		     fresh);
	if (fresh)
		wtenv_refresh(&s, t.name, t.path, g->quiet || g->json);
out:
	config_free(c);
	picker_release(&pk);
	target_release(&t);
	session_release(&s);
	timing_mark("total");
	return ret;
}
