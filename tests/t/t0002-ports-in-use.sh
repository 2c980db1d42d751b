#!/bin/bash
test_description='ports in use on the system or by another worktree are skipped'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json

# hold_and_allocate ADDR REPO START: in a two-port range START..START+1,
# hold START (the main worktree's preferred port) with a listener on ADDR
# and allocate 'web' in the main worktree of REPO, into the file 'port'.
# The caller stops the listener (pid in REPO.pid) with test_when_finished.
hold_and_allocate() {
	new_repo "$2" &&
	set_ranges "$2" "web:$3-$(($3 + 1))" &&
	start_listener "$1" "$3" "$2.pid" &&
	git -C "$2" worktree-ports allocate web -q >port
}

test_expect_success 'a port held on 127.0.0.1 is skipped' '
	test_when_finished "stop_pid r1.pid" &&
	hold_and_allocate 127.0.0.1 r1 11300 &&
	echo 11301 >expect &&
	test_cmp expect port
'

test_expect_success 'a port held on 0.0.0.0 is skipped' '
	test_when_finished "stop_pid r2.pid" &&
	hold_and_allocate 0.0.0.0 r2 11302 &&
	echo 11303 >expect &&
	test_cmp expect port
'

test_expect_success IPV6 'a port held on ::1 is skipped' '
	test_when_finished "stop_pid r3.pid" &&
	hold_and_allocate ::1 r3 11304 &&
	echo 11305 >expect &&
	test_cmp expect port
'

test_expect_success IPV6 'a port held on :: is skipped' '
	test_when_finished "stop_pid r4.pid" &&
	hold_and_allocate :: r4 11306 &&
	echo 11307 >expect &&
	test_cmp expect port
'

test_expect_success 'a one-port range whose port is held is full (exit 5)' '
	test_when_finished "stop_pid l5.pid" &&
	new_repo r5 &&
	set_ranges r5 "web:11308-11308" &&
	start_listener 127.0.0.1 11308 l5.pid &&
	cp r5/$R expect &&
	test_expect_code 5 git -C r5 worktree-ports allocate web 2>err &&
	grep "^error: " err &&
	test_cmp expect r5/$R
'

test_expect_success 'a held port is taken again once it is free' '
	test_when_finished "stop_pid l6.pid" &&
	new_repo r6 &&
	set_ranges r6 "web:11310-11319" &&
	start_listener 127.0.0.1 11310 l6.pid &&
	git -C r6 worktree-ports allocate web -q >port &&
	echo 11311 >expect &&
	test_cmp expect port &&
	git -C r6 worktree-ports release web &&
	stop_pid l6.pid &&
	git -C r6 worktree-ports allocate web -q >port &&
	echo 11310 >expect &&
	test_cmp expect port
'

test_expect_success '--port of a port allocated elsewhere exits 6 naming it' '
	new_repo r7 &&
	set_ranges r7 "web:11320-11329" &&
	git -C r7 worktree add -q ../r7-wt &&
	git -C r7-wt worktree-ports allocate web -q >port &&
	cp r7/$R expect &&
	test_expect_code 6 git -C r7 worktree-ports allocate web --port "$(cat port)" 2>err &&
	grep "^error: .*$(cat port)" err &&
	grep "r7-wt" err &&
	test_cmp expect r7/$R
'

test_expect_success '--port of a port held by a listener exits 6' '
	test_when_finished "stop_pid l8.pid" &&
	new_repo r8 &&
	set_ranges r8 "web:11330-11339" &&
	start_listener 127.0.0.1 11335 l8.pid &&
	cp r8/$R expect &&
	test_expect_code 6 git -C r8 worktree-ports allocate web --port 11335 2>err &&
	grep "^error: port 11335 is in use on this system: held by pid $(cat l8.pid) (.*test-tool listen 127.0.0.1 11335 .*) in $(pwd -P), outside every known worktree$" err &&
	grep "^hint: see ${SQ}git worktree-ports who 11335${SQ}" err &&
	test_cmp expect r8/$R
'

test_expect_success '--port held by a server of another worktree names that worktree' '
	test_when_finished "stop_pid $PWD/l8b.pid" &&
	new_repo r8b &&
	set_ranges r8b "web:11340-11349" &&
	git -C r8b worktree add -q ../r8b-wt &&
	(cd r8b-wt && start_listener 127.0.0.1 11345 "$TRASH/l8b.pid") &&
	test_expect_code 6 git -C r8b worktree-ports allocate web --port 11345 2>err &&
	grep "^error: port 11345 is in use on this system: held by pid $(cat l8b.pid) (.*) in worktree ${SQ}r8b-wt${SQ}$" err
'

test_expect_success '--port outside 1024..65535 or not a number exits 129' '
	new_repo r9 &&
	set_ranges r9 "web:11340-11349" &&
	cp r9/$R expect &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port 80 &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port 1023 &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port 0 &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port 65536 &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port 99999999999 &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port -11341 &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port abc &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port 41341x &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port "" &&
	test_expect_code 129 git -C r9 worktree-ports allocate web --port &&
	test_cmp expect r9/$R
'

test_expect_success '--port of a free port allocates exactly that port' '
	new_repo r10 &&
	set_ranges r10 "web:11350-11359" &&
	git -C r10 worktree-ports allocate web --port 11357 -q >port &&
	echo 11357 >expect &&
	test_cmp expect port &&
	json_get r10/$R "allocations[worktree=.main,service=web].port" >actual &&
	test_cmp expect actual
'

test_expect_success 'a port browsers refuse is never handed out' '
	new_repo r11 &&
	set_ranges r11 "web:10080-10081" &&
	git -C r11 worktree-ports allocate web -q >port &&
	echo 10081 >expect &&
	test_cmp expect port &&
	git -C r11 worktree-ports release web &&
	cp r11/$R expect &&
	test_expect_code 6 git -C r11 worktree-ports allocate web --port 10080 2>err &&
	grep "^error: .*10080" err &&
	test_cmp expect r11/$R
'

test_expect_success '--port outside the range of the service exits 6' '
	new_repo r12 &&
	set_ranges r12 "web:11360-11369" "api:11370-11379" &&
	cp r12/$R expect &&
	test_expect_code 6 git -C r12 worktree-ports allocate web --port 11375 2>err &&
	grep "^error: .*11375" err &&
	test_cmp expect r12/$R
'

test_expect_success '--port of a reserved port exits 6' '
	new_repo r13 &&
	cat >r13/$R <<-\EOF &&
	{
	  "ranges": {"web": {"start": 11380, "end": 11389}},
	  "reserved": [{"start": 11384, "end": 11385, "description": "held"}],
	  "allocations": [],
	  "metadata": {"version": "1.0.0", "total_allocations": 0}
	}
	EOF
	cp r13/$R expect &&
	test_expect_code 6 git -C r13 worktree-ports allocate web --port 11385 2>err &&
	grep "^error: .*11385" err &&
	test_cmp expect r13/$R
'

test_done
