#ifndef WTP_CONFIG_H
#define WTP_CONFIG_H

/*
 * config: .worktree-ports.ini, the project's list of the ports every
 * worktree needs, the files they are written to, and the [vars] built
 * from them. docs/config.md describes the format for users.
 *
 * The file is committed in the user's repository and arrives with
 * whatever branch is checked out, so it is hostile input. Everything is
 * checked here, once, and a 'struct config' that loaded holds only:
 *
 *  - service and range names that alloc_valid_name() accepts;
 *  - variable names that are shell identifiers of at most CONFIG_VAR_MAX
 *    characters, pairwise distinct, none of them shadowing a variable that
 *    shells, loaders, interpreters or git give a meaning to
 *    (config_valid_var_name());
 *  - env file targets that are relative, normalized ("a/./b//c" is
 *    "a/b/c"), printable ASCII without a backslash, and contain no '..'
 *    or '.git' component; whether one is a symlink leading out of the
 *    worktree can only be seen when it is written, and is the writer's
 *    check;
 *  - health values that are NULL, "tcp", or an HTTP path: '/' and then
 *    printable ASCII without spaces;
 *  - descriptions that are valid UTF-8 without control characters;
 *  - [vars] templates that use only the placeholders config_expand()
 *    knows, name only services of this file, and hold nothing outside the
 *    safe set (CONFIG_SAFE_CHARS) between them.
 *
 * Nothing here runs a command, reads the environment or touches any file
 * other than the config itself.
 *
 * A problem that makes the file unusable (a malformed line, an invalid or
 * duplicate name, a target outside the worktree) fails the load with
 * ERR_CONFIG, err->file the path, err->line its line (0 for the file as a
 * whole), err->field the key when there is one ('service "web".range',
 * 'env.file', 'vars.API_URL') and a message. A problem that only loses one
 * part of it (an unknown section or key, a description with a control
 * character, a [vars] template that cannot be expanded safely) drops that
 * part and adds a warning to 'warnings', a whole line for the caller to
 * print after "warning: ":
 *
 *	FILE:LINE: unknown key 'x' in [env], ignored
 *	FILE:LINE: vars.URL: unknown placeholder '${HOME}'; skipped
 *
 * At most CONFIG_MAX_WARNINGS are kept, then one more line, "FILE: N more
 * warnings not shown". User text in errors and warnings is shown with
 * non-printable bytes escaped ("\x1b"), so the file cannot write to the
 * terminal.
 *
 * inih's options are the system build's defaults and are relied on: a ';'
 * after white space starts a comment, '#' starts one only at the start of
 * a line, and lines are at most CONFIG_LINE_MAX characters (a longer line
 * is an error here; inih would split it silently). An indented line after
 * a key, which inih would take as the continuation of that key's value,
 * is an error too.
 *
 * Ownership: a config comes from config_load() or config_parse() and goes
 * to config_free(), which accepts NULL. Every string and array in it
 * belongs to the config; treat it as read-only.
 */

struct error;
struct sbuf;

/* The file's name, at the top of the worktree. */
#define CONFIG_FILE ".worktree-ports.ini"

/* Limits; past them the file is refused. */
#define CONFIG_MAX_SIZE (64 * 1024)
#define CONFIG_MAX_SERVICES 64
#define CONFIG_MAX_VARS 128
#define CONFIG_VAR_MAX 64      /* characters of a variable name */
#define CONFIG_FILE_MAX 255    /* bytes of one [env] file target */
#define CONFIG_HEALTH_MAX 1024 /* bytes of a health path */
#define CONFIG_LINE_MAX 197    /* characters of a line, without "\r\n" */

/* Warnings kept; a hostile file must not flood the terminal. */
#define CONFIG_MAX_WARNINGS 20

/* Besides ASCII letters and digits, all an expanded [vars] value holds. */
#define CONFIG_SAFE_CHARS "_.-:/@%+,=?&"

struct config_service {
	char *name;
	char *range;	   /* NULL: the range named like the service, else
			      "default" (registry_range_for()) */
	char *var;	   /* never NULL; default PORT_ + the name upper-cased,
			      other characters than [A-Z0-9] as '_' */
	char *health;	   /* NULL (not given), "tcp", or a path such as
			      "/health" */
	char *description; /* NULL if none */
	int line;	   /* of its [service "NAME"] header */
};

/*
 * A [range "NAME"] of the project: used where the registry has no range
 * of that name (it joins the registry then). Only complete, valid ones
 * are kept: 1024 <= start <= end <= 65535, not only ports browsers refuse.
 */
struct config_range {
	char *name;
	unsigned start, end;
	char *description; /* NULL if none */
	int line;	   /* of its header */
};

struct config_var {
	char *name;
	char *template; /* as written; expand with config_expand() */
	int line;
};

struct config {
	char *path; /* the file, as named in messages */

	/* [env] file: never empty, default { ".env" }, without duplicates */
	char **env_files;
	size_t nr_env_files;
	/* [env] compose_project_name: also write COMPOSE_PROJECT_NAME */
	bool compose_project_name;

	struct config_service *services; /* in file order */
	size_t nr_services;

	/* in file order, without those a warning dropped */
	struct config_var *vars;
	size_t nr_vars;

	/* [range "NAME"], in file order, without those a warning dropped */
	struct config_range *ranges;
	size_t nr_ranges;

	/* whole lines, "FILE:LINE: message", in file order (see above) */
	char **warnings;
	size_t nr_warnings;
};

/*
 * Read '<worktree_top>/.worktree-ports.ini'. ERR_NOTFOUND (with no
 * message worth printing: callers take it as "nothing to do") if there is
 * none. ERR_CONFIG if it is not a regular file, is a symlink that leads
 * out of the worktree or nowhere, is larger than CONFIG_MAX_SIZE, holds a
 * NUL byte, or does not parse (see config_parse()). ERR_FAIL if it cannot
 * be read. Never blocks on a FIFO.
 */
int config_load(struct config **out, const char *worktree_top,
		struct error *err);

/*
 * Parse and validate 'text', a whole file; 'path' names it in messages
 * and may be NULL (then CONFIG_FILE is used).
 */
int config_parse(struct config **out, const char *text, const char *path,
		 struct error *err);

void config_free(struct config *c);

/* Borrowed pointer to the service named 'name', or NULL. */
const struct config_service *config_find_service(const struct config *c,
						 const char *name);

/*
 * Is 'name' acceptable as a variable name: [A-Za-z_][A-Za-z0-9_]*, at most
 * CONFIG_VAR_MAX characters, and, upper-cased, neither one of the
 * well-known names (PATH, HOME, IFS, PS1, NODE_OPTIONS, ...) nor starting
 * with one of the reserved prefixes (LC_, LD_, DYLD_, GIT_, BASH_, SSH_,
 * DOCKER_, COMPOSE_, XDG_, NPM_CONFIG_)? COMPOSE_PROJECT_NAME is refused
 * too: only the tool writes it. docs/config.md has the whole list.
 */
bool config_valid_var_name(const char *name);

/*
 * The port of 'service' in this worktree, for ${port:SERVICE}: 0 and the
 * port in '*out', or a negative value when it has none.
 */
typedef int (*config_port_fn)(uint16_t *out, const char *service,
			      void *payload);

/* What the placeholders of a [vars] template stand for. */
struct config_context {
	const char *worktree; /* ${worktree}; ${slug} is made from it */
	const char *repo;     /* ${repo}: the main worktree's folder name */
	config_port_fn port;  /* ${port:SERVICE} */
	void *payload;	      /* for 'port' */
};

/*
 * Append the value of 'var', a variable of 'c', to 'out'. The template may
 * use ${port:SERVICE} (a service of 'c'), ${worktree}, ${slug} and
 * ${repo}; nothing else is expanded, and '$' means nothing else. Returns
 * 0, or, with 'out' as it was:
 *
 *  - ERR_CONFIG when the template is malformed, or the value would hold a
 *    character outside the safe set (a worktree name "a b" in ${worktree},
 *    say), or a NULL worktree or repo is needed;
 *  - the port callback's code (ERR_NOTFOUND if it is not negative) when
 *    it has no port for the service.
 *
 * The error names c->path, var->line and the field "vars.NAME", and its
 * message ends in "; skipped": the caller prints it as a warning and
 * leaves the variable out.
 */
int config_expand(struct sbuf *out, const struct config *c,
		  const struct config_var *var,
		  const struct config_context *ctx, struct error *err);

/*
 * Append the slug of 'worktree' to 'out': ASCII letters lower-cased,
 * digits and '_' kept, every other byte '_'.
 */
void config_slug(struct sbuf *out, const char *worktree);

#endif
