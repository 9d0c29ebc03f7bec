# Shared helpers for tests/e2e/*.sh (sourced, never run on its own).
# Each test runs in a fresh temporary folder that is removed on exit.
set -euo pipefail
: "${QLOOP_BIN:?QLOOP_BIN must name the qloop binary (ctest sets it)}"
: "${QLOOP_SOURCE_DIR:?}"
QLOOP_BUILD_DIR="${QLOOP_BUILD_DIR:-$(dirname "$QLOOP_BIN")}"
T=$(mktemp -d "${TMPDIR:-/tmp}/qloop-e2e.XXXXXX")
# read-only: a test that names something else T would send the folder's
# removal to the wrong path (bash stops at the assignment instead)
readonly T
trap 'rm -rf "$T"' EXIT
cd "$T"
export QLOOP_DB="$T/q.db"
unset QLOOP_DIVISIONS QLOOP_NOW || true
FAILS=0
# Divisions for generated data: the reference table when ../shared is there,
# else the bundled one; DIV is what qloop run needs to match (GENDIV for gen_w1).
if [ -f "${QLOOP_SHARED_REF:-/nonexistent}/divisions.csv" ]; then
    DIV=(--divisions "$QLOOP_SHARED_REF/divisions.csv"); GENDIV=("${DIV[@]}")
else
    DIV=(); GENDIV=(--divisions-txt "$QLOOP_SOURCE_DIR/engine/data/divisions_bundled.txt")
fi

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
    if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: expected [$2], got [$3]"; fi
}

# expect_contains WHAT NEEDLE HAYSTACK
expect_contains() {
    case "$3" in *"$2"*) ok "$1" ;; *) fail "$1: [$2] not found in [$3]" ;; esac
}

# run_q EXPECTED_EXIT ARGS... : runs qloop, keeps stdout in $OUT, stderr in $ERR.
run_q() {
    local want=$1; shift
    set +e
    "$QLOOP_BIN" "$@" >"$T/.out" 2>"$T/.err"
    local rc=$?
    set -e
    OUT=$(cat "$T/.out"); ERR=$(cat "$T/.err")
    if [ "$rc" != "$want" ]; then
        fail "qloop $* exited $rc, expected $want; stderr: $ERR"
    fi
    return 0
}

# jq-free JSON access through the qloop binary's own sandbox is not possible
# (no JSON there), so tests use python3 when present, else sqlite3's json.
json_get() { # json_get JSON PYTHON_EXPR  (d is the parsed object)
    python3 -c 'import json,sys; d=json.loads(sys.stdin.read()); print(eval(sys.argv[1]))' "$2" <<<"$1"
}

sql() { sqlite3 -batch -noheader "${QLOOP_DB}" "$@"; }

finish() {
    if [ "$FAILS" -gt 0 ]; then echo "$FAILS check(s) failed" >&2; exit 1; fi
    echo "all checks passed"
}
