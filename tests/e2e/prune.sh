# qloop prune --keep-runs N deletes the findings of older runs only; tickets,
# per-run totals and the audit chain stay whole, and re-checks still work.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
FX="$QLOOP_SOURCE_DIR/tests/fixtures/run"
for d in 22 23 24; do
    QLOOP_NOW=2026-11-${d}T02:00:00+08:00 run_q 0 run --rules "$FX/people.lua" --quiet
done
expect_eq "three runs of findings" "30" "$(sql 'SELECT count(*) FROM findings')"
tickets_before=$(sql 'SELECT count(*) || "/" || sum(state IS NOT NULL) FROM ticket_items')
run_q 0 prune --keep-runs 1
expect_contains "says what it deleted" "已删除 20 条" "$OUT"
expect_eq "only the newest run's findings stay" "10" "$(sql 'SELECT count(*) FROM findings')"
expect_eq "they belong to the newest run" "$(sql 'SELECT id FROM runs ORDER BY started_at DESC LIMIT 1')" "$(sql 'SELECT DISTINCT run_id FROM findings')"
expect_eq "ticket records untouched" "$tickets_before" "$(sql 'SELECT count(*) || "/" || sum(state IS NOT NULL) FROM ticket_items')"
expect_eq "per-run totals kept" "24" "$(sql 'SELECT count(*) FROM rule_results')"
run_q 0 audit verify
expect_contains "audit chain whole" "ok" "$OUT"
expect_eq "prune audited" "1" "$(sql "SELECT count(*) FROM audit WHERE kind = 'store.prune'")"
QLOOP_NOW=2026-11-25T02:00:00+08:00 run_q 0 run --rules "$FX/people.lua" --json --quiet
expect_eq "next run re-checks normally" "0" "$(json_get "$OUT" 'd["tickets"]["opened"]')"
run_q 2 prune --keep-runs 0
run_q 2 prune
run_q 0 prune --help
finish
