#!/bin/bash
test_description='who: what listens on a port, and whose allocation it is'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json

# serve DIR PORT PIDFILE: a listener on 127.0.0.1:PORT running in DIR.
# PIDFILE must be absolute; stop it with stop_pid PIDFILE.
serve() {
	(cd "$1" && start_listener 127.0.0.1 "$2" "$3")
}

# who_repo REPO BASE: REPO with a range web BASE..BASE+9, a linked
# worktree REPO-wt holding a port for web (in the file REPO.port), and a
# directory REPO-wt/sub.
who_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" &&
	git -C "$1" worktree add -q "../$1-wt" &&
	mkdir "$1-wt/sub" &&
	git -C "$1-wt" worktree-ports allocate web -q >"$1.port"
}

test_expect_success 'who names the worktree a server runs inside' '
	test_when_finished "stop_pid $PWD/r1.pid" &&
	who_repo r1 23100 &&
	port=$(cat r1.port) &&
	serve r1-wt/sub "$port" "$PWD/r1.pid" &&
	git -C r1 worktree-ports who "$port" >out &&
	grep "^port $port is allocated to ${SQ}web${SQ} in worktree ${SQ}r1-wt${SQ}" out &&
	grep "^listening on 127.0.0.1 (IPv4)" out &&
	grep "pid $(cat r1.pid), user " out &&
	grep "command: .*test-tool listen 127.0.0.1 $port" out &&
	grep "directory: $(cd r1-wt/sub && pwd -P)$" out &&
	grep "runs inside worktree ${SQ}r1-wt${SQ}" out &&
	! grep outside out
'

test_expect_success 'who --json gives the listener, process and allocation' '
	test_when_finished "stop_pid $PWD/r2.pid" &&
	who_repo r2 23110 &&
	port=$(cat r2.port) &&
	serve r2-wt "$port" "$PWD/r2.pid" &&
	git -C r2 worktree-ports who "$port" --json >out &&
	cat >expect <<-EOF &&
	$port
	$(cd r2 && pwd -P)/$R
	r2-wt
	web
	null
	1
	ipv4
	127.0.0.1
	$(cat r2.pid)
	$(cd r2-wt && pwd -P)
	true
	r2-wt
	EOF
	for k in port registry allocations.0.worktree allocations.0.service \
		other_registry listeners.# listeners.0.family \
		listeners.0.address listeners.0.processes.0.pid \
		listeners.0.processes.0.cwd listeners.0.processes.0.inside \
		listeners.0.processes.0.worktree
	do
		json_get out "$k" || echo "no $k"
	done >actual &&
	test_cmp expect actual &&
	for k in ppid uid user command exe start_time
	do
		json_get out "listeners.0.processes.0.$k" >/dev/null || return 1
	done
'

test_expect_success 'who on a free port says nothing listens, exit 0' '
	who_repo r3 23120 &&
	port=$(cat r3.port) &&
	git -C r3 worktree-ports who "$port" >out &&
	grep "^port $port is allocated to ${SQ}web${SQ} in worktree ${SQ}r3-wt${SQ}" out &&
	grep "^nothing listens on port $port$" out &&
	git -C r3 worktree-ports who "$port" --json >out &&
	echo 0 >expect &&
	json_get out listeners.# >actual &&
	test_cmp expect actual &&
	echo "$port" >expect &&
	json_get out port >actual &&
	test_cmp expect actual
'

test_expect_success 'who flags a server running outside the worktree' '
	test_when_finished "stop_pid $PWD/r4.pid" &&
	who_repo r4 23130 &&
	port=$(cat r4.port) &&
	mkdir elsewhere &&
	serve elsewhere "$port" "$PWD/r4.pid" &&
	git -C r4-wt worktree-ports who "$port" >out &&
	grep "runs outside worktree ${SQ}r4-wt${SQ} ($(cd r4-wt && pwd -P))" out &&
	! grep "runs inside" out &&
	git -C r4-wt worktree-ports who "$port" --json >out &&
	echo false >expect &&
	json_get out listeners.0.processes.0.inside >actual &&
	test_cmp expect actual
'

test_expect_success 'a server started from the worktree but running elsewhere is not its own' '
	test_when_finished "stop_pid $PWD/r5.pid" &&
	who_repo r5 23140 &&
	port=$(cat r5.port) &&
	mkdir -p away &&
	(
		cd r5-wt &&
		{
			(cd ../away && exec "$TEST_TOOL" listen 127.0.0.1 "$port" "$TRASH/r5.pid")
			: the parent waits in r5-wt
		} &
	) &&
	i=0 &&
	while ! test -s r5.pid && test $i -lt 200
	do
		i=$((i + 1)) && sleep 0.05
	done &&
	git -C r5 worktree-ports who "$port" >out &&
	grep "directory: $(cd away && pwd -P)$" out &&
	! grep "runs inside" out &&
	grep "runs outside worktree ${SQ}r5-wt${SQ}" out
'

test_expect_success 'who on a port outside every range shows its listener' '
	test_when_finished "stop_pid $PWD/r6.pid" &&
	who_repo r6 23150 &&
	serve . 23199 "$PWD/r6.pid" &&
	git -C r6 worktree-ports who 23199 >out &&
	grep "^port 23199 is not allocated in this registry$" out &&
	grep "pid $(cat r6.pid)" out &&
	! grep "runs " out &&
	git -C r6 worktree-ports who 23199 --json >out &&
	echo null >expect &&
	json_get out listeners.0.processes.0.inside >actual &&
	test_cmp expect actual
'

test_expect_success 'who works outside a repository: only the listeners' '
	test_when_finished "stop_pid $PWD/l7.pid" &&
	mkdir norepo &&
	serve . 23160 "$PWD/l7.pid" &&
	GIT_CEILING_DIRECTORIES=$TRASH git -C norepo worktree-ports who 23160 >out 2>err &&
	grep "pid $(cat l7.pid)" out &&
	! grep "is allocated to" out &&
	grep "not in a git repository" err &&
	GIT_CEILING_DIRECTORIES=$TRASH git -C norepo worktree-ports who 23160 --json >out &&
	echo null >expect &&
	json_get out registry >actual &&
	test_cmp expect actual
'

test_expect_success 'who outside a repository reads a registry it is given' '
	who_repo r8 23170 &&
	mkdir -p norepo8 &&
	GIT_CEILING_DIRECTORIES=$TRASH git -C norepo8 worktree-ports \
		--registry "$TRASH/r8/$R" who "$(cat r8.port)" >out &&
	grep "allocated to ${SQ}web${SQ} in worktree ${SQ}r8-wt${SQ}" out
'

test_expect_success 'who names another registry that allocates the port' '
	who_repo r9 23180 &&
	new_repo r9b &&
	set_ranges r9b "web:23190-23195" &&
	git -C r9b worktree-ports allocate web -q >r9b.port &&
	git -C r9 worktree-ports who "$(cat r9b.port)" >out &&
	grep "is not allocated in this registry" out &&
	grep "allocated in another registry on this host: $(cd r9b && pwd -P)/$R" out
'

test_expect_success 'who -q prints only the pid' '
	test_when_finished "stop_pid $PWD/r10.pid" &&
	new_repo r10 &&
	serve . 23197 "$PWD/r10.pid" &&
	git -C r10 worktree-ports who 23197 -q >out &&
	cat r10.pid >expect &&
	test_cmp expect out
'

test_expect_success 'an allocation without a path finds its worktree through git' '
	test_when_finished "stop_pid $PWD/r11.pid" &&
	who_repo r11 23200 &&
	port=$(cat r11.port) &&
	test "$(json_get r11/$R allocations.#)" = 1 &&
	json_edit r11/$R delete allocations.0.path &&
	serve r11-wt "$port" "$PWD/r11.pid" &&
	git -C r11 worktree-ports who "$port" >out &&
	grep "runs inside worktree ${SQ}r11-wt${SQ}" out
'

test_expect_success 'who refuses a port that is not one (exit 129)' '
	new_repo r12 &&
	test_expect_code 129 git -C r12 worktree-ports who 0 &&
	test_expect_code 129 git -C r12 worktree-ports who 65536 &&
	test_expect_code 129 git -C r12 worktree-ports who abc 2>err &&
	grep "invalid port ${SQ}abc${SQ}" err &&
	test_expect_code 129 git -C r12 worktree-ports who -- -1 &&
	test_expect_code 129 git -C r12 worktree-ports who "" &&
	test_expect_code 129 git -C r12 worktree-ports who &&
	test_expect_code 129 git -C r12 worktree-ports who 80 81
'

test_expect_success 'who answers about a port below 1024 too' '
	new_repo r13 &&
	git -C r13 worktree-ports who 1 >out &&
	grep "^nothing listens on port 1$" out
'

test_expect_success 'who changes no file' '
	test_when_finished "stop_pid $PWD/r14.pid" &&
	who_repo r14 23210 &&
	port=$(cat r14.port) &&
	mkdir -p else14 &&
	serve else14 "$port" "$PWD/r14.pid" &&
	cp r14/$R expect &&
	cp r14/.git/worktree-ports/ports.log expect.log &&
	git -C r14 worktree-ports who "$port" >out &&
	test_cmp expect r14/$R &&
	test_cmp expect.log r14/.git/worktree-ports/ports.log
'

test_expect_success 'who names the worktree a stranger runs in, and the verdict' '
	test_when_finished "stop_pid $PWD/r15.pid" &&
	who_repo r15 23220 &&
	git -C r15 worktree add -q ../r15-two &&
	port=$(cat r15.port) &&
	serve r15-two "$port" "$PWD/r15.pid" &&
	git -C r15 worktree-ports who "$port" >out &&
	grep "^    worktree: ${SQ}r15-two${SQ} (this registry)$" out &&
	grep "^verdict: a foreign process holds the port of ${SQ}web${SQ} of worktree ${SQ}r15-wt${SQ}" out &&
	git -C r15 worktree-ports who "$port" --json >out &&
	for k in verdict listeners.0.processes.0.worktree \
		listeners.0.processes.0.worktree_registry \
		listeners.0.processes.0.orphan
	do
		json_get out $k
	done >actual &&
	cat >expect <<-EOF &&
	foreign
	r15-two
	$(cd r15 && pwd -P)/$R
	false
	EOF
	test_cmp expect actual
'

test_expect_success 'who: the own process, on 127.0.0.1 and ::1 alike' '
	test_when_finished "stop_pid $PWD/r16.pid; stop_pid $PWD/r16b.pid" &&
	who_repo r16 23230 &&
	port=$(cat r16.port) &&
	serve r16-wt "$port" "$PWD/r16.pid" &&
	(cd r16-wt/sub && start_listener ::1 "$port" "$TRASH/r16b.pid") &&
	git -C r16 worktree-ports who "$port" >out &&
	grep "^listening on 127.0.0.1 (IPv4)$" out &&
	grep "^listening on ::1 (IPv6)$" out &&
	test "$(grep -c "^    worktree: ${SQ}r16-wt${SQ} (this registry)$" out)" = 2 &&
	grep "^verdict: the allocation${SQ}s own process (${SQ}web${SQ} of worktree ${SQ}r16-wt${SQ})$" out
'

test_expect_success 'who names a worktree of another registry on the host' '
	test_when_finished "stop_pid $PWD/r17.pid" &&
	who_repo r17 23240 &&
	who_repo r17b 23250 &&
	port=$(cat r17.port) &&
	serve r17b-wt "$port" "$PWD/r17.pid" &&
	git -C r17 worktree-ports who "$port" >out &&
	grep "^    worktree: ${SQ}r17b-wt${SQ} of the registry $(cd r17b && pwd -P)/$R$" out &&
	grep "^verdict: a foreign process" out &&
	git -C r17b worktree-ports who "$(cat r17b.port)" >out &&
	grep "^nothing listens" out
'

test_expect_success 'who calls a server of a removed worktree an orphan' '
	test_when_finished "stop_pid $PWD/r18.pid" &&
	who_repo r18 23260 &&
	port=$(cat r18.port) &&
	serve r18-wt/sub "$port" "$PWD/r18.pid" &&
	git -C r18 worktree remove --force ../r18-wt &&
	git -C r18 worktree-ports who "$port" >out &&
	grep "^    directory: $(pwd -P)/r18-wt/sub (deleted)$" out &&
	grep "^    worktree: none: its directory was deleted" out &&
	grep "^verdict: an orphan of a removed worktree; stop it with ${SQ}kill $(cat r18.pid)${SQ}$" out &&
	git -C r18 worktree-ports who "$port" --json >out &&
	echo orphan >expect &&
	json_get out verdict >actual &&
	test_cmp expect actual &&
	echo true >expect &&
	json_get out listeners.0.processes.0.cwd_deleted >actual &&
	test_cmp expect actual
'

test_expect_success 'who on a listener that nobody allocates says so' '
	test_when_finished "stop_pid $PWD/r19.pid" &&
	new_repo r19 &&
	serve . 23270 "$PWD/r19.pid" &&
	git -C r19 worktree-ports who 23270 >out &&
	grep "^verdict: unallocated: no registry on this host allocates port 23270$" out
'

test_done
