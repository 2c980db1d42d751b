#!/bin/bash
test_description='check: every conflict, each with the command that fixes it'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json

serve() {
	(cd "$1" && start_listener 127.0.0.1 "$2" "$3")
}

# add_alloc REPO PORT WORKTREE SERVICE PATH: add an allocation to the
# registry of REPO by hand.
add_alloc() {
	json_edit "$1/$R" append allocations "{
		\"port\": $2, \"worktree\": \"$3\", \"service\": \"$4\",
		\"allocated_at\": \"2026-11-21T10:00:00Z\",
		\"allocated_by\": \"me@host\", \"description\": null,
		\"process_id\": null, \"health_status\": \"unknown\",
		\"path\": \"$5\"}"
}

# check_repo REPO BASE: REPO with ranges web BASE..BASE+9 and api
# BASE+10..BASE+19, a linked worktree REPO-wt, and ports for web in both.
check_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" &&
	git -C "$1" worktree add -q "../$1-wt" &&
	git -C "$1" worktree-ports allocate web -q >"$1.main" &&
	git -C "$1-wt" worktree-ports allocate web -q >"$1.port"
}

# kinds FILE: the kinds of the conflicts of check --json output, sorted.
kinds() {
	json_lines "$1" conflicts kind | LC_ALL=C sort -u
}

test_expect_success 'a clean registry has no conflicts (exit 0)' '
	check_repo r1 23300 &&
	git -C r1 worktree-ports check >out &&
	echo "no conflicts" >expect &&
	test_cmp expect out &&
	git -C r1 worktree-ports check --json >out &&
	echo 0 >expect &&
	json_get out conflicts.# >actual &&
	test_cmp expect actual
'

test_expect_success 'a port allocated twice is a conflict (exit 9)' '
	check_repo r2 23320 &&
	git -C r2 worktree-ports allocate api -q >r2.api &&
	add_alloc r2 "$(cat r2.api)" r2-wt api "$TRASH/r2-wt" &&
	test_expect_code 9 git -C r2 worktree-ports check >out &&
	grep "^duplicate: port $(cat r2.api) of ${SQ}api${SQ} in worktree ${SQ}r2-wt${SQ} is also allocated to ${SQ}api${SQ} of worktree ${SQ}.main${SQ}; fix: git worktree-ports repair --worktree r2-wt$" out &&
	grep "^1 conflict$" out &&
	test_expect_code 9 git -C r2 worktree-ports check --json >out &&
	cat >expect <<-EOF &&
	duplicate
	$(cat r2.api)
	r2-wt
	api
	git worktree-ports repair --worktree r2-wt
	EOF
	for k in kind port worktree service fix
	do
		json_get out "conflicts.0.$k"
	done >actual &&
	test_cmp expect actual
'

test_expect_success 'an allocation outside its range is a conflict' '
	check_repo r3 23340 &&
	json_edit r3/$R set ranges.web.end 23340 &&
	test_expect_code 9 git -C r3 worktree-ports check >out &&
	grep "^outside_range: port $(cat r3.port) of ${SQ}web${SQ} in worktree ${SQ}r3-wt${SQ} is outside range ${SQ}web${SQ} (23340-23340); fix: git worktree-ports repair --worktree r3-wt$" out
'

test_expect_success 'an allocation on a reserved port is a conflict' '
	check_repo r4 23360 &&
	json_edit r4/$R set reserved "[{\"start\": $(cat r4.port), \"end\": $(cat r4.port), \"description\": \"held\"}]" &&
	test_expect_code 9 git -C r4 worktree-ports check --json >out &&
	echo reserved >expect &&
	kinds out >actual &&
	test_cmp expect actual &&
	json_get out "conflicts.0.detail" >detail &&
	grep "is reserved ($(cat r4.port)-$(cat r4.port): held)" detail
'

test_expect_success 'an allocation on a port browsers refuse is a conflict' '
	new_repo r5 &&
	set_ranges r5 "web:10075-10085" &&
	add_alloc r5 10080 .main web "$TRASH/r5" &&
	test_expect_code 9 git -C r5 worktree-ports check >out &&
	grep "^bad_port: port 10080 of ${SQ}web${SQ} in worktree ${SQ}.main${SQ} is a port browsers refuse to connect to; fix: git worktree-ports repair --worktree .main$" out
'

test_expect_success 'check releases the ports of a removed worktree, with a note' '
	check_repo r6 23380 &&
	git -C r6 worktree remove ../r6-wt &&
	git -C r6 worktree-ports check >out 2>err &&
	echo "no conflicts" >expect &&
	test_cmp expect out &&
	echo "note: released port $(cat r6.port) (${SQ}web${SQ}) of removed worktree ${SQ}r6-wt${SQ}" >expect &&
	test_cmp expect err &&
	! grep "\"r6-wt\"" r6/$R &&
	grep "\"action\":\"auto-release\".*\"worktree\":\"r6-wt\"" r6/.git/worktree-ports/ports.log &&
	cp r6/$R expect.reg &&
	cp r6/.git/worktree-ports/ports.log expect.log &&
	git -C r6 worktree-ports check >out 2>err &&
	test_must_be_empty err &&
	test_cmp expect.reg r6/$R &&
	test_cmp expect.log r6/.git/worktree-ports/ports.log
'

test_expect_success 'a port held by a process outside its worktree is a conflict' '
	test_when_finished "stop_pid $PWD/r7.pid" &&
	check_repo r7 23400 &&
	mkdir else7 &&
	serve else7 "$(cat r7.port)" "$PWD/r7.pid" &&
	test_expect_code 9 git -C r7 worktree-ports check >out &&
	grep "^foreign_process: port $(cat r7.port) of ${SQ}web${SQ} in worktree ${SQ}r7-wt${SQ} is held by pid $(cat r7.pid) (.*test-tool.*) in $(cd else7 && pwd -P), outside every known worktree; fix: git worktree-ports repair --worktree r7-wt$" out
'

test_expect_success 'a server inside its own worktree is no conflict' '
	test_when_finished "stop_pid $PWD/r8.pid" &&
	check_repo r8 23420 &&
	serve r8-wt "$(cat r8.port)" "$PWD/r8.pid" &&
	git -C r8 worktree-ports check >out &&
	echo "no conflicts" >expect &&
	test_cmp expect out
'

test_expect_success 'ranges that overlap are a conflict' '
	check_repo r9 23440 &&
	json_edit r9/$R set ranges.api.start 23445 &&
	test_expect_code 9 git -C r9 worktree-ports check >out &&
	grep "^range_overlap: ranges ${SQ}web${SQ} (23440-23449) and ${SQ}api${SQ} (23445-23459) share ports 23445-23449; fix: edit \"ranges\" in .*/$R so that ${SQ}web${SQ} and ${SQ}api${SQ} do not overlap$" out &&
	test_expect_code 9 git -C r9 worktree-ports check --json >out &&
	echo null >expect &&
	json_get out "conflicts[kind=range_overlap].port" >actual &&
	test_cmp expect actual
'

test_expect_success 'a port also allocated in another registry is a conflict' '
	check_repo r10 23460 &&
	new_repo r10b &&
	set_ranges r10b "web:23470-23479" &&
	git -C r10b worktree-ports allocate web -q >r10b.port &&
	add_alloc r10 "$(cat r10b.port)" r10-wt api "$TRASH/r10-wt" &&
	test_expect_code 9 git -C r10 worktree-ports check >out &&
	grep "^duplicate: port $(cat r10b.port) of ${SQ}api${SQ} in worktree ${SQ}r10-wt${SQ} is also allocated in the registry ${SQ}$(cd r10b && pwd -P)/$R${SQ}; fix: git worktree-ports repair --worktree r10-wt$" out &&
	test_expect_code 9 git -C r10b worktree-ports check >out2 &&
	grep "also allocated in the registry ${SQ}$(cd r10 && pwd -P)/$R${SQ}" out2
'

test_expect_success 'every kind at once, and check writes nothing' '
	test_when_finished "stop_pid $PWD/r11.pid" &&
	check_repo r11 23500 &&
	json_edit r11/$R set ranges.api.start 23505 &&
	json_edit r11/$R set ranges.db "{\"start\": 23520, \"end\": 23529}" &&
	json_edit r11/$R set reserved "[{\"start\": 23528, \"end\": 23528}]" &&
	add_alloc r11 "$(cat r11.main)" r11-wt api "$TRASH/r11-wt" &&
	add_alloc r11 23530 .main db "$TRASH/r11" &&
	add_alloc r11 23528 r11-wt db "$TRASH/r11-wt" &&
	mkdir else11 &&
	serve else11 "$(cat r11.port)" "$PWD/r11.pid" &&
	cp r11/$R expect.reg &&
	cp r11/.git/worktree-ports/ports.log expect.log &&
	test_expect_code 9 git -C r11 worktree-ports check --json >out &&
	cat >expect <<-\EOF &&
	duplicate
	foreign_process
	outside_range
	range_overlap
	reserved
	EOF
	kinds out >actual &&
	test_cmp expect actual &&
	printf "%s\n" detail fix kind port service worktree >want &&
	n=$(json_get out conflicts.#) &&
	test "$n" -gt 0 &&
	for i in $(seq 0 $((n - 1)))
	do
		json_get out conflicts.$i.@keys >keys &&
		test_cmp want keys &&
		fix=$(json_get out conflicts.$i.fix) &&
		test -n "$fix" &&
		test "$fix" != null || return 1
	done &&
	test_cmp expect.reg r11/$R &&
	test_cmp expect.log r11/.git/worktree-ports/ports.log
'

test_expect_success 'the fixes check names leave no conflict' '
	test_when_finished "stop_pid $PWD/r12.pid" &&
	check_repo r12 23540 &&
	git -C r12 worktree-ports allocate api -q >r12.api &&
	add_alloc r12 "$(cat r12.api)" r12-wt api "$TRASH/r12-wt" &&
	mkdir else12 &&
	serve else12 "$(cat r12.main)" "$PWD/r12.pid" &&
	test_expect_code 9 git -C r12 worktree-ports check >out &&
	test_line_count = 3 out &&
	sed -n "s/.*; fix: //p" out | sort -u >fixes &&
	while read -r fix
	do
		(cd r12 && eval "$fix" >/dev/null) || return 1
	done <fixes &&
	git -C r12 worktree-ports check >out &&
	echo "no conflicts" >expect &&
	test_cmp expect out
'

test_expect_success 'check outside a repository fails (exit 3)' '
	mkdir norepo &&
	GIT_CEILING_DIRECTORIES=$TRASH test_expect_code 3 git -C norepo worktree-ports check
'

test_done
