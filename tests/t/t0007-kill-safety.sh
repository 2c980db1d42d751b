#!/bin/bash
test_description='a command killed at any moment leaves a usable registry'
. "$(dirname "$0")/../lib.sh"
. "$SRC_DIR/tests/lib-crash.sh"

WORKTREES='r w1 w2 w3'
REG=r/design/worktrees/ports.json

# check-kill.py MODEL WT SVC: the registry loads, holds no port twice and
# no (worktree, service) twice, and differs from the allocations recorded
# in the file MODEL (one "WORKTREE SERVICE PORT" a line) at most in the
# allocation of WT and SVC, the one the killed command was changing;
# status.json (the output of 'status --all --json') lists the same
# allocations. Then MODEL is updated to what the registry now holds.
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

# A command after the kill must take the lock the dead process held: a
# lock left held makes it fail after the lock timeout (10 s); the 60 s
# only bound a hang.
follow() {
	timeout 60 "$@" </dev/null
}

# kill_check WT SVC: after a kill of a command on SVC in WT, the registry
# loads and matches the model but for that allocation (check-kill.py,
# on a copy: the model moves only when a command runs whole), and the
# next writer gets the lock at once.
kill_check() {
	follow git -C "$1" worktree-ports status --all --json >status.json &&
	cp model model.try &&
	check_after_kill model.try "$(wt_name "$1")" "$2" &&
	follow git -C "$1" worktree-ports allocate probe -q >probe &&
	grep -Ex '[0-9]+' probe >/dev/null &&
	follow git -C "$1" worktree-ports release probe -q
}

# In each worktree in turn, an allocate of a new service or a release of
# the one it holds, killed at each of its crash points (tests/lib-crash.sh:
# every write, fsync and rename, found with strace), each kill checked
# with kill_check; then the command runs whole and the model follows.
kill_each() {
	local wt cmd svc n=0
	for wt in $WORKTREES; do
		if test $((n % 2)) = 0; then
			cmd=allocate svc=svc1
		else
			cmd=release svc=svc0
		fi
		n=$((n + 1))
		crash_save $REG r/design/worktrees/ports.log &&
		crash_test "kill_check $wt $svc" \
			git-worktree-ports -C "$wt" $cmd $svc -q &&
		crash_both $REG &&
		follow git -C "$wt" worktree-ports $cmd $svc -q >/dev/null &&
		follow git -C "$wt" worktree-ports status --all --json \
			>status.json &&
		check_after_kill model "$(wt_name "$wt")" $svc || return 1
	done
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

test_expect_success 'allocate and release killed at each crash point' '
	kill_each
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
