# No personal data of the input anywhere it should not be: after runs over
# generated population records whose person_id, name, phone and address are
# declared sensitive — with rules that build their reasons from record
# values, print them and raise errors quoting them, and a cleanse function
# that fails quoting its value — hand filing, imports,
# answers with notes and reports in every format, no sensitive value of the
# input appears
#   - in the store: any column of any table (the sealed ones hold
#     ciphertext), nor the raw bytes of the database file and its WAL;
#   - in any output file: reports html, md, csv, json and xlsx (unzipped),
#     the outbox export, tickets show/list (text and JSON);
#   - on stderr of any command.
# Values are looked for as written in the input and as cleansed (a phone
# with full-width digits). Two-character names are looked for only as whole
# values of a column, where they cannot be part of another word. Free text
# written by people quotes personal data only in the ways the masker can
# know: by shape (identity numbers, phones) or as the record's values the
# report gives (its key, the value of the field) — a name typed into a note
# that no record value names is beyond any masker (docs/privacy.md).
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
command -v python3 >/dev/null || { echo "store_scan.sh needs python3" >&2; exit 1; }

GEN="$QLOOP_BUILD_DIR/gen_w1"
"$GEN" 600 pop.csv --seed 17 --ref 2026-11-22 "${GENDIV[@]}" >/dev/null

# The W1 pack, plus rules that quote record values in their reasons, print
# them and fail on them.
cp "$QLOOP_SOURCE_DIR/bench/w1.lua" rules.lua
cat >> rules.lua <<'EOF'
rule "pop.reason_quotes" {
  dimension = "accuracy", message = "号码核对",
  check = function(r)
    if r.phone and r.phone:sub(-1) == "7" then
      return false, "号码 " .. r.phone .. " 属于 " .. (r.name or "") .. "，身份证 " .. (r.person_id or "")
    end
    return true
  end,
}
cleanse "pop" {
  address = function(s)
    if s:find("1号") then error("无法清洗地址 " .. s) end
    return s
  end,
}
rule "pop.prints" {
  dimension = "accuracy",
  check = function(r)
    if r.person_id and r.person_id:sub(-1) == "3" then
      print("检查", r.person_id, r.name, r.address)
    end
    return true
  end,
}
rule "pop.raises" {
  dimension = "accuracy",
  check = function(r)
    if r.person_id and r.person_id:sub(-1) == "5" then
      error("无法处理 " .. r.person_id .. " " .. (r.name or "") .. " " .. (r.phone or ""))
    end
    return true
  end,
}
EOF

# scan_value PATH: collects the sensitive values of the input into values.txt.
python3 - pop.csv > values.txt <<'EOF'
import csv, sys, unicodedata
seen = set()
for row in csv.DictReader(open(sys.argv[1], encoding="utf-8")):
    for col in ("person_id", "name", "phone", "address"):
        v = (row.get(col) or "").strip()
        if not v:
            continue
        forms = {v, unicodedata.normalize("NFKC", v).strip()}
        for f in forms:
            f = f.replace("\u3000", "").strip()
            if col == "name":
                if len(f) < 3:
                    f = "=" + f  # whole values only
            elif len(f) < 6:
                continue
            seen.add(f)
print("\n".join(sorted(seen)))
EOF
ok "$(wc -l < values.txt) sensitive values to look for"

ERRS=()
# q EXPECTED ARGS...: run_q, keeping stderr for the scan.
q() { run_q "$@"; printf '%s\n' "$ERR" >> all-stderr.txt; printf '%s\n' "$OUT" >> all-stdout.txt; }

export QLOOP_NOW=2026-11-22T02:00:00+08:00
q 0 run --rules rules.lua --data pop=pop.csv "${DIV[@]}" --quiet
ok "first run"
# Answers, notes and extension reasons quoting personal data.
pid1=$(sed -n 2p pop.csv | cut -d, -f1); ph1=$(sed -n 2p pop.csv | cut -d, -f5)
nm1=$(sed -n 2p pop.csv | cut -d, -f2)
tid=$(sql "SELECT min(id) FROM tickets")
export QLOOP_NOW=2026-11-23T10:00:00+08:00
q 0 tickets extend "$tid" --until 2026-12-10 --reason "联系电话 $ph1 核实 $pid1" --actor 市公安局
q 0 tickets approve "$tid" --actor 大数据局
q 0 tickets resolve "$tid" --as rectified --actor 市公安局 --note "已联系本人 $ph1，身份证 $pid1"
# Hand filing: the value of a sensitive field, a message with an ID and a phone.
row3=$(sed -n 4p pop.csv)
pid3=$(cut -d, -f1 <<<"$row3"); nm3=$(cut -d, -f2 <<<"$row3"); ph3=$(cut -d, -f5 <<<"$row3")
addr3=$(cut -d, -f7 <<<"$row3")
q 0 tickets file --dataset pop --key "$pid3" --field phone --value "$ph3" \
    --message "市民（$pid3）反映电话 $ph3 错误" --actor 热线
q 0 tickets file --dataset pop --key "$pid3" --field name --value "$nm3" \
    --message "姓名 $nm3 有错别字" --actor 热线 --rule pop.name_typo
q 0 tickets file --dataset pop --key "$pid3" --field address --value "$addr3" \
    --message "地址 $addr3 不存在" --actor 热线
# Imports (接口对接), the same kinds of fields.
python3 - pop.csv > reports.jsonl <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))[10:20]
for r in rows:
    print(json.dumps({"dataset": "pop", "key": r["person_id"], "field": "name", "value": r["name"],
                      "message": "姓名 %s 与身份证 %s 不符，联系电话 %s" % (r["name"], r["person_id"], r["phone"]),
                      "actor": "12345热线"}, ensure_ascii=False))
EOF
q 0 tickets import reports.jsonl
export QLOOP_NOW=2026-11-30T02:00:00+08:00
q 0 run --rules rules.lua --data pop=pop.csv "${DIV[@]}" --quiet
ok "second run"

# Outputs.
export QLOOP_NOW=2027-01-05T09:00:00+08:00
mkdir -p out
for f in json html md csv xlsx; do q 0 report annual --year 2026 --format "$f" --out "out/annual.$f"; done
q 0 outbox export --jsonl > out/outbox.jsonl
q 0 tickets list --json > out/list.json
q 0 tickets list > out/list.txt
for id in $(sql "SELECT id FROM tickets"); do
    q 0 tickets show "$id" --json > "out/show-$id.json"
    q 0 tickets show "$id" > "out/show-$id.txt"
done
q 0 audit list --json > out/audit.json
q 0 audit verify
mv all-stdout.txt out/
cp all-stderr.txt out/
( cd out && mkdir -p xlsx && cd xlsx && python3 -c 'import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall()' ../annual.xlsx )

# What masking hid is kept sealed for the owner (identity/seal.h): those
# columns are in the scan too, and must hold ciphertext only.
sealed=$(sql "SELECT (SELECT count(*) FROM findings WHERE sealed IS NOT NULL)
              + (SELECT count(*) FROM ticket_items WHERE sealed IS NOT NULL)")
expect_eq "sealed records to scan" "yes" "$([ "$sealed" -gt 0 ] && echo yes || echo no)"
# The store: every text column of every table, as SQLite gives it.
python3 - "$QLOOP_DB" > out/store-dump.txt <<'EOF'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
for (t,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
    cols = [r[1] for r in c.execute('PRAGMA table_info("%s")' % t)]
    for row in c.execute('SELECT * FROM "%s"' % t):
        for col, v in zip(cols, row):
            if isinstance(v, bytes):
                v = v.decode("utf-8", "replace")
            if v is not None:
                print("%s.%s\t%s" % (t, col, v))
EOF
sqlite3 "$QLOOP_DB" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
cp "$QLOOP_DB" out/store.bin
[ -f "$QLOOP_DB-wal" ] && cp "$QLOOP_DB-wal" out/store-wal.bin

# The scan: whole values (=NAME) as a column value or a cell; the others
# anywhere, in every file under out/, byte for byte.
python3 - values.txt out <<'EOF' || fail "sensitive values found (see above)"
import os, re, sys
values = [v for v in open(sys.argv[1], encoding="utf-8").read().split("\n") if v]
whole = [v[1:] for v in values if v.startswith("=")]
plain = [v.encode() for v in values if not v.startswith("=")]
leaks = []
for root, _, files in os.walk(sys.argv[2]):
    for name in files:
        path = os.path.join(root, name)
        data = open(path, "rb").read()
        for v in plain:
            if v in data:
                i = data.index(v)
                leaks.append("%s: %s …%s…" % (path, v.decode(), data[max(0, i - 60):i + 60].decode("utf-8", "replace")))
        text = data.decode("utf-8", "replace")
        for w in whole:
            if re.search(r"(^|[\t\n\"',>:=（\s])%s($|[\t\n\"',<：。，）\s])" % re.escape(w), text):
                leaks.append("%s: name %s" % (path, w))
for l in leaks[:40]:
    print("LEAK", l)
print("%d leak(s)" % len(leaks))
sys.exit(1 if leaks else 0)
EOF
# SCAN_KEEP=DIR keeps what was scanned (for looking into a failure).
if [ -n "${SCAN_KEEP:-}" ]; then cp -r out "$SCAN_KEEP"; fi
finish
