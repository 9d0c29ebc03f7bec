# The number of worker threads does not change any result: verdicts are
# merged in row order on the run's thread.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
"$QLOOP_BUILD_DIR/gen_w1" 30000 pop.csv --seed 11 "${GENDIV[@]}" >/dev/null
export QLOOP_NOW=2026-11-22T00:00:00+08:00
summary() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([d["rules"], d["cleansed"], d["failed_records"]]))'; }
one=$("$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.csv "${DIV[@]}" --db one.db --jobs 1 --json --quiet | summary)
three=$("$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.csv "${DIV[@]}" --db three.db --jobs 3 --json --quiet | summary)
expect_eq "summary with 1 and 3 workers" "$one" "$three"
q='SELECT rule, row_no, record_key, value, message FROM findings ORDER BY id'
expect_eq "findings in the same order" "$(sqlite3 one.db "$q" | md5sum)" "$(sqlite3 three.db "$q" | md5sum)"
run_q 2 run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.csv --jobs 0
expect_contains "bad --jobs" "--jobs" "$ERR"
finish
