#!/bin/bash
# Run cmocka test programs and integration scripts, several at once, and
# add up the results.
#
#	BUILD_DIR=... sh tests/run.sh PROGRAM-OR-SCRIPT...
#
# TEST_JOBS (default 6) run at once: most scripts wait on sockets and
# processes more than they compute, so more jobs than cores pay off. The
# longest start first (the list LONGEST below, measured on a 2-core
# machine; the rest follow in the order given). Each one's output goes to
# a file of its own, printed whole, after its status line, when it fails.
# A program or script still running after TEST_TIMEOUT seconds (default
# 900) is stopped with every process it started, and counts as broken.
#
# The last two lines are the wall time of the whole run, labelled with
# RUN_LABEL (default "run.sh"), and "N passed, N failed". The exit status
# is non-zero if any test failed, or any program or script reported no
# results (BROKEN).

if test -z "${BASH_VERSION-}"; then
	exec bash "$0" "$@"
fi
set -u

jobs=${TEST_JOBS:-}
jobs=${jobs:-6}
timeout_s=${TEST_TIMEOUT:-900}
label=${RUN_LABEL:-run.sh}
case "$jobs" in
'' | *[!0-9]* | 0)
	echo "run.sh: TEST_JOBS must be a positive number, not '$jobs'" >&2
	exit 2
	;;
esac

# Longest first, by name without the directory and the '.sh' (measured
# on the 2-core machine); the short programs, not listed, follow.
LONGEST='
t0010-crash-points
t0203-hostile-config
t0006-concurrency
t0401-health
t0202-env-preserve
t0201-sync-hook
t0402-wait-log
t0007-kill-safety
t0101-hooks
t0204-consumers
t0004-release
t0001-allocate
t0303-repair
t0008-status-env
t0003-registry
t0302-check
t0012-usage
t0301-who
t0011-discovery
t0002-ports-in-use
t0005-hosts
layering
test-wt
t0009-escaping
test-registry-scan
'

dir=$(mktemp -d "${TMPDIR:-/tmp}/wtp-run.XXXXXX") || exit 1
declare -A running=() # pid of a job's subshell -> its index
stopping=

stop_all() {
	local pid idx
	stopping=1
	for pid in "${!running[@]}"; do
		idx=${running[$pid]}
		# timeout(1) passes the signal on to its whole process group
		if test -s "$dir/$idx.pid"; then
			kill -TERM "$(cat "$dir/$idx.pid")" 2>/dev/null
		fi
	done
	wait
}
trap 'stop_all; rm -rf "$dir"' EXIT
trap 'echo "run.sh: interrupted" >&2; exit 130' INT TERM HUP

# Order the arguments: those named in LONGEST first, in its order.
ordered=()
declare -A listed=()
for name in $LONGEST; do
	for t in "$@"; do
		base=${t##*/}
		if test "${base%.sh}" = "$name" && test -z "${listed[$t]-}"; then
			ordered+=("$t")
			listed[$t]=1
		fi
	done
done
for t in "$@"; do
	if test -z "${listed[$t]-}"; then
		ordered+=("$t")
		listed[$t]=1
	fi
done

# run_one INDEX TEST: run TEST with its output in INDEX.out, then write
# its exit status to INDEX.rc and its time in ms to INDEX.ms.
run_one() {
	local idx=$1 t=$2 start rc cmd=("$2")
	case "$t" in
	*.sh) cmd=(bash "$t") ;;
	esac
	start=$(date +%s%N)
	# a simple command, so that $! is the pid of timeout(1) itself
	timeout -k 10 "$timeout_s" "${cmd[@]}" </dev/null >"$dir/$idx.out" 2>&1 &
	echo $! >"$dir/$idx.pid"
	wait $!
	rc=$?
	echo $(((($(date +%s%N) - start)) / 1000000)) >"$dir/$idx.ms"
	echo $rc >"$dir/$idx.rc"
}

passed=0
failed=0
failures=()

# report INDEX: read the results of a finished test and print its line.
report() {
	local idx=$1 t=${ordered[$1]} out=$dir/$1.out rc p f secs noresults
	rc=$(cat "$dir/$idx.rc" 2>/dev/null || echo 255)
	secs=$((($(cat "$dir/$idx.ms" 2>/dev/null || echo 0) + 500) / 1000))
	case "$t" in
	*.sh)
		p=$(sed -n 's/^# result: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$out")
		f=$(sed -n 's/^# result: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$out")
		;;
	*)
		p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\.$/\1/p' "$out" | tail -n 1)
		f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s).*/\1/p' "$out" | tail -n 1)
		;;
	esac
	if test -z "$p$f"; then
		p=0 f=0 rc=${rc:-255}
		noresults=1
	else
		p=${p:-0} f=${f:-0}
		noresults=
	fi
	if test -n "$noresults" || { test "$rc" != 0 && test "$f" = 0; } ||
	   { test "$p" = 0 && test "$f" = 0; }; then
		f=$((f + 1))
		if test "$rc" = 124 || test "$rc" = 137; then
			echo "BROKEN $t (stopped after $timeout_s s, no results)"
		else
			echo "BROKEN $t (exit $rc, no results)"
		fi
		cat "$out"
		failures+=("$t")
	elif test "$f" != 0; then
		echo "FAIL   $t: $p passed, $f failed (${secs} s)"
		cat "$out"
		failures+=("$t")
	else
		echo "ok     $t: $p passed (${secs} s)"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
}

# reap: wait for any job to end, and report it.
reap() {
	local pid
	wait -n -p pid
	if test -z "${pid-}" || test -z "${running[$pid]-}"; then
		return
	fi
	report "${running[$pid]}"
	unset "running[$pid]"
}

if test "${TEST_CHAIN_LINT:-1}" = 0; then
	echo "warning: chain lint off (TEST_CHAIN_LINT=0)"
fi
start=$(date +%s)
for idx in "${!ordered[@]}"; do
	while test ${#running[@]} -ge "$jobs"; do
		reap
	done
	run_one "$idx" "${ordered[$idx]}" &
	running[$!]=$idx
done
while test ${#running[@]} -gt 0; do
	reap
done
end=$(date +%s)

if test ${#failures[@]} -gt 0; then
	echo "failed: ${failures[*]}"
fi
echo "$label: $((end - start)) s, $jobs jobs at once"
echo "$passed passed, $failed failed"
test "$failed" = 0
