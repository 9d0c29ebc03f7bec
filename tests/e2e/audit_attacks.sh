# The audit chain against someone who has the store but not its key file,
# doing exactly what such a person would do with sqlite3 and a short script:
#   1. rewrite and rehash: drop the triggers, edit entry 30, recompute every
#      later hash (SHA-256 of the documented encoding, as release 0.1's chain
#      used) and move audit_head — also claiming the chain was never keyed;
#   2. tail truncation: delete the last entries and move the head back —
#      also with a head saved from an earlier copy of the store;
#   3. a ticket changed without its history: set it to shared and delete its
#      history rows; move a deadline; give it to another department; insert or
#      delete a ticket;
# each is caught by `qloop audit verify` (exit 1, naming the entry or the
# ticket). And the limit: someone with both the store and the key can
# rewrite everything — `audit verify --anchor` with an anchor kept outside
# the store catches that. Without the key file verify exits 2.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

cat > rules.lua <<'EOF'
dataset "people" { key = "id", owner = "市公安局" }
rule "people.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$", message = "手机号格式错误" }
rule "people.name" { field = "name", not_null = true }
rule "people.age" { field = "age", range = { 0, 150 } }
dataset "firms" { key = "id", owner = "市市场监管局" }
rule "firms.uscc" { field = "uscc", check = uscc.valid }
rule "firms.name" { field = "name", not_null = true }
EOF
printf 'id,name,phone,age\nP1,张三,13812345678,30\nP2,,1234,200\nP3,王五,abc,-1\n' > people.csv
printf 'id,name,uscc\nF1,,91350100M000100Y44\nF2,甲公司,bad\n' > firms.csv
export QLOOP_NOW=2024-09-27T10:00:00+08:00
run_q 0 run --rules rules.lua --data people=people.csv --data firms=firms.csv --quiet
export QLOOP_NOW=2024-09-30T10:00:00+08:00
# Tickets 1-2 are 市市场监管局's, 3-5 市公安局's.
for id in 3 4 5; do run_q 0 tickets resolve "$id" --as rectified --actor 市公安局 --note 已改; done
run_q 0 tickets extend 1 --until 2024-10-20 --reason 数据量大 --actor 市市场监管局
run_q 0 tickets approve 1 --actor 大数据局
export QLOOP_NOW=2024-10-08T10:00:00+08:00
run_q 0 run --rules rules.lua --data people=people.csv --data firms=firms.csv --quiet
for id in 3 4 5; do run_q 0 tickets resolve "$id" --as negotiated --actor 市公安局 --note 协商; done
export QLOOP_NOW=2024-10-09T10:00:00+08:00
run_q 0 run --rules rules.lua --data people=people.csv --data firms=firms.csv --quiet
run_q 0 audit verify
N=${OUT#ok }
expect_eq "a chain of more than 30 entries" "yes" "$([ "$N" -gt 30 ] && echo yes || echo no)"
run_q 0 audit anchor
echo "年度报告附：审计链锚点 $OUT （请妥善保存）" > anchor.txt
cp "$QLOOP_DB" pristine.db
reset() { rm -f "$QLOOP_DB-wal" "$QLOOP_DB-shm"; cp pristine.db "$QLOOP_DB"; }

# attacker.py DB SEQ MODE: what the attacker runs. MODE rehash: edit entry SEQ
# and recompute every later hash with SHA-256, then move the head. MODE
# legacy: the same, and also say the chain was never keyed. MODE key=FILE:
# an insider who has the key file recomputes with it (keyed BLAKE2b).
cat > attacker.py <<'EOF'
import hashlib, sqlite3, struct, sys
db, seq, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def enc(row):
    out = struct.pack(">Q", row[0])
    for f in row[1:7]:
        b = f.encode()
        out += struct.pack(">Q", len(b)) + b
    return out
key = None
if mode.startswith("key="):
    lines = [l for l in open(mode[4:]) if l.strip() and not l.startswith("#")]
    master = bytes.fromhex(lines[0].strip())
    key = hashlib.blake2b(b"", digest_size=32, key=master, salt=struct.pack("<Q", 1) + bytes(8),
                          person=b"qloopkey" + bytes(8)).digest()
def h(row):
    if key:
        return hashlib.blake2b(enc(row), digest_size=32, key=key).hexdigest()
    return hashlib.sha256(enc(row)).hexdigest()
c = sqlite3.connect(db)
for t in ("audit_no_update", "audit_no_delete", "audit_head_follows"):
    c.execute("DROP TRIGGER IF EXISTS " + t)
c.execute("UPDATE audit SET actor = '没有人' WHERE seq = ?", (seq,))
rows = c.execute("SELECT seq, at, kind, subject, actor, detail, prev_hash FROM audit"
                 " WHERE seq >= ? ORDER BY seq", (seq,)).fetchall()
prev = ("0" * 64 if seq == 1 else
        c.execute("SELECT hash FROM audit WHERE seq = ?", (seq - 1,)).fetchone()[0])
for r in rows:
    r = list(r); r[6] = prev
    prev = h(r)
    c.execute("UPDATE audit SET prev_hash = ?, hash = ? WHERE seq = ?", (r[6], prev, r[0]))
last = rows[-1][0]
if key:
    hk = hashlib.blake2b(b"qloop audit head", digest_size=32, key=key).digest()
    mac = hashlib.blake2b(struct.pack(">Q", last) + prev.encode(), digest_size=32, key=hk).hexdigest()
    c.execute("UPDATE audit_head SET seq = ?, hash = ?, mac = ?", (last, prev, mac))
else:
    c.execute("UPDATE audit_head SET seq = ?, hash = ?", (last, prev))
if mode == "legacy":
    c.execute("UPDATE meta SET value = ? WHERE key = 'audit_keyed_from'", (last + 1,))
c.commit()
EOF

# --- 1. rewrite and rehash -----------------------------------------------------
python3 attacker.py "$QLOOP_DB" 30 rehash
run_q 1 audit verify
expect_contains "rehash: entry 30 named" "broken at 30: 第 30 条记录内容被修改" "$OUT"
reset
python3 attacker.py "$QLOOP_DB" 30 legacy
run_q 1 audit verify
expect_contains "rehash, claimed never keyed: caught" "broken at " "$OUT"
reset
python3 attacker.py "$QLOOP_DB" 1 legacy
sql "UPDATE meta SET value = '31' WHERE key = 'audit_keyed_from'"
run_q 1 audit verify
expect_contains "all rehashed, keyed start moved to 31: caught at 31" "broken at 31: 第 31 条" "$OUT"
reset
python3 attacker.py "$QLOOP_DB" 30 legacy
sql "DELETE FROM meta WHERE key = 'audit_keyed_from'"
run_q 1 audit verify
expect_contains "rehash, keyed start removed: caught" "密钥起点" "$OUT"
reset

# --- 2. tail truncation ------------------------------------------------------------
cut=$((N - 4))
sql "DROP TRIGGER audit_no_delete; DROP TRIGGER audit_head_follows;
     DELETE FROM audit WHERE seq >= $cut;
     UPDATE audit_head SET seq = $((cut - 1)), hash = (SELECT hash FROM audit WHERE seq = $((cut - 1)))"
run_q 1 audit verify
expect_contains "tail cut, head moved: caught" "broken at $cut: 链头登记（第 $((cut - 1)) 条）的密钥校验值不符" "$OUT"
reset
# The head saved from an earlier copy (its MAC then was genuine): the chain
# alone cannot tell, but the tickets the cut entries changed can.
head_then=$(sql "SELECT seq || '|' || hash || '|' || mac FROM audit_head")
export QLOOP_NOW=2024-10-10T10:00:00+08:00
run_q 0 tickets resolve 1 --as confirmed --actor 市市场监管局 --note 数据无误
IFS='|' read -r s h m <<<"$head_then"
sql "DROP TRIGGER audit_no_delete; DROP TRIGGER audit_head_follows;
     DELETE FROM audit WHERE seq > $s; UPDATE audit_head SET seq = $s, hash = '$h', mac = '$m'"
run_q 1 audit verify
expect_contains "tail cut to an earlier head: the ticket it changed is named" "broken at ticket:1: 工单 #1 的状态是「确认无误」" "$OUT"
reset

# --- 3. tickets changed without their history ---------------------------------------
sql "UPDATE tickets SET state = 'shared' WHERE id = 5; DELETE FROM ticket_history WHERE ticket_id = 5"
run_q 0 tickets show 5
expect_contains "tickets show displays 共享" "共享" "$OUT"
run_q 1 audit verify
expect_contains "set to shared, history deleted: ticket named" "broken at ticket:5: 工单 #5 的状态是「共享」（shared），但审计链记下的最后状态是" "$OUT"
reset
sql "UPDATE tickets SET deadline = '2025-12-31T23:59:59+08:00' WHERE id = 2"
run_q 1 audit verify
expect_contains "deadline moved: named" "broken at ticket:2: 工单 #2 的答复期限是 2025-12-31" "$OUT"
reset
sql "UPDATE tickets SET dept = '别的部门' WHERE id = 3"
run_q 1 audit verify
expect_contains "department changed: named" "broken at ticket:3: 工单 #3 的数源部门是「别的部门」" "$OUT"
reset
sql "INSERT INTO tickets(dataset, rule, source, dept, state, policy, opened_at, opened_by)
     VALUES('people', 'people.fake', 'file', '市公安局', 'feedback', 'ningbo', '2024-09-27', 'x')"
run_q 1 audit verify
expect_contains "ticket inserted: named" "没有开单记录" "$OUT"
reset
sql "PRAGMA foreign_keys = OFF; DELETE FROM ticket_items WHERE ticket_id = 1;
     DELETE FROM ticket_history WHERE ticket_id = 1; DELETE FROM tickets WHERE id = 1"
run_q 1 audit verify
expect_contains "ticket deleted: named" "broken at ticket:1: 工单 #1 在审计链中有记录" "$OUT"
reset
run_q 0 audit verify --anchor anchor.txt
expect_eq "pristine store: ok" "ok $N" "$OUT"

# --- the limit: the store and the key --------------------------------------------------
python3 attacker.py "$QLOOP_DB" 10 "key=$QLOOP_DB.key"
run_q 0 audit verify
expect_eq "with the key a rewrite verifies (documented limit)" "ok $N" "$OUT"
run_q 1 audit verify --anchor anchor.txt
expect_contains "... but not against the anchor kept outside" "broken at $N: 第 $N 条与锚点不符" "$OUT"
reset

# --- without the key file ---------------------------------------------------------------
mv "$QLOOP_DB.key" saved.key
run_q 2 audit verify
expect_contains "no key: exit 2 saying so" "找不到数据库的密钥文件" "$ERR"
run_q 2 audit anchor
run_q 0 tickets list
expect_contains "reading still works without the key" "市公安局" "$OUT"
run_q 2 tickets resolve 1 --as confirmed --actor 市市场监管局
expect_contains "writing needs the key" "密钥文件" "$ERR"
mv saved.key "$QLOOP_DB.key"
run_q 2 audit verify --anchor /nonexistent/anchor.txt
printf 'qloop-audit-anchor seq=x hash=y\n' > bad-anchor.txt
run_q 2 audit verify --anchor bad-anchor.txt
expect_contains "malformed anchor: file and line" "bad-anchor.txt:1:" "$ERR"
finish
