#!/bin/bash
test_description='a hostile .worktree-ports.ini runs nothing and writes nothing outside'
. "$(dirname "$0")/../lib.sh"

# Each test commits a hostile .worktree-ports.ini in a repository with
# the hook installed and runs 'git worktree add', which must succeed.
# Every injected command would create $CANARY; the files that a config
# could aim at outside the new worktree (the folder NAME-out beside it,
# the main worktree, its .git/config and hooks, HOME and /tmp/x) are
# snapshotted before and compared after. Then every env file in the
# worktree is sourced by sh, which runs bash (BASH_ENV would load a
# script), and the output of 'env --format sh' is evaluated, and the
# canary must still not exist.
CANARY=$TRASH/canary

# hostile_repo NAME BASE: repository NAME with the hook, a range web of
# ten ports from BASE, a script evil.sh that creates the canary, and the
# folder NAME-out holding .env and x.env.
hostile_repo() {
	rm -f "$CANARY" &&
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" &&
	git -C "$1" worktree-ports install-hooks >/dev/null &&
	printf "#!/bin/sh\ntouch '%s'\n" "$CANARY" >"$1/evil.sh" &&
	chmod +x "$1/evil.sh" &&
	echo ".env" >"$1/.gitignore" &&
	mkdir "$1-out" &&
	echo "VICTIM=1" >"$1-out/.env" &&
	echo "VICTIM=2" >"$1-out/x.env"
}

# write_ini NAME: stdin into NAME/.worktree-ports.ini, with @CANARY@ and
# @OUT@ (the absolute path of NAME-out) replaced, then commit all.
write_ini() {
	sed -e "s|@CANARY@|$CANARY|g" -e "s|@OUT@|$TRASH/$1-out|g" \
		>"$1/.worktree-ports.ini" &&
	commit_all "$1"
}

commit_all() {
	git -C "$1" add -A &&
	git -C "$1" commit -q -m "a hostile config"
}

# snapshot NAME: names, types, modes, sizes, mtimes, link targets and
# contents of everything a sync in NAME-wt must leave alone.
snapshot() {
	local where="$1-out $1/.git/config $1/.git/hooks $HOME"
	find $where "$1" \( -path "$1/.git" -o -path "$1/design" \) -prune \
		-o -printf "%p %y %m %s %T@ %l\n" | sort &&
	find $where "$1" \( -path "$1/.git" -o -path "$1/design" \) -prune \
		-o -type f -exec sha256sum {} + | sort &&
	{ stat -c "%n %i %s %Y" /tmp/x 2>/dev/null || echo "no /tmp/x"; }
}

# hostile_add NAME: 'git worktree add' of NAME-wt succeeds (its output in
# NAME.err), runs nothing and changes nothing outside NAME-wt, and what
# it wrote can be sourced and evaluated without running anything.
hostile_add() {
	snapshot "$1" >"$1.before" &&
	git -C "$1" worktree add -q "../$1-wt" >"$1.out" 2>"$1.err" &&
	test -f "$1-wt/README" &&
	! test -e "$CANARY" &&
	snapshot "$1" >"$1.after" &&
	test_cmp "$1.before" "$1.after" &&
	source_all "$1-wt" &&
	! test -e "$CANARY"
}

# source_all WT: source each regular env file of WT in sh, and run bash
# from there; evaluate 'env --format sh' in bash.
source_all() {
	local f
	for f in $(cd "$1" && find . -name .git -prune -o -type f -name "*.env" -print); do
		(cd "$1" && sh -c "set -a && . \"$f\" && bash -c :") || return 1
	done &&
	(cd "$1" && git worktree-ports env --format sh >../"$1.sh" 2>/dev/null
	 eval "$(cat ../"$1.sh")" && bash -c :)
}

# warned NAME LINE: NAME.err has a warning naming line LINE of the config.
warned() {
	grep "^warning: .*/\.worktree-ports\.ini:$2: " "$1.err"
}

# var_skipped NAME LINE VAR: the template of VAR on LINE was refused with
# a warning, and the rest of the config was used.
var_skipped() {
	warned "$1" "$2" &&
	grep "^PORT_WEB=[0-9]*\$" "$1-wt/.env" &&
	! grep "^$3=" "$1-wt/.env"
}

# refused NAME LINE: the whole config was refused with a warning naming
# LINE, and nothing was written in the worktree.
refused() {
	warned "$1" "$2" &&
	! test -e "$1-wt/.env" &&
	test "$(json_get "$1/design/worktrees/ports.json" \
		"allocations[worktree=$1-wt].#")" = 0
}

test_expect_success 'a [vars] value with $(...) is skipped, nothing runs' '
	hostile_repo v1 18800 &&
	write_ini v1 <<-\EOF &&
	[service "web"]

	[vars]
	X = $(touch @CANARY@)
	Y = $(touch${IFS}@CANARY@)
	EOF
	hostile_add v1 &&
	var_skipped v1 4 X &&
	var_skipped v1 5 Y
'

test_expect_success 'a [vars] value with backquotes is skipped, nothing runs' '
	hostile_repo v2 18810 &&
	write_ini v2 <<-\EOF &&
	[service "web"]
	[vars]
	X = `touch @CANARY@`
	Y = http://a`touch${IFS}@CANARY@`
	EOF
	hostile_add v2 &&
	var_skipped v2 3 X &&
	var_skipped v2 4 Y
'

test_expect_success 'a [vars] value with ; | & or quotes is skipped' '
	hostile_repo v3 18820 &&
	write_ini v3 <<-\EOF &&
	[service "web"]
	[vars]
	A = a;touch @CANARY@
	B = a|touch @CANARY@
	C = x'"'"';touch @CANARY@;'"'"'
	D = x";touch @CANARY@;"
	E = a&&touch${IFS}@CANARY@
	EOF
	hostile_add v3 &&
	var_skipped v3 3 A &&
	var_skipped v3 4 B &&
	var_skipped v3 5 C &&
	var_skipped v3 6 D &&
	! grep -r touch v3-wt/.env
'

test_expect_success 'a [vars] value with ${HOME} or $HOME is not expanded' '
	hostile_repo v4 18830 &&
	write_ini v4 <<-\EOF &&
	[service "web"]
	[vars]
	A = ${HOME}/.ssh
	B = $HOME/.ssh
	C = ${port:web}${PATH}
	EOF
	hostile_add v4 &&
	var_skipped v4 3 A &&
	var_skipped v4 4 B &&
	var_skipped v4 5 C &&
	! grep -F "$HOME" v4-wt/.env
'

test_expect_success 'a [vars] name PATH is ignored, the rest is used' '
	hostile_repo n1 18840 &&
	write_ini n1 <<-\EOF &&
	[service "web"]
	[vars]
	PATH = .
	EOF
	hostile_add n1 &&
	var_skipped n1 3 PATH
'

test_expect_success 'a service var LD_PRELOAD is ignored: the default name is used' '
	hostile_repo n2 18850 &&
	write_ini n2 <<-\EOF &&
	[service "web"]
	var = LD_PRELOAD
	EOF
	hostile_add n2 &&
	var_skipped n2 2 LD_PRELOAD
'

test_expect_success 'a [vars] name GIT_DIR is ignored, the rest is used' '
	hostile_repo n3 18860 &&
	write_ini n3 <<-\EOF &&
	[service "web"]
	[vars]
	GIT_DIR = @OUT@
	EOF
	hostile_add n3 &&
	var_skipped n3 3 GIT_DIR
'

test_expect_success 'a [vars] name BASH_ENV is ignored, in any case' '
	hostile_repo n4 18870 &&
	write_ini n4 <<-\EOF &&
	[service "web"]
	[vars]
	bash_env = ./evil.sh
	EOF
	hostile_add n4 &&
	var_skipped n4 3 bash_env &&
	hostile_repo n5 18880 &&
	write_ini n5 <<-\EOF &&
	[service "web"]
	[vars]
	BASH_ENV = ./evil.sh
	EOF
	hostile_add n5 &&
	var_skipped n5 3 BASH_ENV
'

test_expect_success 'file = ../outside is refused' '
	hostile_repo f1 18890 &&
	write_ini f1 <<-\EOF &&
	[env]
	file = ../f1-out/.env
	[service "web"]
	EOF
	hostile_add f1 &&
	refused f1 2
'

test_expect_success 'file = a path leading out through .. is refused' '
	hostile_repo f2 18900 &&
	mkdir f2/a &&
	echo a >f2/a/README &&
	write_ini f2 <<-\EOF &&
	[env]
	file = .env, ./a/../../f2-out/x.env
	[service "web"]
	EOF
	hostile_add f2 &&
	refused f2 2
'

test_expect_success 'file = an absolute path is refused' '
	hostile_repo f3 18910 &&
	write_ini f3 <<-\EOF &&
	[env]
	file = @OUT@/x.env
	[service "web"]
	EOF
	hostile_add f3 &&
	refused f3 2
'

test_expect_success 'file = /tmp/x is refused' '
	hostile_repo f4 18920 &&
	write_ini f4 <<-\EOF &&
	[env]
	file = /tmp/x
	[service "web"]
	EOF
	hostile_add f4 &&
	refused f4 2
'

test_expect_success 'file = .git/config is refused, in any case' '
	hostile_repo f5 18930 &&
	write_ini f5 <<-\EOF &&
	[env]
	file = .git/config
	[service "web"]
	EOF
	hostile_add f5 &&
	refused f5 2 &&
	hostile_repo f6 18940 &&
	write_ini f6 <<-\EOF &&
	[env]
	file = .env, .GIT/hooks/post-checkout
	[service "web"]
	EOF
	hostile_add f6 &&
	refused f6 2
'

test_expect_success 'a committed directory link leading outside is refused' '
	hostile_repo f7 18950 &&
	ln -s "$TRASH/f7-out" f7/server &&
	write_ini f7 <<-\EOF &&
	[env]
	file = server/.env
	[service "web"]
	EOF
	hostile_add f7 &&
	test -h f7-wt/server &&
	grep "^warning: .*directory ${SQ}server${SQ} leads outside the worktree" f7.err &&
	! test -e f7-wt/.env
'

test_expect_success 'a committed relative directory link leading out too' '
	hostile_repo f8 18960 &&
	ln -s ../f8-out f8/server &&
	write_ini f8 <<-\EOF &&
	[env]
	file = server/x.env
	[service "web"]
	EOF
	hostile_add f8 &&
	test -h f8-wt/server &&
	grep "^warning: .*directory ${SQ}server${SQ} leads outside the worktree" f8.err
'

test_expect_success 'a committed .env link leading outside is refused' '
	hostile_repo f9 18970 &&
	ln -s ../f9-out/.env f9/.env &&
	git -C f9 add -f .env &&
	write_ini f9 <<-\EOF &&
	[service "web"]
	EOF
	hostile_add f9 &&
	test -h f9-wt/.env &&
	grep "^warning: .*\.env: .*symbolic link leading outside the worktree" f9.err
'

test_expect_success 'a .worktree-ports.ini link leading outside is refused' '
	hostile_repo f10 18980 &&
	printf "[env]\nfile = .env\n[service \"web\"]\n" >f10-out/ports.ini &&
	ln -s ../f10-out/ports.ini f10/.worktree-ports.ini &&
	commit_all f10 &&
	hostile_add f10 &&
	grep "^warning: .*\.worktree-ports\.ini: a symlink that leads out of the worktree" f10.err &&
	! test -e f10-wt/.env
'

# main_checkout NAME: in the main worktree of NAME, commit the staged
# hostile files on a branch 'evil', go back to main, then check 'evil'
# out, which runs the hook there; .git/config and the hooks must stay.
main_checkout() {
	git -C "$1" checkout -q -b evil 2>/dev/null &&
	commit_all "$1" &&
	git -C "$1" checkout -q main 2>/dev/null &&
	cp "$1/.git/config" "$1.config" &&
	cp "$1/.git/hooks/post-checkout" "$1.hook" &&
	git -C "$1" checkout -q evil >"$1.out" 2>"$1.err" &&
	cmp "$1.config" "$1/.git/config" &&
	cmp "$1.hook" "$1/.git/hooks/post-checkout" &&
	! test -e "$CANARY"
}

test_expect_success 'a directory link into .git of the main worktree is refused' '
	hostile_repo g1 19200 &&
	ln -s .git g1/g &&
	cat >g1/.worktree-ports.ini <<-\EOF &&
	[env]
	file = g/config
	[service "web"]
	EOF
	main_checkout g1 &&
	grep "^warning: .*directory ${SQ}g${SQ} leads into .git" g1.err &&
	hostile_repo g2 19210 &&
	ln -s .git/hooks g2/h &&
	cat >g2/.worktree-ports.ini <<-\EOF &&
	[env]
	file = h/post-checkout
	[service "web"]
	EOF
	main_checkout g2 &&
	grep "^warning: .*directory ${SQ}h${SQ} leads into .git" g2.err
'

test_expect_success 'a .env link into .git of the main worktree is refused' '
	hostile_repo g3 19220 &&
	ln -s .git/config g3/.env &&
	git -C g3 add -f .env &&
	cat >g3/.worktree-ports.ini <<-\EOF &&
	[service "web"]
	EOF
	main_checkout g3 &&
	grep "^warning: .*\.env: ${SQ}\.env${SQ} is a symbolic link leading into \.git" g3.err &&
	test -h g3/.env
'

test_expect_success 'a hostile worktree name expands to nothing unsafe' '
	hostile_repo w1 19230 &&
	write_ini w1 <<-\EOF &&
	[env]
	compose_project_name = true
	[service "web"]
	[vars]
	A = ${worktree}
	B = db_${slug}
	EOF
	wt="w1-\$(touch canary) \`touch canary\`" &&
	git -C w1 worktree add -q -b evil "../$wt" 2>err &&
	grep "^warning: .*\.worktree-ports\.ini:5: vars\.A: " err &&
	! grep "^A=" "$wt/.env" &&
	grep "^B=db_w1___touch_canary___touch_canary_\$" "$wt/.env" &&
	grep "^COMPOSE_PROJECT_NAME=w1-w1-[a-z0-9_-]*\$" "$wt/.env" &&
	(cd "$wt" && sh -c "set -a && . ./.env" &&
	 eval "$(git worktree-ports env --format sh 2>/dev/null)") &&
	! test -e "$wt/canary" &&
	! test -e canary
'

test_expect_success 'service names with / or spaces are refused' '
	hostile_repo s1 18990 &&
	write_ini s1 <<-\EOF &&
	[service "../../s1-out/x"]
	EOF
	hostile_add s1 &&
	refused s1 1 &&
	hostile_repo s2 19000 &&
	write_ini s2 <<-\EOF &&
	[service "web"]
	[service "a b"]
	EOF
	hostile_add s2 &&
	refused s2 2 &&
	hostile_repo s3 19010 &&
	write_ini s3 <<-\EOF &&
	[service "web"]
	range = ../web
	EOF
	hostile_add s3 &&
	warned s3 2 &&
	grep "^PORT_WEB=[0-9]*\$" s3-wt/.env
'

test_expect_success 'a health URL naming another host is ignored; the port is still given' '
	hostile_repo h1 19020 &&
	write_ini h1 <<-\EOF &&
	[service "web"]
	health = http://evil.example/
	EOF
	hostile_add h1 &&
	warned h1 2 &&
	grep "^PORT_WEB=[0-9]*\$" h1-wt/.env &&
	! grep -r evil h1/design/worktrees/ports.json &&
	hostile_repo h2 19030 &&
	write_ini h2 <<-\EOF &&
	[service "web"]
	health = /ok HTTP/1.0\r\nHost: evil.example
	EOF
	hostile_add h2 &&
	warned h2 2 &&
	grep "^PORT_WEB=[0-9]*\$" h2-wt/.env
'

test_expect_success 'a huge config is refused' '
	hostile_repo b1 19040 &&
	{
		echo "[service \"web\"]" &&
		for i in $(seq 1 1500); do
			echo "; padding $i ................................................."
		done
	} | write_ini b1 &&
	test $(wc -c <b1/.worktree-ports.ini) -gt 65536 &&
	hostile_add b1 &&
	grep "^warning: .*\.worktree-ports\.ini: .*64 KiB" b1.err &&
	! test -e b1-wt/.env
'

test_expect_success 'a config with a NUL byte is refused' '
	hostile_repo b2 19050 &&
	printf "[service \"web\"]\n[vars]\nA = x\0\$(touch %s)\n" "$CANARY" |
	write_ini b2 &&
	hostile_add b2 &&
	refused b2 3
'

test_expect_success 'a FIFO as .worktree-ports.ini is refused without blocking' '
	hostile_repo b3 19060 &&
	commit_all b3 &&
	hostile_add b3 &&
	mkfifo b3-wt/.worktree-ports.ini &&
	snapshot b3 >b3.before &&
	timeout 30 git -C b3-wt checkout -q -b other >out 2>err &&
	grep "^warning: .*\.worktree-ports\.ini: not a regular file" err &&
	! test -e b3-wt/.env &&
	snapshot b3 >b3.after &&
	test_cmp b3.before b3.after &&
	! test -e "$CANARY"
'

test_expect_success 'control characters in the config never reach stderr raw' '
	hostile_repo c1 19070 &&
	printf "[service \"web\"]\ndescription = \033]0;title\007\033[2J\n[hooks\033[31m]\nkey = 1\n" |
	write_ini c1 &&
	hostile_add c1 &&
	warned c1 2 &&
	warned c1 3 &&
	! grep -q "$(printf "\033")" c1.err &&
	! grep -q "$(printf "\007")" c1.err
'

test_done
