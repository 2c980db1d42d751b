#ifndef WTP_PATH_H
#define WTP_PATH_H

/* path: file system paths. */

#include <stdbool.h>
#include <sys/types.h>

struct error;

/*
 * Is 'path' the directory 'dir' itself or below it? Both canonical
 * (realpath()); trailing slashes of 'dir' are ignored and "/" holds
 * every absolute path. NULL is under nothing.
 */
bool path_is_under(const char *path, const char *dir);

/* Is 'path' a directory (or a link to one)? Keeps errno. */
bool path_is_dir(const char *path);

/*
 * mkdir -p 'dir': each missing directory gets 'mode' less the umask.
 * An existing directory is fine; a file in the way is an error.
 */
int mkdir_p(const char *dir, mode_t mode, struct error *err);

/* mkdir_p() of the directory holding 'path', mode 0777. */
int mkdir_parents(const char *path, struct error *err);

#endif
