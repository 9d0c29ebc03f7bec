#!/usr/bin/env bash
# run_odbc.sh — reading W1 rows from databases over ODBC against the same rows
# as CSV (bench/README.md, "Databases over ODBC").
#
# Builds qloop and gen_w1 (Release, in build-bench/), starts the test
# fixture's PostgreSQL and MariaDB (tests/db/fixture.sh: local sockets, a
# temporary folder, stopped at the end) with N W1 rows (default 1,000,000)
# loaded into both, then runs two rule packs over the CSV file, over
# PostgreSQL and over MariaDB, each under /usr/bin/time:
#   read — one cheap rule (not_null on person_id): the time is reading;
#   w1   — the ten W1 checks.
# It prints wall seconds, rows per second and peak memory per source and
# pack, and checks that the three sources gave the same counts.
#
# Usage: bench/run_odbc.sh [N]
# Needs what tests/install-deps.sh installs (postgresql, mariadb-server,
# odbc-postgresql, odbc-mariadb, unixodbc, GNU time); run as root.
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${QLOOP_BENCH_BUILD:-$ROOT/build-bench}
DIVS=$(cd "$ROOT/.." && pwd)/shared/ref/divisions.csv
[ -f "$DIVS" ] && RUN_DIVS=(--divisions "$DIVS") || RUN_DIVS=()

echo "== 构建（Release，$BUILD）"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target qloop gen_w1 -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

export QLOOP_BUILD_DIR=$BUILD QLOOP_SOURCE_DIR=$ROOT QLOOP_SHARED_REF=$(cd "$ROOT/.." && pwd)/shared/ref
export QLOOP_DB_W1_ROWS=$N QLOOP_DB_BIG_ROWS=1000
trap 'bash "$ROOT/tests/db/fixture.sh" stop >/dev/null 2>&1 || true' EXIT
echo "== 数据库（$N 行 W1）"
bash "$ROOT/tests/db/fixture.sh" start
source "$BUILD/dbtest.env"
WORK=$R/bench
mkdir -p "$WORK"
cd "$WORK"
COLS="person_id, name, sex, birth_date, phone, division_code, address, employer_uscc, updated_at, source_dept"
cat >read.lua <<'EOF'
dataset "pop" { key = "person_id" }
rule "pop.person_id_not_null" { field = "person_id", not_null = true }
EOF
for pack in read w1; do
    src=$([ $pack = read ] && echo read.lua || echo "$ROOT/bench/w1.lua")
    cp "$src" "${pack}_csv.lua"
    for db in pg my; do
        sed "s|^dataset \"pop\" {|dataset \"pop\" { source = \"odbc:qloop_$db\", query = \"SELECT $COLS FROM pop ORDER BY seq\",|" \
            "$src" >"${pack}_$db.lua"
    done
done
export QLOOP_NOW=2026-11-22T00:00:00+08:00
printf '\n%-6s %-10s %10s %12s %12s\n' pack source seconds rows/s peak_MB
for pack in read w1; do
    for s in csv pg my; do
        data=(); [ $s = csv ] && data=(--data "pop=$R/pop.csv")
        rm -f "${pack}_$s.db"
        /usr/bin/time -f '%e %M' -o time.txt "$BUILD/qloop" run --rules "${pack}_$s.lua" "${data[@]}" \
            "${RUN_DIVS[@]}" --db "${pack}_$s.db" --json --quiet >"${pack}_$s.json"
        read -r secs kb <time.txt
        python3 - "$pack" "$s" "$secs" "$kb" "$N" <<'EOF'
import sys
pack, s, secs, kb, n = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
name = {"csv": "CSV", "pg": "PostgreSQL", "my": "MariaDB"}[s]
print("%-6s %-10s %10.2f %12.0f %12.1f" % (pack, name, secs, n / secs if secs else 0, kb / 1024))
EOF
    done
    a=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([(r["id"],r["failed"]) for r in d["rules"]])' "${pack}_csv.json")
    for s in pg my; do
        b=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([(r["id"],r["failed"]) for r in d["rules"]])' "${pack}_$s.json")
        [ "$a" = "$b" ] || { echo "run_odbc.sh: $pack over $s differs from the CSV: $b vs $a" >&2; exit 1; }
    done
done
echo
echo "三种来源的计数一致。"
