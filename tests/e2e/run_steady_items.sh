# A steady night leaves the tickets' items alone (loop/ticket_refresh.c):
# the second night over the same data on the same store writes no item row
# — every row byte for byte as the first night left it, sealed copies too
# (sealing is deterministic, identity/seal.h) — and re-checks as many
# tickets as before. A night where one record's value changes rewrites that
# item only: its new masked value, and a sealed copy that opens to the new
# raw value for the owner. A record that stops failing is fixed, one that
# vanishes missing, and both coming back are handled as ever (the missing
# one reappears in its item, the fixed one is a new item).
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
"$QLOOP_BUILD_DIR/gen_w1" 3000 pop.csv --seed 11 "${GENDIV[@]}" >/dev/null
# Five records of valid phones made to fail the phone rule; night 3 changes
# the first one's value (still failing), night 4 fixes the second and drops
# the third (moved to the end of the file, so that no other row moves).
python3 - <<'PY'
import csv
def rows():
    r = csv.reader(open('pop.csv', newline='', encoding='utf-8'))
    return next(r), list(r)
h, rs = rows()
phone, pid = h.index('phone'), h.index('person_id')
picked = [i for i, row in enumerate(rs) if len(row[phone]) == 11 and row[phone].isdigit()
          and len(row[pid]) == 18 and rs[i][pid] not in [x[pid] for x in rs[:i]]][:5]
for k, i in enumerate(picked):
    rs[i][phone] = '1x%d' % k
rs.append(rs.pop(picked[2]))
picked = [i if i < picked[2] else i - 1 for i in picked[:2]] + [len(rs) - 1] + \
    [i if i < picked[2] else i - 1 for i in picked[3:]]
open('picked.txt', 'w').write('\n'.join(rs[i][pid] for i in picked) + '\n')
def write(name, rows):
    w = csv.writer(open(name, 'w', newline='', encoding='utf-8'), lineterminator='\n')
    w.writerow(h); w.writerows(rows)
write('n1.csv', rs)
rs3 = [list(x) for x in rs]; rs3[picked[0]][phone] = '1y9'
write('n3.csv', rs3)
rs4 = [list(x) for x in rs3]; rs4[picked[1]][phone] = '13800138000'
write('n4.csv', [x for j, x in enumerate(rs4) if j != picked[2]])
PY
mapfile -t P < picked.txt
night() { # night DATE FILE
    QLOOP_NOW="${1}T00:00:00+08:00" run_q 0 run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" \
        --data "pop=$2" "${DIV[@]}" --json --quiet
}
# every column of every item, blobs as hex
items='SELECT id, ticket_id, dataset, rule, record_ref, quote(record_key), field, quote(value),
  quote(message), row_no, state, reporter, added_at, added_run, last_run, closed_at, closed_run,
  reopened_from, hex(sealed) FROM ticket_items ORDER BY id'
night 2026-11-22 n1.csv
sql "$items" >items1.txt
[ "$(wc -l <items1.txt)" -gt 100 ] || fail "night 1 made few items"
night 2026-11-23 n1.csv
json2=$OUT
sql "$items" >items2.txt
expect_eq "night 2 over the same data leaves every item row as it was" "" "$(diff items1.txt items2.txt | head -5)"
reverified=$(json_get "$json2" 'd["tickets"]["reverified"]')
expect_eq "night 2 re-checks every ticket with open items of its rules" \
    "$(sql "SELECT count(DISTINCT ticket_id) FROM ticket_items WHERE state IN ('open','missing')")" "$reverified"
expect_eq "night 2 opens and updates no ticket" "0 0" \
    "$(json_get "$json2" '"%d %d" % (d["tickets"]["opened"], d["tickets"]["updated"])')"
expect_eq "night 2 wrote no history" "0" "$(sql "SELECT count(*) FROM ticket_history h JOIN runs r ON r.id = h.run_id WHERE r.as_of LIKE '2026-11-23%'")"

# the phone items of the five records (their record_ref by the store's key)
phone_item() { # phone_item N: the open or latest phone item whose finding names row of P[N]
    local row
    row=$(awk -F, -v id="${P[$1]}" 'NR > 1 && $1 == id { print NR - 1; exit }' "$2")
    sql "SELECT i.id FROM ticket_items i JOIN findings f ON f.rule = i.rule AND f.record_ref = i.record_ref
      WHERE i.rule = 'pop.phone_valid' AND f.run_id = (SELECT id FROM runs ORDER BY as_of DESC LIMIT 1)
      AND f.row_no = $row ORDER BY i.id DESC LIMIT 1"
}
changed=$(phone_item 0 n1.csv)
[ -n "$changed" ] || fail "no phone item of the first record"
night 2026-11-24 n3.csv
sql "$items" >items3.txt
expect_eq "night 3 rewrites exactly the changed record's item" "$changed" \
    "$(diff <(cut -d'|' -f1- items2.txt) items3.txt | sed -n 's/^> \([0-9]*\)|.*/\1/p' | tr '\n' ' ' | sed 's/ $//')"
expect_eq "its last_run is night 3" "2026-11-24" \
    "$(sql "SELECT substr(r.as_of, 1, 10) FROM ticket_items i JOIN runs r ON r.id = i.last_run WHERE i.id = $changed")"
expect_eq "its masked value is the new one" "$(sql "SELECT value FROM findings WHERE run_id = (SELECT id FROM runs ORDER BY as_of DESC LIMIT 1) AND rule = 'pop.phone_valid' AND record_ref = (SELECT record_ref FROM ticket_items WHERE id = $changed)")" \
    "$(sql "SELECT value FROM ticket_items WHERE id = $changed")"
ticket=$(sql "SELECT ticket_id FROM ticket_items WHERE id = $changed")
echo 'owner-password' | run_q 0 users add gong --role provider --dept 市公安局
run_q 0 tickets show "$ticket" --json --reveal --actor gong
expect_eq "the owner sees the new raw value" "1y9" \
    "$(json_get "$OUT" '[r["value"] for r in d["records"] if r["record_ref"] == "'"$(sql "SELECT record_ref FROM ticket_items WHERE id = $changed")"'"][0]')"

fixed=$(phone_item 1 n3.csv)
gone=$(phone_item 2 n3.csv)
night 2026-11-25 n4.csv
expect_eq "the record that stopped failing is fixed, the vanished one missing" "fixed missing" \
    "$(sql "SELECT (SELECT state FROM ticket_items WHERE id = $fixed) || ' ' || (SELECT state FROM ticket_items WHERE id = $gone)")"
expect_eq "night 4's item changes" "fixed missing" \
    "$(sql "SELECT group_concat(json_extract(detail, '$.change'), ' ') FROM (SELECT detail FROM audit WHERE kind = 'ticket.item' AND detail LIKE '%\"run\":\"' || (SELECT id FROM runs ORDER BY as_of DESC LIMIT 1) || '\"%' ORDER BY seq)")"
sql "$items" >items4.txt
expect_eq "night 4 writes only those two items" "$fixed $gone" \
    "$(diff items3.txt items4.txt | sed -n 's/^> \([0-9]*\)|.*/\1/p' | sort -n | tr '\n' ' ' | sed 's/ $//')"
night 2026-11-26 n3.csv
expect_eq "the vanished record's item is open again (reappeared), its evidence of night 5" "open 2026-11-26" \
    "$(sql "SELECT i.state || ' ' || substr(r.as_of, 1, 10) FROM ticket_items i JOIN runs r ON r.id = i.last_run WHERE i.id = $gone")"
expect_eq "the fixed record failing again is a new item" "open" \
    "$(sql "SELECT state FROM ticket_items WHERE id = $(phone_item 1 n3.csv) AND id > $fixed")"
expect_eq "night 5's item changes" "added reappeared" \
    "$(sql "SELECT group_concat(c, ' ') FROM (SELECT json_extract(detail, '$.change') AS c FROM audit WHERE kind = 'ticket.item' AND detail LIKE '%\"run\":\"' || (SELECT id FROM runs ORDER BY as_of DESC LIMIT 1) || '\"%' ORDER BY c)")"
finish
