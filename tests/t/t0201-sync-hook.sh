#!/bin/bash
test_description='the hook and sync set up a worktree from .worktree-ports.ini'
. "$(dirname "$0")/../lib.sh"

BEGIN='# >>> git-worktree-ports >>> (generated; edit .worktree-ports.ini instead)'
END='# <<< git-worktree-ports <<<'
REG=design/worktrees/ports.json

# write_ini FILE: three services, two env files, a project name and two
# derived variables, one of them needing quotes.
write_ini() {
	cat >"$1" <<-\EOF
	[env]
	file = .env, server/.env
	compose_project_name = true

	[service "web"]
	health = /health
	description = Frontend dev server

	[service "api"]

	[service "database"]
	health = tcp

	[vars]
	DATABASE_URL = postgres://app@127.0.0.1:${port:database}/app_${slug}
	API_URL = http://localhost:${port:api}/v1?a=1&b=2
	EOF
}

# hook_repo NAME BASE: a repository NAME with the hook installed, ranges
# web, api and database of ten ports each from BASE, and a committed
# .worktree-ports.ini (write_ini) and .gitignore (.env).
hook_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" \
		"database:$(($2 + 20))-$(($2 + 29))" &&
	git -C "$1" worktree-ports install-hooks >/dev/null &&
	write_ini "$1/.worktree-ports.ini" &&
	mkdir "$1/server" &&
	echo "the server" >"$1/server/README" &&
	echo .env >"$1/.gitignore" &&
	git -C "$1" add .worktree-ports.ini .gitignore server/README &&
	git -C "$1" commit -q -m "declare the ports"
}

# ports_of WT: "web api database" ports of worktree WT, from status --json.
ports_of() {
	git -C "$1" worktree-ports status --json >"$1.status" &&
	for s in web api database; do
		json_get "$1.status" "allocations[service=$s].port" || exit 1
	done | tr '\n' ' '
}

# expect_env WORKTREE PROJECT: the .env that WORKTREE should hold, built
# from the ports status --json reports for it, into the file 'expect'.
expect_env() {
	local web api db slug
	git -C "$1" worktree-ports status --json >"$1.status" &&
	test "$(json_get "$1.status" allocations.#)" = 3 &&
	web=$(json_get "$1.status" "allocations[service=web].port") &&
	api=$(json_get "$1.status" "allocations[service=api].port") &&
	db=$(json_get "$1.status" "allocations[service=database].port") &&
	slug=$(printf '%s' "$1" | tr A-Z- a-z_) &&
	cat >expect <<-EOF
	$BEGIN
	PORT_WEB=$web
	PORT_API=$api
	PORT_DATABASE=$db
	COMPOSE_PROJECT_NAME=$2
	DATABASE_URL=postgres://app@127.0.0.1:$db/app_$slug
	API_URL='http://localhost:$api/v1?a=1&b=2'
	$END
	EOF
}

# allocs_of REPO WT: how many allocations the registry of REPO holds for
# WT, read from the file itself (no command of the tool runs).
allocs_of() {
	json_get "$1/$REG" "allocations[worktree=$2].#"
}

# PATH without any directory holding git-worktree-ports.
path_without_tool() {
	local IFS=: dir out=
	for dir in $PATH; do
		test -x "$dir/git-worktree-ports" && continue
		out=${out:+$out:}$dir
	done
	printf '%s\n' "$out"
}

test_expect_success 'worktree add writes the reported ports into each target' '
	hook_repo h1 16100 &&
	git -C h1 worktree add -q ../h1-wt 2>err &&
	expect_env h1-wt h1-h1-wt &&
	test_cmp expect h1-wt/.env &&
	test_cmp expect h1-wt/server/.env &&
	json_get h1-wt.status "allocations[service=web].path" >actual &&
	(cd h1-wt && pwd -P) >expect &&
	test_cmp expect actual &&
	grep "^git-worktree-ports: PORT_WEB=" err
'

test_expect_success 'the ports are in their ranges and the env block parses' '
	hook_repo h2 16130 &&
	git -C h2 worktree add -q ../h2-wt &&
	set -- $(ports_of h2-wt) &&
	test "$1" -ge 16130 && test "$1" -le 16139 &&
	test "$2" -ge 16140 && test "$2" -le 16149 &&
	test "$3" -ge 16150 && test "$3" -le 16159 &&
	grep -c "^# >>> git-worktree-ports >>>" h2-wt/.env >begin &&
	grep -c "^# <<< git-worktree-ports <<<" h2-wt/.env >end &&
	echo 1 >one &&
	test_cmp one begin &&
	test_cmp one end &&
	env_block vars h2-wt/.env >vars &&
	grep -x "PORT_WEB=$1" vars &&
	grep -x "PORT_API=$2" vars &&
	grep -x "PORT_DATABASE=$3" vars
'

test_expect_success 'a branch checkout in the worktree keeps its ports' '
	hook_repo h3 16160 &&
	git -C h3 worktree add -q ../h3-wt &&
	ports_of h3-wt >before &&
	cp h3-wt/.env env.before &&
	git -C h3-wt checkout -q -b other 2>err &&
	grep "^git-worktree-ports: PORT_WEB=" err &&
	ports_of h3-wt >after &&
	test_cmp before after &&
	cmp env.before h3-wt/.env
'

test_expect_success 'a file checkout does not sync' '
	hook_repo h4 16190 &&
	git -C h4 worktree add -q ../h4-wt &&
	set -- $(ports_of h4-wt) &&
	sed "s/^PORT_WEB=.*/PORT_WEB=1/" h4-wt/.env >edited &&
	cp edited h4-wt/.env &&
	echo changed >>h4-wt/README &&
	git -C h4-wt checkout -- README 2>err &&
	! grep git-worktree-ports err &&
	test_cmp edited h4-wt/.env &&
	echo hello >expect &&
	test_cmp expect h4-wt/README &&
	git -C h4-wt checkout -q -b again &&
	grep "^PORT_WEB=$1\$" h4-wt/.env
'

test_expect_success 'GIT_WORKTREE_PORTS_SKIP=1 on worktree add does nothing' '
	hook_repo h5 16220 &&
	GIT_WORKTREE_PORTS_SKIP=1 git -C h5 worktree add -q ../h5-skip >out 2>&1 &&
	test_must_be_empty out &&
	! test -e h5-skip/.env &&
	! test -e h5-skip/server/.env &&
	test "$(allocs_of h5 h5-skip)" = 0 &&
	git -C h5 worktree add -q ../h5-wt 2>/dev/null &&
	test -f h5-wt/.env &&
	test "$(allocs_of h5 h5-wt)" = 3
'

test_expect_success 'GIT_WORKTREE_PORTS_SKIP=1 on a branch checkout does nothing' '
	hook_repo h5b 16600 &&
	git -C h5b worktree add -q ../h5b-wt 2>/dev/null &&
	git -C h5b-wt worktree-ports release web >/dev/null 2>&1 &&
	echo "PORT_WEB=1" >>h5b-wt/.env &&
	cp h5b-wt/.env edited &&
	cp h5b/$REG reg.before &&
	GIT_WORKTREE_PORTS_SKIP=1 git -C h5b-wt checkout -q -b other >out 2>&1 &&
	test_must_be_empty out &&
	test_cmp edited h5b-wt/.env &&
	cmp reg.before h5b/$REG
'

test_expect_success 'a tracked .env gets a warning naming it' '
	hook_repo h5c 16630 &&
	git -C h5c checkout -q -b tracked 2>/dev/null &&
	echo "MINE=1" >h5c/.env &&
	git -C h5c add -f .env &&
	git -C h5c commit -q -m "track .env" &&
	git -C h5c checkout -q main 2>/dev/null &&
	git -C h5c worktree add -q ../h5c-wt tracked 2>err &&
	grep "^warning: \.env is tracked by git" err &&
	! grep "^warning: server/\.env" err &&
	grep "^MINE=1\$" h5c-wt/.env &&
	grep "^PORT_WEB=" h5c-wt/.env
'

test_expect_success 'a repository without .worktree-ports.ini is left alone' '
	new_repo h6 &&
	set_ranges h6 web:16250-16259 &&
	git -C h6 worktree-ports install-hooks >/dev/null &&
	test -x h6/.git/hooks/post-checkout &&
	cp h6/$REG reg.before &&
	git -C h6 worktree add -q ../h6-wt >out 2>&1 &&
	test_must_be_empty out &&
	! test -e h6-wt/.env &&
	git -C h6-wt checkout -q -b other >out 2>&1 &&
	test_must_be_empty out &&
	! test -e h6-wt/.env &&
	cmp reg.before h6/$REG
'

test_expect_success 'a repository without a registry is left alone' '
	hook_repo h7 16260 &&
	# no registry and no copy of one (t0506 has the restore)
	rm -r h7/design h7/.git/worktree-ports &&
	git -C h7 worktree add -q ../h7-wt >out 2>&1 &&
	test_must_be_empty out &&
	! test -e h7-wt/.env &&
	! test -e h7-wt/server/.env &&
	! test -e h7/design
'

test_expect_success 'a corrupt registry: worktree add succeeds with a warning' '
	hook_repo h8 16290 &&
	echo "{ oops" >h8/$REG &&
	cp h8/$REG reg.before &&
	git -C h8 worktree add -q ../h8-wt >out 2>err &&
	test -f h8-wt/README &&
	grep "^warning: .*ports\.json:1:" err &&
	! grep "^error:" err &&
	cmp reg.before h8/$REG &&
	! test -e h8-wt/.env
'

test_expect_success 'an exhausted range: worktree add succeeds, the other services are written' '
	hook_repo h9 16320 &&
	set_ranges h9 web:16320-16329 api:16330-16339 database:16340-16340 &&
	git -C h9 worktree-ports allocate database -q >main.port &&
	echo 16340 >expect &&
	test_cmp expect main.port &&
	git -C h9 worktree add -q ../h9-wt >out 2>err &&
	test -f h9-wt/README &&
	grep "^warning: worktree ${SQ}h9-wt${SQ}: no port for service ${SQ}database${SQ} (PORT_DATABASE): no free port in range ${SQ}database${SQ}" err &&
	! grep "^error:" err &&
	# the services that got a port are written, the missing one noted
	grep "^PORT_WEB=1632[0-9]$" h9-wt/.env &&
	! grep "^PORT_DATABASE=" h9-wt/.env &&
	grep "^# PORT_DATABASE is not set" h9-wt/.env
'

test_expect_success 'a bad config line: worktree add warns, naming the line' '
	hook_repo h10 16350 &&
	git -C h10 checkout -q -b bad 2>/dev/null &&
	cat >h10/.worktree-ports.ini <<-\EOF &&
	[env]
	file = .env

	[service "web"]
	this line is neither a key nor a section
	EOF
	git -C h10 commit -q -a -m "break the config" &&
	git -C h10 checkout -q main 2>/dev/null &&
	git -C h10 worktree add -q ../h10-wt bad >out 2>err &&
	test -f h10-wt/README &&
	grep "^warning: .*/\.worktree-ports\.ini:5: " err &&
	! grep "^error:" err &&
	! test -e h10-wt/.env &&
	test "$(allocs_of h10 h10-wt)" = 0
'

test_expect_success 'the tool missing from PATH: worktree add warns' '
	hook_repo h11 16380 &&
	p=$(path_without_tool) &&
	! env PATH="$p" sh -c "command -v git-worktree-ports" &&
	PATH=$p git -C h11 worktree add -q ../h11-wt >out 2>err &&
	test -f h11-wt/README &&
	echo "warning: git-worktree-ports not found in PATH; ports were not set up" >expect &&
	test_cmp expect err &&
	! test -e h11-wt/.env &&
	test "$(allocs_of h11 h11-wt)" = 0
'

test_expect_success 'sync releases services no longer declared, with a note' '
	hook_repo h12 16410 &&
	git -C h12 worktree add -q ../h12-wt &&
	set -- $(ports_of h12-wt) &&
	sed -e "/^\[service \"api\"\]/d" -e "/^API_URL/d" \
		h12-wt/.worktree-ports.ini >ini &&
	cp ini h12-wt/.worktree-ports.ini &&
	git -C h12-wt worktree-ports sync >out 2>err &&
	grep "^note: released port $2 (${SQ}api${SQ}): .worktree-ports.ini no longer declares it\$" err &&
	git -C h12-wt worktree-ports status --json >status &&
	test "$(json_get status allocations.#)" = 2 &&
	test "$(json_get status "allocations[service=api].#")" = 0 &&
	test "$(json_get status "allocations[service=web].port")" = $1 &&
	! grep "^PORT_API=" h12-wt/.env &&
	! grep "^API_URL=" h12-wt/.env &&
	grep "^PORT_DATABASE=$3\$" h12-wt/server/.env
'

test_expect_success 'a second sync writes nothing' '
	hook_repo h13 16440 &&
	git -C h13 worktree add -q ../h13-wt &&
	git -C h13-wt worktree-ports sync >/dev/null &&
	touch -d "2001-02-03 04:05:06" h13-wt/.env h13-wt/server/.env &&
	stat -c "%i %Y" h13-wt/.env h13-wt/server/.env >before &&
	git -C h13-wt worktree-ports sync >out &&
	stat -c "%i %Y" h13-wt/.env h13-wt/server/.env >after &&
	test_cmp before after &&
	grep "^unchanged .env\$" out &&
	grep "^unchanged server/.env\$" out &&
	ls -a h13-wt h13-wt/server >files &&
	! grep "\.env\." files
'

test_expect_success 'plain worktree remove: the next command releases the ports' '
	hook_repo h14 16470 &&
	git -C h14 worktree add -q ../h14-wt &&
	set -- $(ports_of h14-wt) &&
	test "$(allocs_of h14 h14-wt)" = 3 &&
	git -C h14 worktree remove ../h14-wt &&
	! test -e h14-wt &&
	test "$(allocs_of h14 h14-wt)" = 3 &&
	git -C h14 worktree-ports status >out 2>err &&
	for p in "$@"; do
		grep "^note: released port $p (.*) of removed worktree ${SQ}h14-wt${SQ}\$" err ||
		exit 1
	done &&
	test "$(allocs_of h14 h14-wt)" = 0
'

test_expect_success 'plain worktree remove: a hook run elsewhere releases them' '
	hook_repo h15 16500 &&
	git -C h15 worktree add -q ../h15-a &&
	git -C h15 worktree add -q ../h15-b &&
	git -C h15 worktree remove ../h15-a &&
	test "$(allocs_of h15 h15-a)" = 3 &&
	git -C h15-b checkout -q -b other 2>err &&
	grep "of removed worktree ${SQ}h15-a${SQ}" err &&
	test "$(allocs_of h15 h15-a)" = 0 &&
	test "$(allocs_of h15 h15-b)" = 3
'

test_expect_success 'worktree-ports remove releases the ports and removes it' '
	hook_repo h16 16530 &&
	git -C h16 worktree add -q ../h16-wt &&
	set -- $(ports_of h16-wt) &&
	git -C h16 worktree-ports remove h16-wt >out &&
	for p in "$@"; do
		grep "^released port $p " out || exit 1
	done &&
	grep "^removed worktree ${SQ}h16-wt${SQ} " out &&
	! test -e h16-wt &&
	git -C h16 worktree list --porcelain >list &&
	! grep h16-wt list &&
	test "$(allocs_of h16 h16-wt)" = 0
'

test_expect_success 'remove --force of a locked worktree keeps its ports' '
	hook_repo h19 16660 &&
	git -C h19 worktree add -q ../h19-wt &&
	git -C h19 worktree lock ../h19-wt &&
	test_expect_code 1 git -C h19 worktree-ports remove --force h19-wt 2>err &&
	grep "^hint: .*git worktree unlock" err &&
	test -d h19-wt &&
	test "$(allocs_of h19 h19-wt)" = 3 &&
	git -C h19 worktree unlock ../h19-wt &&
	git -C h19 worktree-ports remove --force h19-wt >out &&
	test "$(allocs_of h19 h19-wt)" = 0
'

test_expect_success 'remove of a dirty worktree without --force keeps its ports' '
	hook_repo h17 16560 &&
	git -C h17 worktree add -q ../h17-wt &&
	ports_of h17-wt >before &&
	echo local change >>h17-wt/README &&
	test_expect_code 1 git -C h17 worktree-ports remove h17-wt >out 2>err &&
	grep "^error: .*refused" err &&
	test -d h17-wt &&
	grep "local change" h17-wt/README &&
	test "$(allocs_of h17 h17-wt)" = 3 &&
	ports_of h17-wt >after &&
	test_cmp before after &&
	git -C h17 worktree-ports remove --force h17-wt >out &&
	! test -e h17-wt &&
	test "$(allocs_of h17 h17-wt)" = 0
'

# Before the hook, a fresh worktree can be removed with plain 'git
# worktree remove'; the .env the hook writes must not take that away
# from a repository that does not ignore .env.
test_expect_success 'a fresh worktree stays removable without a .gitignore' '
	new_repo h18 &&
	set_ranges h18 web:16590-16599 &&
	git -C h18 worktree-ports install-hooks >/dev/null &&
	printf "[service \"web\"]\n" >h18/.worktree-ports.ini &&
	git -C h18 add .worktree-ports.ini &&
	git -C h18 commit -q -m "declare the ports" &&
	git -C h18 worktree add -q ../h18-wt 2>/dev/null &&
	grep "^PORT_WEB=" h18-wt/.env &&
	git -C h18 worktree remove ../h18-wt &&
	! test -e h18-wt
'

test_done
