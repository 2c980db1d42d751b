#!/bin/sh
# bench.sh: how fast git-worktree-ports is, as ratios to git itself.
#
#	make bench			(BUILD_DIR=... sh tests/bench.sh)
#	BENCH_QUICK=1 make bench	skip the 50,000-allocation case
#	BENCH_KEEP=1 make bench		keep the fixtures in the temp dir
#
# Sections a-e: allocate and status. f: 'git worktree add' with the hook
# against the same without it. g: status --health-check, as a ratio to
# its timeout. h: 'who PORT' against 'ss' on a machine with 2,000 open
# sockets and 1,000 processes. i: 'check' on 1,000 allocations with 200
# listeners. Servers for g, h and i are 'test-tool servers' processes,
# and the 1,000 processes idle 'sleep's, all stopped by pid (also when the
# bench is interrupted).
#
# Every timing comes from hyperfine, with 'git worktree list --porcelain'
# run in the same repository as the reference command of the same
# hyperfine invocation, and is reported as the ratio of the means: the
# machine's speed cancels out and the targets stay meaningful anywhere.
# The fixtures live in a fresh temp dir with its own HOME and
# XDG_STATE_HOME, removed at the end. hyperfine's own output goes to
# bench.log there (copied to $BUILD_DIR/bench/bench.log); stdout gets
# only the summary table, progress goes to stderr.
#
# Not part of 'make check': timings do not belong in tests.

set -u

SRC_DIR=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$SRC_DIR/build}
BENCH_QUICK=${BENCH_QUICK:-0}
BENCH_KEEP=${BENCH_KEEP:-0}
REF='git worktree list --porcelain'

die() {
	printf 'bench: %s\n' "$*" >&2
	exit 1
}

START=$(date +%s)
progress() {
	printf 'bench: [%4ss] %s\n' $(($(date +%s) - START)) "$*" >&2
}

test -x "$BUILD_DIR/git-worktree-ports" ||
	die "no $BUILD_DIR/git-worktree-ports: run make first"
TEST_TOOL=$BUILD_DIR/tests/test-tool
test -x "$TEST_TOOL" || die "no $TEST_TOOL: run make test-tool first"
for tool in hyperfine python3 git cc pkg-config; do
	command -v $tool >/dev/null 2>&1 ||
		die "$tool is missing (make deps installs it)"
done
test -x /usr/bin/time || die "/usr/bin/time is missing (make deps installs it)"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/wtp-bench.XXXXXX") || exit 1
LOG=$TMP/bench.log
ROWS=$TMP/rows.tsv
BENCH_BIN=$BUILD_DIR/bench

cleanup() {
	if test -f "$TMP/sleepers.pids"; then
		while read -r pid; do
			kill "$pid" 2>/dev/null
		done <"$TMP/sleepers.pids"
	fi
	if test -f "$TMP/servers.pids"; then
		while read -r pid; do
			kill "$pid" 2>/dev/null
		done <"$TMP/servers.pids"
	fi
	if test -f "$LOG" && mkdir -p "$BENCH_BIN" 2>/dev/null; then
		cp "$LOG" "$BENCH_BIN/bench.log"
	fi
	if test "$BENCH_KEEP" = 1; then
		progress "kept $TMP"
	else
		rm -rf "$TMP"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$TMP/home" "$TMP/state"
HOME=$TMP/home
XDG_STATE_HOME=$TMP/state
export HOME XDG_STATE_HOME
unset GIT_DIR GIT_WORK_TREE GIT_COMMON_DIR GIT_INDEX_FILE GIT_CEILING_DIRECTORIES
unset GIT_WORKTREE_PORTS_REGISTRY GIT_WORKTREE_PORTS_SKIP
unset GIT_WORKTREE_PORTS_TIMING GIT_WORKTREE_PORTS_LOCK_TIMEOUT
GIT_CONFIG_NOSYSTEM=1
GIT_AUTHOR_NAME='A U Thor'
GIT_AUTHOR_EMAIL='author@example.com'
GIT_COMMITTER_NAME='C O Mitter'
GIT_COMMITTER_EMAIL='committer@example.com'
export GIT_CONFIG_NOSYSTEM GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL
export GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
PATH=$BUILD_DIR:$PATH
export PATH
git config --global init.defaultBranch main
git config --global advice.detachedHead false
: >"$ROWS"
: >"$LOG"

# The report: rows are collected in rows.tsv and printed at the end.
cat >"$TMP/report.py" <<'EOF'
import json, os, re, statistics, sys

rows_path = os.environ["ROWS"]


def emit(*fields):
    with open(rows_path, "a") as f:
        f.write("\t".join(str(x) for x in fields) + "\n")


def load(path):
    with open(path) as f:
        return json.load(f)["results"]


def cmd_section(title):
    emit("section", title)


def cmd_row(path, index, name, target=""):
    # One command of a hyperfine run against the run's reference (index 0).
    res = load(path)
    ref = res[0]["mean"]
    mean = res[int(index)]["mean"]
    emit("row", name, "%.3f" % (mean * 1e3), "ms",
         "%.2f" % (mean / ref), target)


def cmd_ref(path, where=""):
    res = load(path)
    emit("row", "reference: " + res[0]["command"] +
         (", " + where if where else ""),
         "%.3f" % (res[0]["mean"] * 1e3), "ms", "1.00", "")


def cmd_timing(path, ref_json, label):
    # Lines "timing: PHASE US" from many runs, one "run" line between runs.
    ref = load(ref_json)[0]["mean"] * 1e6
    runs, cur = [], {}
    order = []
    with open(path) as f:
        for line in f:
            if line.strip() == "run":
                if cur:
                    runs.append(cur)
                cur = {}
                continue
            m = re.match(r"^timing: (\S+) (\d+(?:\.\d+)?)\s*$", line)
            if m:
                phase = m.group(1)
                if phase not in order:
                    order.append(phase)
                cur[phase] = cur.get(phase, 0) + float(m.group(2))
    if cur:
        runs.append(cur)
    if not runs:
        emit("row", label + ": no timing lines on stderr", "-", "", "-", "")
        return
    for phase in order:
        us = sum(r.get(phase, 0) for r in runs) / len(runs)
        emit("row", "%s: %s (%d runs)" % (label, phase, len(runs)),
             "%.3f" % (us / 1e3), "ms", "%.2f" % (us / ref), "")


def cmd_diff(path, index, timing_path, name):
    # The time outside the phases the tool measures itself: wall clock of
    # the command minus its own 'total'.
    res = load(path)
    ref = res[0]["mean"]
    wall = res[int(index)]["mean"]
    tot = []
    with open(timing_path) as f:
        for line in f:
            m = re.match(r"^timing: total (\d+(?:\.\d+)?)", line)
            if m:
                tot.append(float(m.group(1)) / 1e6)
    if not tot:
        return
    rest = wall - statistics.mean(tot)
    emit("row", name, "%.3f" % (rest * 1e3), "ms", "%.2f" % (rest / ref), "")


def cmd_scale(*specs):
    # specs: N:JSON ... ; the cost per allocation and how it grows. With
    # fixed costs, linear growth gives a per-allocation time that falls as
    # N grows; the marginal cost (the slope between two cases) stays flat.
    # A slope is a difference of two timings, which one slow run on a
    # busy machine can swing, so these use medians.
    pts = []
    for s in specs:
        n, path = s.split(":", 1)
        res = load(path)
        pts.append((int(n), res[1]["median"]))
    n0, t0 = pts[0]
    for n, t in pts:
        emit("row", "median per allocation, %s allocs (ratio: to %s)" %
             (format(n, ","), format(n0, ",")),
             "%.2f" % (t / n * 1e6), "us", "%.2f" % ((t / n) / (t0 / n0)),
             "<= 1" if n != n0 else "")
    marg = []
    for (na, ta), (nb, tb) in zip(pts, pts[1:]):
        marg.append((tb - ta) / (nb - na))
        emit("row", "median marginal per allocation, %s to %s" %
             (format(na, ","), format(nb, ",")),
             "%.2f" % (marg[-1] * 1e6), "us",
             "%.2f" % (marg[-1] / marg[0]), "<= 1.5" if len(marg) > 1 else "")


def cmd_rss(name, ref_kb, kb):
    emit("row", name, "%.1f" % (int(kb) / 1024), "MB",
         "%.2f" % (int(kb) / int(ref_kb)), "")


def cmd_count(path, want):
    # Exit 1 unless the JSON at 'path' lists 'want' allocations.
    with open(path) as f:
        n = len(json.load(f)["allocations"])
    if n != int(want):
        print("%s: %d allocations, not %s" % (path, n, want), file=sys.stderr)
        sys.exit(1)


def cmd_pair(path, index, base, name, target=""):
    # One command of a run against another command of the same run.
    res = load(path)
    mean = res[int(index)]["mean"]
    emit("row", name, "%.3f" % (mean * 1e3), "ms",
         "%.2f" % (mean / res[int(base)]["mean"]), target)


def cmd_abba(path, a, b, name_a, name_b, name_ratio, target=""):
    # Two commands run in alternating blocks of one hyperfine invocation,
    # A B B A A B ... (a and b: the indexes of their blocks, "1,4,5"), so
    # that a machine that slows down or speeds up during the run moves
    # both alike. The runs of each are pooled; the ratio's relative
    # standard error is shown with it.
    res = load(path)
    ref = res[0]["mean"]
    pooled = []
    for idx in (a, b):
        times = []
        for i in idx.split(","):
            times += res[int(i)]["times"]
        pooled.append((statistics.mean(times), statistics.stdev(times),
                       len(times)))
    (ma, sa, na), (mb, sb, nb) = pooled
    emit("row", name_a, "%.3f" % (ma * 1e3), "ms", "%.2f" % (ma / ref), "")
    emit("row", name_b, "%.3f" % (mb * 1e3), "ms", "%.2f" % (mb / ref), "")
    se = ((sa / ma) ** 2 / na + (sb / mb) ** 2 / nb) ** 0.5
    emit("row", "%s, +-%.0f%%" % (name_ratio, se * 100),
         "%.3f" % ((ma - mb) * 1e3), "ms", "%.2f" % (ma / mb), target)


def cmd_fixed(path, index, seconds, name, target=""):
    # One command of a run against a fixed time (a timeout), in seconds.
    mean = load(path)[int(index)]["mean"]
    emit("row", name, "%.3f" % (mean * 1e3), "ms",
         "%.2f" % (mean / float(seconds)), target)


def cmd_note(text):
    emit("row", text, "", "", "-", "")


def cmd_tally(name, n, target=""):
    # A count, not a time: its target is a bound on the count itself.
    emit("row", name, n, "n", n, target)


def cmd_print():
    met = total = 0
    out = []
    w = 58
    head = "%-*s %10s %4s %8s %8s" % (w, "name", "mean", "", "ratio",
                                      "target")
    out.append(head)
    out.append("-" * len(head))
    with open(rows_path) as f:
        rows = [l.rstrip("\n").split("\t") for l in f]
    for r in rows:
        if r[0] == "section":
            out.append("")
            out.append(r[1])
        elif r[0] == "row":
            name, val, unit, ratio, target = r[1:6]
            verdict = ""
            if target.startswith("<="):
                total += 1
                ok = float(ratio) <= float(target[2:])
                met += ok
                verdict = "ok" if ok else "OVER"
                target = target + "x"
            if unit == "n":
                ratio_s, target = ratio, target.rstrip("x")
            else:
                ratio_s = ratio + "x" if ratio not in ("", "-") else ratio
            out.append("  %-*s %10s %-4s %8s %8s %s" % (
                w - 2, name, val, unit, ratio_s, target, verdict))
    out.append("")
    out.append("%d of %d targets met" % (met, total))
    print("\n".join(out))


globals()["cmd_" + sys.argv[1]](*sys.argv[2:])
EOF
export ROWS

# count-writes.py TRACE: how many system calls of a strace -f -y log
# wrote to a file outside a .git directory (and outside /dev, /proc).
cat >"$TMP/count-writes.py" <<'EOF'
import re, sys
n = 0
for line in open(sys.argv[1]):
    m = re.match(r"\d+\s+(\w+)\((.*)", line)
    if not m or "= -1" in line:
        continue
    call, args = m.groups()
    if call in ("openat", "open") and \
            not re.search(r"O_WRONLY|O_RDWR|O_CREAT|O_TRUNC", args):
        continue
    if call in ("write", "pwrite64", "writev", "ftruncate"):
        # the fd's file only; not the command's own stdout and stderr
        paths = [p for fd, p in re.findall(r"^(\d+)<(/[^>]*)>", args)
                 if int(fd) > 2]
    else:
        paths = re.findall(r'"([^"]*)"', args)
    if any(p.startswith("/") and "/.git/" not in p and
           not p.endswith("/.git") and
           not p.startswith(("/dev/", "/proc/", "/sys/")) for p in paths):
        n += 1
print(n)
EOF

report() {
	python3 "$TMP/report.py" "$@" || die "report $1 failed"
}

# hf TAG DIR HYPERFINE-ARGS...: run hyperfine in DIR, without a shell, the
# reference first; the results go to TAG.json, its output to the log.
hf() {
	tag=$1 dir=$2
	shift 2
	progress "hyperfine: $tag"
	printf '\n=== %s (in %s)\n' "$tag" "$dir" >>"$LOG"
	(cd "$dir" && hyperfine -N --style basic \
		--export-json "$TMP/$tag.json" "$REF" "$@") >>"$LOG" 2>&1 || {
		tail -n 15 "$LOG" >&2
		die "hyperfine $tag failed; see $LOG"
	}
}

# 10000 -> 10,000
commas() {
	echo "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\|,\)/\1,\2\3/' -e 'ta'
}

# Peak resident set size in kB of a command, the median of 5 runs.
rss() {
	for i in 1 2 3 4 5; do
		/usr/bin/time -v "$@" 2>&1 >/dev/null |
			sed -n 's/^.*Maximum resident set size (kbytes): //p'
	done | sort -n | sed -n 3p
}

# --- fixture a: a repository with 10 linked worktrees ----------------------

progress "fixture: a repository with 10 linked worktrees"
A=$TMP/a
mkdir "$A"
git init -q "$A/main" &&
echo hello >"$A/main/README" &&
git -C "$A/main" add README &&
git -C "$A/main" commit -q -m initial &&
git -C "$A/main" worktree-ports init --no-hooks >/dev/null &&
"$TEST_TOOL" set-ranges \
	"$A/main/design/worktrees/ports.json" web:44000-44999 \
	api:45000-45999 || die "cannot set up $A/main"
for i in 01 02 03 04 05 06 07 08 09 10; do
	git -C "$A/main" worktree add -q "../w$i" || die "worktree add failed"
	git -C "$A/w$i" worktree-ports allocate api -q >/dev/null ||
		die "allocate api in w$i failed"
done
W=$A/w05
port=$(cd "$W" && git worktree-ports allocate web -q) ||
	die "allocate web failed"
again=$(cd "$W" && git worktree-ports allocate web -q)
test "$port" = "$again" ||
	die "allocate web gave $port, then $again"

# --- a. allocate that finds its allocation ---------------------------------

report section "a. allocate web -q, allocation exists (10 linked worktrees)"
hf fast "$W" --warmup 20 --min-runs 200 'git worktree-ports allocate web -q'
report ref "$TMP/fast.json"
report row "$TMP/fast.json" 1 "git worktree-ports allocate web -q" "<= 8"
again=$(cd "$W" && git worktree-ports allocate web -q)
test "$port" = "$again" || die "allocate web moved from $port to $again"

# --- b. a first allocation -------------------------------------------------

report section "b. allocate web -q, first allocation (released before each)"
hf first "$W" --warmup 5 --min-runs 100 \
	--prepare "sh -c 'git worktree-ports release web -q >/dev/null 2>&1; true'" \
	'git worktree-ports allocate web -q' \
	'git-worktree-ports allocate web -q'
report ref "$TMP/first.json"
report row "$TMP/first.json" 1 "git worktree-ports allocate web -q (new)" "<= 8"
report row "$TMP/first.json" 2 "git-worktree-ports allocate (new, run directly)"

# --- c. where the time goes -------------------------------------------------

progress "building the baseline programs in $BENCH_BIN"
mkdir -p "$BENCH_BIN" || die "cannot create $BENCH_BIN"
printf 'int main(void)\n{\n\treturn 0;\n}\n' >"$BENCH_BIN/empty.c"
cat >"$BENCH_BIN/libgit2-init.c" <<'EOF'
#include <git2.h>

int main(void)
{
	return git_libgit2_init() < 0;
}
EOF
LIBS=$(pkg-config --libs libgit2 jansson inih) &&
cc -O2 -o "$BENCH_BIN/empty" "$BENCH_BIN/empty.c" &&
cc -O2 -o "$BENCH_BIN/empty-linked" "$BENCH_BIN/empty.c" \
	-Wl,--no-as-needed $LIBS -Wl,--as-needed &&
cc -O2 $(pkg-config --cflags libgit2) -o "$BENCH_BIN/libgit2-init" \
	"$BENCH_BIN/libgit2-init.c" $LIBS || die "cannot build the baselines"

report section "c. where the time goes (allocation exists)"
hf parts "$W" --warmup 10 --min-runs 100 \
	"$BENCH_BIN/empty" "$BENCH_BIN/empty-linked" "$BENCH_BIN/libgit2-init" \
	'git-worktree-ports allocate web -q' \
	'git worktree-ports allocate web -q'
report ref "$TMP/parts.json"
report row "$TMP/parts.json" 1 "process start: empty main"
report row "$TMP/parts.json" 2 "+ dynamic linking: libgit2 jansson inih"
report row "$TMP/parts.json" 3 "+ git_libgit2_init()"
report row "$TMP/parts.json" 4 "git-worktree-ports allocate (run directly)"
report row "$TMP/parts.json" 5 "git worktree-ports allocate (through git)"

progress "timing phases (GIT_WORKTREE_PORTS_TIMING=1)"
: >"$TMP/timing-fast.txt"
: >"$TMP/timing-first.txt"
for i in $(seq 1 50); do
	echo run >>"$TMP/timing-fast.txt"
	(cd "$W" && GIT_WORKTREE_PORTS_TIMING=1 \
		git-worktree-ports allocate web -q 2>>"$TMP/timing-fast.txt" \
		>/dev/null) || die "allocate with timing failed"
done
for i in $(seq 1 50); do
	(cd "$W" && git worktree-ports release web -q >/dev/null 2>&1)
	echo run >>"$TMP/timing-first.txt"
	(cd "$W" && GIT_WORKTREE_PORTS_TIMING=1 \
		git-worktree-ports allocate web -q 2>>"$TMP/timing-first.txt" \
		>/dev/null) || die "allocate with timing failed"
done
report timing "$TMP/timing-fast.txt" "$TMP/parts.json" "phase, existing"
report diff "$TMP/parts.json" 4 "$TMP/timing-fast.txt" \
	"outside the phases: exec, linking, exit"
report timing "$TMP/timing-first.txt" "$TMP/parts.json" "phase, first"

# --- e (part). peak memory of the fast allocate ----------------------------

progress "peak RSS, fixture a"
ref_kb=$(cd "$W" && rss git rev-parse --show-toplevel)
fast_kb=$(cd "$W" && rss git-worktree-ports allocate web -q)
test -n "$ref_kb" && test -n "$fast_kb" || die "no RSS from /usr/bin/time"

# --- d. status --all --json as the registry grows ---------------------------

# A registry with N allocations: 10 services (ranges s0..s9 of 5,001
# ports each, from 10000 up), one allocation of each in each worktree
# wt/w00001..wt/wK, at distinct ports that are not bad ports.
write_registry() {
	python3 - "$1" "$2" "$S/wt" <<'EOF'
import json, os, sys
path, n, wtdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
BAD = {10080}
nsvc = 10
ranges, pools = {}, []
for i in range(nsvc):
    start = 10000 + i * 5001
    ranges["s%d" % i] = {"start": start, "end": start + 5000,
                         "description": "bench range %d" % i}
    pools.append([p for p in range(start, start + 5001) if p not in BAD])
allocs = []
for k in range(n // nsvc):
    name = "w%05d" % (k + 1)
    wt = os.path.realpath(os.path.join(wtdir, name))
    for i in range(nsvc):
        allocs.append({"port": pools[i][k], "worktree": name, "path": wt,
                       "service": "s%d" % i,
                       "allocated_at": "2026-01-01T00:00:00Z",
                       "allocated_by": "bench@localhost",
                       "description": "bench service s%d" % i,
                       "process_id": None, "health_status": "unknown"})
reg = {"ranges": ranges, "reserved": [], "allocations": allocs,
       "metadata": {"version": "1.0.0",
                    "last_updated": "2026-01-01T00:00:00Z",
                    "total_allocations": len(allocs), "schema_version": 1}}
with open(path, "w") as f:
    json.dump(reg, f, indent=2)
    f.write("\n")
EOF
}

S=$TMP/s
nr_wt=0
JOBS=$(nproc 2>/dev/null || echo 2)
# grow_worktrees N: add linked worktrees until there are N. Each 'git
# worktree add' reads every existing worktree, so thousands take minutes:
# run as many at once as there are CPUs (they create distinct names). One
# may read another's files half-written and die before creating anything
# of its own; it is tried again then, and only then.
grow_worktrees() {
	while test $nr_wt -lt "$1"; do
		last=$((nr_wt + 250))
		test $last -gt "$1" && last=$1
		seq $((nr_wt + 1)) $last |
		xargs -P "$JOBS" -n 25 sh -c '
			for i; do
				wt=$(printf "w%05d" $i) tries=0
				until git worktree add --no-checkout -q --detach \
					"../wt/$wt" 2>>"$0"; do
					tries=$((tries + 1))
					test $tries -lt 5 &&
					! test -e ".git/worktrees/$wt" &&
					! test -e "../wt/$wt" || exit 255
					echo "bench: retrying git worktree add $wt" >>"$0"
					sleep 0.1
				done
			done' "$LOG" ||
			die "git worktree add failed between $nr_wt and $last; see $LOG"
		nr_wt=$last
		progress "  $nr_wt of $1 worktrees"
	done
}

progress "fixture: the scale repository"
mkdir "$S"
git init -q "$S/main" &&
echo hello >"$S/main/README" &&
git -C "$S/main" add README &&
git -C "$S/main" commit -q -m initial &&
git -C "$S/main" worktree-ports init --no-hooks >/dev/null ||
	die "cannot set up $S/main"
SREG=$S/main/design/worktrees/ports.json

report section "d. status --all --json, 10 allocations per worktree"
cases="1000:100 10000:1000"
test "$BENCH_QUICK" = 1 || cases="$cases 50000:5000"
scale_args=
for c in $cases; do
	n=${c%%:*} wts=${c#*:}
	progress "status: $n allocations over $wts worktrees"
	(cd "$S/main" && grow_worktrees "$wts") || exit 1
	nr_wt=$wts
	test "$(git -C "$S/main" worktree list --porcelain |
		grep -c '^worktree ')" = $((wts + 1)) ||
		die "git does not list $wts linked worktrees"
	write_registry "$SREG" "$n" || die "cannot write the registry"
	(cd "$S/main" && git worktree-ports status --all --json \
		>"$TMP/status-$n.json") || die "status --all --json failed"
	report count "$TMP/status-$n.json" "$n"
	if test "$n" -ge 50000; then
		runs="--warmup 1 --min-runs 10"
	else
		runs="--warmup 3 --min-runs 20"
	fi
	if test "$n" = 10000; then
		# and the table, with its IN USE column from the socket tables
		hf "status-$n" "$S/main" $runs \
			'git worktree-ports status --all --json' \
			'git worktree-ports status --all'
	else
		hf "status-$n" "$S/main" $runs \
			'git worktree-ports status --all --json'
	fi
	report count "$SREG" "$n"
	target=
	test "$n" = 10000 && target="<= 10"
	report ref "$TMP/status-$n.json" "$(commas $wts) worktrees"
	report row "$TMP/status-$n.json" 1 \
		"status --all --json, $(commas $n) allocations" "$target"
	test "$n" = 10000 &&
		report row "$TMP/status-$n.json" 2 \
			"status --all (table, in use), $(commas $n) allocations" \
			"<= 12"
	scale_args="$scale_args $n:$TMP/status-$n.json"
	if test "$n" = 10000; then
		progress "peak RSS, 10,000 allocations"
		sref_kb=$(cd "$S/main" && rss git rev-parse --show-toplevel)
		status_kb=$(cd "$S/main" &&
			rss git-worktree-ports status --all --json)
		test -n "$sref_kb" && test -n "$status_kb" ||
			die "no RSS from /usr/bin/time"
	fi
done
report scale $scale_args

# --- e. peak memory --------------------------------------------------------

report section "e. peak RSS (ratio to git rev-parse --show-toplevel's)"
report rss "git rev-parse --show-toplevel (fixture a)" "$ref_kb" "$ref_kb"
report rss "git-worktree-ports allocate web -q (existing)" "$ref_kb" "$fast_kb"
report rss "git rev-parse --show-toplevel (10,000 case)" "$sref_kb" "$sref_kb"
report rss "git-worktree-ports status --all --json, 10,000" \
	"$sref_kb" "$status_kb"

# --- servers for g and h ----------------------------------------------------

# start_servers PIDFILE SPEC...: 'test-tool servers SPEC...' in the
# background; returns once it listens (it writes its pid to PIDFILE then).
# Its pid is also kept in servers.pids, for cleanup to stop it.
start_servers() {
	pidfile=$1
	shift
	rm -f "$pidfile"
	"$TEST_TOOL" servers --pidfile "$pidfile" "$@" 2>>"$LOG" &
	echo $! >>"$TMP/servers.pids"
	tries=0
	until test -s "$pidfile"; do
		tries=$((tries + 1))
		test $tries -lt 400 || die "servers $* did not start; see $LOG"
		kill -0 $! 2>/dev/null || die "servers $* failed; see $LOG"
		sleep 0.05
	done
}

# start_sleepers N: N idle processes, for the tools that scan /proc; their
# pids go to sleepers.pids, for stop_sleepers and cleanup.
start_sleepers() {
	for _ in $(seq "$1"); do
		sleep 3600 &
		echo $! >>"$TMP/sleepers.pids"
	done
}

stop_sleepers() {
	test -f "$TMP/sleepers.pids" || return 0
	while read -r pid; do
		kill "$pid" 2>/dev/null
	done <"$TMP/sleepers.pids"
	while read -r pid; do
		wait "$pid" 2>/dev/null
	done <"$TMP/sleepers.pids"
	rm -f "$TMP/sleepers.pids"
}

stop_servers() {
	kill "$(cat "$1")" 2>/dev/null
	wait "$(cat "$1")" 2>/dev/null
	rm -f "$1"
}

# --- f. git worktree add with the hook (issue 4) -------------------------------

# add_fixture DIR NFILES BASE: a repository DIR/main of NFILES tracked
# files, .worktree-ports.ini declaring web, api and database among them,
# with the hook installed by init and ranges of 100 ports from BASE; and
# an empty hooks directory DIR/nohooks, for git without the hook.
add_fixture() {
	mkdir -p "$1/nohooks" &&
	git init -q "$1/main" &&
	python3 - "$1/main" $(($2 - 2)) <<'EOF' &&
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(top, "src", "d%02d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d.c" % i), "w") as f:
        f.write(("int f%d_%%d(void)\n{\n\treturn %d;\n}\n" % (i, i)) * 8 %
                tuple(range(8)))
EOF
	printf '%s\n' '[service "web"]' 'health = /health' '' \
		'[service "api"]' '' '[service "database"]' 'health = tcp' \
		>"$1/main/.worktree-ports.ini" &&
	echo .env >"$1/main/.gitignore" &&
	git -C "$1/main" add -A &&
	git -C "$1/main" commit -q -m initial &&
	test "$(git -C "$1/main" ls-files | wc -l)" = "$2" &&
	git -C "$1/main" worktree-ports init >/dev/null &&
	test -x "$1/main/.git/hooks/post-checkout" &&
	"$TEST_TOOL" set-ranges \
		"$1/main/design/worktrees/ports.json" "web:$3-$(($3 + 99))" \
		"api:$(($3 + 100))-$(($3 + 199))" \
		"database:$(($3 + 200))-$(($3 + 299))"
}

# What hyperfine runs, in alternating blocks (see cmd_abba): add a
# worktree with the hook or without it, the same git command with
# core.hooksPath naming the installed hook's directory or an empty one.
# With the 2,000-file checkout taking 0.3 to 0.9 s on a busy machine in
# waves of seconds, short alternating blocks keep those waves out of the
# ratio better than one block each. Before each run the worktree is removed and
# its ports released (so every run with the hook allocates three new
# ports, as for a new worktree), and the files written so far are synced,
# so that writing back the last run's files does not slow the next one.
add_cmd() {
	echo "git -c core.hooksPath=$1 worktree add -q --detach ../$2"
}
add_prepare() {
	echo "sh -c 'git worktree remove --force ../$1 2>/dev/null; git worktree prune; git worktree-ports prune -q >/dev/null 2>&1; sync'"
}

report section "f. git worktree add, hook and three services against none"
for nf in 20 2000; do
	D=$TMP/add-$nf
	progress "fixture: a repository of $(commas $nf) files"
	base=21000
	test $nf = 20 || base=21400
	add_fixture "$D" $nf $base || die "cannot set up $D"
	hooks=$D/main/.git/hooks
	(cd "$D/main" && git worktree add -q --detach ../wt-hook) \
		>>"$LOG" 2>&1 ||
		die "git worktree add failed in $D"
	grep -q '^PORT_DATABASE=[0-9]' "$D/wt-hook/.env" 2>/dev/null ||
		die "the hook wrote no .env in $D/wt-hook"
	(cd "$D/main" && $(add_cmd "$D/nohooks" wt-plain)) >>"$LOG" 2>&1 ||
		die "git worktree add without the hook failed in $D"
	! test -e "$D/wt-plain/.env" || die "a hook ran in $D/wt-plain"
	# PAIRS pairs of blocks of RUNS runs: hook none, none hook, ...
	if test $nf -lt 2000; then
		runs=10 pairs=6
	elif test "$BENCH_QUICK" = 1; then
		runs=2 pairs=4
	else
		runs=3 pairs=6
	fi
	set -- --warmup 0 --runs $runs --prepare true
	k=0 n=1 hook_idx= none_idx=
	while test $k -lt $pairs; do
		order="hook none"
		test $((k % 2)) = 0 || order="none hook"
		for which in $order; do
			if test $which = hook; then
				set -- "$@" --prepare "$(add_prepare wt-hook)" \
					"$(add_cmd "$hooks" wt-hook)"
				hook_idx=$hook_idx${hook_idx:+,}$n
			else
				set -- "$@" --prepare "$(add_prepare wt-plain)" \
					"$(add_cmd "$D/nohooks" wt-plain)"
				none_idx=$none_idx${none_idx:+,}$n
			fi
			n=$((n + 1))
		done
		k=$((k + 1))
	done
	hf "add-$nf" "$D/main" "$@"
	grep -q '^PORT_WEB=[0-9]' "$D/wt-hook/.env" ||
		die "no .env after the runs in $D/wt-hook"
	if test $nf = 20; then
		target="<= 1.6"
	else
		target="<= 1.10"
	fi
	report ref "$TMP/add-$nf.json" "$(commas $nf) files"
	report abba "$TMP/add-$nf.json" "$hook_idx" "$none_idx" \
		"worktree add, hook, $(commas $nf) files" \
		"worktree add, no hook, $(commas $nf) files" \
		"hook adds (ratio: with / without), $(commas $nf) files" \
		"$target"
done

# --- g. status --health-check over 1,000 allocations (issue 5) -------------

# 10 services, ranges s0..s9 of 100 ports from 20000 (below the ephemeral
# range: nothing listens there by chance), one allocation of each in each
# of 100 linked worktrees: 1,000 allocations on ports 20000-20999.
progress "fixture: 1,000 allocations over 100 worktrees, ports 20000-20999"
H=$TMP/h
mkdir "$H"
git init -q "$H/main" &&
echo hello >"$H/main/README" &&
git -C "$H/main" add README &&
git -C "$H/main" commit -q -m initial &&
git -C "$H/main" worktree-ports init --no-hooks >/dev/null ||
	die "cannot set up $H/main"
for i in $(seq -w 1 100); do
	git -C "$H/main" worktree add -q --no-checkout --detach "../wt/w$i" ||
		die "git worktree add failed in $H"
done
python3 - "$H/main/design/worktrees/ports.json" "$H/wt" <<'EOF' ||
import json, os, sys
path, wtdir = sys.argv[1], sys.argv[2]
ranges = {"s%d" % i: {"start": 20000 + 100 * i, "end": 20099 + 100 * i,
                      "description": "bench range %d" % i}
          for i in range(10)}
allocs = []
for k in range(100):
    name = "w%03d" % (k + 1)
    for i in range(10):
        allocs.append({"port": 20000 + 100 * i + k, "worktree": name,
                       "path": os.path.realpath(os.path.join(wtdir, name)),
                       "service": "s%d" % i,
                       "allocated_at": "2026-01-01T00:00:00Z",
                       "allocated_by": "bench@localhost",
                       "description": None, "process_id": None,
                       "health_status": "unknown"})
with open(path, "w") as f:
    json.dump({"ranges": ranges, "reserved": [], "allocations": allocs,
               "metadata": {"version": "1.0.0",
                            "last_updated": "2026-01-01T00:00:00Z",
                            "total_allocations": len(allocs),
                            "schema_version": 1}}, f, indent=2)
    f.write("\n")
EOF
	die "cannot write the registry of $H/main"
HCHECK='git worktree-ports status --all --health-check --timeout 1'

# health_counts WANT: one check, whose counts of healthy, unhealthy and
# not_running must be WANT ("H U N"); the check must exit 9.
health_counts() {
	(cd "$H/main" && $HCHECK --json >"$TMP/health.json" 2>>"$LOG")
	test $? = 9 || die "$HCHECK did not exit 9"
	got=$(python3 - "$TMP/health.json" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))["allocations"]
print(" ".join(str(sum(x["health_status"] == s for x in a))
               for s in ("healthy", "unhealthy", "not_running")))
EOF
)
	test "$got" = "$1" ||
		die "health check: healthy, unhealthy, not_running: $got, not $1"
}

# Nothing listening; then 'who' among 2,000 sockets; then 500 servers
# that hang, last, as their connections leave sockets in TIME-WAIT for a
# minute that would count among the 2,000. Rows are reported afterwards.
health_counts "0 0 1000"
hf health-idle "$H/main" --warmup 3 --min-runs 20 -i "$HCHECK"

# A check that changes nothing writes nothing in any worktree: count the
# system calls that write to a file outside .git (opens for writing,
# writes, renames, unlinks, truncations, new directories) in one more run.
health_writes=
if command -v strace >/dev/null 2>&1; then
	(cd "$H/main" && strace -f -qq -y -o "$TMP/health-writes.trace" \
		-e trace=openat,open,creat,write,pwrite64,writev,rename,renameat,renameat2,unlink,unlinkat,truncate,ftruncate,mkdir,mkdirat \
		$HCHECK >/dev/null 2>>"$LOG")
	health_writes=$(python3 "$TMP/count-writes.py" "$TMP/health-writes.trace")
fi

# --- h. who PORT with 2,000 sockets open (issue 5) --------------------------

WHO_PORT=20042
who_skip=
(cd "$H/main" && git worktree-ports who -h >/dev/null 2>&1)
if test $? != 129; then
	# -h prints the usage and exits 129, as git's commands do
	who_skip="skipped: who not built"
elif ! command -v ss >/dev/null 2>&1; then
	who_skip="skipped: no ss (iproute2)"
else
	progress "1,000 listeners, 500 connected pairs and 1,000 processes"
	start_servers "$TMP/who.pid" listen:20000-20999 pairs:500
	nsock=$(($(ss -Hltn | wc -l) + $(ss -Htn state established | wc -l)))
	test "$nsock" -ge 2000 ||
		die "only $nsock TCP sockets listen or are connected, not 2,000"
	start_sleepers 1000
	nproc_all=$(ls -d /proc/[0-9]* | wc -l)
	test "$nproc_all" -ge 1000 ||
		die "only $nproc_all processes run, not 1,000"
	(cd "$H/main" && git worktree-ports who $WHO_PORT >"$TMP/who.out" 2>&1)
	who_rc=$?
	grep -qw "$(cat "$TMP/who.pid")" "$TMP/who.out" || {
		cat "$TMP/who.out" >>"$LOG"
		die "who $WHO_PORT does not name pid $(cat "$TMP/who.pid"); see $LOG"
	}
	ignore=
	test $who_rc = 0 || ignore=-i
	hf who "$H/main" --warmup 10 --min-runs 100 $ignore \
		"git worktree-ports who $WHO_PORT" "ss -ltnp 'sport = :$WHO_PORT'"
	stop_servers "$TMP/who.pid"
fi

# --- i. check: 1,000 allocations, 100 worktrees, 200 listeners (issue 9) ----

# The listeners are one process outside every worktree: 200 foreign
# holders, each described with where it runs and what it was started
# from, and every port of the ranges looked at for strays. The 1,000
# processes of h still run.
progress "200 listeners for check"
start_servers "$TMP/check.pid" listen:20000-20199
(cd "$H/main" && git worktree-ports check >"$TMP/check.out" 2>>"$LOG")
test $? = 9 || die "check did not exit 9 with 200 foreign listeners"
nconf=$(grep -c '^foreign_process: ' "$TMP/check.out")
test "$nconf" = 200 || die "check reports $nconf foreign ports, not 200"
hf check "$H/main" --warmup 3 --min-runs 20 -i "git worktree-ports check"
stop_servers "$TMP/check.pid"
stop_sleepers

# Each worktree's five hanging ports are served from inside it, by one
# process per worktree: a server outside would be 'foreign' (docs/health.md).
progress "500 servers that accept and never answer, in 100 worktrees"
for k in $(seq 1 100); do
	w=$(printf 'w%03d' "$k")
	ports=$((20000 + k - 1))
	for i in 1 2 3 4; do
		ports="$ports,$((20000 + 100 * i + k - 1))"
	done
	(cd "$H/wt/$w" && start_servers "$TMP/hang-$w.pid" "hang:$ports") ||
		exit 1
done
health_counts "0 500 500"
hf health-hang "$H/main" --warmup 1 --min-runs 10 -i "$HCHECK"
for k in $(seq 1 100); do
	stop_servers "$TMP/hang-$(printf 'w%03d' "$k").pid"
done

report section "g. status --all --health-check --timeout 1, 1,000 ports"
report ref "$TMP/health-idle.json" "100 worktrees"
report fixed "$TMP/health-idle.json" 1 1 \
	"nothing listening (ratio: to the 1 s timeout)" "<= 0.1"
if test -n "$health_writes"; then
	report tally "writes to files outside .git, that check (strace)" \
		"$health_writes" "<= 0"
else
	report note "skipped: no strace to count the writes"
fi
report ref "$TMP/health-hang.json" "100 worktrees"
report fixed "$TMP/health-hang.json" 1 1 \
	"500 hanging (ratio: to the 1 s timeout)" "<= 1.15"

report section "h. who PORT, 2,000 sockets open, 1,000 processes"
if test -n "$who_skip"; then
	report note "$who_skip"
else
	report ref "$TMP/who.json" "$(commas $nsock) sockets"
	report pair "$TMP/who.json" 2 0 "ss -ltnp 'sport = :$WHO_PORT'"
	report pair "$TMP/who.json" 1 2 \
		"git worktree-ports who $WHO_PORT (ratio: to ss)" "<= 2"
fi

report section "i. check: 1,000 allocations, 100 worktrees, 200 listeners"
report ref "$TMP/check.json" "100 worktrees"
report row "$TMP/check.json" 1 "git worktree-ports check (200 conflicts)" \
	"<= 5"

printf 'git-worktree-ports bench: ratios to the mean of "%s"\n' "$REF"
printf 'run in the same repository by the same hyperfine invocation\n\n'
report print
progress "hyperfine output: $BENCH_BIN/bench.log"
