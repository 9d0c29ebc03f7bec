#!/usr/bin/env bash
# run.sh FUZZER CORPUS_DIR [libFuzzer options...] — runs fuzz_rules with its
# seeds: CORPUS_DIR (created; new inputs are kept there between runs), this
# folder's seeds/ and the hostile corpus tests/hostile/. Every input has its
# own timeout (-timeout=30). Exits non-zero on any finding; the crashing
# input is written to CORPUS_DIR/../fuzz-artifacts/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fuzzer=$1 corpus=$2
shift 2
mkdir -p "$corpus" "$corpus/../fuzz-artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$fuzzer" -timeout=30 -rss_limit_mb=4096 -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$corpus/../fuzz-artifacts/" -dict="$here/lua.dict" "$@" \
    "$corpus" "$here/seeds" "$here/../hostile"
