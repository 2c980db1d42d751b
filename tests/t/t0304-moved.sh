#!/bin/bash
test_description='moved worktrees: recorded paths follow git, servers keep their ports'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json
LOG=.git/worktree-ports/ports.log

# moved_repo REPO BASE: REPO with a range web BASE..BASE+9 and a linked
# worktree REPO-wt holding a port for web (in the file REPO.port).
moved_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" &&
	git -C "$1" worktree add -q "../$1-wt" &&
	git -C "$1-wt" worktree-ports allocate web -q >"$1.port"
}

# recorded REPO SERVICE WORKTREE: the path the registry records for it.
recorded() {
	json_get "$1/$R" "allocations[worktree=$3].path"
}

# stamp FILE: the inode, size and mtime of FILE, to compare before and
# after a command that must write nothing.
stamp() {
	stat -c "%i %s %Y" "$1"
}

test_expect_success 'git worktree move: the own server keeps its port, nothing is foreign' '
	test_when_finished "stop_pid $PWD/m1.pid" &&
	moved_repo m1 20000 &&
	port=$(cat m1.port) &&
	(cd m1-wt && start_listener 127.0.0.1 "$port" "$PWD/../m1.pid") &&
	git -C m1 worktree move ../m1-wt ../m1-moved &&
	git -C m1 worktree-ports check >out 2>err &&
	grep "no conflicts" out &&
	git -C m1 worktree-ports repair --dry-run --all >out &&
	echo "nothing to repair" >expect &&
	test_cmp expect out &&
	git -C m1 worktree-ports who "$port" >out &&
	grep "^verdict: " out >verdict &&
	grep "own" verdict &&
	! grep foreign verdict &&
	# the server was not touched and still holds the port
	kill -0 "$(cat m1.pid)" &&
	echo "$port" >expect &&
	git -C m1-moved worktree-ports allocate web -q >actual &&
	test_cmp expect actual
'

test_expect_success 'one command records the new path, once, and says so' '
	moved_repo m2 20010 &&
	old=$(cd m2-wt && pwd -P) &&
	test "$(recorded m2 web m2-wt)" = "$old" &&
	git -C m2 worktree move ../m2-wt ../m2-moved &&
	new=$(cd m2-moved && pwd -P) &&
	git -C m2 worktree-ports status --all >out 2>err &&
	grep "worktree ${SQ}m2-wt${SQ} moved to ${SQ}$new${SQ} (was ${SQ}$old${SQ})" err &&
	test_line_count = 1 err &&
	test "$(recorded m2 web m2-wt)" = "$new" &&
	grep "\"action\":\"move\",\"worktree\":\"m2-wt\"" m2/$LOG >moves &&
	test_line_count = 1 moves &&
	grep "moved from $old to $new" moves &&
	git -C m2 worktree-ports log --action move >log &&
	grep "move .*m2-wt.*moved from $old to $new" log &&
	# the next command has nothing to update and writes nothing
	stamp m2/$R >before &&
	stamp m2/$LOG >>before &&
	git -C m2-moved worktree-ports status >out 2>err &&
	test_must_be_empty err &&
	git -C m2 worktree-ports check >out 2>err &&
	test_must_be_empty err &&
	stamp m2/$R >after &&
	stamp m2/$LOG >>after &&
	test_cmp before after
'

test_expect_success 'dry runs and who see the new path but write nothing' '
	moved_repo m3 20020 &&
	old=$(cd m3-wt && pwd -P) &&
	git -C m3 worktree move ../m3-wt ../m3-moved &&
	new=$(cd m3-moved && pwd -P) &&
	stamp m3/$R >before &&
	stamp m3/$LOG >>before &&
	git -C m3 worktree-ports repair --dry-run --all >out 2>err &&
	! grep "moved to" err &&
	git -C m3 worktree-ports prune --dry-run >out 2>err &&
	! grep "moved to" err &&
	port=$(cat m3.port) &&
	git -C m3 worktree-ports who "$port" --json >who.json &&
	test "$(json_get who.json allocations.0.path)" = "$new" &&
	stamp m3/$R >after &&
	stamp m3/$LOG >>after &&
	test_cmp before after &&
	test "$(recorded m3 web m3-wt)" = "$old"
'

test_expect_success 'the whole repository moved: the main worktree path follows' '
	new_repo m4 &&
	set_ranges m4 "web:20030-20039" &&
	git -C m4 worktree-ports allocate web -q >port &&
	old=$(cd m4 && pwd -P) &&
	test "$(recorded m4 web .main)" = "$old" &&
	mv m4 m4-new &&
	new=$(cd m4-new && pwd -P) &&
	git -C m4-new worktree-ports status >out 2>err &&
	grep "worktree ${SQ}.main${SQ} moved to ${SQ}$new${SQ}" err &&
	test "$(recorded m4-new web .main)" = "$new"
'

test_expect_success 'a recorded path that still leads to the worktree is not a move' '
	moved_repo m5 20040 &&
	real=$(cd m5-wt && pwd -P) &&
	ln -s "$real" m5-link &&
	json_edit m5/$R set "allocations[worktree=m5-wt].path" "\"$PWD/m5-link\"" &&
	stamp m5/$R >before &&
	git -C m5-wt worktree-ports status >out 2>err &&
	test_must_be_empty err &&
	stamp m5/$R >after &&
	test_cmp before after
'

test_expect_success 'a worktree moved and removed: released, not moved' '
	moved_repo m6 20050 &&
	git -C m6 worktree move ../m6-wt ../m6-moved &&
	git -C m6 worktree remove ../m6-moved &&
	git -C m6 worktree-ports status --all >out 2>err &&
	grep "released port $(cat m6.port)" err &&
	! grep "moved to" err
'

test_done
