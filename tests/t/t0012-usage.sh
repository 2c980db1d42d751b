#!/bin/bash
test_description='usage: -h, help, and usage errors exit 129 as in git'
. "$(dirname "$0")/../lib.sh"

# Ports 27000-27999 are this script's.
R=design/worktrees/ports.json

# Each command and the long options its usage must name.
COMMANDS='
init force no-hooks
allocate port worktree description quiet
release port worktree all
status all worktree health-check timeout verbose
prune dry-run
env format worktree
wait timeout worktree
log since worktree service action
remove force
sync worktree
install-hooks
uninstall-hooks
who quiet
check
repair dry-run all worktree
'

# The commands that take no argument.
NO_ARGS='init status prune env log sync install-hooks uninstall-hooks check repair'

# A command's usage names an option as --NAME or, for a bool that has a
# --no- form, as --[no-]NAME.
names_option() {
	grep -E -e "(--|\])$2( |$)" "$1"
}

test_expect_success 'setup' '
	new_repo r &&
	set_ranges r "web:27000-27009" "api:27010-27019" &&
	cp r/$R registry.before
'

while read -r cmd opts; do
	test -n "$cmd" || continue
	test_expect_success "$cmd -h prints its usage to stdout and exits 129" "
		test_expect_code 129 git -C r worktree-ports $cmd -h \
			>out 2>err &&
		grep '^usage: git worktree-ports $cmd' out &&
		test_must_be_empty err &&
		for opt in $opts; do
			names_option out \$opt || return 1
		done
	"
	test_expect_success "$cmd --help is -h" "
		test_expect_code 129 git -C r worktree-ports $cmd -h >expect &&
		test_expect_code 129 git -C r worktree-ports $cmd --help >actual &&
		test_cmp expect actual
	"
	test_expect_success "help $cmd prints the same usage and exits 0" "
		test_expect_code 129 git -C r worktree-ports $cmd -h >expect &&
		git -C r worktree-ports help $cmd >actual &&
		test_cmp expect actual
	"
	test_expect_success "$cmd with an unknown option exits 129" "
		test_expect_code 129 git -C r worktree-ports $cmd --frobnicate \
			>out 2>err &&
		test_must_be_empty out &&
		grep \"^error: unknown option '--frobnicate'\" err &&
		grep '^usage: git worktree-ports $cmd' err
	"
done <<EOF
$COMMANDS
EOF

for cmd in allocate wait remove who; do
	test_expect_success "$cmd without its argument exits 129" "
		test_expect_code 129 git -C r worktree-ports $cmd >out 2>err &&
		test_must_be_empty out &&
		grep '^error: .$cmd. needs a <' err &&
		grep '^usage: git worktree-ports $cmd' err
	"
	test_expect_success "$cmd with one argument too many exits 129" "
		test_expect_code 129 git -C r worktree-ports $cmd 27001 27002 \
			>out 2>err &&
		grep '^error: .$cmd. takes one .*27002' err &&
		grep '^usage: git worktree-ports $cmd' err
	"
done

for cmd in $NO_ARGS; do
	test_expect_success "$cmd with an argument exits 129" "
		test_expect_code 129 git -C r worktree-ports $cmd extra \
			>out 2>err &&
		test_must_be_empty out &&
		grep \"^error: '$cmd' takes no arguments, got 'extra'\" err &&
		grep '^usage: git worktree-ports $cmd' err
	"
done

test_expect_success 'release with nothing to release exits 129' '
	test_expect_code 129 git -C r worktree-ports release 2>err &&
	grep "^error: nothing to release" err
'

test_expect_success 'a missing value exits 129 with the usage' '
	test_expect_code 129 git -C r worktree-ports allocate web --port \
		2>err &&
	grep "^error: option .--port. needs a value" err &&
	grep "^usage: git worktree-ports allocate" err &&
	test_expect_code 129 git -C r worktree-ports status --worktree 2>err &&
	grep "^error: option .--worktree. needs a value" err &&
	test_expect_code 129 git -C r worktree-ports allocate web -C 2>err &&
	grep "^error: option .-C. needs a value" err
'

test_expect_success 'a bad value exits 129 with a hint instead of the usage' '
	test_expect_code 129 git -C r worktree-ports allocate web --port x \
		2>err &&
	grep "^error: invalid port .x." err &&
	grep "^hint: " err &&
	! grep "^usage:" err &&
	test_expect_code 129 git -C r worktree-ports wait web --timeout soon \
		2>err &&
	grep "^error: invalid timeout .soon." err &&
	test_expect_code 129 git -C r worktree-ports who 99999 2>err &&
	grep "^error: invalid port .99999." err
'

test_expect_success 'a bool takes no value and only a bool has --no-' '
	test_expect_code 129 git -C r worktree-ports status --all=yes 2>err &&
	grep "^error: option .--all. takes no value" err &&
	test_expect_code 129 git -C r worktree-ports status --no-worktree \
		2>err &&
	grep "^error: unknown option .--no-worktree." err
'

test_expect_success 'no abbreviated options' '
	test_expect_code 129 git -C r worktree-ports prune --dry 2>err &&
	grep "^error: unknown option .--dry." err
'

test_expect_success 'usage errors change nothing' '
	test_expect_code 129 git -C r worktree-ports allocate web --frob &&
	test_expect_code 129 git -C r worktree-ports allocate web --port &&
	test_expect_code 129 git -C r worktree-ports init --force --frob &&
	test_expect_code 129 git -C r worktree-ports release web --all x= \
		--frob &&
	test_cmp registry.before r/$R
'

test_expect_success 'a bool can be turned off again' '
	git -C r worktree-ports allocate web -q --no-quiet >out &&
	grep "^allocated port 2700[0-9] to ${SQ}web${SQ}" out &&
	git init -q h &&
	git -C h worktree-ports init --no-hooks --hooks --json >out &&
	test "$(json_get out hook)" = installed
'

test_expect_success 'options and arguments in any order, -- ends options' '
	git -C r worktree-ports allocate --port 27013 -q api >actual &&
	echo 27013 >expect &&
	test_cmp expect actual &&
	git -C r worktree-ports release -q -- api &&
	git -C r worktree-ports status --json >out &&
	! grep 27013 out &&
	test_expect_code 129 git -C r worktree-ports who -- -1 2>err &&
	grep "^error: invalid port .-1." err
'

test_expect_success 'grouped short options' '
	git -C r worktree-ports repair -nq >out &&
	test_must_be_empty out
'

test_expect_success 'global options work after every command' '
	git -C r worktree-ports allocate web -q >expect &&
	for cmd in "status --json" "env --json" "log --json" "check --json" \
		   "prune --dry-run --json" "repair -n --json" "who 27009 --json"
	do
		git worktree-ports $cmd -C r --registry "$PWD/r/$R" \
			>out || return 1
		test "$(json_get out @type)" = object || return 1
	done &&
	git worktree-ports allocate web -C r -q >actual &&
	test_cmp expect actual
'

test_expect_success 'git worktree-ports alone prints the usage to stderr' '
	test_expect_code 129 git worktree-ports >out 2>err &&
	test_must_be_empty out &&
	grep "^usage: git worktree-ports " err &&
	grep "^    allocate " err
'

test_expect_success '-h and --help print the usage to stdout and exit 129' '
	test_expect_code 129 git worktree-ports -h >out 2>err &&
	test_must_be_empty err &&
	grep "^usage: git worktree-ports " out &&
	test_expect_code 129 git-worktree-ports --help >actual &&
	test_cmp out actual
'

test_expect_success 'the main usage lists every command and global option' '
	test_expect_code 129 git worktree-ports -h >out &&
	echo "$COMMANDS" | while read -r cmd opts; do
		test -z "$cmd" || grep "^    $cmd\( \|$\)" out || return 1
	done &&
	for opt in registry json quiet version; do
		names_option out $opt || return 1
	done &&
	grep "^    -C <path>" out
'

test_expect_success 'help alone prints the main usage and exits 0' '
	test_expect_code 129 git worktree-ports -h >expect &&
	git worktree-ports help >actual 2>err &&
	test_must_be_empty err &&
	test_cmp expect actual &&
	git worktree-ports help help >out &&
	grep "^usage: git worktree-ports help" out
'

test_expect_success 'help with an unknown command exits 129' '
	test_expect_code 129 git worktree-ports help frobnicate 2>err &&
	grep "^error: .frobnicate. is not a git worktree-ports command" err &&
	test_expect_code 129 git worktree-ports help init status 2>err &&
	grep "^error: .help. takes one command" err
'

test_expect_success 'an unknown command exits 129' '
	test_expect_code 129 git -C r worktree-ports frobnicate 2>err &&
	grep "^error: .frobnicate. is not a git worktree-ports command" err
'

test_expect_success 'an unknown global option exits 129 with the usage' '
	test_expect_code 129 git worktree-ports --frobnicate status \
		>out 2>err &&
	test_must_be_empty out &&
	grep "^error: unknown option .--frobnicate." err &&
	grep "^usage: git worktree-ports " err
'

test_done
