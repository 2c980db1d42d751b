#!/bin/bash
test_description='remove with servers running inside the worktree: refuse, --stop, --keep-running'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json

# running_repo REPO BASE: REPO with a range web BASE..BASE+9 and a linked
# worktree REPO-wt with ports for web and api; two servers run inside it
# (one in a subfolder), on them, and a decoy in the main worktree on the
# main worktree's port. Pids in REPO.web, REPO.api, REPO.decoy.
running_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" &&
	git -C "$1" worktree-ports allocate web -q >"$1.main" &&
	git -C "$1" worktree add -q "../$1-wt" &&
	git -C "$1-wt" worktree-ports allocate web -q >"$1.wport" &&
	git -C "$1-wt" worktree-ports allocate api -q >"$1.aport" &&
	mkdir "$1-wt/sub" &&
	(cd "$1-wt" && start_listener 127.0.0.1 "$(cat "../$1.wport")" "$TRASH/$1.web") &&
	(cd "$1-wt/sub" && start_listener ::1 "$(cat "../../$1.aport")" "$TRASH/$1.api") &&
	(cd "$1" && start_listener 127.0.0.1 "$(cat "../$1.main")" "$TRASH/$1.decoy")
}

# exited PID: PID is gone, or a zombie waiting for whoever reaps orphans
# here (our listeners are not children of this shell).
exited() {
	local state
	state=$(sed "s/.*) //" "/proc/$1/stat" 2>/dev/null | cut -c1)
	test -z "$state" || test "$state" = Z || test "$state" = X
}

stop_all() {
	stop_pid "$TRASH/$1.web"
	stop_pid "$TRASH/$1.api"
	stop_pid "$TRASH/$1.decoy"
}

test_expect_success 'remove refuses while servers run inside, and lists them' '
	test_when_finished "stop_all x1" &&
	running_repo x1 20300 &&
	cp x1/$R expect.reg &&
	test_expect_code 12 git -C x1 worktree-ports remove x1-wt 2>err &&
	test_line_count = 2 err &&
	grep "^error: worktree ${SQ}x1-wt${SQ} is not removed: 2 servers still run in it: " err &&
	grep "pid $(cat x1.web) (.*test-tool[^)]*) on port $(cat x1.wport)" err &&
	grep "pid $(cat x1.api) (.*test-tool[^)]*) on port $(cat x1.aport)" err &&
	! grep "pid $(cat x1.decoy) " err &&
	grep "^hint: .*--stop.*--keep-running" err &&
	test -d x1-wt &&
	test_cmp expect.reg x1/$R &&
	! exited "$(cat x1.web)" &&
	! exited "$(cat x1.api)"
'

test_expect_success 'remove --stop stops exactly those pids, then removes' '
	test_when_finished "stop_all x2" &&
	running_repo x2 20320 &&
	git -C x2 worktree-ports remove --stop x2-wt >out &&
	grep "^stopped pid $(cat x2.web) (.*) on port $(cat x2.wport)$" out &&
	grep "^stopped pid $(cat x2.api) (.*) on port $(cat x2.aport)$" out &&
	grep "^released port $(cat x2.wport) (${SQ}web${SQ})$" out &&
	grep "^removed worktree ${SQ}x2-wt${SQ} " out &&
	! test -d x2-wt &&
	exited "$(cat x2.web)" &&
	exited "$(cat x2.api)" &&
	! exited "$(cat x2.decoy)" &&
	! grep "\"x2-wt\"" x2/$R &&
	git -C x2 worktree-ports check >out &&
	echo "no conflicts" >expect &&
	test_cmp expect out
'

test_expect_success 'remove --stop that git refuses leaves the servers running' '
	test_when_finished "stop_all x7" &&
	running_repo x7 20400 &&
	echo change >x7-wt/README &&
	cp x7/$R expect.reg &&
	test_expect_code 1 git -C x7 worktree-ports remove --stop x7-wt >out 2>err &&
	grep "^error: ${SQ}git worktree remove${SQ} refused to remove " err &&
	! grep "^stopped " out &&
	test -d x7-wt &&
	! exited "$(cat x7.web)" &&
	! exited "$(cat x7.api)" &&
	test_cmp expect.reg x7/$R
'

test_expect_success 'remove --keep-running removes and says the servers are orphans' '
	test_when_finished "stop_all x3" &&
	running_repo x3 20340 &&
	git -C x3 worktree-ports remove --keep-running x3-wt >out 2>err &&
	grep "^removed worktree ${SQ}x3-wt${SQ} " out &&
	grep "^warning: pid $(cat x3.web) (.*) on port $(cat x3.wport) keeps running: an orphan of removed worktree ${SQ}x3-wt${SQ} now; stop it with ${SQ}kill $(cat x3.web)${SQ}$" err &&
	grep "^warning: pid $(cat x3.api) (.*) on port $(cat x3.aport) keeps running: " err &&
	! test -d x3-wt &&
	! exited "$(cat x3.web)" &&
	! exited "$(cat x3.api)" &&
	test_expect_code 9 git -C x3 worktree-ports check >out &&
	grep "^orphan_process: port $(cat x3.wport) of range ${SQ}web${SQ} is held by pid $(cat x3.web) (.*) in .*/x3-wt (deleted), an orphan (its directory was deleted); fix: kill $(cat x3.web)$" out &&
	grep "^orphan_process: port $(cat x3.aport) of range ${SQ}api${SQ} is held by pid $(cat x3.api) (.*) in .*/x3-wt/sub (deleted), an orphan (its directory was deleted); fix: kill $(cat x3.api)$" out &&
	git -C x3 worktree-ports who "$(cat x3.wport)" >who &&
	grep "^verdict: an orphan of a removed worktree; stop it with ${SQ}kill $(cat x3.web)${SQ}$" who
'

test_expect_success 'remove --json lists what it stopped' '
	test_when_finished "stop_all x4" &&
	running_repo x4 20360 &&
	git -C x4 worktree-ports remove --stop --json x4-wt >out &&
	json_get out stopped.# >n &&
	echo 2 >expect &&
	test_cmp expect n &&
	sort -n x4.web x4.api >expect &&
	{ json_get out stopped.0.pid && json_get out stopped.1.pid; } | sort -n >actual &&
	test_cmp expect actual &&
	json_get out left_running.# >n &&
	echo 0 >expect &&
	test_cmp expect n
'

test_expect_success 'nothing running: remove needs neither option' '
	new_repo x5 &&
	set_ranges x5 "web:20380-20389" &&
	git -C x5 worktree add -q ../x5-wt &&
	git -C x5-wt worktree-ports allocate web -q >x5.port &&
	git -C x5 worktree-ports remove x5-wt >out &&
	grep "^removed worktree ${SQ}x5-wt${SQ} " out
'

test_expect_success '--stop and --keep-running together are a usage error' '
	new_repo x6 &&
	git -C x6 worktree add -q ../x6-wt &&
	test_expect_code 129 git -C x6 worktree-ports remove --stop --keep-running x6-wt 2>err &&
	grep "^error: --stop and --keep-running cannot be used together$" err &&
	test -d x6-wt
'

test_done
