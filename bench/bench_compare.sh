#!/usr/bin/env bash
# bench_compare.sh — the 比对 (compare) benchmark: two N-record files joined
# by identity number under a memory budget.
#
# Builds qloop and gen_w1 (Release, in build-bench/) and bench/gen_compare.c,
# generates the left file with gen_w1 (N population records, default
# 5,000,000) and the right file with gen_compare (the social-security
# bureau's copy: ~4% missing, ~1.5% extra, names and birth dates that differ
# or are written differently, a few duplicated and empty keys), then runs one
# compare rule pack (left = pop, right = social, key person_id / pid, fields
# name and birth_date as dates, authority = left) under /usr/bin/time -v with
# --memory (default 256M) and prints the time, rows per second, peak
# resident memory and the compare's rule counts. Past the budget the compare
# spills to partition files in TMPDIR (about the size of both inputs).
#
# Usage: bench/bench_compare.sh [N] [--memory SIZE] [--seed S] [--keep]
#   --keep   reuse the generated files of an earlier run when they exist
# Environment:
#   QLOOP_BENCH_BUILD   build folder (default <repo>/build-bench)
#   QLOOP_BENCH_DIR     where data, store and logs go (default <build>/compare)
#   QLOOP_BENCH_QLOOP, QLOOP_BENCH_GEN
#                       use these qloop / gen_w1 binaries instead of building
#   TMPDIR              where the compare's partition files go
# Needs: cmake, a C compiler, GNU time (/usr/bin/time), python3 (summary).
set -euo pipefail

N=5000000
SEED=1
MEMORY=256M
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) SEED=${2:?"--seed 需要一个数字"}; shift 2 ;;
    --memory) MEMORY=${2:?"--memory 需要如 256M 的大小"}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]*|'') echo "bench_compare.sh: 无法识别的参数 $1；用法：bench/bench_compare.sh [N] [--memory SIZE] [--seed S] [--keep]" >&2; exit 2 ;;
    *) N=$1; shift ;;
  esac
done

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup bench_compare.sh compare
CC=${CC:-cc}
command -v python3 >/dev/null || { echo "bench_compare.sh: 找不到 python3（用于汇总结果）" >&2; exit 2; }
mkdir -p "$WORK"
GENCMP=$WORK/gen_compare
"$CC" -std=c11 -O2 -D_POSIX_C_SOURCE=200809L -o "$GENCMP" "$ROOT/bench/gen_compare.c"

LEFT=$WORK/pop_$N.csv
RIGHT=$WORK/social_$N.csv
if [ "$KEEP" = 1 ] && [ -s "$LEFT" ] && [ -s "$RIGHT" ]; then
  echo "== 沿用已生成的 $LEFT 与 $RIGHT"
else
  echo "== 生成左侧 $N 行（gen_w1，种子 $SEED）"
  "$GEN" "$N" "$LEFT" --seed "$SEED" --ref 2026-11-22 --divisions-txt "$ROOT/engine/data/divisions_bundled.txt"
  echo "== 生成右侧副本（gen_compare）"
  "$GENCMP" "$LEFT" "$RIGHT" --seed "$SEED" --stats
fi
rows_left=$(( $(wc -l < "$LEFT") - 1 ))
rows_right=$(( $(wc -l < "$RIGHT") - 1 ))

cat > "$WORK/compare.lua" <<'EOF'
-- The compare benchmark's pack: nothing but the compare.
dataset "pop" { key = "person_id", owner = "市公安局", sensitive = { "person_id", "name" } }
dataset "social" { key = "pid", owner = "市人力社保局", sensitive = { "pid", "name" } }
cleanse "social" { name = clean.trim }
compare "pop_vs_social" {
  left = "pop", right = "social", key = "person_id", right_key = "pid",
  authority = "left",
  fields = { name = "name", birth_date = { field = "birth", date = true } },
}
EOF

DB=$WORK/compare.db
rm -f "$DB" "$DB-wal" "$DB-shm" "$DB.lock"
echo "== 运行 qloop run（--memory $MEMORY），$rows_left + $rows_right 行"
set +e
QLOOP_NOW=2026-11-22T00:00:00+08:00 /usr/bin/time -v -o "$WORK/time.txt" \
  "$QLOOP" run --rules "$WORK/compare.lua" --data "pop=$LEFT" --data "social=$RIGHT" \
  --db "$DB" --memory "$MEMORY" --json --quiet > "$WORK/run.json" 2> "$WORK/run.err"
rc=$?
set -e
if [ "$rc" -gt 1 ]; then
  echo "bench_compare.sh: qloop run 失败（退出码 $rc）：" >&2
  cat "$WORK/run.err" >&2
  exit 2
fi
python3 - "$WORK/time.txt" "$WORK/run.json" "$rows_left" "$rows_right" "$MEMORY" <<'EOF'
import json, re, sys
time_txt, run_json, nl, nr, memory = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
t = open(time_txt, encoding="utf-8").read()
def grab(label):
    m = re.search(r"^\s*" + re.escape(label) + r":\s*(.+)$", t, re.M)
    return m.group(1).strip() if m else "?"
wall = grab("Elapsed (wall clock) time (h:mm:ss or m:ss)")
parts = [float(p) for p in wall.split(":")]
secs = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
rss_kb = int(grab("Maximum resident set size (kbytes)"))
print(f"记录：左 {nl:,}，右 {nr:,}；--memory {memory}")
print(f"耗时：{secs:.1f} 秒（用户 {grab('User time (seconds)')} 秒，系统 {grab('System time (seconds)')} 秒），"
      f"{(nl + nr) / secs:,.0f} 行/秒")
print(f"峰值内存（最大常驻集）：{rss_kb / 1024:.0f} MiB")
d = json.load(open(run_json, encoding="utf-8"))
for r in d["rules"]:
    print(f"  {r['id']:<40} {r['dataset']:<8} checked {r['checked']:>9,}  failed {r['failed']:>7,}  errors {r['errors']}")
EOF
echo "（明细：$WORK/time.txt，$WORK/run.json；数据库 $DB）"
