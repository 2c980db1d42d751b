#include "common.h"
#include "cmd.h"
#include "session.h"
#include "error.h"
#include "jsonw.h"
#include "registry.h"
#include "sbuf.h"
#include "text.h"

#include <stdio.h>

static void take(struct released_list *out, struct session *s, size_t i)
{
	released_list_add(out, &s->reg->allocs[i]);
	registry_remove(s->reg, i);
	s->dirty = true;
}

static void print_released(const struct cmd_opts *o,
			   const struct released_list *l, bool dry_run,
			   bool prune)
{
	size_t i;

	if (o->json) {
		struct jsonw w = JSONW_INIT;

		jsonw_object_begin(&w, NULL);
		if (prune)
			jsonw_bool(&w, "dry_run", dry_run);
		jsonw_array_begin(&w, "released");
		for (i = 0; i < l->nr; i++) {
			jsonw_object_begin(&w, NULL);
			jsonw_int(&w, "port", l->items[i].port);
			jsonw_string(&w, "service", l->items[i].service);
			jsonw_string(&w, "worktree", l->items[i].worktree);
			jsonw_object_end(&w);
		}
		jsonw_array_end(&w);
		jsonw_object_end(&w);
		fputs(w.out.buf, stdout);
		jsonw_release(&w);
		return;
	}
	if (o->quiet)
		return;
	for (i = 0; i < l->nr; i++)
		printf("%s port %u ('%s') of %sworktree '%s'\n",
		       dry_run ? "would release" : "released",
		       l->items[i].port, text_printable(l->items[i].service),
		       prune ? "removed " : "",
		       text_printable(l->items[i].worktree));
}

int cmd_release(const struct cmd_opts *o, struct error *err)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct released_list done = RELEASED_LIST_INIT;
	long i;
	int n, ret;

	if (!o->nr_args && !o->has_port && !o->all) {
		ret = error_set(err, ERR_USAGE, NULL, 0, NULL,
				"nothing to release");
		error_hint(err, "name the services, or use --port <port> or --all");
		return ret;
	}
	ret = session_open(&s, o->registry, 0, err);
	if (ret < 0)
		goto out;
	if (o->nr_args || o->all || o->worktree) {
		ret = session_target(&t, &s, o->worktree, err);
		if (ret < 0)
			goto out;
	}
	for (n = 0; n < o->nr_args; n++) {
		i = registry_find(s.reg, t.name, o->args[n]);
		if (i < 0)
			warning("worktree '%s' has no port for '%s'",
				    t.name, o->args[n]);
		else
			take(&done, &s, (size_t)i);
	}
	if (o->has_port) {
		i = registry_find_port(s.reg, o->port);
		if (i >= 0 && t.name && strcmp(s.reg->allocs[i].worktree, t.name))
			warning("port %u belongs to worktree '%s', not '%s'",
				    o->port, s.reg->allocs[i].worktree, t.name);
		else if (i < 0)
			warning("port %u is not allocated", o->port);
		else
			take(&done, &s, (size_t)i);
	}
	if (o->all) {
		for (i = (long)s.reg->nr_allocs; i-- > 0;)
			if (!strcmp(s.reg->allocs[i].worktree, t.name))
				take(&done, &s, (size_t)i);
	}
	session_log_released(&s, "release", &done, NULL);
	ret = session_finish(&s, err);
	if (ret < 0)
		goto out;
	if (!done.nr) {
		ret = error_set(err, ERR_NOTFOUND, NULL, 0, NULL,
				"nothing was released");
		if (o->all)
			error_hint(err, "worktree '%s' holds no ports",
				   t.name);
		goto out;
	}
	print_released(o, &done, false, false);
out:
	released_list_release(&done);
	target_release(&t);
	session_release(&s);
	return ret;
}

int cmd_prune(const struct cmd_opts *o, struct error *err)
{
	struct session s = SESSION_INIT;
	struct released_list gone = RELEASED_LIST_INIT;
	int ret;

	ret = session_open(&s, o->registry, SESSION_NO_AUTORELEASE, err);
	if (ret < 0)
		goto out;
	ret = session_autorelease(&s, o->dry_run, &gone, err);
	if (ret < 0)
		goto out;
	if (!o->dry_run)
		session_log_released(&s, "prune", &gone, "worktree is gone");
	ret = session_finish(&s, err);
	if (ret < 0)
		goto out;
	print_released(o, &gone, o->dry_run, true);
	if (!gone.nr && !o->json && !o->quiet)
		printf("nothing to prune\n");
out:
	released_list_release(&gone);
	session_release(&s);
	return ret;
}
