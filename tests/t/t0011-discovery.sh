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
		"$TEST_TOOL" set-ranges "$f" "web:28000-28009" || return 1
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
	head -n 1 out >actual &&
	test_cmp expect actual &&
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

# safe.directory. git refuses a repository that another user owns
# ("dubious ownership") unless safe.directory, in the system, global or
# command-line config, names it or is '*'; so must every command.

# dubious REPO CMD...: CMD (worktree-ports or git arguments) in REPO is
# refused as git refuses it, naming TOP (the repository's top, or the git
# dir of a bare one) as git names it.
dubious() {
	local top=$1
	shift
	test_expect_code 128 git -C "$top" "$@" rev-parse 2>git.err &&
	grep "^fatal: detected dubious ownership in repository at ${SQ}$top${SQ}$" git.err &&
	test_expect_code 3 git -C "$top" "$@" worktree-ports init --no-hooks \
		2>err &&
	grep "^error: detected dubious ownership in repository at ${SQ}$top${SQ}$" err &&
	grep "^hint: .*git config --global --add safe.directory $top$" err
}

# trusted TOP CMD...: git and init both work there.
trusted() {
	local top=$1
	shift
	git -C "$top" "$@" rev-parse &&
	git -C "$top" "$@" worktree-ports init --force --no-hooks >/dev/null
}

HERE=$(pwd -P)

test_expect_success 'GIT_TEST_ASSUME_DIFFERENT_OWNER: refused as by git' '
	git init -q s1 &&
	git -C s1 commit -q --allow-empty -m initial &&
	GIT_TEST_ASSUME_DIFFERENT_OWNER=1 dubious "$HERE/s1" &&
	! test -e s1/$R &&
	GIT_TEST_ASSUME_DIFFERENT_OWNER=1 \
		trusted "$HERE/s1" -c safe.directory="$HERE/s1" &&
	test -f s1/$R
'

if test_have_prereq ROOT; then
	OTHER=wtp-t0011-$$
	useradd -M -N -s /bin/false "$OTHER" &&
	trap 'userdel "$OTHER" 2>/dev/null' EXIT || exit 1
fi

# other_repo REPO: a repository, with a linked worktree REPO-wt, both
# owned by $OTHER.
other_repo() {
	git init -q "$1" &&
	git -C "$1" commit -q --allow-empty -m initial &&
	git -C "$1" worktree add -q "../$1-wt" &&
	mkdir "$1/sub" "$1-wt/sub" &&
	chown -R "$OTHER" "$1" "$1-wt"
}

test_expect_success ROOT "another user's repository is refused, as by git" '
	other_repo o1 &&
	dubious "$HERE/o1" &&
	! test -e o1/$R
'

test_expect_success ROOT 'refused from a subdirectory and a linked worktree' '
	other_repo o2 &&
	test_expect_code 3 git -C o2/sub worktree-ports init --no-hooks \
		2>err &&
	grep "^error: detected dubious ownership in repository at ${SQ}$HERE/o2${SQ}$" err &&
	dubious "$HERE/o2-wt" &&
	test_expect_code 3 git -C o2-wt/sub worktree-ports status 2>err &&
	grep "^error: detected dubious ownership in repository at ${SQ}$HERE/o2-wt${SQ}$" err &&
	! test -e o2/$R
'

test_expect_success ROOT 'a bare repository and the inside of .git are refused' '
	git init -q --bare o3.git &&
	chown -R "$OTHER" o3.git &&
	dubious "$HERE/o3.git" &&
	other_repo o3 &&
	dubious "$HERE/o3/.git" &&
	! test -e o3.git/worktree-ports
'

test_expect_success ROOT 'safe.directory in the global config admits it' '
	other_repo o4 &&
	test_when_finished "git config --global --unset-all safe.directory" &&
	git config --global --add safe.directory "$HERE/o4" &&
	trusted "$HERE/o4" &&
	test -f o4/$R &&
	dubious "$HERE/o4-wt" &&
	git config --global --add safe.directory "$HERE/o4-wt" &&
	trusted "$HERE/o4-wt" &&
	set_ranges o4 "web:28010-28019" &&
	git -C o4/sub worktree-ports allocate web -q >port &&
	test -s port
'

test_expect_success ROOT 'safe.directory from an included global file' '
	other_repo o5 &&
	test_when_finished "git config --global --unset include.path" &&
	printf "[safe]\n\tdirectory = %s\n" "$HERE/o5" >"$HOME/trusted" &&
	git config --global include.path "$HOME/trusted" &&
	trusted "$HERE/o5"
'

test_expect_success ROOT 'git -c safe.directory admits it' '
	other_repo o6 &&
	trusted "$HERE/o6" -c safe.directory="$HERE/o6" &&
	test -f o6/$R &&
	trusted "$HERE/o6-wt" -c safe.directory="$HERE/o6-wt" &&
	git init -q --bare o6.git &&
	chown -R "$OTHER" o6.git &&
	trusted "$HERE/o6.git" -c safe.directory="$HERE/o6.git" &&
	test -f o6.git/worktree-ports/ports.json
'

test_expect_success ROOT '"*" admits any; an empty value forgets the ones before' '
	other_repo o7 &&
	trusted "$HERE/o7" -c safe.directory="*" &&
	dubious "$HERE/o7" -c safe.directory="$HERE/o7" -c safe.directory= &&
	dubious "$HERE/o7" -c safe.directory="*" -c safe.directory= &&
	trusted "$HERE/o7" -c safe.directory= -c safe.directory="$HERE/o7" &&
	dubious "$HERE/o7" -c safe.directory="$HERE/o7/" &&
	dubious "$HERE/o7" -c safe.directory="$HERE/o7-wt"
'

test_expect_success ROOT "the repository's own config cannot admit it" '
	other_repo o8 &&
	git config -f o8/.git/config --add safe.directory "*" &&
	git config -f o8/.git/config --add safe.directory "$HERE/o8" &&
	dubious "$HERE/o8" &&
	! test -e o8/$R
'

test_expect_success ROOT 'root under sudo acts for SUDO_UID, as git does' '
	other_repo o9 &&
	SUDO_UID=$(id -u "$OTHER") trusted "$HERE/o9" &&
	test -f o9/$R &&
	SUDO_UID=0 dubious "$HERE/o9" &&
	new_repo o10 &&
	SUDO_UID=$(id -u "$OTHER") trusted "$HERE/o10"
'

test_expect_success ROOT '$GIT_DIR is not checked, as in git' '
	other_repo o11 &&
	GIT_DIR="$HERE/o11/.git" GIT_WORK_TREE="$HERE/o11" \
		git rev-parse --show-toplevel &&
	GIT_DIR="$HERE/o11/.git" GIT_WORK_TREE="$HERE/o11" \
		git worktree-ports init --no-hooks &&
	test -f o11/$R
'

# The libgit2 the program loads: the soname of the library the headers
# belong to (build/gen/libgit2-soname.h), of the same major.minor.
# $GIT_WORKTREE_PORTS_TEST_LIBGIT2 (test-only) loads a fake one instead.

SONAME=$(sed -n 's/^#define WTP_LIBGIT2_SONAME "\(.*\)"$/\1/p' \
	"$BUILD_DIR/gen/libgit2-soname.h")

# fake_libgit2 FILE MAJOR MINOR: a shared library with only
# git_libgit2_version() (reporting MAJOR.MINOR.0) and git_libgit2_init().
fake_libgit2() {
	cat >"$1.c" <<-EOF &&
	int git_libgit2_version(int *major, int *minor, int *rev);
	int git_libgit2_init(void);
	int git_libgit2_version(int *major, int *minor, int *rev)
	{
		*major = $2;
		*minor = $3;
		*rev = 0;
		return 0;
	}
	int git_libgit2_init(void)
	{
		return 1;
	}
	EOF
	${CC:-cc} -shared -fPIC -o "$1" "$1.c"
}

test_expect_success 'the soname is versioned and comes from the build' '
	echo "$SONAME" | grep "^libgit2\.so\.[0-9][0-9.]*$"
'

test_expect_success 'another libgit2 version is refused, naming both' '
	git init -q --bare v1.git &&
	fake_libgit2 "$HERE/fake.so" 99 7 &&
	GIT_WORKTREE_PORTS_TEST_LIBGIT2="$HERE/fake.so" \
		test_expect_code 1 git -C v1.git worktree-ports status 2>err &&
	grep "^error: git-worktree-ports was built against libgit2 [0-9]*\.[0-9]*, but $HERE/fake.so reports 99\.7$" err &&
	grep "^hint: rebuild git-worktree-ports" err
'

test_expect_success 'the right version loads, then every symbol is needed' '
	git init -q --bare v2.git &&
	fake_libgit2 "$HERE/fake.so" 99 7 &&
	GIT_WORKTREE_PORTS_TEST_LIBGIT2="$HERE/fake.so" \
		test_must_fail git -C v2.git worktree-ports status 2>err &&
	built=$(sed -n "s/.*built against libgit2 \([0-9]*\)\.\([0-9]*\),.*/\1 \2/p" err) &&
	fake_libgit2 "$HERE/same.so" $built &&
	GIT_WORKTREE_PORTS_TEST_LIBGIT2="$HERE/same.so" \
		test_expect_code 1 git -C v2.git worktree-ports status 2>err &&
	grep "^error: cannot load libgit2: no ${SQ}git_libgit2_shutdown${SQ} in $HERE/same.so$" err &&
	git -C v2.git worktree-ports init --no-hooks &&
	test -f v2.git/worktree-ports/ports.json
'

test_expect_success 'a missing libgit2: the hint names the soname built for' '
	git init -q --bare v3.git &&
	pkg=$(echo "$SONAME" | sed "s/\.so\./-/") &&
	GIT_WORKTREE_PORTS_TEST_LIBGIT2="$HERE/none.so" \
		test_expect_code 1 git -C v3.git worktree-ports status 2>err &&
	grep "^error: cannot load libgit2: .*none.so" err &&
	grep "^hint: install $SONAME, .*(Debian: apt-get install $pkg)$" err
'

test_done
