#!/usr/bin/env bash
# load_portal.sh — a bounded load test of `qloop serve` (bench/README.md):
# C clients (default 50) for S seconds (default 30) on loopback with wrk,
# while `qloop run` runs W1 (bench/w1.lua over N generated records, default
# 300,000) again and again on the same store. Prints requests per second,
# latency p50/p90/p99, errors, how many runs completed meanwhile, and checks
# afterwards that every report filed during the test is in the store once and
# that the audit chain verifies. Not a test: figures depend on the machine.
#
# Usage: bench/load_portal.sh [--rows N] [--clients C] [--seconds S] [--threads T] [--without-run]
#   --without-run: the same load with no run beside it, for comparison
# Environment: QLOOP_BENCH_BUILD (a build folder with qloop and gen_w1;
# default <repo>/build, built when missing). Needs wrk (apt-get install wrk),
# curl, sqlite3.
set -euo pipefail
ROWS=300000 CLIENTS=50 SECS=30 WITH_RUN=1 THREADS=8
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) ROWS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    --without-run) WITH_RUN=0; shift ;;
    --threads) THREADS=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "load_portal.sh: 无法识别的参数 $1" >&2; exit 2 ;;
  esac
done
[ "$SECS" -le 300 ] || { echo "load_portal.sh: --seconds 最多 300" >&2; exit 2; }
for tool in wrk curl sqlite3; do
  command -v "$tool" >/dev/null || { echo "load_portal.sh: 需要 $tool（apt-get install $tool）" >&2; exit 2; }
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${QLOOP_BENCH_BUILD:-$ROOT/build}
if [ ! -x "$BUILD/qloop" ] || [ ! -x "$BUILD/gen_w1" ]; then
  cmake -S "$ROOT" -B "$BUILD" >/dev/null && cmake --build "$BUILD" -j2 --target qloop gen_w1 >/dev/null
fi
Q="$BUILD/qloop"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/qloop-load.XXXXXX")
SERVER= RUNS=
cleanup() {
  touch "$WORK/stop"
  [ -n "$RUNS" ] && kill "$RUNS" 2>/dev/null || true
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cd "$WORK"
export QLOOP_DB="$WORK/q.db" QLOOP_NOW=2026-11-22T02:00:00+08:00
DIVS=()
[ -f "$ROOT/../shared/ref/divisions.csv" ] && DIVS=(--divisions "$ROOT/../shared/ref/divisions.csv")
GENDIV=("${DIVS[@]}")
[ ${#DIVS[@]} -eq 0 ] && GENDIV=(--divisions-txt "$ROOT/engine/data/divisions_bundled.txt")
"$BUILD/gen_w1" "$ROWS" pop.csv --seed 1 "${GENDIV[@]}" >/dev/null
run() { timeout 600 "$Q" run --rules "$ROOT/bench/w1.lua" --data pop=pop.csv "${DIVS[@]}" --wait --quiet; }
t0=$(date +%s%N); run; t1=$(date +%s%N)
echo "first run over $ROWS records: $(( (t1 - t0) / 1000000 )) ms"
"$Q" depts add 大数据局 --bureau >/dev/null
"$Q" depts add 市民政局 >/dev/null
echo 'load-test-password' | "$Q" users add prov --role provider --dept 市公安局 >/dev/null
echo 'load-test-password' | "$Q" users add rep --role reporter --dept 市民政局 >/dev/null

setsid timeout --signal=TERM $((SECS + 300)) "$Q" serve --listen 127.0.0.1:0 --threads "$THREADS" \
  </dev/null >serve.out 2>serve.log &
SERVER=$!
for _ in $(seq 1 200); do [ -s serve.out ] && break; sleep 0.1; done
URL=$(head -n 1 serve.out)
[ -n "$URL" ] || { echo "load_portal.sh: qloop serve did not start" >&2; cat serve.log >&2; exit 1; }
signin() {
  curl -s --max-time 10 -c "$1.jar" -H 'Content-Type: application/json' \
    -d "{\"login\":\"$1\",\"password\":\"load-test-password\"}" "${URL}api/v1/session"
}
signin prov >/dev/null
REP_CSRF=$(signin rep | python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')
cookie() { awk '$6 == "qloop_session" { print "qloop_session=" $7 }' "$1.jar"; }
PROV_COOKIE=$(cookie prov) REP_COOKIE=$(cookie rep)
SMALL_TICKET=$(curl -s --max-time 10 -b rep.jar -H "X-CSRF-Token: $REP_CSRF" -H 'Content-Type: application/json' \
  -d '{"dataset":"pop","key":"load-first","message":"压测前的一条"}' "${URL}api/v1/reports" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
export PROV_COOKIE REP_COOKIE REP_CSRF SMALL_TICKET

# Runs, one after another, until the load ends (each bounded by timeout).
[ "$WITH_RUN" = 1 ] || touch stop
( n=0; while [ ! -f stop ]; do run && n=$((n + 1)) || { echo "a run failed" >&2; exit 1; }; echo $n > runs.done; done ) &
RUNS=$!
sleep 1
echo "load: $CLIENTS clients for $SECS s against $URL ($THREADS server threads)$([ "$WITH_RUN" = 1 ] && echo " while W1 runs over $ROWS records")"
wrk -t2 -c"$CLIENTS" -d"${SECS}s" --timeout 10s -s "$ROOT/bench/load_portal.lua" "$URL" | tee wrk.out
touch stop
wait "$RUNS" || { echo "load_portal.sh: a run failed during the load" >&2; exit 1; }
RUNS=
echo "runs completed during the load: $(cat runs.done 2>/dev/null || echo 0)"
posted=$(grep -c 'POST /api/v1/reports 201' serve.log || true)
stored=$(sqlite3 "$QLOOP_DB" "SELECT count(*) FROM ticket_items WHERE reporter = 'rep'")
echo "reports filed (201) during the load: $posted; records in the store: $stored (with the first one)"
[ "$stored" -eq $((posted)) ] || { echo "load_portal.sh: filed and stored differ" >&2; exit 1; }
"$Q" audit verify
grep -q 'status >= 400: 0' wrk.out && grep -q 'connect 0, read 0, write 0, timeout 0' wrk.out ||
  { echo "load_portal.sh: errors during the load" >&2; exit 1; }
