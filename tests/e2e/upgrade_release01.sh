# A store written by release 0.1 (tests/fixtures/store/release-0.1.db, made
# with the old binary by make-release-0.1.sh: runs, answered, extended,
# filed, imported and reopened tickets, an outbox export, a published
# report, a prune) opens with this binary and is upgraded in one
# transaction: every row is kept, the audit chain still verifies, the
# tickets read as the old binary showed them, and the next run's tickets
# join the old ones. A read-only copy and a store of a newer qloop are
# refused (exit 2) and left as they were.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
FX="$QLOOP_SOURCE_DIR/tests/fixtures/store"
steps=$(grep -c '^    {[0-9]*, "' "$QLOOP_SOURCE_DIR/engine/store/schema.c")
export QLOOP_NOW=2026-11-12T12:00:00+08:00

cp "$FX/release-0.1.db" "$QLOOP_DB"
expect_eq "the fixture is a release-0.1 store" "4" "$(sql 'PRAGMA user_version')"
# rows DB: every row of every table the fixture has, in the fixture's own
# columns (later schema steps may add columns; they must not change a row).
rows() {
    local t cols
    for t in $(sqlite3 -batch "$FX/release-0.1.db" \
                   "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"); do
        cols=$(sqlite3 -batch "$FX/release-0.1.db" \
                   "SELECT group_concat('\"' || name || '\"', ',') FROM pragma_table_info('$t')")
        echo "== $t"
        sqlite3 -batch -cmd ".mode quote" "$1" "SELECT $cols FROM \"$t\" ORDER BY $cols"
    done
}
rows "$QLOOP_DB" >before.sql
for t in tickets ticket_items ticket_history audit; do
    eval "n_$t=$(sql "SELECT count(*) FROM $t")"
done
expect_eq "the fixture has history to keep" "yes" \
    "$([ "$n_tickets" -gt 20 ] && [ "$n_ticket_items" -gt 800 ] && [ "$n_ticket_history" -gt 50 ] && [ "$n_audit" -gt 100 ] && echo yes)"

# Opening upgrades it (to the last step, in one transaction: nothing else
# changes), and the chain verifies: the old entries as they were written,
# then the keyed start and one baseline entry per ticket (store/upgrade.c).
run_q 0 audit verify
expect_eq "audit verify on the upgraded store" "ok $((n_audit + 1 + n_tickets))" "$OUT"
expect_contains "verify says how many entries are legacy" "第 1–$n_audit 条是数据库升级前写入的旧记录" "$ERR"
expect_eq "upgraded to the last step" "$steps" "$(sql 'PRAGMA user_version')"
# The rows opening adds: the check value of the key file made beside the
# store (store/key.h), where the keyed chain starts, the keyed start entry
# and the baselines; the head moves to the last of them.
expect_eq "the store is bound to its new key file" "yes" \
    "$([ -f "$QLOOP_DB.key" ] && [ "$(sql "SELECT count(*) FROM meta WHERE key = 'key_check'")" = 1 ] && echo yes)"
expect_eq "the keyed start follows the old entries" "$((n_audit + 1)) audit.keyed $n_tickets" \
    "$(sql "SELECT value FROM meta WHERE key = 'audit_keyed_from'") $(sql "SELECT kind FROM audit WHERE seq = $n_audit + 1") $(sql "SELECT count(*) FROM audit WHERE kind = 'ticket.baseline' AND seq > $n_audit")"
# What later steps add — the identity step's tables, the departments the
# old tickets, runs and catalog name (registered as first seen there), an
# empty sealed column on findings and ticket_items, the tickets' kept
# policies, the findings' part column — is outside the fixture's tables and columns: rows() compares
# what release 0.1 had. Within them the keyed audit step adds the entries
# after the old ones, where the keyed part starts (meta) and moves the head.
expect_eq "the old departments registered" \
    "$(sql "SELECT DISTINCT dept FROM tickets UNION SELECT owner FROM run_datasets WHERE owner <> '' UNION SELECT owner FROM catalog_datasets ORDER BY 1")" \
    "$(sql "SELECT name FROM depts WHERE seen_in = 'upgrade' AND registered_by = 'upgrade' ORDER BY 1")"
# old_rows: rows(), without the audit head and the entries past the old ones.
old_rows() {
    awk -F, -v n="$n_audit" '/^== /{t=substr($0, 4); print; next} t=="audit_head"{next} t=="audit" && $1+0>n{next} {print}'
}
old_rows <before.sql >before-old.sql
rows "$QLOOP_DB" | grep -v -e "^'key_check'," -e "^'audit_keyed_from'," | old_rows >after.sql
if cmp -s before-old.sql after.sql; then ok "every row of every table kept"
else fail "the upgrade changed rows: $(diff before-old.sql after.sql | head -c 2000)"; fi
for t in tickets ticket_items ticket_history; do
    expect_eq "$t rows kept" "$(eval echo "\$n_$t")" "$(sql "SELECT count(*) FROM $t")"
done
printf 'dataset "d" { key = "id", owner = "甲局" }\n' >empty.lua
printf 'id\n1\n' >empty.csv
"$QLOOP_BIN" run --rules empty.lua --data d=empty.csv --db fresh.db --quiet >/dev/null
schema() { sqlite3 -batch "$1" "SELECT type || ' ' || name FROM sqlite_master ORDER BY name"; }
expect_eq "the upgraded store has the tables of a new one" "$(schema fresh.db)" "$(schema "$QLOOP_DB")"

# The tickets read as release 0.1 showed them (every member it printed,
# same value; members added since are allowed).
run_q 0 tickets list --json
echo "$OUT" >list.json
for id in $(sql 'SELECT id FROM tickets ORDER BY id'); do
    "$QLOOP_BIN" tickets show "$id" --json 2>/dev/null || echo "{\"show failed\": $id}"
done >show.jsonl
verdict=$(python3 - "$FX/release-0.1.tickets.json.gz" list.json show.jsonl <<'EOF'
import gzip, json, sys
old = json.loads(gzip.open(sys.argv[1]).read())
new_list = json.load(open(sys.argv[2]))
dec = json.JSONDecoder()
text, new_show, i = open(sys.argv[3]).read(), [], 0
while i < len(text):
    if text[i].isspace():
        i += 1
        continue
    v, i = dec.raw_decode(text, i)
    new_show.append(v)
def differs(o, n, where):
    if isinstance(o, dict):
        if not isinstance(n, dict):
            return where
        for k in o:
            d = differs(o[k], n.get(k, "<missing>"), where + "." + k)
            if d:
                return d
        return None
    if isinstance(o, list):
        if not isinstance(n, list) or len(n) != len(o):
            return where + " (length)"
        for k, (a, b) in enumerate(zip(o, n)):
            d = differs(a, b, "%s[%d]" % (where, k))
            if d:
                return d
        return None
    return None if o == n else "%s: %r became %r" % (where, o, n)
d = differs(old["list"], new_list, "list") or differs(old["show"], new_show, "show")
print(d or "same %d %d" % (len(old["list"]), len(old["show"])))
EOF
)
expect_eq "tickets list/show --json as release 0.1 printed them" "same $n_tickets $n_tickets" "$verdict"

# The next run works, and its findings join the old tickets.
open_before=$(sql "SELECT count(*) FROM tickets WHERE state NOT IN ('shared','confirmed')")
max_before=$(sql 'SELECT max(id) FROM tickets')
QLOOP_NOW=2026-11-13T02:00:00+08:00 run_q 0 run --rules "$QLOOP_SOURCE_DIR/rules/examples" --json --quiet
run_id=$(json_get "$OUT" 'd["run_id"]')
expect_eq "the run is the fourth" "4" "$(sql 'SELECT count(*) FROM runs')"
expect_eq "old tickets kept" "$n_tickets" "$(sql "SELECT count(*) FROM tickets WHERE id <= $max_before")"
joined=$(sql "SELECT count(DISTINCT i.ticket_id) FROM ticket_items i WHERE i.state = 'open' AND i.ticket_id <= $max_before
  AND EXISTS (SELECT 1 FROM findings f WHERE f.run_id = '$run_id' AND f.dataset = i.dataset AND f.rule = i.rule AND f.record_ref = i.record_ref)")
expect_eq "the run's records joined the old open tickets" "yes" "$([ "$joined" -gt 10 ] && echo yes)"
# Release 0.1 merged the records with an empty key into one item (key "");
# they now have identities of their own (run/identity.c), so that item's
# record is gone: under a compare rule (resolve_missing) it is resolved and
# its ticket closes, and the records are items of a new ticket. Every other
# ticket carries on.
merged="SELECT ticket_id FROM ticket_items WHERE record_key = '' AND row_no IS NOT NULL AND ticket_id <= $max_before"
expect_eq "release 0.1 had one merged item (people_vs_social.empty_key_right)" \
    "people_vs_social.empty_key_right" "$(sql "SELECT group_concat(rule) FROM tickets WHERE id IN ($merged)")"
expect_eq "no second open ticket beside an old one" "0" \
    "$(sql "SELECT count(*) FROM tickets n JOIN tickets o ON o.dataset = n.dataset AND o.rule = n.rule AND o.source = n.source AND o.id <= $max_before WHERE n.id > $max_before AND o.id NOT IN ($merged)")"
expect_eq "open tickets: the old ones" "$open_before" \
    "$(sql "SELECT count(*) FROM tickets WHERE (state NOT IN ('shared','confirmed') AND id <= $max_before) OR id IN ($merged)")"
expect_eq "the merged records: each an item of its own" "2 #295 #820" \
    "$(sql "SELECT count(*) || ' ' || group_concat(record_key, ' ') FROM (SELECT i.record_key FROM ticket_items i JOIN tickets t ON t.id = i.ticket_id WHERE t.rule = 'people_vs_social.empty_key_right' AND t.id > $max_before ORDER BY i.row_no)")"
run_q 0 audit verify
expect_contains "the chain still verifies after the run" "ok " "$OUT"
expect_eq "the run's entries follow the old ones" "yes" \
    "$([ "$(sql 'SELECT count(*) FROM audit')" -gt "$n_audit" ] && echo yes)"

# A read-only copy: refused with exit 2, not a byte changed, no files left.
mkdir ro
cp "$FX/release-0.1.db" ro/q.db
chmod 444 ro/q.db
chmod 555 ro
as_user=()
if [ "$(id -u)" = 0 ]; then
    chmod 755 "$T"     # root ignores file modes: read it as nobody
    as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
set +e
"${as_user[@]}" "$QLOOP_BIN" tickets list --db "$T/ro/q.db" >ro.out 2>ro.err
rc=$?
set -e
expect_eq "read-only store: exit 2" "2" "$rc"
expect_contains "read-only store: says what to do" "请检查权限" "$(cat ro.err)"
if cmp -s "$FX/release-0.1.db" ro/q.db; then ok "read-only store untouched"; else fail "read-only store changed"; fi
expect_eq "read-only store: nothing beside it" "q.db" "$(ls ro)"
chmod 755 ro

# A store of a newer qloop: refused with exit 2, untouched.
cp "$FX/release-0.1.db" newer.db
sqlite3 -batch newer.db 'PRAGMA journal_mode=DELETE; PRAGMA user_version = 999' >/dev/null
cp newer.db newer.orig
run_q 2 tickets list --db newer.db
expect_contains "newer store: says what to do" "请改用更新的 qloop" "$ERR"
if cmp -s newer.orig newer.db; then ok "newer store untouched"; else fail "newer store changed"; fi
finish
