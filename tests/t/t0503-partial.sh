#!/bin/bash
test_description='partial success: the services that get a port are written, never stale ones'
. "$(dirname "$0")/../lib.sh"

# Ports 15200-15299.

# partial_repo NAME BASE: web BASE..+9, db one port BASE+10, cache
# BASE+20..+29; the main worktree takes db's only port.
partial_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "db:$(($2 + 10))-$(($2 + 10))" \
		"cache:$(($2 + 20))-$(($2 + 29))" &&
	printf "[service \"web\"]\n[service \"db\"]\n[service \"cache\"]\n" \
		>"$1/.worktree-ports.ini" &&
	git -C "$1" add .worktree-ports.ini &&
	git -C "$1" commit -q -m ports &&
	git -C "$1" worktree-ports sync >/dev/null &&
	git -C "$1" worktree-ports install-hooks >/dev/null
}

test_expect_success 'one range full: the hook writes the other two and a comment, naming the worktree' '
	partial_repo p1 15200 &&
	git -C p1 worktree add -q ../p1-wt 2>err &&
	grep "^warning: worktree ${SQ}p1-wt${SQ}: no port for service ${SQ}db${SQ} (PORT_DB): no free port in range ${SQ}db${SQ}" err &&
	grep "^PORT_WEB=1520[0-9]$" p1-wt/.env &&
	grep "^PORT_CACHE=1522[0-9]$" p1-wt/.env &&
	! grep "^PORT_DB=" p1-wt/.env &&
	grep "^# PORT_DB is not set: no free port in range ${SQ}db${SQ}" p1-wt/.env &&
	# readers ignore the comment
	(cd p1-wt && set -a && . ./.env && test -n "$PORT_WEB" && test -z "${PORT_DB-}")
'

test_expect_success 'sync says the same and exits 5; once the port is free it fills in' '
	test_expect_code 5 git -C p1-wt worktree-ports sync >out 2>err &&
	grep "^PORT_WEB=" out &&
	grep "^warning: worktree ${SQ}p1-wt${SQ}: no port for service ${SQ}db${SQ}" err &&
	test_expect_code 5 git -C p1-wt worktree-ports --json sync >out.json 2>/dev/null &&
	test "$(json_get out.json services.1.port)" = null &&
	json_get out.json services.1.error | grep "no free port" &&
	git -C p1 worktree-ports release db >/dev/null &&
	git -C p1-wt worktree-ports sync >out &&
	grep "^PORT_DB=15210$" p1-wt/.env &&
	! grep "not set" p1-wt/.env
'

test_expect_success 'a branch switch with a failing service keeps nothing of the other branch' '
	partial_repo p2 15230 &&
	git -C p2 worktree add -q ../p2-wt 2>/dev/null &&
	git -C p2-wt checkout -q -b other &&
	printf "[service \"web\"]\n[service \"queue\"]\nrange = nosuch\n" \
		>p2-wt/.worktree-ports.ini &&
	git -C p2-wt commit -q -a -m "queue, no db, no cache" &&
	git -C p2-wt checkout -q - 2>/dev/null &&
	git -C p2-wt checkout -q other 2>err &&
	grep "no port for service ${SQ}queue${SQ}" err &&
	grep "^PORT_WEB=" p2-wt/.env &&
	! grep "^PORT_CACHE=" p2-wt/.env &&
	! grep "^PORT_DB=" p2-wt/.env &&
	grep "^# PORT_QUEUE is not set" p2-wt/.env &&
	test "$(json_get p2/design/worktrees/ports.json "allocations[worktree=p2-wt].#")" = 1
'

test_done
