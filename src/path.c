#include "common.h"
#include "path.h"
#include "error.h"

#include <errno.h>
#include <sys/stat.h>

bool path_is_under(const char *path, const char *dir)
{
	size_t len;

	if (!path || !dir)
		return false;
	len = strlen(dir);
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (!len)
		return false;
	if (len == 1 && dir[0] == '/')
		return path[0] == '/';
	return !strncmp(path, dir, len) && (!path[len] || path[len] == '/');
}

bool path_is_dir(const char *path)
{
	struct stat st;
	int saved = errno;
	bool ret = !stat(path, &st) && S_ISDIR(st.st_mode);

	errno = saved; /* for the caller's message */
	return ret;
}

int mkdir_p(const char *dir, mode_t mode, struct error *err)
{
	char *path = xstrdup(dir);
	char *p = path;
	int ret = 0;

	for (;;) {
		char c;

		p += strspn(p, "/");
		p += strcspn(p, "/");
		c = *p;
		*p = '\0';
		/* an existing directory may refuse mkdir() with EACCES */
		if (mkdir(path, mode) < 0 && errno != EEXIST && !path_is_dir(path)) {
			ret = error_errno(err, path, "cannot create directory");
			break;
		}
		*p = c;
		if (!c || !p[strspn(p, "/")])
			break;
	}
	if (!ret && !path_is_dir(dir))
		ret = error_set(err, ERR_FAIL, dir, 0, NULL,
				"cannot create directory: a file is in the way");
	free(path);
	return ret;
}

int mkdir_parents(const char *path, struct error *err)
{
	const char *slash = strrchr(path, '/');
	char *dir;
	int ret;

	if (!slash || slash == path)
		return 0;
	dir = xstrndup(path, (size_t)(slash - path));
	ret = mkdir_p(dir, 0777, err);
	free(dir);
	return ret;
}
