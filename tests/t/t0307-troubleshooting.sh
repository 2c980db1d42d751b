#!/bin/bash
test_description='docs/troubleshooting.md: the stale server scenario runs as written'
. "$(dirname "$0")/../lib.sh"

DOC=$SRC_DIR/docs/troubleshooting.md
PORT=21500

# scenario_script: the sh blocks of the section "A stale server on 3000",
# in order, as a script for this machine: in $TRASH/scn rather than a
# fresh temp dir, on $PORT rather than 3000, with the api range of the
# new registry moved into this script's port block.
scenario_script() {
	awk '
		/^## / { inside = ($0 ~ /^## A stale server on 3000/) }
		inside && /^```sh$/ { code = 1; next }
		inside && /^```$/ { code = 0; next }
		inside && code { print }
	' "$DOC" |
	sed -e "s|^cd \"\$(mktemp -d)\"\$|mkdir scn \&\& cd scn|" \
		-e "s/\\b3000\\b/$PORT/g" \
		-e "/^git worktree-ports init --no-hooks\$/a\\
\"\$TEST_TOOL\" set-ranges design/worktrees/ports.json api:$PORT-$((PORT + 99))"
}

stop_listeners() {
	local pid
	for pid in $(git -C "$TRASH/scn/app" worktree-ports who -q $PORT 2>/dev/null); do
		kill "$pid"
	done
	return 0
}

test_expect_success 'the scenario has its steps' '
	scenario_script >scenario.sh &&
	grep "^mkdir scn && cd scn$" scenario.sh &&
	grep "set-ranges design/worktrees/ports.json api:$PORT-" scenario.sh &&
	grep "^git worktree remove --force ../review" scenario.sh &&
	grep "^git worktree-ports who $PORT$" scenario.sh &&
	grep "^kill \"\$(git worktree-ports who $PORT -q)\"$" scenario.sh &&
	! grep -w 3000 scenario.sh
'

test_expect_success 'run as written, it finds the orphan and the fix clears it' '
	test_when_finished stop_listeners &&
	check_ports listener $PORT &&
	bash scenario.sh >out 2>&1 &&
	pid=$(sed -n "s/^verdict: an orphan of a removed worktree; stop it with ${SQ}kill \([0-9]*\)${SQ}$/\1/p" out) &&
	test -n "$pid" &&
	grep "^    directory: .*/review (deleted)$" out &&
	grep "^note: released port $PORT (${SQ}api${SQ}) of removed worktree ${SQ}review${SQ}$" out &&
	grep "^orphan_process: port $PORT of range ${SQ}api${SQ} is held by pid $pid (.*python3 -m http.server $PORT --bind 127.0.0.1) in .*/review (deleted), an orphan of removed worktree ${SQ}review${SQ}[,;].* fix: kill $pid$" out &&
	grep "^exit 9$" out &&
	tail -n 1 out >last &&
	echo "no conflicts" >expect &&
	test_cmp expect last &&
	git -C scn/app worktree-ports who -q $PORT >pids &&
	test_must_be_empty pids
'

test_done
