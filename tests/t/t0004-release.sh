#!/bin/bash
test_description='release, prune, and the ports of removed worktrees'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json

# count_allocs REPO [WORKTREE]: how many allocations REPO's registry holds
# (of WORKTREE only, if given).
count_allocs() {
	if test $# = 2; then
		json_get "$1/$R" "allocations[worktree=$2].#"
	else
		json_get "$1/$R" allocations.#
	fi
}

# repo_with_wt REPO RANGE...: a repository whose linked worktree REPO-wt
# holds a port for 'web' (in the file REPO.port).
repo_with_wt() {
	local repo=$1
	shift
	new_repo "$repo" &&
	set_ranges "$repo" "$@" &&
	git -C "$repo" worktree add -q "../$repo-wt" &&
	git -C "$repo-wt" worktree-ports allocate web -q >"$repo.port"
}

test_expect_success 'release frees the port of a service' '
	new_repo r1 &&
	set_ranges r1 "web:11700-11709" "api:11710-11719" &&
	git -C r1 worktree-ports allocate web -q &&
	git -C r1 worktree-ports allocate api -q &&
	git -C r1 worktree-ports release web >out &&
	echo "released port 11700 (${SQ}web${SQ}) of worktree ${SQ}.main${SQ}" >expect &&
	test_cmp expect out &&
	git -C r1 worktree-ports status --json >status &&
	echo 0 >expect &&
	json_get status "allocations[service=web].#" >actual &&
	test_cmp expect actual &&
	echo 11710 >expect &&
	json_get status "allocations[service=api].port" >actual &&
	test_cmp expect actual &&
	git -C r1 worktree-ports status >status &&
	! grep -w 11700 status &&
	grep -w 11710 status
'

test_expect_success 'release with nothing to release named exits 129' '
	new_repo r2 &&
	set_ranges r2 "web:11720-11729" &&
	git -C r2 worktree-ports allocate web -q &&
	cp r2/$R expect &&
	test_expect_code 129 git -C r2 worktree-ports release 2>err &&
	grep -i "usage\|error" err &&
	test_cmp expect r2/$R
'

test_expect_success 'release of a service with no port exits 7' '
	new_repo r3 &&
	set_ranges r3 "web:11730-11739" "api:11740-11749" &&
	git -C r3 worktree-ports allocate api -q &&
	cp r3/$R expect &&
	test_expect_code 7 git -C r3 worktree-ports release web 2>err &&
	grep web err &&
	test_cmp expect r3/$R
'

test_expect_success 'release of one allocated and one unallocated service warns' '
	new_repo r3b &&
	set_ranges r3b "web:11750-11759" "api:11760-11769" &&
	git -C r3b worktree-ports allocate api -q &&
	git -C r3b worktree-ports release web api >out 2>err &&
	grep "^warning: .*web" err &&
	echo "released port 11760 (${SQ}api${SQ}) of worktree ${SQ}.main${SQ}" >expect &&
	test_cmp expect out &&
	echo 0 >expect &&
	count_allocs r3b >actual &&
	test_cmp expect actual
'

test_expect_success 'release --all frees every port of this worktree only' '
	repo_with_wt r4 "web:11770-11779" "api:11780-11789" &&
	git -C r4 worktree-ports allocate web -q &&
	git -C r4 worktree-ports allocate api -q &&
	git -C r4 worktree-ports release --all >out &&
	test_line_count = 2 out &&
	grep "^released port 11770 " out &&
	grep "^released port 11780 " out &&
	echo 0 >expect &&
	count_allocs r4 .main >actual &&
	test_cmp expect actual &&
	json_get r4/$R "allocations[worktree=r4-wt].port" >actual &&
	test_cmp r4.port actual
'

test_expect_success 'release --port frees that port' '
	new_repo r5 &&
	set_ranges r5 "web:11790-11799" "api:11800-11809" &&
	git -C r5 worktree-ports allocate web -q &&
	git -C r5 worktree-ports allocate api -q &&
	git -C r5 worktree-ports release --port 11800 >out &&
	grep "^released port 11800 " out &&
	echo 0 >expect &&
	json_get r5/$R "allocations[service=api].#" >actual &&
	test_cmp expect actual &&
	echo 1 >expect &&
	count_allocs r5 >actual &&
	test_cmp expect actual
'

test_expect_success 'release --json lists what it released' '
	new_repo r5b &&
	set_ranges r5b "web:11810-11819" &&
	git -C r5b worktree-ports allocate web -q &&
	git -C r5b worktree-ports release web --json >out &&
	cat >expect <<-\EOF &&
	1
	11810
	web
	.main
	EOF
	for k in released.# released.0.port released.0.service \
		released.0.worktree
	do
		json_get out $k || echo "no $k"
	done >actual &&
	test_cmp expect actual
'

test_expect_success 'the ports of a removed worktree are dropped, with a note' '
	repo_with_wt r6 "web:11820-11829" &&
	git -C r6 worktree remove ../r6-wt &&
	git -C r6 worktree-ports status 2>err &&
	echo "note: released port $(cat r6.port) (${SQ}web${SQ}) of removed worktree ${SQ}r6-wt${SQ}" >expect &&
	grep "^note: " err >actual &&
	test_cmp expect actual &&
	echo 0 >expect &&
	count_allocs r6 >actual &&
	test_cmp expect actual
'

test_expect_success 'the ports of a deleted worktree folder are dropped' '
	repo_with_wt r7 "web:11830-11839" &&
	rm -rf r7-wt &&
	git -C r7 worktree-ports status 2>err &&
	echo "note: released port $(cat r7.port) (${SQ}web${SQ}) of removed worktree ${SQ}r7-wt${SQ}" >expect &&
	grep "^note: " err >actual &&
	test_cmp expect actual &&
	echo 0 >expect &&
	count_allocs r7 >actual &&
	test_cmp expect actual
'

test_expect_success 'the ports of a pruned worktree are dropped' '
	repo_with_wt r7b "web:11840-11849" &&
	rm -rf r7b-wt &&
	git -C r7b worktree prune &&
	git -C r7b worktree-ports status 2>err &&
	grep "^note: released port $(cat r7b.port) " err &&
	echo 0 >expect &&
	count_allocs r7b >actual &&
	test_cmp expect actual
'

test_expect_success 'a locked worktree keeps its ports when its folder is gone' '
	repo_with_wt r8 "web:11850-11859" &&
	git -C r8 worktree lock ../r8-wt &&
	rm -rf r8-wt &&
	cp r8/$R expect &&
	git -C r8 worktree-ports status 2>err &&
	! grep "released" err &&
	test_cmp expect r8/$R &&
	json_get r8/$R "allocations[worktree=r8-wt].port" >actual &&
	test_cmp r8.port actual
'

test_expect_success 'a worktree added with --lock keeps its ports too' '
	new_repo r8b &&
	set_ranges r8b "web:11860-11869" &&
	git -C r8b worktree add -q --lock ../r8b-wt &&
	git -C r8b-wt worktree-ports allocate web -q >port &&
	rm -rf r8b-wt &&
	git -C r8b worktree-ports status 2>err &&
	! grep "released" err &&
	json_get r8b/$R "allocations[worktree=r8b-wt].port" >actual &&
	test_cmp port actual
'

test_expect_success 'prune --dry-run lists and changes nothing' '
	repo_with_wt r9 "web:11870-11879" &&
	git -C r9 worktree remove ../r9-wt &&
	cp r9/$R expect &&
	git -C r9 worktree-ports prune --dry-run >out 2>err &&
	grep "^would release port $(cat r9.port) .*r9-wt" out &&
	test_line_count = 1 out &&
	! grep "released" err &&
	test_cmp expect r9/$R
'

test_expect_success 'prune --dry-run --json says dry_run and what it would do' '
	repo_with_wt r9b "web:11880-11889" &&
	git -C r9b worktree remove ../r9b-wt &&
	cp r9b/$R expect &&
	git -C r9b worktree-ports prune --dry-run --json >out &&
	cat >expected <<-EOF &&
	true
	1
	$(cat r9b.port)
	web
	r9b-wt
	EOF
	for k in dry_run released.# released.0.port released.0.service \
		released.0.worktree
	do
		json_get out $k || echo "no $k"
	done >actual &&
	test_cmp expected actual &&
	test_cmp expect r9b/$R
'

test_expect_success 'prune releases the ports of removed worktrees' '
	repo_with_wt r10 "web:11890-11899" &&
	git -C r10 worktree-ports allocate web -q &&
	git -C r10 worktree remove ../r10-wt &&
	git -C r10 worktree-ports prune >out &&
	grep "^released port $(cat r10.port) .*r10-wt" out &&
	echo 0 >expect &&
	count_allocs r10 r10-wt >actual &&
	test_cmp expect actual &&
	echo 1 >expect &&
	count_allocs r10 .main >actual &&
	test_cmp expect actual
'

test_expect_success 'prune keeps the ports of locked worktrees' '
	repo_with_wt r11 "web:11900-11909" &&
	git -C r11 worktree lock ../r11-wt &&
	rm -rf r11-wt &&
	cp r11/$R expect &&
	git -C r11 worktree-ports prune >out &&
	! grep "released" out &&
	test_cmp expect r11/$R
'

test_expect_success 'a full range frees the ports of removed worktrees first' '
	new_repo r12 &&
	set_ranges r12 "web:11910-11911" &&
	git -C r12 worktree add -q ../r12-a &&
	git -C r12 worktree add -q ../r12-b &&
	git -C r12-a worktree-ports allocate web -q >a &&
	git -C r12-b worktree-ports allocate web -q &&
	git -C r12 worktree remove ../r12-a &&
	git -C r12 worktree-ports allocate web -q >actual 2>err &&
	test_cmp a actual &&
	grep "^note: released port $(cat a) " err
'

test_expect_success 'release --port frees the port of another worktree' '
	repo_with_wt r13 "web:11920-11929" &&
	git -C r13 worktree-ports release --port "$(cat r13.port)" >out &&
	echo "released port $(cat r13.port) (${SQ}web${SQ}) of worktree ${SQ}r13-wt${SQ}" >expect &&
	test_cmp expect out &&
	echo 0 >expect &&
	count_allocs r13 >actual &&
	test_cmp expect actual
'

test_expect_success 'release --worktree releases for that worktree' '
	repo_with_wt r14 "web:11930-11939" &&
	git -C r14 worktree-ports allocate web -q &&
	git -C r14 worktree-ports release web --worktree r14-wt >out &&
	grep "^released port $(cat r14.port) .*r14-wt" out &&
	echo 0 >expect &&
	count_allocs r14 r14-wt >actual &&
	test_cmp expect actual &&
	echo 1 >expect &&
	count_allocs r14 .main >actual &&
	test_cmp expect actual
'

test_expect_success 'the note of a dropped worktree stays out of --json output' '
	repo_with_wt r15 "web:11940-11949" &&
	git -C r15 worktree remove ../r15-wt &&
	git -C r15 worktree-ports status --json >out 2>err &&
	grep "^note: released port $(cat r15.port) " err &&
	echo 0 >expect &&
	json_get out allocations.# >actual &&
	test_cmp expect actual
'

test_expect_success 'allocations of names git cannot give a worktree are dropped' '
	new_repo r16 &&
	cat >r16/$R <<-\EOF &&
	{
	  "ranges": {"web": {"start": 11950, "end": 11959}},
	  "reserved": [],
	  "allocations": [
	    {"port": 11950, "worktree": "..", "service": "web"},
	    {"port": 11951, "worktree": "a/b", "service": "web"},
	    {"port": 11952, "worktree": "never-added", "service": "web"}
	  ]
	}
	EOF
	git -C r16 worktree-ports prune >out &&
	test_line_count = 3 out &&
	echo 0 >expect &&
	count_allocs r16 >actual &&
	test_cmp expect actual
'

test_expect_success 'dropping some worktrees keeps the others exactly' '
	new_repo r17 &&
	set_ranges r17 "web:11960-11969" "api:11970-11979" &&
	for w in a b c d
	do
		git -C r17 worktree add -q ../r17-$w &&
		git -C r17-$w worktree-ports allocate web -q &&
		git -C r17-$w worktree-ports allocate api -q || echo "failed in $w"
	done >setup &&
	! grep failed setup &&
	git -C r17 worktree-ports allocate web -q &&
	git -C r17 worktree remove ../r17-b &&
	rm -rf r17-d &&
	git -C r17 worktree-ports status 2>err &&
	grep "^note: " err >notes &&
	test_line_count = 4 notes &&
	grep -c "${SQ}r17-b${SQ}\$" notes >actual &&
	echo 2 >expect &&
	test_cmp expect actual &&
	printf "%s\n" .main r17-a r17-a r17-c r17-c >expect &&
	json_lines r17/$R allocations worktree | LC_ALL=C sort >actual &&
	test_cmp expect actual
'

test_done
