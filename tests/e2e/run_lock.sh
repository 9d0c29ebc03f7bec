# Two runs on one store never overlap: the second exits 2 with a clear
# message, or waits with --wait.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
printf 'id,v\n1,a\n' > d.csv
printf 'dataset "d" { source = "d.csv", key = "id" }\nrule "d.v" { field = "v", not_null = true }\n' > r.lua
flock "$QLOOP_DB.lock" sleep 3 &
holder=$!
sleep 0.5
run_q 2 run --rules r.lua --quiet
expect_contains "second run refused" "另一次运行" "$ERR"
run_q 0 run --rules r.lua --quiet --wait
wait "$holder"
expect_eq "waiting run completed" "1" "$(sql "SELECT count(*) FROM runs WHERE status='done'")"
finish
