# Nights after the first over the same store (W1): the open items failing
# again are refreshed from the night's findings (loop/ticket_refresh.c), the
# workers mark the records of open items they saw (run/recheck.c). Three
# nights, the second with records fixed, vanished and newly failing, give
# the same items, tickets and history with 1 and 3 workers, and the items
# agree with the night's findings: each open item failing again holds the
# night's first finding of its record (its row written only when that
# differed: loop/ticket_refresh.c).
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
"$QLOOP_BUILD_DIR/gen_w1" 20000 pop.csv --seed 7 "${GENDIV[@]}" >/dev/null
python3 - <<'PY'
import csv
r = csv.reader(open('pop.csv', newline='', encoding='utf-8'))
w = csv.writer(open('pop2.csv', 'w', newline='', encoding='utf-8'), lineterminator='\n')
h = next(r); w.writerow(h)
name, phone = h.index('name'), h.index('phone')
for i, row in enumerate(r):
    if i % 97 == 0:
        continue                                  # vanished
    if row[name] == '' and i % 2 == 0:
        row[name] = '补名'                        # fixed
    if i % 53 == 0:
        row[phone] = '12x'                        # newly failing
    w.writerow(row)
PY
nights() { # nights DB JOBS
    local n
    for n in "2026-11-22 pop.csv" "2026-11-23 pop2.csv" "2026-11-24 pop.csv"; do
        set -- "$1" "$2" $n
        QLOOP_NOW="${3}T00:00:00+08:00" "$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" \
            --data "pop=$4" "${DIV[@]}" --db "$1" --jobs "$2" --quiet >/dev/null 2>&1 || fail "night $3 ($1)"
    done
}
nights one.db 1
nights three.db 3
items='SELECT i.id, i.ticket_id, i.rule, i.record_key, i.value, i.message, i.row_no,
  i.state, i.added_at, r.as_of, c.as_of, i.closed_at FROM ticket_items i
  LEFT JOIN runs r ON r.id = i.last_run LEFT JOIN runs c ON c.id = i.closed_run ORDER BY i.id'
hist='SELECT ticket_id, at, event, from_state, to_state, reason FROM ticket_history ORDER BY id'
# each store has its own secret (record_ref) and run ids (their time kept)
same() { sqlite3 "$1" "$2" | sed -E 's/(T[0-9]{6})-[0-9a-f]{8}/\1/g' | md5sum; }
expect_eq "items with 1 and 3 workers" "$(same one.db "$items")" "$(same three.db "$items")"
expect_eq "history with 1 and 3 workers" "$(same one.db "$hist")" "$(same three.db "$hist")"
export QLOOP_DB=one.db
expect_eq "fixed items" "1" "$(sql "SELECT count(*) > 0 FROM ticket_items WHERE state = 'fixed'")"
expect_eq "the vanished came back (night 3)" "0" "$(sql "SELECT count(*) FROM ticket_items WHERE state = 'missing'")"
expect_eq "items reappeared" "1" "$(sql "SELECT count(*) > 0 FROM audit WHERE detail LIKE '%\"change\":\"reappeared\"%'")"
# every open item holds its record's first finding of the last night (the
# rows moved on night 2 and back on night 3: each item failing again was
# written, and names the night; run_steady_items.sh: those unchanged are not)
last=$(sql "SELECT id FROM runs ORDER BY as_of DESC LIMIT 1")
expect_eq "open items failing again written by the last night" "0" "$(sql "SELECT count(*) FROM ticket_items WHERE state = 'open' AND last_run IS NOT '$last'")"
expect_eq "open items as their first finding" "0" "$(sql "SELECT count(*) FROM ticket_items i JOIN findings f ON f.id = (SELECT min(g.id) FROM findings g WHERE g.run_id = '$last' AND g.dataset = i.dataset AND g.rule = i.rule AND g.record_ref = i.record_ref) WHERE i.state = 'open' AND (i.row_no IS NOT f.row_no OR i.value IS NOT f.value OR i.sealed IS NOT f.sealed)")"
expect_eq "every open item has a finding" "0" "$(sql "SELECT count(*) FROM ticket_items i WHERE i.state = 'open' AND NOT EXISTS (SELECT 1 FROM findings g WHERE g.run_id = '$last' AND g.dataset = i.dataset AND g.rule = i.rule AND g.record_ref = i.record_ref)")"
finish
