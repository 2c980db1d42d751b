#include "common.h"
#include "misfit.h"
#include "actlog.h"
#include "error.h"
#include "probe.h"
#include "registry.h"
#include "sbuf.h"
#include "session.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define UNIT_SCRATCH
#include "unit.h"

/*
 * The misfit survey on a registry parsed from text and listener tables
 * built by hand (misfit_survey_listeners()), so that who listens where is
 * fixed by the test. The worktrees' directories are real, in a fresh
 * directory per test that also holds $XDG_STATE_HOME with the list of the
 * host's registries. Every process is made up, with ppid 0: ownership
 * (owner.h) is decided by a process's own directory alone.
 */

static char *saved_state;


static void make_dir(const char *rel)
{
	assert_int_equal(0, mkdir(at(rel), 0755));
}

/* The listeners of a test, and the strings they point to. */
#define MAX_LISTENERS 16
static struct probe_listener ls[MAX_LISTENERS];
static struct probe_proc procs[MAX_LISTENERS];
static size_t nr_ls;
static char *strings[4 * MAX_LISTENERS];
static size_t nr_strings;

static char *keep(const char *s)
{
	assert_true(nr_strings < ARRAY_SIZE(strings));
	return strings[nr_strings++] = xstrdup(s);
}

/* A socket listening on 'port', of 'uid', with no process to be seen. */
static struct probe_listener *add_socket(uint16_t port, unsigned uid,
					 const char *user)
{
	struct probe_listener *l;

	assert_true(nr_ls < MAX_LISTENERS);
	l = &ls[nr_ls++];
	memset(l, 0, sizeof(*l));
	l->family = AF_INET;
	l->address = "127.0.0.1";
	l->port = port;
	l->inode = 1000 + nr_ls;
	l->uid = uid;
	l->user = keep(user);
	return l;
}

/*
 * A socket on 'port' held by process 'pid' of our own user, running
 * 'cmdline' in 'cwd' (relative to 'root' unless absolute; NULL: not
 * readable); 'exe' may be NULL.
 */
static void add_process(uint16_t port, long pid, const char *cmdline,
			const char *cwd, const char *exe)
{
	struct probe_listener *l = add_socket(port, getuid(), "me");
	struct probe_proc *p = &procs[nr_ls - 1];

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->ppid = 0;
	p->uid = getuid();
	p->user = l->user;
	p->cmdline = keep(cmdline);
	p->cwd = cwd ? keep(*cwd == '/' ? cwd : at(cwd)) : NULL;
	p->exe = exe ? keep(exe) : NULL;
	l->procs = p;
	l->nr_procs = 1;
}

static struct session s;
static struct released_list gone;
static struct misfit_list out;

/*
 * The registry of the tests. The comments say what the survey must find
 * with the listeners of add_listeners() and "gone" gone.
 */
static const char allocs_text[] =
	/* 0, 1: a worktree that is gone: nothing, whatever is wrong */
	"{\"port\": 8083, \"worktree\": \"gone\", \"path\": \"@/gone\", "
	"\"service\": \"web\"},\n"
	"{\"port\": 9999, \"worktree\": \"gone\", \"service\": \"x\"},\n"
	/* 2: outside its range */
	"{\"port\": 8095, \"worktree\": \"a\", \"path\": \"@/wt-a\", "
	"\"service\": \"web\"},\n"
	/* 3: a port browsers refuse, in its range */
	"{\"port\": 6000, \"worktree\": \"a\", \"path\": \"@/wt-a\", "
	"\"service\": \"x11\"},\n"
	/* 4: reserved */
	"{\"port\": 8085, \"worktree\": \"a\", \"path\": \"@/wt-a\", "
	"\"service\": \"web2\", \"range\": \"web\"},\n"
	/* 5, 6: one port twice: the first keeps it */
	"{\"port\": 8081, \"worktree\": \"b\", \"path\": \"@/wt-b\", "
	"\"service\": \"web\"},\n"
	"{\"port\": 8081, \"worktree\": \"c\", \"path\": \"@/wt-c\", "
	"\"service\": \"web\"},\n"
	/* 7: a process outside the worktree listens */
	"{\"port\": 8082, \"worktree\": \"c\", \"path\": \"@/wt-c\", "
	"\"service\": \"api\", \"range\": \"web\"},\n"
	/* 8: a process inside it listens */
	"{\"port\": 8083, \"worktree\": \"b\", \"path\": \"@/wt-b\", "
	"\"service\": \"api\", \"range\": \"web\"},\n"
	/* 9: a socket of root's, no process visible: cannot tell */
	"{\"port\": 8084, \"worktree\": \"b\", \"path\": \"@/wt-b\", "
	"\"service\": \"db\", \"range\": \"web\"},\n"
	/* 10: another user's socket */
	"{\"port\": 8088, \"worktree\": \"c\", \"path\": \"@/wt-c\", "
	"\"service\": \"other\", \"range\": \"web\"},\n"
	/* 11: docker-proxy: cannot tell */
	"{\"port\": 8089, \"worktree\": \"c\", \"path\": \"@/wt-c\", "
	"\"service\": \"dock\", \"range\": \"web\"},\n"
	/* 12: another registry of this host has it */
	"{\"port\": 8080, \"worktree\": \"a\", \"path\": \"@/wt-a\", "
	"\"service\": \"front\", \"range\": \"web\"},\n"
	/* 13: nothing wrong, nothing listening */
	"{\"port\": 8087, \"worktree\": \"a\", \"path\": \"@/wt-a\", "
	"\"service\": \"ok\", \"range\": \"web\"}";

/* Append 'text' with each '@' replaced by 'root'. */
static void add_rooted(struct sbuf *sb, const char *text)
{
	const char *p;

	for (p = text; *p; p++)
		if (*p == '@')
			sbuf_addstr(sb, root);
		else
			sbuf_addch(sb, *p);
}

static void add_listeners(void)
{
	add_process(8089, 600, "/usr/bin/docker-proxy -proto tcp", "/",
		    "/usr/bin/docker-proxy");
	add_process(8082, 4242, "python3 -m http.server 8082", "elsewhere",
		    "/usr/bin/python3.11");
	add_process(8083, 4300, "npm run dev", "wt-b/sub", NULL);
	add_socket(8084, 0, "root");
	add_socket(8088, getuid() + 1000, "bob");
	/* a port no allocation has */
	add_process(7000, 4400, "nc -l 7000", "elsewhere", NULL);
}

static int setup(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct sbuf text = SBUF_INIT;
	char tmp[64];
	int ret;

	if (make_temp_dir(tmp, sizeof(tmp), "misfit") < 0 ||
	    !realpath(tmp, root))
		return -1;
	saved_state = xstrdup_or_null(getenv("XDG_STATE_HOME"));
	setenv("XDG_STATE_HOME", at("state"), 1);
	make_dir("wt-a");
	make_dir("wt-b");
	make_dir("wt-b/sub");
	make_dir("wt-c");
	make_dir("elsewhere");

	/* another registry of this host, holding 8080 */
	make_dir("state");
	make_dir("state/git-worktree-ports");
	write_file(at("other.json"),
		   "{\"ranges\": {\"web\": {\"start\": 8080, \"end\": 8089}},\n"
		   " \"allocations\": [{\"port\": 8080, \"worktree\": \".main\", "
		   "\"service\": \"web\"}]}\n");
	sbuf_addf(&text, "%s\n%s\n", at("other.json"), at("ports.json"));
	write_file(at("state/git-worktree-ports/registries"), text.buf);

	sbuf_reset(&text);
	sbuf_addstr(&text,
		    "{\"ranges\": {\"web\": {\"start\": 8080, \"end\": 8089},\n"
		    "  \"x11\": {\"start\": 6000, \"end\": 6009},\n"
		    "  \"default\": {\"start\": 10000, \"end\": 10099}},\n"
		    " \"reserved\": [{\"start\": 8085, \"end\": 8085, "
		    "\"description\": \"held for a test\"}],\n"
		    " \"allocations\": [");
	add_rooted(&text, allocs_text);
	sbuf_addstr(&text, "]}\n");
	write_file(at("ports.json"), text.buf);
	sbuf_release(&text);

	memset(&s, 0, sizeof(s));
	s.registry_path = xstrdup(at("ports.json"));
	ret = registry_load(&s.reg, s.registry_path,
			    REGISTRY_ALLOW_DUPLICATES, &err);
	if (ret) {
		print_error("registry_load: %s: %s\n", err.field, err.msg);
		return -1;
	}
	released_list_add(&gone, &s.reg->allocs[0]);
	nr_ls = 0;
	return 0;
}

static int teardown(void **state UNUSED)
{
	size_t i;

	misfit_list_release(&out);
	released_list_release(&gone);
	registry_free(s.reg);
	free(s.registry_path);
	memset(&s, 0, sizeof(s));
	for (i = 0; i < nr_strings; i++)
		free(strings[i]);
	nr_strings = 0;
	nr_ls = 0;
	rm_rf(root);
	if (saved_state)
		setenv("XDG_STATE_HOME", saved_state, 1);
	else
		unsetenv("XDG_STATE_HOME");
	free(saved_state);
	saved_state = NULL;
	unit_at_release();
	return 0;
}

static const char *kind_name(enum misfit_kind k)
{
	switch (k) {
	case MISFIT_OUTSIDE_RANGE:
		return "outside";
	case MISFIT_BAD_PORT:
		return "bad";
	case MISFIT_RESERVED:
		return "reserved";
	case MISFIT_DUPLICATE:
		return "duplicate";
	case MISFIT_PEER:
		return "peer";
	case MISFIT_FOREIGN:
		return "foreign";
	case MISFIT_ORPHAN:
		return "orphan";
	}
	return "?";
}

/* Survey, and say what was found as "INDEX:KIND ..." */
static char *survey_flags(const char *worktree, const struct released_list *g,
			  unsigned flags)
{
	struct error err = ERROR_INIT;
	struct sbuf sb = SBUF_INIT;
	size_t i;

	misfit_list_release(&out);
	assert_int_equal(0, misfit_survey_listeners(&out, &s, worktree, g, ls,
						    nr_ls, flags, &err));
	for (i = 0; i < out.nr; i++) {
		sbuf_addf(&sb, "%s%zu:%s", i ? " " : "", out.items[i].index,
			  kind_name(out.items[i].kind));
		if (out.items[i].kind != MISFIT_FOREIGN &&
		    out.items[i].kind != MISFIT_ORPHAN)
			assert_int_equal(ACTLOG_NONE, out.items[i].pid);
	}
	if (!(flags & MISFIT_STRAYS))
		assert_int_equal(0, out.nr_strays);
	return sbuf_detach(&sb);
}

static char *survey(const char *worktree, const struct released_list *g)
{
	return survey_flags(worktree, g, 0);
}

static void assert_survey(const char *expect, const char *worktree,
			  const struct released_list *g)
{
	char *got = survey(worktree, g);

	assert_string_equal(expect, got);
	free(got);
}

/* The misfit of allocation 'index' of 'kind'; it must be there. */
static const struct misfit *find(size_t index, enum misfit_kind kind)
{
	size_t i;

	for (i = 0; i < out.nr; i++)
		if (out.items[i].index == index && out.items[i].kind == kind)
			return &out.items[i];
	fail_msg("no misfit %zu:%s", index, kind_name(kind));
	return NULL;
}

static void test_every_kind(void **state UNUSED)
{
	const struct misfit *m;
	struct sbuf expect = SBUF_INIT;

	add_listeners();
	assert_survey("2:outside 3:bad 4:reserved 6:duplicate 7:foreign "
		      "10:foreign 12:peer",
		      NULL, &gone);

	assert_string_equal("outside range 'web' (8080-8089)",
			    find(2, MISFIT_OUTSIDE_RANGE)->why);
	assert_string_equal("a port browsers refuse to connect to",
			    find(3, MISFIT_BAD_PORT)->why);
	assert_string_equal("reserved (8085-8085: held for a test)",
			    find(4, MISFIT_RESERVED)->why);
	m = find(6, MISFIT_DUPLICATE);
	assert_string_equal("also allocated to 'web' of worktree 'b'", m->why);
	assert_null(m->brief);

	m = find(7, MISFIT_FOREIGN);
	assert_int_equal(4242, m->pid);
	sbuf_addf(&expect,
		  "held by pid 4242 (python3 -m http.server 8082) in %s, outside every known worktree",
		  at("elsewhere"));
	assert_string_equal(expect.buf, m->why);
	assert_string_equal("held by pid 4242 (python3)", m->brief);

	/* another user's socket: foreign, with no process to name */
	m = find(10, MISFIT_FOREIGN);
	assert_int_equal(ACTLOG_NONE, m->pid);
	sbuf_reset(&expect);
	sbuf_addf(&expect,
		  "held by user 'bob' (uid %u), whose process is not visible (run as root to see it)",
		  getuid() + 1000);
	assert_string_equal(expect.buf, m->why);

	sbuf_reset(&expect);
	sbuf_addf(&expect, "also allocated in the registry '%s'",
		  at("other.json"));
	assert_string_equal(expect.buf, find(12, MISFIT_PEER)->why);
	sbuf_release(&expect);
}

static void test_gone_worktrees_are_left_out(void **state UNUSED)
{
	add_listeners();
	/*
	 * Counted, "gone" would be outside a range with 9999, and would
	 * lose 8083 to 'api' of "b", whose process listens there.
	 */
	assert_survey("0:duplicate 1:outside 2:outside 3:bad 4:reserved "
		      "6:duplicate 7:foreign 10:foreign 12:peer",
		      NULL, NULL);
	assert_string_equal("also allocated to 'api' of worktree 'b'",
			    find(0, MISFIT_DUPLICATE)->why);
	assert_survey("", "gone", &gone);
}

static void test_duplicate_kept_by_the_listening_worktree(void **state
							  UNUSED)
{
	add_listeners();
	add_process(8081, 4500, "node server.js", "wt-c", "/usr/bin/node");
	/* "c" runs a server on 8081: "b" gives way; nobody is foreign */
	assert_survey("2:outside 3:bad 4:reserved 5:duplicate 7:foreign "
		      "10:foreign 12:peer",
		      NULL, &gone);
	assert_string_equal("also allocated to 'web' of worktree 'c'",
			    find(5, MISFIT_DUPLICATE)->why);
}

static void test_duplicate_held_by_a_stranger(void **state UNUSED)
{
	add_listeners();
	add_process(8081, 4600, "/opt/bin/other-app --port 8081", "elsewhere",
		    NULL);
	/* the first keeps it, and is the one whose port is taken */
	assert_survey("2:outside 3:bad 4:reserved 5:foreign 6:duplicate "
		      "7:foreign 10:foreign 12:peer",
		      NULL, &gone);
	assert_int_equal(4600, find(5, MISFIT_FOREIGN)->pid);
	assert_string_equal("held by pid 4600 (other-app)",
			    find(5, MISFIT_FOREIGN)->brief);
}

static void test_unreadable_directory_is_foreign(void **state UNUSED)
{
	struct sbuf expect = SBUF_INIT;

	add_process(8087, 4700, "ruby app.rb", NULL, NULL);
	assert_survey("2:outside 3:bad 4:reserved 12:peer 13:foreign", "a",
		      &gone);
	sbuf_addstr(&expect,
		    "held by pid 4700 (ruby app.rb), whose directory is not readable");
	assert_string_equal(expect.buf, find(13, MISFIT_FOREIGN)->why);
	sbuf_release(&expect);
	/* the worktree's own process is fine */
	nr_ls = 0;
	add_process(8087, 4701, "ruby app.rb", "wt-a", NULL);
	assert_survey("2:outside 3:bad 4:reserved 12:peer", "a", &gone);
}

/* The last process added: its directory was deleted. */
static void deleted_dir(void)
{
	struct probe_proc *p = &procs[nr_ls - 1];
	struct sbuf dir = SBUF_INIT;

	sbuf_addf(&dir, "%s (deleted)", p->cwd);
	p->cwd = keep(dir.buf);
	p->cwd_deleted = true;
	sbuf_release(&dir);
}

static void test_orphans(void **state UNUSED)
{
	struct sbuf expect = SBUF_INIT;
	const struct misfit *m;

	/* in a removed worktree whose directory is still there */
	make_dir("gone");
	make_dir("gone/app");
	add_process(8087, 4800, "node old.js", "gone/app", NULL);
	assert_survey("2:outside 3:bad 4:reserved 12:peer 13:orphan", "a",
		      &gone);
	m = find(13, MISFIT_ORPHAN);
	assert_int_equal(4800, m->pid);
	sbuf_addf(&expect,
		  "held by pid 4800 (node old.js) in %s, an orphan of removed worktree 'gone'",
		  at("gone/app"));
	assert_string_equal(expect.buf, m->why);

	/* in a deleted directory that was in the removed worktree */
	nr_ls = 0;
	add_process(8087, 4801, "node old.js", "gone/app", NULL);
	deleted_dir();
	assert_survey("2:outside 3:bad 4:reserved 12:peer 13:orphan", "a",
		      &gone);
	sbuf_reset(&expect);
	sbuf_addf(&expect,
		  "held by pid 4801 (node old.js) in %s (deleted), an orphan of removed worktree 'gone'",
		  at("gone/app"));
	assert_string_equal(expect.buf, find(13, MISFIT_ORPHAN)->why);

	/* in a deleted directory of nowhere known; beside a stranger */
	nr_ls = 0;
	add_process(8087, 4802, "ruby app.rb", "elsewhere", NULL);
	add_process(8087, 4803, "node old.js", "/no/such/place", NULL);
	deleted_dir();
	assert_survey("2:outside 3:bad 4:reserved 12:peer 13:orphan", "a",
		      NULL);
	m = find(13, MISFIT_ORPHAN);
	assert_int_equal(4803, m->pid);
	assert_string_equal(
		"held by pid 4803 (node old.js) in /no/such/place (deleted), an orphan (its directory was deleted)",
		m->why);

	/* the worktree's own server beside an orphan keeps the port */
	add_process(8087, 4804, "ruby app.rb", "wt-a", NULL);
	assert_survey("2:outside 3:bad 4:reserved 12:peer", "a", NULL);
	sbuf_release(&expect);
}

static void test_strays(void **state UNUSED)
{
	struct sbuf expect = SBUF_INIT;
	char *got;

	add_listeners();
	/* in range 'web', allocated to nobody, run in worktree "a" */
	add_process(8086, 4900, "vite", "wt-a", NULL);
	/* the port of a worktree released now, outside every range */
	add_process(9999, 4901, "old-x", "elsewhere", NULL);
	/* in range 'default', an orphan */
	add_process(10050, 4902, "node old.js", "gone", NULL);
	deleted_dir();
	/* in no range: 7000 of add_listeners() is not looked at */
	released_list_add(&gone, &s.reg->allocs[1]);
	got = survey_flags(NULL, &gone, MISFIT_STRAYS);
	/* the allocations' misfits are as without */
	assert_string_equal("2:outside 3:bad 4:reserved 6:duplicate 7:foreign "
			    "10:foreign 12:peer",
			    got);
	free(got);
	assert_int_equal(3, out.nr_strays);

	assert_int_equal(8086, out.strays[0].port);
	assert_string_equal("web", out.strays[0].range);
	assert_int_equal(4900, out.strays[0].pid);
	assert_false(out.strays[0].orphan);
	sbuf_addf(&expect, "held by pid 4900 (vite) in %s, in worktree 'a'",
		  at("wt-a"));
	assert_string_equal(expect.buf, out.strays[0].why);

	assert_int_equal(9999, out.strays[1].port);
	assert_null(out.strays[1].range);
	assert_false(out.strays[1].orphan);

	assert_int_equal(10050, out.strays[2].port);
	assert_string_equal("default", out.strays[2].range);
	assert_int_equal(4902, out.strays[2].pid);
	assert_true(out.strays[2].orphan);
	sbuf_reset(&expect);
	sbuf_addf(&expect,
		  "held by pid 4902 (node old.js) in %s (deleted), an orphan of removed worktree 'gone'",
		  at("gone"));
	assert_string_equal(expect.buf, out.strays[2].why);
	sbuf_release(&expect);
}

static void test_filter_by_worktree(void **state UNUSED)
{
	add_listeners();
	assert_survey("2:outside 3:bad 4:reserved 12:peer", "a", &gone);
	/* "b" keeps 8081, listens inside on 8083, cannot be judged on 8084 */
	assert_survey("", "b", &gone);
	/* "c" still loses 8081 to "b", which is not asked about */
	assert_survey("6:duplicate 7:foreign 10:foreign", "c", &gone);
	assert_survey("", "nobody", &gone);
}

static void test_without_listeners(void **state UNUSED)
{
	/* no socket read: no foreign holder, the rest as before */
	assert_survey("2:outside 3:bad 4:reserved 6:duplicate 12:peer", NULL,
		      &gone);
}

static void test_reads_the_system(void **state UNUSED)
{
	struct error err = ERROR_INIT;

	/*
	 * misfit_survey() itself, on the system's sockets: the misfits
	 * that do not depend on them are the same.
	 */
	assert_int_equal(0, misfit_survey(&out, &s, "a", &gone, 0, &err));
	assert_true(out.nr >= 4);
	assert_int_equal(2, out.items[0].index);
	assert_int_equal(MISFIT_OUTSIDE_RANGE, out.items[0].kind);
	find(3, MISFIT_BAD_PORT);
	find(4, MISFIT_RESERVED);
	find(12, MISFIT_PEER);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_every_kind),
		T(test_gone_worktrees_are_left_out),
		T(test_duplicate_kept_by_the_listening_worktree),
		T(test_duplicate_held_by_a_stranger),
		T(test_unreadable_directory_is_foreign),
		T(test_orphans),
		T(test_strays),
		T(test_filter_by_worktree),
		T(test_without_listeners),
		T(test_reads_the_system),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
