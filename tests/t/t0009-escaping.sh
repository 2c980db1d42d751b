#!/usr/bin/env bash
# Ports 29000-29099.
test_description='strings of a hand-edited registry reach no terminal raw'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json
ESC=$(printf '\033')

# no_raw_esc FILE...: none holds an ESC byte (escaped, it is "\x1b")
no_raw_esc() {
	if grep -l "$ESC" "$@"; then
		echo "a raw ESC byte was printed" >&2
		return 1
	fi
}

# put "ESC[31m" (as the JSON escape \u001b) into every free-text field
poison() {
	sed -e 's/"description": "\([^"]*\)"/"description": "\1\\u001b[31mX"/' \
	    -e 's/"allocated_by": "\([^"]*\)"/"allocated_by": "\1\\u001b[31mX"/' \
	    -e 's|"path": "\([^"]*\)"|"path": "\1\\u001b[31mX"|' \
		"$1" >"$1+" &&
	mv "$1+" "$1"
}

test_expect_success 'setup: a registry with ESC in its free-text fields' '
	new_repo r &&
	set_ranges r "web:29000-29009" "api:29010-29019" "default:29020-29029" &&
	git -C r worktree-ports allocate web --port 29001 --description front -q &&
	git -C r worktree-ports allocate api --description back -q &&
	git -C r worktree add -q ../wt &&
	git -C wt worktree-ports allocate web --description "linked" -q &&
	poison r/$R &&
	grep -c "u001b" r/$R >n &&
	test "$(cat n)" -ge 6 &&
	git -C r worktree-ports status >/dev/null
'

for cmd in "status" "status --all" "status --json" "status --all --json" \
	"status --health-check --timeout 0.2" "status --all --health-check --timeout 0.2" \
	"status --health-check -v --timeout 0.2" "check" "check --json" \
	"who 29001" "repair --dry-run" "repair --all --dry-run" \
	"env" "env --format sh" "env --format json" "log" "log --json" \
	"wait web --timeout 0.2" "allocate web" "allocate web --json" "prune --dry-run"
do
	test_expect_success "$cmd prints the registry's strings escaped" "
		test_might_fail git -C r worktree-ports $cmd >out 2>err &&
		no_raw_esc out err
	"
done

test_expect_success 'release and remove print them escaped' '
	git -C r worktree-ports release api >out 2>err &&
	no_raw_esc out err &&
	git -C r worktree-ports remove ../wt >out 2>err &&
	no_raw_esc out err &&
	git -C r worktree-ports prune >out 2>err &&
	no_raw_esc out err
'

test_expect_success 'an error quoting a bad field escapes it' '
	sed "s/\"health_status\": \"[a-z_]*\"/\"health_status\": \"bad\\\\u001b[31m\"/" \
		r/$R >r/$R+ &&
	mv r/$R+ r/$R &&
	test_expect_code 4 git -C r worktree-ports status >out 2>err &&
	grep "health_status" err &&
	grep "x1b" err &&
	no_raw_esc out err
'

test_expect_success 'the escaping is really exercised: the fields hold ESC' '
	printf "%s\n" "$ESC" >esc &&
	test_must_fail no_raw_esc esc
'

test_done
