# shellcheck shell=bash disable=SC2034
# bench/lib.sh — what the bench scripts share; sourced by them, never run.
#
#   bench_setup NAME SUBDIR   sets ROOT, BUILD, WORK (<build>/SUBDIR), DIVS,
#                             QLOOP, GEN from the QLOOP_BENCH_* variables (see
#                             run_w1.sh), checks for GNU time, builds qloop and
#                             gen_w1 (Release) unless both binaries are given,
#                             and sets DIVARG (qloop's --divisions, or none) and
#                             GENDIV (gen_w1's: the reference table, else the
#                             bundled one). NAME prefixes its messages; a
#                             missing tool exits 2.
#   time_v FILE               prints a GNU `time -v` report's wall time and CPU
#                             time (user + system) in seconds and its peak
#                             resident memory in KiB, tab-separated.

bench_setup() {
  local name=$1 subdir=$2
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  BUILD=${QLOOP_BENCH_BUILD:-$ROOT/build-bench}
  WORK=${QLOOP_BENCH_DIR:-$BUILD/$subdir}
  DIVS=${QLOOP_BENCH_DIVISIONS:-$(cd "$ROOT/.." && pwd)/shared/ref/divisions.csv}
  QLOOP=${QLOOP_BENCH_QLOOP:-$BUILD/qloop}
  GEN=${QLOOP_BENCH_GEN:-$BUILD/gen_w1}
  [ -x /usr/bin/time ] || { echo "$name: 找不到 /usr/bin/time（GNU time）；apt-get install time" >&2; exit 2; }
  if [ -z "${QLOOP_BENCH_QLOOP:-}" ] || [ -z "${QLOOP_BENCH_GEN:-}" ]; then
    command -v cmake >/dev/null || { echo "$name: 找不到 cmake；apt-get install cmake" >&2; exit 2; }
    echo "== 构建（Release，$BUILD）"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$BUILD" --target qloop gen_w1 -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
  fi
  DIVARG=()
  GENDIV=(--divisions-txt "$ROOT/engine/data/divisions_bundled.txt")
  if [ -f "$DIVS" ]; then DIVARG=(--divisions "$DIVS"); GENDIV=(--divisions "$DIVS"); fi
}

time_v() {
  awk -F': ' '
    /Elapsed \(wall clock\) time/ { n = split($2, p, ":"); for (i = 1; i <= n; i++) wall = wall * 60 + p[i] }
    /User time \(seconds\)/ || /System time \(seconds\)/ { cpu += $2 }
    /Maximum resident set size \(kbytes\)/ { rss = $2 }
    END { printf "%.3f\t%.3f\t%s\n", wall, cpu, rss }' "$1"
}
