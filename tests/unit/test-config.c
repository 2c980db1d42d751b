#include "common.h"
#include "config.h"
#include "error.h"
#include "sbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "unit.h"

#define PATH "wt/.worktree-ports.ini"

static struct config *parse_ok(const char *text)
{
	struct error err = ERROR_INIT;
	struct config *c = NULL;
	int ret = config_parse(&c, text, PATH, &err);

	if (ret)
		print_error("unexpected error: %s:%d: %s: %s\n", err.file,
			    err.line, err.field, err.msg);
	assert_int_equal(0, ret);
	assert_non_null(c);
	return c;
}

/*
 * Parse 'text', which must fail with ERR_CONFIG at 'line'; the message
 * must contain 'needle'.
 */
static void parse_fails(const char *text, int line, const char *needle)
{
	struct error err = ERROR_INIT;
	struct config *c = (struct config *)&err; /* must be reset */

	assert_int_equal(ERR_CONFIG, config_parse(&c, text, PATH, &err));
	assert_null(c);
	assert_int_equal(ERR_CONFIG, err.code);
	assert_string_equal(PATH, err.file);
	if (line != err.line || !strstr(err.msg, needle))
		print_error("got: %s:%d: %s: %s\n", err.file, err.line,
			    err.field, err.msg);
	assert_int_equal(line, err.line);
	assert_non_null(strstr(err.msg, needle));
}

/*
 * Parse 'text', which must succeed with a warning at 'line' that holds
 * 'needle' and says the entry was ignored: one bad entry never blocks
 * the others.
 */
static void parse_warns(const char *text, int line, const char *needle)
{
	struct config *c = parse_ok(text);
	char at[64];
	size_t i;
	bool found = false;

	snprintf(at, sizeof(at), "%s:%d: ", PATH, line);
	for (i = 0; i < c->nr_warnings; i++)
		if (!strncmp(c->warnings[i], at, strlen(at)) &&
		    strstr(c->warnings[i], needle) &&
		    strstr(c->warnings[i], "ignored"))
			found = true;
	if (!found)
		for (i = 0; i < c->nr_warnings; i++)
			print_error("warning: %s\n", c->warnings[i]);
	assert_true(found);
	config_free(c);
}

/* Parse 'text', which must succeed with exactly one warning. */
static void warns_once(const char *text, const char *warning)
{
	struct config *c = parse_ok(text);

	assert_int_equal(1, c->nr_warnings);
	assert_string_equal(warning, c->warnings[0]);
	config_free(c);
}

/* Parse 'text', with one service, and check its variable. */
static void var_is(const char *text, const char *var)
{
	struct config *c = parse_ok(text);

	assert_int_equal(1, c->nr_services);
	assert_string_equal(var, c->services[0].var);
	config_free(c);
}

static void test_defaults(void **state UNUSED)
{
	struct config *c = parse_ok("[service \"web\"]\n");

	assert_string_equal(PATH, c->path);
	assert_int_equal(1, c->nr_env_files);
	assert_string_equal(".env", c->env_files[0]);
	assert_false(c->compose_project_name);
	assert_int_equal(1, c->nr_services);
	assert_string_equal("web", c->services[0].name);
	assert_string_equal("PORT_WEB", c->services[0].var);
	assert_null(c->services[0].range);
	assert_null(c->services[0].health);
	assert_null(c->services[0].description);
	assert_int_equal(1, c->services[0].line);
	assert_int_equal(0, c->nr_vars);
	assert_int_equal(0, c->nr_warnings);
	config_free(c);
}

static void test_empty_file(void **state UNUSED)
{
	struct config *c = parse_ok("");

	assert_int_equal(0, c->nr_services);
	assert_int_equal(1, c->nr_env_files);
	assert_string_equal(".env", c->env_files[0]);
	config_free(c);
	c = parse_ok("; only a comment\n\n# and another\n");
	assert_int_equal(0, c->nr_services);
	assert_int_equal(0, c->nr_warnings);
	config_free(c);
}

static void test_null_path_names_the_file(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct config *c = NULL;

	assert_int_equal(0, config_parse(&c, "", NULL, &err));
	assert_string_equal(CONFIG_FILE, c->path);
	config_free(c);
	assert_int_equal(ERR_CONFIG, config_parse(&c, "x\n", NULL, &err));
	assert_string_equal(CONFIG_FILE, err.file);
}

static void test_every_key(void **state UNUSED)
{
	struct config *c = parse_ok(
		"[env]\n"
		"file = .env, server/.env\n"
		"compose_project_name = true\n"
		"\n"
		"[service \"web\"]\n"
		"range = web\n"
		"var = WEB_PORT\n"
		"health = /health\n"
		"description = Frontend dev server\n"
		"\n"
		"[service \"database\"]\n"
		"health = tcp\n"
		"\n"
		"[vars]\n"
		"DATABASE_URL = postgres://app@127.0.0.1:${port:database}/app_${slug}\n"
		"API_URL = http://localhost:${port:web}/v1\n");

	assert_int_equal(2, c->nr_env_files);
	assert_string_equal(".env", c->env_files[0]);
	assert_string_equal("server/.env", c->env_files[1]);
	assert_true(c->compose_project_name);
	assert_int_equal(2, c->nr_services);
	assert_string_equal("web", c->services[0].name);
	assert_string_equal("web", c->services[0].range);
	assert_string_equal("WEB_PORT", c->services[0].var);
	assert_string_equal("/health", c->services[0].health);
	assert_string_equal("Frontend dev server", c->services[0].description);
	assert_int_equal(5, c->services[0].line);
	assert_string_equal("database", c->services[1].name);
	assert_null(c->services[1].range);
	assert_string_equal("PORT_DATABASE", c->services[1].var);
	assert_string_equal("tcp", c->services[1].health);
	assert_int_equal(11, c->services[1].line);
	assert_int_equal(2, c->nr_vars);
	assert_string_equal("DATABASE_URL", c->vars[0].name);
	assert_string_equal(
		"postgres://app@127.0.0.1:${port:database}/app_${slug}",
		c->vars[0].template);
	assert_int_equal(15, c->vars[0].line);
	assert_string_equal("API_URL", c->vars[1].name);
	assert_int_equal(16, c->vars[1].line);
	assert_int_equal(0, c->nr_warnings);
	assert_ptr_equal(&c->services[1], config_find_service(c, "database"));
	assert_null(config_find_service(c, "data"));
	config_free(c);
}

static void test_default_var_names(void **state UNUSED)
{
	var_is("[service \"api\"]\n", "PORT_API");
	var_is("[service \"my-api.v2\"]\n", "PORT_MY_API_V2");
	var_is("[service \"Cache_1\"]\n", "PORT_CACHE_1");
}

static void test_default_var_too_long(void **state UNUSED)
{
	/* 60 characters: a valid service name, but PORT_ + it is 65 */
	parse_fails(
		"\n[service \"a23456789012345678901234567890123456789012345678901234567890\"]\n",
		2, "longer than 64");
	var_is("[service \"a23456789012345678901234567890123456789012345678901234567890\"]\n"
	       "var = A_PORT\n",
	       "A_PORT");
}

static void test_comma_lists(void **state UNUSED)
{
	struct config *c = parse_ok(
		"[env]\nfile =  .env ,server/.env,\t./web//.env.local , .env\n");

	assert_int_equal(3, c->nr_env_files);
	assert_string_equal(".env", c->env_files[0]);
	assert_string_equal("server/.env", c->env_files[1]);
	assert_string_equal("web/.env.local", c->env_files[2]);
	config_free(c);
	c = parse_ok("[env]\nfile = config/dev.env\n");
	assert_int_equal(1, c->nr_env_files);
	assert_string_equal("config/dev.env", c->env_files[0]);
	config_free(c);
	c = parse_ok("[env]\nfile = .env, ./.env\n");
	assert_int_equal(1, c->nr_env_files);
	config_free(c);
}

static void test_booleans(void **state UNUSED)
{
	static const char *const yes[] = { "true", "yes",  "on",
					   "1",	   "TRUE", "Yes" };
	static const char *const no[] = { "false", "no", "off", "0", "Off" };
	char text[128];
	struct config *c;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		snprintf(text, sizeof(text),
			 "[env]\ncompose_project_name = %s\n", yes[i]);
		c = parse_ok(text);
		assert_true(c->compose_project_name);
		config_free(c);
	}
	for (i = 0; i < ARRAY_SIZE(no); i++) {
		snprintf(text, sizeof(text),
			 "[env]\ncompose_project_name = %s\n", no[i]);
		c = parse_ok(text);
		assert_false(c->compose_project_name);
		config_free(c);
	}
	parse_fails("[env]\ncompose_project_name = maybe\n", 2,
		    "expected true or false, not 'maybe'");
	parse_fails("[env]\ncompose_project_name =\n", 2, "expected true");
}

/* inih 55 as built by the system: what counts as a comment. */
static void test_comments(void **state UNUSED)
{
	struct config *c = parse_ok("; comment\n"
				    "# comment\n"
				    "[env] ; after a header\n"
				    "file = .env ; an inline comment\n"
				    "[service \"web\"]\n"
				    "health = /a;b\n"
				    "description = Issue #42 tracker ; note\n"
				    "  ; an indented comment\n");

	assert_int_equal(1, c->nr_env_files);
	assert_string_equal(".env", c->env_files[0]);
	/* ';' starts a comment only after white space */
	assert_string_equal("/a;b", c->services[0].health);
	/* '#' starts one only at the start of a line */
	assert_string_equal("Issue #42 tracker", c->services[0].description);
	config_free(c);
	parse_fails("[env]\nfile = .env # where\n", 2, "'#' starts a comment");
	parse_fails("[env]\nfile = .env, # where\n", 2, "'#' starts a comment");
}

static void test_colon_separates_too(void **state UNUSED)
{
	struct config *c = parse_ok("[service \"web\"]\nhealth: /up\n"
				    "[vars]\nURL: http://x:${port:web}/\n");

	assert_string_equal("/up", c->services[0].health);
	assert_string_equal("URL", c->vars[0].name);
	assert_string_equal("http://x:${port:web}/", c->vars[0].template);
	config_free(c);
}

static void test_crlf_and_bom(void **state UNUSED)
{
	struct config *c = parse_ok("\xEF\xBB\xBF[service \"web\"]\r\n"
				    "range = web\r\n"
				    "\r\n"
				    "[vars]\r\n"
				    "A = ${port:web}\r\n");

	assert_int_equal(1, c->nr_services);
	assert_string_equal("web", c->services[0].range);
	assert_string_equal("${port:web}", c->vars[0].template);
	assert_int_equal(5, c->vars[0].line);
	config_free(c);
}

static void test_keys_may_be_indented_once(void **state UNUSED)
{
	struct config *c = parse_ok("[service \"web\"]\n  range = web\n");

	assert_string_equal("web", c->services[0].range);
	config_free(c);
}

/* inih would take the second line as more of the first one's value. */
static void test_continuation_lines_refused(void **state UNUSED)
{
	parse_fails("[service \"web\"]\n  range = web\n  var = X\n", 3,
		    "indented line");
	parse_fails("[env]\nfile = .env\n  [service \"web\"]\n", 3,
		    "indented line");
	parse_fails("[env]\nfile = .env\n\n   ,server/.env\n", 4,
		    "indented line");
}

static void test_long_lines_refused(void **state UNUSED)
{
	struct sbuf text = SBUF_INIT;
	struct config *c;
	struct error err = ERROR_INIT;
	size_t i;

	/* inih would split this one and parse its tail as a key */
	sbuf_addstr(&text, "[service \"web\"]\n; ");
	for (i = 0; i < 200; i++)
		sbuf_addch(&text, 'x');
	sbuf_addstr(&text, "health = /smuggled\n");
	parse_fails(text.buf, 2, "longer than 197 characters");

	/* 197 characters is still one line */
	sbuf_reset(&text);
	sbuf_addstr(&text, "[service \"web\"]\ndescription = ");
	for (i = strlen("description = "); i < 197; i++)
		sbuf_addch(&text, 'd');
	sbuf_addstr(&text, "\r\n");
	assert_int_equal(0, config_parse(&c, text.buf, PATH, &err));
	assert_int_equal(197 - strlen("description = "),
			 strlen(c->services[0].description));
	config_free(c);
	sbuf_setlen(&text, text.len - 2);
	sbuf_addstr(&text, "d\n");
	parse_fails(text.buf, 2, "longer than");
	sbuf_release(&text);
}

static void test_malformed_lines(void **state UNUSED)
{
	parse_fails("[env]\nfile\n", 2, "expected 'key = value'");
	parse_fails("[env]\n= .env\n", 2, "key is missing");
	parse_fails("\n\n[env\n", 3, "no closing ']'");
	parse_fails("[env] file = .env\n", 1, "unexpected text after ']'");
	parse_fails("[service \"a ;b\"]\n", 1, "comment");
	parse_fails("[env]\nfile ; = .env\n", 2, "expected 'key = value'");
}

static void test_service_headers(void **state UNUSED)
{
	struct config *c;

	parse_fails("[service web]\n", 1, "expected [service \"NAME\"]");
	parse_fails("[service]\n", 1, "expected [service \"NAME\"]");
	parse_fails("[service \"web]\n", 1, "expected [service \"NAME\"]");
	parse_fails("[service \"web\" x]\n", 1, "expected [service \"NAME\"]");
	parse_fails("[service \"\"]\n", 1, "invalid service name ''");
	parse_fails("\n[service \"a b\"]\n", 2, "invalid service name 'a b'");
	parse_fails("[service \"../x\"]\n", 1, "invalid service name");
	parse_fails("[service \"-x\"]\n", 1, "invalid service name");
	/* longer than inih's own buffer for section names */
	c = parse_ok(
		"[service \"a234567890123456789012345678901234567890123456789\"]\n"
		"var = LONG\n"
		"[ service  \"b\" ]\n");
	assert_int_equal(2, c->nr_services);
	assert_string_equal("a234567890123456789012345678901234567890123456789",
			    c->services[0].name);
	assert_string_equal("LONG", c->services[0].var);
	assert_string_equal("b", c->services[1].name);
	config_free(c);
}

static void test_duplicates(void **state UNUSED)
{
	parse_fails("[service \"web\"]\n[service \"api\"]\n[service \"web\"]\n",
		    3, "duplicate section [service \"web\"] (first at line 1)");
	parse_fails("[env]\n[vars]\n[env]\n", 3,
		    "duplicate section [env] (first at line 1)");
	parse_fails("[vars]\n[vars]\n", 2, "duplicate section [vars]");
	parse_fails("[env]\nfile = a\nfile = b\n", 3,
		    "set twice (first at line 2)");
	parse_fails(
		"[env]\ncompose_project_name = 1\ncompose_project_name = 1\n",
		3, "set twice");
	parse_fails(
		"[service \"web\"]\nrange = web\nhealth = tcp\nrange = api\n",
		4, "set twice (first at line 2)");
	parse_fails("[service \"web\"]\nvar = A\nvar = B\n", 3, "set twice");
	parse_fails("[service \"web\"]\nhealth = tcp\nhealth = tcp\n", 3,
		    "set twice");
	parse_fails("[service \"web\"]\ndescription = a\ndescription = b\n", 3,
		    "set twice");
	parse_warns("[vars]\nA = x\nB = y\nA = z\n", 4,
		    "set twice (first at line 2)");
}

static void test_duplicate_field(void **state UNUSED)
{
	struct error err = ERROR_INIT;
	struct config *c = NULL;

	assert_int_equal(ERR_CONFIG,
			 config_parse(&c,
				      "[service \"web\"]\nrange=a\nrange=b\n",
				      PATH, &err));
	assert_string_equal("service \"web\".range", err.field);
}

static void test_same_variable_twice(void **state UNUSED)
{
	parse_fails(
		"[service \"web\"]\n[service \"WEB\"]\n", 2,
		"variable PORT_WEB is also the port of service \"web\" (line 1)");
	parse_fails("[service \"web-1\"]\n[service \"web_1\"]\n", 2,
		    "PORT_WEB_1");
	parse_fails("[service \"web\"]\n[service \"api\"]\nvar = PORT_WEB\n", 3,
		    "also the port of service \"web\"");
	parse_fails("[service \"web\"]\n[vars]\nPORT_WEB = 1\n", 3,
		    "also the port of service \"web\"");
	parse_fails("[vars]\nX_PORT = 1\n[service \"web\"]\nvar = X_PORT\n", 4,
		    "also set in [vars] (line 2)");
}

static void test_unknown_keys_and_sections_warn(void **state UNUSED)
{
	struct config *c;

	warns_once("[env]\nfile = .env\nx = 1\n",
		   PATH ":3: unknown key 'x' in [env], ignored");
	warns_once("[service \"web\"]\nport = 80\n",
		   PATH ":2: unknown key 'port' in [service \"web\"], ignored");
	warns_once("\n[hooks]\nrun = rm -rf /\nmore = 1\n",
		   PATH ":2: unknown section [hooks], ignored");
	warns_once("[Service \"web\"]\n",
		   PATH ":1: unknown section [Service \"web\"], ignored");
	warns_once("file = .env\n",
		   PATH ":1: key 'file' before any section, ignored");
	/* what is ignored is not used */
	c = parse_ok("[hooks]\n[env]\nFile = x\n");
	assert_string_equal(".env", c->env_files[0]);
	assert_int_equal(2, c->nr_warnings);
	config_free(c);
}

static void test_warnings_escape_user_text(void **state UNUSED)
{
	warns_once("[env]\n\x1b[31mred = 1\n",
		   PATH ":2: unknown key '\\x1b[31mred' in [env], ignored");
	warns_once("[env]\nk\\ey = 1\n",
		   PATH ":2: unknown key 'k\\x5cey' in [env], ignored");
}

static void test_warnings_are_bounded(void **state UNUSED)
{
	struct sbuf text = SBUF_INIT;
	struct config *c;
	int i;

	sbuf_addstr(&text, "[service \"web\"]\n[env]\n");
	for (i = 0; i < 100; i++)
		sbuf_addf(&text, "k%d = 1\n", i);
	sbuf_addstr(&text, "[vars]\nA = ${HOME}\n");
	c = parse_ok(text.buf);
	assert_int_equal(21, c->nr_warnings);
	assert_string_equal(PATH ":3: unknown key 'k0' in [env], ignored",
			    c->warnings[0]);
	assert_string_equal(PATH ": 81 more warnings not shown",
			    c->warnings[20]);
	config_free(c);
	sbuf_release(&text);
}

static void test_warnings_in_line_order(void **state UNUSED)
{
	struct config *c = parse_ok("[vars]\n"
				    "A = ${HOME}\n"
				    "[env]\n"
				    "x = 1\n");

	assert_int_equal(2, c->nr_warnings);
	assert_string_equal(
		PATH ":2: vars.A: unknown placeholder '${HOME}'; skipped",
		c->warnings[0]);
	assert_string_equal(PATH ":4: unknown key 'x' in [env], ignored",
			    c->warnings[1]);
	config_free(c);
}

static void test_range_names(void **state UNUSED)
{
	struct config *c = parse_ok("[service \"web\"]\nrange = web.v2_x-1\n");

	assert_string_equal("web.v2_x-1", c->services[0].range);
	config_free(c);
	parse_warns("[service \"web\"]\nrange = ../web\n", 2,
		    "invalid range name '../web'");
	parse_warns("[service \"web\"]\nrange =\n", 2, "invalid range name ''");
	parse_warns("[service \"web\"]\nrange = a b\n", 2,
		    "invalid range name");
}

static void test_var_names(void **state UNUSED)
{
	var_is("[service \"web\"]\nvar = _x9\n", "_x9");
	var_is("[service \"web\"]\nvar = PORT\n", "PORT");
	/* exactly 64 */
	var_is("[service \"web\"]\nvar = V234567890123456789012345678901234567890123456789012345678901234\n",
	       "V234567890123456789012345678901234567890123456789012345678901234");
	parse_warns(
		"[service \"web\"]\nvar = V2345678901234567890123456789012345678901234567890123456789012345\n",
		2, "longer than 64 characters");
	parse_warns("[service \"web\"]\nvar = 9LIVES\n", 2,
		    "'9LIVES' is not a variable name");
	parse_warns("[service \"web\"]\nvar = A-B\n", 2, "not a variable name");
	parse_warns("[service \"web\"]\nvar = A B\n", 2, "not a variable name");
	parse_warns("[service \"web\"]\nvar =\n", 2, "not a variable name");
	parse_warns("[service \"web\"]\nvar = $(id)\n", 2,
		    "not a variable name");
	parse_warns("[vars]\nA.B = 1\n", 2, "not a variable name");
	parse_warns("[vars]\n1A = 1\n", 2, "not a variable name");
}

static void test_shadowing_names_refused(void **state UNUSED)
{
	static const char *const names[] = {
		"PATH",
		"path",
		"Home",
		"IFS",
		"LD_PRELOAD",
		"ld_library_path",
		"DYLD_INSERT_LIBRARIES",
		"GIT_DIR",
		"GIT_SSH_COMMAND",
		"BASH_ENV",
		"BASH_FUNC_x",
		"ENV",
		"PS1",
		"PROMPT_COMMAND",
		"LC_ALL",
		"SSH_AUTH_SOCK",
		"DOCKER_HOST",
		"NODE_OPTIONS",
		"PYTHONPATH",
		"PERL5OPT",
		"RUBYOPT",
		"JAVA_TOOL_OPTIONS",
		"TMPDIR",
		"CDPATH",
		"EDITOR",
		"PAGER",
		"XDG_CONFIG_HOME",
		"http_proxy",
		"npm_config_script_shell",
		"NODE_PATH",
	};
	char text[128];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		assert_false(config_valid_var_name(names[i]));
		snprintf(text, sizeof(text), "[service \"web\"]\nvar = %s\n",
			 names[i]);
		parse_warns(text, 2, "would shadow");
		snprintf(text, sizeof(text), "[vars]\n%s = x\n", names[i]);
		parse_warns(text, 2, "would shadow");
	}
	assert_true(config_valid_var_name("PATHS_PORT"));
	assert_true(config_valid_var_name("MY_PATH"));
	assert_true(config_valid_var_name("GITLAB_PORT"));
	assert_true(config_valid_var_name("DATABASE_URL"));
}

static void test_compose_vars_refused(void **state UNUSED)
{
	assert_false(config_valid_var_name("COMPOSE_PROJECT_NAME"));
	parse_warns("[vars]\nCOMPOSE_PROJECT_NAME = x\n", 2,
		    "written only by the tool");
	parse_warns("[service \"web\"]\nvar = compose_project_name\n", 2,
		    "written only by the tool");
	parse_warns("[vars]\nCOMPOSE_FILE = evil.yml\n", 2, "would shadow");
	parse_warns("[service \"web\"]\nvar = COMPOSE_PROFILES\n", 2,
		    "would shadow");
}

static void test_env_files_refused(void **state UNUSED)
{
	struct sbuf text = SBUF_INIT;
	int i;

	parse_fails("[env]\nfile = /etc/profile\n", 2, "absolute path");
	parse_fails("[env]\nfile = .env, /tmp/x\n", 2, "absolute path");
	parse_fails("[env]\nfile =\n", 2, "empty target");
	parse_fails("[env]\nfile = .env,\n", 2, "empty target");
	parse_fails("[env]\nfile = .env,,x\n", 2, "empty target");
	parse_fails("[env]\nfile = ../x/.env\n", 2, "'..' component");
	parse_fails("[env]\nfile = a/../../.env\n", 2, "'..' component");
	parse_fails("[env]\nfile = a/..\n", 2, "'..' component");
	parse_fails("[env]\nfile = .git/hooks/post-checkout\n", 2,
		    "'.git' component");
	parse_fails("[env]\nfile = sub/.GIT/config\n", 2, "'.git' component");
	parse_fails("[env]\nfile = sub/.git\n", 2, "'.git' component");
	parse_fails("[env]\nfile = a\\b\n", 2, "backslash");
	parse_fails("[env]\nfile = a\x01"
		    "b\n",
		    2, "control character");
	parse_fails("[env]\nfile = a\tb\n", 2, "control character");
	parse_fails("[env]\nfile = caf\xc3\xa9.env\n", 2, "non-ASCII");
	parse_fails("[env]\nfile = sub/\n", 2, "ends in '/'");
	parse_fails("[env]\nfile = .\n", 2, "the worktree itself");
	parse_fails("[env]\nfile = ./.worktree-ports.ini\n", 2,
		    "the config file itself");
	/* no line is long enough for a target of more than 255 bytes */
	sbuf_addstr(&text, "[env]\nfile = ");
	for (i = 0; i < 128; i++)
		sbuf_addstr(&text, "a/");
	sbuf_addstr(&text, "x\n");
	parse_fails(text.buf, 2, "line is longer than 197 characters");
	sbuf_release(&text);
}

static void test_health(void **state UNUSED)
{
	struct config *c = parse_ok(
		"[service \"web\"]\nhealth = /api/health?deep=1&x=%20\n");

	assert_string_equal("/api/health?deep=1&x=%20", c->services[0].health);
	config_free(c);
	parse_warns("[service \"web\"]\nhealth = http://evil.example/\n", 2,
		    "expected 'tcp' or an HTTP path");
	parse_warns("[service \"web\"]\nhealth = TCP\n", 2, "expected 'tcp'");
	parse_warns("[service \"web\"]\nhealth =\n", 2, "expected 'tcp'");
	parse_warns("[service \"web\"]\nhealth = @evil.example/\n", 2,
		    "expected 'tcp'");
	parse_warns("[service \"web\"]\nhealth = /a b\n", 2, "a space");
	parse_warns("[service \"web\"]\nhealth = /a\x1b"
		    "b\n",
		    2, "control character");
	parse_warns("[service \"web\"]\nhealth = /caf\xc3\xa9\n", 2,
		    "non-ASCII");
}

static void test_descriptions(void **state UNUSED)
{
	struct config *c = parse_ok(
		"[service \"web\"]\ndescription = Caf\xc3\xa9 \xe2\x80\x94 UI\n");

	assert_string_equal("Caf\xc3\xa9 \xe2\x80\x94 UI",
			    c->services[0].description);
	config_free(c);
	c = parse_ok("[service \"web\"]\ndescription =\n");
	assert_null(c->services[0].description);
	config_free(c);
	warns_once(
		"[service \"web\"]\ndescription = a\x1b]0;title\x07z\n", PATH
		":2: service \"web\".description: holds a control character or invalid UTF-8, ignored");
	c = parse_ok("[service \"web\"]\ndescription = a\tb\n"
		     "[service \"api\"]\ndescription = \xc2\x9b"
		     "31m\n"
		     "[service \"db\"]\ndescription = \xc0\xaf\n"
		     "[service \"x\"]\ndescription = \xed\xa0\x80\n");
	assert_int_equal(4, c->nr_warnings);
	assert_null(c->services[0].description);
	assert_null(c->services[1].description);
	assert_null(c->services[2].description);
	assert_null(c->services[3].description);
	config_free(c);
}

static void test_size_limits(void **state UNUSED)
{
	struct sbuf text = SBUF_INIT;
	struct config *c;
	int i;

	for (i = 0; i < CONFIG_MAX_SERVICES; i++)
		sbuf_addf(&text, "[service \"s%d\"]\n", i);
	c = parse_ok(text.buf);
	assert_int_equal(CONFIG_MAX_SERVICES, c->nr_services);
	config_free(c);
	sbuf_addstr(&text, "[service \"one-more\"]\n");
	parse_fails(text.buf, 65, "more than 64 services");

	sbuf_reset(&text);
	sbuf_addstr(&text, "[vars]\n");
	for (i = 0; i < CONFIG_MAX_VARS; i++)
		sbuf_addf(&text, "V%d = %d\n", i, i);
	c = parse_ok(text.buf);
	assert_int_equal(CONFIG_MAX_VARS, c->nr_vars);
	config_free(c);
	sbuf_addstr(&text, "ONE_MORE = x\n");
	parse_warns(text.buf, 130, "more than 128");

	sbuf_reset(&text);
	while (text.len <= CONFIG_MAX_SIZE)
		sbuf_addstr(&text, "; padding padding padding padding\n");
	parse_fails(text.buf, 0, "larger than 64 KiB");
	sbuf_release(&text);
}

static void test_templates_checked_at_load(void **state UNUSED)
{
	struct config *c = parse_ok(
		"[service \"web\"]\n"
		"[vars]\n"
		"GOOD = http://127.0.0.1:${port:web}/${worktree}/${repo}_${slug}\n"
		"EMPTY =\n"
		"A = ${HOME}\n"
		"B = $HOME\n"
		"C = $(touch canary)\n"
		"D = `touch canary`\n"
		"E = 'quoted'\n"
		"F = \"quoted\"\n"
		"G = a b\n"
		"H = ${port:nosuch}\n"
		"I = ${port:web\n"
		"J = a\\b\n"
		"K = ${port:}\n"
		"L = ${PORT:web}\n"
		"M = x;y\n"
		"N = ${}\n");

	assert_int_equal(2, c->nr_vars);
	assert_string_equal("GOOD", c->vars[0].name);
	assert_string_equal("EMPTY", c->vars[1].name);
	assert_string_equal("", c->vars[1].template);
	assert_int_equal(14, c->nr_warnings);
	assert_string_equal(
		PATH ":5: vars.A: unknown placeholder '${HOME}'; skipped",
		c->warnings[0]);
	assert_string_equal(
		PATH
		":6: vars.B: '$' is allowed only in ${port:SERVICE}, ${worktree}, ${slug} or ${repo}; skipped",
		c->warnings[1]);
	assert_non_null(strstr(c->warnings[2], ":7: vars.C: '$' is allowed"));
	assert_string_equal(
		PATH
		":8: vars.D: value has a character outside the safe set; skipped",
		c->warnings[3]);
	assert_non_null(strstr(c->warnings[4], ":9: vars.E: value has a"));
	assert_non_null(strstr(c->warnings[5], ":10: vars.F: value has a"));
	assert_non_null(strstr(c->warnings[6], ":11: vars.G: value has a"));
	assert_string_equal(
		PATH
		":12: vars.H: ${port:nosuch} names no service of this file; skipped",
		c->warnings[7]);
	assert_non_null(strstr(c->warnings[8], ":13: vars.I: '$' is allowed"));
	assert_non_null(strstr(c->warnings[9], ":14: vars.J: value has a"));
	assert_non_null(strstr(c->warnings[10],
			       ":15: vars.K: unknown placeholder '${port:}'"));
	assert_non_null(
		strstr(c->warnings[11], ":16: vars.L: unknown placeholder"));
	assert_non_null(strstr(c->warnings[12], ":17: vars.M: value has a"));
	assert_non_null(strstr(c->warnings[13],
			       ":18: vars.N: unknown placeholder '${}'"));
	config_free(c);
}

/* A service declared after [vars] is still one of this file. */
static void test_template_service_declared_later(void **state UNUSED)
{
	struct config *c =
		parse_ok("[vars]\nA = ${port:db}\n[service \"db\"]\n");

	assert_int_equal(1, c->nr_vars);
	assert_int_equal(0, c->nr_warnings);
	config_free(c);
}

struct ports {
	int calls;
	char last[32]; /* the service asked about last */
};

static int port_of(uint16_t *out, const char *service, void *payload)
{
	struct ports *p = payload;

	p->calls++;
	snprintf(p->last, sizeof(p->last), "%s", service);
	if (!strcmp(service, "web"))
		*out = 8081;
	else if (!strcmp(service, "database"))
		*out = 5433;
	else
		return ERR_NOTFOUND;
	return 0;
}

static struct config *expand_config(void)
{
	return parse_ok(
		"[service \"web\"]\n"
		"[service \"database\"]\n"
		"[service \"cache\"]\n"
		"[vars]\n"
		"DATABASE_URL = postgres://app@127.0.0.1:${port:database}/app_${slug}\n"
		"API_URL = http://localhost:${port:web}/v1?wt=${worktree}&r=${repo}\n"
		"NAME = ${worktree}\n"
		"SLUG = ${slug}\n"
		"REPO = ${repo}\n"
		"CACHE = ${port:cache}\n"
		"PLAIN = a-b_c.d:e/f@g%h+i,j=k?l&m\n");
}

/* Expand c->vars[i], which must succeed with 'expect'. */
static void expands_to(const struct config *c, size_t i,
		       const struct config_context *ctx, const char *expect)
{
	struct sbuf out = SBUF_INIT;
	struct error err = ERROR_INIT;

	sbuf_addstr(&out, "X=");
	assert_int_equal(0, config_expand(&out, c, &c->vars[i], ctx, &err));
	assert_int_equal(0, err.code);
	assert_string_equal(expect, out.buf + 2);
	sbuf_release(&out);
}

/* Expand c->vars[i], which must fail with 'code' and 'msg'. */
static void expand_refused(const struct config *c, size_t i,
			   const struct config_context *ctx, int code,
			   const char *msg)
{
	struct sbuf out = SBUF_INIT;
	struct error err = ERROR_INIT;
	char field[64];

	sbuf_addstr(&out, "X=");
	assert_int_equal(code, config_expand(&out, c, &c->vars[i], ctx, &err));
	assert_string_equal("X=", out.buf);
	assert_int_equal(code, err.code);
	assert_string_equal(PATH, err.file);
	assert_int_equal(c->vars[i].line, err.line);
	snprintf(field, sizeof(field), "vars.%s", c->vars[i].name);
	assert_string_equal(field, err.field);
	assert_string_equal(msg, err.msg);
	sbuf_release(&out);
}

static void test_expand_placeholders(void **state UNUSED)
{
	struct config *c = expand_config();
	struct ports ports = { 0 };
	struct config_context ctx = { .worktree = "Feature-Login.2",
				      .repo = "app",
				      .port = port_of,
				      .payload = &ports };

	assert_int_equal(7, c->nr_vars);
	expands_to(c, 0, &ctx,
		   "postgres://app@127.0.0.1:5433/app_feature_login_2");
	assert_string_equal("database", ports.last);
	expands_to(c, 1, &ctx,
		   "http://localhost:8081/v1?wt=Feature-Login.2&r=app");
	expands_to(c, 2, &ctx, "Feature-Login.2");
	expands_to(c, 3, &ctx, "feature_login_2");
	expands_to(c, 4, &ctx, "app");
	expands_to(c, 6, &ctx, "a-b_c.d:e/f@g%h+i,j=k?l&m");
	config_free(c);
}

static void test_expand_refuses_unsafe_values(void **state UNUSED)
{
	struct config *c = expand_config();
	struct ports ports = { 0 };
	struct config_context ctx = { .worktree = "a b",
				      .repo = "my app",
				      .port = port_of,
				      .payload = &ports };

	expand_refused(c, 2, &ctx, ERR_CONFIG,
		       "value has a character outside the safe set; skipped");
	/* the slug of "a b" is safe */
	expands_to(c, 3, &ctx, "a_b");
	expand_refused(c, 4, &ctx, ERR_CONFIG,
		       "value has a character outside the safe set; skipped");
	ctx.worktree = "x$(id)";
	expand_refused(c, 2, &ctx, ERR_CONFIG,
		       "value has a character outside the safe set; skipped");
	ctx.worktree = "it's";
	expand_refused(c, 2, &ctx, ERR_CONFIG,
		       "value has a character outside the safe set; skipped");
	ctx.worktree = "a\nB=1";
	expand_refused(c, 2, &ctx, ERR_CONFIG,
		       "value has a character outside the safe set; skipped");
	/* a placeholder's value is not expanded again */
	ctx.worktree = "${repo}";
	expand_refused(c, 2, &ctx, ERR_CONFIG,
		       "value has a character outside the safe set; skipped");
	config_free(c);
}

static void test_expand_needs_names_and_ports(void **state UNUSED)
{
	struct config *c = expand_config();
	struct ports ports = { 0 };
	struct config_context ctx = { .port = port_of, .payload = &ports };

	expand_refused(c, 2, &ctx, ERR_CONFIG,
		       "no worktree name for ${worktree}; skipped");
	expand_refused(c, 3, &ctx, ERR_CONFIG,
		       "no worktree name for ${slug}; skipped");
	expand_refused(c, 4, &ctx, ERR_CONFIG,
		       "no repository name for ${repo}; skipped");
	expand_refused(c, 5, &ctx, ERR_NOTFOUND,
		       "no port for service 'cache'; skipped");
	assert_string_equal("cache", ports.last);
	ctx.port = NULL;
	expand_refused(c, 5, &ctx, ERR_NOTFOUND,
		       "no port for service 'cache'; skipped");
	config_free(c);
}

/* config_expand() checks again whatever template it is given. */
static void test_expand_checks_templates_itself(void **state UNUSED)
{
	struct config *c = expand_config();
	struct config_var bad = { .name = "BAD",
				  .template = "${HOME}",
				  .line = 9 };
	struct config_context ctx = { .worktree = "w", .repo = "r" };
	struct sbuf out = SBUF_INIT;
	struct error err = ERROR_INIT;

	assert_int_equal(ERR_CONFIG, config_expand(&out, c, &bad, &ctx, &err));
	assert_int_equal(9, err.line);
	assert_string_equal("unknown placeholder '${HOME}'; skipped", err.msg);
	error_clear(&err);
	bad.template = "${port:nosuch}";
	assert_int_equal(ERR_CONFIG, config_expand(&out, c, &bad, &ctx, &err));
	assert_string_equal(
		"${port:nosuch} names no service of this file; skipped",
		err.msg);
	error_clear(&err);
	bad.template = "`id`";
	assert_int_equal(ERR_CONFIG, config_expand(&out, c, &bad, &ctx, NULL));
	assert_int_equal(0, out.len);
	sbuf_release(&out);
	config_free(c);
}

static void slug_is(const char *worktree, const char *expect)
{
	struct sbuf out = SBUF_INIT;

	config_slug(&out, worktree);
	assert_string_equal(expect, out.buf);
	sbuf_release(&out);
}

static void test_slug(void **state UNUSED)
{
	slug_is("feature-login", "feature_login");
	slug_is("Review-GH-42", "review_gh_42");
	slug_is("a b.c/d", "a_b_c_d");
	slug_is("snake_case_9", "snake_case_9");
	slug_is(".main", "_main");
	slug_is("caf\xc3\xa9", "caf__");
	slug_is("", "");
}

/* A temporary worktree top, and a directory beside it. */
struct dirs {
	char top[64];
	char outside[80];
	char file[128];
};

static int setup_dirs(void **state)
{
	struct dirs *d = xcalloc(1, sizeof(*d));

	if (make_temp_dir(d->top, sizeof(d->top), "config") < 0)
		return -1;
	snprintf(d->outside, sizeof(d->outside), "%s.out", d->top);
	if (mkdir(d->outside, 0700) < 0)
		return -1;
	snprintf(d->file, sizeof(d->file), "%s/%s", d->top, CONFIG_FILE);
	*state = d;
	return 0;
}

static int teardown_dirs(void **state)
{
	struct dirs *d = *state;

	rm_rf(d->top);
	rm_rf(d->outside);
	free(d);
	return 0;
}

/* write_file(), for text that may hold NUL bytes. */
static void write_bytes(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal((ssize_t)len, write(fd, text, len));
	close(fd);
}

static void test_load_missing_file(void **state)
{
	struct dirs *d = *state;
	struct error err = ERROR_INIT;
	struct config *c = (struct config *)d;

	assert_int_equal(ERR_NOTFOUND, config_load(&c, d->top, &err));
	assert_null(c);
}

static void test_load_regular_file(void **state)
{
	struct dirs *d = *state;
	struct error err = ERROR_INIT;
	struct config *c = NULL;
	struct sbuf top = SBUF_INIT;
	const char *text = "[service \"web\"]\nrange = web\nx = 1\n";

	write_bytes(d->file, text, strlen(text));
	assert_int_equal(0, config_load(&c, d->top, &err));
	assert_string_equal(d->file, c->path);
	assert_string_equal("web", c->services[0].range);
	assert_int_equal(1, c->nr_warnings);
	assert_non_null(strstr(c->warnings[0], d->file));
	config_free(c);
	/* a final slash on the top does not show in messages */
	sbuf_addf(&top, "%s/", d->top);
	assert_int_equal(0, config_load(&c, top.buf, &err));
	assert_string_equal(d->file, c->path);
	config_free(c);
	sbuf_release(&top);
}

static void test_load_reports_file_and_line(void **state)
{
	struct dirs *d = *state;
	struct error err = ERROR_INIT;
	struct config *c = NULL;
	const char *text = "[env]\n\nfile = ../.env\n";

	write_bytes(d->file, text, strlen(text));
	assert_int_equal(ERR_CONFIG, config_load(&c, d->top, &err));
	assert_string_equal(d->file, err.file);
	assert_int_equal(3, err.line);
	assert_string_equal("env.file", err.field);
}

static void test_load_refuses_symlink_out(void **state)
{
	struct dirs *d = *state;
	struct error err = ERROR_INIT;
	struct config *c = NULL;
	struct sbuf target = SBUF_INIT;
	const char *text = "[service \"web\"]\n";

	sbuf_addf(&target, "%s/config.ini", d->outside);
	write_bytes(target.buf, text, strlen(text));
	assert_int_equal(0, symlink(target.buf, d->file));
	assert_int_equal(ERR_CONFIG, config_load(&c, d->top, &err));
	assert_null(c);
	assert_non_null(strstr(err.msg, "leads out of the worktree"));
	/* relative, through "..", to the same file */
	unlink(d->file);
	sbuf_reset(&target);
	sbuf_addf(&target, "../%s/config.ini", strrchr(d->outside, '/') + 1);
	assert_int_equal(0, symlink(target.buf, d->file));
	error_clear(&err);
	assert_int_equal(ERR_CONFIG, config_load(&c, d->top, &err));
	assert_non_null(strstr(err.msg, "leads out of the worktree"));
	/* to a sibling whose name starts with the top's */
	unlink(d->file);
	error_clear(&err);
	assert_int_equal(0, symlink("/etc/passwd", d->file));
	assert_int_equal(ERR_CONFIG, config_load(&c, d->top, &err));
	unlink(d->file);
	error_clear(&err);
	assert_int_equal(0, symlink("nowhere", d->file));
	assert_int_equal(ERR_CONFIG, config_load(&c, d->top, &err));
	assert_non_null(strstr(err.msg, "leads nowhere"));
	sbuf_release(&target);
}

static void test_load_follows_symlink_inside(void **state)
{
	struct dirs *d = *state;
	struct error err = ERROR_INIT;
	struct config *c = NULL;
	struct sbuf path = SBUF_INIT;
	const char *text = "[service \"api\"]\n";

	sbuf_addf(&path, "%s/conf", d->top);
	assert_int_equal(0, mkdir(path.buf, 0700));
	sbuf_addstr(&path, "/ports.ini");
	write_bytes(path.buf, text, strlen(text));
	assert_int_equal(0, symlink("conf/ports.ini", d->file));
	assert_int_equal(0, config_load(&c, d->top, &err));
	assert_string_equal("api", c->services[0].name);
	config_free(c);
	sbuf_release(&path);
}

static void test_load_refuses_non_regular_files(void **state)
{
	struct dirs *d = *state;
	struct error err = ERROR_INIT;
	struct config *c = NULL;

	assert_int_equal(0, mkdir(d->file, 0700));
	assert_int_equal(ERR_CONFIG, config_load(&c, d->top, &err));
	assert_string_equal("not a regular file", err.msg);
	rmdir(d->file);
	/* a FIFO: refused at once, without waiting for a writer */
	assert_int_equal(0, mkfifo(d->file, 0600));
	error_clear(&err);
	assert_int_equal(ERR_CONFIG, config_load(&c, d->top, &err));
	assert_string_equal("not a regular file", err.msg);
	assert_null(c);
}

static void test_load_refuses_nul_and_size(void **state)
{
	struct dirs *d = *state;
	struct error err = ERROR_INIT;
	struct config *c = NULL;
	struct sbuf text = SBUF_INIT;

	write_bytes(d->file, "[env]\n\nfile = .env\0\n[hidden]\n", 28);
	assert_int_equal(ERR_CONFIG, config_load(&c, d->top, &err));
	assert_int_equal(3, err.line);
	assert_string_equal("a NUL byte", err.msg);
	while (text.len <= CONFIG_MAX_SIZE)
		sbuf_addstr(&text, "; padding\n");
	write_bytes(d->file, text.buf, text.len);
	error_clear(&err);
	assert_int_equal(ERR_CONFIG, config_load(&c, d->top, &err));
	assert_string_equal("larger than 64 KiB", err.msg);
	sbuf_release(&text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_null_path_names_the_file),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_default_var_names),
		cmocka_unit_test(test_default_var_too_long),
		cmocka_unit_test(test_comma_lists),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_colon_separates_too),
		cmocka_unit_test(test_crlf_and_bom),
		cmocka_unit_test(test_keys_may_be_indented_once),
		cmocka_unit_test(test_continuation_lines_refused),
		cmocka_unit_test(test_long_lines_refused),
		cmocka_unit_test(test_malformed_lines),
		cmocka_unit_test(test_service_headers),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_duplicate_field),
		cmocka_unit_test(test_same_variable_twice),
		cmocka_unit_test(test_unknown_keys_and_sections_warn),
		cmocka_unit_test(test_warnings_escape_user_text),
		cmocka_unit_test(test_warnings_are_bounded),
		cmocka_unit_test(test_warnings_in_line_order),
		cmocka_unit_test(test_range_names),
		cmocka_unit_test(test_var_names),
		cmocka_unit_test(test_shadowing_names_refused),
		cmocka_unit_test(test_compose_vars_refused),
		cmocka_unit_test(test_env_files_refused),
		cmocka_unit_test(test_health),
		cmocka_unit_test(test_descriptions),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_templates_checked_at_load),
		cmocka_unit_test(test_template_service_declared_later),
		cmocka_unit_test(test_expand_placeholders),
		cmocka_unit_test(test_expand_refuses_unsafe_values),
		cmocka_unit_test(test_expand_needs_names_and_ports),
		cmocka_unit_test(test_expand_checks_templates_itself),
		cmocka_unit_test(test_slug),
		cmocka_unit_test_setup_teardown(test_load_missing_file,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(test_load_regular_file,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(test_load_reports_file_and_line,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(test_load_refuses_symlink_out,
						setup_dirs, teardown_dirs),
		cmocka_unit_test_setup_teardown(
			test_load_follows_symlink_inside, setup_dirs,
			teardown_dirs),
		cmocka_unit_test_setup_teardown(
			test_load_refuses_non_regular_files, setup_dirs,
			teardown_dirs),
		cmocka_unit_test_setup_teardown(test_load_refuses_nul_and_size,
						setup_dirs, teardown_dirs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
