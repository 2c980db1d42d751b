# strace for the integration tests: trace_cmd records what a command did
# (for tests that check its calls rather than how long it took), and the
# crash points: run a command once under strace to list the system calls
# by which it changes files, then again once for each of them, killed by
# SIGKILL as it enters that call, and check what it left.
# t0010-crash-points.sh says how the points are found and counted.
# Sourced after lib.sh:
#
#	crash_save "$REG" wt/.env ...	# what to restore before each run
#	crash_test check_fn git-worktree-ports -C wt sync
#
# The command is started directly, not through git, so that the process
# killed is the one holding the locks.

# The system calls that can be crash points, as a strace regular
# expression (a name this architecture lacks, such as rename on arm64,
# just never matches). execve is traced only to learn the pid of the
# command, whose calls alone are crash points.
CRASH_CALLS='write|writev|pwrite64|fsync|fdatasync|ftruncate|rename|renameat|renameat2|unlink|unlinkat'
CRASH_TRACE="/^(execve|$CRASH_CALLS)\$"

# ASan's leak check cannot run under ptrace: it is off for the runs under
# strace (every other script runs it). No --seccomp-bpf, which would be
# faster: strace 6.1 does not inject signals with it.
crash_strace() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -y -e trace="$CRASH_TRACE" "$@"
}

# trace_cmd FILE REGEX CMD...: run CMD under strace, the system calls
# that REGEX (a strace regular expression) matches written to FILE line
# by line as they happen, each socket with its addresses (-yy). For the
# tests that check what a command did on the network rather than how
# long it took.
trace_cmd() {
	local out=$1 calls=$2
	shift 2
	crash_have_strace || return 1
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -qq -yy -o "$out" -e trace="$calls" "$@"
}

# Fail, loudly, when strace is missing: never skip the crash points.
crash_have_strace() {
	if ! command -v strace >/dev/null 2>&1; then
		echo "error: strace is missing; the crash-point tests need it (make deps installs it)" >&2
		return 1
	fi
}

# crash_parse TRACE: the calls of the command in a strace -f -y output,
# one line each, in their order:
#	P IDX CALL N SIG	crash point IDX, the Nth call of CALL; SIG is
#				the call and the paths it names (random
#				mkstemp suffixes as XXXXXX)
#	C IDX PATH		PATH changes at point IDX: renamed onto,
#				unlinked, or written (unless it is renamed
#				away: a temporary file); writes to stdout
#				and stderr are points but change no file
#	M PATH			PATH changes at more than one point
crash_parse() {
	awk -v calls="|$CRASH_CALLS|" '
	function fdpath(s) {		# 5</a/b> -> /a/b
		if (!index(s, "<"))
			return s
		s = substr(s, index(s, "<") + 1)
		sub(/>.*$/, "", s)
		return s
	}
	function quoted(s, k) {		# the k-th "..." of s
		while (k-- > 1 && match(s, /"[^"]*"/))
			s = substr(s, RSTART + RLENGTH)
		if (!match(s, /"[^"]*"/))
			return ""
		return substr(s, RSTART + 1, RLENGTH - 2)
	}
	function at(dir, name) {
		return name ~ /^\// ? name : fdpath(dir) "/" name
	}
	function norm(p, r) {
		gsub(/:\[[0-9]*\]/, "", p)	# pipe:[1234] -> pipe
		r = "[A-Za-z0-9]"
		if (p ~ ("/\\.[^/]+\\." r r r r r r "$"))
			p = substr(p, 1, length(p) - 6) "XXXXXX"
		return p
	}
	{
		pid = $1
		line = $0
		sub(/^[0-9]+ +/, "", line)
		p = index(line, "(")
		if (!p)
			next
		call = substr(line, 1, p - 1)
		if (call !~ /^[a-z0-9_]+$/)
			next
		if (main == "") {
			if (call != "execve")
				next
			main = pid
		}
		if (pid != main || !index(calls, "|" call "|"))
			next
		args = substr(line, p + 1)
		split(args, a, ", ")
		n[call]++
		idx++
		src = dst = ""
		if (call == "rename") {
			src = quoted(args, 1)
			dst = quoted(args, 2)
		} else if (call ~ /^renameat/) {
			src = at(a[1], quoted(args, 1))
			dst = at(a[3], quoted(args, 2))
		} else if (call == "unlink") {
			dst = quoted(args, 1)
		} else if (call == "unlinkat") {
			dst = at(a[1], quoted(args, 1))
		} else if (a[1] ~ /^[12]</) {
			dst = a[1] ~ /^1/ ? "stdout" : "stderr"
		} else {
			dst = fdpath(a[1])
			if (call !~ /sync$/)	# fsync changes nothing
				written[idx] = dst
		}
		if (src != "") {
			tmp[src] = 1
			sig = call " " norm(src) " " norm(dst)
		} else {
			sig = call " " norm(dst)
		}
		print "P", idx, call, n[call], sig
		if (call ~ /^(rename|unlink)/)
			change(idx, dst)
	}
	function change(i, path) {
		if (path in first)
			again[path] = 1
		else
			first[path] = i
	}
	END {
		# a write is a change unless it went to a temporary file
		for (i = 1; i <= idx; i++)
			if ((i in written) && !(written[i] in tmp) &&
			    written[i] ~ /^\//)
				change(i, written[i])
		for (path in first)
			print "C", first[path], path
		for (path in again)
			print "M", path
	}' "$1"
}

# crash_norm [FILE]: FILE (or stdin) without the times the tool writes,
# which differ from one run to the next.
crash_norm() {
	sed -E 's/"(time|allocated_at|last_updated|health_checked_at)": ?"[^"]*"/"\1":"T"/g' "$@"
}

# crash_save FILE... [-- FILE...]: the files the command may change,
# saved (or noted absent) and put back before each run of crash_test,
# which fails if the command changes any other file of the test. Those
# after '--' are only put back: the check of the test looks at them.
crash_save() {
	local f i=0 what=cmp copies=
	rm -rf crash.fix crash.after &&
	mkdir crash.fix crash.after || return 1
	# a registry's copy in the common dir (docs/registry.md) comes back
	# with it: it is replaced atomically, old or new like the registry
	for f; do
		case "$f" in
		*/design/worktrees/ports.json)
			copies="$copies ${f%/design/worktrees/ports.json}/.git/worktree-ports/ports.json.copy" ;;
		esac
	done
	# shellcheck disable=SC2086
	test -z "$copies" || set -- "$@" -- $copies
	for f; do
		if test "$f" = --; then
			what=free
			continue
		fi
		f=$(realpath -m -- "$f") || return 1
		if test -e "$f"; then
			cp -p -- "$f" crash.fix/$i || return 1
			echo "$i + $(stat -c %a -- "$f") $what $f"
		else
			echo "$i - - $what $f"
		fi >>crash.fix/list
		i=$((i + 1))
	done
}

crash_restore() {
	local i sign mode what f
	while read -r i sign mode what f; do
		if test "$sign" = +; then
			cp -p -- crash.fix/$i "$f"
		else
			rm -f -- "$f"
		fi || return 1
	done <crash.fix/list
}

# crash_copy old|new FILE: the name of the copy of saved FILE as it was
# before the command (old) or after its whole run (new); nothing if FILE
# did not exist then.
crash_copy() {
	local dir=crash.fix i sign mode what f want
	test "$1" = new && dir=crash.after
	want=$(realpath -m -- "$2") || return 1
	while read -r i sign mode what f; do
		if test "$f" = "$want"; then
			test -e $dir/$i && echo $dir/$i
			return 0
		fi
	done <crash.fix/list
	echo "crash_copy: $2 is not saved" >&2
	return 1
}

# crash_state I MODE PATH STATE: file I of crash.fix/list is in STATE:
# old (as saved; if it was absent, absent or empty) or new (as the whole
# run left it, up to the times), and keeps its mode.
crash_state() {
	local i=$1 mode=$2 f=$3 state=$4 want
	if test "$state" = old; then
		want=crash.fix/$i
	else
		want=crash.after/$i
	fi
	if ! test -e "$want"; then
		# an open(O_CREAT) before the first change is no crash point
		if test "$state" = old && test -s "$f" ||
		   test "$state" = new && test -e "$f"; then
			echo "$f exists; it should not ($state)"
			return 1
		fi
		return 0
	fi
	if ! test -e "$f"; then
		echo "$f is missing; it should be the $state one"
		return 1
	fi
	if test "$state" = old && ! cmp -s "$want" "$f" ||
	   test "$state" = new &&
		! crash_norm "$want" | cmp -s - <(crash_norm "$f"); then
		echo "$f is not the $state one:"
		diff -u <(crash_norm "$want") <(crash_norm "$f")
		return 1
	fi
	if test "$mode" != - && test "$(stat -c %a -- "$f")" != "$mode"; then
		echo "$f has mode $(stat -c %a -- "$f"), not $mode"
		return 1
	fi
}

# crash_test CHECK CMD...: run CMD once whole under strace, then once
# killed at each crash point, with the files of crash_save put back before
# each run. After each kill, every saved file must be exactly the old one
# if the kill came before the call that changes it, and the new one (as
# the whole run left it) if after, with its mode; then the shell command
# CHECK runs (':' for none), with $crash_at naming the point. Exit status
# CRASH_EXIT (0) is what the whole run must give. Appends to
# $TRASH/crash.counts one line "CMD: N crash points (CALL n, ...)" and to
# crash.states one line per saved file: "PATH OLD NEW", the number of
# kills that left it old and new.
crash_test() {
	local check=$1 rc idx call n sig i sign mode what f c path state
	local nr=0 ret=0 counts desc="${*:2}" trash
	shift
	crash_have_strace || return 1
	crash_restore || return 1
	rc=0
	crash_strace -o crash.trace "$@" >crash.out 2>&1 </dev/null || rc=$?
	if test $rc != "${CRASH_EXIT:-0}"; then
		echo "$desc exited $rc under strace, not ${CRASH_EXIT:-0}:"
		cat crash.out
		return 1
	fi
	crash_parse crash.trace >crash.parsed || return 1
	grep '^P ' crash.parsed | cut -d' ' -f2- >crash.points
	if grep '^M ' crash.parsed; then
		echo "$desc changes these files more than once: no single old and new state"
		return 1
	fi
	grep '^C ' crash.parsed | while read -r _ c path; do
		echo "$c $(realpath -m -- "$path")"
	done >crash.changes
	# the point at which each saved file changes (0: never)
	while read -r i sign mode what f; do
		c=$(awk -v f="$f" '$2 == f { print $1 }' crash.changes)
		echo "$i ${c:-0} $mode $what $f"
		if test -e "$f"; then
			cp -p -- "$f" crash.after/$i || return 1
		fi
	done <crash.fix/list >crash.files
	trash=$(cd "$TRASH" && pwd -P)
	while read -r c path; do
		case "$path" in
		"$trash"/*) ;;
		*) continue ;;
		esac
		if ! awk -v f="$path" '$5 == f { found = 1 } END { exit !found }' \
			crash.files; then
			echo "$desc changes $path, which the test does not restore (crash_save it)"
			return 1
		fi
	done <crash.changes
	if ! awk '$2 != 0 && $4 == "cmp" { found = 1 } END { exit !found }' \
		crash.files; then
		echo "$desc changed none of the saved files"
		return 1
	fi
	: >crash.tally
	while read -r idx call n sig <&3; do
		nr=$((nr + 1))
		crash_at="$call $n ($sig)"
		crash_restore || return 1
		rc=0
		crash_strace -o crash.kill -e inject="$call:signal=KILL:when=$n" \
			"$@" >crash.kout 2>&1 </dev/null || rc=$?
		if test $rc != 137; then
			echo "$desc: not killed at $crash_at (exit $rc)"
			return 1
		fi
		# killed on entering that very call, after the same calls
		crash_parse crash.kill | grep '^P ' | cut -d' ' -f2- >crash.kpoints
		head -n "$idx" crash.points >crash.want
		if ! test_cmp crash.want crash.kpoints ||
		   ! tail -n 2 crash.kill | grep -q '= ?$'; then
			echo "$desc: the kill at $crash_at did not come where the whole run had it"
			return 1
		fi
		echo "kill at $crash_at:"
		while read -r i c mode what f; do
			if test "$what" != cmp; then
				continue
			elif test "$c" != 0 && test "$c" -lt "$idx"; then
				state=new
			else
				state=old
			fi
			echo "	$f: $state"
			echo "$f $state" >>crash.tally
			crash_state "$i" "$mode" "$f" "$state" || ret=1
		done <crash.files
		if test $ret != 0; then
			echo "$desc: wrong files after the kill at $crash_at"
			return 1
		fi
		if ! eval "$check"; then
			echo "$desc: check failed after the kill at $crash_at"
			return 1
		fi
	done 3<crash.points
	crash_restore || return 1
	counts=$(cut -d' ' -f2 crash.points | sort | uniq -c |
		awk '{ printf "%s%s %d", (NR > 1 ? ", " : ""), $2, $1 }')
	echo "$desc: $nr crash points ($counts)" | tee -a "$TRASH/crash.counts"
	while read -r i c mode what f; do
		echo "$f $(grep -cFx "$f old" crash.tally)" \
			"$(grep -cFx "$f new" crash.tally)"
	done <crash.files >>crash.states
}

# crash_states FILE: "OLD NEW" from crash.states for FILE (the last test
# of it): how many kills left it old and how many new.
crash_states() {
	local f
	f=$(realpath -m -- "$1") &&
	awk -v f="$f" '$1 == f { s = $2 " " $3 } END { print s }' crash.states
}

# crash_both FILE: of the kills of the last crash_test, some left FILE
# old and some new.
crash_both() {
	local old new
	read -r old new <<-EOF
	$(crash_states "$1")
	EOF
	echo "$1: old after ${old:-0} kills, new after ${new:-0}"
	test "${old:-0}" -gt 0 && test "${new:-0}" -gt 0
}

# crash_usable DIR: what every kill must leave, checked with the tool's
# own commands run in DIR: no port allocated twice in the registry REG
# (the variable), 'status --all --json' loads it, the log reads without
# a warning, and a writer gets the lock at once (a lock left held would
# make it fail after the lock timeout: 60 s only bounds a hang).
crash_usable() {
	local dir=$1 dup
	dup=$(grep -o '"port": [0-9]*' "$REG" | sort | uniq -d)
	if test -n "$dup"; then
		echo "a port allocated twice: $dup"
		return 1
	fi
	timeout 60 git-worktree-ports -C "$dir" status --all --json \
		>crash.status </dev/null &&
	timeout 60 git-worktree-ports -C "$dir" log >/dev/null 2>crash.err \
		</dev/null &&
	test_must_be_empty crash.err &&
	timeout 60 git-worktree-ports -C "$dir" allocate probe -q \
		>crash.probe </dev/null &&
	grep -Eqx '[0-9]+' crash.probe &&
	timeout 60 git-worktree-ports -C "$dir" release probe -q </dev/null
}
