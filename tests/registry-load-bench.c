/*
 * registry-load-bench: how long registry_load() takes on a file, with
 * the fast reader and with jansson alone.
 *
 *	registry-load-bench FILE [RUNS]
 *
 * Prints, for each reader, the first load (the process's memory still
 * cold, as in a command) and the best and median of RUNS more. Not a
 * test: timings do not belong in tests. Built from the library:
 *
 *	cc -std=c11 -O2 -iquote include -o build/tests/registry-load-bench \
 *		tests/registry-load-bench.c build/libwtp.a \
 *		$(pkg-config --libs libgit2 jansson inih)
 */
#include "common.h"
#include "error.h"
#include "registry.h"

#include <stdio.h>
#include <time.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One load of 'path'; its time in milliseconds, or a negative number. */
static double load(const char *path, unsigned flags, size_t *nr)
{
	struct error err = ERROR_INIT;
	struct registry *reg = NULL;
	double start = now_ms(), ms;

	if (registry_load(&reg, path, flags, &err) < 0) {
		fprintf(stderr, "registry-load-bench: %s: %s%s%s\n", err.file,
			err.field, *err.field ? ": " : "", err.msg);
		return -1;
	}
	ms = now_ms() - start;
	*nr = reg->nr_allocs;
	registry_free(reg);
	return ms;
}

static int bench(const char *path, const char *name, unsigned flags, int runs)
{
	double *ms = xcalloc((size_t)runs, sizeof(*ms));
	double first;
	size_t nr = 0;
	int i;

	first = load(path, flags, &nr);
	if (first < 0)
		goto fail;
	for (i = 0; i < runs; i++) {
		ms[i] = load(path, flags, &nr);
		if (ms[i] < 0)
			goto fail;
	}
	qsort(ms, (size_t)runs, sizeof(*ms), compare_doubles);
	printf("%-8s %zu allocations: first %.3f ms, best %.3f ms, median %.3f ms of %d\n",
	       name, nr, first, ms[0], ms[runs / 2], runs);
	free(ms);
	return 0;
fail:
	free(ms);
	return -1;
}

int main(int argc, char **argv)
{
	int runs = argc > 2 ? atoi(argv[2]) : 20;

	if (argc < 2 || argc > 3 || runs < 1) {
		fprintf(stderr, "usage: registry-load-bench FILE [RUNS]\n");
		return 2;
	}
	if (bench(argv[1], "fast", 0, runs) < 0 ||
	    bench(argv[1], "jansson", REGISTRY_NO_FAST_PATH, runs) < 0)
		return 1;
	return 0;
}
