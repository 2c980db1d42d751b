#include "common.h"
#include "path.h"
#include "error.h"

#include <errno.h>
#include <sys/stat.h>

int mkdir_parents(const char *path, struct error *err)
{
	char *dir = xstrdup(path);
	char *p;
	int ret = 0;

	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
			ret = error_errno(err, dir, "cannot create directory");
			break;
		}
		*p = '/';
	}
	free(dir);
	return ret;
}
