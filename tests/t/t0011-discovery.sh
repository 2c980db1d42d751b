#!/bin/bash
test_description='discovery: git -c, safe.directory, the libgit2 it loads'
. "$(dirname "$0")/../lib.sh"

R=design/worktrees/ports.json

# repo_with REPO FILE...: a repository (no registry) and a registry with
# one range of ports at each FILE, none allocated.
repo_with() {
	local repo=$1 f
	shift
	git init -q "$repo" &&
	git -C "$repo" commit -q --allow-empty -m initial &&
	for f in "$@"
	do
		git -C "$repo" worktree-ports --registry "$f" init --no-hooks \
			>/dev/null &&
		python3 "$HELPERS/set-ranges.py" "$f" "web:28000-28009" || return 1
	done
}

# allocations FILE...: the number of allocations in each FILE, one a line.
allocations() {
	local f
	for f in "$@"
	do
		json_get "$f" allocations.# || echo "unreadable $f"
	done
}

test_expect_success 'git -c worktree-ports.registry: init creates it there' '
	git init -q c1 &&
	git -C c1 commit -q --allow-empty -m initial &&
	git -C c1 -c worktree-ports.registry="$PWD/c1.json" \
		worktree-ports init --no-hooks >out &&
	echo "created $PWD/c1.json" >expect &&
	test_cmp expect out &&
	test -f c1.json &&
	! test -e c1/$R
'

test_expect_success 'git -c worktree-ports.registry: allocate uses it' '
	repo_with c2 "$PWD/c2.json" "$PWD/c2/$R" &&
	git -C c2 -c worktree-ports.registry="$PWD/c2.json" \
		worktree-ports allocate web -q >port &&
	test -s port &&
	printf "1\n0\n" >expect &&
	allocations c2.json c2/$R >actual &&
	test_cmp expect actual
'

test_expect_success 'git -c beats the repository config' '
	repo_with c3 "$PWD/c3-cli.json" "$PWD/c3-repo.json" &&
	git -C c3 config worktree-ports.registry "$PWD/c3-repo.json" &&
	git -C c3 -c worktree-ports.registry="$PWD/c3-cli.json" \
		worktree-ports allocate web -q &&
	git -C c3 worktree-ports allocate web -q &&
	printf "1\n1\n" >expect &&
	allocations c3-cli.json c3-repo.json >actual &&
	test_cmp expect actual
'

test_expect_success 'the last -c wins, and its key ignores case' '
	repo_with c4 "$PWD/c4-a.json" "$PWD/c4-b.json" &&
	git -C c4 -c worktree-ports.registry="$PWD/c4-a.json" \
		-c Worktree-Ports.Registry="$PWD/c4-b.json" \
		worktree-ports allocate web -q &&
	printf "0\n1\n" >expect &&
	allocations c4-a.json c4-b.json >actual &&
	test_cmp expect actual
'

test_expect_success 'a value with quotes and blanks survives' '
	git init -q c5 &&
	git -C c5 commit -q --allow-empty -m initial &&
	mkdir "c5 it${SQ}s here!" &&
	git -C c5 -c worktree-ports.registry="$PWD/c5 it${SQ}s here!/p.json" \
		worktree-ports init --no-hooks &&
	test -f "c5 it${SQ}s here!/p.json"
'

test_expect_success 'GIT_CONFIG_COUNT and the old key=value form are read' '
	repo_with c6 "$PWD/c6-a.json" "$PWD/c6-b.json" &&
	(
		cd c6 &&
		GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=worktree-ports.registry \
		GIT_CONFIG_VALUE_0="$PWD/../c6-a.json" \
			git worktree-ports allocate web -q &&
		GIT_CONFIG_PARAMETERS="${SQ}worktree-ports.registry=$PWD/../c6-b.json${SQ}" \
			git worktree-ports allocate web -q
	) &&
	printf "1\n1\n" >expect &&
	allocations c6-a.json c6-b.json >actual &&
	test_cmp expect actual
'

test_expect_success 'GIT_CONFIG_PARAMETERS beats GIT_CONFIG_COUNT, as in git' '
	repo_with c7 "$PWD/c7-a.json" "$PWD/c7-b.json" &&
	GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=worktree-ports.registry \
	GIT_CONFIG_VALUE_0="$PWD/c7-a.json" \
		git -C c7 -c worktree-ports.registry="$PWD/c7-b.json" \
		worktree-ports allocate web -q &&
	printf "0\n1\n" >expect &&
	allocations c7-a.json c7-b.json >actual &&
	test_cmp expect actual
'

# git itself refuses to run a subcommand with these, so run it directly
test_expect_success 'a malformed GIT_CONFIG_PARAMETERS fails as git does' '
	new_repo c8 &&
	cd c8 &&
	for bad in "${SQ}a.b=x" "${SQ}a.b${SQ}x" "${SQ}a.b${SQ}=${SQ}x${SQ}y" \
		"${SQ}a.b${SQ}=x" "a.b=x"
	do
		GIT_CONFIG_PARAMETERS=$bad test_expect_code 128 git rev-parse \
			2>err &&
		grep "bogus format in GIT_CONFIG_PARAMETERS" err &&
		GIT_CONFIG_PARAMETERS=$bad test_must_fail \
			git-worktree-ports status 2>err &&
		grep "^error: bogus format in GIT_CONFIG_PARAMETERS$" err ||
		return 1
	done
'

test_expect_success 'an invalid key or count fails as git does' '
	new_repo c10 &&
	cd c10 &&
	GIT_CONFIG_PARAMETERS="${SQ}nodot=x${SQ}" test_must_fail \
		git-worktree-ports status 2>err &&
	grep "^error: key does not contain a section: nodot$" err &&
	GIT_CONFIG_PARAMETERS="${SQ}a.1b${SQ}=${SQ}x${SQ}" test_must_fail \
		git-worktree-ports status 2>err &&
	grep "^error: invalid key: a.1b$" err &&
	GIT_CONFIG_COUNT=x test_must_fail git-worktree-ports status 2>err &&
	grep "^error: bogus count in GIT_CONFIG_COUNT$" err &&
	GIT_CONFIG_COUNT=1 test_must_fail git-worktree-ports status 2>err &&
	grep "^error: missing config key GIT_CONFIG_KEY_0$" err
'

test_expect_success 'worktree-ports.registry without a value is refused' '
	new_repo c9 &&
	test_must_fail git -C c9 -c worktree-ports.registry \
		worktree-ports status 2>err &&
	grep "^error: missing value for ${SQ}worktree-ports.registry${SQ}$" err
'

test_done
