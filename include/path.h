#ifndef WTP_PATH_H
#define WTP_PATH_H

/* path: file system paths. */

struct error;

/* mkdir -p of the directory holding 'path' (mode 0777 less the umask). */
int mkdir_parents(const char *path, struct error *err);

#endif
