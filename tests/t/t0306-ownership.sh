#!/bin/bash
test_description='ownership by a process own directory: tmux, IDE shells, nested and removed worktrees'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json

if ! command -v tmux >/dev/null; then
	say "tmux is missing: install the Debian package tmux"
	exit 1
fi

# own_repo REPO BASE: REPO with a range web BASE..BASE+9, a port for web
# in its main worktree (REPO.main) and in a linked worktree REPO-wt
# (REPO.port).
own_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" &&
	git -C "$1" worktree-ports allocate web -q >"$1.main" &&
	git -C "$1" worktree add -q "../$1-wt" &&
	git -C "$1-wt" worktree-ports allocate web -q >"$1.port"
}

# wait_file FILE: wait until FILE is written by a process that is not
# ours to wait for (a tmux pane's); fail after 20 s.
wait_file() {
	local i=0
	while ! test -s "$1"; do
		i=$((i + 1))
		if test $i -gt 400; then
			echo "$1 was not written in 20 s" >&2
			return 1
		fi
		sleep 0.05
	done
}

# kill_pidfile FILE: stop the process whose pid FILE holds, if any; for
# processes that are not children of this shell.
kill_pidfile() {
	if test -s "$1"; then
		kill "$(cat "$1")" 2>/dev/null
	fi
	return 0
}

# listen_cmd DIR PORT PIDFILE: a shell command that starts a listener
# whose own directory is DIR, in the background.
listen_cmd() {
	printf "(cd '%s' && exec '%s' listen 127.0.0.1 %s '%s') &" \
		"$1" "$TEST_TOOL" "$2" "$3"
}

TMUX_SOCK=$TRASH/tmux.sock
tmux_() {
	tmux -S "$TMUX_SOCK" -f /dev/null "$@"
}

test_expect_success 'tmux started in the main worktree: a server elsewhere is foreign to it' '
	test_when_finished "kill_pidfile $TRASH/o1.pid; tmux_ kill-server" &&
	own_repo o1 21000 &&
	port=$(cat o1.main) &&
	check_ports listener "$port" &&
	mkdir else1 &&
	tmux_ new-session -d -s o1 -c "$TRASH/o1" sh &&
	tmux_ send-keys -t o1 "$(listen_cmd "$TRASH/else1" "$port" "$TRASH/o1.pid")" Enter &&
	wait_file o1.pid &&
	pid=$(cat o1.pid) &&
	else=$(cd else1 && pwd -P) &&
	test_expect_code 9 git -C o1 worktree-ports check >out &&
	grep "^foreign_process: port $port of ${SQ}web${SQ} in worktree ${SQ}.main${SQ} is held by pid $pid (.*test-tool listen.*) in $else, outside every known worktree, started from a process in worktree ${SQ}.main${SQ} (pid [0-9]*, sh); fix: git worktree-ports repair --worktree .main$" out &&
	git -C o1 worktree-ports who "$port" >who &&
	grep "^    directory: $else$" who &&
	grep "^    worktree: none: outside every known worktree$" who &&
	grep "^    started from a process in worktree ${SQ}.main${SQ}" who &&
	grep "^verdict: a foreign process holds the port of " who &&
	git -C o1 worktree-ports repair --dry-run >plan &&
	grep "^would move ${SQ}web${SQ} of worktree ${SQ}.main${SQ} from $port to [0-9]*: " plan
'

test_expect_success 'a parent shell that cd-s into the worktree later changes nothing' '
	test_when_finished "kill_pidfile $TRASH/o2.pid; kill_pidfile $TRASH/o2.parent" &&
	own_repo o2 21010 &&
	port=$(cat o2.main) &&
	check_ports listener "$port" &&
	mkdir else2 &&
	(
		cd else2 &&
		bash -c "$(listen_cmd "$TRASH/else2" "$port" "$TRASH/o2.pid")
			cd \"\$1\" && echo \$\$ >\"\$2\" && wait" \
			parent "$TRASH/o2" "$TRASH/o2.parent" &
	) &&
	wait_file o2.pid &&
	wait_file o2.parent &&
	test "$(readlink /proc/$(cat o2.parent)/cwd)" = "$(cd o2 && pwd -P)" &&
	test_expect_code 9 git -C o2 worktree-ports check >out &&
	grep "^foreign_process: port $port of ${SQ}web${SQ} in worktree ${SQ}.main${SQ} is held by pid $(cat o2.pid) " out &&
	grep "started from a process in worktree ${SQ}.main${SQ} (pid $(cat o2.parent), bash " out &&
	git -C o2 worktree-ports who "$port" >who &&
	grep "^verdict: a foreign process holds the port of " who &&
	git -C o2 worktree-ports repair --dry-run >plan &&
	grep "^would move ${SQ}web${SQ} of worktree ${SQ}.main${SQ} from $port to " plan
'

test_expect_success 'control: a server in a worktree is its own, whoever started it' '
	test_when_finished "kill_pidfile $TRASH/o3.pid; tmux_ kill-server" &&
	own_repo o3 21020 &&
	port=$(cat o3.port) &&
	check_ports listener "$port" &&
	tmux_ new-session -d -s o3 -c "$TRASH/o3" sh &&
	tmux_ send-keys -t o3 "$(listen_cmd "$TRASH/o3-wt" "$port" "$TRASH/o3.pid")" Enter &&
	wait_file o3.pid &&
	git -C o3 worktree-ports check >out &&
	echo "no conflicts" >expect &&
	test_cmp expect out &&
	git -C o3 worktree-ports who "$port" >who &&
	grep "^    worktree: ${SQ}o3-wt${SQ}" who &&
	grep "^    started from a process in worktree ${SQ}.main${SQ}" who &&
	grep "^verdict: the allocation${SQ}s own process (" who &&
	git -C o3 worktree-ports repair --dry-run --all >plan &&
	echo "nothing to repair" >expect &&
	test_cmp expect plan
'

test_expect_success 'a worktree nested in the main one owns its servers' '
	test_when_finished "stop_pid $TRASH/o4.pid; stop_pid $TRASH/o4s.pid" &&
	new_repo o4 &&
	set_ranges o4 "web:21030-21039" &&
	git -C o4 worktree-ports allocate web -q >o4.main &&
	git -C o4 worktree add -q .worktrees/feat &&
	git -C o4/.worktrees/feat worktree-ports allocate web -q >o4.feat &&
	(cd o4/.worktrees/feat && start_listener 127.0.0.1 "$(cat ../../../o4.feat)" "$TRASH/o4.pid") &&
	git -C o4 worktree-ports check >out &&
	echo "no conflicts" >expect &&
	test_cmp expect out &&
	git -C o4 worktree-ports who "$(cat o4.feat)" >who &&
	grep "^    worktree: ${SQ}feat${SQ}" who &&
	grep "^verdict: the allocation${SQ}s own process (" who &&
	# a stranger on the main worktree port, from inside feat
	(cd o4/.worktrees/feat && start_listener 127.0.0.1 "$(cat ../../../o4.main)" "$TRASH/o4s.pid") &&
	test_expect_code 9 git -C o4 worktree-ports check >out &&
	grep "^foreign_process: port $(cat o4.main) of ${SQ}web${SQ} in worktree ${SQ}.main${SQ} is held by pid $(cat o4s.pid) (.*) in $(cd o4/.worktrees/feat && pwd -P), in worktree ${SQ}feat${SQ}; fix: " out &&
	test_line_count = 2 out
'

test_expect_success 'a worktree removed while its server runs leaves an orphan' '
	test_when_finished "stop_pid $TRASH/o5.pid" &&
	own_repo o5 21040 &&
	port=$(cat o5.port) &&
	(cd o5-wt && start_listener 127.0.0.1 "$port" "$TRASH/o5.pid") &&
	dir=$(cd o5-wt && pwd -P) &&
	git -C o5 worktree remove --force ../o5-wt &&
	test_expect_code 9 git -C o5 worktree-ports check >out 2>err &&
	echo "note: released port $port (${SQ}web${SQ}) of removed worktree ${SQ}o5-wt${SQ}" >expect &&
	test_cmp expect err &&
	test_line_count = 2 out &&
	grep "^orphan_process: port $port of range ${SQ}web${SQ} is held by pid $(cat o5.pid) (.*test-tool listen .*) in $dir (deleted), an orphan of removed worktree ${SQ}o5-wt${SQ}; fix: kill $(cat o5.pid)$" out &&
	grep "^1 conflict$" out &&
	# the next check no longer knows the worktree, but still the orphan
	test_expect_code 9 git -C o5 worktree-ports check --json >out &&
	json_get out conflicts.0.kind >kind &&
	echo orphan_process >expect &&
	test_cmp expect kind &&
	json_get out conflicts.0.fix >fix &&
	echo "kill $(cat o5.pid)" >expect &&
	test_cmp expect fix &&
	# the fix it names clears it
	stop_pid "$TRASH/o5.pid" &&
	git -C o5 worktree-ports check >out &&
	echo "no conflicts" >expect &&
	test_cmp expect out
'

test_expect_success 'an orphan on an allocated port: check says kill, repair does not move' '
	test_when_finished "stop_pid $TRASH/o6.pid" &&
	own_repo o6 21050 &&
	port=$(cat o6.port) &&
	(cd o6-wt && start_listener 127.0.0.1 "$port" "$TRASH/o6.pid") &&
	git -C o6 worktree remove --force ../o6-wt &&
	test_expect_code 9 git -C o6 worktree-ports check >/dev/null 2>&1 &&
	# its port handed to the main worktree meanwhile (by hand here)
	json_edit o6/$R append allocations "{
		\"port\": $port, \"worktree\": \".main\", \"service\": \"web2\",
		\"range\": \"web\", \"allocated_at\": \"2026-11-21T10:00:00Z\",
		\"allocated_by\": \"me@host\", \"description\": null,
		\"process_id\": null, \"health_status\": \"unknown\",
		\"path\": \"$TRASH/o6\"}" &&
	test_expect_code 9 git -C o6 worktree-ports check >out &&
	grep "^orphan_process: port $port of ${SQ}web2${SQ} in worktree ${SQ}.main${SQ} is held by pid $(cat o6.pid) (.*) in .* (deleted), an orphan (its directory was deleted); fix: kill $(cat o6.pid)$" out &&
	cp o6/$R expect.reg &&
	git -C o6 worktree-ports repair >out 2>err &&
	grep "^note: ${SQ}web2${SQ} of worktree ${SQ}.main${SQ} keeps port $port, held by pid $(cat o6.pid) .*, an orphan: stop it with ${SQ}kill $(cat o6.pid)${SQ}$" err &&
	echo "nothing to repair" >expect &&
	test_cmp expect out &&
	test_cmp expect.reg o6/$R
'

test_expect_success 'a listener in a range that no allocation holds is a note, not a conflict' '
	test_when_finished "stop_pid $TRASH/o7.pid" &&
	own_repo o7 21060 &&
	mkdir else7 &&
	(cd else7 && start_listener 127.0.0.1 21069 "$TRASH/o7.pid") &&
	git -C o7 worktree-ports check >out 2>err &&
	echo "no conflicts" >expect &&
	test_cmp expect out &&
	grep "^note: port 21069 of range ${SQ}web${SQ} is held by pid $(cat o7.pid) (.*) in $(cd else7 && pwd -P), outside every known worktree, and no allocation holds it$" err &&
	git -C o7 worktree-ports check --json >out 2>/dev/null &&
	echo 21069 >expect &&
	json_get out unallocated_listeners.0.port >actual &&
	test_cmp expect actual &&
	echo "$(cat o7.pid)" >expect &&
	json_get out unallocated_listeners.0.pid >actual &&
	test_cmp expect actual
'

test_done
