#include "common.h"
#include "wtenv.h"
#include "alloc.h"
#include "config.h"
#include "envfile.h"
#include "error.h"
#include "registry.h"
#include "sbuf.h"
#include "session.h"
#include "wt.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#define UNIT_SCRATCH
#include "unit.h"

/*
 * wtenv_build() on sessions put together by hand (a registry parsed from
 * text, a repository described by its paths) with a config loaded from a
 * .worktree-ports.ini the test writes; wtenv_write() on a real repository
 * made with git in a fresh directory per test.
 */

static char saved_cwd[PATH_MAX];
static char *saved_home;

static int setup(void **state UNUSED)
{
	char tmp[64];

	if (make_temp_dir(tmp, sizeof(tmp), "wtenv") < 0 ||
	    !realpath(tmp, root) || !getcwd(saved_cwd, sizeof(saved_cwd)))
		return -1;
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
	return 0;
}

static int teardown(void **state UNUSED)
{
	if (chdir(saved_cwd) < 0)
		return -1;
	rm_rf(root);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	else
		unsetenv("HOME");
	free(saved_home);
	saved_home = NULL;
	unit_at_release();
	return 0;
}

/* Write '.worktree-ports.ini' in 'root/dir' and load it. */
static struct config *load_config(const char *dir, const char *text)
{
	struct error err = ERROR_INIT;
	struct config *c = NULL;
	struct sbuf path = SBUF_INIT;
	int ret;

	sbuf_addf(&path, "%s/%s/" CONFIG_FILE, root, dir);
	write_file(path.buf, text);
	ret = config_load(&c, at(dir), &err);
	if (ret)
		fail_msg("config_load: %d %s:%d: %s", ret, err.file, err.line,
			 err.msg);
	assert_int_equal(0, c->nr_warnings);
	sbuf_release(&path);
	return c;
}

static struct registry *parse_registry(const char *allocs)
{
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;
	struct sbuf text = SBUF_INIT;
	int ret;

	sbuf_addf(&text,
		  "{\"ranges\": {\"web\": {\"start\": 8080, \"end\": 8089},\n"
		  "  \"database\": {\"start\": 5432, \"end\": 5439},\n"
		  "  \"default\": {\"start\": 10000, \"end\": 10099}},\n"
		  " \"allocations\": [%s]}\n",
		  allocs);
	ret = registry_parse(&reg, text.buf, text.len, "ports.json", 0, &err);
	if (ret)
		fail_msg("registry_parse: %d %s: %s", ret, err.field, err.msg);
	sbuf_release(&text);
	return reg;
}

/* "NAME=VALUE\n" for each variable, to compare in one assertion. */
static char *env_text(const struct env_list *l)
{
	struct sbuf sb = SBUF_INIT;
	size_t i;

	for (i = 0; i < l->nr; i++)
		sbuf_addf(&sb, "%s=%s\n", l->vars[i].name, l->vars[i].value);
	return sbuf_detach(&sb);
}

static void assert_env(const char *expect, const struct env_list *l)
{
	char *got = env_text(l);

	assert_string_equal(expect, got);
	free(got);
}

/* A repository described by hand: only its paths matter here. */
static struct wt_repo hand_repo(char *main_path, char *commondir)
{
	struct wt_repo repo = { 0 };

	repo.main_path = main_path;
	repo.commondir = commondir;
	repo.gitdir = commondir;
	repo.name = WT_MAIN_NAME;
	repo.path = main_path;
	return repo;
}

static const char config_text[] =
	"[env]\n"
	"compose_project_name = true\n"
	"\n"
	"[service \"web\"]\n"
	"var = WEB_PORT\n"
	"\n"
	"[service \"db\"]\n"
	"range = database\n"
	"\n"
	"[service \"cache\"]\n"
	"\n"
	"[vars]\n"
	"API_URL = http://localhost:${port:web}/v1\n"
	"DB_URL = postgres://app@127.0.0.1:${port:db}/app_${slug}\n"
	"CACHE_URL = redis://127.0.0.1:${port:cache}\n"
	"APP_NAME = ${repo}-${worktree}\n"
	"PORT_EXTRA = not-the-port\n";

static const char allocs_text[] =
	"{\"port\": 8081, \"worktree\": \"Feat-1\", \"service\": \"web\"},\n"
	"{\"port\": 8082, \"worktree\": \"other\", \"service\": \"web\"},\n"
	"{\"port\": 10001, \"worktree\": \"Feat-1\", \"service\": \"my-api.v2\"},\n"
	"{\"port\": 5433, \"worktree\": \"Feat-1\", \"service\": \"db\", "
	"\"range\": \"database\"},\n"
	"{\"port\": 10002, \"worktree\": \"Feat-1\", \"service\": \"my_api_v2\"},\n"
	"{\"port\": 10003, \"worktree\": \"Feat-1\", \"service\": \"extra\"},\n"
	"{\"port\": 10004, \"worktree\": \"other\", \"service\": \"extra\"}";

static void test_build_with_a_config(void **state UNUSED)
{
	struct wt_repo repo = hand_repo("/src/app", "/src/app/.git");
	struct session s = SESSION_INIT;
	struct target t = { "Feat-1", "/src/Feat-1", false };
	struct env_list env = ENV_LIST_INIT;
	struct config *c;
	struct sbuf expect = SBUF_INIT;

	sh("mkdir -p wt");
	c = load_config("wt", config_text);
	s.repo = &repo;
	s.reg = parse_registry(allocs_text);

	assert_int_equal(0, wtenv_build(&env, &s, &t, c));
	sbuf_addf(&expect,
		  /* the config's services with a port, in its order */
		  "WEB_PORT=8081\n"
		  "PORT_DB=5433\n"
		  /* then the other ports, in the registry's */
		  "PORT_MY_API_V2=10001\n"
		  "PORT_EXTRA=10003\n"
		  "COMPOSE_PROJECT_NAME=app-feat-1-%08x\n"
		  /* cache has no port: CACHE_URL is left out */
		  "API_URL=http://localhost:8081/v1\n"
		  "DB_URL=postgres://app@127.0.0.1:5433/app_feat_1\n"
		  "APP_NAME=app-Feat-1\n",
		  (unsigned)alloc_hash("Feat-1", ""));
	assert_env(expect.buf, &env);
	env_list_release(&env);
	assert_null(env.vars);
	assert_int_equal(0, env.nr);

	/* the main worktree has none of these ports */
	t.name = WT_MAIN_NAME;
	t.is_main = true;
	assert_int_equal(0, wtenv_build(&env, &s, &t, c));
	assert_env("COMPOSE_PROJECT_NAME=app\n"
		   "APP_NAME=app-.main\n"
		   "PORT_EXTRA=not-the-port\n",
		   &env);
	env_list_release(&env);

	registry_free(s.reg);
	config_free(c);
	sbuf_release(&expect);
}

static void test_build_without_a_config(void **state UNUSED)
{
	struct wt_repo repo = hand_repo("/src/app", "/src/app/.git");
	struct session s = SESSION_INIT;
	struct target t = { "other", "/src/other", false };
	struct env_list env = ENV_LIST_INIT;
	struct config *c;

	s.repo = &repo;
	s.reg = parse_registry(allocs_text);
	assert_int_equal(0, wtenv_build(&env, &s, &t, NULL));
	assert_env("PORT_WEB=8082\nPORT_EXTRA=10004\n", &env);
	env_list_release(&env);

	/* no compose name unless asked for; a service of the config that
	 * names no variable gets the default one */
	sh("mkdir -p wt");
	c = load_config("wt", "[service \"web\"]\n");
	assert_false(c->compose_project_name);
	assert_int_equal(0, wtenv_build(&env, &s, &t, c));
	assert_env("PORT_WEB=8082\nPORT_EXTRA=10004\n", &env);
	env_list_release(&env);
	config_free(c);

	/* a worktree with no port gets nothing */
	t.name = "none";
	assert_int_equal(0, wtenv_build(&env, &s, &t, NULL));
	assert_int_equal(0, env.nr);
	env_list_release(&env);
	registry_free(s.reg);
}

static void assert_port_var(const char *expect, const char *service)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addstr(&sb, "[");
	wtenv_port_var(&sb, service);
	assert_string_equal(expect, sb.buf + 1);
	assert_int_equal('[', sb.buf[0]);
	sbuf_release(&sb);
}

static void test_port_var(void **state UNUSED)
{
	assert_port_var("PORT_WEB", "web");
	assert_port_var("PORT_WEB2", "Web2");
	assert_port_var("PORT_MY_API_V2", "my-api.v2");
	assert_port_var("PORT_A_B", "a b");
	assert_port_var("PORT___X", "\xc3\xa9x"); /* two bytes of "é" */
	assert_port_var("PORT_0", "0");
	assert_port_var("PORT_", "");
}

static char *compose_name(char *main_path, char *commondir,
			  const char *worktree)
{
	struct wt_repo repo = hand_repo(main_path, commondir);
	struct sbuf sb = SBUF_INIT;

	wtenv_compose_name(&sb, &repo, worktree);
	return sbuf_detach(&sb);
}

static void assert_compose(const char *expect, char *main_path,
			   char *commondir, const char *worktree)
{
	char *got = compose_name(main_path, commondir, worktree);

	assert_string_equal(expect, got);
	free(got);
}

/* 'prefix' and the hash of 'worktree' that keeps lossy names apart. */
static char *hashed(const char *prefix, const char *worktree)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_addf(&sb, "%s-%08x", prefix, (unsigned)alloc_hash(worktree, ""));
	return sbuf_detach(&sb);
}

static void test_compose_name(void **state UNUSED)
{
	char *main = "/src/app", *git = "/src/app/.git";
	char *a, *b, *expect;
	struct sbuf sb = SBUF_INIT;
	struct wt_repo repo = hand_repo(main, git);

	assert_compose("app", main, git, WT_MAIN_NAME);
	assert_compose("app-feature-login", main, git, "feature-login");
	assert_compose("app-feature_2", main, git, "feature_2");

	/* a name that had to change gets a hash of the real one */
	a = compose_name(main, git, "Feat");
	b = compose_name(main, git, "feat");
	assert_string_equal("app-feat", b);
	assert_string_not_equal(a, b);
	expect = hashed("app-feat", "Feat");
	assert_string_equal(expect, a);
	free(expect);
	free(a);
	free(b);
	a = compose_name(main, git, "feature.login");
	b = compose_name(main, git, "feature_login");
	expect = hashed("app-feature_login", "feature.login");
	assert_string_equal(expect, a);
	assert_string_equal("app-feature_login", b);
	free(expect);
	free(a);
	free(b);

	/* the repository's part: lower-cased, no hash, no leading - or _ */
	assert_compose("my_app", "/src/My App", "/src/My App/.git",
		       WT_MAIN_NAME);
	assert_compose("app", "/src/_-app", "/src/_-app/.git", WT_MAIN_NAME);
	assert_compose("project", "/src/--", "/src/--/.git", WT_MAIN_NAME);
	assert_compose("wt", "/src/--", "/src/--/.git", "wt");

	/* no main worktree: the bare repository, less ".git" */
	assert_compose("repo-wt", NULL, "/srv/Repo.git", "wt");
	assert_compose("srv", NULL, "/srv/srv", WT_MAIN_NAME);
	/* a common dir named .git apart from its worktree: its parent */
	assert_compose("proj-wt", NULL, "/src/proj/.git", "wt");

	/* it appends */
	sbuf_addstr(&sb, "x=");
	wtenv_compose_name(&sb, &repo, WT_MAIN_NAME);
	assert_string_equal("x=app", sb.buf);
	sbuf_release(&sb);
}

static void stat_ok(struct stat *st, const char *path)
{
	assert_int_equal(0, stat(path, st));
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* wtenv_write() that must succeed; how many files it changed. */
static size_t write_ok(struct session *s, const struct target *t,
		       const struct config *c)
{
	struct env_list vars = ENV_LIST_INIT;
	struct env_written *out = NULL;
	struct error err = ERROR_INIT;
	size_t i, changed = 0;
	int ret = wtenv_write(s, t, c, &vars, NULL, &out, &err);

	if (ret)
		fail_msg("wtenv_write: %d %s: %s", ret, err.file, err.msg);
	assert_non_null(out);
	for (i = 0; i < c->nr_env_files; i++) {
		assert_string_equal(c->env_files[i], out[i].file);
		changed += out[i].changed;
	}
	/* what was written is what it says it built */
	assert_true(vars.nr > 0);
	assert_string_equal("PORT_WEB", vars.vars[0].name);
	free(out);
	env_list_release(&vars);
	return changed;
}

static void test_write(void **state UNUSED)
{
	struct session s = SESSION_INIT;
	struct target t = TARGET_INIT;
	struct error err = ERROR_INIT;
	struct config *c;
	struct sbuf text = SBUF_INIT;
	struct stat st0, st1;

	sh("git init -q app && git -C app commit -q --allow-empty -m init && "
	   "mkdir -p app/design/worktrees app/server && "
	   "printf 'KEEP=1\\n' >app/.env");
	write_file(at("app/design/worktrees/ports.json"),
		   "{\"ranges\": {\"web\": {\"start\": 8080, \"end\": 8089}},\n"
		   " \"allocations\": [{\"port\": 8080, \"worktree\": \".main\", "
		   "\"service\": \"web\"}]}\n");
	c = load_config("app", "[env]\n"
			       "file = .env, server/.env\n"
			       "compose_project_name = yes\n"
			       "[service \"web\"]\n");
	assert_int_equal(0, chdir(at("app")));
	assert_int_equal(0, session_start(&s, &t, NULL, NULL, 0, &err));

	assert_int_equal(2, write_ok(&s, &t, c));
	read_file(&text, at("app/.env"));
	assert_string_equal("KEEP=1\n" ENVFILE_BEGIN_LINE "\n"
			    "PORT_WEB=8080\n"
			    "COMPOSE_PROJECT_NAME=app\n" ENVFILE_END "\n",
			    text.buf);
	read_file(&text, at("app/server/.env"));
	assert_string_equal(ENVFILE_BEGIN_LINE "\n"
			    "PORT_WEB=8080\n"
			    "COMPOSE_PROJECT_NAME=app\n" ENVFILE_END "\n",
			    text.buf);
	/* kept out of git status */
	read_file(&text, at("app/.git/info/exclude"));
	assert_non_null(strstr(text.buf, "\n/.env\n"));
	assert_non_null(strstr(text.buf, "\n/.env.new\n"));
	assert_non_null(strstr(text.buf, "\n/server/.env\n"));
	assert_non_null(strstr(text.buf, "\n/server/.env.new\n"));

	/* a second write changes nothing, and says so */
	stat_ok(&st0, at("app/.env"));
	assert_int_equal(0, write_ok(&s, &t, c));
	stat_ok(&st1, at("app/.env"));
	assert_true(same_file(&st0, &st1));

	/* a new port is written */
	s.reg->allocs[0].port = 8081;
	assert_int_equal(2, write_ok(&s, &t, c));
	read_file(&text, at("app/.env"));
	assert_non_null(strstr(text.buf, "\nPORT_WEB=8081\n"));
	assert_null(strstr(text.buf, "8080"));

	target_release(&t);
	session_release(&s);
	config_free(c);
	sbuf_release(&text);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_build_with_a_config),
		T(test_build_without_a_config),
		T(test_port_var),
		T(test_compose_name),
		T(test_write),
	};
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	wt_shutdown();
	return ret;
}
