#!/usr/bin/env bash
# run_w1.sh — the W1 benchmark (bench/README.md, ../shared/bench/W1.md).
#
# Builds qloop and gen_w1 (Release, in build-bench/), generates N records
# (default 1,000,000) with their truth file, runs the W1 rule pack once under
# /usr/bin/time -v, prints rows per second and peak memory, then compares the
# findings stored by the run with the truth file as a set of (check, row_no)
# and prints, per check, expected / got / missing / extra, plus the two
# cleansing counts. Exit status 0 when every set matches, 1 when one does not,
# 2 on a usage or set-up error.
#
# Usage: bench/run_w1.sh [N] [--seed S] [--keep]
#   --keep   reuse pop_N.csv and its truth file when they exist
# Environment:
#   QLOOP_BENCH_BUILD      build folder (default <repo>/build-bench)
#   QLOOP_BENCH_DIR        where data, store and logs go (default <build>/w1)
#   QLOOP_BENCH_DIVISIONS  divisions CSV (default <repo>/../shared/ref/divisions.csv;
#                          when missing, the bundled table is used for both)
#   QLOOP_BENCH_QLOOP, QLOOP_BENCH_GEN
#                          use these qloop / gen_w1 binaries instead of building
# Needs: cmake, a C compiler, sqlite3 (the CLI), GNU time (/usr/bin/time).
set -euo pipefail

N=1000000
SEED=1
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED=${2:?"--seed 需要一个数字"}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]*|'') echo "run_w1.sh: 无法识别的参数 $1；用法：bench/run_w1.sh [N] [--seed S] [--keep]" >&2; exit 2 ;;
    *) N=$1; shift ;;
  esac
done

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup run_w1.sh w1
command -v sqlite3 >/dev/null || { echo "run_w1.sh: 找不到 sqlite3；请先安装（Debian：apt-get install sqlite3）" >&2; exit 2; }

mkdir -p "$WORK"
CSV=$WORK/pop_$N.csv
TRUTH=$WORK/pop_${N}_truth.csv
if [ ${#DIVARG[@]} -gt 0 ]; then
  echo "== 行政区划表：$DIVS"
else
  echo "== 行政区划表：未找到 $DIVS，使用内置表 engine/data/divisions_bundled.txt"
fi

if [ "$KEEP" = 1 ] && [ -s "$CSV" ] && [ -s "$TRUTH" ]; then
  echo "== 沿用已生成的 $CSV"
else
  echo "== 生成 $N 行（种子 $SEED）"
  "$GEN" "$N" "$CSV" --seed "$SEED" --truth "$TRUTH" --ref 2026-11-22 "${GENDIV[@]}"
fi

DB=$WORK/w1.db
rm -f "$DB" "$DB-wal" "$DB-shm" "$DB.calendar"
echo "== 运行 qloop run --rules bench/w1.lua"
set +e
QLOOP_NOW=2026-11-22T00:00:00+08:00 /usr/bin/time -v -o "$WORK/time.txt" \
  "$QLOOP" run --rules "$ROOT/bench/w1.lua" --data "pop=$CSV" "${DIVARG[@]}" \
  --db "$DB" --json >"$WORK/run.json" 2>"$WORK/run.err"
rc=$?
set -e
if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ]; then
  echo "run_w1.sh: qloop run 失败（退出码 $rc）：" >&2
  cat "$WORK/run.err" >&2
  exit 2
fi

IFS=$'\t' read -r secs _ rss < <(time_v "$WORK/time.txt")
cpu_user=$(sed -n 's/^[[:space:]]*User time (seconds): //p' "$WORK/time.txt")
cpu_sys=$(sed -n 's/^[[:space:]]*System time (seconds): //p' "$WORK/time.txt")
echo
echo "== 速度"
awk -v n="$N" -v s="$secs" -v rss="$rss" -v u="$cpu_user" -v sy="$cpu_sys" 'BEGIN {
  printf "行数          %d\n", n
  printf "用时          %.2f 秒（用户态 %.2f 秒，内核态 %.2f 秒）\n", s, u, sy
  printf "吞吐          %.0f 行/秒\n", (s > 0 ? n / s : 0)
  printf "峰值内存      %.1f MiB（Maximum resident set size %d kB）\n", rss / 1024, rss
}'

# The run's findings as "check,row_no" (rule pop.X → check X), sorted.
RUN_ID=$(sqlite3 "$DB" "SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1;")
[ -n "$RUN_ID" ] || { echo "run_w1.sh: 数据库 $DB 中没有运行记录" >&2; exit 2; }
sqlite3 -csv "$DB" "SELECT rule, row_no FROM findings WHERE run_id = '$RUN_ID' AND dataset = 'pop';" |
  sed 's/^pop\.//' | LC_ALL=C sort -u >"$WORK/got.csv"
tail -n +2 "$TRUTH" | LC_ALL=C sort -u >"$WORK/expected.csv"
LC_ALL=C comm -23 "$WORK/expected.csv" "$WORK/got.csv" >"$WORK/missing.csv"
LC_ALL=C comm -13 "$WORK/expected.csv" "$WORK/got.csv" >"$WORK/extra.csv"

echo
echo "== 与注入缺陷比对（集合 (check,row_no)）"
printf '%-20s %9s %9s %9s %9s\n' check expected got missing extra
status=0
for check in name_not_null person_id_not_null id_check id_birth_match sex_match phone_valid \
             person_id_unique division_exists uscc_check updated_recent; do
  e=$(grep -c "^$check," "$WORK/expected.csv" || true)
  g=$(grep -c "^$check," "$WORK/got.csv" || true)
  m=$(grep -c "^$check," "$WORK/missing.csv" || true)
  x=$(grep -c "^$check," "$WORK/extra.csv" || true)
  printf '%-20s %9d %9d %9d %9d\n' "$check" "$e" "$g" "$m" "$x"
  if [ "$m" -ne 0 ] || [ "$x" -ne 0 ]; then status=1; fi
done
others=$(grep -vcE '^(name_not_null|person_id_not_null|id_check|id_birth_match|sex_match|phone_valid|person_id_unique|division_exists|uscc_check|updated_recent),' "$WORK/got.csv" || true)
if [ "$others" -ne 0 ]; then
  echo "另有 $others 条问题来自 W1 之外的规则（见 $WORK/extra.csv）"
  status=1
fi

# Rule errors and the cleansing counts (W1: phone_cleansed = birth_date_cleansed = k).
k=$(( (N + 25) / 50 ))
errors=$(sqlite3 "$DB" "SELECT coalesce(sum(errors), 0) FROM rule_results WHERE run_id = '$RUN_ID';")
phone_c=$(sqlite3 "$DB" "SELECT coalesce(sum(changed), 0) FROM cleanse_counts WHERE run_id = '$RUN_ID' AND dataset = 'pop' AND field = 'phone';")
birth_c=$(sqlite3 "$DB" "SELECT coalesce(sum(changed), 0) FROM cleanse_counts WHERE run_id = '$RUN_ID' AND dataset = 'pop' AND field = 'birth_date';")
printf '%-20s %9d %9d\n' phone_cleansed "$k" "$phone_c" birth_date_cleansed "$k" "$birth_c"
[ "$phone_c" -eq "$k" ] && [ "$birth_c" -eq "$k" ] || status=1
echo "规则执行错误：$errors"
[ "$errors" -eq 0 ] || status=1

echo
if [ "$status" -eq 0 ]; then
  echo "W1 结果与注入缺陷完全一致。运行摘要：$WORK/run.json"
else
  echo "W1 结果与注入缺陷不一致：缺失见 $WORK/missing.csv，多出见 $WORK/extra.csv" >&2
fi
exit "$status"
