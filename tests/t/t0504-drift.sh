#!/bin/bash
test_description='no drift: every change of the registry reaches the .env files'
. "$(dirname "$0")/../lib.sh"
. "$SRC_DIR/tests/lib-crash.sh"

# Ports 21800-21899.

# drift_repo NAME BASE: web BASE..+9 and api BASE+10..+19 declared, one
# linked worktree NAME-wt set up by the hook.
drift_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" \
		"database:$(($2 + 20))-$(($2 + 29))" &&
	printf "[service \"web\"]\n[service \"api\"]\n" >"$1/.worktree-ports.ini" &&
	git -C "$1" add .worktree-ports.ini &&
	git -C "$1" commit -q -m ports &&
	git -C "$1" worktree-ports install-hooks >/dev/null &&
	git -C "$1" worktree add -q "../$1-wt" 2>/dev/null &&
	grep "^PORT_WEB=" "$1-wt/.env"
}

test_expect_success 'release rewrites the .env: the port is gone from it, and it says so' '
	drift_repo d1 21800 &&
	git -C d1-wt worktree-ports release web >out 2>err &&
	grep "^note: rewrote .env of worktree ${SQ}d1-wt${SQ}" err &&
	! grep "^PORT_WEB=" d1-wt/.env &&
	grep "^# PORT_WEB is not set" d1-wt/.env &&
	grep "^PORT_API=" d1-wt/.env &&
	git -C d1 worktree-ports check >out &&
	grep "no conflicts" out
'

test_expect_success 'allocate --port rewrites the .env with the port asked for' '
	git -C d1-wt worktree-ports allocate web --port 21805 -q >out 2>err &&
	echo 21805 >expect &&
	test_cmp expect out &&
	grep "^PORT_WEB=21805$" d1-wt/.env &&
	! grep "not set" d1-wt/.env
'

test_expect_success 'check reports a .env that disagrees with the registry, and the fix heals it' '
	sed "s/^PORT_API=.*/PORT_API=1/" d1-wt/.env >edited &&
	cp edited d1-wt/.env &&
	test_expect_code 9 git -C d1 worktree-ports check >out &&
	grep "^stale_env: worktree ${SQ}d1-wt${SQ}: .env holds other ports than the registry; fix: git -C .*d1-wt worktree-ports sync$" out &&
	test_expect_code 9 git -C d1 worktree-ports --json check >out.json &&
	grep "\"kind\": *\"stale_env\"" out.json &&
	git -C d1-wt worktree-ports sync >/dev/null &&
	git -C d1 worktree-ports check >out &&
	grep "no conflicts" out
'

test_expect_success 'a repair killed after its registry write: the rerun heals the .env' '
	drift_repo d2 21830 &&
	port=$(git -C d2-wt worktree-ports allocate web -q) &&
	test_when_finished "stop_pid $TRASH/d2.pid" &&
	start_listener 127.0.0.1 "$port" "$TRASH/d2.pid" &&
	crash_have_strace &&
	# killed on entering the rename of the .env, after the registry one
	{
		strace -f -qq -P "$TRASH/d2-wt/.env.new" \
			-e trace=rename -e inject=rename:signal=KILL:when=1 \
			git-worktree-ports -C d2-wt repair >out 2>&1
		echo $? >rc
	} &&
	grep "killed by SIGKILL" out &&
	moved=$(git -C d2-wt worktree-ports allocate web -q) &&
	test "$moved" != "$port" &&
	grep "^PORT_WEB=$port$" d2-wt/.env &&
	test_expect_code 9 git -C d2 worktree-ports check >out &&
	grep "^stale_env: worktree ${SQ}d2-wt${SQ}" out &&
	git -C d2-wt worktree-ports repair >out 2>err &&
	grep "nothing to repair" out &&
	grep "^note: rewrote .env of worktree ${SQ}d2-wt${SQ}" err &&
	grep "^PORT_WEB=$moved$" d2-wt/.env &&
	! grep "^stale_env" out
'

test_expect_success 'allocate takes a new port from the range .worktree-ports.ini gives' '
	drift_repo d3 21860 &&
	printf "[service \"web\"]\n[service \"postgres\"]\nrange = database\n" \
		>d3-wt/.worktree-ports.ini &&
	port=$(git -C d3-wt worktree-ports allocate postgres -q) &&
	test "$port" -ge 21880 && test "$port" -le 21889 &&
	grep "^PORT_POSTGRES=$port$" d3-wt/.env
'

test_expect_success 'allocate --range names the range' '
	port=$(git -C d3-wt worktree-ports allocate cache --range api -q) &&
	test "$port" -ge 21870 && test "$port" -le 21879 &&
	test_expect_code 129 git -C d3-wt worktree-ports allocate x --range "a b" 2>err &&
	grep "invalid range name" err
'

test_done
