#!/bin/bash
test_description='hook managers: lefthook and husky reinstalling, the check, the repair'
. "$(dirname "$0")/../lib.sh"

# Ports 15100-15199. The managers are the real ones from npm, installed
# by 'make test-tools' into build/npm (CI does), or found in PATH.
NPM_BIN=$SRC_DIR/build/npm/node_modules/.bin
test -d "$NPM_BIN" && PATH=$NPM_BIN:$PATH

# managed_repo NAME BASE: a repository whose .worktree-ports.ini asks for
# a web port from BASE-BASE+9, committed, with our hook installed.
managed_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" &&
	printf "[service \"web\"]\n" >"$1/.worktree-ports.ini" &&
	git -C "$1" add .worktree-ports.ini &&
	git -C "$1" commit -q -m ports &&
	git -C "$1" worktree-ports install-hooks >/dev/null
}

# lefthook_config NAME: lefthook.yml with a post-checkout command of its
# own that records its arguments in NAME.lefthook.
lefthook_config() {
	cat >"$1/lefthook.yml" <<-EOF2 &&
	post-checkout:
	  commands:
	    record:
	      run: echo "{0}" >>"$TRASH/$1.lefthook"
	EOF2
	git -C "$1" add lefthook.yml &&
	git -C "$1" commit -q -m lefthook
}

test_expect_success LEFTHOOK 'lefthook install drops our hook: the next command says so, naming lefthook' '
	managed_repo l1 15100 &&
	lefthook_config l1 &&
	(cd l1 && lefthook install >/dev/null 2>&1) &&
	! grep -q "^# git-worktree-ports post-checkout hook$" l1/.git/hooks/post-checkout &&
	git -C l1 worktree-ports status >out 2>err &&
	grep "^warning: lefthook replaced the post-checkout hook" err &&
	grep "^hint: .*install-hooks.*lefthook.yml" err &&
	test_line_count = 2 err &&
	# without our hook, a new worktree gets no .env
	git -C l1 worktree add -q ../l1-a 2>/dev/null &&
	! test -e l1-a/.env
'

test_expect_success LEFTHOOK 'install-hooks repairs it: both hooks run on worktree add and on a branch switch' '
	git -C l1 worktree-ports install-hooks >out 2>err &&
	grep "^installed .*chaining" out &&
	! test -e l1/.git/hooks/post-checkout.old &&
	git -C l1 worktree-ports status >out 2>err &&
	test_must_be_empty err &&
	rm -f l1.lefthook &&
	git -C l1 worktree add -q ../l1-b 2>/dev/null &&
	grep "^PORT_WEB=151" l1-b/.env &&
	test_line_count = 1 l1.lefthook &&
	grep " 1$" l1.lefthook &&
	git -C l1-b checkout -q -b topic 2>/dev/null &&
	test_line_count = 2 l1.lefthook &&
	# idempotent
	git -C l1 worktree-ports install-hooks >out &&
	grep "already installed" out
'

test_expect_success LEFTHOOK 'the snippet in lefthook.yml survives lefthook install' '
	git -C l1 worktree-ports install-hooks --snippet >snippet &&
	grep "^# lefthook: add to lefthook.yml$" snippet &&
	sed -n "/^    worktree-ports:/,\$p" snippet >>l1/lefthook.yml &&
	git -C l1 commit -q -a -m "lefthook runs the ports set-up" &&
	(cd l1 && lefthook install >/dev/null 2>&1) &&
	git -C l1 worktree-ports status >out 2>err &&
	test_must_be_empty err &&
	git -C l1 worktree add -q ../l1-c 2>/dev/null &&
	grep "^PORT_WEB=151" l1-c/.env
'

test_expect_success LEFTHOOK 'init in a lefthook repository prints the lines for lefthook.yml' '
	git init -q l2 &&
	: >l2/lefthook.yml &&
	git -C l2 worktree-ports init >out &&
	grep "^this repository uses lefthook" out &&
	grep "GIT_WORKTREE_PORTS_HOOK=1 git worktree-ports sync" out &&
	git -C l2 worktree-ports --json init --force >out.json &&
	test "$(json_get out.json hook_manager)" = lefthook
'

test_expect_success HUSKY 'husky points core.hooksPath at .husky/_: warned, repaired, its script still runs' '
	managed_repo h1 15120 &&
	mkdir h1/.husky &&
	printf "echo husky \"\$@\" >>\"%s/h1.husky\"\n" "$TRASH" >h1/.husky/post-checkout &&
	git -C h1 add .husky/post-checkout &&
	git -C h1 commit -q -m husky &&
	(cd h1 && husky >/dev/null) &&
	test "$(git -C h1 config core.hooksPath)" = .husky/_ &&
	git -C h1 worktree-ports status >out 2>err &&
	grep "^warning: husky replaced the post-checkout hook" err &&
	grep "hint: .*\.husky/post-checkout" err &&
	git -C h1 worktree-ports install-hooks >out 2>err &&
	grep "^installed post-checkout hook in .*/h1/.husky/_ (chaining" out &&
	git -C h1 worktree-ports status >out 2>err &&
	test_must_be_empty err &&
	git -C h1 worktree add -q ../h1-a 2>/dev/null &&
	grep "^PORT_WEB=151" h1-a/.env &&
	grep "^husky .* 1$" h1.husky
'

test_expect_success HUSKY 'the snippet in .husky/post-checkout survives husky reinstalling' '
	(cd h1 && husky >/dev/null) &&
	git -C h1 worktree-ports status >out 2>err &&
	grep "^warning: husky replaced" err &&
	git -C h1 worktree-ports install-hooks --snippet >snippet &&
	grep "^# husky: add to .husky/post-checkout$" snippet &&
	sed 1d snippet >>h1/.husky/post-checkout &&
	git -C h1 commit -q -a -m "husky runs the ports set-up" &&
	git -C h1 worktree-ports status >out 2>err &&
	test_must_be_empty err &&
	rm -f h1.husky &&
	git -C h1 worktree add -q ../h1-b 2>/dev/null &&
	grep "^PORT_WEB=151" h1-b/.env &&
	grep "^husky .* 1$" h1.husky
'

test_expect_success PRE_COMMIT 'pre-commit keeps ours as post-checkout.legacy and runs it: no warning, both run' '
	managed_repo p1 15140 &&
	cat >p1/.pre-commit-config.yaml <<-EOF &&
	repos:
	  - repo: local
	    hooks:
	      - id: record
	        name: record
	        language: system
	        entry: sh -c "echo \$PRE_COMMIT_CHECKOUT_TYPE >>$TRASH/p1.pre-commit"
	        stages: [post-checkout]
	        always_run: true
	        pass_filenames: false
	EOF
	git -C p1 add .pre-commit-config.yaml &&
	git -C p1 commit -q -m pre-commit &&
	(cd p1 && pre-commit install --hook-type post-checkout >/dev/null 2>&1) &&
	grep -q "^# git-worktree-ports post-checkout hook$" p1/.git/hooks/post-checkout.legacy &&
	git -C p1 worktree-ports status >out 2>err &&
	test_must_be_empty err &&
	git -C p1 worktree add -q ../p1-a >/dev/null 2>&1 &&
	grep "^PORT_WEB=151" p1-a/.env &&
	grep "^1$" p1.pre-commit &&
	# install-hooks sees it runs already, and chains nothing
	git -C p1 worktree-ports install-hooks >out &&
	grep "already installed" out &&
	! test -e p1/.git/hooks/post-checkout.before-worktree-ports
'

test_expect_success 'no record, no check: init --no-hooks says nothing about hooks' '
	new_repo n1 &&
	: >n1/.git/hooks/post-checkout &&
	git -C n1 worktree-ports status >out 2>err &&
	test_must_be_empty err
'

test_expect_success 'uninstall-hooks drops the record' '
	new_repo n2 &&
	git -C n2 worktree-ports install-hooks >/dev/null &&
	test -s n2/.git/worktree-ports/hooks &&
	git -C n2 worktree-ports uninstall-hooks >/dev/null &&
	! test -e n2/.git/worktree-ports/hooks &&
	echo "#!/bin/sh" >n2/.git/hooks/post-checkout &&
	git -C n2 worktree-ports status >out 2>err &&
	test_must_be_empty err
'

test_expect_success 'a hook deleted by hand: the warning says it is gone' '
	new_repo n3 &&
	git -C n3 worktree-ports install-hooks >/dev/null &&
	rm n3/.git/hooks/post-checkout &&
	git -C n3 worktree-ports status >out 2>err &&
	grep "^warning: the post-checkout hook of git-worktree-ports is gone" err &&
	git -C n3 worktree-ports install-hooks >/dev/null &&
	git -C n3 worktree-ports status >out 2>err &&
	test_must_be_empty err
'

test_done
