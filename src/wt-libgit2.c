#include "common.h"
#include "wt-libgit2.h"
#include "error.h"

#include <dlfcn.h>

#ifndef WTP_LIBGIT2_SONAME
#define WTP_LIBGIT2_SONAME "libgit2.so"
#endif

struct lg2_table lg2;

struct symbol {
	const char *name;
	size_t offset;
};

#define LG2_SYMBOL(name) { "git_" #name, offsetof(struct lg2_table, name) },

static const struct symbol symbols[] = { LG2_FUNCTIONS(LG2_SYMBOL) };

int wt_libgit2_load(struct error *err)
{
	static void *handle;
	struct lg2_table table;
	size_t i;
	void *h;

	if (handle)
		return 0;
	h = dlopen(WTP_LIBGIT2_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		error_set(err, ERR_FAIL, NULL, 0, NULL,
			  "cannot load libgit2: %s", dlerror());
		error_hint(err, "install it (Debian: apt-get install libgit2-1.5)");
		return ERR_FAIL;
	}
	for (i = 0; i < ARRAY_SIZE(symbols); i++) {
		void *sym = dlsym(h, symbols[i].name);

		if (!sym) {
			error_set(err, ERR_FAIL, NULL, 0, NULL,
				  "cannot load libgit2: no '%s' in %s",
				  symbols[i].name, WTP_LIBGIT2_SONAME);
			error_hint(err, "install the libgit2 this was built for");
			dlclose(h);
			return ERR_FAIL;
		}
		/* POSIX guarantees a data pointer from dlsym() converts */
		memcpy((char *)&table + symbols[i].offset, &sym, sizeof(sym));
	}
	lg2 = table;
	handle = h;
	return 0;
}
