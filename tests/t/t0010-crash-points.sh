#!/bin/bash
test_description='a command killed at any of its crash points leaves the old or the new state'
. "$(dirname "$0")/../lib.sh"
. "$SRC_DIR/tests/lib-crash.sh"

# How the crash points are found and counted (tests/lib-crash.sh):
#
# 1. The test saves the files the command may change (crash_save), and
#    the command runs once whole under
#	strace -f -y -e trace='/^(execve|write|...|rename|...)$'
#    -y names the file behind each descriptor. The pid of the first
#    execve is the command. Its write, writev, pwrite64, fsync,
#    fdatasync, ftruncate, rename, renameat(2) and unlink(at) calls, in
#    their order, are its crash points, each known by its call and its
#    count: "write 3", "rename 1". Calls of children (the git that sync
#    asks whether .env is tracked) are not points. From the trace comes
#    the point at which each file changes: the rename onto it, its unlink,
#    or the write to it unless it is renamed away later (a temporary
#    file). Writes to stdout and stderr are points that change no file.
#    A file the command changes that the test did not save, or changes at
#    two points (it would have a state between old and new), fails it.
# 2. For each point, the saved files are put back and the command runs
#    again under strace -e inject=CALL:signal=KILL:when=N. strace counts
#    each system call apart, for each process, and a signal injected on
#    entering a call is delivered before the call runs: the command dies
#    on entering its Nth CALL, never inside it. So "killed at rename 1"
#    means that rename did not happen, and "killed at fsync 2" (the
#    directory, after it) means it did. The trace of the killed run must
#    repeat the whole run's points up to that one and stop there: it took
#    the same path.
# 3. Then each saved file must be exactly what it was if the kill came
#    before the point that changes it (a file that did not exist may have
#    been created empty: the open is not a point), and what the whole run
#    left if after (up to the times the tool writes), with its mode. Then
#    the check of the test runs, crash_usable for most: the registry holds
#    no port twice and loads ('status --all --json'), the log reads
#    without a warning, and a writer gets the lock at once.
# Each test asserts that some kills left the registry (and .env) old and
# some new, and prints its points per call; the totals end the output.
#
# Ports 26000-26999.
LOG=.git/worktree-ports/ports.log

# crash_repo NAME BASE: a repository NAME with a linked worktree NAME-wt,
# ranges web, api and db of ten ports each from BASE, and probe (for the
# writer of crash_usable) at BASE+90.
crash_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" \
		"db:$(($2 + 20))-$(($2 + 29))" "probe:$(($2 + 90))-$(($2 + 99))" &&
	git -C "$1" worktree add -q "../$1-wt" 2>/dev/null
}

test_expect_success 'strace kills a command on entering a call, before it runs' '
	crash_have_strace &&
	echo data >from &&
	rc=0 &&
	{
		strace -f -qq -o mv.trace -e trace="/^rename(at2?)?\$" \
			-e inject="/^rename(at2?)?\$:signal=KILL:when=1" \
			mv from to || rc=$?
	} &&
	test $rc = 137 &&
	test -f from &&
	! test -e to &&
	mv from to &&
	test -f to
'

test_expect_success 'allocate' '
	crash_repo a 26000 &&
	REG=a/design/worktrees/ports.json &&
	git -C a-wt worktree-ports allocate web -q >/dev/null &&
	crash_save $REG a/$LOG &&
	crash_test "crash_usable a-wt" git-worktree-ports -C a-wt allocate db &&
	crash_both $REG &&
	crash_both a/$LOG
'

# log_is_old_or_new REPO: the log of REPO as 'log' reads it, ports.log.1
# then ports.log, is what it was or what the whole run left, up to the
# times; a rotation renames ports.log to ports.log.1 before the write, so
# ports.log alone can be neither.
log_is_old_or_new() {
	local state
	for state in old new; do
		cat $(crash_copy $state "$1/$LOG.1") $(crash_copy $state "$1/$LOG") |
		crash_norm >log.$state || return 1
	done
	cat "$1/$LOG.1" "$1/$LOG" 2>/dev/null | crash_norm >log.now
	! cmp -s log.old log.new &&
	if cmp -s log.now log.old; then
		echo "$1 log: old"
	elif cmp -s log.now log.new; then
		echo "$1 log: new"
	else
		echo "$1 log is neither the old nor the new one:"
		cat log.now
		return 1
	fi
}

test_expect_success 'allocate that rotates the log' '
	crash_repo o 26100 &&
	REG=o/design/worktrees/ports.json &&
	git -C o-wt worktree-ports allocate web -q >/dev/null &&
	crash_save $REG o/$LOG.1 -- o/$LOG &&
	crash_test "log_is_old_or_new o >>log.states && crash_usable o-wt" \
		env GIT_WORKTREE_PORTS_LOG_MAX=1 \
		git-worktree-ports -C o-wt allocate api &&
	crash_both $REG &&
	crash_both o/$LOG.1 &&
	grep "log: old" log.states &&
	grep "log: new" log.states
'

test_expect_success 'release' '
	crash_repo b 26200 &&
	REG=b/design/worktrees/ports.json &&
	git -C b-wt worktree-ports allocate web -q >/dev/null &&
	git -C b-wt worktree-ports allocate api -q >/dev/null &&
	crash_save $REG b/$LOG &&
	crash_test "crash_usable b-wt" git-worktree-ports -C b-wt release web &&
	crash_both $REG &&
	crash_both b/$LOG
'

test_expect_success 'sync writing two .env files' '
	crash_repo s 26300 &&
	REG=s/design/worktrees/ports.json &&
	cat >s-wt/.worktree-ports.ini <<-\EOF &&
	[env]
	file = .env, server/.env

	[service "web"]

	[service "api"]

	[vars]
	URL = http://127.0.0.1:${port:web}/
	EOF
	printf "# mine\r\nKEEP=1\r\n" >s-wt/.env &&
	chmod 600 s-wt/.env &&
	mkdir s-wt/server &&
	crash_save $REG s/$LOG s/.git/info/exclude s-wt/.env s-wt/server/.env \
		"$XDG_STATE_HOME/git-worktree-ports/registries" &&
	crash_test "crash_usable s-wt" git-worktree-ports -C s-wt sync &&
	crash_both $REG &&
	crash_both s-wt/.env &&
	crash_both s-wt/server/.env
'

test_expect_success 'prune' '
	crash_repo p 26400 &&
	REG=p/design/worktrees/ports.json &&
	git -C p worktree-ports allocate web -q >/dev/null &&
	git -C p-wt worktree-ports allocate web -q >/dev/null &&
	git -C p-wt worktree-ports allocate api -q >/dev/null &&
	git -C p worktree remove p-wt &&
	crash_save $REG p/$LOG &&
	crash_test "crash_usable p" git-worktree-ports -C p prune &&
	crash_both $REG &&
	grep -c "\"worktree\": \"p-wt\"" $(crash_copy old $REG) >count &&
	echo 2 >expect &&
	test_cmp expect count &&
	! grep "\"worktree\": \"p-wt\"" $(crash_copy new $REG)
'

test_expect_success 'status --health-check writing a change back' '
	crash_repo h 26500 &&
	REG=h/design/worktrees/ports.json &&
	printf "[service \"api\"]\nhealth = tcp\n" >h-wt/.worktree-ports.ini &&
	git -C h-wt worktree-ports allocate api -q >h.api &&
	test_when_finished "stop_pid h.pid" &&
	start_servers_in h-wt h.pid listen:"$(cat h.api)" &&
	crash_save $REG h/$LOG -- h/.git/worktree-ports/ports.json.checked &&
	crash_test "crash_usable h-wt" git-worktree-ports -C h-wt status \
		--health-check --timeout 30 &&
	crash_both $REG &&
	grep "\"health_status\": \"unknown\"" $(crash_copy old $REG) &&
	grep "\"health_status\": \"healthy\"" $(crash_copy new $REG) &&
	grep "\"process_id\": $(cat h.pid)," $(crash_copy new $REG)
'

test_expect_success 'repair moving a port a process outside holds' '
	crash_repo x 26600 &&
	REG=x/design/worktrees/ports.json &&
	printf "[env]\nfile = .env\n[service \"web\"]\n[service \"api\"]\n" \
		>x-wt/.worktree-ports.ini &&
	git -C x-wt worktree-ports sync >/dev/null &&
	git -C x-wt worktree-ports status --json >x.status &&
	json_get x.status "allocations[service=web].port" >x.web &&
	test_when_finished "stop_pid x.pid" &&
	start_listener 127.0.0.1 "$(cat x.web)" x.pid &&
	crash_save $REG x/$LOG x-wt/.env &&
	crash_test "crash_usable x-wt" git-worktree-ports -C x-wt repair &&
	crash_both $REG &&
	crash_both x-wt/.env &&
	grep "^PORT_WEB=$(cat x.web)\$" $(crash_copy old x-wt/.env) &&
	! grep "^PORT_WEB=$(cat x.web)\$" $(crash_copy new x-wt/.env)
'

test -s "$TRASH/crash.counts" && sed 's/^/# /' "$TRASH/crash.counts"

test_done
