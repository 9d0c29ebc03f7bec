# A nightly run holds no write lock while it reads and checks: a provider's
# answer to a ticket goes through at once while the run is reading, and the
# run's re-check then sees it.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
"$QLOOP_BUILD_DIR/gen_w1" 200000 pop.csv --seed 9 "${GENDIV[@]}" >/dev/null
export QLOOP_NOW=2026-11-22T02:00:00+08:00
start=$(date +%s%N)
run_q 0 run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.csv "${DIV[@]}" --quiet
took_ms=$(( ($(date +%s%N) - start) / 1000000 ))
ticket=$(sql "SELECT id FROM tickets WHERE rule = 'pop.phone_valid'")
"$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.csv "${DIV[@]}" --quiet \
    > run2.out 2> run2.err &
pid=$!
sleep "$(awk -v ms="$took_ms" 'BEGIN { printf "%.3f", ms * 0.15 / 1000 }')"
run_q 0 tickets resolve "$ticket" --as rectified --actor 市公安局 --note "已整改"
if kill -0 "$pid" 2>/dev/null; then
    ok "the answer went through while the run was still reading"
else
    fail "the run had ended before the answer came back (blocked, or the data is too small)"
fi
wait "$pid"
expect_eq "the run completed" "0" "$?"
# the run's re-check saw the answer: records still failing send it back to 反馈
expect_eq "re-checked after the answer" "feedback" "$(sql "SELECT state FROM tickets WHERE id = $ticket")"
expect_eq "history: rectified then recheck_fail" "rectified recheck_fail" "$(sql "SELECT group_concat(event, ' ') FROM (SELECT event FROM ticket_history WHERE ticket_id = $ticket AND event IN ('rectified','recheck_fail') ORDER BY id)")"
run_q 0 audit verify
finish
