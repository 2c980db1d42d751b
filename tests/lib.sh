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
	(
		test_cleanup=:
		eval "$body"
		rc=$?
		eval "$test_cleanup"
		exit $rc
	) </dev/null >"$TRASH/.out" 2>&1
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

# Succeed if the command fails cleanly: exit 1-125, not a crash (a signal,
# or a sanitizer's abort) and not "command not found".
test_must_fail() {
	"$@"
	local rc=$?
	if test $rc = 0; then
		echo "test_must_fail: command succeeded: $*" >&2
		return 1
	elif test $rc -gt 125; then
		echo "test_must_fail: command died ($rc): $*" >&2
		return 1
	fi
	return 0
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
new_repo() {
	git init -q "$1" &&
	echo "hello" >"$1/README" &&
	git -C "$1" add README &&
	git -C "$1" commit -q -m initial &&
	git -C "$1" worktree-ports init --no-hooks >/dev/null
}

# Replace the ranges of repository NAME's registry: set_ranges NAME
# 'web:20100-20109' 'api:20200-20209' ... (below 32768, out of the
# ephemeral range, so that outgoing connections never hold a test port)
set_ranges() {
	local repo=$1
	shift
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

# json_lines FILE PATH KEY...: for each element of the array at PATH, the
# text of its members KEY... on a line (tests/tool/json.c).
json_lines() {
	"$TEST_TOOL" json-lines "$@"
}

# env_block outside|block|vars FILE: the parts of an env file around and
# in its git-worktree-ports block (tests/tool/env-block.c).
env_block() {
	"$TEST_TOOL" env-block "$@"
}

test_done() {
	local passed=$((test_count - test_failures - test_skipped))
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
	local pidfile=$1
	shift
	rm -f "$pidfile"
	"$TEST_TOOL" servers --pidfile "$pidfile" "$@" &
	wait_pidfile "$pidfile" $! "servers $*"
}

# now_ms: the time in milliseconds, for measuring a command.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}
