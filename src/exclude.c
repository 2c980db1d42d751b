#include "common.h"
#include "exclude.h"
#include "error.h"
#include "lockfile.h"
#include "path.h"
#include "sbuf.h"
#include "wt.h"

#include <errno.h>

static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') &&
		    (p[len] == '\n' || p[len] == '\0'))
			return true;
		p += len;
	}
	return false;
}

int exclude_add(const struct wt_repo *repo, const char *const *patterns,
		size_t nr, struct error *err)
{
	struct sbuf exclude = SBUF_INIT, text = SBUF_INIT, add = SBUF_INIT;
	size_t i;
	int ret = 0;

	sbuf_addf(&exclude, "%s/info/exclude", repo->commondir);
	if (sbuf_read_file(&text, exclude.buf) < 0 && errno != ENOENT) {
		ret = error_errno(err, exclude.buf, "cannot read");
		goto out;
	}
	for (i = 0; i < nr; i++)
		if (!has_line(text.buf, patterns[i]) &&
		    !has_line(add.buf, patterns[i]))
			sbuf_addf(&add, "%s\n", patterns[i]);
	if (!add.len)
		goto out;
	if (text.len && text.buf[text.len - 1] != '\n')
		sbuf_addch(&text, '\n');
	sbuf_addstr(&text, "# git-worktree-ports: machine state, not source\n");
	sbuf_add(&text, add.buf, add.len);
	ret = mkdir_parents(exclude.buf, err);
	if (!ret)
		ret = lockfile_replace(exclude.buf, text.buf, text.len, 0644, 0,
				       err);
	if (!ret)
		ret = 1;
out:
	sbuf_release(&exclude);
	sbuf_release(&text);
	sbuf_release(&add);
	return ret;
}
