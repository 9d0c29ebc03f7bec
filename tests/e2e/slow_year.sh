# A whole year, 2025, of weekly runs (every Monday 02:00, 52 runs) over two
# departments: 市公安局 fixes everything on time, 市人力社保局 is late and
# sloppy. Then the annual report's figures, scores, grades, ranking and
# advice are checked against values worked out by hand below; the HTML is
# opened in headless Chromium (screenshot, no console errors, every chart
# drawn, printed to PDF with one page per department); the XLSX is opened
# and its cells compared with the JSON; the report is published and the
# next year's report compares with it.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
Q="$QLOOP_BIN"

# ---- rules and catalog ----------------------------------------------------
cat > rules.lua <<'EOF'
dataset "people" {
  source = "people.csv", key = "person_id", owner = "市公安局",
  update_cycle = "weekly", updated_at = "updated_at",
  sensitive = { "person_id", "name", "phone" },
}
rule "people.phone_format" { dimension = "normative", field = "phone", pattern = "^1[3-9]\\d{9}$" }
rule "people.name_present" { field = "name", not_null = true }
dataset "social" {
  source = "social.csv", key = "pid", owner = "市人力社保局",
  update_cycle = "weekly", updated_at = "updated_at",
  sensitive = { "pid", "name" },
}
rule "social.card_format" { dimension = "normative", field = "card_no", pattern = "^\\d{6}$" }
rule "social.name_present" { field = "name", not_null = true }
EOF
# people: complete, 受限共享 with its basis, 有条件开放.
# social: no 共享期限 (missing_element), 受限共享 without basis
# (missing_basis), 禁止开放 with its reason.
cat > catalog.csv <<'EOF'
数据集标识,业务名称,信息系统名称,数源部门,数据项,存储格式,共享属性,共享依据,开放属性,开放依据,提供方式,更新周期,共享期限
people,人口基础信息,人口库,市公安局,person_id:公民身份号码:string;name:姓名:string;phone:手机号码:string;updated_at:更新时间:datetime,数据库表,受限共享,个人信息保护法第十三条,有条件开放,,接口共享,每周,长期
social,社保参保信息,社保系统,市人力社保局,pid:公民身份号码:string;name:姓名:string;card_no:社保卡号:string;updated_at:更新时间:datetime,数据库表,受限共享,,禁止开放,涉及个人信息,交换共享,每周,
EOF
QLOOP_NOW=2025-01-02T09:00:00+08:00 run_q 0 catalog import catalog.csv --actor 大数据局

# ---- the data of the week of run date $1 -----------------------------------
# people (P01–P10): bad phones P01,P02 on 03-03; P03,P04 on 06-09; P05,P06
#   on 09-01; empty names P07,P08 on 11-03 — each fixed by the next run.
# social (S01–S10): bad card numbers S01,S02 on 03-03..03-24; S03,S04 on
#   06-09 and 06-16, and again on 07-07 (the same records: reopened after
#   共享); S05,S06 from 09-01 to the year's end (never fixed); empty names
#   S07,S08 on 11-03; not updated (updated_at 07-27) on 08-04, 08-11, 08-18.
# Otherwise updated_at is the day before the run.
week_data() {
    local d=$1 updated
    updated=$(date -d "$d - 1 day" +%F)
    {
        echo "person_id,name,phone,updated_at"
        for i in 01 02 03 04 05 06 07 08 09 10; do
            local phone="138000000$i" name="人员$i"
            case "$d:$i" in
                2025-03-03:0[12]|2025-06-09:0[34]|2025-09-01:0[56]) phone="1380000" ;;
                2025-11-03:0[78]) name="" ;;
            esac
            echo "3302001980010100$i,$name,$phone,$updated"
        done
    } > people.csv
    local s_updated=$updated
    case "$d" in 2025-08-04|2025-08-11|2025-08-18) s_updated=2025-07-27 ;; esac
    {
        echo "pid,name,card_no,updated_at"
        for i in 01 02 03 04 05 06 07 08 09 10; do
            local card="1000$i" name="参保人$i"
            case "$d:$i" in
                2025-03-0[3]:0[12]|2025-03-1[07]:0[12]|2025-03-24:0[12]) card="10000X" ;;
                2025-06-09:0[34]|2025-06-16:0[34]|2025-07-07:0[34]) card="10000X" ;;
                2025-11-03:0[78]) name="" ;;
            esac
            case "$i" in 05|06) [[ "$d" > 2025-08-31 ]] && card="10000X" ;; esac
            echo "S$i,$name,$card,$s_updated"
        done
    } > social.csv
}

# The open ticket of dept on rule, at time $3.
tid() {
    QLOOP_NOW=$3 "$Q" tickets list --dept "$1" --json | python3 -c '
import json, sys
rule = sys.argv[1]
t = [x["id"] for x in json.load(sys.stdin) if x["rule"] == rule and x["state"] not in ("shared", "confirmed")]
print(t[0] if t else "none")' "$2"
}

# act TIME DEPT RULE ARGS...: a ticket command on the open ticket of rule.
act() {
    local when=$1 dept=$2 rule=$3; shift 3
    local id
    id=$(tid "$dept" "$rule" "$when")
    QLOOP_NOW=$when run_q 0 tickets "$1" "$id" "${@:2}"
}

P=市公安局; S=市人力社保局
# ---- the year ------------------------------------------------------------------
d=2025-01-06; runs=0
while [[ "$d" < 2026-01-01 ]]; do
    week_data "$d"
    QLOOP_NOW="${d}T02:00:00+08:00" run_q 0 run --rules rules.lua --quiet
    runs=$((runs + 1))
    case "$d" in
    2025-03-03)
        act 2025-03-04T10:00:00+08:00 $P people.phone_format resolve --as rectified --actor $P
        act 2025-03-07T10:00:00+08:00 $S social.card_format extend --until 2025-03-21 --reason 需核对原始档案 --actor $S
        act 2025-03-07T11:00:00+08:00 $S social.card_format approve --actor 大数据局 ;;
    2025-03-17)  # says it is fixed, but the data is not (the 03-24 re-check fails)
        act 2025-03-20T10:00:00+08:00 $S social.card_format resolve --as rectified --actor $S ;;
    2025-03-24)
        act 2025-03-26T10:00:00+08:00 $S social.card_format resolve --as rectified --actor $S ;;
    2025-06-09)
        act 2025-06-10T10:00:00+08:00 $P people.phone_format resolve --as rectified --actor $P ;;
    2025-06-16)
        act 2025-06-20T10:00:00+08:00 $S social.card_format resolve --as rectified --actor $S ;;
    2025-07-07)
        act 2025-07-09T10:00:00+08:00 $S social.card_format resolve --as rectified --actor $S ;;
    2025-08-18)
        act 2025-08-20T10:00:00+08:00 $S social.freshness resolve --as confirmed --actor $S ;;
    2025-09-01)
        act 2025-09-02T10:00:00+08:00 $P people.phone_format resolve --as rectified --actor $P ;;
    2025-11-03)
        act 2025-11-04T10:00:00+08:00 $P people.name_present resolve --as rectified --actor $P ;;
    esac
    d=$(date -d "$d + 7 days" +%F)
done
expect_eq "weekly runs" "52" "$runs"

export QLOOP_NOW=2026-01-05T09:00:00+08:00
for f in json html md csv xlsx; do
    run_q 0 report annual --year 2025 --format "$f" --out "annual.$f"
done
J=$(cat annual.json)
dept() { json_get "$J" "[x for x in d['departments'] if x['name'] == '$1'][0]$2"; }

# ---- figures worked out by hand ---------------------------------------------------
# Quality: 10 records × 52 runs = 520 judged per rule.
#   市公安局 normative: 6 bad (2 on each of 03-03, 06-09, 09-01) -> 514;
#            completeness: 2 empty names on 11-03 -> 518.
#   市人力社保局 normative: S01,S02 × 4 runs (03-03..03-24) = 8, S03,S04 × 3
#            runs (06-09, 06-16, 07-07) = 6, S05,S06 × 18 runs (09-01..12-29)
#            = 36: 50 bad -> 470; completeness: 2 on 11-03 -> 518.
expect_eq "P normative" "520 514" "$(dept $P '["quality"]["dimensions"]["normative"]' | python3 -c 'import ast,sys; q=ast.literal_eval(sys.stdin.read()); print(q["checked"], q["passed"])')"
expect_eq "P completeness" "518" "$(dept $P '["quality"]["dimensions"]["completeness"]["passed"]')"
expect_eq "S normative" "520 470" "$(dept $S '["quality"]["dimensions"]["normative"]' | python3 -c 'import ast,sys; q=ast.literal_eval(sys.stdin.read()); print(q["checked"], q["passed"])')"
expect_eq "S completeness" "518" "$(dept $S '["quality"]["dimensions"]["completeness"]["passed"]')"
# Aggregation: a freshness judgement per run; social stale on 08-04, 08-11,
# 08-18 (8, 15, 22 days after 07-27, cycle 7 days).
expect_eq "P aggregation" "52 52" "$(dept $P '["aggregation"]' | python3 -c 'import ast,sys; a=ast.literal_eval(sys.stdin.read()); print(a["checks"], a["on_time"])')"
expect_eq "S aggregation" "52 49" "$(dept $S '["aggregation"]' | python3 -c 'import ast,sys; a=ast.literal_eval(sys.stdin.read()); print(a["checks"], a["on_time"])')"

# Tickets. 市公安局: 4 tickets (03-03, 06-09, 09-01 phones; 11-03 names),
# each received Monday 02:00 and answered Tuesday (1 working day, on time),
# re-checked and shared the next Monday: 8 records fixed, none reopened.
tk() { dept "$1" '["tickets"]' | python3 -c 'import ast,sys; t=ast.literal_eval(sys.stdin.read()); print(" ".join(str(t[k]) for k in sys.argv[1:]))' "${@:2}"; }
expect_eq "P tickets" "4 4 4 0 0 4 1.0" "$(tk $P opened due on_time late overdue_open answer_days avg_answer_days)"
expect_eq "P loop" "0 0 4 4 0 8 0" "$(tk $P extension_requests extensions rectified recheck_passed recheck_failed fixed_items reopened_items)"
# 市人力社保局, 7 tickets, 8 hand-overs (episodes):
#   catalog missing_element and missing_basis, opened 01-06 (deadline
#     01-13), never answered: 2 overdue (the catalog's 2 due, 0 on time);
#   card 03-03: extension to 03-21 approved 03-07; 完成整改 03-20 but the
#     03-24 re-check fails (back to 反馈, deadline still 03-21); 完成整改
#     again 03-26: late, 17 working days (03-04..03-26); shared 03-31;
#   card 06-09: answered 06-20 (deadline 06-16): late, 9 working days;
#   card 07-07 (S03,S04 fail again after 共享): the 06-09 ticket is reopened,
#     not a new one (so 7 tickets opened, 8 episodes due); answered 07-09,
#     on time, 2 working days;
#   freshness 08-04 (deadline 08-11): 确认无误 08-20: late, 12 working days;
#   card 09-01: never answered: overdue;
#   names 11-03: no answer, but the 11-10 run finds the data fixed while
#     the ticket waits in 反馈 (deadline 11-10 23:59): on time, 5 days.
#   due 8 = on time 2 + late 3 + overdue 3; answered 5, 17+9+2+12+5 = 45
#   working days, average 9.0; rectifications 4 (03-20, 03-26, 06-20,
#   07-09), re-checks passed 3, failed 1; records fixed 8 (S01,S02 03-31;
#   S03,S04 06-23 and 07-14; S07,S08 11-10), of which 2 failed again after
#   共享 (S03,S04 of 06-23).
expect_eq "S tickets" "7 8 2 3 3 45 9.0" "$(tk $S opened due on_time late overdue_open answer_days avg_answer_days)"
expect_eq "S loop" "1 1 1 4 3 1 8 2" "$(tk $S extension_requests extensions with_extension rectified recheck_passed recheck_failed fixed_items reopened_items)"
expect_eq "S catalog tickets" "2 0" "$(dept $S '["catalog"]' | python3 -c 'import ast,sys; c=ast.literal_eval(sys.stdin.read()); print(c["tickets_due"], c["tickets_on_time"])')"
expect_eq "S March tickets" "1 0" "$(dept $S '["months"][2]' | python3 -c 'import ast,sys; m=ast.literal_eval(sys.stdin.read()); print(m["tickets_due"], m["tickets_on_time"])')"

# Scores (default model: weight × ratio over the applicable indicators).
#   市公安局: catalog.complete 10×1 + aggregation 15×1 + normative
#     5×514/520 + completeness 5×518/520 + on_time 10×1 + no_extension 5×1
#     + recheck_passed 5×1 + not_reopened 5×1 + sharing.basis 10×1 +
#     sharing.open 5×1 = 74.9231 of 75 -> 99.9, 优秀, no advice.
#   市人力社保局: catalog.complete 10×0 + catalog.on_time 5×0/2 +
#     aggregation 15×49/52 (14.1346) + normative 5×470/520 (4.5192) +
#     completeness 5×518/520 (4.9808) + on_time 10×2/8 (2.5) +
#     no_extension 5×7/8 (4.375) + recheck_passed 5×3/4 (3.75) +
#     not_reopened 5×6/8 (3.75) + sharing.basis 10×0 + sharing.open 5×0
#     = 38.0096 of 80 -> 47.5, 不合格.
expect_eq "P score" "99.9 优秀 1" "$(json_get "$J" '" ".join(str(v) for x in d["departments"] if x["name"]=="市公安局" for v in (x["score"], x["grade"], x["rank"]))')"
expect_eq "S score" "47.5 不合格 2" "$(json_get "$J" '" ".join(str(v) for x in d["departments"] if x["name"]=="市人力社保局" for v in (x["score"], x["grade"], x["rank"]))')"
expect_eq "S indicator values" "0.0 0.0 0.9423 0.9038 0.25 0.875 0.75 0.75 0.0 0.0" "$(json_get "$J" '" ".join(str([x for x in d["departments"] if x["name"]=="市人力社保局"][0]["indicators"][k]["value"]) for k in ["catalog.complete","catalog.on_time","aggregation.on_time","quality.normative","handling.on_time","handling.no_extension","handling.recheck_passed","handling.not_reopened","sharing.basis","sharing.open"])')"
expect_eq "P advice" "" "$(json_get "$J" '" ".join(a["indicator"] for x in d["departments"] if x["name"]=="市公安局" for a in x["advice"])')"
# Weak (ratio under 0.8; quality under 0.95; opening under 0.5), then the
# average answer time over 5 days, the overdue tickets and the failing grade.
expect_eq "S advice" "catalog.complete catalog.on_time quality.normative handling.on_time handling.recheck_passed handling.not_reopened sharing.basis sharing.open handling.avg_days handling.overdue overall" \
    "$(json_get "$J" '" ".join(a["indicator"] for x in d["departments"] if x["name"]=="市人力社保局" for a in x["advice"])')"
expect_eq "S advice bases" "True" "$(json_get "$J" 'all(a["basis"] for x in d["departments"] for a in x["advice"])')"
expect_contains "on-time advice rests on 第二十七条" "宁波市公共数据管理办法 第二十七条" "$(json_get "$J" '[a["basis"] for x in d["departments"] if x["name"]=="市人力社保局" for a in x["advice"] if a["indicator"]=="handling.on_time"][0]')"
expect_contains "failing grade rests on 第四十条" "第四十条" "$(json_get "$J" '[a["basis"] for x in d["departments"] if x["name"]=="市人力社保局" for a in x["advice"] if a["indicator"]=="overall"][0]')"
expect_eq "city" "73.7 1 1" "$(json_get "$J" '"%s %s %s" % (d["city"]["average_score"], d["city"]["grades"]["优秀"], d["city"]["grades"]["不合格"])')"
expect_eq "ranking order" "市公安局 市人力社保局" "$(json_get "$J" '" ".join(x["name"] for x in d["departments"])')"

# Other formats hold the same figures.
expect_contains "md" "| 2 | 市人力社保局 | 47.5 | 不合格 | — |" "$(cat annual.md)"
expect_eq "csv" "99.9 47.5" "$(python3 -c 'import csv,sys; r=list(csv.reader(open(sys.argv[1], encoding="utf-8-sig"))); i=r[0].index("得分"); print(r[1][i], r[2][i])' annual.csv)"
xlsx=$(python3 - annual.xlsx <<'EOF'
import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
strings = re.findall(r"<t[^>]*>([^<]*)</t>", z.read("xl/sharedStrings.xml").decode())
sheet = z.read("xl/worksheets/sheet1.xml").decode()
cells = {}
for ref, attrs, v in re.findall(r'<c r="([A-Z]+[0-9]+)"([^>]*)><v>([^<]*)</v>', sheet):
    # numbers as written by libxlsxwriter (%.16g): compare as numbers
    cells[ref] = strings[int(v)] if 't="s"' in attrs else "%g" % float(v)
names = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
print(cells["A2"], cells["B2"], cells["C2"], cells["D2"], cells["A3"], cells["B3"], cells["C3"], cells["D3"], len(names))
EOF
)
expect_eq "xlsx summary and sheets" "1 市公安局 99.9 优秀 2 市人力社保局 47.5 不合格 4" "$xlsx"

# ---- the HTML in a browser --------------------------------------------------
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
    echo "SKIP: chromium is not installed; the browser check needs it (QLOOP_BROWSER_TESTS=1 bash tests/install-deps.sh)"
else
    chrome() {
        timeout 120 "$CHROME" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
            --disable-background-networking --disable-component-update --disable-sync \
            --user-data-dir="$(mktemp -d "$T/chrome.XXXXXX")" "$@"
    }
    url="file://$T/annual.html"
    chrome --window-size=1200,3000 --screenshot="$T/annual.png" "$url" >/dev/null 2>&1 || true
    if [ -s annual.png ] && [ "$(head -c 4 annual.png | od -An -c | tr -d ' ')" = "211PNG" ]; then
        ok "screenshot taken"; else fail "no screenshot"; fi
    dom=$(chrome --enable-logging=stderr --v=0 --virtual-time-budget=5000 --dump-dom "$url#selfcheck" 2>console.log || true)
    # 1 ranking chart + 1 city trend + per department 6 dimension charts and a trend
    expect_contains "every chart drawn" 'data-selfcheck="ok 16"' "$dom"
    if grep -E 'CONSOLE|Uncaught|SyntaxError|TypeError' console.log | grep -v 'dbus' >/dev/null; then
        fail "console errors: $(grep -E 'CONSOLE|Uncaught|Error' console.log | head -3)"
    else
        ok "no console errors"
    fi
    chrome --no-pdf-header-footer --print-to-pdf="$T/annual.pdf" "$url" >/dev/null 2>&1 || true
    if command -v pdfinfo >/dev/null; then
        # the city summary, then one A4 page per department
        expect_eq "pdf pages" "3" "$(pdfinfo annual.pdf 2>/dev/null | awk '/^Pages:/ {print $2}')"
        expect_contains "A4 pages" "(A4)" "$(pdfinfo annual.pdf 2>/dev/null | grep 'Page size')"
    else
        fail "pdfinfo (poppler-utils) is missing; install it with QLOOP_BROWSER_TESTS=1 bash tests/install-deps.sh"
    fi
    mkdir -p "$QLOOP_BUILD_DIR/slow_year"
    cp annual.html annual.png annual.pdf "$QLOOP_BUILD_DIR/slow_year/" 2>/dev/null || true
    echo "report, screenshot and PDF kept in $QLOOP_BUILD_DIR/slow_year/"
fi

# ---- published, then compared with next year ---------------------------------
run_q 0 report annual --year 2025 --format json --out published.json --publish --actor 大数据局
week_data 2026-01-05
QLOOP_NOW=2026-01-05T02:00:00+08:00 run_q 0 run --rules rules.lua --quiet
QLOOP_NOW=2026-01-12T09:00:00+08:00 run_q 0 report annual --year 2026 --format json
expect_eq "previous year" "2025 True" "$(json_get "$OUT" '"%s %s" % (d["previous"]["year"], d["previous"]["same_model"])')"
expect_eq "previous scores" "99.9 47.5" "$(json_get "$OUT" '" ".join(str(x["previous"]["score"]) for x in d["departments"] if x["previous"])' | tr ' ' '\n' | sort -rn | tr '\n' ' ' | sed 's/ $//')"
expect_eq "change" "True" "$(json_get "$OUT" 'all(abs(x["change"] - round(x["score"] - x["previous"]["score"], 1)) < 1e-9 for x in d["departments"])')"
run_q 0 audit verify
finish
