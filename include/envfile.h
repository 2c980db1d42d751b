#ifndef WTP_ENVFILE_H
#define WTP_ENVFILE_H

/*
 * envfile: the block of variables this tool owns inside a worktree's
 * '.env' file (or any other [env] file), and nothing else in that file.
 *
 * The block, with "\r\n" instead of "\n" when the file's first line ends
 * in "\r\n":
 *
 *  # >>> git-worktree-ports >>> (generated; edit .worktree-ports.ini instead)
 *  PORT_WEB=8081
 *  COMPOSE_PROJECT_NAME=app-feature-login
 *  # <<< git-worktree-ports <<<
 *
 * A line starting with ENVFILE_BEGIN begins the block and the next line
 * starting with ENVFILE_END ends it, both lines included (a "\r" before
 * the "\n" is part of the line). Every byte outside the first such block
 * is kept as it is; a later block is ordinary text to this module.
 *
 * envfile_render() is pure: old text and variables in, new text out. An
 * existing block is replaced where it is. Without one, the block is
 * appended at the end, after a newline if the text is not empty and does
 * not end with one. With no variables the block is removed, its lines
 * only: removing a block that was appended gives back the text it was
 * appended to, except that the newline added before it (to a text with no
 * final newline) stays.
 *
 * Values are written bare when made only of [A-Za-z0-9_./:@%+,-], else in
 * single quotes; docs/env-file.md says which readers this was checked
 * against. Names and values that cannot be written so that every reader
 * reads the same thing are refused (envfile_valid_name(),
 * envfile_valid_value()); the config module refuses them first, with the
 * line of .worktree-ports.ini, and this module checks again.
 */

struct sbuf;

/* What a line starting the block starts with. */
#define ENVFILE_BEGIN "# >>> git-worktree-ports >>>"
/* The whole first line of a block this module writes. */
#define ENVFILE_BEGIN_LINE                                                     \
	ENVFILE_BEGIN " (generated; edit .worktree-ports.ini instead)"
/* What a line ending the block starts with; written as the whole line. */
#define ENVFILE_END "# <<< git-worktree-ports <<<"

/* One line of the block, NAME=VALUE. The strings are borrowed. */
struct envfile_var {
	const char *name;
	const char *value;
};

/*
 * Is 'name' a variable name every reader accepts: a shell identifier,
 * [A-Za-z_][A-Za-z0-9_]*?
 */
bool envfile_valid_name(const char *name);

/*
 * Can 'value' be written so that every reader reads it back unchanged:
 * printable ASCII (0x21-0x7e), none of ' " ` $ or backslash? The empty
 * value is valid. Space, tab, control characters and bytes >= 0x80 are
 * refused.
 */
bool envfile_valid_value(const char *value);

/*
 * Append 'value' as it appears after "NAME=": bare when it is made only of
 * [A-Za-z0-9_./:@%+,-] (or empty), else between single quotes. 'value'
 * must pass envfile_valid_value() (asserted).
 */
void envfile_quote(struct sbuf *out, const char *value);

/*
 * Append to 'out' the text 'old' ('len' bytes, NULs allowed; NULL when
 * 'len' is 0) with its block replaced by one holding 'vars' in the order given,
 * or, when 'nr' is 0, with its block removed. Rendering the result again with
 * the same variables gives the same bytes.
 *
 * Returns 0, or, with 'out' as it was:
 *  - ERR_CORRUPT: 'old' has a line starting with ENVFILE_BEGIN and no line
 *    starting with ENVFILE_END after it; '*line' (if 'line' is not NULL)
 *    is the 1-based line of the begin marker. The caller must not guess
 *    where the block ends: the user removes it by hand.
 *  - ERR_CONFIG: a name or value fails envfile_valid_name() or
 *    envfile_valid_value(), or a name is given twice; '*line' is 0.
 */
int envfile_render(struct sbuf *out, int *line, const char *old, size_t len,
		   const struct envfile_var *vars, size_t nr);

/*
 * Called with each line outside the block that assigns one of the block's
 * variables ("NAME=", "export NAME=", spaces allowed around them): the
 * name and the 1-based line. Readers disagree on which definition wins
 * (docs/env-file.md), so the caller should warn.
 */
typedef void (*envfile_shadow_fn)(const char *name, int line, void *payload);

/*
 * Call 'fn' for every assignment in 'text' outside its block of a name in
 * 'vars', in line order. A text with an unterminated block is scanned as
 * if it had none.
 */
void envfile_find_shadowed(const char *text, size_t len,
			   const struct envfile_var *vars, size_t nr,
			   envfile_shadow_fn fn, void *payload);

#endif
