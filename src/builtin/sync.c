#include "common.h"
#include "alloc.h"
#include "builtin.h"
#include "hooks.h"
#include "wtenv.h"
#include "picker.h"
#include "session.h"
#include "actlog.h"
#include "config.h"
#include "envfile.h"
#include "error.h"
#include "jsonw.h"
#include "report.h"
#include "parse-options.h"
#include "registry.h"
#include "sbuf.h"
#include "wt.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Release the worktree's ports of services the config no longer has. */
static void release_undeclared(struct session *s, const struct target *t,
			       const struct config *c)
{
	size_t i;

	for (i = s->reg->nr_allocs; i-- > 0;) {
		const struct allocation *a = &s->reg->allocs[i];

		if (strcmp(a->worktree, t->name) ||
		    config_find_service(c, a->service))
			continue;
		note("released port %u ('%s'): %s no longer declares it",
			 a->port, a->service, CONFIG_FILE);
		session_log(s, "release", a->worktree, a->service, a->port,
			    ACTLOG_NONE, "no longer declared in " CONFIG_FILE);
		registry_remove(s->reg, i);
		s->dirty = true;
	}
}

/*
 * A service that cannot get its port (a full range, a port held, a range
 * the registry lacks) does not stop the others.
 */
static bool per_service(int code)
{
	return code == ERR_FULL || code == ERR_TAKEN || code == ERR_NOTFOUND;
}

/*
 * Say which service of which worktree got no port, and leave a comment
 * line for it in the block: "# PORT_DB is not set: no free port ...".
 */
static void missing(struct env_list *notes, const struct target *t,
		    const struct config_service *svc, const struct error *e)
{
	struct sbuf line = SBUF_INIT;
	const char *p;

	warning("worktree '%s': no port for service '%s' (%s): %s", t->name,
		svc->name, svc->var, e->msg);
	if (e->hint[0])
		hint("%s", e->hint);
	sbuf_addf(&line, "%s is not set: ", svc->var);
	/* one printable ASCII line, as a comment of the block must be */
	for (p = e->msg; *p; p++)
		sbuf_addch(&line, (unsigned char)*p < 0x20 ||
					  (unsigned char)*p > 0x7e ?
				  '?' :
				  *p);
	env_list_add(notes, line.buf, NULL);
	sbuf_release(&line);
}

static void print_sync(const struct global_opts *g, const struct session *s,
		       const struct target *t, const struct env_list *vars,
		       const struct env_written *files, size_t nr_files,
		       const bool *fresh, const struct config *c,
		       char *const *why)
{
	struct jsonw w = JSONW_INIT;
	size_t i;
	long k;

	if (g->json) {
		jsonw_object_begin(&w, NULL);
		jsonw_string(&w, "worktree", t->name);
		jsonw_array_begin(&w, "services");
		for (i = 0; i < c->nr_services; i++) {
			k = registry_find(s->reg, t->name, c->services[i].name);
			jsonw_object_begin(&w, NULL);
			if (k >= 0) {
				report_allocation(&w, &s->reg->allocs[k], NULL);
			} else {
				jsonw_null(&w, "port");
				jsonw_string(&w, "service", c->services[i].name);
				jsonw_string(&w, "error", why[i]);
			}
			jsonw_string(&w, "var", c->services[i].var);
			jsonw_bool(&w, "new", fresh[i]);
			jsonw_object_end(&w);
		}
		jsonw_array_end(&w);
		jsonw_object_begin(&w, "env");
		for (i = 0; i < vars->nr; i++)
			jsonw_string(&w, vars->vars[i].name,
				     vars->vars[i].value);
		jsonw_object_end(&w);
		jsonw_array_begin(&w, "files");
		for (i = 0; i < nr_files; i++) {
			jsonw_object_begin(&w, NULL);
			jsonw_string(&w, "file", files[i].file);
			jsonw_bool(&w, "changed", files[i].changed);
			jsonw_object_end(&w);
		}
		jsonw_array_end(&w);
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
		jsonw_release(&w);
		return;
	}
	if (g->quiet)
		return;
	if (hooks_in_hook()) {
		struct sbuf line = SBUF_INIT;

		for (i = 0; i < c->nr_services; i++) {
			k = registry_find(s->reg, t->name, c->services[i].name);
			if (k >= 0)
				sbuf_addf(&line, "%s%s=%u", i ? " " : "",
					  c->services[i].var,
					  s->reg->allocs[k].port);
		}
		for (i = 0; i < nr_files; i++)
			if (files[i].changed)
				sbuf_addf(&line, "%s%s", line.len ? ", " : "",
					  files[i].file);
		fprintf(stderr, "git-worktree-ports: %s\n", line.buf);
		sbuf_release(&line);
		return;
	}
	for (i = 0; i < c->nr_services; i++) {
		k = registry_find(s->reg, t->name, c->services[i].name);
		if (k >= 0)
			printf("%s=%u%s\n", c->services[i].var,
			       s->reg->allocs[k].port, fresh[i] ? " (new)" : "");
	}
	for (i = 0; i < nr_files; i++)
		printf("%s %s\n", files[i].changed ? "wrote" : "unchanged",
		       files[i].file);
}

static const char *const sync_usage[] = {
	"git worktree-ports sync [--worktree <name>]",
	"",
	"Allocate every service .worktree-ports.ini declares for this worktree,",
	"release the ports of services it no longer declares, and write the",
	"variables into the worktree's .env files. The post-checkout hook runs it.",
	NULL,
};

int cmd_sync(int argc, const char **argv, struct global_opts *g,
	     struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	struct env_list vars = ENV_LIST_INIT;
	struct config *c = NULL;
	struct env_written *files = NULL;
	struct env_list notes = ENV_LIST_INIT;
	bool *fresh = NULL;
	char **why = NULL;
	int partial = 0;
	const char *worktree = NULL;
	struct option options[] = {
		OPT_STRING(0, "worktree", &worktree, "name",
			   "set up another worktree"),
		OPT_END(),
	};
	struct stat st;
	size_t i, idx;
	int ret;

	argc = cli_parse_options(argc, argv, sync_usage, options, g, err);
	if (argc < 0)
		return argc;
	if (argc)
		return cli_usage_error(sync_usage, options,
				       "'sync' takes no arguments, got '%s'",
				       argv[0]);
	ret = session_open(&s, g->registry, SESSION_NO_LOAD, err);
	if (ret < 0)
		goto out;
	ret = session_target(&t, &s, worktree, err);
	if (ret < 0)
		goto out;
	if (!t.path) {
		ret = error_set(err, ERR_NOTFOUND, NULL, 0, NULL,
				"git does not know where worktree '%s' is",
				t.name);
		goto out;
	}
	ret = config_load(&c, t.path, err);
	if (ret == ERR_NOTFOUND) {
		if (hooks_in_hook()) {
			error_clear(err);
			ret = 0;
			goto out;
		}
		error_clear(err);
		ret = error_set(err, ERR_NOTFOUND, t.path, 0, NULL,
				"no %s in this worktree", CONFIG_FILE);
		error_hint(err, "declare the services it needs there; see docs/config.md");
		goto out;
	}
	if (ret < 0)
		goto out;
	for (i = 0; i < c->nr_warnings; i++)
		warning("%s", c->warnings[i]);
	/* a repository that never ran init is none of the hook's business */
	if (hooks_in_hook() && stat(s.registry_path, &st) < 0 &&
	    errno == ENOENT && !session_has_copy(&s))
		goto out;
	ret = session_load(&s, 0, err);
	if (ret < 0)
		goto out;

	wtenv_add_ranges(&s, c);
	fresh = xcalloc(c->nr_services + 1, sizeof(*fresh));
	why = xcalloc(c->nr_services + 1, sizeof(*why));
	for (i = 0; i < c->nr_services; i++) {
		const struct config_service *svc = &c->services[i];
		struct error one = ERROR_INIT;
		int r;

		r = picker_allocate(&s, &pk, &t, svc->name, svc->range,
				    svc->description, NULL, &idx, &fresh[i],
				    &one);
		if (r < 0 && !per_service(r)) {
			*err = one;
			ret = r;
			goto out;
		}
		if (r < 0) {
			/* the others still get theirs, and the file says so */
			missing(&notes, &t, svc, &one);
			why[i] = xstrdup(one.msg);
			if (!partial)
				partial = r;
		}
	}
	release_undeclared(&s, &t, c);
	ret = session_finish(&s, err);
	picker_release(&pk);
	if (ret < 0)
		goto out;

	ret = wtenv_write(&s, &t, c, &vars, &notes, &files, err);
	if (ret < 0)
		goto out;
	print_sync(g, &s, &t, &vars, files, c->nr_env_files, fresh, c, why);
	if (partial) {
		/* said per service above: the status is the first failure's */
		error_clear(err);
		ret = partial;
	}
out:
	if (why)
		for (i = 0; i < c->nr_services; i++)
			free(why[i]);
	free(why);
	env_list_release(&notes);
	free(files);
	free(fresh);
	env_list_release(&vars);
	config_free(c);
	picker_release(&pk);
	target_release(&t);
	session_release(&s);
	timing_mark("total");
	return ret;
}
