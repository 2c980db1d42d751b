# Helper library for the integration tests (bash).
#
#	test_description='what this script covers'
#	. "$(dirname "$0")/../lib.sh"
#	test_expect_success 'title' '
#		new_repo r &&
#		git -C r worktree-ports allocate web -q >port &&
#		...
#	'
#	test_done
#
# Each script runs in a fresh directory from mktemp -d, with its own HOME
# and XDG_STATE_HOME, so the per-user list of registries is its own. The
# directory is removed when every test passed and kept (its path printed)
# otherwise. Each test body runs in a subshell, so 'cd' stays inside it.
#
# Chain lint: before a body runs, it is evaluated once as
# '(exit 117) && BODY'. A body that is one && chain does nothing then and
# gives 117; anything else means a command whose failure the chain would
# not see (a missing '&&'), and the test fails as a broken &&-chain
# without running. TEST_CHAIN_LINT=0 turns the lint off, and every script
# then says so in its output.
#
# Ports: each script has a block of its own (the table below), so that
# scripts can run at once (tests/run.sh runs them in parallel). Every
# port a script binds, and every range it gives a registry, lies in its
# block; set_ranges, start_listener and start_servers check that and fail
# the test otherwise. All blocks are below 32768 (out of the ephemeral
# range, so no outgoing connection holds a test port by chance) and out
# of the default ranges that 'init' writes (3000-3099, 5432-5439,
# 5555-5564, 6379-6389, 8080-8099, 9000-9099, 10000-11000): scripts that
# keep those ranges allocate in them, so no test ever listens there.
#
#	script	block		also, for ranges only (never a listener)
#	t0001	11001-11299
#	t0002	11300-11499	10080-10081 (10080: a port browsers refuse)
#	t0003	11500-11699
#	t0004	11700-11999
#	t0005	12000-12199
#	t0006	13000-13399
#	t0007	12400-12999
#	t0008	14000-14999
#	t0009	29000-29999
#	t0010	26000-26999
#	t0011	28000-28999
#	t0012	27000-27999
#	t0101	none: the default ranges, and no listener
#	t0201	16000-16999
#	t0202	17000-18799
#	t0203	18800-19299
#	t0204	19300-19999
#	t0301	23000-23299
#	t0302	23300-23599	10075-10085 (around 10080)
#	t0303	23600-23999
#	t0304	20000-20299
#	t0305	20300-20599
#	t0306	21000-21499
#	t0307	21500-21799
#	t0401	24000-24999
#	t0402	25000-25999
#	t0403	20600-20999
#	free	15000-15999, 21800-22999, 30000-32767
TEST_PORT_BLOCKS='
t0001 11001-11299
t0002 11300-11499 10080-10081
t0003 11500-11699
t0004 11700-11999
t0005 12000-12199
t0006 13000-13399
t0007 12400-12999
t0008 14000-14999
t0009 29000-29999
t0010 26000-26999
t0011 28000-28999
t0012 27000-27999
t0101 -
t0201 16000-16999
t0202 17000-18799
t0203 18800-19299
t0204 19300-19999
t0301 23000-23299
t0302 23300-23599 10075-10085
t0303 23600-23999
t0304 20000-20299
t0305 20300-20599
t0306 21000-21499
t0307 21500-21799
t0401 24000-24999
t0402 25000-25999
t0403 20600-20999
t0501 15000-15099
t0502 15100-15199
t0503 15200-15299
t0504 21800-21899
t0505 21900-21999
t0506 22000-22099
'

set -u

TEST_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$TEST_DIR/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build}
if ! test -x "$BUILD_DIR/git-worktree-ports"; then
	echo "error: no $BUILD_DIR/git-worktree-ports: run make first" >&2
	exit 1
fi
TEST_TOOL=$BUILD_DIR/tests/test-tool
if ! test -x "$TEST_TOOL"; then
	echo "error: no $TEST_TOOL: run make test-tool first" >&2
	exit 1
fi
PATH=$BUILD_DIR:$PATH
export PATH TEST_TOOL SRC_DIR BUILD_DIR

TEST_CHAIN_LINT=${TEST_CHAIN_LINT:-1}

# This script's port block, from TEST_PORT_BLOCKS: TEST_PORTS (the
# block, FIRST-LAST, or "-" for none) and TEST_RANGE_PORTS (the block
# and the extra ranges).
TEST_PORTS=
TEST_RANGE_PORTS=
test_script=$(basename "$0")
while read -r name block extra; do
	case "$test_script" in
	"$name"-*)
		TEST_PORTS=$block
		TEST_RANGE_PORTS="$block $extra"
		;;
	esac
done <<EOF
$TEST_PORT_BLOCKS
EOF
if test -z "$TEST_PORTS"; then
	echo "error: $test_script has no port block: add it to TEST_PORT_BLOCKS in tests/lib.sh" >&2
	exit 1
fi

TRASH=$(mktemp -d "${TMPDIR:-/tmp}/wtp-test.XXXXXX")
mkdir -p "$TRASH/home" "$TRASH/state"
HOME=$TRASH/home
XDG_STATE_HOME=$TRASH/state
export HOME XDG_STATE_HOME
unset GIT_DIR GIT_WORK_TREE GIT_COMMON_DIR GIT_INDEX_FILE GIT_CEILING_DIRECTORIES
unset GIT_WORKTREE_PORTS_REGISTRY GIT_WORKTREE_PORTS_SKIP
GIT_CONFIG_NOSYSTEM=1
GIT_AUTHOR_NAME='A U Thor'
GIT_AUTHOR_EMAIL='author@example.com'
GIT_COMMITTER_NAME='C O Mitter'
GIT_COMMITTER_EMAIL='committer@example.com'
export GIT_CONFIG_NOSYSTEM GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL
export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
git config --global init.defaultBranch main
git config --global advice.detachedHead false
# Sanitizer failures must never pass for an expected failure.
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS
cd "$TRASH" || exit 1

test_count=0
test_failures=0
test_skipped=0

say() {
	printf '%s\n' "$*"
}

# test_run_ BODY: evaluate BODY in a subshell, then the commands it gave
# test_when_finished, also when BODY ends with 'return' or 'exit'; the
# status is BODY's.
test_eval_() {
	eval "$1"
}

test_run_() {
	(
		test_cleanup=:
		trap 'rc=$?; trap - EXIT; eval "$test_cleanup"; exit $rc' EXIT
		test_eval_ "$1"
	)
}

# Run 'title' 'body'; with three arguments the first is a prerequisite
# name, tested by test_have_prereq.
test_expect_success() {
	local prereq='' title body rc
	if test $# = 3; then
		prereq=$1
		shift
	fi
	title=$1
	body=$2
	test_count=$((test_count + 1))
	if test -n "$prereq" && ! test_have_prereq "$prereq"; then
		test_skipped=$((test_skipped + 1))
		say "ok $test_count # skip $title (missing $prereq)"
		return 0
	fi
	if test "$TEST_CHAIN_LINT" != 0; then
		test_run_ "(exit 117) && $body" </dev/null >"$TRASH/.out" 2>&1
		rc=$?
		if test $rc != 117; then
			test_failures=$((test_failures + 1))
			say "not ok $test_count - $title"
			say "# broken &&-chain (the lint gave $rc, not 117): a command in it is not followed by &&"
			say "#	$body" | sed 's/^/#/'
			return 0
		fi
	fi
	test_run_ "$body" </dev/null >"$TRASH/.out" 2>&1
	rc=$?
	if test $rc = 0; then
		say "ok $test_count - $title"
	else
		test_failures=$((test_failures + 1))
		say "not ok $test_count - $title"
		say "#	$body" | sed 's/^/#/'
		sed 's/^/#> /' "$TRASH/.out"
	fi
}

test_expect_failure() {
	test_count=$((test_count + 1))
	say "ok $test_count # TODO known breakage: $1"
}

# Register a command to run when the current test ends, pass or fail.
test_when_finished() {
	test_cleanup="$*; $test_cleanup"
}

test_have_prereq() {
	case "$1" in
	IPV6)
		"$TEST_TOOL" can-bind ::1
		;;
	COMPOSE)
		command -v docker-compose >/dev/null 2>&1
		;;
	DOTENV)
		python3 -c 'import dotenv' 2>/dev/null
		;;
	INOTIFY)
		command -v inotifywait >/dev/null 2>&1
		;;
	LEFTHOOK)
		command -v lefthook >/dev/null 2>&1
		;;
	HUSKY)
		command -v husky >/dev/null 2>&1
		;;
	PRE_COMMIT)
		command -v pre-commit >/dev/null 2>&1
		;;
	ROOT)
		test "$(id -u)" = 0
		;;
	NOT_ROOT)
		test "$(id -u)" != 0
		;;
	*)
		return 1
		;;
	esac
}

# test_died_ RC NAME COMMAND...: if the exit status RC is no clean one,
# say why and succeed: 126 (not run), 127 (not found), or 130-192 (a
# signal, a sanitizer's abort among them). As in git, 128 (git's die)
# and 129 (a usage error) are clean.
test_died_() {
	local rc=$1 name=$2
	shift 2
	case $rc in
	126 | 127)
		echo "$name: command could not run ($rc): $*" >&2
		;;
	13[0-9] | 1[4-8][0-9] | 19[0-2])
		echo "$name: command died of signal $((rc - 128)): $*" >&2
		;;
	*)
		return 1
		;;
	esac
}

# test_must_fail COMMAND...: succeed if the command fails cleanly: not a
# crash, and not "command not found" (test_died_).
test_must_fail() {
	"$@"
	local rc=$?
	if test $rc = 0; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	fi
	! test_died_ $rc test_must_fail "$@"
}

# test_might_fail COMMAND...: succeed whether the command succeeds or
# fails cleanly; a crash and "command not found" still fail.
test_might_fail() {
	"$@"
	! test_died_ $? test_might_fail "$@"
}

# test_expect_code N command...: succeed if it exits with exactly N.
test_expect_code() {
	local want=$1 rc
	shift
	"$@"
	rc=$?
	if test $rc != "$want"; then
		echo "test_expect_code: want $want, got $rc: $*" >&2
		return 1
	fi
}

test_cmp() {
	diff -u "$1" "$2"
}

# A repository NAME with one commit and a registry (init --no-hooks).
# The first one is made with git and the tool in $TRASH/.new-repo, and
# each one is a copy of it (cp -a): the same repository and registry,
# which name no path of their own, for a tenth of the processes.
new_repo() {
	local tmpl=$TRASH/.new-repo
	if ! test -d "$tmpl"; then
		git init -q "$tmpl.tmp" &&
		echo "hello" >"$tmpl.tmp/README" &&
		git -C "$tmpl.tmp" add README &&
		git -C "$tmpl.tmp" commit -q -m initial &&
		git -C "$tmpl.tmp" worktree-ports init --no-hooks >/dev/null &&
		mv "$tmpl.tmp" "$tmpl" || return 1
	fi
	cp -a "$tmpl" "$1"
}

# in_blocks FIRST LAST BLOCK...: the ports FIRST to LAST lie in one of
# the BLOCKs (each FIRST-LAST).
in_blocks() {
	local first=$1 last=$2 block
	shift 2
	for block; do
		case "$block" in
		*-*)
			if test "$first" -ge "${block%-*}" &&
			   test "$last" -le "${block#*-}"; then
				return 0
			fi
			;;
		esac
	done
	return 1
}

# check_ports WHAT PORTS...: each of PORTS (a port, FIRST-LAST, or a
# comma-separated list of those) lies in this script's block, or, for
# WHAT 'range', in its extra ranges; else say so and fail.
check_ports() {
	local what=$1 blocks list part port
	shift
	if test "$what" = range; then
		blocks=$TEST_RANGE_PORTS
	else
		blocks=$TEST_PORTS
	fi
	for list; do
		for part in ${list//,/ }; do
			case "$part" in
			[0-9]*-[0-9]* | [0-9]*)
				;;
			*)
				echo "error: ${SQ}$part${SQ} is not a port or FIRST-LAST" >&2
				return 1
				;;
			esac
			# shellcheck disable=SC2086
			if ! in_blocks "${part%-*}" "${part#*-}" $blocks; then
				echo "error: ports $part ($what) are outside the port block of $test_script ($blocks): see TEST_PORT_BLOCKS in tests/lib.sh" >&2
				return 1
			fi
		done
	done
}

# Replace the ranges of repository NAME's registry: set_ranges NAME
# 'web:11100-11109' 'api:11110-11119' ..., each inside the script's port
# block.
set_ranges() {
	local repo=$1 spec
	shift
	for spec; do
		check_ports range "${spec#*:}" || return 1
	done
	"$TEST_TOOL" set-ranges "$repo/design/worktrees/ports.json" "$@"
}

# wait_pidfile PIDFILE PID WHAT: wait until PIDFILE is written, while
# process PID lives; fail once it has died, or after 20 s.
wait_pidfile() {
	local i=0
	while ! test -s "$1"; do
		if ! kill -0 "$2" 2>/dev/null; then
			echo "$3 did not start" >&2
			return 1
		fi
		i=$((i + 1))
		if test $i -gt 400; then
			kill "$2"
			echo "$3 did not start in 20 s" >&2
			return 1
		fi
		sleep 0.05
	done
}

# Start a TCP listener on ADDR PORT in the background; its pid goes to
# the file PIDFILE once it listens. Stop it with stop_pid PIDFILE.
start_listener() {
	local addr=$1 port=$2 pidfile=$3
	check_ports listener "$port" || return 1
	rm -f "$pidfile"
	"$TEST_TOOL" listen "$addr" "$port" "$pidfile" &
	wait_pidfile "$pidfile" $! "listener on $addr:$port"
}

stop_pid() {
	if test -s "$1"; then
		kill "$(cat "$1")" 2>/dev/null
		wait "$(cat "$1")" 2>/dev/null
	fi
	return 0
}

# A single quote, for messages inside single-quoted test bodies.
SQ="'"

test_must_be_empty() {
	if ! test -f "$1"; then
		echo "'$1' is missing" >&2
		return 1
	elif test -s "$1"; then
		echo "'$1' is not empty:" >&2
		cat "$1" >&2
		return 1
	fi
}

# test_line_count OP N FILE: the number of lines of FILE compares to N
# with test's OP (=, -gt, ...).
test_line_count() {
	local n
	n=$(wc -l <"$3")
	if ! test "$n" "$1" "$2"; then
		echo "test_line_count: $3 has $n lines, want $1 $2:" >&2
		cat "$3" >&2
		return 1
	fi
}

# json_get FILE PATH: one value of a JSON file ('-': stdin); see
# tests/tool/json.c for PATH ("allocations[service=web].port").
json_get() {
	"$TEST_TOOL" json-get "$@"
}

# json_lines FILE PATH KEY...: for each element of the array at PATH (or
# member of the object, KEY @name its name), the text of its members
# KEY... on a line (tests/tool/json.c).
json_lines() {
	"$TEST_TOOL" json-lines "$@"
}

# json_edit FILE set PATH JSON, json_edit FILE append PATH JSON,
# json_edit FILE delete PATH: change a JSON file as a hand edit would
# (tests/tool/json.c).
json_edit() {
	"$TEST_TOOL" json-edit "$@"
}

# env_block outside|block|vars FILE: the parts of an env file around and
# in its git-worktree-ports block (tests/tool/env-block.c).
env_block() {
	"$TEST_TOOL" env-block "$@"
}

test_done() {
	local passed=$((test_count - test_failures - test_skipped))
	if test "$TEST_CHAIN_LINT" = 0; then
		say "# chain lint off (TEST_CHAIN_LINT=0): broken &&-chains go unseen"
	fi
	say "# result: $passed passed, $test_failures failed"
	if test $test_failures = 0; then
		cd / && rm -rf "$TRASH"
		exit 0
	fi
	say "# kept $TRASH"
	exit 1
}

# start_servers PIDFILE SPEC...: run 'test-tool servers' with SPECs
# (KIND:PORTS with KIND ok, error, hang, slow, garbage or listen, or
# pairs:N; tests/tool/servers.c) in the background and wait until it
# writes its pid to PIDFILE, which it does once every socket listens.
# Stop it with stop_pid PIDFILE, from test_when_finished.
start_servers() {
	local pidfile=$1 spec
	shift
	for spec; do
		case "$spec" in
		pairs:*) ;;
		*) check_ports server "${spec#*:}" || return 1 ;;
		esac
	done
	rm -f "$pidfile"
	"$TEST_TOOL" servers --pidfile "$pidfile" "$@" &
	wait_pidfile "$pidfile" $! "servers $*"
}

# start_servers_in DIR PIDFILE SPEC...: start_servers with DIR as the
# servers' own directory, so that they belong to the worktree at DIR
# (docs/probe.md). PIDFILE is relative to $TRASH unless absolute.
start_servers_in() {
	local dir=$1 pidfile=$2
	shift 2
	case "$pidfile" in
	/*) ;;
	*) pidfile=$TRASH/$pidfile ;;
	esac
	(cd "$dir" && start_servers "$pidfile" "$@")
}

# now_ms: the time in milliseconds, for measuring a command.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
