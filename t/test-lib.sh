# test-lib.sh - TAP test harness for SwarmImager's shell tests.
#
# A test script:
#   test_description='what this script checks'
#   . ./test-lib.sh            (from t/; scripts cd there first)
#   test_expect_success 'title' '
#           cmd1 &&
#           cmd2
#   '
#   test_done
#
# Each script runs in its own scratch directory, t/trash.NAME (removed on
# success unless SI_TEST_KEEP=1), with the built programs first in PATH.
# test_atexit registers cleanup run by the exit trap in reverse order,
# also when a test dies.  Waits are always bounded: wait_for.

set -u
TEST_NAME=$(basename "$0" .sh)
TEST_DIR=$(cd "$(dirname "$0")" && pwd)
SRC_DIR=$(cd "$TEST_DIR/.." && pwd)
TRASH="$TEST_DIR/trash.$TEST_NAME"
PATH="$SRC_DIR/server:$SRC_DIR/client:$SRC_DIR/boel:$TEST_DIR/lib:$PATH"
export PATH SRC_DIR TEST_DIR TRASH
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export LC_ALL=C TZ=UTC
# SANITIZE= builds: report memory errors, not what a program leaves
# allocated when it exits (override with ASAN_OPTIONS=detect_leaks=1).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

test_count=0
test_failed=0
test_skipped=0
_atexit_cmds=()
# Unique per run, for network namespaces and the like.
TEST_UID=$(printf '%x' $(( ($$ + RANDOM) % 65536 )))

say() { printf '# %s\n' "$*"; }

test_atexit() { _atexit_cmds+=("$1"); }

_run_atexit() {
	local i
	for (( i=${#_atexit_cmds[@]}-1; i>=0; i-- )); do
		eval "${_atexit_cmds[$i]}" >/dev/null 2>&1 || true
	done
	_atexit_cmds=()
}

_on_exit() {
	local rc=$?
	_run_atexit
	if [ "$rc" -eq 0 ] && [ "$test_failed" -eq 0 ] && [ -z "${SI_TEST_KEEP:-}" ]; then
		cd "$TEST_DIR" && rm -rf "$TRASH"
	fi
	exit "$rc"
}
trap _on_exit EXIT
trap 'exit 130' INT TERM

skip_all() {
	echo "1..0 # SKIP $*"
	exit 0
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip_all "needs root"
}

require_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "needs $c (make deps)"
	done
}

# Runs the body in the current shell; its output goes to the TAP stream as
# comments only when it fails (or always with SI_TEST_VERBOSE=1).
# A body's "return 1" (in a loop) returns from here, not from the caller;
# SI_TEST_TRACE=1 traces each body (set -x) into what a failure shows.
_test_body() {
	[ -z "${SI_TEST_TRACE:-}" ] || set -x
	eval "$1"
}

test_expect_success() {
	local title=$1 body=$2 out rc
	test_count=$((test_count + 1))
	out="$TRASH/.out.$test_count"
	_test_body "$body" >"$out" 2>&1 </dev/null
	rc=$?
	{ set +x; } 2>/dev/null
	[ -z "${SI_TEST_VERBOSE:-}" ] || sed 's/^/# /' "$out"
	if [ "$rc" -eq 0 ]; then
		echo "ok $test_count - $title"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $title"
		# stderr, so that prove shows it without -v
		{ echo "# $TEST_NAME: failed $test_count - $title";
		  sed 's/^/#   /' "$out" | tail -n 60; } >&2
	fi
}

test_skip() {
	test_count=$((test_count + 1))
	test_skipped=$((test_skipped + 1))
	echo "ok $test_count # SKIP $1 ($2)"
}

test_done() {
	echo "1..$test_count"
	[ "$test_failed" -eq 0 ] || say "failed $test_failed of $test_count"
	[ "$test_failed" -eq 0 ]
	exit $?
}

# wait_for SECONDS CMD...: polls CMD every 0.1 s; fails after SECONDS.
wait_for() {
	local limit=$1; shift
	local end=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
	until "$@" >/dev/null 2>&1; do
		if [ $(( $(date +%s%N) / 1000000 )) -ge "$end" ]; then
			echo "timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# wait_for_line SECONDS FILE REGEX: waits until FILE has a line matching.
wait_for_line() {
	wait_for "$1" grep -Eq "$3" "$2"
}

# free_port: prints a TCP+UDP port nobody listens on (loopback).
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
		if ! ss -Htanu 2>/dev/null | awk '{print $5}' | grep -q ":$p\$"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# start_bg NAME CMD...: starts CMD in the background with output in
# NAME.log; its PID goes to NAME.pid and is killed at exit.
start_bg() {
	local name=$1; shift
	"$@" >"$TRASH/$name.log" 2>&1 &
	echo $! >"$TRASH/$name.pid"
	test_atexit "kill_pid $!"
}

# kill_pid PID: TERM, then KILL after 5 s; waits for it.
kill_pid() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || return 0
	for i in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# test_cmp EXPECTED ACTUAL: diff, shown on failure.
test_cmp() { diff -u "$@"; }

# expect_exit STATUS CMD...: runs CMD and checks its exit status.
expect_exit() {
	local want=$1 rc; shift
	"$@"; rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "expected exit $want, got $rc from: $*" >&2
		return 1
	fi
}

# Independent tree comparison (Python, not our C code): type, mode,
# owner, size, content, link target, hard-link identity, xattrs, holes.
tree_diff() { python3 "$TEST_DIR/lib/treediff.py" "$@"; }

rm -rf "$TRASH"
mkdir -p "$TRASH" || exit 1
cd "$TRASH" || exit 1
