# Nothing lost, nothing doubled: a run killed with SIGKILL in the middle
# leaves the store as the last good run left it; running again completes and
# gives the same results as an undisturbed run.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
GEN="$QLOOP_BUILD_DIR/gen_w1"
"$GEN" 200000 pop.csv --seed 7 "${GENDIV[@]}" >/dev/null
cp "$QLOOP_SOURCE_DIR/bench/w1.lua" w1.lua
export QLOOP_NOW=2026-11-22T00:00:00+08:00

# a good run first: the state to keep; its duration sets the kill times
start=$(date +%s%N)
"$QLOOP_BIN" run --rules w1.lua --data pop=pop.csv "${DIV[@]}" --quiet --json > first.json
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
good_runs=$(sql "SELECT count(*) FROM runs")
good_findings=$(sql "SELECT count(*) FROM findings")

# A kill lands either before the commit (nothing of that run is stored) or
# after it (the whole run is); never in between. At least one kill must land
# inside a run for the test to mean anything.
per_run=$good_findings
inside=0
for pct in 10 30 60; do
    delay=$(awk -v ms="$took_ms" -v p="$pct" 'BEGIN { printf "%.3f", ms * p / 100000 }')
    runs_before=$(sql "SELECT count(*) FROM runs")
    findings_before=$(sql "SELECT count(*) FROM findings")
    "$QLOOP_BIN" run --rules w1.lua --data pop=pop.csv "${DIV[@]}" --quiet > /dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    runs_after=$(sql "SELECT count(*) FROM runs")
    findings_after=$(sql "SELECT count(*) FROM findings")
    expect_eq "killed at ${pct}%: no half run" "0" "$(sql "SELECT count(*) FROM runs WHERE status <> 'done'")"
    if [ "$runs_after" = "$runs_before" ]; then
        inside=$((inside + 1))
        expect_eq "killed at ${pct}% inside the run: findings unchanged" "$findings_before" "$findings_after"
    else
        expect_eq "killed at ${pct}% after the commit: one whole run" "$((runs_before + 1)) $((findings_before + per_run))" "$runs_after $findings_after"
    fi
done
if [ "$inside" -gt 0 ]; then ok "$inside kill(s) landed inside a run"; else fail "no kill landed inside a run; the test needs more data"; fi
run_q 0 audit verify
expect_contains "audit chain whole after kills" "ok" "$OUT"

# the re-run completes, and its results equal the first run's
"$QLOOP_BIN" run --rules w1.lua --data pop=pop.csv "${DIV[@]}" --quiet --json > again.json
strip() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps([d["datasets"], [[r["id"], r["checked"], r["failed"], r["errors"]] for r in d["rules"]]]))' "$1"; }
expect_eq "re-run equals first run" "$(strip first.json)" "$(strip again.json)"
expect_eq "findings of both runs equal" "$(sql "SELECT count(*) FROM findings f JOIN runs r ON r.id = f.run_id GROUP BY r.id ORDER BY r.started_at" | sort -u | wc -l)" "1"
finish
