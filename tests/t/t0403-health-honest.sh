#!/bin/bash
test_description='health shown honestly: its age, foreign answers, other addresses, ports in use'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json

# honest_repo REPO BASE: REPO with a range web BASE..BASE+9 and a port
# for web in its main worktree (REPO.web), checked on /health.
honest_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" &&
	printf '[service "web"]\nhealth = /health\n' >"$1/.worktree-ports.ini" &&
	git -C "$1" worktree-ports allocate web -q >"$1.web"
}

# health_cell REPO: the HEALTH cell of web in plain 'status'.
health_cell() {
	git -C "$1" worktree-ports status >status.out &&
	sed -n "s/^  web  *[0-9]*  *web  *\(.*[^ ]\)  *-$/\1/p" status.out
}

test_expect_success 'a killed server keeps its last status, shown with its age' '
	test_when_finished "stop_pid $TRASH/k1.pid" &&
	honest_repo k1 20600 &&
	start_servers_in k1 k1.pid ok:$(cat k1.web) &&
	git -C k1 worktree-ports status --health-check >/dev/null &&
	stop_pid "$TRASH/k1.pid" &&
	health_cell k1 >cell &&
	grep -E "^healthy, [0-9]+ (s|min) ago$" cell &&
	git -C k1 worktree-ports status --json >out &&
	test "$(json_get out allocations.0.health_stale)" = false &&
	test "$(json_get out allocations.0.health_age_seconds)" -ge 0 &&
	# checked two days ago: no longer worth showing
	json_edit k1/$R set allocations.0.health_checked_at "\"2026-01-01T00:00:00Z\"" &&
	rm -f k1/.git/worktree-ports/ports.json.checked &&
	health_cell k1 >cell &&
	echo unknown >expect &&
	test_cmp expect cell &&
	git -C k1 worktree-ports status --json >out &&
	test "$(json_get out allocations.0.health_stale)" = true &&
	test "$(json_get out allocations.0.health_age_seconds)" -gt 86400 &&
	echo healthy >expect &&
	json_get out allocations.0.health_status >actual &&
	test_cmp expect actual
'

test_expect_success 'a process of elsewhere answering is foreign, not unhealthy' '
	test_when_finished "stop_pid $TRASH/k2.pid" &&
	honest_repo k2 20610 &&
	mkdir else2 &&
	start_servers_in else2 k2.pid error:$(cat k2.web) &&
	test_expect_code 9 git -C k2 worktree-ports status --health-check -v >out &&
	grep "^$(cat k2.web)  .main  *web  *foreign  *$(cat k2.pid)  " out &&
	grep "check /health: answered by pid $(cat k2.pid) outside the worktree (HTTP 500)" out &&
	echo foreign >expect &&
	json_get k2/$R allocations.0.health_status >actual &&
	test_cmp expect actual &&
	health_cell k2 >cell &&
	grep -E "^foreign, [0-9]+ (s|min) ago$" cell
'

test_expect_success 'the worktree own server answering is judged on its answer' '
	test_when_finished "stop_pid $TRASH/k3.pid" &&
	honest_repo k3 20620 &&
	start_servers_in k3 k3.pid error:$(cat k3.web) &&
	test_expect_code 9 git -C k3 worktree-ports status --health-check -v >out &&
	grep "^$(cat k3.web)  .main  *web  *unhealthy  *$(cat k3.pid)  " out &&
	grep "check /health: HTTP 500" out
'

test_expect_success 'a server listening on 127.0.0.2 only is reported with its address' '
	test_when_finished "stop_pid $TRASH/k4.pid" &&
	honest_repo k4 20630 &&
	(cd k4 && start_listener 127.0.0.2 "$(cat ../k4.web)" "$TRASH/k4.pid") &&
	test_expect_code 9 git -C k4 worktree-ports status --health-check -v >out &&
	grep "^$(cat k4.web)  .main  *web  *unhealthy  *$(cat k4.pid)  " out &&
	grep "listening on 127.0.0.2 only, not on 127.0.0.1 or ::1" out &&
	test_expect_code 9 git -C k4 worktree-ports status --health-check --json >out &&
	echo 127.0.0.2 >expect &&
	json_get out allocations.0.health.listening_on >actual &&
	test_cmp expect actual &&
	echo "$(cat k4.pid)" >expect &&
	json_get out allocations.0.process_id >actual &&
	test_cmp expect actual
'

test_expect_success 'status --all shows ports bound by a process as in use, not free' '
	test_when_finished "stop_pid $TRASH/k5.pid; stop_pid $TRASH/k5s.pid" &&
	honest_repo k5 20640 &&
	start_servers_in k5 k5.pid ok:$(cat k5.web) &&
	mkdir else5 &&
	stray=20649 &&
	test "$stray" != "$(cat k5.web)" &&
	(cd else5 && start_listener 127.0.0.1 $stray "$TRASH/k5s.pid") &&
	git -C k5 worktree-ports status --all >out &&
	grep "^  $(cat k5.web)  .main  *web  *unknown  *pid $(cat k5.pid)  " out &&
	grep "^  in use: $stray (pid $(cat k5s.pid))$" out &&
	grep "^  free: " out >free &&
	! grep "$stray" free &&
	grep "^web .*: 1 allocated, 8 free$" out &&
	git -C k5 worktree-ports status --all --json >out &&
	echo $stray >expect &&
	json_get out ranges.0.in_use.0.port >actual &&
	test_cmp expect actual &&
	json_get out ranges.0.in_use.0.pid >actual &&
	test_cmp k5s.pid actual &&
	json_get out allocations.0.listening_pid >actual &&
	test_cmp k5.pid actual &&
	echo 8 >expect &&
	json_get out ranges.0.free >actual &&
	test_cmp expect actual
'

test_done
