#!/bin/bash
test_description='sync keeps every byte of .env outside its block'
. "$(dirname "$0")/../lib.sh"
. "$SRC_DIR/tests/lib-crash.sh"

BEGIN='# >>> git-worktree-ports >>> (generated; edit .worktree-ports.ini instead)'
END='# <<< git-worktree-ports <<<'

# check_env ENV OUTSIDE POS EOL NAME=VALUE...: ENV is the bytes of the
# file OUTSIDE with, at byte POS, exactly the block holding the NAME=VALUE
# lines, each line ending in EOL: lf, crlf, or lf-noend (lf, but the end
# marker has no line end, as the last line of a file).
check_env() {
	local env=$1 outside=$2 pos=$3 eol=$4 nl='\n' v
	shift 4
	test "$eol" = crlf && nl='\r\n'
	{
		head -c "$pos" "$outside" &&
		printf "%s$nl" "$BEGIN" &&
		for v; do
			printf "%s$nl" "$v" || return 1
		done &&
		if test "$eol" = lf-noend; then
			printf "%s" "$END"
		else
			printf "%s$nl" "$END"
		fi &&
		tail -c +$((pos + 1)) "$outside"
	} >"$TRASH/check-env.want" || return 1
	if ! cmp -s "$TRASH/check-env.want" "$env"; then
		echo "check_env: $env is" &&
		od -c "$env" &&
		echo "not" &&
		od -c "$TRASH/check-env.want"
		return 1
	fi >&2
}

# env_repo NAME BASE: a repository NAME without the hook, ranges web and
# api of ten ports each from BASE, a committed .worktree-ports.ini
# (services web and api, a derived URL that needs quotes), and a linked
# worktree NAME-wt in which nothing is synced yet.
env_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" &&
	cat >"$1/.worktree-ports.ini" <<-\EOF &&
	[env]
	file = .env

	[service "web"]

	[service "api"]

	[vars]
	URL = http://127.0.0.1:${port:web}/x?a=1&b=2
	EOF
	git -C "$1" add .worktree-ports.ini &&
	git -C "$1" commit -q -m "declare the ports" &&
	git -C "$1" worktree add -q "../$1-wt" 2>/dev/null
}

# block_vars WT: the NAME=VALUE lines the block of WT should hold, from
# the ports status --json reports, one argument each, into $vars.
block_vars() {
	local web api
	git -C "$1" worktree-ports status --json >"$1.status" &&
	web=$(json_get "$1.status" "allocations[service=web].port") &&
	api=$(json_get "$1.status" "allocations[service=api].port") &&
	vars="PORT_WEB=$web PORT_API=$api URL='http://127.0.0.1:$web/x?a=1&b=2'"
}

# two_syncs NAME BASE OUTSIDE POS EOL: with the file NAME.env as the .env
# of a fresh worktree (mode 0600), sync; then release its ports, move the
# ranges and sync again. After each sync the file must be OUTSIDE with
# the block at POS (check_env), of mode 0600, and the ports must have
# changed between the two.
two_syncs() {
	local vars first
	env_repo "$1" "$2" &&
	cp "$1.env" "$1-wt/.env" &&
	chmod 600 "$1-wt/.env" &&
	git -C "$1-wt" worktree-ports sync >out &&
	grep "^wrote .env\$" out &&
	block_vars "$1-wt" &&
	first=$vars &&
	check_env "$1-wt/.env" "$3" "$4" "$5" $vars &&
	test "$(stat -c %a "$1-wt/.env")" = 600 &&
	git -C "$1-wt" worktree-ports release --all >/dev/null &&
	set_ranges "$1" "web:$(($2 + 50))-$(($2 + 59))" \
		"api:$(($2 + 60))-$(($2 + 69))" &&
	git -C "$1-wt" worktree-ports sync >out &&
	grep "^wrote .env\$" out &&
	block_vars "$1-wt" &&
	test "$vars" != "$first" &&
	check_env "$1-wt/.env" "$3" "$4" "$5" $vars &&
	test "$(stat -c %a "$1-wt/.env")" = 600 &&
	env_block outside "$1-wt/.env" >outside &&
	cmp "$3" outside
}

test_expect_success 'comments and blank lines are kept' '
	printf "%s\n" "# the project" "" "FOO=bar" "   # indented" "" "" \
		"BAZ=1 # trailing" >p1.env &&
	printf "\n\n" >>p1.env &&
	two_syncs p1 17600 p1.env $(wc -c <p1.env) lf
'

test_expect_success 'CRLF line ends are kept, and the block uses them' '
	printf "# windows\r\nA=1\r\n\r\nB=two words\r\n" >p2.env &&
	two_syncs p2 17700 p2.env $(wc -c <p2.env) crlf
'

test_expect_success 'export lines are kept' '
	printf "%s\n" "export A=1" "export  B=\"x y\"" "	export C=3" \
		"exported=no" >p3.env &&
	two_syncs p3 17800 p3.env $(wc -c <p3.env) lf
'

test_expect_success 'quoted values are kept' '
	cat >p4.env <<-\EOF &&
	A="double # not a comment"
	B='"'"'single $HOME `x`'"'"'
	C="multi
	line"
	D="escaped \" quote"
	E=${A}-$B
	EOF
	two_syncs p4 17900 p4.env $(wc -c <p4.env) lf
'

test_expect_success 'a missing final newline gets one, before the block' '
	printf "A=1\nB=2" >p5.env &&
	printf "A=1\nB=2\n" >p5.outside &&
	two_syncs p5 18000 p5.outside 8 lf
'

test_expect_success 'a block in the middle is replaced where it is' '
	printf "# before\nBEFORE=1\n" >p6.before &&
	printf "AFTER=2\n# after\n" >p6.after &&
	{
		cat p6.before &&
		echo "$BEGIN" &&
		echo "PORT_WEB=1" &&
		echo "# a line added by hand" &&
		echo "$END" &&
		cat p6.after
	} >p6.env &&
	cat p6.before p6.after >p6.outside &&
	two_syncs p6 18100 p6.outside $(wc -c <p6.before) lf
'

test_expect_success 'a block ending the file without a newline keeps none' '
	printf "A=1\n%s\nPORT_WEB=1\n%s" "$BEGIN" "$END" >p7.env &&
	printf "A=1\n" >p7.outside &&
	two_syncs p7 18200 p7.outside 4 lf-noend
'

test_expect_success 'a block with nothing left in it is removed cleanly' '
	env_repo e1 18700 &&
	printf "# mine\nA=1\n" >e1-wt/.env &&
	chmod 600 e1-wt/.env &&
	cp e1-wt/.env e1.orig &&
	git -C e1-wt worktree-ports sync >/dev/null &&
	grep "^PORT_WEB=" e1-wt/.env &&
	printf "[env]\nfile = .env\n" >e1-wt/.worktree-ports.ini &&
	git -C e1-wt worktree-ports sync >out 2>err &&
	grep "^wrote .env\$" out &&
	cmp e1.orig e1-wt/.env &&
	test "$(stat -c %a e1-wt/.env)" = 600 &&
	json_get e1/design/worktrees/ports.json "allocations[worktree=e1-wt].#" >actual &&
	echo 0 >expect &&
	test_cmp expect actual
'

test_expect_success ROOT 'the owner of .env is kept' '
	env_repo o1 18750 &&
	echo "A=1" >o1-wt/.env &&
	chown 65534:65534 o1-wt/.env &&
	chmod 640 o1-wt/.env &&
	git -C o1-wt worktree-ports sync >out &&
	grep "^wrote .env\$" out &&
	grep "^PORT_WEB=" o1-wt/.env &&
	test "$(stat -c "%u %g %a" o1-wt/.env)" = "65534 65534 640"
'

test_expect_success 'a begin marker without an end marker is left alone' '
	env_repo u1 18770 &&
	printf "A=1\n%s\nPORT_WEB=1\nB=2\n" "$BEGIN" >u1-wt/.env &&
	cp u1-wt/.env u1.before &&
	touch -d "2001-02-03 04:05:06" u1-wt/.env &&
	stat -c "%i %Y" u1-wt/.env >stat.before &&
	test_expect_code 4 git -C u1-wt worktree-ports sync >out 2>err &&
	grep "^error: .*/\.env:2: unterminated git-worktree-ports block" err &&
	cmp u1.before u1-wt/.env &&
	stat -c "%i %Y" u1-wt/.env >stat.after &&
	test_cmp stat.before stat.after
'

test_expect_success 'a symlinked .env leading outside is refused' '
	env_repo s1 18300 &&
	echo "OUTSIDE=1" >outside.env &&
	chmod 640 outside.env &&
	cp outside.env outside.before &&
	touch -d "2001-02-03 04:05:06" outside.env &&
	stat -c "%i %Y %a" outside.env >stat.before &&
	ln -s ../outside.env s1-wt/.env &&
	test_must_fail git -C s1-wt worktree-ports sync >out 2>err &&
	grep "^error: .*\.env" err &&
	cmp outside.before outside.env &&
	stat -c "%i %Y %a" outside.env >stat.after &&
	test_cmp stat.before stat.after &&
	test -h s1-wt/.env &&
	test "$(readlink s1-wt/.env)" = ../outside.env &&
	ls -a s1-wt >files &&
	! grep "^\.\..*env" files &&
	! ls -a . | grep "outside\.env\."
'

test_expect_success 'an absolute symlink leading outside is refused too' '
	env_repo s2 18400 &&
	echo "OUTSIDE=1" >outside2.env &&
	cp outside2.env outside2.before &&
	ln -s "$TRASH/outside2.env" s2-wt/.env &&
	test_must_fail git -C s2-wt worktree-ports sync 2>err &&
	grep "^error: .*\.env" err &&
	cmp outside2.before outside2.env &&
	test "$(readlink s2-wt/.env)" = "$TRASH/outside2.env"
'

test_expect_success 'a symlinked .env inside the worktree is written through' '
	env_repo s3 18500 &&
	mkdir s3-wt/conf &&
	echo "INSIDE=1" >s3-wt/conf/dev.env &&
	ln -s conf/dev.env s3-wt/.env &&
	git -C s3-wt worktree-ports sync >/dev/null &&
	test -h s3-wt/.env &&
	test "$(readlink s3-wt/.env)" = conf/dev.env &&
	block_vars s3-wt &&
	echo "INSIDE=1" >inside.outside &&
	check_env s3-wt/conf/dev.env inside.outside 9 lf $vars
'

# A sync killed at each of its crash points (tests/lib-crash.sh: every
# write, fsync and rename, found with strace), going from the .env one
# registry gives the worktree to the one another gives: the file is the
# old one, byte for byte, when killed before the rename of .env.new over
# it, and the new one after, and keeps its mode; the next sync ends at
# the new one.
test_expect_success 'SIGKILL during sync leaves the old or the new .env' '
	env_repo k1 18600 &&
	REG=k1/design/worktrees/ports.json &&
	cp $REG reg.A &&
	set_ranges k1 web:18650-18659 api:18660-18669 &&
	cp $REG reg.B &&
	printf "# mine\r\nKEEP=1\r\n" >k1-wt/.env &&
	chmod 600 k1-wt/.env &&
	cp reg.B $REG &&
	git-worktree-ports -C k1-wt sync >/dev/null &&
	cp k1-wt/.env env.B &&
	cp reg.A $REG &&
	git-worktree-ports -C k1-wt sync >/dev/null &&
	cp -p k1-wt/.env env.A &&
	grep "^PORT_WEB=1860[0-9]" env.A &&
	grep "^PORT_WEB=1865[0-9]" env.B &&
	cp reg.B $REG &&
	crash_save $REG k1/.git/worktree-ports/ports.log k1-wt/.env &&
	crash_test "git-worktree-ports -C k1-wt sync >/dev/null &&
		cmp env.B k1-wt/.env" git-worktree-ports -C k1-wt sync &&
	cmp env.A "$(crash_copy old k1-wt/.env)" &&
	cmp env.B "$(crash_copy new k1-wt/.env)" &&
	crash_both k1-wt/.env &&
	test "$(stat -c %a k1-wt/.env)" = 600
'

test_done
