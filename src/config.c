#include "common.h"
#include "config.h"
#include "alloc.h"
#include "error.h"
#include "path.h"
#include "sbuf.h"
#include "text.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <ini.h>

/*
 * Variables that a shell, the dynamic loader, an interpreter, git or a
 * tool started from the worktree gives a meaning to. A value that names a
 * file of the (attacker-controlled) worktree would make it load code or
 * configuration from there, run a command, or send traffic elsewhere.
 * Compared with the upper-cased name.
 */
static const char *const reserved_names[] = {
	"PATH", "HOME", "SHELL", "IFS", "USER", "LOGNAME", "PWD", "OLDPWD",
	"TERM", "LANG", "LANGUAGE", "TZ", "TMPDIR", "CDPATH", "ENV", "BASH_ENV",
	"PS1", "PS2", "PS4", "PROMPT_COMMAND", "MAIL", "HOSTNAME", "DISPLAY",
	"EDITOR", "VISUAL", "PAGER", "SSH_AUTH_SOCK", "NODE_OPTIONS",
	"PYTHONPATH", "PYTHONSTARTUP", "PERL5LIB", "PERL5OPT", "RUBYOPT",
	"JAVA_TOOL_OPTIONS",
	/* beyond the list of SPEC: the same kind of danger */
	"SHELLOPTS", "BASHOPTS", "GLOBIGNORE", "HISTFILE", "INPUTRC", "ZDOTDIR",
	"NODE_PATH", "PYTHONHOME", "RUBYLIB", "CLASSPATH", "JDK_JAVA_OPTIONS",
	"_JAVA_OPTIONS", "GCONV_PATH", "LESSOPEN", "LESSCLOSE", "MANPAGER",
	"BROWSER", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
	"FTP_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE",
	"REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "KUBECONFIG"
};

static const char *const reserved_prefixes[] = {
	"LC_",	"LD_",	   "DYLD_",    "GIT_", "BASH_",
	"SSH_", "DOCKER_", "COMPOSE_", "XDG_", "NPM_CONFIG_"
};

enum section_kind {
	SECTION_NONE, /* before the first header */
	SECTION_ENV,
	SECTION_VARS,
	SECTION_SERVICE,
	SECTION_RANGE,
	SECTION_UNKNOWN
};

/* Warnings with their lines, to put those found late in file order. */
struct warning {
	int line;
	char *text;
};

struct warning_list {
	struct warning *items;
	size_t nr;
	size_t alloc;
	size_t dropped; /* past CONFIG_MAX_WARNINGS: counted only */
};

/* Where each key of a [service] was set, to report duplicates. */
struct service_lines {
	int range;
	int var;
	int health;
	int description;
};

/*
 * The parse: inih splits lines into keys and values and calls handle();
 * it reads the text through next_line(), which counts lines (so every
 * message has one), refuses lines inih would split, and reads section
 * headers itself: inih truncates long ones, ignores text after the ']',
 * and calls the handler for no section without keys.
 */
struct parser {
	struct config *c;
	struct error *err;
	bool failed;

	const char *pos; /* the text not read yet */
	const char *end;
	int lineno;

	enum section_kind kind;
	size_t service;	   /* c->services index, in SECTION_SERVICE */
	long range;	   /* c->ranges index in SECTION_RANGE; -1: dropped */
	size_t alloc_ranges;
	char *raw_section; /* between '[' and ']', as inih sees it */
	bool pair_seen;	   /* a key since the header: indenting continues it */

	int env_line; /* of the [env] header, 0 if none yet */
	int vars_line;
	int file_line; /* of the [env] keys */
	int compose_line;
	struct service_lines *lines; /* one per service */
	size_t alloc_lines;

	size_t alloc_files;
	size_t alloc_services;
	size_t alloc_vars;

	struct warning_list warnings; /* found while reading the lines */
	struct warning_list late;     /* found after: about [vars] */
	struct warning_list *warn_to; /* which of the two warn() fills */
};

static bool is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	       ch == '\v' || ch == '\f';
}

static bool is_alpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static bool is_control(int ch)
{
	return (unsigned char)ch < 0x20 || ch == 0x7f;
}

static int to_upper(int ch)
{
	return ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch;
}

static bool is_safe(int ch)
{
	return is_alpha(ch) || is_digit(ch) ||
	       (ch && strchr(CONFIG_SAFE_CHARS, ch));
}

__attribute__((format(printf, 4, 5))) static void
fail(struct parser *p, int line, const char *field, const char *fmt, ...)
{
	char msg[ERROR_MSG_MAX];
	va_list ap;

	if (p->failed)
		return;
	p->failed = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	error_set(p->err, ERR_CONFIG, p->c->path, line, field, "%s", msg);
}

__attribute__((format(printf, 4, 5))) static void
warn(struct parser *p, int line, const char *field, const char *fmt, ...)
{
	struct warning_list *list = p->warn_to;
	struct sbuf sb = SBUF_INIT;
	va_list ap;

	if (list->nr >= CONFIG_MAX_WARNINGS) {
		list->dropped++;
		return;
	}
	sbuf_addf(&sb, "%s:%d: ", p->c->path, line);
	if (field)
		sbuf_addf(&sb, "%s: ", field);
	va_start(ap, fmt);
	sbuf_vaddf(&sb, fmt, ap);
	va_end(ap);
	ALLOC_GROW(list->items, list->nr + 1, list->alloc);
	list->items[list->nr].line = line;
	list->items[list->nr++].text = sbuf_detach(&sb);
}

static void warning_list_release(struct warning_list *list)
{
	size_t i;

	for (i = 0; i < list->nr; i++)
		free(list->items[i].text);
	free(list->items);
	memset(list, 0, sizeof(*list));
}

/*
 * Merge the two lists, both in line order, into c->warnings, keeping at
 * most CONFIG_MAX_WARNINGS and saying how many more there were.
 */
static void collect_warnings(struct parser *p)
{
	struct warning_list *a = &p->warnings, *b = &p->late;
	struct config *c = p->c;
	size_t i = 0, j = 0, dropped = a->dropped + b->dropped;

	c->warnings = xcalloc(a->nr + b->nr + 1, sizeof(*c->warnings));
	while (i < a->nr || j < b->nr) {
		struct warning *w;

		if (j == b->nr ||
		    (i < a->nr && a->items[i].line <= b->items[j].line))
			w = &a->items[i++];
		else
			w = &b->items[j++];
		if (c->nr_warnings < CONFIG_MAX_WARNINGS) {
			c->warnings[c->nr_warnings++] = w->text;
		} else {
			free(w->text);
			dropped++;
		}
		w->text = NULL;
	}
	if (dropped) {
		struct sbuf sb = SBUF_INIT;

		sbuf_addf(&sb, "%s: %zu more warnings not shown", c->path,
			  dropped);
		c->warnings[c->nr_warnings++] = sbuf_detach(&sb);
	}
	a->nr = b->nr = 0;
}

static void field_service(char *buf, size_t size, const char *service,
			  const char *key)
{
	snprintf(buf, size, "service \"%s\".%s", service, key);
}

/*
 * inih's find_chars_or_comment(): the first of 'chars', or a ';' after
 * white space (an inline comment), or the end.
 */
static const char *find_chars_or_comment(const char *s, const char *end,
					 const char *chars)
{
	bool was_space = false;

	for (; s < end; s++) {
		if (strchr(chars, *s) || (was_space && *s == ';'))
			break;
		was_space = is_space(*s);
	}
	return s;
}

bool config_valid_var_name(const char *name)
{
	char upper[CONFIG_VAR_MAX + 1];
	size_t i, len = strlen(name);

	if (!len || len > CONFIG_VAR_MAX)
		return false;
	if (!is_alpha(name[0]) && name[0] != '_')
		return false;
	for (i = 0; i < len; i++) {
		if (!is_alpha(name[i]) && !is_digit(name[i]) && name[i] != '_')
			return false;
		upper[i] = to_upper(name[i]);
	}
	upper[len] = '\0';
	for (i = 0; i < ARRAY_SIZE(reserved_names); i++)
		if (!strcmp(upper, reserved_names[i]))
			return false;
	for (i = 0; i < ARRAY_SIZE(reserved_prefixes); i++)
		if (!strncmp(upper, reserved_prefixes[i],
			     strlen(reserved_prefixes[i])))
			return false;
	return true;
}

/* Fail with the reason 'name' is no good variable name. */
static void bad_var_name(struct parser *p, int line, const char *field,
			 const char *name)
{
	char shown[TEXT_SHOW_SIZE];
	size_t i, len = strlen(name);
	bool ident = len && (is_alpha(name[0]) || name[0] == '_');

	for (i = 0; ident && i < len; i++)
		if (!is_alpha(name[i]) && !is_digit(name[i]) && name[i] != '_')
			ident = false;
	text_show(shown, sizeof(shown), name);
	if (!ident)
		warn(p, line, field,
		     "'%s' is not a variable name: use letters, digits and '_', not starting with a digit; ignored",
		     shown);
	else if (len > CONFIG_VAR_MAX)
		warn(p, line, field,
		     "variable name '%s' is longer than %d characters; ignored",
		     shown, CONFIG_VAR_MAX);
	else if (!strcasecmp(name, "COMPOSE_PROJECT_NAME"))
		warn(p, line, field,
		     "COMPOSE_PROJECT_NAME is written only by the tool: set [env] compose_project_name = true; ignored");
	else
		warn(p, line, field,
		     "'%s' would shadow a variable that shells or tools use; choose another name; ignored",
		     shown);
}

static int parse_bool(bool *out, const char *s)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/*
 * Check one [env] file target, 'item' of 'len' bytes, trimmed, and append
 * its normalized form to 'out'. Returns NULL, or what is wrong with it.
 */
static const char *normalize_target(struct sbuf *out, const char *item,
				    size_t len)
{
	const char *p = item, *end = item + len;
	size_t i;

	if (!len)
		return "an empty target in the list";
	if (len > CONFIG_FILE_MAX)
		return "a target is longer than 255 bytes";
	if (item[0] == '/')
		return "a target is an absolute path; give it relative to the worktree";
	for (i = 0; i < len; i++) {
		if (is_control(item[i]) || (unsigned char)item[i] >= 0x80)
			return "a target holds a control character or non-ASCII byte";
		if (item[i] == '\\')
			return "a target holds a backslash";
		if (item[i] == '#' && (!i || is_space(item[i - 1])))
			return "'#' starts a comment only at the start of a line; put ' ;' before a comment";
	}
	if (item[len - 1] == '/')
		return "a target ends in '/'; name a file";
	while (p < end) {
		const char *slash = memchr(p, '/', end - p);
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);

		if (n == 2 && !memcmp(p, "..", 2))
			return "a target has a '..' component, which could lead out of the worktree";
		if (n == 4 && !strncasecmp(p, ".git", 4))
			return "a target has a '.git' component, git's own";
		if (n && !(n == 1 && *p == '.')) {
			if (out->len)
				sbuf_addch(out, '/');
			sbuf_add(out, p, n);
		}
		p += n + 1;
	}
	if (!out->len)
		return "a target names the worktree itself";
	if (!strcmp(out->buf, CONFIG_FILE))
		return "a target is the config file itself";
	return NULL;
}

static void env_file(struct parser *p, const char *value)
{
	struct config *c = p->c;
	const char *s = value;

	while (1) {
		const char *comma = strchr(s, ',');
		const char *e = comma ? comma : s + strlen(s);
		struct sbuf norm = SBUF_INIT;
		const char *why;
		size_t i;

		while (s < e && is_space(*s))
			s++;
		while (e > s && is_space(e[-1]))
			e--;
		why = normalize_target(&norm, s, e - s);
		if (why) {
			fail(p, p->lineno, "env.file", "%s", why);
			sbuf_release(&norm);
			return;
		}
		for (i = 0; i < c->nr_env_files; i++)
			if (!strcmp(c->env_files[i], norm.buf))
				break;
		if (i < c->nr_env_files) {
			sbuf_release(&norm);
		} else {
			ALLOC_GROW(c->env_files, c->nr_env_files + 1,
				   p->alloc_files);
			c->env_files[c->nr_env_files++] = sbuf_detach(&norm);
		}
		if (!comma)
			break;
		s = comma + 1;
	}
}

/* Fail if the key was set before in this section (at '*seen'). */
static bool duplicate_key(struct parser *p, int *seen, const char *field)
{
	if (*seen) {
		fail(p, p->lineno, field, "set twice (first at line %d)",
		     *seen);
		return true;
	}
	*seen = p->lineno;
	return false;
}

static void env_key(struct parser *p, const char *name, const char *value)
{
	char shown[TEXT_SHOW_SIZE];

	if (!strcmp(name, "file")) {
		if (!duplicate_key(p, &p->file_line, "env.file"))
			env_file(p, value);
	} else if (!strcmp(name, "compose_project_name")) {
		if (duplicate_key(p, &p->compose_line,
				  "env.compose_project_name"))
			return;
		if (parse_bool(&p->c->compose_project_name, value) < 0)
			fail(p, p->lineno, "env.compose_project_name",
			     "expected true or false, not '%s'",
			     text_show(shown, sizeof(shown), value));
	} else {
		warn(p, p->lineno, NULL, "unknown key '%s' in [env], ignored",
		     text_show(shown, sizeof(shown), name));
	}
}

static const char *health_problem(const char *value)
{
	size_t i;

	if (!strcmp(value, "tcp"))
		return NULL;
	if (value[0] != '/')
		return "expected 'tcp' or an HTTP path starting with '/'";
	if (strlen(value) > CONFIG_HEALTH_MAX)
		return "the path is longer than 1024 bytes";
	for (i = 0; value[i]; i++)
		if ((unsigned char)value[i] <= ' ' ||
		    (unsigned char)value[i] >= 0x7f)
			return "the path holds a space, a control character or a non-ASCII byte";
	return NULL;
}

static void service_key(struct parser *p, const char *name, const char *value)
{
	struct config_service *svc = &p->c->services[p->service];
	struct service_lines *lines = &p->lines[p->service];
	char field[ERROR_FIELD_MAX], shown[TEXT_SHOW_SIZE];
	const char *why;

	field_service(field, sizeof(field), svc->name, name);
	if (!strcmp(name, "range")) {
		if (duplicate_key(p, &lines->range, field))
			return;
		if (!alloc_valid_name(value))
			warn(p, p->lineno, field,
			     "invalid range name '%s': use 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit; ignored, the service gets its default range",
			     text_show(shown, sizeof(shown), value),
			     ALLOC_NAME_MAX);
		else
			svc->range = xstrdup(value);
	} else if (!strcmp(name, "var")) {
		if (duplicate_key(p, &lines->var, field))
			return;
		if (!config_valid_var_name(value))
			bad_var_name(p, p->lineno, field, value);
		else
			svc->var = xstrdup(value);
	} else if (!strcmp(name, "health")) {
		if (duplicate_key(p, &lines->health, field))
			return;
		why = health_problem(value);
		if (why)
			warn(p, p->lineno, field,
			     "%s; ignored, the port is checked with a TCP connect",
			     why);
		else
			svc->health = xstrdup(value);
	} else if (!strcmp(name, "description")) {
		if (duplicate_key(p, &lines->description, field))
			return;
		if (!text_is_printable(value))
			warn(p, p->lineno, field,
			     "holds a control character or invalid UTF-8, ignored");
		else if (*value)
			svc->description = xstrdup(value);
	} else {
		warn(p, p->lineno, NULL,
		     "unknown key '%s' in [service \"%s\"], ignored",
		     text_show(shown, sizeof(shown), name), svc->name);
	}
}

static void vars_key(struct parser *p, const char *name, const char *value)
{
	struct config *c = p->c;
	struct config_var *v;
	char field[ERROR_FIELD_MAX];
	size_t i;

	if (!config_valid_var_name(name)) {
		bad_var_name(p, p->lineno, "vars", name);
		return;
	}
	snprintf(field, sizeof(field), "vars.%s", name);
	for (i = 0; i < c->nr_vars; i++) {
		if (!strcmp(c->vars[i].name, name)) {
			warn(p, p->lineno, field,
			     "set twice (first at line %d); ignored",
			     c->vars[i].line);
			return;
		}
	}
	if (c->nr_vars == CONFIG_MAX_VARS) {
		warn(p, p->lineno, field, "more than %d [vars]; ignored",
		     CONFIG_MAX_VARS);
		return;
	}
	ALLOC_GROW(c->vars, c->nr_vars + 1, p->alloc_vars);
	v = &c->vars[c->nr_vars++];
	v->name = xstrdup(name);
	v->template = xstrdup(value);
	v->line = p->lineno;
}

/* A port of a [range]: 1024-65535, decimal. */
static bool parse_port(unsigned *out, const char *value)
{
	unsigned long n = 0;
	const char *p;

	if (!*value || strlen(value) > 5)
		return false;
	for (p = value; *p; p++) {
		if (!is_digit(*p))
			return false;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n < 1024 || n > 65535)
		return false;
	*out = (unsigned)n;
	return true;
}

static void range_key(struct parser *p, const char *name, const char *value)
{
	char field[ERROR_FIELD_MAX], shown[TEXT_SHOW_SIZE];
	struct config_range *r;
	unsigned *port = NULL;

	if (p->range < 0)
		return; /* the header was refused, and said so */
	r = &p->c->ranges[p->range];
	snprintf(field, sizeof(field), "range \"%s\".%s", r->name, name);
	if (!strcmp(name, "start"))
		port = &r->start;
	else if (!strcmp(name, "end"))
		port = &r->end;
	if (port) {
		if (*port)
			warn(p, p->lineno, field, "set twice; ignored");
		else if (!parse_port(port, value))
			warn(p, p->lineno, field,
			     "'%s' is not a port from 1024 to 65535; ignored",
			     text_show(shown, sizeof(shown), value));
	} else if (!strcmp(name, "description")) {
		if (!r->description && *value && text_is_printable(value))
			r->description = xstrdup(value);
	} else {
		warn(p, p->lineno, NULL,
		     "unknown key '%s' in [range \"%s\"], ignored",
		     text_show(shown, sizeof(shown), name), r->name);
	}
}

/*
 * The ranges that are not complete and valid go, each with a warning:
 * a range the project declares wrongly must not be half used.
 */
static void check_ranges(struct parser *p)
{
	struct config *c = p->c;
	size_t i, n = 0;

	for (i = 0; i < c->nr_ranges; i++) {
		struct config_range *r = &c->ranges[i];
		char field[ERROR_FIELD_MAX];
		const char *why = NULL;
		unsigned port;

		snprintf(field, sizeof(field), "range \"%s\"", r->name);
		if (!r->start || !r->end)
			why = "needs both 'start' and 'end'";
		else if (r->start > r->end)
			why = "'start' is after 'end'";
		for (port = r->start; !why && port <= r->end; port++)
			if (!alloc_is_bad_port((uint16_t)port))
				break;
		if (!why && port > r->end)
			why = "holds only ports that browsers refuse to connect to";
		if (why) {
			warn(p, r->line, field, "%s; ignored", why);
			free(r->name);
			free(r->description);
			continue;
		}
		c->ranges[n++] = *r;
	}
	c->nr_ranges = n;
}

/* inih's handler: 1 to go on, 0 for an error (fail() has the message). */
static int handle(void *user, const char *section, const char *name,
		  const char *value)
{
	struct parser *p = user;
	char shown[TEXT_SHOW_SIZE];
	size_t len = strlen(section);

	if (p->failed)
		return 0;
	/* next_line() read the header the same way inih did */
	if (len > strlen(p->raw_section) ||
	    strncmp(section, p->raw_section, len)) {
		fail(p, p->lineno, NULL, "cannot parse this line");
		return 0;
	}
	if (!*name) {
		fail(p, p->lineno, NULL, "a key is missing before '='");
		return 0;
	}
	switch (p->kind) {
	case SECTION_NONE:
		warn(p, p->lineno, NULL, "key '%s' before any section, ignored",
		     text_show(shown, sizeof(shown), name));
		break;
	case SECTION_UNKNOWN:
		break;
	case SECTION_ENV:
		env_key(p, name, value);
		break;
	case SECTION_VARS:
		vars_key(p, name, value);
		break;
	case SECTION_SERVICE:
		service_key(p, name, value);
		break;
	case SECTION_RANGE:
		range_key(p, name, value);
		break;
	}
	return !p->failed;
}

/* [service "NAME"]: 'q' points after "service", 'end' at the ']'. */
static void service_header(struct parser *p, const char *q, const char *end)
{
	struct config *c = p->c;
	struct config_service *svc;
	const char *name, *close;
	char *copy = NULL, shown[TEXT_SHOW_SIZE];
	size_t i;

	while (q < end && is_space(*q))
		q++;
	name = q + 1;
	close = name < end ? memchr(name, '"', end - name) : NULL;
	if (q == end || *q != '"' || !close || close + 1 != end) {
		fail(p, p->lineno, NULL,
		     "malformed section header: expected [service \"NAME\"]");
		return;
	}
	copy = xstrndup(name, close - name);
	if (!alloc_valid_name(copy)) {
		fail(p, p->lineno, NULL,
		     "invalid service name '%s': use 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit",
		     text_show(shown, sizeof(shown), copy), ALLOC_NAME_MAX);
		goto out;
	}
	for (i = 0; i < c->nr_services; i++) {
		if (!strcmp(c->services[i].name, copy)) {
			fail(p, p->lineno, NULL,
			     "duplicate section [service \"%s\"] (first at line %d)",
			     copy, c->services[i].line);
			goto out;
		}
	}
	if (c->nr_services == CONFIG_MAX_SERVICES) {
		fail(p, p->lineno, NULL, "more than %d services",
		     CONFIG_MAX_SERVICES);
		goto out;
	}
	ALLOC_GROW(c->services, c->nr_services + 1, p->alloc_services);
	ALLOC_GROW(p->lines, c->nr_services + 1, p->alloc_lines);
	memset(&p->lines[c->nr_services], 0, sizeof(*p->lines));
	svc = &c->services[c->nr_services];
	memset(svc, 0, sizeof(*svc));
	svc->name = copy;
	svc->line = p->lineno;
	copy = NULL;
	p->kind = SECTION_SERVICE;
	p->service = c->nr_services++;
out:
	free(copy);
}

/* [range "NAME"]: a bad or repeated one is dropped with a warning. */
static void range_header(struct parser *p, const char *q, const char *end)
{
	struct config *c = p->c;
	const char *name, *close;
	char *copy = NULL, shown[TEXT_SHOW_SIZE];
	size_t i;

	p->kind = SECTION_RANGE;
	p->range = -1;
	while (q < end && is_space(*q))
		q++;
	name = q + 1;
	close = name < end ? memchr(name, '"', end - name) : NULL;
	if (q == end || *q != '"' || !close || close + 1 != end) {
		warn(p, p->lineno, NULL,
		     "malformed section header: expected [range \"NAME\"]; ignored");
		return;
	}
	copy = xstrndup(name, close - name);
	if (!alloc_valid_name(copy)) {
		warn(p, p->lineno, NULL,
		     "invalid range name '%s': use 1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit; ignored",
		     text_show(shown, sizeof(shown), copy), ALLOC_NAME_MAX);
		free(copy);
		return;
	}
	for (i = 0; i < c->nr_ranges; i++) {
		if (!strcmp(c->ranges[i].name, copy)) {
			warn(p, p->lineno, NULL,
			     "duplicate section [range \"%s\"] (first at line %d); ignored",
			     copy, c->ranges[i].line);
			free(copy);
			return;
		}
	}
	ALLOC_GROW(c->ranges, c->nr_ranges + 1, p->alloc_ranges);
	memset(&c->ranges[c->nr_ranges], 0, sizeof(*c->ranges));
	c->ranges[c->nr_ranges].name = copy;
	c->ranges[c->nr_ranges].line = p->lineno;
	p->range = (long)c->nr_ranges++;
}

/* A section header, from 's' (the '[') to 'end' (trimmed). */
static void section_header(struct parser *p, const char *s, const char *end)
{
	const char *close = find_chars_or_comment(s + 1, end, "]");
	const char *rest = close + 1, *name = s + 1, *name_end = close;
	char *copy;
	char shown[TEXT_SHOW_SIZE];
	size_t len;
	int *seen = NULL;

	if (close == end) {
		fail(p, p->lineno, NULL, "section header has no closing ']'");
		return;
	}
	if (*close != ']') {
		fail(p, p->lineno, NULL,
		     "a ';' after a space starts a comment, here before the ']'");
		return;
	}
	while (rest < end && is_space(*rest))
		rest++;
	if (rest < end && *rest != ';' && *rest != '#') {
		fail(p, p->lineno, NULL, "unexpected text after ']'");
		return;
	}
	free(p->raw_section);
	p->raw_section = xstrndup(s + 1, close - (s + 1));
	p->pair_seen = false;

	while (name < name_end && is_space(*name))
		name++;
	while (name_end > name && is_space(name_end[-1]))
		name_end--;
	len = name_end - name;
	if (len == 3 && !memcmp(name, "env", 3)) {
		seen = &p->env_line;
		p->kind = SECTION_ENV;
	} else if (len == 4 && !memcmp(name, "vars", 4)) {
		seen = &p->vars_line;
		p->kind = SECTION_VARS;
	} else if (len >= 7 && !memcmp(name, "service", 7) &&
		   (len == 7 || is_space(name[7]) || name[7] == '"')) {
		service_header(p, name + 7, name_end);
		return;
	} else if (len >= 5 && !memcmp(name, "range", 5) &&
		   (len == 5 || is_space(name[5]) || name[5] == '"')) {
		range_header(p, name + 5, name_end);
		return;
	} else {
		p->kind = SECTION_UNKNOWN;
		copy = xstrndup(name, len);
		warn(p, p->lineno, NULL, "unknown section [%s], ignored",
		     text_show(shown, sizeof(shown), copy));
		free(copy);
		return;
	}
	if (*seen)
		fail(p, p->lineno, NULL,
		     "duplicate section [%.*s] (first at line %d)", (int)len,
		     name, *seen);
	else
		*seen = p->lineno;
}

/*
 * Look at one line as inih will, to catch what inih lets through: 'line'
 * holds it without the newline, NUL-terminated.
 */
static void check_line(struct parser *p, const char *line)
{
	const char *s = line, *end;
	bool indented;

	if (p->lineno == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
		s += 3; /* inih skips a UTF-8 byte order mark */
	end = s + strlen(s);
	indented = s < end && is_space(*s);
	while (s < end && is_space(*s))
		s++;
	while (end > s && is_space(end[-1]))
		end--;
	if (s == end || *s == ';' || *s == '#')
		return;
	if (indented && p->pair_seen) {
		fail(p, p->lineno, NULL,
		     "indented line would continue the value above; values are one line, keys are not indented");
		return;
	}
	if (*s == '[') {
		section_header(p, s, end);
		return;
	}
	s = find_chars_or_comment(s, end, "=:");
	if (s == end || (*s != '=' && *s != ':')) {
		fail(p, p->lineno, NULL, "expected 'key = value'");
		return;
	}
	p->pair_seen = true;
}

/* inih's reader: one line of the text into 'buf', or NULL at the end. */
static char *next_line(char *buf, int size, void *stream)
{
	struct parser *p = stream;
	const char *nl;
	size_t len, content;

	if (p->failed || p->pos >= p->end)
		return NULL;
	nl = memchr(p->pos, '\n', p->end - p->pos);
	len = nl ? (size_t)(nl - p->pos) : (size_t)(p->end - p->pos);
	content = len && p->pos[len - 1] == '\r' ? len - 1 : len;
	p->lineno++;
	/* inih needs room for "\r\n" and the NUL; it would split the rest */
	if (size < 3 || content > (size_t)size - 3 ||
	    content > CONFIG_LINE_MAX) {
		fail(p, p->lineno, NULL, "line is longer than %d characters",
		     size - 3 < CONFIG_LINE_MAX ? size - 3 : CONFIG_LINE_MAX);
		return NULL;
	}
	memcpy(buf, p->pos, content);
	buf[content] = '\0';
	check_line(p, buf);
	if (nl)
		buf[content++] = '\n';
	buf[content] = '\0';
	p->pos += nl ? len + 1 : len;
	return p->failed ? NULL : buf;
}

static int find_service(const struct config *c, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < c->nr_services; i++)
		if (!strncmp(c->services[i].name, name, len) &&
		    !c->services[i].name[len])
			return (int)i;
	return -1;
}

const struct config_service *config_find_service(const struct config *c,
						 const char *name)
{
	int i = find_service(c, name, strlen(name));

	return i < 0 ? NULL : &c->services[i];
}

#define SAFE_SET_MSG "value has a character outside the safe set"

/*
 * Append the value of the placeholder 'name' ('len' bytes, between "${"
 * and "}") to 'out'; with 'ctx' NULL, only check that it is one. Returns
 * 0, or a negative code and what is wrong in 'why'.
 */
static int placeholder(struct sbuf *out, const struct config *c,
		       const char *name, size_t len,
		       const struct config_context *ctx, struct sbuf *why)
{
	char shown[TEXT_SHOW_SIZE], *copy = xstrndup(name, len);
	const char *service = copy + 5;
	uint16_t port = 0;
	int ret = 0;

	if (!strcmp(copy, "worktree") || !strcmp(copy, "slug")) {
		if (ctx && !ctx->worktree) {
			sbuf_addf(why, "no worktree name for ${%s}", copy);
			ret = ERR_CONFIG;
		} else if (ctx && *copy == 'w') {
			sbuf_addstr(out, ctx->worktree);
		} else if (ctx) {
			config_slug(out, ctx->worktree);
		}
	} else if (!strcmp(copy, "repo")) {
		if (ctx && !ctx->repo) {
			sbuf_addstr(why, "no repository name for ${repo}");
			ret = ERR_CONFIG;
		} else if (ctx) {
			sbuf_addstr(out, ctx->repo);
		}
	} else if (!strncmp(copy, "port:", 5) && *service) {
		if (find_service(c, service, strlen(service)) < 0) {
			sbuf_addf(why,
				  "${port:%s} names no service of this file",
				  text_show(shown, sizeof(shown), service));
			ret = ERR_CONFIG;
		} else if (ctx) {
			ret = ctx->port
				      ? ctx->port(&port, service, ctx->payload)
				      : ERR_NOTFOUND;
			if (ret >= 0 && !port)
				ret = ERR_NOTFOUND;
			if (ret < 0)
				sbuf_addf(why, "no port for service '%s'",
					  service);
			else
				sbuf_addf(out, "%u", (unsigned)port);
		}
	} else {
		sbuf_addf(why, "unknown placeholder '${%s}'",
			  text_show(shown, sizeof(shown), copy));
		ret = ERR_CONFIG;
	}
	free(copy);
	return ret;
}

/*
 * Walk a template. With 'ctx' NULL, only check it; else append its value
 * to 'out'. Returns 0, or a negative code and what is wrong in 'why'.
 */
static int walk_template(struct sbuf *out, const struct config *c,
			 const char *tmpl, const struct config_context *ctx,
			 struct sbuf *why)
{
	const char *s = tmpl, *close;
	size_t start = out->len, i;
	int ret;

	while (*s) {
		if (*s != '$') {
			sbuf_addch(out, *s++);
			continue;
		}
		close = s[1] == '{' ? strchr(s + 2, '}') : NULL;
		if (!close) {
			sbuf_addstr(
				why,
				"'$' is allowed only in ${port:SERVICE}, ${worktree}, ${slug} or ${repo}");
			return ERR_CONFIG;
		}
		ret = placeholder(out, c, s + 2, close - (s + 2), ctx, why);
		if (ret < 0)
			return ret;
		s = close + 1;
	}
	for (i = start; i < out->len; i++) {
		if (!is_safe(out->buf[i])) {
			sbuf_addstr(why, SAFE_SET_MSG);
			return ERR_CONFIG;
		}
	}
	return 0;
}

int config_expand(struct sbuf *out, const struct config *c,
		  const struct config_var *var,
		  const struct config_context *ctx, struct error *err)
{
	struct sbuf why = SBUF_INIT;
	char field[ERROR_FIELD_MAX];
	size_t start = out->len;
	int ret;

	ret = walk_template(out, c, var->template, ctx, &why);
	if (ret < 0) {
		sbuf_setlen(out, start);
		snprintf(field, sizeof(field), "vars.%s", var->name);
		error_set(err, ret, c->path, var->line, field, "%s; skipped",
			  why.buf);
	}
	sbuf_release(&why);
	return ret;
}

void config_slug(struct sbuf *out, const char *worktree)
{
	const char *s;

	for (s = worktree; *s; s++) {
		if (*s >= 'A' && *s <= 'Z')
			sbuf_addch(out, *s - 'A' + 'a');
		else if (is_alpha(*s) || is_digit(*s) || *s == '_')
			sbuf_addch(out, *s);
		else
			sbuf_addch(out, '_');
	}
}

/* Give each service without 'var' the default one. */
static void default_vars(struct parser *p)
{
	struct config *c = p->c;
	size_t i;

	for (i = 0; !p->failed && i < c->nr_services; i++) {
		struct config_service *svc = &c->services[i];
		struct sbuf var = SBUF_INIT;
		char field[ERROR_FIELD_MAX];
		const char *s;

		if (svc->var)
			continue;
		sbuf_addstr(&var, "PORT_");
		for (s = svc->name; *s; s++)
			sbuf_addch(&var, is_alpha(*s) || is_digit(*s)
						 ? to_upper(*s)
						 : '_');
		if (var.len > CONFIG_VAR_MAX) {
			field_service(field, sizeof(field), svc->name, "var");
			fail(p, svc->line, field,
			     "the default variable name '%s' is longer than %d characters; set 'var'",
			     var.buf, CONFIG_VAR_MAX);
			sbuf_release(&var);
			return;
		}
		svc->var = sbuf_detach(&var);
	}
}

/* Who sets a variable, to report two that set the same one. */
struct setter {
	const char *var;
	int line;   /* of the 'var' key, the header, or the [vars] entry */
	size_t svc; /* index of the service, or SIZE_MAX for [vars] */
};

static void setter_field(char *buf, size_t size, const struct config *c,
			 const struct setter *s)
{
	if (s->svc == SIZE_MAX)
		snprintf(buf, size, "vars.%s", s->var);
	else
		field_service(buf, size, c->services[s->svc].name, "var");
}

/*
 * Every variable is set by one service or one [vars] entry only; of two
 * that clash, the later line is at fault.
 */
static void distinct_vars(struct parser *p)
{
	struct config *c = p->c;
	size_t n = c->nr_services + c->nr_vars, i, j;
	struct setter *all = xcalloc(n ? n : 1, sizeof(*all));
	char field[ERROR_FIELD_MAX];

	for (i = 0; i < c->nr_services; i++) {
		all[i].var = c->services[i].var;
		all[i].line =
			p->lines[i].var ? p->lines[i].var : c->services[i].line;
		all[i].svc = i;
	}
	for (i = 0; i < c->nr_vars; i++) {
		all[c->nr_services + i].var = c->vars[i].name;
		all[c->nr_services + i].line = c->vars[i].line;
		all[c->nr_services + i].svc = SIZE_MAX;
	}
	for (i = 0; !p->failed && i < n; i++) {
		for (j = i + 1; j < n; j++) {
			const struct setter *first = &all[i], *later = &all[j];

			if (strcmp(first->var, later->var))
				continue;
			if (first->line > later->line) {
				first = &all[j];
				later = &all[i];
			}
			setter_field(field, sizeof(field), c, later);
			if (first->svc == SIZE_MAX)
				fail(p, later->line, field,
				     "variable %s is also set in [vars] (line %d)",
				     later->var, first->line);
			else
				fail(p, later->line, field,
				     "variable %s is also the port of service \"%s\" (line %d)",
				     later->var, c->services[first->svc].name,
				     first->line);
			break;
		}
	}
	free(all);
}

static void free_var(struct config_var *v)
{
	free(v->name);
	free(v->template);
}

/* Drop, with a warning, each [vars] entry whose template is unusable. */
static void check_templates(struct parser *p)
{
	struct config *c = p->c;
	size_t i, kept = 0;

	for (i = 0; i < c->nr_vars; i++) {
		struct config_var *v = &c->vars[i];
		struct sbuf why = SBUF_INIT, none = SBUF_INIT;
		char field[ERROR_FIELD_MAX];

		if (walk_template(&none, c, v->template, NULL, &why) < 0) {
			snprintf(field, sizeof(field), "vars.%s", v->name);
			warn(p, v->line, field, "%s; skipped", why.buf);
			free_var(v);
		} else {
			c->vars[kept++] = *v;
		}
		sbuf_release(&why);
		sbuf_release(&none);
	}
	c->nr_vars = kept;
}

static int parse(struct config **out, const char *text, size_t len,
		 const char *path, struct error *err)
{
	struct parser p = { 0 };
	int ret;

	*out = NULL;
	p.c = xcalloc(1, sizeof(*p.c));
	p.c->path = xstrdup(path ? path : CONFIG_FILE);
	p.err = err;
	p.pos = text;
	p.end = text + len;
	p.raw_section = xstrdup("");
	p.warn_to = &p.warnings;

	if (len > CONFIG_MAX_SIZE) {
		fail(&p, 0, NULL, "larger than %d KiB", CONFIG_MAX_SIZE / 1024);
		goto out;
	}
	ret = ini_parse_stream(next_line, &p, handle, &p);
	if (p.failed)
		goto out;
	if (ret > 0) {
		/* check_line() should have caught it */
		fail(&p, ret, NULL, "cannot parse this line");
		goto out;
	}
	if (ret < 0)
		die_oom("reading the config");
	if (!p.c->nr_env_files) {
		p.c->env_files = xcalloc(1, sizeof(*p.c->env_files));
		p.c->env_files[p.c->nr_env_files++] = xstrdup(".env");
	}
	default_vars(&p);
	distinct_vars(&p);
	check_ranges(&p);
	if (p.failed)
		goto out;
	p.warn_to = &p.late;
	check_templates(&p);
	collect_warnings(&p);
out:
	free(p.raw_section);
	free(p.lines);
	warning_list_release(&p.warnings);
	warning_list_release(&p.late);
	if (p.failed) {
		config_free(p.c);
		return ERR_CONFIG;
	}
	*out = p.c;
	return 0;
}

int config_parse(struct config **out, const char *text, const char *path,
		 struct error *err)
{
	return parse(out, text, strlen(text), path, err);
}

/*
 * Open the config of 'top' for reading: ERR_NOTFOUND if there is none,
 * ERR_CONFIG if it is no regular file or is a symlink leading out of
 * 'top'.
 */
static int open_config(int *out, const char *path, const char *top,
		       struct error *err)
{
	char *real_top = NULL, *real = NULL;
	struct stat st;
	int fd = -1, ret = 0;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return error_set(err, ERR_NOTFOUND, path, 0, NULL,
					 "no %s in this worktree", CONFIG_FILE);
		return error_errno(err, path, "cannot read the config");
	}
	if (S_ISLNK(st.st_mode)) {
		real_top = realpath(top, NULL);
		real = realpath(path, NULL);
		if (!real_top) {
			ret = error_errno(err, top,
					  "cannot resolve the worktree");
			goto out;
		}
		if (!real) {
			ret = error_set(err, ERR_CONFIG, path, 0, NULL,
					"a symlink that leads nowhere");
			goto out;
		}
		if (!path_is_under(real, real_top)) {
			ret = error_set(
				err, ERR_CONFIG, path, 0, NULL,
				"a symlink that leads out of the worktree");
			goto out;
		}
	}
	/* O_NONBLOCK: opening a FIFO must not wait for a writer */
	fd = open(real ? real : path,
		  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = error_errno(err, path, "cannot open the config");
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = error_errno(err, path, "cannot read the config");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = error_set(err, ERR_CONFIG, path, 0, NULL,
				"not a regular file");
		goto out;
	}
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	free(real_top);
	free(real);
	return ret;
}

int config_load(struct config **out, const char *worktree_top,
		struct error *err)
{
	struct sbuf path = SBUF_INIT, text = SBUF_INIT;
	const char *nul;
	int fd = -1, ret, line = 1;
	size_t i;

	*out = NULL;
	sbuf_addstr(&path, worktree_top);
	while (path.len > 1 && path.buf[path.len - 1] == '/')
		sbuf_setlen(&path, path.len - 1);
	sbuf_addf(&path, "%s%s",
		  path.len && path.buf[path.len - 1] == '/' ? "" : "/",
		  CONFIG_FILE);
	ret = open_config(&fd, path.buf, worktree_top, err);
	if (ret < 0)
		goto out;
	if (sbuf_read_fd_max(&text, fd, CONFIG_MAX_SIZE + 1) < 0) {
		ret = error_errno(err, path.buf, "cannot read the config");
		goto out;
	}
	nul = memchr(text.buf, '\0', text.len);
	if (nul) {
		for (i = 0; text.buf + i < nul; i++)
			if (text.buf[i] == '\n')
				line++;
		ret = error_set(err, ERR_CONFIG, path.buf, line, NULL,
				"a NUL byte");
		goto out;
	}
	ret = parse(out, text.buf, text.len, path.buf, err);
out:
	if (fd >= 0)
		close(fd);
	sbuf_release(&path);
	sbuf_release(&text);
	return ret;
}

void config_free(struct config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nr_env_files; i++)
		free(c->env_files[i]);
	free(c->env_files);
	for (i = 0; i < c->nr_services; i++) {
		free(c->services[i].name);
		free(c->services[i].range);
		free(c->services[i].var);
		free(c->services[i].health);
		free(c->services[i].description);
	}
	free(c->services);
	for (i = 0; i < c->nr_vars; i++)
		free_var(&c->vars[i]);
	free(c->vars);
	for (i = 0; i < c->nr_ranges; i++) {
		free(c->ranges[i].name);
		free(c->ranges[i].description);
	}
	free(c->ranges);
	for (i = 0; i < c->nr_warnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	free(c->path);
	free(c);
}
