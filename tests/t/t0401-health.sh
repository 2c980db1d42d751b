#!/bin/bash
test_description='status --health-check against real servers on the loopback'
. "$(dirname "$0")/../lib.sh"
. "$SRC_DIR/tests/lib-crash.sh"

# Ports 24100-24799: below the ephemeral range, so no client socket of
# this machine can hold them by chance.
REG=design/worktrees/ports.json
LOG=.git/worktree-ports/ports.log
KINDS='ok error hang slow garbage none'

# health_repo NAME BASE: a repository NAME whose main worktree holds one
# port for each service of $KINDS, from ranges of ten ports from BASE;
# the port of service S goes to the file NAME.S.
health_repo() {
	local base=$2 s specs=
	new_repo "$1" || return 1
	for s in $KINDS; do
		specs="$specs $s:$base-$((base + 9))"
		base=$((base + 10))
	done
	set_ranges "$1" $specs || return 1
	for s in $KINDS; do
		git -C "$1" worktree-ports allocate "$s" -q >"$1.$s" || return 1
	done
}

# serve NAME KIND...: one server of each KIND on the port of service KIND
# of repository NAME, each its own process, its pid in NAME.KIND.pid;
# all stopped when the test ends.
serve() {
	local repo=$1 k
	shift
	for k; do
		test_when_finished "stop_pid $repo.$k.pid"
		start_servers_in "$repo" "$repo.$k.pid" "$k:$(cat "$repo.$k")" ||
			return 1
	done
}

# health_ini NAME: the ok service is checked on /health.
health_ini() {
	printf '[service "ok"]\nhealth = /health\n' >"$1/.worktree-ports.ini"
}

# The socket calls a health check makes, recorded by trace_cmd: none of
# the tests below measures how long a check took; they look at what it
# did.
SOCKET_CALLS='/^(sendto|sendmsg|write|close)$'

# socket_calls TRACE: the calls on connected TCP sockets in TRACE, one a
# line, "IDX CALL PORT", PORT the port of the server.
socket_calls() {
	awk '
	{
		line = $0
		sub(/^[0-9]+ +/, "", line)
		p = index(line, "(")
		e = index(line, "]>")
		if (!p || !e || e < p)
			next
		key = substr(line, p + 1, e - p)	# 5<TCP:[a:1->b:2]
		if (key !~ /<TCP(v6)?:\[.*->/)
			next
		port = key
		sub(/.*:/, "", port)
		sub(/\]$/, "", port)
		print ++n, substr(line, 1, p - 1), port, key
	}' "$1"
}

# requests_to TRACE PORT: how many requests the check sent to PORT.
requests_to() {
	socket_calls "$1" | awk -v port="$2" '
		$2 != "close" && $3 == port { n++ } END { print n + 0 }'
}

# in_flight_together TRACE PORT...: each PORT got its request, and all
# of them before any of those connections was closed: the checks ran at
# once, under one deadline, not one after the other.
in_flight_together() {
	local trace=$1
	shift
	socket_calls "$trace" | awk -v want=" $* " -v nwant=$# '
	!index(want, " " $3 " ") { next }
	$2 != "close" { sent[$4] = 1; got[$3] = 1; last = $1; next }
	($4 in sent) && !first { first = $1 }
	END {
		for (p in got)
			k++
		printf "%d of %d ports got a request; last sent at call %d, first closed at %d\n",
			k, nwant, last, first
		exit !(k == nwant && (!first || last < first))
	}'
}

test_expect_success 'each kind of server gets its status, pid and detail' '
	health_repo h1 24100 &&
	health_ini h1 &&
	serve h1 ok error hang slow garbage &&
	test_expect_code 9 trace_cmd h1.trace "$SOCKET_CALLS" \
		git-worktree-ports -C h1 status --all --health-check \
		--timeout 1 --json >out &&
	in_flight_together h1.trace $(cat h1.hang) $(cat h1.slow) &&
	python3 - out h1 <<-\EOF
	import json, sys
	out, repo = sys.argv[1:]
	def read(p):
	    with open(p) as f:
	        return f.read().strip()
	want = {
	    "ok": ("healthy", 200, "HTTP 200", "/health"),
	    "error": ("unhealthy", 500, "HTTP 500", "/"),
	    "hang": ("unhealthy", None,
	             "timed out after 1000 ms waiting for the response", "/"),
	    "slow": ("unhealthy", None,
	             "timed out after 1000 ms reading the response", "/"),
	    "garbage": ("unhealthy", None, "malformed status line ", "/"),
	    "none": ("not_running", None, "connection refused", "/"),
	}
	j = json.load(open(out))
	bad = []
	if j["checked"] != 6 or j["healthy"] != 1 or j["timeout_ms"] != 1000:
	    bad.append("counts: %r" % {k: j[k] for k in
	                               ("checked", "healthy", "timeout_ms")})
	allocs = {a["service"]: a for a in j["allocations"]}
	if sorted(allocs) != sorted(want):
	    bad.append("services: %r" % sorted(allocs))
	for svc, (status, code, detail, check) in want.items():
	    a = allocs.get(svc)
	    if a is None:
	        continue
	    h = a["health"]
	    where = "%s (port %s)" % (svc, a["port"])
	    if a["port"] != int(read("%s.%s" % (repo, svc))):
	        bad.append("%s: not its port" % where)
	    if a["health_status"] != status:
	        bad.append("%s: %s, not %s" % (where, a["health_status"], status))
	    if h["http_status"] != code:
	        bad.append("%s: http_status %r" % (where, h["http_status"]))
	    if not h["detail"].startswith(detail):
	        bad.append("%s: detail %r" % (where, h["detail"]))
	    if h["check"] != check:
	        bad.append("%s: check %r" % (where, h["check"]))
	    if svc == "none":
	        if (a["process_id"] is not None or h["listening"] or
	                h["connect_us"] is not None):
	            bad.append("%s: %r" % (where, a))
	        continue
	    pid = int(read("%s.%s.pid" % (repo, svc)))
	    if a["process_id"] != pid:
	        bad.append("%s: process_id %r, server pid %d" %
	                   (where, a["process_id"], pid))
	    if not h["listening"] or h["address"] != "127.0.0.1":
	        bad.append("%s: listening %r address %r" %
	                   (where, h["listening"], h["address"]))
	    if not isinstance(h["connect_us"], int) or h["connect_us"] < 0:
	        bad.append("%s: connect_us %r" % (where, h["connect_us"]))
	    if "test-tool servers" not in (h["command"] or ""):
	        bad.append("%s: command %r" % (where, h["command"]))
	    answered = svc in ("ok", "error")
	    if answered != isinstance(h["response_us"], int):
	        bad.append("%s: response_us %r" % (where, h["response_us"]))
	for b in bad:
	    print(b)
	sys.exit(1 if bad else 0)
	EOF
'

test_expect_success 'the results and pids are written to the registry' '
	health_repo h2 24160 &&
	health_ini h2 &&
	serve h2 ok error hang slow garbage &&
	python3 -c "import time; print(int(time.time()))" >before &&
	test_expect_code 9 git -C h2 worktree-ports status --all \
		--health-check --timeout 1 >out &&
	python3 - h2/$REG h2 "$(cat before)" <<-\EOF
	import calendar, json, re, sys, time
	path, repo, before = sys.argv[1], sys.argv[2], int(sys.argv[3])
	want = {"ok": "healthy", "error": "unhealthy", "hang": "unhealthy",
	        "slow": "unhealthy", "garbage": "unhealthy",
	        "none": "not_running"}
	reg = json.load(open(path))
	allocs = {a["service"]: a for a in reg["allocations"]}
	bad = []
	now = int(time.time())
	for svc, status in want.items():
	    a = allocs[svc]
	    if a["health_status"] != status:
	        bad.append("%s: %r" % (svc, a["health_status"]))
	    if svc == "none":
	        pid = None
	    else:
	        with open("%s.%s.pid" % (repo, svc)) as f:
	            pid = int(f.read())
	    if a["process_id"] != pid:
	        bad.append("%s: process_id %r, want %r" % (svc, a["process_id"],
	                                                   pid))
	    at = a.get("health_checked_at")
	    if not isinstance(at, str) or not re.fullmatch(
	            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", at):
	        bad.append("%s: health_checked_at %r" % (svc, at))
	        continue
	    t = calendar.timegm(time.strptime(at, "%Y-%m-%dT%H:%M:%SZ"))
	    if not before - 1 <= t <= now + 1:
	        bad.append("%s: health_checked_at %s not between %d and %d" %
	                   (svc, at, before, now))
	for b in bad:
	    print(b)
	sys.exit(1 if bad else 0)
	EOF
'

test_expect_success 'the table names the process and the status of each' '
	health_repo h3 24220 &&
	health_ini h3 &&
	serve h3 ok hang &&
	test_expect_code 9 git -C h3 worktree-ports status --all \
		--health-check --timeout 1 --verbose >out 2>err &&
	for s in ok:healthy hang:unhealthy error:not_running none:not_running
	do
		port=$(cat "h3.${s%%:*}") &&
		grep -qE "^$port +\\.main +${s%%:*} +${s#*:} " out ||
		echo "no line for $s"
	done >missing &&
	test_must_be_empty missing &&
	grep -E "^$(cat h3.ok) .* $(cat h3.ok.pid) +.*test-tool servers" out &&
	grep -E "^$(cat h3.hang) .* $(cat h3.hang.pid) +.*test-tool servers" out &&
	grep "check /health: HTTP 200" out &&
	grep "check /: timed out after 1000 ms waiting for the response" out &&
	grep "^1 of 6 healthy" out &&
	grep "5 of 6 checked services are not healthy" err
'

test_expect_success 'exit 0 when all are healthy; tcp stops at connect' '
	new_repo h4 &&
	set_ranges h4 "ok:24280-24289" "db:24290-24299" "raw:24300-24309" &&
	for s in ok db raw; do
		git -C h4 worktree-ports allocate $s -q >h4.$s || exit 1
	done &&
	cat >h4/.worktree-ports.ini <<-\EOF &&
	[service "ok"]
	health = /health
	[service "db"]
	health = tcp
	[service "raw"]
	health = tcp
	EOF
	test_when_finished "stop_pid h4.servers.pid" &&
	start_servers_in h4 h4.servers.pid ok:$(cat h4.ok) hang:$(cat h4.db) \
		garbage:$(cat h4.raw) &&
	trace_cmd h4.trace "$SOCKET_CALLS" git-worktree-ports -C h4 status \
		--all --health-check --timeout 5 --json >out &&
	printf "%s\n" 1 0 0 >expect &&
	{
		requests_to h4.trace $(cat h4.ok) &&
		requests_to h4.trace $(cat h4.db) &&
		requests_to h4.trace $(cat h4.raw)
	} >actual &&
	test_cmp expect actual &&
	cat >expect <<-EOF &&
	3 3
	ok healthy /health 200 HTTP 200
	db healthy tcp None accepting connections
	raw healthy tcp None accepting connections
	EOF
	python3 - out <<-\EOF >actual &&
	import json, sys
	j = json.load(open(sys.argv[1]))
	print(j["checked"], j["healthy"])
	allocs = {a["service"]: a for a in j["allocations"]}
	for s in ("ok", "db", "raw"):
	    h = allocs[s]["health"]
	    print(s, allocs[s]["health_status"], h["check"], h["http_status"],
	          h["detail"])
	EOF
	test_cmp expect actual &&
	test "$(json_get h4/$REG "allocations[service=db].process_id")" = \
		"$(cat h4.servers.pid)"
'

test_expect_success 'a listener without tcp is checked with HTTP' '
	new_repo h5 &&
	set_ranges h5 "db:24310-24319" &&
	git -C h5 worktree-ports allocate db -q >h5.db &&
	test_when_finished "stop_pid h5.pid" &&
	start_servers_in h5 h5.pid hang:$(cat h5.db) &&
	test_expect_code 9 git -C h5 worktree-ports status --all \
		--health-check --timeout 1 --json >out &&
	test "$(json_get out "allocations[service=db].health_status")" = unhealthy &&
	printf "[service \"db\"]\nhealth = tcp\n" >h5/.worktree-ports.ini &&
	git -C h5 worktree-ports status --all --health-check --timeout 1 \
		--json >out &&
	test "$(json_get out "allocations[service=db].health_status")" = healthy
'

test_expect_success 'the configured health path is the one asked for' '
	new_repo h6 &&
	set_ranges h6 "web:24320-24329" "api:24330-24339" &&
	git -C h6 worktree-ports allocate web -q >h6.web &&
	git -C h6 worktree-ports allocate api -q >h6.api &&
	test_when_finished "stop_pid h6.pid" &&
	start_servers_in h6 h6.pid ok:$(cat h6.web),$(cat h6.api) &&
	test_expect_code 9 git -C h6 worktree-ports status --all \
		--health-check --timeout 1 --json >out &&
	printf "%s\n" "/ 404 unhealthy" "/ 404 unhealthy" >expect &&
	for s in web api; do
		echo "$(json_get out "allocations[service=$s].health.check")" \
			"$(json_get out "allocations[service=$s].health.http_status")" \
			"$(json_get out "allocations[service=$s].health_status")"
	done >actual &&
	test_cmp expect actual &&
	printf "[service \"web\"]\nhealth = /health\n[service \"api\"]\nhealth = /healthz\n" \
		>h6/.worktree-ports.ini &&
	test_expect_code 9 git -C h6 worktree-ports status --all \
		--health-check --timeout 1 --json >out &&
	printf "%s\n" "/health 200 healthy" "/healthz 404 unhealthy" >expect &&
	for s in web api; do
		echo "$(json_get out "allocations[service=$s].health.check")" \
			"$(json_get out "allocations[service=$s].health.http_status")" \
			"$(json_get out "allocations[service=$s].health_status")"
	done >actual &&
	test_cmp expect actual
'

test_expect_success 'status --worktree checks only that worktree' '
	new_repo h7 &&
	set_ranges h7 "web:24340-24349" &&
	git -C h7 worktree add -q ../h7-wt &&
	git -C h7 worktree-ports allocate web -q >h7.main &&
	git -C h7-wt worktree-ports allocate web -q >h7.wt &&
	printf "[service \"web\"]\nhealth = /health\n" >h7-wt/.worktree-ports.ini &&
	test_when_finished "stop_pid h7.pid" &&
	start_servers_in h7-wt h7.pid ok:$(cat h7.wt) &&
	git -C h7 worktree-ports status --worktree h7-wt --health-check \
		--timeout 1 --json >out &&
	test "$(json_get out allocations.#)" = 1 &&
	test "$(json_get out allocations.0.port)" = "$(cat h7.wt)" &&
	test "$(json_get out allocations.0.health_status)" = healthy &&
	git -C h7-wt worktree-ports status --health-check --timeout 1 --json >out &&
	test "$(json_get out allocations.#)" = 1 &&
	test "$(json_get out allocations.0.health_status)" = healthy &&
	test "$(json_get h7/$REG "allocations[worktree=.main].health_status")" = unknown &&
	test_expect_code 9 git -C h7 worktree-ports status --health-check \
		--timeout 1 --json >out &&
	test "$(json_get out allocations.0.health_status)" = not_running
'

# health_lines REPO: the health lines of REPO's log as "service detail pid".
health_lines() {
	python3 - "$1/$LOG" <<-\EOF
	import json, sys
	for line in open(sys.argv[1]):
	    r = json.loads(line)
	    if r["action"] == "health":
	        print(r["service"], r.get("pid", "-"), r["detail"])
	EOF
}

test_expect_success 'the log gets a health line per change, none otherwise' '
	new_repo h8 &&
	set_ranges h8 "ok:24350-24359" "hang:24360-24369" "none:24370-24379" &&
	for s in ok hang none; do
		git -C h8 worktree-ports allocate $s -q >h8.$s || exit 1
	done &&
	health_ini h8 &&
	test_when_finished "stop_pid h8.ok.pid; stop_pid h8.hang.pid" &&
	start_servers_in h8 h8.ok.pid ok:$(cat h8.ok) &&
	start_servers_in h8 h8.hang.pid hang:$(cat h8.hang) &&
	! grep "\"action\":\"health\"" h8/$LOG &&
	test_expect_code 9 git -C h8 worktree-ports status --all \
		--health-check --timeout 1 >out &&
	cat >expect <<-EOF &&
	ok $(cat h8.ok.pid) unknown -> healthy: HTTP 200
	hang $(cat h8.hang.pid) unknown -> unhealthy: timed out after 1000 ms waiting for the response
	none - unknown -> not_running: connection refused
	EOF
	health_lines h8 >actual &&
	test_cmp expect actual &&
	cp h8/$LOG log.before &&
	test_expect_code 9 git -C h8 worktree-ports status --all \
		--health-check --timeout 1 >out &&
	test_cmp log.before h8/$LOG &&
	stop_pid h8.ok.pid &&
	test_expect_code 9 git -C h8 worktree-ports status --all \
		--health-check --timeout 1 >out &&
	echo "ok - healthy -> not_running: connection refused" >>expect &&
	health_lines h8 >actual &&
	test_cmp expect actual &&
	git -C h8 worktree-ports log --action health --json >log.json &&
	test "$(json_get log.json entries.#)" = 4 &&
	test "$(json_get log.json entries.0.service)" = ok &&
	test "$(json_get log.json entries.0.port)" = "$(cat h8.ok)" &&
	test "$(json_get log.json entries.0.pid)" = null
'

test_expect_success 'a port that changes status is logged again' '
	new_repo h9 &&
	set_ranges h9 "ok:24380-24389" &&
	git -C h9 worktree-ports allocate ok -q >h9.ok &&
	health_ini h9 &&
	test_expect_code 9 git -C h9 worktree-ports status --all \
		--health-check --timeout 1 >out &&
	test_when_finished "stop_pid h9.pid" &&
	start_servers_in h9 h9.pid ok:$(cat h9.ok) &&
	git -C h9 worktree-ports status --all --health-check --timeout 1 >out &&
	git -C h9 worktree-ports status --all --health-check --timeout 1 >out &&
	cat >expect <<-EOF &&
	ok - unknown -> not_running: connection refused
	ok $(cat h9.pid) not_running -> healthy: HTTP 200
	EOF
	health_lines h9 >actual &&
	test_cmp expect actual &&
	test "$(json_get h9/$REG allocations.0.process_id)" = "$(cat h9.pid)"
'

# 200 allocations: 50 services in each of four worktrees (a
# .worktree-ports.ini holds at most 64), allocated by sync.
test_expect_success 'scale: 200 ports, 100 hanging, checked at once' '
	new_repo big &&
	set_ranges big "default:24500-24799" &&
	for i in $(seq 100 149); do
		printf "[service \"s%d\"]\n" $i || exit 1
	done >big.ini &&
	for w in big big-2 big-3 big-4; do
		if test $w != big; then
			git -C big worktree add -q ../$w || exit 1
		fi &&
		cp big.ini $w/.worktree-ports.ini &&
		git -C $w worktree-ports sync >out 2>err || exit 1
	done &&
	git -C big worktree-ports status --all --json >status.json &&
	test "$(json_get status.json allocations.#)" = 200 &&
	# a hanging server in each of two worktrees, on all their ports
	for w in .main big-2; do
		python3 - status.json $w <<-\EOF >hang.$w || exit 1
		import json, sys
		allocs = json.load(open(sys.argv[1]))["allocations"]
		ports = sorted(a["port"] for a in allocs if a["worktree"] == sys.argv[2])
		print(",".join(str(p) for p in ports))
		EOF
	done &&
	test_when_finished "stop_pid big.pid; stop_pid big-2.pid" &&
	start_servers_in big big.pid hang:$(cat hang..main) &&
	start_servers_in big-2 big-2.pid hang:$(cat hang.big-2) &&
	echo "$(cat hang..main),$(cat hang.big-2)" >hang.ports &&
	test_expect_code 9 trace_cmd big.trace "$SOCKET_CALLS" \
		git-worktree-ports -C big status --all --health-check \
		--timeout 3 --json >out &&
	in_flight_together big.trace $(tr , " " <hang.ports) &&
	python3 - out hang.ports "$(cat big.pid)" "$(cat big-2.pid)" <<-\EOF
	import json, sys
	j = json.load(open(sys.argv[1]))
	hang = {int(p) for p in open(sys.argv[2]).read().strip().split(",")}
	pids = {".main": int(sys.argv[3]), "big-2": int(sys.argv[4])}
	bad = []
	if len(hang) != 100 or j["checked"] != 200 or j["healthy"] != 0:
	    bad.append("hang %d, checked %d, healthy %d" %
	               (len(hang), j["checked"], j["healthy"]))
	for a in j["allocations"]:
	    if a["port"] in hang:
	        ok = (a["health_status"] == "unhealthy" and
	              a["process_id"] == pids[a["worktree"]] and
	              a["health"]["detail"] ==
	              "timed out after 3000 ms waiting for the response")
	    else:
	        ok = (a["health_status"] == "not_running" and
	              a["process_id"] is None)
	    if not ok:
	        bad.append("%d: %s %r %s" % (a["port"], a["health_status"],
	                                     a["process_id"],
	                                     a["health"]["detail"]))
	for b in bad[:20]:
	    print(b)
	sys.exit(1 if bad else 0)
	EOF
'
test_done
