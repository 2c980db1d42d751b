#include "common.h"
#include "actlog.h"
#include "builtin.h"
#include "parse-options.h"
#include "session.h"
#include "config.h"
#include "error.h"
#include "checked.h"
#include "health.h"
#include "jsonw.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"
#include "alloc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

#define DEFAULT_WAIT_MS 60000
#define MIN_ATTEMPT_MS 50

static const char *const wait_usage[] = {
	"git worktree-ports wait <service> [--timeout <seconds>]\n"
	"                        [--worktree <name>]",
	"",
	"Wait until this worktree's <service> is healthy, checking again with a",
	"growing pause; exit 9 with the last status seen at the timeout.",
	NULL,
};

int cmd_wait(int argc, const char **argv, struct global_opts *g,
	     struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct checked_list l = CHECKED_LIST_INIT;
	struct config_cache cc = CONFIG_CACHE_INIT;
	int total_ms = DEFAULT_WAIT_MS;
	const char *worktree = NULL;
	struct option options[] = {
		OPT_TIMEOUT("timeout", &total_ms,
			    "give up after this long (default 60)"),
		OPT_STRING(0, "worktree", &worktree, "name",
			   "wait for a service of another worktree"),
		OPT_END(),
	};
	long deadline, pause = 50, left;
	const char *service;
	long k;
	int ret;

	argc = cli_parse_options(argc, argv, wait_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (!argc)
		return cli_usage_error(wait_usage, options,
				       "'wait' needs a <service>");
	if (argc > 1)
		return cli_usage_error(
			wait_usage, options,
			"'wait' takes one <service>, got '%s' too", argv[1]);
	service = argv[0];
	ret = session_start(&s, &t, g->registry, worktree, 0, err);
	if (ret < 0)
		goto out;
	k = registry_find(s.reg, t.name, service);
	if (k < 0) {
		ret = error_set(err, ERR_NOTFOUND, NULL, 0, NULL,
				"worktree '%s' has no port for '%s'", t.name,
				service);
		error_hint(err, "allocate one with 'git worktree-ports allocate %s', or run 'git worktree-ports sync'",
			   service);
		goto out;
	}
	checked_list_add(&l, &s.reg->allocs[k], t.path, &cc);
	session_unlock(&s);

	deadline = (long)monotonic_us() / 1000 + total_ms;
	for (;;) {
		left = deadline - (long)monotonic_us() / 1000;
		/* one attempt may take up to a second of what is left */
		ret = checked_list_run(&l,
				       (int)(left < 1000 ? (left > 0 ? left : 0) :
							   1000),
				       &s, err);
		if (ret < 0)
			goto out;
		if (l.items[0].result.status == HEALTH_HEALTHY)
			break;
		left = deadline - (long)monotonic_us() / 1000;
		/*
		 * Too little time left for another real attempt: keep what
		 * the last one saw ("HTTP 500"), not "timed out after 0 ms".
		 */
		if (left <= MIN_ATTEMPT_MS)
			break;
		sleep_ms(pause < left - MIN_ATTEMPT_MS ? pause :
							  left - MIN_ATTEMPT_MS);
		if (pause < 1000)
			pause *= 2;
		free(l.items[0].command);
		l.items[0].command = NULL;
		free(l.items[0].addresses);
		l.items[0].addresses = NULL;
		l.items[0].pid = ALLOCATION_NO_PID;
	}
	ret = checked_list_write_back(&s, &l, err);
	if (ret < 0)
		goto out;
	if (l.items[0].result.status != HEALTH_HEALTHY) {
		ret = error_set(err, ERR_UNHEALTHY, NULL, 0, NULL,
				"'%s' (port %u) is not healthy after %.1f s: %s (%s)",
				service, l.items[0].port, total_ms / 1000.0,
				health_status_name(l.items[0].result.status),
				l.items[0].result.detail);
		goto out;
	}
	if (g->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		jsonw_array_begin(&w, "allocations");
		checked_json(&w, &l.items[0]);
		jsonw_array_end(&w);
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
		jsonw_release(&w);
	} else if (!g->quiet) {
		printf("'%s' is healthy on port %u\n", text_printable(service),
		       l.items[0].port);
	}
out:
	config_cache_release(&cc);
	checked_list_release(&l);
	target_release(&t);
	session_release(&s);
	return ret;
}
