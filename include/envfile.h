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
 * Two layers:
 *
 *  - envfile_render() is pure: old text and variables in, new text out.
 *    An existing block is replaced where it is. Without one, the block is
 *    appended at the end, after a newline if the text is not empty and does
 *    not end with one. With no variables the block is removed, its lines
 *    only: removing a block that was appended gives back the text it was
 *    appended to, except that the newline added before it (to a text with
 *    no final newline) stays.
 *
 *  - envfile_update() reads a file under a worktree's top directory,
 *    renders it and replaces it atomically (lockfile_replace()) only when
 *    the bytes change. It writes only inside the top directory: see there.
 *
 * Values are written bare when made only of [A-Za-z0-9_./:@%+,-], else in
 * single quotes; docs/env-file.md says which readers this was checked
 * against. Names and values that cannot be written so that every reader
 * reads the same thing are refused (envfile_valid_name(),
 * envfile_valid_value()); the config module refuses them first, with the
 * line of .worktree-ports.ini, and this module checks again.
 *
 * No file lock is taken here: two writers of one file would be two syncs
 * of one worktree, and the caller must hold the registry lock across the
 * whole sync, which serializes them. That is also why the temporary file
 * is '<file>.new' (LOCKFILE_HELD): a writer killed halfway leaves at most
 * that one file, which the next sync overwrites and renames into place.
 */

struct error;
struct sbuf;

/* What a line starting the block starts with. */
#define ENVFILE_BEGIN "# >>> git-worktree-ports >>>"
/* The whole first line of a block this module writes. */
#define ENVFILE_BEGIN_LINE                                                     \
	ENVFILE_BEGIN " (generated; edit .worktree-ports.ini instead)"
/* What a line ending the block starts with; written as the whole line. */
#define ENVFILE_END "# <<< git-worktree-ports <<<"

/*
 * One line of the block, NAME=VALUE; or, with 'value' NULL, a comment
 * line "# NAME", where 'name' is printable ASCII text (a space allowed)
 * that does not start like a marker. The strings are borrowed.
 */
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
 * name, the 1-based line, and whether the line comes after the block
 * (then it, not the block, is the last definition, which sh, direnv,
 * compose and python-dotenv use). The caller should warn.
 */
typedef void (*envfile_shadow_fn)(const char *name, int line,
				  bool after_block, void *payload);

/*
 * Call 'fn' for every assignment in 'text' outside its block of a name in
 * 'vars', in line order. A text with an unterminated block is scanned as
 * if it had none.
 */
void envfile_find_shadowed(const char *text, size_t len,
			   const struct envfile_var *vars, size_t nr,
			   envfile_shadow_fn fn, void *payload);

/*
 * Write 'vars' into the block of the file 'relpath' under 'top' (see
 * envfile_render(); 'nr' 0 removes the block). '*changed' says whether the
 * file was written; it is false on failure.
 *
 * 'top' is the worktree's top directory, absolute (it is canonicalized
 * here again). 'relpath' is relative, '/'-separated; "." components and
 * repeated slashes are ignored. The file written is always inside 'top':
 *
 *  - 'relpath' may not be absolute, hold a ".." component, end in '/', or
 *    hold a ".git" component (any case): ERR_CONFIG.
 *  - Every directory on the way must exist (none is created) and resolve,
 *    symbolic links followed, to 'top' or below it, outside any ".git":
 *    else ERR_FAIL naming the directory ("directory 'server' does not
 *    exist", "directory 'server' leads outside the worktree").
 *  - A final component that is a symbolic link is followed when it
 *    resolves to a regular file inside 'top' (not under a ".git"): that
 *    file is replaced and the link stays a link. A link leading outside,
 *    or to nothing, is ERR_FAIL and nothing is written.
 *  - A target that exists and is not a regular file (a directory, a FIFO)
 *    is ERR_FAIL.
 *
 * A missing file reads as empty. When the rendered text equals the file's
 * bytes nothing is written: no temporary file, no rename, the inode and
 * mtime stay (and a missing file is not created for an empty result).
 * Otherwise the file is replaced with lockfile_replace() through
 * '<file>.new' (LOCKFILE_HELD, see above): an existing file keeps its mode and owner, a new one gets 0644
 * less the umask. Replacing by rename also means a file hard-linked
 * elsewhere is never written through.
 *
 * 'shadow', unless NULL, is called (with 'payload') as
 * envfile_find_shadowed() says, on the new text, whether or not it was
 * written.
 *
 * Errors, with 'err' naming the file as 'top'/'relpath' and nothing
 * written: ERR_CONFIG for a bad 'relpath' or a name or value
 * envfile_render() refuses (naming the variable); ERR_CORRUPT for an
 * unterminated block (with its line); ERR_FAIL for the path rules above
 * and for I/O.
 */
int envfile_update(bool *changed, const char *top, const char *relpath,
		   const struct envfile_var *vars, size_t nr,
		   envfile_shadow_fn shadow, void *payload, struct error *err);

/*
 * Would envfile_update() change the variables of the file 'relpath' under
 * 'top'? The comment lines of the block are not compared (their wording
 * is no variable's value); nothing is written. Errors as envfile_update().
 */
int envfile_differs(bool *differs, const char *top, const char *relpath,
		    const struct envfile_var *vars, size_t nr,
		    struct error *err);

#endif
