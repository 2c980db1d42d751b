#!/bin/bash
test_description='wait for a service; the activity log and its reader'
. "$(dirname "$0")/../lib.sh"
. "$SRC_DIR/tests/lib-crash.sh"

# Ports 25100-25499: below the ephemeral range; each repository its own.
LOG=.git/worktree-ports/ports.log

# wait_repo NAME BASE: NAME's main worktree holds a port for web (in
# NAME.web) from BASE-BASE+9, checked on /health.
wait_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" &&
	printf '[service "web"]\nhealth = /health\n' >"$1/.worktree-ports.ini" &&
	git -C "$1" worktree-ports allocate web -q >"$1.web"
}

# The outcome of each connection attempt of a wait, as trace_cmd records
# it: getsockopt(SO_ERROR) gives ECONNREFUSED or 0 (connected). Each
# attempt tries 127.0.0.1 and ::1 at once; only the first is counted.
ATTEMPTS='/^getsockopt$'

# attempts TRACE: the outcome of each attempt on 127.0.0.1, one a line.
attempts() {
	sed -n "s/.*<TCP:\[.*SO_ERROR, \[\([A-Z0-9]*\)\].*/\1/p" "$1"
}

# refused TRACE: how many attempts the port refused.
refused() {
	attempts "$1" | grep -c ECONNREFUSED
}

# The server is started only once the wait has seen the port refuse a
# connection, so "mid-wait" is a fact; the 60 s bound only a hang.
test_expect_success 'wait returns 0 once the server comes up mid-wait' '
	wait_repo w1 25100 &&
	: >w1.trace &&
	{
		trace_cmd w1.trace "$ATTEMPTS" git-worktree-ports -C w1 \
			wait web --timeout 60 >out 2>err &
	} &&
	echo $! >w1.bg &&
	test_when_finished "kill \$(cat w1.bg) 2>/dev/null; wait \$(cat w1.bg)" &&
	i=0 &&
	while test "$(refused w1.trace)" = 0 && test $i -lt 1200; do
		sleep 0.05 &&
		i=$((i + 1))
	done &&
	test "$(refused w1.trace)" != 0 &&
	test_when_finished "stop_pid w1.pid" &&
	start_servers_in w1 w1.pid ok:$(cat w1.web) &&
	wait $(cat w1.bg) &&
	echo "${SQ}web${SQ} is healthy on port $(cat w1.web)" >expect &&
	test_cmp expect out &&
	test_must_be_empty err &&
	test $(refused w1.trace) -gt 0 &&
	test "$(attempts w1.trace | tail -n 1)" = 0 &&
	test "$(json_get w1/design/worktrees/ports.json \
		allocations.0.health_status)" = healthy &&
	test "$(json_get w1/design/worktrees/ports.json \
		allocations.0.process_id)" = "$(cat w1.pid)"
'

test_expect_success 'wait --json prints the result of the check' '
	wait_repo w2 25120 &&
	test_when_finished "stop_pid w2.pid" &&
	start_servers_in w2 w2.pid ok:$(cat w2.web) &&
	git -C w2 worktree-ports wait web --timeout 5 --json >out &&
	test "$(json_get out allocations.0.port)" = "$(cat w2.web)" &&
	test "$(json_get out allocations.0.health_status)" = healthy &&
	test "$(json_get out allocations.0.health.http_status)" = 200 &&
	test "$(json_get out allocations.0.process_id)" = "$(cat w2.pid)"
'

# A wait that never sees its service healthy tries again until the
# timeout (more than one attempt), then reports what the last one saw.
test_expect_success 'wait exits 9 at the timeout with the last status' '
	wait_repo w3 25140 &&
	test_expect_code 9 trace_cmd w3.trace "$ATTEMPTS" \
		git-worktree-ports -C w3 wait web --timeout 2 >out 2>err &&
	test_must_be_empty out &&
	grep "port $(cat w3.web)) is not healthy after 2.0 s" err &&
	grep "not_running (connection refused)" err &&
	attempts w3.trace >outcomes &&
	test_line_count -gt 1 outcomes &&
	! grep -vx ECONNREFUSED outcomes &&
	test_when_finished "stop_pid w3.pid" &&
	start_servers_in w3 w3.pid hang:$(cat w3.web) &&
	test_expect_code 9 trace_cmd w3.trace "$ATTEMPTS" \
		git-worktree-ports -C w3 wait web --timeout 3 2>err &&
	grep "unhealthy (timed out after [1-9][0-9]* ms waiting for the response)" err &&
	ms=$(sed -n "s/.*timed out after \([0-9]*\) ms.*/\1/p" err) &&
	test "$ms" -le 1000 &&
	attempts w3.trace >outcomes &&
	test_line_count -gt 1 outcomes &&
	! grep -vx 0 outcomes &&
	test "$(json_get w3/design/worktrees/ports.json \
		allocations.0.health_status)" = unhealthy
'

test_expect_success 'wait names the status of a server answering 500' '
	wait_repo w4 25160 &&
	test_when_finished "stop_pid w4.pid" &&
	start_servers_in w4 w4.pid error:$(cat w4.web) &&
	test_expect_code 9 git -C w4 worktree-ports wait web --timeout 1 2>err &&
	cat err &&
	grep "unhealthy (HTTP 500)" err
'

test_expect_success 'wait on a service without a port exits 7' '
	wait_repo w5 25180 &&
	test_expect_code 7 git -C w5 worktree-ports wait api --timeout 1 2>err &&
	grep "no port for ${SQ}api${SQ}" err &&
	test_expect_code 7 git -C w5 worktree-ports wait nosuch --timeout 1 2>err &&
	grep nosuch err
'

test_expect_success 'wait without a service is a usage error' '
	wait_repo w6 25200 &&
	test_expect_code 129 git -C w6 worktree-ports wait 2>err &&
	test_expect_code 129 git -C w6 worktree-ports wait web --timeout soon 2>err
'

# ago SECONDS: the UTC time that long ago, as the log writes it.
ago() {
	date -u -d "@$(($(date +%s) - $1))" +%Y-%m-%dT%H:%M:%SZ
}

# rec TIME ACTION WORKTREE SERVICE PORT [PID]: one log line.
rec() {
	printf '{"time":"%s","action":"%s","worktree":"%s","service":"%s","port":%s' \
		"$1" "$2" "$3" "$4" "$5"
	if test $# -gt 5; then
		printf ',"pid":%s' "$6"
	fi
	printf ',"by":"me@laptop"}\n'
}

# entries FILE: the entries of 'log --json' output as
# "action worktree service port", one a line, in their order.
entries() {
	json_lines "$1" entries action worktree service port
}

# A hand-made log of six records, oldest first, in repository l1.
test_expect_success 'set up a log written by hand' '
	new_repo l1 &&
	{
		rec "$(ago 7200)" allocate wt-a web 25100 &&
		rec "$(ago 5400)" allocate wt-b api 25110 &&
		rec "$(ago 2400)" release wt-a web 25100 &&
		rec "$(ago 1200)" health wt-b api 25110 4242 &&
		rec "$(ago 600)" prune wt-a api 25111 &&
		rec "$(ago 60)" allocate wt-a api 25112
	} >l1/$LOG &&
	cat >all <<-\EOF
	allocate wt-a api 25112
	prune wt-a api 25111
	health wt-b api 25110
	release wt-a web 25100
	allocate wt-b api 25110
	allocate wt-a web 25100
	EOF
'

# log_is EXPECTED-LINES-OF-all OPTIONS...: 'log --json OPTIONS' lists
# exactly those lines of the file 'all' (numbers, space-separated).
log_is() {
	local want=$1 n
	shift
	for n in $want; do
		sed -n "${n}p" all
	done >expect &&
	git -C l1 worktree-ports log --json "$@" >out &&
	entries out >actual &&
	test_cmp expect actual
}

test_expect_success 'log shows every record, newest first' '
	log_is "1 2 3 4 5 6" &&
	git -C l1 worktree-ports log >out &&
	test_line_count = 6 out &&
	head -n 1 out | grep -E "^[0-9T:-]+Z +allocate +wt-a api 25112 +by me@laptop$" &&
	tail -n 1 out | grep -E "^[0-9T:-]+Z +allocate +wt-a web 25100 +by me@laptop$"
'

test_expect_success 'log --since keeps what is recent' '
	log_is "1 2 3" --since 30m &&
	log_is "1 2 3 4" --since 1h &&
	log_is "1 2 3 4 5 6" --since 3h &&
	log_is "1 2 3 4 5 6" --since 1d &&
	log_is "" --since 30s &&
	git -C l1 worktree-ports log --since 30m >out &&
	! grep -w 25100 out &&
	test_line_count = 3 out
'

test_expect_success 'log --since a UTC time includes a record at that time' '
	at=$(sed -n 4p l1/$LOG | sed "s/^{\"time\":\"\([^\"]*\)\".*/\1/") &&
	log_is "1 2 3" --since "$at"
'

test_expect_success 'log --since refuses what it cannot read' '
	for when in yesterday 30 5x -1h ""; do
		test_expect_code 129 git -C l1 worktree-ports log --since "$when" \
			>out 2>err &&
		test_must_be_empty out &&
		grep "invalid time" err || exit 1
	done
'

test_expect_success 'log --worktree, --service and --action filter' '
	log_is "1 2 4 6" --worktree wt-a &&
	log_is "3 5" --worktree wt-b &&
	log_is "1 2 3 5" --service api &&
	log_is "4 6" --service web &&
	log_is "1 5 6" --action allocate &&
	log_is "2" --action prune &&
	log_is "" --worktree nosuch &&
	log_is "1 2" --worktree wt-a --service api --since 30m &&
	log_is "6" --worktree wt-a --action allocate --service web
'

test_expect_success 'log with an unknown action is a usage error' '
	test_expect_code 129 git -C l1 worktree-ports log --action frobnicate 2>err &&
	grep frobnicate err
'

test_expect_success 'log --json has every key of every record' '
	git -C l1 worktree-ports log --json >out &&
	python3 - out <<-\EOF
	import json, sys
	j = json.load(open(sys.argv[1]))
	assert list(j) == ["entries"], list(j)
	keys = ["time", "action", "worktree", "service", "port", "pid", "by",
	        "detail"]
	for e in j["entries"]:
	    assert sorted(e) == sorted(keys), e
	    assert e["by"] == "me@laptop" and e["detail"] is None, e
	    assert e["pid"] == (4242 if e["action"] == "health" else None), e
	    assert isinstance(e["port"], int), e
	EOF
'

test_expect_success 'log of what commands did, newest first' '
	new_repo l2 &&
	set_ranges l2 "web:25300-25309" "api:25310-25319" &&
	git -C l2 worktree-ports allocate web -q &&
	git -C l2 worktree-ports allocate api -q &&
	git -C l2 worktree-ports release web -q &&
	git -C l2 worktree-ports log --json >out &&
	cat >expect <<-\EOF &&
	release .main web 25300
	allocate .main api 25310
	allocate .main web 25300
	EOF
	entries out >actual &&
	test_cmp expect actual &&
	by=$(json_get out entries.0.by) &&
	case "$by" in *@*) ;; *) false ;; esac &&
	git -C l2 worktree-ports log --since 1m --json >out &&
	entries out >actual &&
	test_cmp expect actual
'

test_expect_success 'log of a repository without a log says so' '
	new_repo l3 &&
	rm -f l3/$LOG &&
	git -C l3 worktree-ports log >out 2>err &&
	test_must_be_empty err &&
	grep "no activity" out &&
	git -C l3 worktree-ports log --json >out &&
	test "$(json_get out entries.#)" = 0
'

# The length of the line 'allocate web' writes in a fresh repository
# with five-digit ports: the same in every such repository (the time has
# a fixed width), so measured in one and used in others.
# rot_repo NAME BASE: a repository with ranges web and api from BASE.
rot_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" &&
	rm -f "$1/$LOG"
}

test_expect_success 'the log rotates at its bound, not before' '
	rot_repo r0 25320 &&
	git -C r0 worktree-ports allocate web -q &&
	test_line_count = 1 r0/$LOG &&
	L=$(wc -c <r0/$LOG) &&
	{
		rec "$(ago 7200)" allocate old-a web 25100 &&
		rec "$(ago 3600)" release old-a web 25100
	} >old.log &&
	S=$(wc -c <old.log) &&

	rot_repo r1 25340 &&
	cp old.log r1/$LOG &&
	GIT_WORKTREE_PORTS_LOG_MAX=$((S + L)) \
		git -C r1 worktree-ports allocate web -q &&
	! test -e r1/$LOG.1 &&
	test $(wc -c <r1/$LOG) = $((S + L)) &&

	rot_repo r2 25360 &&
	cp old.log r2/$LOG &&
	GIT_WORKTREE_PORTS_LOG_MAX=$((S + L - 1)) \
		git -C r2 worktree-ports allocate web -q &&
	test_cmp old.log r2/$LOG.1 &&
	test $(wc -c <r2/$LOG) = $L &&
	git -C r2 worktree-ports log --json >out &&
	cat >expect <<-\EOF &&
	allocate .main web 25360
	release old-a web 25100
	allocate old-a web 25100
	EOF
	entries out >actual &&
	test_cmp expect actual
'

test_expect_success 'a second rotation replaces ports.log.1' '
	rot_repo r3 25380 &&
	git -C r3 worktree-ports allocate web -q &&
	GIT_WORKTREE_PORTS_LOG_MAX=1 git -C r3 worktree-ports allocate api -q &&
	test_line_count = 1 r3/$LOG.1 &&
	grep "\"service\":\"web\"" r3/$LOG.1 &&
	GIT_WORKTREE_PORTS_LOG_MAX=1 git -C r3 worktree-ports release web -q &&
	test_line_count = 1 r3/$LOG &&
	test_line_count = 1 r3/$LOG.1 &&
	grep "\"service\":\"api\"" r3/$LOG.1 &&
	git -C r3 worktree-ports log --json >out &&
	cat >expect <<-\EOF &&
	release .main web 25380
	allocate .main api 25390
	EOF
	entries out >actual &&
	test_cmp expect actual
'

test_expect_success 'many commands under a small bound keep two files' '
	rot_repo r4 25400 &&
	for i in 1 2 3 4 5 6 7 8; do
		GIT_WORKTREE_PORTS_LOG_MAX=600 \
			git -C r4 worktree-ports allocate web -q >/dev/null &&
		GIT_WORKTREE_PORTS_LOG_MAX=600 \
			git -C r4 worktree-ports release web -q || exit 1
	done &&
	test -s r4/$LOG.1 &&
	test $(wc -c <r4/$LOG) -le 600 &&
	test $(wc -c <r4/$LOG.1) -le 600 &&
	! test -e r4/$LOG.2 &&
	git -C r4 worktree-ports log --json >out &&
	n=$(($(wc -l <r4/$LOG) + $(wc -l <r4/$LOG.1))) &&
	test "$(json_get out entries.#)" = $n &&
	test "$(json_get out entries.0.action)" = release &&
	cat r4/$LOG.1 r4/$LOG >both &&
	python3 - out both <<-\EOF
	import json, sys
	shown = json.load(open(sys.argv[1]))["entries"]
	lines = [json.loads(l) for l in open(sys.argv[2])]
	lines.reverse()
	assert [(e["action"], e["time"]) for e in shown] == \
	       [(e["action"], e["time"]) for e in lines], (shown, lines)
	EOF
'

test_expect_success 'a corrupt line is skipped with a warning naming it' '
	new_repo c1 &&
	{
		rec "$(ago 300)" allocate wt-a web 25100 &&
		echo "{\"time\":\"$(ago 200)\",\"action\":\"allocate\",\"port\":\"x\"}" &&
		echo "this is not json" &&
		echo &&
		rec "$(ago 100)" release wt-a web 25100
	} >c1/$LOG &&
	git -C c1 worktree-ports log >out 2>err &&
	test_line_count = 2 out &&
	grep "release  *wt-a web 25100" out &&
	grep "allocate  *wt-a web 25100" out &&
	test_line_count = 2 err &&
	grep "^warning: .*/ports\\.log:2: .*skipped" err &&
	grep "^warning: .*/ports\\.log:3:[0-9:]* .*skipped" err &&
	git -C c1 worktree-ports log --json >out 2>err &&
	test "$(json_get out entries.#)" = 2 &&
	test_line_count = 2 err
'

test_expect_success 'a corrupt line in ports.log.1 is named too' '
	new_repo c2 &&
	{
		rec "$(ago 300)" allocate wt-a web 25100 &&
		echo "{\"time\":\"yesterday\",\"action\":\"allocate\"}"
	} >c2/$LOG.1 &&
	rec "$(ago 100)" release wt-a web 25100 >c2/$LOG &&
	git -C c2 worktree-ports log --json >out 2>err &&
	test "$(json_get out entries.#)" = 2 &&
	test_line_count = 1 err &&
	grep "ports\\.log\\.1:2:.*skipped" err
'

test_expect_success 'after ten warnings one more counts the rest' '
	new_repo c3 &&
	{
		for i in $(seq 1 15); do
			echo "bad line $i"
		done &&
		rec "$(ago 100)" release wt-a web 25100
	} >c3/$LOG &&
	git -C c3 worktree-ports log --json >out 2>err &&
	test "$(json_get out entries.#)" = 1 &&
	test_line_count = 11 err &&
	grep "ports\\.log:10:" err &&
	! grep "ports\\.log:11:" err &&
	tail -n 1 err | grep "5 more malformed lines skipped"
'

test_done
