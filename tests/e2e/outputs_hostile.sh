# Outputs turned against their readers: department names, messages and
# reasons chosen by someone who can write a rule file or file a report.
#   - CSV and XLSX: a name such as =HYPERLINK(...) or +cmd|calc, also after
#     blanks or behind a tab, is written behind a quote ('), never as a
#     formula; a control character in a name leaves the XLSX well-formed.
#   - Markdown: <script> and <img onerror> arrive as text (entities).
#   - Terminals: ESC]0;... and ESC[2J in messages, department names and
#     reasons are printed as visible escapes by tickets list/show, audit list
#     and in error messages.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

# Owners: a formula, a command, a minus sign, a script tag
# (department names with control characters are refused when registered,
# identity/); a dataset name and a message with terminal escapes (Lua's \27
# is ESC, \7 BEL).
cat > rules.lua <<'EOF'
dataset "a" { source = "a.csv", key = "id", owner = "=HYPERLINK(\"http://evil.example/\",\"点此\")" }
dataset "b" { source = "b.csv", key = "id", owner = "+cmd|' /C calc'!A0" }
dataset "c" { source = "c.csv", key = "id", owner = "-2+3（部门）" }
dataset "d" { source = "d.csv", key = "id", owner = "<script>alert(1)</script><img src=x onerror=alert(2)>" }
dataset "e\27]0;pwned\7\27[2J\1\127" { source = "e.csv", key = "id", owner = "市公安局" }
rule "a.v_present" { field = "v", not_null = true, message = "@SUM(1+1)" }
rule "b.v_present" { field = "v", not_null = true }
rule "c.v_present" { field = "v", not_null = true }
rule "d.v_present" { field = "v", not_null = true, message = "<b>加粗</b> [链接](javascript:alert(3)) ![](x)" }
rule "e\27]0;pwned\7\27[2J\1\127.v_present" { field = "v", not_null = true, message = "\27[31m红色\27[0m\r假行" }
EOF
for n in a b c d e; do printf 'id,v\n1,\n2,x\n' > $n.csv; done
export QLOOP_NOW=2025-03-03T02:00:00+08:00
run_q 0 run --rules rules.lua --quiet

ESC=$'\033'
# --- terminals ----------------------------------------------------------------
run_q 0 tickets list
case "$OUT" in *"$ESC"*) fail "tickets list printed a raw ESC" ;; *) ok "tickets list: no raw ESC" ;; esac
expect_contains "tickets list shows the escape" '\x1B]0;pwned\x07\x1B[2J\x01\x7F' "$OUT"
eid=$(sql "SELECT id FROM tickets WHERE dataset LIKE 'e%'")
run_q 0 tickets show "$eid"
case "$OUT" in *"$ESC"*|*$'\r'*) fail "tickets show printed a raw ESC or CR" ;; *) ok "tickets show: no raw ESC/CR" ;; esac
expect_contains "tickets show: message escaped" '\x1B[31m红色\x1B[0m\x0D假行' "$OUT"
# A reason is free text too (an actor with control characters is refused).
run_q 2 tickets extend "$eid" --until 2025-03-20 --reason x --actor "$(printf 'x\033[2Jy')"
case "$ERR" in *"$ESC"*) fail "the refusal printed a raw ESC" ;; *) ok "actor refused, escaped" ;; esac
run_q 0 tickets extend "$eid" --until 2025-03-20 --reason "$(printf '理由\033]0;x\007')" --actor 市公安局
run_q 0 tickets show "$eid"
case "$OUT" in *"$ESC"*) fail "tickets show printed a raw ESC from a reason" ;; *) ok "reason escaped" ;; esac
expect_contains "the reason shown escaped" '理由\x1B]0;x\x07' "$OUT"
run_q 0 audit list
case "$OUT" in *"$ESC"*) fail "audit list printed a raw ESC" ;; *) ok "audit list: no raw ESC" ;; esac
# An error message carrying what the user typed.
run_q 2 tickets show "$(printf '1\033[2J')"
case "$ERR" in *"$ESC"*) fail "an error message printed a raw ESC" ;; *) ok "error message escaped" ;; esac
# JSON output stays exact: the data as it is, escaped the JSON way.
run_q 0 tickets show "$eid" --json
expect_contains "JSON keeps the data" '\u001B[31m红色' "$OUT"

# --- reports -----------------------------------------------------------------
export QLOOP_NOW=2026-02-01T09:00:00+08:00
for f in csv md xlsx html; do
    run_q 0 report annual --year 2025 --format "$f" --out "annual.$f"
done
python3 - annual.csv <<'EOF' || fail "CSV cells"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline="")))
names = [r[rows[0].index("部门")] for r in rows[1:]]
bad = [n for n in names if n[:1] in "=+-@\t\r" or n.lstrip(" \t\r\n")[:1] in "=+-@"]
assert not bad, "formula-like cells: %r" % bad
want = {"'=HYPERLINK(\"http://evil.example/\",\"点此\")", "'+cmd|' /C calc'!A0", "'-2+3（部门）"}
assert want <= set(names), names
assert all("\x1b" not in c and "\x07" not in c for r in rows for c in r), "control character in CSV"
EOF
ok "CSV: formulas neutralised, no control characters"
md=$(cat annual.md)
case "$md" in *"<script>"*|*"<img"*|*"$ESC"*) fail "Markdown passes raw HTML or ESC" ;; *) ok "Markdown: no raw HTML" ;; esac
expect_contains "Markdown shows the name as text" '&lt;script&gt;alert(1)&lt;/script&gt;' "$md"
html=$(cat annual.html)
case "$html" in *"<script>alert"*|*"<img src=x"*) fail "HTML passes raw HTML" ;; *) ok "HTML escaped" ;; esac
python3 - annual.xlsx <<'EOF' || fail "XLSX"
import re, sys, zipfile
import xml.dom.minidom
z = zipfile.ZipFile(sys.argv[1])
texts = []
for name in z.namelist():
    if name.endswith(".xml") or name.endswith(".rels"):
        data = z.read(name)
        xml.dom.minidom.parseString(data)  # malformed XML raises
        assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", data), name + " holds a control character"
shared = z.read("xl/sharedStrings.xml").decode()
cells = [xml.dom.minidom.parseString("<t>%s</t>" % t).documentElement.firstChild.data if t else ""
         for t in re.findall(r"<t[^>]*>([^<]*)</t>", shared)]
bad = [c for c in cells if c[:1] in "=+-@" and not c.startswith("'")]
assert not bad, "formula-like cells: %r" % bad
assert "'=HYPERLINK(\"http://evil.example/\",\"点此\")" in cells, cells
EOF
ok "XLSX: well-formed, formulas neutralised"
finish
