# Nothing lost, nothing doubled: a run killed with SIGKILL in the middle
# leaves the store as the last good run left it; running again completes and
# gives the same results as an undisturbed run.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
GEN="$QLOOP_BUILD_DIR/gen_w1"
"$GEN" 200000 pop.csv --seed 7 "${GENDIV[@]}" >/dev/null
cp "$QLOOP_SOURCE_DIR/bench/w1.lua" w1.lua
export QLOOP_NOW=2026-11-22T00:00:00+08:00

# a good run first: the state to keep
"$QLOOP_BIN" run --rules w1.lua --data pop=pop.csv "${DIV[@]}" --quiet --json > first.json
good_runs=$(sql "SELECT count(*) FROM runs")
good_findings=$(sql "SELECT count(*) FROM findings")

for delay in 0.3 1.0 2.0; do
    "$QLOOP_BIN" run --rules w1.lua --data pop=pop.csv "${DIV[@]}" --quiet > /dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    expect_eq "killed after ${delay}s: runs unchanged" "$good_runs" "$(sql "SELECT count(*) FROM runs")"
    expect_eq "killed after ${delay}s: findings unchanged" "$good_findings" "$(sql "SELECT count(*) FROM findings")"
    expect_eq "killed after ${delay}s: no half run" "0" "$(sql "SELECT count(*) FROM runs WHERE status <> 'done'")"
done
run_q 0 audit verify
expect_contains "audit chain whole after kills" "ok" "$OUT"

# the re-run completes, and its results equal the first run's
"$QLOOP_BIN" run --rules w1.lua --data pop=pop.csv "${DIV[@]}" --quiet --json > again.json
strip() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps([d["datasets"], [[r["id"], r["checked"], r["failed"], r["errors"]] for r in d["rules"]]]))' "$1"; }
expect_eq "re-run equals first run" "$(strip first.json)" "$(strip again.json)"
expect_eq "findings of both runs equal" "$(sql "SELECT count(*) FROM findings f JOIN runs r ON r.id = f.run_id GROUP BY r.id ORDER BY r.started_at" | sort -u | wc -l)" "1"
finish
