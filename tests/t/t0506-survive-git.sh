#!/bin/bash
test_description='the registry survives git clean -fdx and a hand rm: its copy restores it'
. "$(dirname "$0")/../lib.sh"

# Ports 22000-22099.
R=design/worktrees/ports.json
COPY=.git/worktree-ports/ports.json.copy

test_expect_success 'every change keeps a copy in the common dir' '
	new_repo s1 &&
	set_ranges s1 web:22000-22009 &&
	git -C s1 worktree-ports allocate web -q >port &&
	cmp s1/$R s1/$COPY &&
	git -C s1 worktree-ports status >/dev/null &&
	cmp s1/$R s1/$COPY
'

test_expect_success 'git clean -fdx: the next command restores it, nothing lost, and says so once' '
	git -C s1 clean -q -fdx &&
	! test -e s1/$R &&
	git -C s1 worktree-ports status >out 2>err &&
	grep "^warning: the registry ${SQ}.*/s1/$R${SQ} was gone .*restored it, with its 1 allocation" err &&
	test_line_count = 1 err &&
	cmp s1/$R s1/$COPY &&
	git -C s1 worktree-ports allocate web -q >again &&
	test_cmp port again &&
	git -C s1 worktree-ports log --action restore >log &&
	test_line_count = 1 log &&
	git -C s1 worktree-ports status >out 2>err &&
	test_must_be_empty err
'

test_expect_success 'a hand rm, then the hook of git worktree add: restored, the new worktree gets a new port' '
	printf "[service \"web\"]\n" >s1/.worktree-ports.ini &&
	git -C s1 add .worktree-ports.ini &&
	git -C s1 commit -q -m ports &&
	git -C s1 worktree-ports install-hooks >/dev/null &&
	rm s1/$R &&
	git -C s1 worktree add -q ../s1-wt 2>err &&
	grep "restored it" err &&
	grep "^PORT_WEB=" s1-wt/.env >wt &&
	! grep "^PORT_WEB=$(cat port)$" wt &&
	test "$(json_get s1/$R "allocations.#")" = 2
'

test_expect_success 'init after the registry went restores it rather than starting over' '
	rm s1/$R &&
	git -C s1 worktree-ports init --no-hooks --no-sync >out 2>err &&
	grep "restored it, with its 2 allocations" err &&
	grep "^the registry exists already" out &&
	test "$(json_get s1/$R "allocations.#")" = 2
'

test_expect_success 'init --reset over a copy starts over' '
	rm s1/$R &&
	git -C s1 worktree-ports init --reset --no-hooks --no-sync >out 2>err &&
	! grep restored err &&
	test "$(json_get s1/$R "allocations.#")" = 0 &&
	cmp s1/$R s1/$COPY
'

test_expect_success 'a registry from before copies were kept gets one on the next command' '
	new_repo s2 &&
	rm -f s2/$COPY &&
	git -C s2 worktree-ports status >/dev/null &&
	cmp s2/$R s2/$COPY
'

test_expect_success 'a copy that does not load restores nothing' '
	new_repo s3 &&
	rm s3/$R &&
	echo "{" >s3/$COPY &&
	test_expect_code 7 git -C s3 worktree-ports status 2>err &&
	grep "^warning: .*copy.*not used to restore" err &&
	grep "^error: .*no registry" err
'

test_done
