# A run alone with the store (here its first, and a second night) is written
# with a rollback journal instead of WAL (store_begin_bulk): killed with
# SIGKILL at any moment while it writes, the
# store is left as it was before the run (a hot journal the next open rolls
# back), the next open works and puts the store back in WAL, nothing of the
# run is half there, and running again gives exactly the results of an
# undisturbed first run on a store made the same way. The kills are aimed
# inside the write transaction: at the moment q.db-journal appears, then at
# fractions of how long an undisturbed first run kept it.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
"$QLOOP_BUILD_DIR/gen_w1" 200000 pop.csv --seed 7 "${GENDIV[@]}" >/dev/null
cp "$QLOOP_SOURCE_DIR/bench/w1.lua" w1.lua
export QLOOP_NOW=2026-11-22T00:00:00+08:00
LIMIT=120 # seconds for any one qloop command or wait

# The clock and a pause without starting a process: a watch loop that forked
# `date` and `sleep` each turn could miss a write transaction of a few
# hundred ms on a loaded machine (the sanitizer build beside other tests
# did: "no ref.db-journal seen"). now_ms sets NOW_MS from bash's
# EPOCHREALTIME; pause waits on a pipe no one writes to.
now_ms() { local t=${EPOCHREALTIME//[.,]/}; NOW_MS=$(( t / 1000 )); }
mkfifo .tick
exec 9<> .tick
pause() { read -r -t "$1" -u 9 || true; }

# new_store DB: a store with no run (depts add creates it, in WAL)
new_store() {
    QLOOP_DB="$1" timeout "$LIMIT" "$QLOOP_BIN" depts add 市公安局 --code 11330200MB0000001X > /dev/null
}

# first_run DB [KILL_AFTER_MS]: a first run on DB in the background; waits
# for its rollback journal to appear, then (with KILL_AFTER_MS) kills it
# that many ms later, or lets it finish. Sets JOURNAL_MS (how long from the
# journal's first sight until the run was killed, or ended when not killed;
# -1 when it never appeared) and RUN_RC.
first_run() {
    local db=$1 kill_after=${2:-}
    QLOOP_DB="$db" "$QLOOP_BIN" run --rules w1.lua --data pop=pop.csv "${DIV[@]}" \
        --quiet --json > "$db.json" 2> "$db.err" &
    local pid=$! start deadline watchdog
    # the run's own bound (a kill -9 must reach qloop itself, not a wrapper)
    (sleep "$LIMIT"; kill -9 "$pid") > /dev/null 2>&1 &
    watchdog=$!
    now_ms
    deadline=$(( NOW_MS + LIMIT * 1000 ))
    while [ ! -e "$db-journal" ] && kill -0 "$pid" 2>/dev/null && now_ms && [ "$NOW_MS" -lt "$deadline" ]; do
        pause 0.001
    done
    RUN_RC=0
    if [ ! -e "$db-journal" ]; then
        JOURNAL_MS=-1
        wait "$pid" 2>/dev/null || RUN_RC=$?
    else
        now_ms
        start=$NOW_MS
        if [ -n "$kill_after" ]; then
            sleep "$(awk -v ms="$kill_after" 'BEGIN { printf "%.3f", ms / 1000 }')"
            kill -9 "$pid" 2>/dev/null || true
            now_ms
        fi
        wait "$pid" 2>/dev/null || RUN_RC=$?
        # undisturbed: from the journal's first sight to the run's end (its
        # write transaction, then going back to WAL), so that the kills
        # below land at fractions of the write, not all at its start
        [ -n "$kill_after" ] || now_ms
        JOURNAL_MS=$(( NOW_MS - start ))
    fi
    kill "$watchdog" 2>/dev/null || true
}

# A store's results, without what differs between stores (record refs are
# keyed by each store's secret, run ids are random): the run's summary
# counts, and every finding and ticket item by rule and row.
results() {
    local db=$1
    sqlite3 -batch -noheader "$db" "
      SELECT 'run', status, json_extract(summary, '$.failed_records'),
             json_extract(summary, '$.tickets.opened') FROM runs;
      SELECT 'results', rule, checked, failed, errors FROM rule_results ORDER BY rule;
      SELECT 'findings', count(*), sum(row_no), total(length(value)),
             count(DISTINCT dataset || rule || row_no) FROM findings;
      SELECT 'tickets', id, dataset, rule, dept, state FROM tickets ORDER BY id;
      SELECT 'items', ticket_id, count(*), sum(row_no), total(length(value)),
             total(length(record_key)), count(sealed), min(id), max(id)
        FROM ticket_items GROUP BY ticket_id ORDER BY ticket_id;
      SELECT 'audit', kind, count(*) FROM audit GROUP BY kind ORDER BY kind;"
}

# after_kill LABEL: what a kill of a run on q.db must leave — the next open
# works (and rolls back what the killed run wrote), the audit chain whole,
# the store back in WAL and consistent, no journal, no half run.
after_kill() {
    local label=$1
    run_q 0 audit verify
    expect_contains "$label: the audit chain is whole" "ok" "$OUT"
    expect_eq "$label: the next open goes back to WAL" "wal" "$(sql 'PRAGMA journal_mode')"
    expect_eq "$label: the store is consistent" "ok" "$(sql 'PRAGMA integrity_check')"
    expect_eq "$label: no journal left" "no" "$([ -e q.db-journal ] && echo yes || echo no)"
    expect_eq "$label: no half run" "0" "$(sql "SELECT count(*) FROM runs WHERE status <> 'done'")"
}

# the undisturbed first run: its results, and how long it wrote
new_store ref.db
first_run ref.db
expect_eq "undisturbed first run completes" "0" "$RUN_RC"
if [ "$JOURNAL_MS" -lt 0 ]; then
    fail "the first run wrote without a rollback journal (no ref.db-journal seen)"
    JOURNAL_MS=200
fi
expect_eq "back in WAL after the first run" "wal" "$(sqlite3 ref.db 'PRAGMA journal_mode')"
expect_eq "no journal left" "no" "$([ -e ref.db-journal ] && echo yes || echo no)"
want=$(results ref.db)

# kills inside the write transaction, at once and at fractions of it
new_store q.db
inside=0
for pct in 0 20 50 80; do
    first_run q.db $(( JOURNAL_MS * pct / 100 ))
    if [ "$JOURNAL_MS" -lt 0 ] && [ "$RUN_RC" = 0 ]; then
        # the watch loop, descheduled on a loaded machine, missed the whole
        # write (the undisturbed run above showed the journal): the aim
        # missed, the run is whole; start again (the count below says
        # whether enough kills landed inside)
        expect_eq "not killed at ${pct}%: one whole run" "1 done" \
            "$(sql "SELECT count(*) || ' ' || min(status) FROM runs")"
        rm -f q.db q.db-* q.db.key q.db.lock
        new_store q.db
        continue
    fi
    if [ "$JOURNAL_MS" -lt 0 ]; then
        fail "killed at ${pct}%: the run never wrote with a rollback journal (exit $RUN_RC: $(cat q.db.err))"
        continue
    fi
    hot=no; [ -e q.db-journal ] && hot=yes
    after_kill "killed at ${pct}%"
    runs=$(sql "SELECT count(*) FROM runs")
    if [ "$runs" = 0 ]; then
        inside=$((inside + 1))
        expect_eq "killed at ${pct}% inside the run: nothing of it stored" "0 0 0 0" \
            "$(sql "SELECT (SELECT count(*) FROM findings) || ' ' || (SELECT count(*) FROM tickets) || ' '
                           || (SELECT count(*) FROM ticket_items) || ' ' || (SELECT count(*) FROM rule_results)")"
        [ "$hot" = yes ] && ok "killed at ${pct}%: a hot journal was left and rolled back"
    else
        # the kill came after the commit: the run is whole; start again
        expect_eq "killed at ${pct}% after the commit: one whole run" "1 done" \
            "$(sql "SELECT count(*) || ' ' || min(status) FROM runs")"
        rm -f q.db q.db-* q.db.key q.db.lock
        new_store q.db
    fi
done
if [ "$inside" -gt 0 ]; then ok "$inside kill(s) landed inside the first run"; else fail "no kill landed inside the first run"; fi

# the first run again, undisturbed: exactly the undisturbed results
first_run q.db
expect_eq "the first run after the kills completes" "0" "$RUN_RC"
expect_eq "back in WAL after it" "wal" "$(sql 'PRAGMA journal_mode')"
expect_eq "consistent after it" "ok" "$(sql 'PRAGMA integrity_check')"
got=$(results q.db)
expect_eq "results equal the undisturbed first run's" "$want" "$got"
run_q 0 audit verify
expect_contains "the audit chain is whole" "ok" "$OUT"
# a second night alone with the store writes with a rollback journal too:
# killed as soon as the journal appears, the first night stays whole and
# alone; undisturbed, it completes and the store is in WAL again
first_run q.db 0
if [ "$JOURNAL_MS" -lt 0 ]; then
    fail "the second night wrote without a rollback journal (exit $RUN_RC: $(cat q.db.err))"
else
    after_kill "second night killed"
    runs=$(sql "SELECT count(*) FROM runs")
    if [ "$runs" = 1 ]; then
        expect_eq "second night killed inside: the first night's results as they were" "$want" "$(results q.db)"
    fi
fi
[ "$(sql "SELECT count(*) FROM runs")" = 2 ] || first_run q.db
expect_eq "the second night completes" "0" "$RUN_RC"
expect_eq "two runs" "2" "$(sql "SELECT count(*) FROM runs WHERE status = 'done'")"
expect_eq "back in WAL after the second night" "wal" "$(sql 'PRAGMA journal_mode')"
finish
