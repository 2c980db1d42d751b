#include "common.h"
#include "health.h"

static const char *const status_names[] = {
	[HEALTH_UNKNOWN] = "unknown",
	[HEALTH_HEALTHY] = "healthy",
	[HEALTH_UNHEALTHY] = "unhealthy",
	[HEALTH_NOT_RUNNING] = "not_running",
};

const char *health_status_name(enum health_status status)
{
	if ((unsigned)status >= ARRAY_SIZE(status_names))
		return status_names[HEALTH_UNKNOWN];
	return status_names[status];
}

int health_status_parse(enum health_status *out, const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(status_names); i++) {
		if (!strcmp(name, status_names[i])) {
			*out = (enum health_status)i;
			return 0;
		}
	}
	return -1;
}

static bool is_tcp(const char *path)
{
	return !path || !strcmp(path, "tcp");
}

/* Why 'path' cannot be sent, or NULL if it can. */
static const char *path_problem(const char *path)
{
	size_t i;

	if (is_tcp(path))
		return NULL;
	if (path[0] != '/')
		return "expected 'tcp' or a path starting with '/'";
	for (i = 0; path[i]; i++) {
		if (i >= HEALTH_PATH_MAX)
			return "longer than 1024 bytes";
		if ((unsigned char)path[i] <= ' ' ||
		    (unsigned char)path[i] >= 0x7f)
			return "a space, control or non-ASCII byte";
	}
	return NULL;
}

bool health_path_is_valid(const char *path)
{
	return !path_problem(path);
}
