# The sandbox: forbidden globals are nil, runaway and memory-hungry rules are
# stopped and counted while the run goes on, eval exits 2 on such errors.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

for g in io os package debug dofile loadfile require collectgarbage coroutine; do
    run_q 0 eval -e "return $g"
    expect_eq "$g is nil" "nil" "$OUT"
done
# a library has no dump: reading a name a library lacks is an error
run_q 2 eval -e "return string.dump"
expect_contains "string.dump is absent" "没有 string.dump" "$ERR"
run_q 0 eval -e 'return type(string.format), type(table.concat), type(math.floor), type(utf8.char)'
expect_eq "allowed libraries" "function
function
function
function" "$OUT"
run_q 0 eval -e 'return load("return 1+1")()'
expect_eq "text load" "2" "$OUT"
run_q 2 eval -e 'return load("\27Lua")'
expect_contains "binary load refused" "二进制" "$ERR"
run_q 0 eval -e 'return 1, true, nil, "文本"'
expect_eq "eval prints each value" "1
true
nil
文本" "$OUT"

run_q 2 eval -e 'while true do end'
expect_contains "budget message" "指令预算" "$ERR"
run_q 2 eval -e 'local s = string.rep("x", 3e8)'
expect_contains "memory cap message" "内存上限" "$ERR"
run_q 2 eval -e 'error("boom")'
expect_contains "error message" "boom" "$ERR"
printf 'local x = 1\nerror("on line two")\n' > err.lua
run_q 2 eval err.lua
expect_contains "file and line" "err.lua:2:" "$ERR"

# In a run, rule errors are counted, the run goes on.
printf 'id,v\n1,a\n2,b\n3,c\n' > d.csv
cat > r.lua <<'R'
limits { memory_mb = 32 }   -- reached well within the CPU budget of a call
dataset "d" { source = "d.csv", key = "id" }
rule "d.spin"  { check = function(r) while true do end end }
rule "d.hog"   { check = function(r) local t = {} for i = 1, 1e9 do t[i] = string.rep("y", 4096) .. i end end }
rule "d.raise" { field = "v", check = function(v) if v == "b" then error("bad b") end return true end }
rule "d.fine"  { field = "v", pattern = "^[a-c]$" }
rule "d.io"    { check = function(r) return io == nil and os == nil end }
R
run_q 0 run --rules r.lua --json --quiet
counts=$(json_get "$OUT" '" ".join("%s=%d/%d/%d" % (r["id"], r["checked"], r["failed"], r["errors"]) for r in d["rules"])')
expect_eq "errors counted, run goes on" "d.spin=0/0/3 d.hog=0/0/3 d.raise=2/0/1 d.fine=3/0/0 d.io=3/0/0" "$counts"
expect_contains "error names rule and line" 'd.raise' "$ERR"
expect_contains "error names file" "r.lua:5" "$ERR"

# Around the instruction budget the run's calls (FAST, without the count
# hook: lua/host.h) give the verdicts of the exact count, with any --jobs.
printf 'id,n\n' > loops.csv
id=0
for n in 10 1000 50000 90000 99000 100000 100500 120000 1000000 5 99000 100000; do
    id=$((id + 1))
    echo "$id,$n" >> loops.csv
done
cat > loops.lua <<'R'
limits { instructions = 100000 }
dataset "loops" { source = "loops.csv", key = "id" }
rule "loops.count" { check = function(r) for i = 1, tonumber(r.n) do end return true end }
R
for jobs in 1 2; do
    run_q 0 run --rules loops.lua --json --quiet --jobs $jobs
    counts=$(json_get "$OUT" '" ".join("%s=%d/%d/%d" % (r["id"], r["checked"], r["failed"], r["errors"]) for r in d["rules"])')
    expect_eq "budget boundary, --jobs $jobs" "loops.count=7/0/5" "$counts"
    expect_contains "budget error, --jobs $jobs" "指令预算（100000 条指令）" "$ERR"
done
finish
