#!/bin/bash
test_description='the post-checkout hook: install, chaining, uninstall'
. "$(dirname "$0")/../lib.sh"

# To see whether and how the hook calls the tool, some tests put a fake
# git-worktree-ports first in PATH (with_fake), for the git command only.
# It records "ARGS|$GIT_WORKTREE_PORTS_HOOK|CWD" in ./calls.
mkdir -p "$TRASH/fake"
cat >"$TRASH/fake/git-worktree-ports" <<'EOF'
#!/bin/sh
printf '%s|%s|%s\n' "$*" "${GIT_WORKTREE_PORTS_HOOK-}" "$(pwd -P)" >>"$FAKE_CALLS"
exit "${FAKE_EXIT:-0}"
EOF
chmod +x "$TRASH/fake/git-worktree-ports"

with_fake() {
	PATH="$TRASH/fake:$PATH" FAKE_CALLS="$PWD/calls" "$@"
}

# status_to FILE COMMAND...: run COMMAND, append its exit status to FILE.
status_to() {
	local file=$1
	shift
	"$@"
	echo $? >>"$file"
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

# recording_hook FILE LOG STATUS: a hook that appends its $0, arguments,
# working directory and standard input to LOG, and exits STATUS.
recording_hook() {
	cat >"$1" <<-EOF &&
	#!/bin/sh
	printf '%s\n' "0=\$0" "args=\$*" "pwd=\$(pwd -P)" >>"$2"
	cat >>"$2"
	exit $3
	EOF
	chmod 755 "$1"
}

HOOK=.git/hooks/post-checkout
ASIDE=.git/hooks/post-checkout.before-worktree-ports

test_expect_success 'install-hooks writes the hook into .git/hooks' '
	new_repo r1 &&
	! test -e r1/$HOOK &&
	git -C r1 worktree-ports install-hooks >out &&
	echo "installed post-checkout hook in $(cd r1 && pwd -P)/.git/hooks" >expect &&
	test_cmp expect out &&
	cmp "$SRC_DIR/hooks/post-checkout" r1/$HOOK &&
	echo 755 >expect &&
	stat -c %a r1/$HOOK >actual &&
	test_cmp expect actual &&
	! test -e r1/$ASIDE
'

test_expect_success 'installing twice changes nothing' '
	new_repo r2 &&
	git -C r2 worktree-ports install-hooks &&
	cp -p r2/$HOOK first &&
	ls -i r2/$HOOK >inode-before &&
	git -C r2 worktree-ports install-hooks >out &&
	grep "^post-checkout hook already installed in " out &&
	ls -i r2/$HOOK >inode-after &&
	test_cmp inode-before inode-after &&
	cmp first r2/$HOOK &&
	! test -e r2/$ASIDE
'

test_expect_success 'init installs the hook, init --no-hooks does not' '
	git init -q r3 &&
	git -C r3 worktree-ports init >out &&
	grep "^created " out &&
	grep "^installed post-checkout hook in " out &&
	cmp "$SRC_DIR/hooks/post-checkout" r3/$HOOK &&
	git init -q r3b &&
	git -C r3b worktree-ports init --no-hooks >out &&
	! grep post-checkout out &&
	! test -e r3b/$HOOK
'

test_expect_success 'init --json says what happened to the hook' '
	git init -q r4 &&
	git -C r4 worktree-ports init --json >out &&
	echo installed >expect &&
	json_get out hook >actual &&
	test_cmp expect actual &&
	git init -q r4b &&
	git -C r4b worktree-ports init --no-hooks --json >out &&
	echo null >expect &&
	json_get out hook >actual &&
	test_cmp expect actual
'

test_expect_success 'a hook failure in init says the registry was created' '
	git init -q r5 &&
	mkdir r5/$HOOK &&
	test_expect_code 1 git -C r5 worktree-ports init 2>err &&
	grep "^error: .*registry was created" err &&
	grep "^hint: .*install-hooks" err &&
	test -f r5/design/worktrees/ports.json
'

test_expect_success 'the hook calls sync on a branch checkout' '
	rm -f calls &&
	new_repo r6 &&
	git -C r6 worktree-ports install-hooks &&
	with_fake git -C r6 checkout -q -b topic &&
	echo "sync|1|$(cd r6 && pwd -P)" >expect &&
	test_cmp expect calls
'

test_expect_success 'the hook calls sync in the worktree git worktree add made' '
	rm -f calls &&
	new_repo r7 &&
	git -C r7 worktree-ports install-hooks &&
	with_fake git -C r7 worktree add -q ../r7-wt &&
	echo "sync|1|$(cd r7-wt && pwd -P)" >expect &&
	test_cmp expect calls
'

test_expect_success 'a file checkout does not call sync' '
	rm -f calls &&
	new_repo r8 &&
	git -C r8 worktree-ports install-hooks &&
	echo changed >r8/README &&
	with_fake git -C r8 checkout -- README &&
	echo hello >expect &&
	test_cmp expect r8/README &&
	! test -e calls
'

test_expect_success 'GIT_WORKTREE_PORTS_SKIP=1 turns the hook off' '
	rm -f calls &&
	new_repo r9 &&
	git -C r9 worktree-ports install-hooks &&
	GIT_WORKTREE_PORTS_SKIP=1 with_fake git -C r9 checkout -q -b topic &&
	GIT_WORKTREE_PORTS_SKIP=1 with_fake git -C r9 worktree add -q ../r9-wt &&
	! test -e calls &&
	GIT_WORKTREE_PORTS_SKIP=0 with_fake git -C r9 checkout -q main &&
	test_line_count = 1 calls
'

test_expect_success 'a failing sync does not fail the checkout' '
	rm -f calls &&
	new_repo r10 &&
	git -C r10 worktree-ports install-hooks &&
	FAKE_EXIT=5 with_fake git -C r10 checkout -q -b topic &&
	FAKE_EXIT=5 with_fake git -C r10 worktree add -q ../r10-wt &&
	test_line_count = 2 calls &&
	test -f r10-wt/README
'

test_expect_success 'without the tool in PATH the hook warns, the checkout works' '
	new_repo r11 &&
	git -C r11 worktree-ports install-hooks &&
	PATH=$(path_without_tool) git -C r11 checkout -q -b topic 2>err &&
	grep "^warning: git-worktree-ports not found in PATH; ports were not set up$" err &&
	PATH=$(path_without_tool) git -C r11 worktree add -q ../r11-wt 2>err &&
	grep "^warning: git-worktree-ports not found in PATH" err &&
	test -f r11-wt/README
'

test_expect_success 'a hook already there sees what it saw without the tool' '
	new_repo r12 &&
	recording_hook r12/$HOOK "$PWD/r12.log" 1 &&
	status_to r12.without git -C r12 checkout -q -b plain &&
	mv r12.log without &&
	test_must_fail git -C r12 checkout -q main &&
	rm r12.log &&
	git -C r12 worktree-ports install-hooks >out &&
	grep "(chaining the existing hook, kept as post-checkout.before-worktree-ports)$" out &&
	status_to r12.with git -C r12 checkout -q -b hooked &&
	! grep -x 0 r12.without &&
	test_cmp r12.without r12.with &&
	test_cmp without r12.log
'

test_expect_success 'a hook already there keeps its status on git worktree add' '
	rm -f calls &&
	new_repo r13 &&
	recording_hook r13/$HOOK "$PWD/r13.log" 3 &&
	status_to r13.without git -C r13 worktree add -q ../r13-a &&
	sed "s/r13-a/r13-X/" r13.log >without &&
	rm r13.log &&
	git -C r13 worktree-ports install-hooks &&
	status_to r13.with with_fake git -C r13 worktree add -q ../r13-b &&
	! grep -x 0 r13.without &&
	test_cmp r13.without r13.with &&
	sed "s/r13-b/r13-X/" r13.log >with &&
	test_cmp without with &&
	test_line_count = 1 calls
'

test_expect_success 'a file checkout still runs the hook already there' '
	rm -f calls &&
	new_repo r14 &&
	recording_hook r14/$HOOK "$PWD/r14.log" 0 &&
	git -C r14 worktree-ports install-hooks &&
	echo changed >r14/README &&
	with_fake git -C r14 checkout -- README &&
	grep "^args=.* 0$" r14.log &&
	! test -e calls
'

test_expect_success 'the hook already there gets the same standard input' '
	rm -f calls &&
	new_repo r15 &&
	recording_hook r15/$HOOK "$PWD/r15.log" 4 &&
	git -C r15 worktree-ports install-hooks &&
	(
		cd r15 &&
		echo "some input" |
		test_expect_code 4 with_fake .git/hooks/post-checkout a b 1
	) &&
	tail -n 1 r15.log >actual &&
	echo "some input" >expect &&
	test_cmp expect actual &&
	grep "^0=.git/hooks/post-checkout$" r15.log &&
	grep "^args=a b 1$" r15.log
'

test_expect_success 'a hook in another language is run as it was' '
	new_repo r16 &&
	cat >r16/$HOOK <<-EOF &&
	#!/usr/bin/env python3
	import sys
	open("$PWD/r16.log", "a").write(" ".join(sys.argv[1:]) + "\n")
	sys.exit(2)
	EOF
	chmod 755 r16/$HOOK &&
	status_to r16.without git -C r16 checkout -q -b plain &&
	test_must_fail git -C r16 checkout -q main &&
	git -C r16 worktree-ports install-hooks &&
	status_to r16.with git -C r16 checkout -q -b hooked &&
	! grep -x 0 r16.without &&
	test_cmp r16.without r16.with &&
	test_line_count = 3 r16.log &&
	sed -n 1p r16.log >expect &&
	sed -n 3p r16.log >actual &&
	test_cmp expect actual
'

test_expect_success 'a hook that is not executable stays ignored' '
	new_repo r17 &&
	recording_hook r17/$HOOK "$PWD/r17.log" 1 &&
	chmod 644 r17/$HOOK &&
	git -C r17 worktree-ports install-hooks &&
	git -C r17 -c advice.ignoredHook=false checkout -q -b topic &&
	! test -e r17.log
'

test_expect_success 'uninstall-hooks restores the hook byte for byte' '
	new_repo r18 &&
	recording_hook r18/$HOOK "$PWD/r18.log" 1 &&
	printf "# no final newline" >>r18/$HOOK &&
	chmod 750 r18/$HOOK &&
	cp -p r18/$HOOK orig &&
	git -C r18 worktree-ports install-hooks &&
	echo 750 >expect &&
	stat -c %a r18/$ASIDE >actual &&
	test_cmp expect actual &&
	git -C r18 worktree-ports uninstall-hooks >out &&
	grep "^removed post-checkout hook from .* and restored the hook it replaced$" out &&
	cmp orig r18/$HOOK &&
	stat -c %a r18/$HOOK >actual &&
	test_cmp expect actual &&
	! test -e r18/$ASIDE
'

test_expect_success 'uninstall-hooks removes our hook alone' '
	new_repo r19 &&
	git -C r19 worktree-ports install-hooks &&
	git -C r19 worktree-ports uninstall-hooks >out &&
	grep "^removed post-checkout hook from " out &&
	! test -e r19/$HOOK &&
	git -C r19 worktree-ports uninstall-hooks >out &&
	grep "^no post-checkout hook in " out
'

test_expect_success 'uninstall-hooks leaves a hook that is not ours alone' '
	new_repo r20 &&
	recording_hook r20/$HOOK "$PWD/r20.log" 0 &&
	cp -p r20/$HOOK orig &&
	git -C r20 worktree-ports uninstall-hooks >out &&
	grep "is not from git-worktree-ports; left it alone$" out &&
	cmp orig r20/$HOOK
'

test_expect_success 'install-hooks chains a hook rewritten after an install, keeping the older one' '
	new_repo r21 &&
	echo "#!/bin/sh" >r21/$HOOK &&
	echo "#!/bin/sh" >r21/$ASIDE &&
	echo "exit 1" >>r21/$ASIDE &&
	cp r21/$HOOK hook.orig &&
	cp r21/$ASIDE aside.orig &&
	git -C r21 worktree-ports install-hooks >out 2>err &&
	grep "^installed .*chaining" out &&
	grep "^note: .*kept as ${SQ}.*$ASIDE.1${SQ}" err &&
	grep -q "^# git-worktree-ports post-checkout hook$" r21/$HOOK &&
	cmp hook.orig r21/$ASIDE &&
	cmp aside.orig r21/$ASIDE.1 &&
	# idempotent
	git -C r21 worktree-ports install-hooks >out &&
	grep "already installed" out &&
	cmp hook.orig r21/$ASIDE
'

test_expect_success 'a relative core.hooksPath is taken from the worktree top' '
	rm -f calls &&
	new_repo r22 &&
	mkdir r22/sub &&
	git -C r22 config core.hooksPath .githooks &&
	mkdir r22/.githooks &&
	recording_hook r22/.githooks/post-checkout "$PWD/r22.log" 0 &&
	git -C r22/sub worktree-ports install-hooks >out 2>err &&
	grep "^installed post-checkout hook in $(cd r22 && pwd -P)/.githooks (chaining" out &&
	grep "^note: core.hooksPath is relative" err &&
	cmp "$SRC_DIR/hooks/post-checkout" r22/.githooks/post-checkout &&
	! test -e r22/$HOOK &&
	with_fake git -C r22/sub checkout -q -b topic &&
	with_fake git -C r22/sub worktree add -q ../../r22-wt &&
	test_line_count = 2 calls &&
	grep "^sync|1|$(cd r22-wt && pwd -P)$" calls &&
	grep -c "^args=" r22.log >count &&
	echo 2 >expect &&
	test_cmp expect count &&
	grep "^pwd=$(cd r22-wt && pwd -P)$" r22.log
'

test_expect_success 'in a linked worktree a relative core.hooksPath is its own' '
	rm -f calls &&
	new_repo r23 &&
	git -C r23 config core.hooksPath .githooks &&
	git -C r23 worktree add -q ../r23-wt &&
	git -C r23-wt worktree-ports install-hooks >out &&
	echo "installed post-checkout hook in $(cd r23-wt && pwd -P)/.githooks" >expect &&
	test_cmp expect out &&
	! test -e r23/.githooks &&
	with_fake git -C r23-wt checkout -q -b topic &&
	echo "sync|1|$(cd r23-wt && pwd -P)" >expect &&
	test_cmp expect calls
'

test_expect_success 'core.hooksPath with ~/ and an absolute path' '
	new_repo r24 &&
	git -C r24 config core.hooksPath "~/my-hooks" &&
	# outside the repository: every repository using it would get it
	test_expect_code 10 git -C r24 worktree-ports install-hooks 2>err &&
	grep "^error: core.hooksPath: .*outside this repository" err &&
	grep "^hint: .*--shared-hooks" err &&
	! test -e "$HOME/my-hooks/post-checkout" &&
	git -C r24 worktree-ports install-hooks --shared-hooks &&
	test -x "$HOME/my-hooks/post-checkout" &&
	git -C r24 config core.hooksPath "$PWD/abs-hooks" &&
	git -C r24 worktree-ports install-hooks --shared-hooks --json >out &&
	echo "$PWD/abs-hooks" >expect &&
	json_get out dir >actual &&
	test_cmp expect actual &&
	test -x abs-hooks/post-checkout
'

# A hooks directory laid out as husky (v9) does: core.hooksPath=.husky/_,
# where each hook sources a shared script that runs the user's
# .husky/<name of the hook>, the name taken from $0.
husky_repo() {
	new_repo "$1" &&
	mkdir -p "$1/.husky/_" &&
	cat >"$1/.husky/_/h" <<-\EOF &&
	#!/usr/bin/env sh
	n=$(basename "$0")
	s=$(dirname "$(dirname "$0")")/$n
	[ -f "$s" ] || exit 0
	sh -e "$s" "$@"
	EOF
	cat >"$1/.husky/_/post-checkout" <<-\EOF &&
	#!/usr/bin/env sh
	. "$(dirname "$0")/h"
	EOF
	chmod 755 "$1/.husky/_/h" "$1/.husky/_/post-checkout" &&
	git -C "$1" config core.hooksPath .husky/_
}

test_expect_success 'a husky-style hooks directory keeps working' '
	rm -f calls &&
	husky_repo r25 &&
	cat >r25/.husky/post-checkout <<-EOF &&
	echo "user \$*" >>"$PWD/r25.log"
	exit 6
	EOF
	status_to r25.without git -C r25 checkout -q -b plain &&
	test_must_fail git -C r25 checkout -q main &&
	git -C r25 worktree-ports install-hooks >out &&
	grep "chaining the existing hook" out &&
	status_to r25.with with_fake git -C r25 checkout -q -b hooked &&
	! grep -x 0 r25.without &&
	test_cmp r25.without r25.with &&
	test_line_count = 3 r25.log &&
	sed -n 1p r25.log >expect &&
	sed -n 3p r25.log >actual &&
	test_cmp expect actual &&
	test_line_count = 1 calls &&
	cp -p r25/.husky/_/post-checkout.before-worktree-ports orig &&
	git -C r25 worktree-ports uninstall-hooks &&
	cmp orig r25/.husky/_/post-checkout
'

test_expect_success 'install-hooks and uninstall-hooks --json' '
	new_repo r26 &&
	echo "#!/bin/sh" >r26/$HOOK &&
	chmod 755 r26/$HOOK &&
	git -C r26 worktree-ports install-hooks --json >out &&
	dir=$(cd r26 && pwd -P)/.git/hooks &&
	printf "%s\n" chained "$dir" "$dir/post-checkout" \
		"$dir/post-checkout.before-worktree-ports" >expect &&
	for k in action dir hook chained; do json_get out $k; done >actual &&
	test_cmp expect actual &&
	git -C r26 worktree-ports uninstall-hooks --json >out &&
	echo restored >expect &&
	json_get out action >actual &&
	test_cmp expect actual &&
	git -C r26 worktree-ports install-hooks -q >out &&
	test_must_be_empty out
'

test_done
