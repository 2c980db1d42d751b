#!/bin/bash
test_description='init and allocate: the registry, its ranges and worktrees'
. "$(dirname "$0")/../lib.sh"

# Every test uses ranges of its own: the registries of one script share
# the host's list, so an earlier test's ports count as taken.
R=design/worktrees/ports.json

# fnv_port WORKTREE SERVICE START END: the port a linked worktree prefers,
# start + fnv1a32(worktree NUL service) mod size, as alloc.h pins it.
fnv_port() {
	local LC_ALL=C h=2166136261 i c bytes
	bytes="$1 $2" # the space stands for the NUL
	for ((i = 0; i < ${#bytes}; i++)); do
		printf -v c '%d' "'${bytes:i:1}"
		test $i = ${#1} && c=0
		h=$((((h ^ c) * 16777619) & 0xffffffff))
	done
	echo $(($3 + h % ($4 - $3 + 1)))
}

# plain_repo NAME: a repository with one commit and no registry.
plain_repo() {
	git init -q "$1" &&
	echo hello >"$1/README" &&
	git -C "$1" add README &&
	git -C "$1" commit -q -m initial
}

test_expect_success 'init creates the registry and excludes it from git' '
	plain_repo r1 &&
	git -C r1 worktree-ports init --no-hooks >out &&
	grep "^created .*$R\$" out &&
	echo 0 >expect &&
	json_get r1/$R allocations.# >actual &&
	test_cmp expect actual &&
	grep "$R" r1/.git/info/exclude &&
	git -C r1 status --porcelain --untracked-files=all >status &&
	test_must_be_empty status
'

test_expect_success 'the registry stays out of git status after allocating' '
	new_repo r1b &&
	set_ranges r1b "web:11100-11109" &&
	git -C r1b worktree-ports allocate web -q >port &&
	git -C r1b status --porcelain --untracked-files=all >status &&
	test_must_be_empty status
'

test_expect_success 'init on an existing registry changes nothing, says so and exits 0' '
	new_repo r2 &&
	set_ranges r2 "web:11110-11119" &&
	git -C r2 worktree-ports allocate web -q >/dev/null &&
	cp r2/$R expect &&
	ls -i r2/$R >inode.before &&
	git -C r2 worktree-ports init --no-hooks >out 2>err &&
	grep "^the registry exists already: .* (1 allocation); nothing changed in it$" out &&
	test_must_be_empty err &&
	test_cmp expect r2/$R &&
	ls -i r2/$R >inode.after &&
	test_cmp inode.before inode.after
'

test_expect_success 'init on a registry that does not load refuses, and --reset starts over' '
	new_repo r2b &&
	echo "{" >r2b/$R &&
	test_expect_code 4 git -C r2b worktree-ports init --no-hooks 2>err &&
	grep "^hint: .*init --reset" err &&
	! grep -i backup err &&
	echo "{" >expect &&
	test_cmp expect r2b/$R &&
	git -C r2b worktree-ports init --reset --no-hooks >out &&
	grep "^rewrote\|^created" out &&
	test "$(json_get r2b/$R ranges.web.start)" = 8080
'

test_expect_success 'init --force rewrites the ranges and keeps the allocations' '
	new_repo r3 &&
	set_ranges r3 "web:11120-11129" &&
	git -C r3 worktree-ports allocate web -q >port &&
	git -C r3 worktree-ports init --force --no-hooks >out &&
	grep "^rewrote .* keeping its 1 allocation$" out &&
	test "$(json_get r3/$R allocations.0.port)" = "$(cat port)" &&
	echo 8080 >expect &&
	json_get r3/$R ranges.web.start >actual &&
	test_cmp expect actual &&
	echo 10000 >expect &&
	json_get r3/$R ranges.default.start >actual &&
	test_cmp expect actual
'

test_expect_success 'allocate -q prints only a port of the range' '
	new_repo r4 &&
	set_ranges r4 "web:11130-11139" &&
	git -C r4 worktree-ports allocate web -q >port &&
	test_line_count = 1 port &&
	grep -x "[0-9][0-9]*" port &&
	test "$(cat port)" -ge 11130 &&
	test "$(cat port)" -le 11139 &&
	json_get r4/$R "allocations[worktree=.main,service=web].port" >actual &&
	test_cmp port actual
'

test_expect_success 'allocate says what it allocated, then what exists' '
	new_repo r5 &&
	set_ranges r5 "web:11140-11149" &&
	git -C r5 worktree-ports allocate web >out &&
	echo "allocated port 11140 to ${SQ}web${SQ} in worktree ${SQ}.main${SQ}" >expect &&
	test_cmp expect out &&
	git -C r5 worktree-ports allocate web >out &&
	echo "port 11140 is allocated to ${SQ}web${SQ} in worktree ${SQ}.main${SQ}" >expect &&
	test_cmp expect out
'

test_expect_success 'allocate is idempotent and leaves the registry alone' '
	new_repo r6 &&
	set_ranges r6 "web:11150-11159" &&
	git -C r6 worktree add -q ../r6-wt &&
	git -C r6-wt worktree-ports allocate web -q >first &&
	cp r6/$R before &&
	git -C r6-wt worktree-ports allocate web -q >second &&
	test_cmp first second &&
	test_cmp before r6/$R &&
	echo 1 >expect &&
	json_get r6/$R allocations.# >actual &&
	test_cmp expect actual
'

test_expect_success 'the main worktree gets the first port of each range' '
	new_repo r7 &&
	set_ranges r7 "web:11160-11169" "api:11170-11179" &&
	git -C r7 worktree-ports allocate web -q >actual &&
	echo 11160 >expect &&
	test_cmp expect actual &&
	git -C r7 worktree-ports allocate api -q >actual &&
	echo 11170 >expect &&
	test_cmp expect actual
'

test_expect_success 'a linked worktree gets its hashed port' '
	new_repo r8 &&
	set_ranges r8 "web:11180-11189" &&
	git -C r8 worktree add -q ../r8-wt &&
	git -C r8-wt worktree-ports allocate web -q >actual &&
	fnv_port r8-wt web 11180 11189 >expect &&
	test_cmp expect actual
'

test_expect_success 'two linked worktrees get different ports' '
	new_repo r9 &&
	set_ranges r9 "web:11190-11191" &&
	git -C r9 worktree add -q ../r9-a &&
	git -C r9 worktree add -q ../r9-b &&
	git -C r9-a worktree-ports allocate web -q >a &&
	git -C r9-b worktree-ports allocate web -q >b &&
	sort a b >actual &&
	printf "11190\n11191\n" >expect &&
	test_cmp expect actual &&
	json_get r9/$R "allocations[worktree=r9-a,service=web].port" >actual &&
	test_cmp a actual &&
	json_get r9/$R "allocations[worktree=r9-b,service=web].port" >actual &&
	test_cmp b actual
'

test_expect_success 'a subdirectory of a linked worktree uses the central registry' '
	new_repo r10 &&
	set_ranges r10 "web:11200-11209" &&
	git -C r10 worktree add -q ../r10-wt &&
	mkdir -p r10-wt/sub/dir &&
	(cd r10-wt/sub/dir && git worktree-ports allocate web -q) >port &&
	! test -e r10-wt/design &&
	! test -e r10-wt/sub/dir/design &&
	json_get r10/$R "allocations[worktree=r10-wt,service=web].port" >actual &&
	test_cmp port actual &&
	(cd r10-wt && pwd -P) >expect &&
	json_get r10/$R "allocations[worktree=r10-wt].path" >actual &&
	test_cmp expect actual
'

test_expect_success '-C runs as if started in the path' '
	new_repo r11 &&
	set_ranges r11 "web:11210-11219" &&
	git -C r11 worktree add -q ../r11-wt &&
	git worktree-ports -C r11 allocate web -q >actual &&
	echo 11210 >expect &&
	test_cmp expect actual &&
	git worktree-ports -C r11-wt allocate web -q >port &&
	json_get r11/$R "allocations[worktree=r11-wt,service=web].port" >actual &&
	test_cmp port actual
'

test_expect_success 'global options are accepted after the command' '
	new_repo r12 &&
	set_ranges r12 "web:11220-11229" &&
	git worktree-ports allocate -C r12 web --json >out &&
	echo 11220 >expect &&
	json_get out port >actual &&
	test_cmp expect actual &&
	git worktree-ports -q -C r12 allocate web >actual &&
	test_cmp expect actual
'

test_expect_success 'outside a repository a command exits 3' '
	mkdir norepo &&
	test_expect_code 3 git -C norepo worktree-ports allocate web 2>err &&
	grep "^error: " err
'

test_expect_success 'allocate --worktree allocates for another worktree' '
	new_repo r13 &&
	set_ranges r13 "web:11230-11239" &&
	git -C r13 worktree add -q ../r13-wt &&
	git -C r13 worktree-ports allocate web --worktree r13-wt -q >port &&
	json_get r13/$R "allocations[worktree=r13-wt,service=web].port" >actual &&
	test_cmp port actual &&
	(cd r13-wt && pwd -P) >expect &&
	json_get r13/$R "allocations[worktree=r13-wt].path" >actual &&
	test_cmp expect actual &&
	echo 0 >expect &&
	json_get r13/$R "allocations[worktree=.main].#" >actual &&
	test_cmp expect actual &&
	git -C r13-wt worktree-ports allocate web -q >again &&
	test_cmp port again
'

test_expect_success 'allocate --worktree with no such worktree exits 7' '
	new_repo r14 &&
	set_ranges r14 "web:11240-11249" &&
	cp r14/$R expect &&
	test_expect_code 7 git -C r14 worktree-ports allocate web --worktree nosuch 2>err &&
	grep nosuch err &&
	test_cmp expect r14/$R
'

test_expect_success 'allocate --json describes the allocation' '
	new_repo r15 &&
	set_ranges r15 "web:11250-11259" &&
	git -C r15 worktree-ports allocate web --json >out &&
	cat >expect <<-EOF &&
	11250
	number
	web
	.main
	$(cd r15 && pwd -P)
	web
	true
	EOF
	for k in port port.@type service worktree path range new
	do
		json_get out $k || echo "no $k"
	done >actual &&
	test_cmp expect actual &&
	git -C r15 worktree-ports allocate web --json >out &&
	echo false >expect &&
	json_get out new >actual &&
	test_cmp expect actual &&
	echo 11250 >expect &&
	json_get out port >actual &&
	test_cmp expect actual
'

test_expect_success 'release and allocate again gives the same port' '
	new_repo r16 &&
	set_ranges r16 "web:11260-11269" &&
	git -C r16 worktree add -q ../r16-wt &&
	git -C r16-wt worktree-ports allocate web -q >first &&
	git -C r16-wt worktree-ports release web &&
	echo 0 >expect &&
	json_get r16/$R allocations.# >actual &&
	test_cmp expect actual &&
	git -C r16-wt worktree-ports allocate web -q >second &&
	test_cmp first second
'

test_expect_success 'a service with no range of its own uses "default"' '
	new_repo r17 &&
	set_ranges r17 "web:11270-11279" "default:11280-11289" &&
	git -C r17 worktree-ports allocate redis --json >out &&
	echo 11280 >expect &&
	json_get out port >actual &&
	test_cmp expect actual &&
	echo default >expect &&
	json_get out range >actual &&
	test_cmp expect actual &&
	json_get r17/$R "allocations[service=redis].range" >actual &&
	test_cmp expect actual
'

test_expect_success 'a service with no range and no default range exits 7' '
	new_repo r18 &&
	set_ranges r18 "web:11290-11299" &&
	cp r18/$R expect &&
	test_expect_code 7 git -C r18 worktree-ports allocate redis 2>err &&
	grep "^error: .*redis" err &&
	test_cmp expect r18/$R
'

test_expect_success 'init in a linked worktree creates the central registry' '
	plain_repo r20 &&
	git -C r20 worktree add -q ../r20-wt &&
	git -C r20-wt worktree-ports init --no-hooks >out &&
	test -f r20/$R &&
	! test -e r20-wt/design &&
	grep "$R" r20/.git/info/exclude &&
	git -C r20 status --porcelain --untracked-files=all >status &&
	test_must_be_empty status
'

test_expect_success 'init --force does not add the exclude lines twice' '
	new_repo r21 &&
	cp r21/.git/info/exclude expect &&
	git -C r21 worktree-ports init --force --no-hooks --json >out &&
	test_cmp expect r21/.git/info/exclude &&
	echo true >expect &&
	json_get out replaced >actual &&
	test_cmp expect actual &&
	echo false >expect &&
	json_get out excluded >actual &&
	test_cmp expect actual
'

test_expect_success 'a bare repository keeps the registry in its common dir' '
	plain_repo r19 &&
	git clone -q --bare r19 r19.git &&
	git -C r19.git worktree add -q ../r19-wt &&
	git -C r19-wt worktree-ports init --no-hooks &&
	test -f r19.git/worktree-ports/ports.json &&
	! test -e r19-wt/design &&
	"$TEST_TOOL" set-ranges r19.git/worktree-ports/ports.json \
		"web:11050-11059" &&
	git -C r19-wt worktree-ports allocate web -q >port &&
	json_get r19.git/worktree-ports/ports.json \
		"allocations[worktree=r19-wt,service=web].port" >actual &&
	test_cmp port actual &&
	git -C r19.git worktree-ports status --all --json >out &&
	echo null >expect &&
	json_get out worktree >actual &&
	test_cmp expect actual &&
	json_get out "allocations[worktree=r19-wt].port" >actual &&
	test_cmp port actual
'

test_expect_success 'a worktree is known by its git name, not its folder' '
	new_repo r22 &&
	set_ranges r22 "web:11010-11019" &&
	mkdir r22-a r22-b &&
	git -C r22 worktree add -q --detach ../r22-a/feat &&
	git -C r22 worktree add -q --detach ../r22-b/feat &&
	basename "$(git -C r22-b/feat rev-parse --git-dir)" >expect &&
	test "$(cat expect)" != feat &&
	git -C r22-b/feat worktree-ports allocate web --json >out &&
	json_get out worktree >actual &&
	test_cmp expect actual &&
	git -C r22-a/feat worktree-ports allocate web --json >out &&
	echo feat >expect &&
	json_get out worktree >actual &&
	test_cmp expect actual
'

test_expect_success 'paths with spaces work' '
	mkdir "r24 dir" &&
	new_repo "r24 dir/my repo" &&
	set_ranges "r24 dir/my repo" "web:11020-11029" &&
	git -C "r24 dir/my repo" worktree add -q --detach "../my wt" &&
	git -C "r24 dir/my wt" worktree-ports allocate web --json >out &&
	(cd "r24 dir/my wt" && pwd -P) >expect &&
	json_get out path >actual &&
	test_cmp expect actual &&
	json_get "r24 dir/my repo/$R" "allocations[service=web].path" >actual &&
	test_cmp expect actual
'

test_expect_success 'a worktree moved with git worktree move keeps its port' '
	new_repo r23 &&
	set_ranges r23 "web:11030-11039" &&
	git -C r23 worktree add -q ../r23-wt &&
	git -C r23-wt worktree-ports allocate web -q >port &&
	git -C r23 worktree move ../r23-wt ../r23-moved &&
	git -C r23 worktree-ports status 2>err &&
	! grep released err &&
	git -C r23-moved worktree-ports allocate web -q >again &&
	test_cmp port again &&
	(cd r23-moved && pwd -P) >expect &&
	json_get r23/$R "allocations[worktree=r23-wt].path" >actual &&
	test_cmp expect actual
'

test_expect_success 'allocate --description is recorded' '
	new_repo r25 &&
	set_ranges r25 "web:11040-11049" &&
	git -C r25 worktree-ports allocate web --description "Frontend dev server" -q &&
	echo "Frontend dev server" >expect &&
	json_get r25/$R "allocations[service=web].description" >actual &&
	test_cmp expect actual
'

test_done
