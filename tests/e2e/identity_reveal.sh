#!/usr/bin/env bash
# identity_reveal.sh — the owner sees its own records. A run stores a
# ticket's records masked and, sealed with the store's key file, the raw key
# and value; `tickets show ID --reveal --actor LOGIN` shows the raw key that
# is in the data to that department's providers and to admins, each showing
# audited (who, which ticket, how many records — never a value); anyone else
# exits 2 and changes nothing. A hand-filed report is sealed too. Without its
# key file the store still reads, masked, and --reveal exits 2 saying so; a
# key file of another store is refused; a sealed record that was altered or
# moved to another record does not open (exit 3), never garbage.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
command -v sqlite3 >/dev/null || { echo "identity_reveal.sh needs the sqlite3 CLI" >&2; exit 1; }
export QLOOP_NOW=2024-09-02T09:00:00+08:00
PW='reveal-password'
A=市公安局
ID1=330110199001011233
ID2=330110199202022345

cat > rules.lua <<'EOF'
dataset "people" { key = "person_id", owner = "市公安局", sensitive = { "person_id", "phone" } }
rule "people.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$", message = "手机号格式错误" }
EOF
printf 'person_id,name,phone\n%s,张三,1381234\n%s,李四,1390000\n330110199303033456,王五,13812345678\n' \
    "$ID1" "$ID2" > people.csv

run_q 0 run --rules rules.lua --data people=people.csv --quiet
# Stored masked; the raw values only inside the sealed copies.
expect_eq "stored masked" "330110***********3 1*****4" \
    "$(sql "SELECT record_key || ' ' || value FROM ticket_items WHERE ticket_id = 1 ORDER BY id LIMIT 1")"
expect_eq "every masked record sealed" "2 2" \
    "$(sql "SELECT count(*) || ' ' || count(sealed) FROM ticket_items WHERE ticket_id = 1")"
dump=$(sqlite3 "$QLOOP_DB" .dump)
case "$dump" in *"$ID1"* | *1381234*) fail "a raw value is readable in the store" ;; *) ok "no raw value readable in the store" ;; esac

# A store without users: nobody reveals.
run_q 2 tickets show 1 --reveal --actor 张三
expect_contains "operator cannot reveal" "users add" "$ERR"

run_q 0 depts add 大数据局 --bureau
run_q 0 depts add 市税务局
run_q 0 depts add 市民政局
add() { "$QLOOP_BIN" users add "$@" <<<"$PW" >/dev/null || fail "users add $*"; }
add prov_a --role provider --dept "$A"
add prov_c --role provider --dept 市税务局
add admin --role admin
add steward --role steward --dept 大数据局
add appr_a --role approver --dept "$A"
add leader --role leader
add rep --role reporter --dept 市民政局

# The owner's provider and an admin see the raw key that is in the data.
for who in prov_a admin; do
    audits=$(sql "SELECT count(*) FROM audit WHERE kind = 'ticket.reveal'")
    run_q 0 tickets show 1 --reveal --json --actor "$who"
    expect_eq "$who sees the raw keys" "$ID1 $ID2" "$(json_get "$OUT" '" ".join(r["record_key"] for r in d["records"])')"
    expect_eq "$who sees the raw values" "1381234 1390000" "$(json_get "$OUT" '" ".join(r["value"] for r in d["records"])')"
    expect_eq "$who: two revealed" "2" "$(json_get "$OUT" 'd["revealed"]')"
    expect_eq "$who's reveal audited once" "$((audits + 1))" "$(sql "SELECT count(*) FROM audit WHERE kind = 'ticket.reveal'")"
    expect_eq "$who's audit entry" "$who ticket:1 2" \
        "$(sql "SELECT actor || ' ' || subject || ' ' || json_extract(detail, '\$.records') FROM audit WHERE kind = 'ticket.reveal' ORDER BY seq DESC LIMIT 1")"
done
case "$(sql "SELECT group_concat(detail) FROM audit")" in
    *"$ID1"* | *1381234*) fail "a revealed value reached the audit chain" ;; *) ok "no value in the audit chain" ;; esac
run_q 0 tickets show 1 --reveal --actor prov_a
expect_contains "text show says it was audited" "记入审计链" "$OUT"
expect_contains "text show reveals" "$ID1" "$OUT"

# Everyone else: exit 2, nothing written.
before=$(sqlite3 "$QLOOP_DB" .dump)
for who in prov_c steward appr_a leader rep nobody; do
    run_q 2 tickets show 1 --reveal --actor "$who"
    expect_contains "$who refused" "$who" "$ERR"
done
run_q 2 tickets show 1 --reveal
expect_contains "reveal needs --actor" "--actor" "$ERR"
expect_eq "refusals wrote nothing" "$before" "$(sqlite3 "$QLOOP_DB" .dump)"
# Without --reveal they see the ticket masked (when they may see it at all).
run_q 0 tickets show 1 --json --actor steward
expect_eq "masked for the steward" "330110***********3" "$(json_get "$OUT" 'd["records"][0]["record_key"]')"
run_q 0 tickets show 1 --json
expect_eq "masked at the console" "330110***********3" "$(json_get "$OUT" 'd["records"][0]["record_key"]')"

# A report filed by hand is sealed too.
run_q 0 tickets file --dataset people --key 330110199404044567 --field phone --value 13912345678 \
    --message 号码停机 --actor rep
TF=$(sql "SELECT id FROM tickets WHERE source = 'file'")
expect_eq "the report stored masked" "0" "$(sql "SELECT count(*) FROM ticket_items WHERE record_key = '330110199404044567'")"
run_q 0 tickets show "$TF" --reveal --json --actor prov_a
expect_eq "the report revealed" "330110199404044567 13912345678" \
    "$(json_get "$OUT" '"%s %s" % (d["records"][0]["record_key"], d["records"][0]["value"])')"
run_q 0 tickets show "$TF" --json --actor rep
expect_eq "the reporter sees it masked" "False" "$(json_get "$OUT" 'd["records"][0]["record_key"] == "330110199404044567"')"
run_q 2 tickets show "$TF" --reveal --actor rep

# Without its key file: reading works masked; --reveal and writing exit 2.
mv "$QLOOP_DB.key" key.saved
run_q 0 tickets list --json
expect_eq "lists without the key file" "2" "$(json_get "$OUT" 'len(d)')"
run_q 0 tickets show 1 --json --actor prov_a
expect_eq "shows masked without the key file" "330110***********3" "$(json_get "$OUT" 'd["records"][0]["record_key"]')"
run_q 2 tickets show 1 --reveal --actor prov_a
expect_contains "reveal says the key file is missing" "找不到数据库的密钥文件" "$ERR"
run_q 2 run --rules rules.lua --data people=people.csv --quiet
expect_contains "a run needs the key file" "密钥文件" "$ERR"

# Another store's key file: refused, never garbage.
QLOOP_DB="$T/other.db" "$QLOOP_BIN" depts add 别的部门 >/dev/null
cp other.db.key "$QLOOP_DB.key"
run_q 2 tickets show 1 --reveal --actor prov_a
expect_contains "a foreign key file refused" "不属于这个数据库" "$ERR"
mv key.saved "$QLOOP_DB.key"
run_q 0 tickets show 1 --reveal --actor prov_a

# A sealed copy altered, or moved to another record, does not open.
cp "$QLOOP_DB" tampered.db
cp "$QLOOP_DB.key" tampered.db.key
sqlite3 tampered.db "UPDATE ticket_items SET sealed = (SELECT sealed FROM ticket_items WHERE ticket_id = 1 ORDER BY id DESC LIMIT 1) WHERE id = (SELECT min(id) FROM ticket_items WHERE ticket_id = 1)"
QLOOP_DB="$T/tampered.db" run_q 3 tickets show 1 --reveal --json --actor prov_a
expect_contains "a moved copy refused" "无法解开" "$ERR"
expect_eq "and nothing shown" "" "$OUT"
cp "$QLOOP_DB" tampered.db
sqlite3 tampered.db "UPDATE ticket_items SET sealed = CAST(substr(sealed, 1, 30)
    || CASE WHEN substr(sealed, 31, 1) = X'00' THEN X'01' ELSE X'00' END || substr(sealed, 32) AS BLOB)
    WHERE id = (SELECT max(id) FROM ticket_items WHERE ticket_id = 1)"
QLOOP_DB="$T/tampered.db" run_q 3 tickets show 1 --reveal --actor prov_a
expect_contains "an altered copy refused" "无法解开" "$ERR"
QLOOP_DB="$T/tampered.db" run_q 0 tickets show 1 --actor prov_a

# The next night's run refreshes the sealed copies with the records.
export QLOOP_NOW=2024-09-03T09:00:00+08:00
run_q 0 run --rules rules.lua --data people=people.csv --quiet
run_q 0 tickets show 1 --reveal --json --actor prov_a
expect_eq "still revealed after a re-run" "$ID1 $ID2" "$(json_get "$OUT" '" ".join(r["record_key"] for r in d["records"])')"
run_q 0 audit verify
finish
