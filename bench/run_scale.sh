#!/usr/bin/env bash
# run_scale.sh — a partitioned run against one run (bench/README.md,
# docs/scale-out.md).
#
# Builds qloop and gen_w1 (Release, in build-bench/), generates N W1 records
# (default 10,000,000), then on fresh copies of one store:
#   1. one run over the whole file (`qloop run`);
#   2. the file split by lines into P parts (default 4; the first keeps the
#      header, the others are judged with --header-from), `qloop judge` on
#      each in turn, then `qloop merge` of the P shards;
# and prints, for each step, CPU time (user + system, from GNU time: less
# sensitive than wall time to other work on a shared machine), wall time and
# peak memory, the judges' total, the merge's share of the judges' CPU (the
# whole merge, and its reading and merging of the shards: --timings), and
# whether the two stores agree (summary, findings with record refs, tickets).
# Exit status 0 when they agree, 1 when they do not, 2 on a set-up error.
#
# Usage: bench/run_scale.sh [N] [--parts P] [--jobs J] [--keep]
#   --jobs J  worker threads of each run and judge (default: qloop's)
#   --keep    reuse the generated file and parts of an earlier run
# Environment: QLOOP_BENCH_BUILD, QLOOP_BENCH_DIR (default <build>/scale),
#   QLOOP_BENCH_DIVISIONS, QLOOP_BENCH_QLOOP, QLOOP_BENCH_GEN as run_w1.sh.
set -euo pipefail

N=10000000
P=4
KEEP=0
JOBS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --parts) P=${2:?"--parts 需要一个数字"}; shift 2 ;;
    --jobs) JOBS=(--jobs "${2:?"--jobs 需要一个数字"}"); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *[!0-9]*|'') echo "run_scale.sh: 无法识别的参数 $1" >&2; exit 2 ;;
    *) N=$1; shift ;;
  esac
done

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_setup run_scale.sh scale
RULES=$ROOT/bench/w1.lua
export QLOOP_NOW=2026-11-22T02:00:00+08:00

mkdir -p "$WORK/parts" "$WORK/shards"
CSV=$WORK/pop_$N.csv
if [ "$KEEP" = 0 ] || [ ! -f "$CSV" ] || [ ! -f "$WORK/parts/$N.$P.done" ]; then
  echo "== 生成 $N 行"
  "$GEN" "$N" "$CSV" "${GENDIV[@]}" >/dev/null
  echo "== 按行切成 $P 部分"
  rm -f "$WORK"/parts/*
  head -1 "$CSV" > "$WORK/parts/header.csv"
  tail -n +2 "$CSV" > "$WORK/parts/body.csv"
  split -n l/"$P" -d -a 3 "$WORK/parts/body.csv" "$WORK/parts/body_"
  rm "$WORK/parts/body.csv"
  touch "$WORK/parts/$N.$P.done"
fi

# A fresh store with one secret for both runs, so record refs compare.
rm -f "$WORK"/*.db "$WORK"/*.db.key "$WORK"/*.db-*
"$QLOOP" run --rules "$RULES" --data pop="$WORK/parts/header.csv" "${DIVARG[@]}" --db "$WORK/seed.db" --quiet
for s in run merge; do cp "$WORK/seed.db" "$WORK/$s.db"; cp "$WORK/seed.db.key" "$WORK/$s.db.key"; done

# timed NAME CMD...: runs CMD under GNU time; appends "NAME cpu wall peak_kib" to $WORK/times.
: > "$WORK/times"
timed() {
  local name=$1; shift
  /usr/bin/time -f "%U %S %e %M" -o "$WORK/time.$name" "$@"
  local u s e m cpu
  read -r u s e m < "$WORK/time.$name"
  cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')
  echo "$name $cpu $e $m" >> "$WORK/times"
  printf '  %-10s CPU %8.2f s  墙钟 %8.2f s  峰值内存 %6d MiB\n' "$name" "$cpu" "$e" $((m / 1024)) >&2
}

echo "== 一次运行（整个文件）"
timed run "$QLOOP" run --rules "$RULES" --data pop="$CSV" "${DIVARG[@]}" "${JOBS[@]}" --db "$WORK/run.db" --json --quiet > "$WORK/run.json"
echo "== 逐部分判定（$P 部分，依次运行）"
i=0
rm -f "$WORK"/shards/*
for f in "$WORK"/parts/body_*; do
  i=$((i + 1))
  hdr=(--header-from "$WORK/parts/header.csv")
  timed "judge$i" "$QLOOP" judge --rules "$RULES" --dataset pop --part "$i/$P" --input "$f" "${hdr[@]}" \
    "${DIVARG[@]}" "${JOBS[@]}" --out "$WORK/shards/pop.$i" --quiet
done
echo "== 合并"
timed merge "$QLOOP" merge --rules "$RULES" --db "$WORK/merge.db" --json --quiet --timings "$WORK"/shards/pop.* > "$WORK/merge.json" 2> "$WORK/merge.err"
cat "$WORK/merge.err"

judge_cpu=$(awk '/^judge/ { s += $2 } END { print s }' "$WORK/times")
judge_wall=$(awk '/^judge/ { s += $3 } END { print s }' "$WORK/times")
judge_max=$(awk '/^judge/ { if ($3 > m) m = $3 } END { print m }' "$WORK/times")
merge_cpu=$(awk '/^merge/ { print $2 }' "$WORK/times")
merge_wall=$(awk '/^merge/ { print $3 }' "$WORK/times")
run_cpu=$(awk '/^run/ { print $2 }' "$WORK/times")
run_wall=$(awk '/^run/ { print $3 }' "$WORK/times")
echo "== 结果（$N 行，$P 部分）"
printf '  一次运行                 CPU %8.2f s  墙钟 %8.2f s\n' "$run_cpu" "$run_wall"
printf '  判定合计                 CPU %8.2f s  墙钟 %8.2f s（依次）；并行时最长一部分 %.2f s\n' "$judge_cpu" "$judge_wall" "$judge_max"
printf '  合并                     CPU %8.2f s  墙钟 %8.2f s\n' "$merge_cpu" "$merge_wall"
printf '  判定 + 合并              CPU %8.2f s；各部分并行时墙钟约 %.2f s\n' "$(awk -v a="$judge_cpu" -v b="$merge_cpu" 'BEGIN { print a + b }')" "$(awk -v a="$judge_max" -v b="$merge_wall" 'BEGIN { print a + b }')"
printf '  合并占判定 CPU 的比例     %.1f %%\n' "$(awk -v a="$merge_cpu" -v b="$judge_cpu" 'BEGIN { print 100 * a / b }')"
read_cpu=$(sed -n 's/.*读取与合并分片 [0-9.]* 秒（CPU \([0-9.]*\) 秒）.*/\1/p' "$WORK/merge.err" | head -1)
[ -n "$read_cpu" ] && printf '  其中读取与合并分片        CPU %8.2f s，占判定 CPU 的 %.1f %%（Scale-out 要求 ≤ 10 %%）\n' "$read_cpu" "$(awk -v a="$read_cpu" -v b="$judge_cpu" 'BEGIN { print 100 * a / b }')"
printf '  分片大小                 %s\n' "$(du -sh "$WORK/shards" | cut -f1)"

strip() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("run_id"); print(json.dumps(d, sort_keys=True))' "$1"; }
F="SELECT rule, record_ref, record_key, field, value, message FROM findings ORDER BY 1, 2"
T="SELECT t.rule, t.state, t.deadline, i.record_ref, i.state FROM tickets t JOIN ticket_items i ON i.ticket_id = t.id ORDER BY 1, 4"
same=1
[ "$(strip "$WORK/run.json")" = "$(strip "$WORK/merge.json")" ] || { echo "  摘要不同" >&2; same=0; }
[ "$(sqlite3 "$WORK/run.db" "$F" | md5sum)" = "$(sqlite3 "$WORK/merge.db" "$F" | md5sum)" ] || { echo "  问题记录不同" >&2; same=0; }
[ "$(sqlite3 "$WORK/run.db" "$T" | md5sum)" = "$(sqlite3 "$WORK/merge.db" "$T" | md5sum)" ] || { echo "  工单不同" >&2; same=0; }
if [ "$same" = 1 ]; then echo "  两者一致：摘要、问题记录（含 record_ref）、工单"; exit 0; fi
exit 1
