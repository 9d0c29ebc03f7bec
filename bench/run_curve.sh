#!/usr/bin/env bash
# run_curve.sh — W1 night 1 at several sizes, to see what grows faster than
# the rows (bench/README.md, "Night 1 at 10M").
#
# Builds qloop and gen_w1 (Release, in build-bench/) unless given binaries,
# generates each size's W1 file (seed 1, reference date 2026-11-22; or uses
# --data N=FILE), then runs night 1 on a fresh store size after size, ROUNDS
# times over (the sizes alternate, so a drift of the shared machine falls on
# all of them), each under GNU time with --timings, and prints per run and, per
# size, the medians: each phase's wall time, the read phase's CPU, the whole
# run's CPU (user + system) and peak memory, all but the peak also per million
# rows, and the per-row figures as a multiple of the smallest size's.
# CPU per row is the figure to read on a shared machine: wall time follows
# what else runs. Exit status 0, or 2 on a usage or set-up error.
#
# Usage: bench/run_curve.sh [N ...] [--rounds R] [--jobs J] [--data N=FILE] [--keep]
#   N          sizes in rows (default 1000000 3000000 10000000)
#   --rounds R rounds over all sizes (default 2)
#   --jobs J   qloop --jobs (default: qloop's)
#   --data N=FILE  use FILE (a W1 file of N rows) instead of generating one
#   --keep     reuse generated files of an earlier run
# Environment: QLOOP_BENCH_BUILD, QLOOP_BENCH_DIR (default <build>/curve),
#   QLOOP_BENCH_DIVISIONS, QLOOP_BENCH_QLOOP, QLOOP_BENCH_GEN as run_w1.sh.
set -euo pipefail

SIZES=()
ROUNDS=2
KEEP=0
JOBS=()
declare -A DATA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS=${2:?"--rounds 需要一个数字"}; shift 2 ;;
    --jobs) JOBS=(--jobs "${2:?"--jobs 需要一个数字"}"); shift 2 ;;
    --data)
      spec=${2:?"--data 需要 N=文件"}
      [[ "$spec" =~ ^[0-9]+=.+$ ]] || { echo "run_curve.sh: --data 应为 N=文件：$spec" >&2; exit 2; }
      [ -f "${spec#*=}" ] || { echo "run_curve.sh: 找不到文件 ${spec#*=}" >&2; exit 2; }
      DATA[${spec%%=*}]=${spec#*=}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]*|'') echo "run_curve.sh: 无法识别的参数 $1" >&2; exit 2 ;;
    *) SIZES+=("$1"); shift ;;
  esac
done
[ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000 3000000 10000000)
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "run_curve.sh: --rounds 应为正整数" >&2; exit 2; }

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v python3 >/dev/null || { echo "run_curve.sh: 找不到 python3" >&2; exit 2; }
bench_setup run_curve.sh curve

mkdir -p "$WORK"
for N in "${SIZES[@]}"; do
  [ -n "${DATA[$N]:-}" ] && continue
  CSV=$WORK/pop_$N.csv
  if [ "$KEEP" = 0 ] || [ ! -s "$CSV" ]; then
    echo "== 生成 $N 行"
    "$GEN" "$N" "$CSV" --seed 1 --ref 2026-11-22 "${GENDIV[@]}" 2>/dev/null
  fi
  DATA[$N]=$CSV
done

RESULTS=$WORK/results.tsv
: > "$RESULTS"
echo "== 开始时负载：$(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$ROUNDS"); do
  for N in "${SIZES[@]}"; do
    DB=$WORK/night1_$N.db
    rm -f "$DB" "$DB".*
    rc=0
    QLOOP_NOW=2026-11-22T02:00:00+08:00 /usr/bin/time -v -o "$WORK/run_$N.time" "$QLOOP" run --rules "$ROOT/bench/w1.lua" \
      --data "pop=${DATA[$N]}" "${DIVARG[@]}" --db "$DB" --timings --quiet "${JOBS[@]}" \
      >/dev/null 2>"$WORK/run_$N.err" || rc=$?
    if [ "$rc" -gt 1 ]; then
      echo "run_curve.sh: $N 行的运行失败（退出码 $rc）：" >&2
      tail -5 "$WORK/run_$N.err" >&2
      exit 2
    fi
    IFS=$'\t' read -r wall cpu rss < <(time_v "$WORK/run_$N.time")
    python3 - "$WORK/run_$N.err" "$N" "$r" "$(cut -d' ' -f1 /proc/loadavg)" "$wall" "$cpu" "$rss" >>"$RESULTS" <<'EOF'
import re, sys
e = open(sys.argv[1], encoding="utf-8").read()
wall, cpu, rss = float(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
m = re.search(r"读取、清洗与校验 ([\d.]+) 秒（CPU ([\d.]+) 秒），写入结果 ([\d.]+) 秒.*工单流转 ([\d.]+) 秒，提交 ([\d.]+) 秒", e)
if not m:
    sys.exit("run_curve.sh: --timings 的输出中没有各阶段用时")
print("\t".join(sys.argv[2:5] + list(m.groups()) + [f"{wall:.2f}", f"{cpu:.2f}", rss]))
EOF
    tail -1 "$RESULTS" | awk -F'\t' '{ printf "   %9d 行 第 %d 轮（负载 %s）：读取 %.2f 秒（CPU %.2f），写入结果 %.2f，工单 %.2f，提交 %.2f；共 %.2f 秒，CPU %.2f 秒，%.0f MiB\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 / 1024 }'
  done
done

python3 - "$RESULTS" <<'EOF'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
cols = ["read", "read CPU", "results", "tickets", "commit", "wall", "CPU"]
by = {}
for r in rows:
    by.setdefault(int(r[0]), []).append([float(x) for x in r[3:10]] + [float(r[10]) / 1024])
sizes = sorted(by)
med = {n: [statistics.median(v[i] for v in by[n]) for i in range(8)] for n in sizes}
print("\n中位数（秒；括号内为每百万行，及其相对最小规模的倍数）")
print(f"{'rows':>10} " + " ".join(f"{c:>22}" for c in cols) + f" {'peak MiB':>9}")
base = sizes[0]
for n in sizes:
    cells = []
    for i in range(7):
        per = med[n][i] / n * 1e6
        rel = per / (med[base][i] / base * 1e6) if med[base][i] else 0
        cells.append(f"{med[n][i]:7.2f} ({per:5.2f} {rel:4.2f}x)")
    print(f"{n:>10} " + " ".join(f"{c:>22}" for c in cells) + f" {med[n][7]:9.0f}")
EOF
