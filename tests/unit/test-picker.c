#include "common.h"
#include "picker.h"
#include "actlog.h"
#include "alloc.h"
#include "error.h"
#include "registry.h"
#include "sbuf.h"
#include "session.h"
#include "wt.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define UNIT_SCRATCH
#include "unit.h"

/*
 * picker_allocate() on real repositories ("app" and "other", each with
 * its registry) in a fresh directory per test, which is also $HOME and
 * holds $XDG_STATE_HOME, so the host lock and the list of registries are
 * the test's own. Which ports are in use on the system is said by a fake
 * (struct picker's 'in_use'), never probed, so every answer is fixed.
 */

static char saved_cwd[PATH_MAX];
static char *saved_home;

#define REGISTRY(repo) repo "/design/worktrees/ports.json"
#define HOST_LOCK "state/git-worktree-ports/registries.lock"
#define HOST_LIST "state/git-worktree-ports/registries"

/*
 * Write the registry of 'repo' with the ranges web (8080-8089), api
 * (3000-3009) and default (10000-10009), holding 'allocs', the text of
 * the allocations' array.
 */
static void write_registry(const char *repo, const char *allocs)
{
	struct sbuf sb = SBUF_INIT, path = SBUF_INIT;

	sbuf_addf(&sb,
		  "{\n"
		  "  \"ranges\": {\n"
		  "    \"web\": {\"start\": 8080, \"end\": 8089},\n"
		  "    \"api\": {\"start\": 3000, \"end\": 3009},\n"
		  "    \"default\": {\"start\": 10000, \"end\": 10009}\n"
		  "  },\n"
		  "  \"reserved\": [],\n"
		  "  \"allocations\": [%s],\n"
		  "  \"metadata\": {\"version\": \"1.0.0\", "
		  "\"last_updated\": null, "
		  "\"total_allocations\": 0, \"schema_version\": 1}\n"
		  "}\n",
		  allocs);
	sbuf_addf(&path, "%s/%s", repo, "design/worktrees/ports.json");
	write_file(at(path.buf), sb.buf);
	sbuf_release(&sb);
	sbuf_release(&path);
}

/* One allocation of the registry's array, for write_registry(). */
static void add_alloc(struct sbuf *sb, unsigned port, const char *worktree,
		      const char *path, const char *service)
{
	sbuf_addf(sb, "%s\n    {\"port\": %u, \"worktree\": \"%s\", ",
		  sb->len ? "," : "", port, worktree);
	if (path)
		sbuf_addf(sb, "\"path\": \"%s\", ", path);
	sbuf_addf(sb,
		  "\"service\": \"%s\", \"process_id\": null, "
		  "\"health_status\": \"unknown\"}",
		  service);
}

/* Does someone hold the flock on 'path', which must exist? */
static bool is_locked(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool held;

	if (fd < 0)
		fail_msg("cannot open %s: %s", path, strerror(errno));
	held = flock(fd, LOCK_EX | LOCK_NB) < 0;
	if (held)
		assert_int_equal(EWOULDBLOCK, errno);
	close(fd);
	return held;
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

/* The system as the fake tells it: which ports are in use, and who asked. */
struct fake {
	struct portset busy;
	uint16_t asked[128];
	size_t nr_asked;
};

static struct fake *fake;

static bool fake_in_use(uint16_t port, void *payload)
{
	struct fake *f = payload;

	assert_true(f->nr_asked < ARRAY_SIZE(f->asked));
	f->asked[f->nr_asked++] = port;
	return portset_has(&f->busy, port);
}

static void busy(uint16_t from, uint16_t to)
{
	unsigned p;

	for (p = from; p <= to; p++)
		portset_add(&fake->busy, (uint16_t)p);
}

static void use_fake(struct picker *pk)
{
	pk->in_use = fake_in_use;
	pk->in_use_payload = fake;
}

static int setup(void **state UNUSED)
{
	char tmp[64];

	if (make_temp_dir(tmp, sizeof(tmp), "picker") < 0 ||
	    !realpath(tmp, root) || !getcwd(saved_cwd, sizeof(saved_cwd)))
		return -1;
	fake = xcalloc(1, sizeof(*fake));
	saved_home = xstrdup_or_null(getenv("HOME"));
	setenv("HOME", root, 1);
	setenv("XDG_STATE_HOME", at("state"), 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_AUTHOR_NAME", "A U Thor", 1);
	setenv("GIT_AUTHOR_EMAIL", "author@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "A U Thor", 1);
	setenv("GIT_COMMITTER_EMAIL", "author@example.com", 1);
	unsetenv("GIT_DIR");
	unsetenv("GIT_WORK_TREE");
	unsetenv("GIT_WORKTREE_PORTS_REGISTRY");
	unsetenv("GIT_WORKTREE_PORTS_LOCK_TIMEOUT");
	sh("for r in app other; do "
	   "git init -q $r && git -C $r commit -q --allow-empty -m init && "
	   "mkdir -p $r/design/worktrees || exit 1; done");
	write_registry("app", "");
	write_registry("other", "");
	if (chdir(at("app")) < 0)
		return -1;
	return 0;
}

static int teardown(void **state UNUSED)
{
	unsetenv("GIT_WORKTREE_PORTS_LOCK_TIMEOUT");
	if (chdir(saved_cwd) < 0)
		return -1;
	rm_rf(root);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
	free(saved_home);
	saved_home = NULL;
	free(fake);
	fake = NULL;
	unit_at_release();
	return 0;
}

/* Open a session in the current directory, and its worktree's target. */
static void open_ok(struct session *s, struct target *t, unsigned flags)
{
	struct error err = ERROR_INIT;
	int ret = session_open(s, NULL, flags, &err);

	if (!ret)
		ret = session_target(t, s, NULL, &err);
	if (ret)
		fail_msg("session_open: %d %s: %s", ret, err.file, err.msg);
}

static void finish_ok(struct session *s)
{
	struct error err = ERROR_INIT;
	int ret = session_finish(s, &err);

	if (ret)
		fail_msg("session_finish: %d %s: %s", ret, err.file, err.msg);
}

/* picker_allocate() that must succeed: the port it gave. */
static uint16_t allocate_ok(struct session *s, struct picker *pk,
			    const struct target *t, const char *service,
			    const uint16_t *want, bool expect_fresh)
{
	struct error err = ERROR_INIT;
	size_t index = SIZE_MAX;
	bool fresh = !expect_fresh;
	int ret = picker_allocate(s, pk, t, service, NULL, NULL, want, &index,
				  &fresh, &err);

	if (ret)
		fail_msg("picker_allocate(%s): %d %s", service, ret, err.msg);
	assert_int_equal(expect_fresh, fresh);
	assert_true(index < s->reg->nr_allocs);
	assert_string_equal(t->name, s->reg->allocs[index].worktree);
	assert_string_equal(service, s->reg->allocs[index].service);
	return s->reg->allocs[index].port;
}

static uint16_t next_in(const struct range *r, uint16_t port)
{
	return port == r->end ? r->start : (uint16_t)(port + 1);
}

static void test_ports_in_use_are_skipped(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	struct sbuf allocs = SBUF_INIT;
	const struct allocation *a;
	size_t round;

	/* 8080 and 8081 in use on the system, 8082 in the registry */
	add_alloc(&allocs, 8082, "feat", "/src/feat", "web");
	write_registry("app", allocs.buf);
	busy(8080, 8081);

	/* the same answer every time */
	for (round = 0; round < 2; round++) {
		fake->nr_asked = 0;
		open_ok(&s, &t, SESSION_NO_AUTORELEASE);
		use_fake(&pk);
		assert_int_equal(8083, allocate_ok(&s, &pk, &t, "web", NULL,
						   true));
		/* the registry's port is never probed */
		assert_int_equal(3, fake->nr_asked);
		assert_int_equal(8080, fake->asked[0]);
		assert_int_equal(8081, fake->asked[1]);
		assert_int_equal(8083, fake->asked[2]);

		a = &s.reg->allocs[s.reg->nr_allocs - 1];
		assert_int_equal(2, s.reg->nr_allocs);
		assert_string_equal(at("app"), a->path);
		assert_null(a->range); /* the service's own */
		assert_true(s.dirty);
		assert_int_equal(1, s.nr_log);
		assert_string_equal("allocate", s.log[0].action);
		assert_int_equal(8083, s.log[0].port);
		assert_string_equal("from range 'web'", s.log[0].detail);
		/* held until picker_release(), not saved: the next round
		 * starts from the same registry */
		assert_true(is_locked(at(HOST_LOCK)));
		picker_release(&pk);
		assert_false(is_locked(at(HOST_LOCK)));
		target_release(&t);
		session_release(&s);
	}
	sbuf_release(&allocs);
}

static void test_linked_worktree_starts_at_its_preferred_port(void **state
							      UNUSED)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	const struct range *r;
	uint16_t p;

	sh("git -C app worktree add -q ../feat");
	assert_int_equal(0, chdir(at("feat")));
	open_ok(&s, &t, 0);
	assert_false(t.is_main);
	r = registry_find_range(s.reg, "api");
	assert_non_null(r);
	p = alloc_preferred_port(r, "feat", "api");
	portset_add(&fake->busy, p);
	portset_add(&fake->busy, next_in(r, p));
	use_fake(&pk);
	assert_int_equal(next_in(r, next_in(r, p)),
			 allocate_ok(&s, &pk, &t, "api", NULL, true));
	assert_int_equal(p, fake->asked[0]);
	assert_int_equal(3, fake->nr_asked);

	/* a service with no range of its own comes from 'default' */
	fake->nr_asked = 0;
	assert_int_equal(
		alloc_preferred_port(registry_find_range(s.reg, "default"),
				     "feat", "worker"),
		allocate_ok(&s, &pk, &t, "worker", NULL, true));
	assert_string_equal("default",
			    s.reg->allocs[s.reg->nr_allocs - 1].range);
	assert_int_equal(1, fake->nr_asked);
	picker_release(&pk);
	target_release(&t);
	session_release(&s);
}

static void test_all_in_use_is_full(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	struct error err = ERROR_INIT;
	size_t index = SIZE_MAX;
	bool fresh = true;

	busy(8080, 8089);
	open_ok(&s, &t, 0);
	use_fake(&pk);
	assert_int_equal(ERR_FULL,
			 picker_allocate(&s, &pk, &t, "web", NULL, NULL, NULL,
					 &index, &fresh, &err));
	assert_false(fresh);
	assert_string_equal(
		"no free port in range 'web' (8080-8089, 10 usable ports)",
		err.msg);
	assert_non_null(strstr(err.hint, "\"web\": {\"start\""));
	/* each port asked about once, nothing added */
	assert_int_equal(10, fake->nr_asked);
	assert_int_equal(0, s.reg->nr_allocs);
	assert_false(s.dirty);
	assert_int_equal(0, s.nr_log);
	picker_release(&pk);
	assert_false(is_locked(at(HOST_LOCK)));
	target_release(&t);
	session_release(&s);
}

static void test_existing_allocation_takes_no_host_lock(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	struct error err = ERROR_INIT;
	struct sbuf allocs = SBUF_INIT;
	uint16_t want = 8085, other = 8086;
	size_t index;
	bool fresh;

	add_alloc(&allocs, 8085, WT_MAIN_NAME, at("app"), "web");
	add_alloc(&allocs, 3000, WT_MAIN_NAME, NULL, "api");
	write_registry("app", allocs.buf);
	busy(8080, 8089);

	open_ok(&s, &t, 0);
	use_fake(&pk);
	assert_int_equal(8085, allocate_ok(&s, &pk, &t, "web", NULL, false));
	assert_int_equal(8085, allocate_ok(&s, &pk, &t, "web", &want, false));
	assert_false(s.dirty);
	assert_int_equal(0, s.nr_log);

	/* a seed allocation gets its path, and nothing else */
	assert_int_equal(3000, allocate_ok(&s, &pk, &t, "api", NULL, false));
	assert_string_equal(at("app"), s.reg->allocs[1].path);
	assert_true(s.dirty);
	assert_int_equal(0, s.nr_log);

	/* moving it is refused */
	assert_int_equal(ERR_TAKEN,
			 picker_allocate(&s, &pk, &t, "web", NULL, NULL,
					 &other, &index, &fresh, &err));
	assert_false(fresh);
	assert_non_null(strstr(err.msg, "has port 8085 already"));

	/* nothing was probed, and the host lock never taken */
	assert_int_equal(0, fake->nr_asked);
	assert_null(pk.taken);
	assert_false(exists(at(HOST_LOCK)));
	assert_int_equal(2, s.reg->nr_allocs);
	picker_release(&pk);
	target_release(&t);
	session_release(&s);
	sbuf_release(&allocs);
}

static void test_requested_port(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	struct sbuf allocs = SBUF_INIT;
	static const struct {
		uint16_t port;
		const char *msg;
	} refused[] = {
		{ 8086, "port 8086 is in use on this system" },
		{ 8090, "port 8090 is outside range 'web' (8080-8089)" },
		{ 8081, "port 8081 is allocated to 'web' in worktree 'feat'" },
		{ 8082, "port 8082 is allocated in another repository's registry '" },
	};
	size_t i;
	uint16_t want = 8087;

	/* "other" holds 8082, and is on the host's list */
	add_alloc(&allocs, 8082, WT_MAIN_NAME, NULL, "web");
	write_registry("other", allocs.buf);
	sbuf_reset(&allocs);
	sh("mkdir -p state/git-worktree-ports && "
	   "echo '%s' >" HOST_LIST, at(REGISTRY("other")));
	add_alloc(&allocs, 8081, "feat", NULL, "web");
	write_registry("app", allocs.buf);
	busy(8086, 8086);

	open_ok(&s, &t, SESSION_NO_AUTORELEASE);
	use_fake(&pk);
	for (i = 0; i < ARRAY_SIZE(refused); i++) {
		struct error err = ERROR_INIT;
		size_t index;
		bool fresh = true;

		assert_int_equal(ERR_TAKEN,
				 picker_allocate(&s, &pk, &t, "web", NULL,
						 NULL, &refused[i].port,
						 &index, &fresh, &err));
		assert_false(fresh);
		if (strncmp(refused[i].msg, err.msg, strlen(refused[i].msg)))
			fail_msg("expected '%s...', got '%s'", refused[i].msg,
				 err.msg);
	}
	assert_int_equal(1, s.reg->nr_allocs);
	assert_false(s.dirty);

	assert_int_equal(8087, allocate_ok(&s, &pk, &t, "web", &want, true));
	assert_string_equal("from range 'web' (asked for)", s.log[0].detail);
	/* only the two ports no registry holds were probed */
	assert_int_equal(2, fake->nr_asked);
	picker_release(&pk);
	target_release(&t);
	session_release(&s);
	sbuf_release(&allocs);
}

static void test_two_registries_on_one_host(void **state UNUSED)
{
	struct session a = SESSION_INIT, b = SESSION_INIT;
	struct target ta = TARGET_INIT, tb = TARGET_INIT;
	struct picker pa = PICKER_INIT, pb = PICKER_INIT;
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;
	struct sbuf list = SBUF_INIT;
	uint16_t port_a, port_b;
	size_t index;
	bool fresh;

	/* A picks, and holds the host lock until it has saved */
	open_ok(&a, &ta, 0);
	use_fake(&pa);
	port_a = allocate_ok(&a, &pa, &ta, "web", NULL, true);
	assert_int_equal(8080, port_a);
	assert_true(is_locked(at(HOST_LOCK)));

	/* B, in another repository, cannot pick meanwhile */
	assert_int_equal(0, chdir(at("other")));
	open_ok(&b, &tb, 0);
	use_fake(&pb);
	setenv("GIT_WORKTREE_PORTS_LOCK_TIMEOUT", "0", 1);
	assert_int_equal(ERR_LOCKED,
			 picker_allocate(&b, &pb, &tb, "web", NULL, NULL,
					 NULL, &index, &fresh, &err));
	assert_string_equal(at(HOST_LOCK), err.file);
	assert_false(fresh);
	assert_null(pb.taken);
	assert_int_equal(0, b.reg->nr_allocs);
	assert_false(b.dirty);

	/* A saves and lets go: B sees A's port as taken */
	finish_ok(&a);
	picker_release(&pa);
	target_release(&ta);
	session_release(&a);
	assert_false(is_locked(at(HOST_LOCK)));
	read_file(&list, at(HOST_LIST));
	assert_non_null(strstr(list.buf, at(REGISTRY("app"))));

	port_b = allocate_ok(&b, &pb, &tb, "web", NULL, true);
	assert_int_not_equal(port_a, port_b);
	assert_int_equal(8081, port_b);
	finish_ok(&b);
	picker_release(&pb);
	target_release(&tb);
	session_release(&b);

	/* each registry holds its own, and both are on the list */
	assert_int_equal(0, registry_load(&reg, at(REGISTRY("app")), 0, NULL));
	assert_int_equal(1, reg->nr_allocs);
	assert_int_equal(port_a, reg->allocs[0].port);
	registry_free(reg);
	assert_int_equal(0,
			 registry_load(&reg, at(REGISTRY("other")), 0, NULL));
	assert_int_equal(1, reg->nr_allocs);
	assert_int_equal(port_b, reg->allocs[0].port);
	registry_free(reg);
	read_file(&list, at(HOST_LIST));
	assert_non_null(strstr(list.buf, at(REGISTRY("app"))));
	assert_non_null(strstr(list.buf, at(REGISTRY("other"))));
	sbuf_release(&list);
}

static void test_unknown_range(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct picker pk = PICKER_INIT;
	struct error err = ERROR_INIT;
	size_t index;
	bool fresh = true;

	open_ok(&s, &t, 0);
	use_fake(&pk);
	assert_int_equal(ERR_NOTFOUND,
			 picker_allocate(&s, &pk, &t, "web", "nope", NULL,
					 NULL, &index, &fresh, &err));
	assert_false(fresh);
	assert_string_equal("no range 'nope' for service 'web'", err.msg);
	assert_null(pk.taken);
	assert_int_equal(0, fake->nr_asked);
	picker_release(&pk);
	target_release(&t);
	session_release(&s);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_ports_in_use_are_skipped),
		T(test_linked_worktree_starts_at_its_preferred_port),
		T(test_all_in_use_is_full),
		T(test_existing_allocation_takes_no_host_lock),
		T(test_requested_port),
		T(test_two_registries_on_one_host),
		T(test_unknown_range),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	wt_shutdown();
	return ret;
}
