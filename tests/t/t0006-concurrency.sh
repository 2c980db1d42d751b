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
	local total
	json_lines "$REG" allocations worktree service port path >have &&
	total=$(json_get "$REG" metadata.total_allocations) &&
	json_lines "$REG" ranges @name start end >ranges &&
	awk -v trash="$(cd "$TRASH" && pwd -P)" -v total="$total" '
	function problem(p) { print "check_registry: " p >"/dev/stderr"; bad = 1 }
	FILENAME == ARGV[1] { start[$1] = $2; end[$1] = $3; next }
	FILENAME == ARGV[2] {
		n++
		k = $1 " " $2
		path = substr($0, length($1 $2 $3) + 4)
		if ($3 in port_of)
			problem("duplicate port: " $3)
		port_of[$3] = 1
		if (k in have)
			problem("duplicate (worktree, service): " k)
		have[k] = $3
		if (!($2 in start) || $3 < start[$2] || $3 > end[$2])
			problem("port " $3 " of " $2 " outside its range")
		if (path != trash "/" $1)
			problem("path of " $1 " is " path)
		next
	}
	{ want[$1 " " $2] = $3 }
	END {
		for (k in want)
			if (!(k in have))
				problem("lost: " k)
		for (k in have)
			if (!(k in want))
				problem("unexpected: " k " port " have[k])
			else if (want[k] != "-" && want[k] != have[k])
				problem(k ": printed " want[k] ", registry has " have[k])
		if (total != n + 0)
			problem("metadata.total_allocations is " total ", not " n + 0)
		exit bad
	}' ranges have "$1"
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
	set_ranges r svc0:13000-13063 svc1:13100-13163 svc2:13200-13263 \
		svc3:13300-13363 &&
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
