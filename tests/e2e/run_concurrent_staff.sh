# A nightly run holds no write lock while it reads and checks: a provider's
# answer to a ticket goes through at once while the run is reading, and the
# run's re-check then sees it. The second night reads its data from a named
# pipe that the test fills in two halves, so the answer is given while the
# run is surely still reading (it cannot end before the pipe's end), however
# fast the night or loaded the machine (a pause of a share of the first
# night's time raced with a night made fast by the verdict memo).
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
"$QLOOP_BUILD_DIR/gen_w1" 200000 pop.csv --seed 9 "${GENDIV[@]}" >/dev/null
export QLOOP_NOW=2026-11-22T02:00:00+08:00
run_q 0 run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.csv "${DIV[@]}" --quiet
ticket=$(sql "SELECT id FROM tickets WHERE rule = 'pop.phone_valid'")
mkfifo pipe.csv
"$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pipe.csv "${DIV[@]}" --quiet \
    > run2.out 2> run2.err &
pid=$!
# held open read-write (Linux opens a FIFO so without waiting for a reader);
# each write has its own bound, should the run never read
exec 3<> pipe.csv
timeout 120 head -n 100001 pop.csv >&3 || fail "the run did not read its first half: $(cat run2.err)"
run_q 0 tickets resolve "$ticket" --as rectified --actor 市公安局 --note "已整改"
if kill -0 "$pid" 2>/dev/null; then
    ok "the answer went through while the run was still reading"
else
    fail "the run ended before its data did: $(cat run2.err)"
fi
timeout 120 tail -n +100002 pop.csv >&3 || fail "the run did not read its second half: $(cat run2.err)"
exec 3>&-
wait "$pid"
expect_eq "the run completed" "0" "$?"
# the run's re-check saw the answer: records still failing send it back to 反馈
expect_eq "re-checked after the answer" "feedback" "$(sql "SELECT state FROM tickets WHERE id = $ticket")"
expect_eq "history: rectified then recheck_fail" "rectified recheck_fail" "$(sql "SELECT group_concat(event, ' ') FROM (SELECT event FROM ticket_history WHERE ticket_id = $ticket AND event IN ('rectified','recheck_fail') ORDER BY id)")"
run_q 0 audit verify
finish
