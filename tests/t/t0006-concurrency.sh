#!/bin/bash
test_description='many invocations at once never share a port or lose an update'
. "$(dirname "$0")/../lib.sh"

NR_WT=8
SERVICES='svc0 svc1 svc2 svc3'
REG=r/design/worktrees/ports.json

# check_registry EXPECT: the registry of 'r' is valid JSON and holds exactly
# the allocations listed in EXPECT, one "WORKTREE SERVICE PORT" a line (PORT
# may be '-' when any port will do): every port distinct, in the range of
# its service, every (worktree, service) once, each with the path of its
# worktree, and metadata.total_allocations equal to the count.
check_registry() {
	python3 - "$REG" "$1" "$TRASH" <<-'EOF'
	import json, os, sys
	reg_path, expect_path, trash = sys.argv[1:4]
	with open(reg_path) as f:
	    reg = json.load(f)
	problems = []
	allocs = reg["allocations"]
	ranges = reg["ranges"]
	ports = [a["port"] for a in allocs]
	if len(set(ports)) != len(ports):
	    problems.append("duplicate ports: %s" % sorted(
	        p for p in set(ports) if ports.count(p) > 1))
	pairs = [(a["worktree"], a["service"]) for a in allocs]
	if len(set(pairs)) != len(pairs):
	    problems.append("duplicate (worktree, service): %s" % sorted(
	        p for p in set(pairs) if pairs.count(p) > 1))
	for a in allocs:
	    r = ranges.get(a["service"])
	    if not r or not r["start"] <= a["port"] <= r["end"]:
	        problems.append("port %d of %s outside its range" %
	                        (a["port"], a["service"]))
	    want = os.path.realpath(os.path.join(trash, a["worktree"]))
	    if os.path.realpath(a.get("path") or "") != want:
	        problems.append("path of %s is %r" % (a["worktree"], a.get("path")))
	expect = {}
	with open(expect_path) as f:
	    for line in f:
	        wt, svc, port = line.split()
	        expect[(wt, svc)] = port
	have = {(a["worktree"], a["service"]): a["port"] for a in allocs}
	for k in sorted(set(expect) - set(have)):
	    problems.append("lost: %s %s" % k)
	for k in sorted(set(have) - set(expect)):
	    problems.append("unexpected: %s %s port %d" % (k + (have[k],)))
	for k in sorted(set(expect) & set(have)):
	    if expect[k] != "-" and int(expect[k]) != have[k]:
	        problems.append("%s %s: printed %s, registry has %d" %
	                        (k + (expect[k], have[k])))
	total = reg["metadata"]["total_allocations"]
	if total != len(allocs):
	    problems.append("metadata.total_allocations is %r, not %d" %
	                    (total, len(allocs)))
	for p in problems:
	    print("check_registry:", p, file=sys.stderr)
	sys.exit(1 if problems else 0)
	EOF
}

# Wait for every pid in the array 'pids' and fail if any exited non-zero;
# the command each ran is in 'cmds' at the same index.
wait_all() {
	local i rc failed=0
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}"
		rc=$?
		if test $rc != 0; then
			echo "exit $rc: ${cmds[$i]}" >&2
			failed=1
		fi
	done
	return $failed
}

# run_bg DIR ARGS...: start 'git worktree-ports ARGS' in worktree DIR in the
# background, output in out/DIR.ARGS (spaces as _), stderr beside it.
run_bg() {
	local dir=$1 tag
	shift
	tag=$(printf '%s' "$dir $*" | tr ' ' _)
	(cd "$dir" && exec git worktree-ports "$@") \
		>"out/$tag" 2>"out/$tag.err" &
	pids+=($!)
	cmds+=("(in $dir) git worktree-ports $*")
}

# One round: all NR_WT x 4 allocations at once, then check that each
# printed a distinct port that the registry holds; then all the releases
# at once, and check the registry is empty.
allocate_round() {
	local w s pids=() cmds=()
	rm -rf out && mkdir out || return 1
	for w in $(seq 1 $NR_WT); do
		for s in $SERVICES; do
			run_bg w$w allocate $s -q
		done
	done
	wait_all || return 1
	: >expect
	for w in $(seq 1 $NR_WT); do
		for s in $SERVICES; do
			grep -Ex '[0-9]+' out/w${w}_allocate_${s}_-q ||
				{ echo "w$w $s printed no port" >&2; return 1; }
			echo "w$w $s $(cat out/w${w}_allocate_${s}_-q)" >>expect
		done
	done
	test "$(wc -l <expect)" = $((NR_WT * 4)) &&
	test "$(cut -d' ' -f3 expect | sort -u | wc -l)" = $((NR_WT * 4)) ||
		{ echo "printed ports are not distinct" >&2; cat expect >&2; return 1; }
	check_registry expect || return 1

	pids=() cmds=()
	for w in $(seq 1 $NR_WT); do
		for s in $SERVICES; do
			run_bg w$w release $s
		done
	done
	wait_all || return 1
	: >empty
	check_registry empty
}

test_expect_success 'setup: a repository with 8 linked worktrees' '
	new_repo r &&
	set_ranges r svc0:12000-12063 svc1:12100-12163 svc2:12200-12263 \
		svc3:12300-12363 &&
	for w in $(seq 1 $NR_WT)
	do
		git -C r worktree add -q ../w$w || exit 1
	done &&
	test "$(git -C r worktree list --porcelain | grep -c ^worktree)" = 9
'

for round in 1 2 3 4; do
	test_expect_success "round $round: 32 allocations at once get 32 ports" '
		allocate_round
	'
done

test_expect_success '32 processes asking for one service share one port' '
	pids=() cmds=() &&
	rm -rf out && mkdir out &&
	for i in $(seq 1 32)
	do
		(cd w3 && exec git worktree-ports allocate svc2 -q) \
			>out/$i 2>out/$i.err &
		pids+=($!) cmds+=("allocate svc2 #$i")
	done &&
	wait_all &&
	cat out/[0-9]* | sort -u >ports &&
	test "$(wc -l <ports)" = 1 &&
	echo "w3 svc2 $(cat ports)" >expect &&
	check_registry expect &&
	git -C w3 worktree-ports release svc2 >/dev/null &&
	check_registry empty
'

# Mixed rounds: worktrees hold 'held' services; at once, each releases
# 'drop' and allocates 'add'. Every release must find its port and every
# allocation must survive the concurrent rewrites.
mixed_round() {
	local held=$1 drop=$2 add=$3 w s pids=() cmds=()
	rm -rf out && mkdir out || return 1
	for w in $(seq 1 $NR_WT); do
		for s in $drop; do
			run_bg w$w release $s
		done
		for s in $add; do
			run_bg w$w allocate $s -q
		done
	done
	wait_all || return 1
	: >expect
	for w in $(seq 1 $NR_WT); do
		for s in $drop; do
			grep "^w$w $s " before >released.want &&
			port=$(cut -d" " -f3 released.want) &&
			grep -F "port $port ('$s')" out/w${w}_release_$s ||
				{ echo "w$w: release $s did not report port $port" >&2
				  return 1; }
		done
		for s in $held; do
			case " $drop " in *" $s "*) continue ;; esac
			grep "^w$w $s " before >>expect || return 1
		done
		for s in $add; do
			echo "w$w $s $(cat out/w${w}_allocate_${s}_-q)" >>expect
		done
	done
	check_registry expect || return 1
	cp expect before
}

test_expect_success 'mixed: releases and allocations at once lose nothing' '
	: >before &&
	for w in $(seq 1 $NR_WT)
	do
		for s in svc0 svc1
		do
			p=$(git -C w$w worktree-ports allocate $s -q) &&
			echo "w$w $s $p" >>before || exit 1
		done
	done &&
	check_registry before &&
	mixed_round "svc0 svc1" "svc0" "svc2 svc3" &&
	mixed_round "svc1 svc2 svc3" "svc1 svc2" "svc0" &&
	mixed_round "svc0 svc3" "svc3" "svc1 svc2" &&
	mixed_round "svc0 svc1 svc2" "svc0 svc1 svc2" "svc3"
'

test_done
