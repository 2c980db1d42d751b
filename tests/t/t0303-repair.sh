#!/bin/bash
test_description='repair: move the ports a worktree cannot keep'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json
LOG=.git/worktree-ports/ports.log

serve() {
	(cd "$1" && start_listener 127.0.0.1 "$2" "$3")
}

# repair_repo REPO BASE: REPO with a range web BASE..BASE+9 and a
# .worktree-ports.ini declaring web, a linked worktree REPO-wt set up by
# sync (its port in REPO.port), and the main worktree synced too (its
# port in REPO.main).
repair_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" &&
	printf "[service \"web\"]\nrange = web\n" >"$1/.worktree-ports.ini" &&
	git -C "$1" add .worktree-ports.ini &&
	git -C "$1" commit -q -m config &&
	git -C "$1" worktree add -q "../$1-wt" &&
	git -C "$1-wt" worktree-ports sync >/dev/null &&
	git -C "$1" worktree-ports sync >/dev/null &&
	sed -n "s/^PORT_WEB=//p" "$1-wt/.env" >"$1.port" &&
	sed -n "s/^PORT_WEB=//p" "$1/.env" >"$1.main" &&
	test -s "$1.port" &&
	test -s "$1.main"
}

# snapshot REPO DIR: copy every file repair might touch into DIR.
snapshot() {
	mkdir -p "$2" &&
	cp "$1/$R" "$2/ports.json" &&
	cp "$1/$LOG" "$2/ports.log" &&
	cp "$1/.env" "$2/main.env" &&
	cp "$1-wt/.env" "$2/wt.env" &&
	cp "$XDG_STATE_HOME/git-worktree-ports/registries" "$2/registries" &&
	cp "$1/.git/info/exclude" "$2/exclude"
}

test_expect_success 'nothing seized: nothing to repair, nothing written' '
	repair_repo r1 23600 &&
	snapshot r1 before &&
	git -C r1-wt worktree-ports repair >out &&
	echo "nothing to repair" >expect &&
	test_cmp expect out &&
	snapshot r1 after &&
	diff -r before after
'

test_expect_success 'repair --dry-run says what it would do and changes no byte' '
	test_when_finished "stop_pid $PWD/r2.pid" &&
	repair_repo r2 23610 &&
	port=$(cat r2.port) &&
	mkdir else2 &&
	serve else2 "$port" "$PWD/r2.pid" &&
	snapshot r2 before &&
	git -C r2-wt worktree-ports repair --dry-run >out &&
	grep "^would move ${SQ}web${SQ} of worktree ${SQ}r2-wt${SQ} from $port to [0-9]*: $port is held by pid $(cat r2.pid) (.*test-tool.*) in $(cd else2 && pwd -P), outside every known worktree$" out &&
	grep "^would rewrite $(cd r2-wt && pwd -P)/.env$" out &&
	snapshot r2 after &&
	diff -r before after &&
	git -C r2-wt worktree-ports repair -n --json >out &&
	echo true >expect &&
	json_get out dry_run >actual &&
	test_cmp expect actual &&
	snapshot r2 after2 &&
	diff -r before after2
'

test_expect_success 'repair moves a seized port, rewrites .env and logs it' '
	test_when_finished "stop_pid $PWD/r3.pid" &&
	repair_repo r3 23620 &&
	port=$(cat r3.port) &&
	mkdir else3 &&
	serve else3 "$port" "$PWD/r3.pid" &&
	git -C r3-wt worktree-ports repair --dry-run >plan &&
	new=$(sed -n "s/^would move .* to \([0-9]*\): .*/\1/p" plan) &&
	git -C r3-wt worktree-ports repair >out &&
	grep "^moved ${SQ}web${SQ} of worktree ${SQ}r3-wt${SQ} from $port to $new: $port is held by pid $(cat r3.pid) (.*test-tool.*) in $(cd else3 && pwd -P), outside every known worktree$" out &&
	grep "^wrote $(cd r3-wt && pwd -P)/.env$" out &&
	test "$new" != "$port" &&
	grep "^PORT_WEB=$new$" r3-wt/.env &&
	git -C r3-wt worktree-ports status --json >status &&
	echo "$new" >expect &&
	json_get status "allocations[service=web].port" >actual &&
	test_cmp expect actual &&
	grep "\"action\":\"repair\"" r3/$LOG >repairs &&
	test_line_count = 1 repairs &&
	grep "\"port\":$new," repairs &&
	grep "\"pid\":$(cat r3.pid)," repairs &&
	grep "\"detail\":\"moved from $port: held by pid $(cat r3.pid) (test-tool)\"" repairs &&
	kill -0 "$(cat r3.pid)" &&
	git -C r3 worktree-ports who "$port" -q >pids &&
	test_cmp r3.pid pids &&
	git -C r3-wt worktree-ports repair >again &&
	echo "nothing to repair" >expect &&
	test_cmp expect again
'

test_expect_success 'repair leaves other worktrees alone; --all does them too' '
	test_when_finished "stop_pid $PWD/r4.pid" &&
	repair_repo r4 23630 &&
	main=$(cat r4.main) &&
	mkdir else4 &&
	serve else4 "$main" "$PWD/r4.pid" &&
	git -C r4-wt worktree-ports repair >out &&
	echo "nothing to repair" >expect &&
	test_cmp expect out &&
	grep "^PORT_WEB=$main$" r4/.env &&
	git -C r4-wt worktree-ports repair --all >out &&
	grep "^moved ${SQ}web${SQ} of worktree ${SQ}.main${SQ} from $main to " out &&
	! grep "^PORT_WEB=$main$" r4/.env &&
	grep "^PORT_WEB=" r4/.env &&
	grep "^PORT_WEB=$(cat r4.port)$" r4-wt/.env
'

test_expect_success 'repair --worktree repairs that worktree' '
	test_when_finished "stop_pid $PWD/r5.pid" &&
	repair_repo r5 23640 &&
	port=$(cat r5.port) &&
	mkdir else5 &&
	serve else5 "$port" "$PWD/r5.pid" &&
	git -C r5 worktree-ports repair --worktree r5-wt --json >out &&
	cat >expect <<-EOF &&
	false
	1
	r5-wt
	web
	$port
	foreign_process
	$(cat r5.pid)
	1
	.env
	true
	EOF
	for k in dry_run moved.# moved.0.worktree moved.0.service \
		moved.0.from moved.0.reason moved.0.pid files.# files.0.file \
		files.0.changed
	do
		json_get out "$k" || echo "no $k"
	done >actual &&
	test_cmp expect actual &&
	json_get out moved.0.to >new &&
	grep "^PORT_WEB=$(cat new)$" r5-wt/.env
'

test_expect_success 'a server inside its worktree is not moved' '
	test_when_finished "stop_pid $PWD/r6.pid" &&
	repair_repo r6 23650 &&
	serve r6-wt "$(cat r6.port)" "$PWD/r6.pid" &&
	cp r6/$R expect.reg &&
	git -C r6-wt worktree-ports repair --all >out &&
	echo "nothing to repair" >expect &&
	test_cmp expect out &&
	test_cmp expect.reg r6/$R
'

test_expect_success 'repair moves the later holder of a port allocated twice' '
	repair_repo r7 23660 &&
	port=$(cat r7.port) &&
	json_edit r7/$R set "allocations[worktree=.main].port" "$port" &&
	git -C r7-wt worktree-ports repair >out &&
	echo "nothing to repair" >expect &&
	test_cmp expect out &&
	git -C r7-wt worktree-ports repair --worktree .main >out &&
	grep "^moved ${SQ}web${SQ} of worktree ${SQ}.main${SQ} from $port to [0-9]*: $port is also allocated to ${SQ}web${SQ} of worktree ${SQ}r7-wt${SQ}$" out &&
	git -C r7 worktree-ports repair --all >out &&
	echo "nothing to repair" >expect &&
	test_cmp expect out &&
	grep "^PORT_WEB=$port$" r7-wt/.env &&
	! grep "^PORT_WEB=$port$" r7/.env
'

test_expect_success 'the holder whose worktree runs a server keeps a shared port' '
	test_when_finished "stop_pid $PWD/r8.pid" &&
	repair_repo r8 23670 &&
	main=$(cat r8.main) &&
	test "$(json_get r8/$R allocations.0.worktree)" = r8-wt &&
	json_edit r8/$R set allocations.0.port "$main" &&
	serve r8 "$main" "$PWD/r8.pid" &&
	git -C r8 worktree-ports repair --all >out &&
	new=$(sed -n "s/^moved ${SQ}web${SQ} of worktree ${SQ}r8-wt${SQ} from $main to \([0-9]*\): .*/\1/p" out) &&
	test -n "$new" &&
	grep "^PORT_WEB=$main$" r8/.env &&
	grep "^PORT_WEB=$new$" r8-wt/.env
'

test_expect_success 'repair moves an allocation outside its range into it' '
	repair_repo r9 23680 &&
	port=$(cat r9.port) &&
	set_ranges r9 "web:23690-23699" &&
	git -C r9-wt worktree-ports repair >out &&
	grep "^moved ${SQ}web${SQ} of worktree ${SQ}r9-wt${SQ} from $port to 2369[0-9]: $port is outside range ${SQ}web${SQ} (23690-23699)$" out &&
	grep "^PORT_WEB=2369[0-9]$" r9-wt/.env
'

test_expect_success 'a full range stops repair before anything is written' '
	test_when_finished "stop_pid $PWD/r10.pid" &&
	repair_repo r10 23700 &&
	port=$(cat r10.port) &&
	set_ranges r10 "web:$port-$port" &&
	json_edit r10/$R delete "allocations[worktree=.main]" &&
	mkdir else10 &&
	serve else10 "$port" "$PWD/r10.pid" &&
	cp r10/$R expect.reg &&
	cp r10-wt/.env expect.env &&
	test_expect_code 5 git -C r10-wt worktree-ports repair 2>err &&
	grep "^error: cannot move ${SQ}web${SQ} of worktree ${SQ}r10-wt${SQ}: no free port in range ${SQ}web${SQ}" err &&
	test_cmp expect.reg r10/$R &&
	test_cmp expect.env r10-wt/.env
'

test_expect_success 'a worktree without .worktree-ports.ini gets no .env' '
	test_when_finished "stop_pid $PWD/r11.pid" &&
	new_repo r11 &&
	set_ranges r11 "web:23710-23719" &&
	git -C r11 worktree-ports allocate web -q >port &&
	mkdir else11 &&
	serve else11 "$(cat port)" "$PWD/r11.pid" &&
	git -C r11 worktree-ports repair >out &&
	grep "^moved ${SQ}web${SQ} of worktree ${SQ}.main${SQ} from $(cat port) to " out &&
	! grep wrote out &&
	! test -e r11/.env
'

test_expect_success 'repair --all with --worktree is a usage error' '
	new_repo r12 &&
	test_expect_code 129 git -C r12 worktree-ports repair --all --worktree x
'

test_done
