#!/bin/bash
test_description='a command killed at any moment leaves a usable registry'
. "$(dirname "$0")/../lib.sh"

KILLS=${KILLS:-200}
WORKTREES='r w1 w2 w3'
SERVICES='svc0 svc1 svc2 svc3'
REG=r/design/worktrees/ports.json

# check-kill.py MODEL WT SVC: the registry loads, holds no port twice and
# no (worktree, service) twice, and differs from the allocations recorded
# in the file MODEL (one "WORKTREE SERVICE PORT" a line) at most in the
# allocation of WT and SVC, the one the killed command was changing;
# status.json (the output of 'status --all --json') lists the same
# allocations. Then MODEL is updated to what the registry now holds.
# With --serve it reads "MODEL WT SVC" lines and answers each with "ok"
# or "fail", so that one interpreter serves the whole loop.
cat >check-kill.py <<'EOF'
import json, sys

REG = "r/design/worktrees/ports.json"


def check(model_path, wt, svc):
    try:
        with open(REG) as f:
            reg = json.load(f)
    except Exception as e:
        return ["the registry does not load: %s" % e]
    problems = []
    allocs = reg["allocations"]
    ports = [a["port"] for a in allocs]
    pairs = [(a["worktree"], a["service"]) for a in allocs]
    if len(set(ports)) != len(ports):
        problems.append("duplicate ports: %s" % sorted(
            p for p in set(ports) if ports.count(p) > 1))
    if len(set(pairs)) != len(pairs):
        problems.append("duplicate (worktree, service): %s" % sorted(
            p for p in set(pairs) if pairs.count(p) > 1))
    total = reg["metadata"]["total_allocations"]
    if total != len(allocs):
        problems.append("metadata.total_allocations is %r, not %d" %
                        (total, len(allocs)))
    have = {(a["worktree"], a["service"]): a["port"] for a in allocs}
    before = {}
    with open(model_path) as f:
        for line in f:
            w, s, p = line.split()
            before[(w, s)] = int(p)
    for k in sorted(set(before) | set(have)):
        if k != (wt, svc) and before.get(k) != have.get(k):
            problems.append("%s %s was %s, is %s" %
                            (k + (before.get(k), have.get(k))))
    try:
        with open("status.json") as f:
            status = json.load(f)
        shown = {(a["worktree"], a["service"]): a["port"]
                 for a in status["allocations"]}
    except Exception as e:
        return problems + ["status --all --json: %s" % e]
    if shown != have:
        problems.append("status --all --json shows %r, registry has %r" %
                        (sorted(shown.items()), sorted(have.items())))
    if not problems:
        with open(model_path, "w") as f:
            for (w, s), p in sorted(have.items()):
                f.write("%s %s %d\n" % (w, s, p))
    return problems


def report(problems):
    for p in problems:
        print("check-kill:", p, file=sys.stderr)
    sys.stderr.flush()
    return not problems


if sys.argv[1:] == ["--serve"]:
    for line in sys.stdin:
        ok = report(check(*line.split()))
        print("ok" if ok else "fail", flush=True)
else:
    sys.exit(0 if report(check(*sys.argv[1:4])) else 1)
EOF

check_after_kill() {
	python3 check-kill.py "$@"
}

# The git name of a worktree directory here: the main one is '.main'.
wt_name() {
	if test "$1" = r; then
		echo .main
	else
		echo "$1"
	fi
}

# A command after the kill must take the lock the dead process held,
# without waiting for it: 2 s of lock timeout, 5 s in all.
follow() {
	GIT_WORKTREE_PORTS_LOCK_TIMEOUT=2000 timeout 5 "$@"
}

# Start an allocate or a release (alternately) of a random service in a
# random worktree, SIGKILL it after 0-20 ms, then check the registry and
# that the next writer gets the lock at once. The tool is started directly,
# not through git, so that the pid killed is the one holding the locks.
kill_loop() {
	local i wts=($WORKTREES) svcs=($SERVICES) wt svc cmd pid us delay rc
	local answer ret=0
	coproc CHECK { python3 check-kill.py --serve; }
	for i in $(seq 1 $KILLS); do
		wt=${wts[RANDOM % 4]}
		svc=${svcs[RANDOM % 4]}
		if test $((i % 2)) = 1; then
			cmd=allocate
		else
			cmd=release
		fi
		# 0-20 ms, but half the time 0-5 ms, where an optimized
		# build does all its work.
		if test $((RANDOM % 2)) = 0; then
			us=$((RANDOM % 20001))
		else
			us=$((RANDOM % 5001))
		fi
		printf -v delay '0.%06d' $us
		git-worktree-ports -C "$wt" $cmd $svc -q >/dev/null 2>&1 &
		pid=$!
		sleep $delay
		kill -KILL $pid 2>/dev/null
		wait $pid 2>/dev/null
		rc=$?
		echo "$i: $cmd $svc in $wt, killed after $delay s (exit $rc)"

		if ! follow git -C "$wt" worktree-ports status --all --json \
			>status.json; then
			echo "status --all --json failed after kill $i" >&2
			ret=1
			break
		fi
		echo "model $(wt_name "$wt") $svc" >&"${CHECK[1]}"
		answer=
		read -r -t 60 answer <&"${CHECK[0]}"
		if test "$answer" != ok; then
			echo "the registry is wrong after kill $i" >&2
			ret=1
			break
		fi
		# A writer: allocate a service nothing else uses, and give
		# it back, each under the lock.
		if ! { follow git -C "$wt" worktree-ports allocate probe -q \
				>probe &&
			grep -Ex '[0-9]+' probe >/dev/null &&
			follow git -C "$wt" worktree-ports release probe -q; }
		then
			echo "a writer after kill $i failed or waited" >&2
			ret=1
			break
		fi
	done
	eval "exec ${CHECK[1]}>&-"
	wait $CHECK_PID
	return $ret
}

test_expect_success 'setup: a repository with 3 linked worktrees' '
	new_repo r &&
	set_ranges r svc0:12400-12431 svc1:12500-12531 svc2:12600-12631 \
		svc3:12700-12731 probe:12800-12831 &&
	git -C r worktree add -q ../w1 &&
	git -C r worktree add -q ../w2 &&
	git -C r worktree add -q ../w3 &&
	: >model &&
	for w in $WORKTREES
	do
		p=$(git -C $w worktree-ports allocate svc0 -q) &&
		echo "$(wt_name $w) svc0 $p" >>model || exit 1
	done &&
	git -C r worktree-ports status --all --json >status.json &&
	check_after_kill model - -
'

test_expect_success "$KILLS commands killed at random moments" '
	kill_loop
'

# Release what the model says each worktree holds, one by one, checking that
# each release gives back the port the registry recorded.
release_model() {
	local wt svc port
	while read -r wt svc port; do
		test "$wt" = .main && wt=r
		git -C "$wt" worktree-ports release $svc >out || return 1
		grep -F "released port $port ('$svc')" out || return 1
	done <model
}

test_expect_success 'every allocation left can be released' '
	release_model &&
	: >model &&
	git -C r worktree-ports status --all --json >status.json &&
	check_after_kill model - -
'

test_done
