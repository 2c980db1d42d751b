#!/bin/sh
# The one-way rule of docs/architecture.md, checked with grep:
#
#  1. the library (src/*.c but cli.c and main.c, include/*.h but the
#     command headers) never includes a command header;
#  2. a command file (src/builtin/*.c) defines no function for others:
#     everything but its cmd_*() entry points is static;
#  3. a command file calls no other command's entry point, and includes
#     no .c file;
#  4. no source file is wrapped in a platform #ifdef: the Makefile picks
#     platform files;
#  5. a module's private header (src/NAME-internal.h) is included by
#     that module's files (src/NAME*.c) only.
#
# Prints each violation as FILE:LINE: WHAT and ends "layering: N passed,
# N failed" (one check per rule and file) for tests/run.sh.
cd "$(dirname "$0")/.." || exit 1

passed=0
failed=0
fail() {
	echo "$1"
	failed=$((failed + 1))
}

cmd_headers='"builtin.h"\|"cli.h"'
for f in src/*.c include/*.h; do
	case "$f" in
	src/cli.c | src/main.c | include/builtin.h | include/cli.h)
		continue ;;
	esac
	hits=$(grep -n "^#include $cmd_headers" "$f")
	if test -n "$hits"; then
		fail "$f:${hits%%:*}: the library includes a command header"
	else
		passed=$((passed + 1))
	fi
done

for f in src/builtin/*.c; do
	# a definition starts at column 0 with a type and has no ';'
	hits=$(grep -n '^[a-z][a-z0-9_ *]*[ *][a-z_][a-z0-9_]*(' "$f" |
		grep -v '^[0-9]*:static \|;$' | grep -v '^[0-9]*:[a-z].*[ *]cmd_[a-z_]*(')
	if test -n "$hits"; then
		fail "$f:${hits%%:*}: a command file exports a function that is not a cmd_*() entry point (make it static, or move it to the library)"
	else
		passed=$((passed + 1))
	fi
	own=$(grep -o '^int cmd_[a-z_]*(' "$f" | sed 's/^int //; s/($//')
	hits=$(grep -n '[^a-z_]cmd_[a-z_]*(' "$f" | grep -v '^[0-9]*:int cmd_')
	bad=
	for call in $(printf '%s\n' "$hits" | grep -o 'cmd_[a-z_]*(' | sed 's/($//' | sort -u); do
		case " $(echo $own) " in
		*" $call "*) ;;
		*) bad="$bad $call" ;;
		esac
	done
	if test -n "$bad" || grep -q '^#include ".*\.c"' "$f"; then
		fail "$f: a command file calls another command ($bad) or includes a .c file; put the shared part in the library"
	else
		passed=$((passed + 1))
	fi
done

for f in src/*.c src/builtin/*.c; do
	first=$(grep -m1 -n '^#if' "$f")
	case "$first" in
	*__linux__* | *__APPLE__* | *_WIN32* | *__FreeBSD__*)
		fail "$f:${first%%:*}: platform #ifdef; let the Makefile pick the file" ;;
	*)
		passed=$((passed + 1)) ;;
	esac
done

for h in src/*-internal.h; do
	test -e "$h" || continue
	mod=$(basename "$h" -internal.h)
	hits=$(grep -ln "^#include \"$(basename "$h")\"" src/*.c src/builtin/*.c include/*.h |
		grep -v "^src/$mod[-.a-z]*\.c$")
	if test -n "$hits"; then
		fail "$(echo $hits): includes $h, private to src/$mod*.c"
	else
		passed=$((passed + 1))
	fi
done

echo "# result: $passed passed, $failed failed"
test "$failed" = 0
