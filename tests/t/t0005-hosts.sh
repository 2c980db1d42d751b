#!/bin/bash
test_description='the registries of one host never share a port'
. "$(dirname "$0")/../lib.sh"

# lib.sh gives this script its own XDG_STATE_HOME, so the host's list of
# registries holds only the repositories made here.
R=design/worktrees/ports.json
LIST=$XDG_STATE_HOME/git-worktree-ports/registries

test_expect_success 'two repositories with the same range get different ports' '
	new_repo a1 &&
	new_repo b1 &&
	set_ranges a1 "web:12100-12109" &&
	set_ranges b1 "web:12100-12109" &&
	git -C a1 worktree-ports allocate web -q >a &&
	echo 12100 >expect &&
	test_cmp expect a &&
	git -C b1 worktree-ports allocate web -q >b &&
	test "$(cat b)" -ge 12101 &&
	test "$(cat b)" -le 12109 &&
	grep -x "$(cd a1 && pwd -P)/$R" "$LIST" &&
	grep -x "$(cd b1 && pwd -P)/$R" "$LIST"
'

test_expect_success 'a range filled across two repositories is full in both' '
	new_repo a2 &&
	new_repo b2 &&
	set_ranges a2 "web:12110-12112" &&
	set_ranges b2 "web:12110-12112" &&
	git -C a2 worktree add -q ../a2-wt &&
	git -C b2 worktree add -q ../b2-wt &&
	git -C a2 worktree-ports allocate web -q >p1 &&
	git -C a2-wt worktree-ports allocate web -q >p2 &&
	printf "12110\n12111\n12112\n" >all &&
	sort p1 p2 >taken &&
	comm -23 all taken >expect &&
	test_line_count = 1 expect &&
	git -C b2 worktree-ports allocate web -q >actual &&
	test_cmp expect actual &&
	cp b2/$R before &&
	test_expect_code 5 git -C b2-wt worktree-ports allocate web 2>err &&
	grep "^error: " err &&
	test_cmp before b2/$R
'

test_expect_success '--port of a port allocated in another repository exits 6' '
	new_repo a3 &&
	new_repo b3 &&
	set_ranges a3 "web:12120-12129" &&
	set_ranges b3 "web:12120-12129" &&
	git -C a3 worktree-ports allocate web -q &&
	cp b3/$R expect &&
	test_expect_code 6 git -C b3 worktree-ports allocate web --port 12120 2>err &&
	grep "^error: .*12120" err &&
	grep -F "$(cd a3 && pwd -P)/$R" err &&
	test_cmp expect b3/$R
'

test_expect_success 'a port released in one repository is free for another' '
	new_repo a4 &&
	new_repo b4 &&
	set_ranges a4 "web:12130-12139" &&
	set_ranges b4 "web:12130-12139" &&
	git -C a4 worktree-ports allocate web -q &&
	git -C a4 worktree-ports release web &&
	git -C b4 worktree-ports allocate web -q >actual &&
	echo 12130 >expect &&
	test_cmp expect actual
'

test_expect_success 'a registry deleted from disk leaves the list of registries' '
	new_repo a5 &&
	new_repo b5 &&
	set_ranges a5 "web:12140-12149" &&
	set_ranges b5 "web:12140-12149" &&
	git -C a5 worktree-ports allocate web -q &&
	git -C b5 worktree-ports allocate web -q &&
	gone="$(cd a5 && pwd -P)/$R" &&
	grep -x "$gone" "$LIST" &&
	rm -rf a5 &&
	git -C b5 worktree add -q ../b5-wt &&
	git -C b5-wt worktree-ports allocate web -q &&
	! grep -x "$gone" "$LIST" &&
	grep -x "$(cd b5 && pwd -P)/$R" "$LIST"
'

test_expect_success 'the ports of a deleted registry are free again' '
	new_repo a6 &&
	new_repo b6 &&
	set_ranges a6 "web:12150-12159" &&
	set_ranges b6 "web:12150-12159" &&
	git -C a6 worktree-ports allocate web -q &&
	rm a6/$R &&
	git -C b6 worktree-ports allocate web -q >actual &&
	echo 12150 >expect &&
	test_cmp expect actual
'

test_done
