#!/bin/bash
test_description='status, env, and the command line itself'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json

# status_repo REPO BASE: REPO with ranges web BASE..BASE+9 and api
# BASE+10..BASE+19, the main worktree holding both, and a linked worktree
# REPO-wt holding a port for web (in the file REPO.wtport).
status_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "api:$(($2 + 10))-$(($2 + 19))" &&
	git -C "$1" worktree add -q "../$1-wt" &&
	git -C "$1" worktree-ports allocate web -q &&
	git -C "$1" worktree-ports allocate api -q &&
	git -C "$1-wt" worktree-ports allocate web -q >"$1.wtport"
}

# env_repo REPO BASE: REPO whose main worktree holds BASE for web and
# BASE+10 for my-db.
env_repo() {
	new_repo "$1" &&
	set_ranges "$1" "web:$2-$(($2 + 9))" "my-db:$(($2 + 10))-$(($2 + 19))" &&
	git -C "$1" worktree-ports allocate web -q &&
	git -C "$1" worktree-ports allocate my-db -q
}

# check_ranges FILE: each range of 'status --all --json' output FILE has
# the size of its span, counts the allocations in it, and its free_ports
# are exactly the ports of the span that no allocation holds.
check_ranges() {
	local r
	json_lines "$1" allocations range port >ports &&
	for r in $(json_lines "$1" ranges name)
	do
		echo "$r $(json_get "$1" "ranges[name=$r].free_ports" | tr -d "[]" | tr , " ")" ||
			return 1
	done >free_ports &&
	json_lines "$1" ranges name start end size allocated free >ranges &&
	awk '
	function bad(m) { print "check_ranges: " m; failed = 1 }
	FILENAME == ARGV[1] { mine[$1, $2] = 1; nr[$1]++; next }
	FILENAME == ARGV[2] {
		for (i = 2; i < NF; i += 2)
			for (p = $i; p <= $(i + 1); p++)
				free[$1, p] = 1
		next
	}
	{
		r = $1; nfree = 0
		if ($4 != $3 - $2 + 1)
			bad(r ": size " $4)
		if ($5 != nr[r] + 0)
			bad(r ": allocated " $5 ", not " nr[r] + 0)
		if ($5 + $6 != $4)
			bad(r ": allocated + free != size")
		for (p = $2; p <= $3; p++) {
			if (((r, p) in free) == ((r, p) in mine))
				bad(r ": port " p " is both free and allocated, or neither")
			nfree += ((r, p) in free)
		}
		if (nfree != $6)
			bad(r ": free " $6 ", free_ports hold " nfree)
	}
	END { exit failed }
	' ports free_ports ranges
}

# help_ok COMMAND: 'git worktree-ports COMMAND -h' exits 129 and prints a
# usage that names the command on stdout.
help_ok() {
	test_expect_code 129 git worktree-ports "$1" -h >"help-$1" &&
	grep -i "^usage:.*worktree-ports $1" "help-$1"
}

test_expect_success 'status shows the allocations of this worktree' '
	status_repo r1 14300 &&
	git -C r1 worktree-ports status >out &&
	grep -w 14300 out &&
	grep -w 14310 out &&
	grep -w web out &&
	grep -w api out &&
	! grep -w "$(cat r1.wtport)" out &&
	! grep r1-wt out
'

test_expect_success 'status of a linked worktree shows only its own' '
	status_repo r1b 14320 &&
	git -C r1b-wt worktree-ports status >out &&
	grep -w "$(cat r1b.wtport)" out &&
	! grep -w 14320 out &&
	! grep -w 14330 out
'

test_expect_success 'status --json shows this worktree and no ranges' '
	status_repo r2 14340 &&
	git -C r2 worktree-ports status --json >out &&
	cat >expect <<-EOF &&
	$(cd r2 && pwd -P)/$R
	.main
	2
	0
	14340
	14350
	EOF
	for k in registry worktree allocations.# \
		"allocations[worktree=r2-wt].#" \
		"allocations[service=web].port" "allocations[service=api].port"
	do
		json_get out "$k" || echo "no $k"
	done >actual &&
	test_cmp expect actual &&
	! json_get out ranges
'

test_expect_success 'status --worktree shows that worktree' '
	status_repo r3 14360 &&
	git -C r3 worktree-ports status --worktree r3-wt --json >out &&
	echo 1 >expect &&
	json_get out allocations.# >actual &&
	test_cmp expect actual &&
	json_get out "allocations[worktree=r3-wt].port" >actual &&
	test_cmp r3.wtport actual
'

test_expect_success 'status --worktree of no such worktree exits 7' '
	status_repo r3b 14380 &&
	test_expect_code 7 git -C r3b worktree-ports status --worktree nosuch 2>err &&
	grep nosuch err
'

test_expect_success 'status --all shows every worktree, range and free ports' '
	status_repo r4 14400 &&
	git -C r4 worktree-ports status --all >out &&
	grep -w 14400 out &&
	grep -w 14410 out &&
	grep -w "$(cat r4.wtport)" out &&
	grep -w "r4-wt" out &&
	grep -w ".main" out &&
	grep -w web out &&
	grep -w api out &&
	grep -i free out
'

test_expect_success 'status --all --json has the documented keys and counts' '
	status_repo r5 14420 &&
	git -C r5 worktree-ports status --all --json >out &&
	for k in registry worktree allocations ranges
	do
		json_get out @keys | grep -qx "$k" || echo "top: no $k"
	done >bad &&
	test "$(json_get out registry)" = "$(cd r5 && pwd -P)/$R" &&
	test "$(json_get out worktree)" = .main &&
	json_lines out allocations worktree | LC_ALL=C sort >actual &&
	printf "%s\n" .main .main r5-wt >expect &&
	test_cmp expect actual &&
	n=$(json_get out allocations.#) &&
	for i in $(seq 0 $((n - 1)))
	do
		json_get out allocations.$i.@keys >keys &&
		for k in port worktree path service range description \
			allocated_at allocated_by process_id health_status
		do
			grep -qx "$k" keys || echo "allocations[$i]: no $k"
		done || return 1
	done >>bad &&
	json_lines out ranges name | LC_ALL=C sort >actual &&
	printf "%s\n" api web >expect &&
	test_cmp expect actual &&
	for r in api web
	do
		json_get out "ranges[name=$r].@keys" >keys &&
		for k in name start end description size allocated free free_ports
		do
			grep -qx "$k" keys || echo "range $r: no $k"
		done || return 1
	done >>bad &&
	test_must_be_empty bad &&
	check_ranges out
'

test_expect_success 'env --format dotenv prints PORT_ lines' '
	env_repo r6 14440 &&
	git -C r6 worktree-ports env --format dotenv >out &&
	printf "PORT_MY_DB=14450\nPORT_WEB=14440\n" >expect &&
	sort out >actual &&
	test_cmp expect actual
'

test_expect_success 'env prints dotenv by default' '
	env_repo r6b 14460 &&
	git -C r6b worktree-ports env >out &&
	printf "PORT_MY_DB=14470\nPORT_WEB=14460\n" >expect &&
	sort out >actual &&
	test_cmp expect actual
'

test_expect_success 'env --format sh can be evaluated by a shell' '
	env_repo r7 14480 &&
	unset PORT_WEB PORT_MY_DB &&
	git -C r7 worktree-ports env --format sh >out &&
	eval "$(cat out)" &&
	test "$PORT_WEB" = 14480 &&
	test "$PORT_MY_DB" = 14490 &&
	env >environ &&
	grep -x PORT_WEB=14480 environ &&
	grep -x "export PORT_WEB=${SQ}14480${SQ}" out
'

test_expect_success 'env --format json maps names to strings' '
	env_repo r8 14500 &&
	git -C r8 worktree-ports env --format json >out &&
	cat >expect <<-\EOF &&
	PORT_MY_DB
	PORT_WEB
	14500
	string
	14510
	EOF
	for k in @keys PORT_WEB PORT_WEB.@type PORT_MY_DB
	do
		json_get out $k || echo "no $k"
	done >actual &&
	test_cmp expect actual
'

test_expect_success 'env with an unknown format exits 129' '
	env_repo r9 14520 &&
	test_expect_code 129 git -C r9 worktree-ports env --format yaml 2>err &&
	grep yaml err
'

test_expect_success '-h on every command exits 129 and prints its usage' '
	help_ok init &&
	help_ok allocate &&
	help_ok release &&
	help_ok status &&
	help_ok prune &&
	help_ok env
'

test_expect_success '-h and --help alone print the usage' '
	test_expect_code 129 git worktree-ports -h >out &&
	grep -i "^usage: .*worktree-ports" out &&
	test_expect_code 129 git-worktree-ports --help >out &&
	grep -i "^usage: .*worktree-ports" out
'

test_expect_success 'an unknown command exits 129' '
	new_repo r10 &&
	test_expect_code 129 git -C r10 worktree-ports frobnicate 2>err &&
	grep frobnicate err
'

test_expect_success 'an unknown option exits 129' '
	new_repo r11 &&
	test_expect_code 129 git -C r11 worktree-ports allocate web --frobnicate 2>err &&
	grep frobnicate err &&
	test_expect_code 129 git -C r11 worktree-ports status --frobnicate &&
	test_expect_code 129 git -C r11 worktree-ports --frobnicate status
'

test_expect_success '--version exits 0 and prints the version' '
	git worktree-ports --version >out &&
	grep "worktree-ports.*[0-9]\.[0-9]" out
'

test_expect_success 'GIT_WORKTREE_PORTS_TIMING=1 times every phase' '
	new_repo r12 &&
	set_ranges r12 "web:14540-14549" &&
	GIT_WORKTREE_PORTS_TIMING=1 git -C r12 worktree-ports allocate web -q >port 2>err &&
	echo 14540 >expect &&
	test_cmp expect port &&
	for phase in discover lock load autorelease pick save total
	do
		grep -qx "timing: $phase [0-9][0-9]*" err || echo "no $phase"
	done >missing &&
	test_must_be_empty missing &&
	git -C r12 worktree-ports allocate web -q 2>err &&
	! grep "^timing:" err
'

test_done
