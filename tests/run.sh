#!/bin/sh
# Run cmocka test programs and integration scripts, and add up the results.
# Usage: BUILD_DIR=... sh tests/run.sh PROGRAM-OR-SCRIPT...
# The last line is "N passed, N failed"; the exit status is non-zero if any
# test failed or any program did not report its results.

passed=0
failed=0
broken=0
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT

for t in "$@"; do
	case "$t" in
	*.sh)
		bash "$t" >"$out" 2>&1
		rc=$?
		p=$(sed -n 's/^# result: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$out")
		f=$(sed -n 's/^# result: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$out")
		;;
	*)
		"$t" >"$out" 2>&1
		rc=$?
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\.$/\1/p' "$out" | tail -n 1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s).*/\1/p' "$out" | tail -n 1)
		;;
	esac
	p=${p:-0}
	f=${f:-0}
	if [ -z "$p$f" ] || { [ "$rc" != 0 ] && [ "$f" = 0 ]; } ||
	   { [ "$p" = 0 ] && [ "$f" = 0 ]; }; then
		broken=$((broken + 1))
		f=$((f + 1))
		echo "BROKEN $t (exit $rc, no results)"
		cat "$out"
	elif [ "$f" != 0 ]; then
		echo "FAIL   $t: $p passed, $f failed"
		cat "$out"
	else
		echo "ok     $t: $p passed"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
