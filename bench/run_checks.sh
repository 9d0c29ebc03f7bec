#!/usr/bin/env bash
# run_checks.sh — idcard.valid and uscc.valid given as a rule's `check`
# (run in C over the batch, never entering Lua) against the same checks
# written as Lua functions, measured in `qloop run` itself.
#
# Generates N W1 records (default 1,000,000), then times the read, cleanse
# and check phase (qloop run --timings) of four one-rule packs, each run
# twice (the faster counts), and prints records per second for each.
# Usage: bench/run_checks.sh [N]
set -euo pipefail
N=${1:-1000000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${QLOOP_BENCH_BUILD:-$ROOT/build-bench}
WORK=$BUILD/checks
mkdir -p "$WORK"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target qloop gen_w1 >/dev/null
[ -f "$WORK/pop_$N.csv" ] || "$BUILD/gen_w1" "$N" "$WORK/pop_$N.csv" >/dev/null

pack() { # pack NAME FIELD CHECK
    cat > "$WORK/$1.lua" <<LUA
dataset "pop" { key = "person_id" }
rule "pop.check" { field = "$2", check = $3 }
LUA
}
pack idcard_native person_id idcard.valid
pack idcard_lua person_id 'function(s)
  if #s ~= 18 or not s:match("^%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d%d[%dX]$") then return false, "格式错误" end
  local w = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 }
  local sum = 0
  for i = 1, 17 do sum = sum + (s:byte(i) - 48) * w[i] end
  local y, m, d = tonumber(s:sub(7, 10)), tonumber(s:sub(11, 12)), tonumber(s:sub(13, 14))
  local dim = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
  if y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) then dim[2] = 29 end
  if y < 1 or m < 1 or m > 12 or d < 1 or d > dim[m] then return false, "出生日期无效" end
  return ("10X98765432"):sub(sum % 11 + 1, sum % 11 + 1) == s:sub(18), "校验码错误"
end'
pack uscc_native employer_uscc uscc.valid
pack uscc_lua employer_uscc 'function(s)
  local A = "0123456789ABCDEFGHJKLMNPQRTUWXY"
  if #s ~= 18 then return false, "长度不是18位" end
  local w = { 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28 }
  local sum = 0
  for i = 1, 17 do
    local v = A:find(s:sub(i, i), 1, true)
    if not v then return false, "含非法字符" end
    sum = sum + (v - 1) * w[i]
  end
  local c = (31 - sum % 31) % 31
  return A:sub(c + 1, c + 1) == s:sub(18), "校验码错误"
end'

printf '%-16s %12s %14s\n' check seconds records/s
for name in idcard_native idcard_lua uscc_native uscc_lua; do
    best=
    for _ in 1 2; do
        rm -f "$WORK/$name.db"*
        t=$(QLOOP_NOW=2026-11-22T00:00:00+08:00 "$BUILD/qloop" run --rules "$WORK/$name.lua" \
              --data pop="$WORK/pop_$N.csv" --db "$WORK/$name.db" --quiet --timings 2>&1 |
            sed -n 's/.*读取、清洗与校验 \([0-9.]*\) 秒.*/\1/p')
        if [ -z "$best" ] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
    done
    printf '%-16s %12s %14.0f\n' "$name" "$best" "$(awk -v n="$N" -v t="$best" 'BEGIN { print n / t }')"
done
