#!/bin/bash
test_description='several repositories on one host; init, env and warnings that tell the truth'
. "$(dirname "$0")/../lib.sh"

# Ports 21900-21999.

# narrow_repo NAME: the database range is 21900-21903 in every one.
narrow_repo() {
	new_repo "$1" &&
	set_ranges "$1" "database:21900-21903" "web:21910-21919"
}

test_expect_success 'three repositories with the same narrow range: status --all shows the others as holders' '
	narrow_repo a &&
	narrow_repo b &&
	git -C a worktree-ports allocate database -q >a.port &&
	git -C a worktree-ports allocate database --worktree .main -q >/dev/null &&
	git -C b worktree-ports allocate database -q >b.port &&
	test "$(cat a.port)" != "$(cat b.port)" &&
	narrow_repo c &&
	git -C c worktree-ports status --all >out &&
	grep "^database 21900-21903.*: 0 allocated, 2 free$" out &&
	grep "^  held by $TRASH/a/design/worktrees/ports.json: $(cat a.port) (.main)$" out &&
	grep "^  held by $TRASH/b/design/worktrees/ports.json: $(cat b.port) (.main)$" out &&
	! grep "free: .*$(cat a.port)" out &&
	git -C c worktree-ports status --all --json >out.json &&
	json_lines out.json ranges.0.held_elsewhere port registry >held &&
	test_line_count = 2 held
'

test_expect_success 'the exhausted range names the registries that hold it and the line that widens it' '
	git -C c worktree-ports allocate database -q >/dev/null &&
	git -C c worktree-ports allocate database --worktree .main -q >/dev/null &&
	new_repo d &&
	set_ranges d "database:21900-21903" &&
	git -C d worktree-ports allocate database -q >/dev/null &&
	new_repo e &&
	set_ranges e "database:21900-21903" &&
	test_expect_code 5 git -C e worktree-ports allocate database 2>err &&
	grep "^error: no free port in range ${SQ}database${SQ} (21900-21903, 4 usable ports): 4 are held by other registries on this host: " err &&
	grep "$TRASH/a/design/worktrees/ports.json (1)" err &&
	grep "^hint: widen it: in \"ranges\" of $TRASH/e/design/worktrees/ports.json, set \"database\": {\"start\": 21900, \"end\": 21907}" err
'

test_expect_success 'a committed [range] gives a repository its own layout' '
	new_repo f &&
	printf "[range \"pg\"]\nstart = 21950\nend = 21959\ndescription = team layout\n[range \"bad\"]\nstart = 80\nend = 90\n[service \"db\"]\nrange = pg\n" \
		>f/.worktree-ports.ini &&
	git -C f worktree-ports sync >out 2>err &&
	grep "^note: range ${SQ}pg${SQ} (21950-21959) of .worktree-ports.ini added to the registry" err &&
	grep "^warning: .*:6: range \"bad\".start: ${SQ}80${SQ} is not a port from 1024 to 65535; ignored" err &&
	grep "^PORT_DB=21950$" f/.env &&
	test "$(json_get f/design/worktrees/ports.json ranges.pg.start)" = 21950 &&
	! grep "\"bad\"" f/design/worktrees/ports.json &&
	# the registry range wins over the file once it exists
	git -C f worktree-ports sync >out 2>err &&
	! grep "added to the registry" err
'

test_expect_success 'init in a repository with .worktree-ports.ini sets up the main worktree' '
	git init -q g &&
	printf "[service \"web\"]\n" >g/.worktree-ports.ini &&
	git -C g add .worktree-ports.ini &&
	git -C g commit -q -m ports &&
	git -C g worktree-ports init --no-hooks >out &&
	grep "^created " out &&
	grep "^ranges: web 8080-8099" out &&
	grep "^widen one by editing" out &&
	grep "^PORT_WEB=" g/.env &&
	git init -q h &&
	cp g/.worktree-ports.ini h/ &&
	git -C h worktree-ports init --no-hooks --no-sync >out &&
	! test -e h/.env
'

test_expect_success 'env before any sync says what is missing and exits 7' '
	test_expect_code 7 git -C h worktree-ports env >out 2>err &&
	grep "^error: worktree ${SQ}.main${SQ} has no port yet for PORT_WEB" err &&
	grep "^hint: run ${SQ}git worktree-ports sync${SQ}" err &&
	git -C h worktree-ports sync >/dev/null &&
	git -C h worktree-ports env >out &&
	grep "^PORT_WEB=" out
'

test_expect_success 'env --format sh starts with a comment saying not to export it into a shell' '
	git -C h worktree-ports env --format sh >out &&
	head -n 1 out | grep "^# for one command or a script" &&
	(eval "$(cat out)" && test -n "$PORT_WEB")
'

test_expect_success 'the shadowing warning says which value wins, by position' '
	printf "PORT_WEB=1\n" >h/.env.tmp &&
	cat h/.env >>h/.env.tmp &&
	printf "PORT_WEB=2\n" >>h/.env.tmp &&
	mv h/.env.tmp h/.env &&
	git -C h worktree-ports sync >/dev/null 2>err &&
	grep "^warning: .env:1: ${SQ}PORT_WEB${SQ} is also set before the git-worktree-ports block: the block comes last and wins" err &&
	grep "^warning: .env:5: ${SQ}PORT_WEB${SQ} is also set after the git-worktree-ports block: this line comes last and wins" err &&
	(set -a && . h/.env && test "$PORT_WEB" = 2)
'

test_expect_success 'the direnv recipe of the README: dotenv in .envrc, per directory' '
	command -v direnv >/dev/null &&
	echo dotenv >h/.envrc &&
	(cd h && direnv allow . 2>/dev/null) &&
	(cd h && direnv exec . sh -c "echo \$PORT_WEB") >got &&
	(set -a && . h/.env && echo "$PORT_WEB") >expect &&
	test_cmp expect got &&
	# outside the directory, nothing of it
	(cd "$TRASH" && unset PORT_WEB && direnv exec "$TRASH" sh -c "echo \${PORT_WEB-unset}") >got &&
	echo unset >expect &&
	test_cmp expect got
'

test_done
