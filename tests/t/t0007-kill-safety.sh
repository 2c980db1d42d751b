#!/bin/bash
test_description='a command killed at any moment leaves a usable registry'
. "$(dirname "$0")/../lib.sh"
. "$SRC_DIR/tests/lib-crash.sh"

WORKTREES='r w1 w2 w3'
REG=r/design/worktrees/ports.json

# check_after_kill MODEL WT SVC: the registry loads, holds no port twice
# and no (worktree, service) twice, and differs from the allocations
# recorded in the file MODEL (one "WORKTREE SERVICE PORT" a line) at most
# in the allocation of WT and SVC, the one the killed command was
# changing; status.json (the output of 'status --all --json') lists the
# same allocations. Then MODEL is updated to what the registry now holds.
check_after_kill() {
	local total
	if ! json_lines "$REG" allocations worktree service port \
		>kill.have 2>kill.err; then
		echo "check-kill: the registry does not load: $(cat kill.err)" >&2
		return 1
	fi
	total=$(json_get "$REG" metadata.total_allocations) || return 1
	if ! json_lines status.json allocations worktree service port \
		>kill.shown 2>kill.err; then
		echo "check-kill: status --all --json: $(cat kill.err)" >&2
		return 1
	fi
	awk -v changed="$2 $3" -v total="$total" '
	function problem(p) { print "check-kill: " p >"/dev/stderr"; bad = 1 }
	FILENAME == ARGV[1] { before[$1 " " $2] = $3; next }
	FILENAME == ARGV[2] {
		n++
		k = $1 " " $2
		if ($3 in port)
			problem("duplicate port: " $3)
		port[$3] = 1
		if (k in have)
			problem("duplicate (worktree, service): " k)
		have[k] = $3
		next
	}
	{ shown[$1 " " $2] = $3 }
	END {
		if (total != n + 0)
			problem("metadata.total_allocations is " total ", not " n + 0)
		for (k in before)
			if (k != changed && (!(k in have) || have[k] != before[k]))
				problem(k " was " before[k] ", is " \
					((k in have) ? have[k] : "None"))
		for (k in have)
			if (k != changed && !(k in before))
				problem(k " was None, is " have[k])
		for (k in have)
			if (!(k in shown) || shown[k] != have[k])
				differ = 1
		for (k in shown)
			if (!(k in have))
				differ = 1
		if (differ)
			problem("status --all --json shows other allocations than the registry")
		exit bad
	}' "$1" kill.have kill.shown &&
	LC_ALL=C sort kill.have >"$1"
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
# loads and matches the model but for that allocation (check_after_kill,
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
		crash_save $REG r/.git/worktree-ports/ports.log &&
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
