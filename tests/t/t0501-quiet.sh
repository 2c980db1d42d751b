#!/bin/bash
test_description='quiet by construction: what changes nothing writes nothing'
. "$(dirname "$0")/../lib.sh"

# Ports 15000-15099. A file watcher (inotifywait) on the main worktree,
# as nodemon or vite would have, must see nothing from commands that
# change nothing, in the main worktree or in a linked one.

# watch DIR LOG: record every change under DIR but .git in LOG; its pid
# goes to LOG.pid once the watches are in place.
watch() {
	inotifywait -m -r -e modify,create,delete,move,attrib,close_write \
		--exclude '(^|/)\.git(/|$)' "$1" >"$2" 2>"$2.err" &
	echo $! >"$2.pid" &&
	i=0 &&
	while ! grep -q "Watches established" "$2.err"; do
		i=$((i + 1)) &&
		test $i -lt 400 || return 1
		sleep 0.05
	done
}

# settle DIR LOG: make a change of our own in DIR and wait until LOG has
# it; inotify keeps the order of events, so every earlier one is in LOG
# by then. The marker's events are taken out of LOG.
settle() {
	name=settle-$RANDOM &&
	: >"$1/$name" &&
	i=0 &&
	while ! grep -q "$name" "$2"; do
		i=$((i + 1)) &&
		test $i -lt 400 || return 1
		sleep 0.05
	done &&
	rm -f "$1/$name" &&
	i=0 &&
	while ! grep -q "DELETE $name" "$2"; do
		i=$((i + 1)) &&
		test $i -lt 400 || return 1
		sleep 0.05
	done &&
	grep -v "$name" "$2" >"$2.got" || :
}

test_expect_success INOTIFY 'setup: a project with two services, main and one linked worktree' '
	new_repo q1 &&
	set_ranges q1 web:15000-15009 db:15010-15019 &&
	printf "[service \"web\"]\nhealth = /health\n[service \"db\"]\nhealth = tcp\n" \
		>q1/.worktree-ports.ini &&
	git -C q1 add .worktree-ports.ini &&
	git -C q1 commit -q -m ports &&
	git -C q1 worktree-ports install-hooks >/dev/null &&
	git -C q1 worktree-ports sync >/dev/null &&
	git -C q1 worktree add -q ../q1-wt 2>err &&
	test -s q1-wt/.env &&
	git -C q1 worktree-ports allocate web -q >main.web &&
	git -C q1-wt worktree-ports allocate web -q >wt.web
'

# settle_health: run the health checks once, so that what they find is
# what the registry says (unknown becomes healthy or not_running).
settle_health() {
	{ git -C q1 worktree-ports status --health-check >/dev/null 2>&1 || :; } &&
	{ git -C q1-wt worktree-ports status --health-check >/dev/null 2>&1 || :; } &&
	{ git -C q1 worktree-ports status --all --health-check >/dev/null 2>&1 || :; }
}

test_expect_success INOTIFY 'nothing is written in the main worktree by commands that change nothing' '
	test_when_finished "kill \$(cat w.log.pid) 2>/dev/null" &&
	test_when_finished "stop_pid main.pid; stop_pid wt.pid" &&
	start_servers_in q1 main.pid ok:$(cat main.web) &&
	start_servers_in q1-wt wt.pid ok:$(cat wt.web) &&
	settle_health &&
	test "$(json_get q1/design/worktrees/ports.json allocations.0.health_status)" = healthy &&
	ls -li q1/design/worktrees/ports.json >before &&
	watch "$PWD/q1" w.log &&
	git -C q1 worktree-ports status >/dev/null &&
	git -C q1 worktree-ports status --all >/dev/null &&
	git -C q1 worktree-ports status --json >/dev/null &&
	{ git -C q1 worktree-ports status --health-check >/dev/null 2>&1 || :; } &&
	{ git -C q1 worktree-ports status --health-check >/dev/null 2>&1 || :; } &&
	{ git -C q1 worktree-ports status --all --health-check >/dev/null 2>&1 || :; } &&
	git -C q1 worktree-ports wait web --timeout 20 >/dev/null &&
	git -C q1 worktree-ports env >/dev/null &&
	git -C q1 worktree-ports check >/dev/null &&
	git -C q1 worktree-ports sync >/dev/null &&
	git -C q1 worktree-ports log >/dev/null &&
	git -C q1 worktree-ports who "$(cat main.web)" >/dev/null &&
	{ git -C q1-wt worktree-ports status --health-check >/dev/null 2>&1 || :; } &&
	git -C q1-wt worktree-ports wait web --timeout 20 >/dev/null &&
	git -C q1-wt worktree-ports sync >/dev/null &&
	git -C q1-wt worktree-ports env >/dev/null &&
	git -C q1-wt worktree-ports status --all >/dev/null &&
	# a branch switch that changes nothing: the hook runs sync
	git -C q1-wt checkout -q -b other 2>err &&
	git -C q1-wt checkout -q - 2>>err &&
	settle "$PWD/q1" w.log &&
	test_must_be_empty w.log.got &&
	ls -li q1/design/worktrees/ports.json >after &&
	test_cmp before after
'

test_expect_success INOTIFY 'one change of health replaces the registry once' '
	test_when_finished "kill \$(cat w2.log.pid) 2>/dev/null" &&
	test_when_finished "stop_pid main.pid" &&
	start_servers_in q1 main.pid ok:$(cat main.web) &&
	settle_health &&
	watch "$PWD/q1" w2.log &&
	stop_pid main.pid &&
	test_expect_code 9 git -C q1 worktree-ports status --health-check >out 2>&1 &&
	grep "not_running" out &&
	{ git -C q1 worktree-ports status --health-check >/dev/null 2>&1 || :; } &&
	settle "$PWD/q1" w2.log &&
	grep "MOVED_TO ports.json$" w2.log.got >moves &&
	test_line_count = 1 moves &&
	# nothing but the registry and its temporary copy
	! grep -v "ports\.json\(\.new\)\{0,1\}$" w2.log.got
'

test_expect_success INOTIFY 'the time of a check that changed nothing is shown, kept in the common dir' '
	{ git -C q1 worktree-ports status --health-check >/dev/null 2>&1 || :; } &&
	test -s q1/.git/worktree-ports/ports.json.checked &&
	git -C q1 worktree-ports status >out &&
	grep "not_running, [0-9]* s ago" out &&
	git -C q1 worktree-ports status --json >out.json &&
	python3 -c "
import json, sys
d = json.load(open(\"out.json\"))
a = [x for x in d[\"allocations\"] if x[\"service\"] == \"web\"][0]
assert a[\"health_checked_at\"], a
"
'

test_expect_success 'the lock and the log live in the common dir, not beside the registry' '
	new_repo q2 &&
	set_ranges q2 web:15020-15029 &&
	git -C q2 worktree-ports allocate web -q >/dev/null &&
	test -f q2/.git/worktree-ports/ports.json.lock &&
	test -s q2/.git/worktree-ports/ports.log &&
	ls q2/design/worktrees >files &&
	echo ports.json >expect &&
	test_cmp expect files &&
	! grep -q "ports.log\|ports.json.lock" q2/.git/info/exclude
'

test_expect_success 'a log an older version left beside the registry is moved, and read until then' '
	new_repo q3 &&
	set_ranges q3 web:15030-15039 api:15040-15049 &&
	git -C q3 worktree-ports allocate web -q >/dev/null &&
	mv q3/.git/worktree-ports/ports.log q3/design/worktrees/ports.log &&
	: >q3/design/worktrees/ports.json.lock &&
	git -C q3 worktree-ports log >out &&
	grep "allocate .*web" out &&
	git -C q3 worktree-ports allocate api -q >/dev/null &&
	! test -e q3/design/worktrees/ports.log &&
	! test -e q3/design/worktrees/ports.json.lock &&
	git -C q3 worktree-ports log >out &&
	grep "allocate .*web" out &&
	grep "allocate .*api" out
'

test_expect_success 'a registry placed outside the repository keeps its lock beside it' '
	new_repo q4 &&
	mkdir shared &&
	cp q4/design/worktrees/ports.json shared/team.json &&
	"$TEST_TOOL" set-ranges shared/team.json web:15050-15059 &&
	git -C q4 worktree-ports --registry "$PWD/shared/team.json" allocate web -q >/dev/null &&
	test -f shared/team.json.lock &&
	test -s shared/team.json.log
'

test_done
