# qloop report: a few runs under QLOOP_NOW, then the annual report in all
# five formats (JSON checked against CONTRACT.md and against the other
# formats), reproducibility, --publish and the change from the previous
# year, the monthly scorecard, no sensitive value in any output, and the
# usage errors.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

cat > rules.lua <<'EOF'
dataset "people" {
  source = "people.csv", key = "person_id", owner = "市公安局",
  update_cycle = "weekly", updated_at = "updated_at",
  sensitive = { "person_id", "name", "phone" },
}
rule "people.phone_format" { dimension = "normative", field = "phone", pattern = "^1[3-9]\\d{9}$",
                             message = "手机号格式错误" }
rule "people.name_present" { field = "name", not_null = true }
dataset "licenses" {
  source = "licenses.csv", key = "license_no", owner = "市市场监管局",
  update_cycle = "monthly", updated_at = "updated_at",
}
rule "licenses.uscc_valid" { dimension = "accuracy", field = "uscc", check = uscc.valid }
EOF
# people: one bad phone (a sensitive field: never in a report)
people() { # people UPDATED_AT PHONE2
    printf 'person_id,name,phone,updated_at\n110105194912310021,张三,13812345678,%s\n110105194912310022,李四,%s,%s\n' \
        "$1" "$2" "$1" > people.csv
}
licenses() { # licenses UPDATED_AT USCC2
    printf 'license_no,uscc,updated_at\nL1,91350100M000100Y43,%s\nL2,%s,%s\n' "$1" "$2" "$1" > licenses.csv
}

people 2025-03-02 1381234; licenses 2025-03-01 91350100M000100Y44
QLOOP_NOW=2025-03-03T02:00:00+08:00 run_q 0 run --rules rules.lua --quiet
# 市公安局 answers at once; 市市场监管局 does not.
pid=$(QLOOP_NOW=2025-03-03T09:00:00+08:00 "$QLOOP_BIN" tickets list --dept 市公安局 --json | \
      python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
QLOOP_NOW=2025-03-04T10:00:00+08:00 run_q 0 tickets resolve "$pid" --as rectified --actor 市公安局
people 2025-03-09 13912345678
QLOOP_NOW=2025-03-10T02:00:00+08:00 run_q 0 run --rules rules.lua --quiet
people 2025-04-06 13912345678
QLOOP_NOW=2025-04-07T02:00:00+08:00 run_q 0 run --rules rules.lua --quiet

export QLOOP_NOW=2026-02-01T09:00:00+08:00
for f in json html md csv xlsx; do
    run_q 0 report annual --year 2025 --format "$f" --out "annual.$f"
    if [ -s "annual.$f" ]; then ok "annual.$f written"; else fail "annual.$f missing or empty"; fi
done
J=$(cat annual.json)
expect_eq "year" "2025" "$(json_get "$J" 'd["year"]')"
expect_eq "departments" "市公安局 市市场监管局" "$(json_get "$J" '" ".join(sorted(x["name"] for x in d["departments"]))')"
expect_eq "contract keys" "True" "$(json_get "$J" 'all(set(["name","score","grade","rank","indicators"]) <= set(x) and isinstance(x["indicators"], dict) for x in d["departments"])')"
expect_eq "scores 0..100" "True" "$(json_get "$J" 'all(0 <= x["score"] <= 100 for x in d["departments"])')"
expect_eq "ranks" "[1, 2]" "$(json_get "$J" 'sorted(x["rank"] for x in d["departments"])')"
expect_eq "grades from the model" "True" "$(json_get "$J" 'all(x["grade"] in [g["name"] for g in d["grades"]] for x in d["departments"])')"
# Figures by hand. 市公安局: 2 phones in each of 3 runs, one bad on 03-03:
# normative 6 checked, 5 passed; its ticket, received 03-03 02:00, answered
# 03-04 (1 working day, on time), re-checked and shared on 03-10; the data
# was updated within a week before each run: 3 of 3 on time.
expect_eq "police normative" "6/5" "$(json_get "$J" '[str(x["quality"]["dimensions"]["normative"]["checked"])+"/"+str(x["quality"]["dimensions"]["normative"]["passed"]) for x in d["departments"] if x["name"]=="市公安局"][0]')"
expect_eq "police on time" "1/1 1" "$(json_get "$J" '[("%d/%d %d" % (x["tickets"]["on_time"], x["tickets"]["due"], x["tickets"]["answer_days"])) for x in d["departments"] if x["name"]=="市公安局"][0]')"
expect_eq "police aggregation" "3/3" "$(json_get "$J" '[("%d/%d" % (x["aggregation"]["on_time"], x["aggregation"]["checks"])) for x in d["departments"] if x["name"]=="市公安局"][0]')"
# 市市场监管局: the bad USCC stays (its ticket, received 03-03, deadline
# 03-10, is overdue) and on 04-07 the data is 37 days old, beyond its
# monthly cycle (a second ticket, never answered): 2 overdue, 0 on time.
expect_eq "market overdue" "2 0" "$(json_get "$J" '[("%d %d" % (x["tickets"]["overdue_open"], x["tickets"]["on_time"])) for x in d["departments"] if x["name"]=="市市场监管局"][0]')"
expect_eq "market advice cites 第二十七条" "True" "$(json_get "$J" 'any("第二十七条" in a["basis"] for x in d["departments"] if x["name"]=="市市场监管局" for a in x["advice"])')"
expect_eq "ranked best first" "市公安局" "$(json_get "$J" 'd["departments"][0]["name"]')"

# The other formats carry the JSON's figures.
score1=$(json_get "$J" '"%g" % d["departments"][0]["score"]')
expect_contains "html score" ">$score1 <span class=\"grade\"" "$(cat annual.html)"
expect_contains "md ranking row" "| 1 | 市公安局 | $score1 |" "$(cat annual.md)"
expect_eq "csv rows" "3" "$(python3 -c 'import csv,sys; print(len(list(csv.reader(open(sys.argv[1], encoding="utf-8-sig")))))' annual.csv)"
expect_eq "csv score" "$score1" "$(python3 -c 'import csv,sys; r=list(csv.reader(open(sys.argv[1], encoding="utf-8-sig"))); print(r[1][r[0].index("得分")])' annual.csv)"
xlsx_scores=$(python3 - annual.xlsx <<'EOF'
import re, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
sheet = z.read("xl/worksheets/sheet1.xml").decode()
cells = dict(re.findall(r'<c r="([A-Z]+[0-9]+)"[^>]*><v>([^<]*)</v>', sheet))
print(" ".join("%g" % float(cells["C%d" % r]) for r in (2, 3)))
EOF
)
expect_eq "xlsx scores" "$(json_get "$J" '" ".join("%g" % x["score"] for x in d["departments"])')" "$xlsx_scores"
expect_contains "html self-contained" "<style>" "$(head -c 400 annual.html)"
case "$(cat annual.html)" in *"http://"*|*"https://"*) fail "html refers to the network" ;; *) ok "html has no network reference" ;; esac

# No record key or value of a sensitive field in any output.
for f in annual.json annual.html annual.md annual.csv; do
    case "$(cat "$f")" in *110105194912310021*|*13812345678*|*1381234,*|*张三*) fail "$f shows a sensitive value" ;; *) ok "$f has no sensitive value" ;; esac
done
xlsx_text=$(python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print("".join(z.read(n).decode("utf-8", "replace") for n in z.namelist()))' annual.xlsx)
expect_contains "xlsx readable" "市公安局" "$xlsx_text"
case "$xlsx_text" in *110105194912310021*|*13812345678*|*张三*) fail "xlsx shows a sensitive value" ;; *) ok "xlsx has no sensitive value" ;; esac

# Reproducible: a day later the JSON differs only in generated_at.
QLOOP_NOW=2026-02-02T09:00:00+08:00 run_q 0 report annual --year 2025 --format json --out again.json
expect_eq "reproducible json" "$(grep -v generated_at annual.json)" "$(grep -v generated_at again.json)"
QLOOP_NOW=2026-02-02T09:00:00+08:00 run_q 0 report annual --year 2025 --format html --out again.html
expect_eq "reproducible html" "$(sed 's/生成于 [^<]*//' annual.html)" "$(sed 's/生成于 [^<]*//' again.html)"
QLOOP_NOW=2026-02-01T09:00:00+08:00 run_q 0 report annual --year 2025 --format xlsx --out again.xlsx
if cmp -s annual.xlsx again.xlsx; then ok "reproducible xlsx"; else fail "xlsx differs for the same store and time"; fi

# Publish 2025; the 2026 report compares with it.
run_q 0 report annual --year 2025 --format json --out published.json --publish --actor 大数据局
expect_contains "publish message" "已发布 2025" "$ERR"
expect_eq "published" "1" "$(sql 'SELECT count(*) FROM report_published WHERE year = 2025')"
run_q 0 audit verify
expect_contains "audit chain whole" "ok" "$OUT"
expect_eq "audited" "1" "$(sql "SELECT count(*) FROM audit WHERE kind = 'report.publish'")"
QLOOP_NOW=2026-03-01T09:00:00+08:00 run_q 0 report annual --year 2026 --format json
expect_eq "previous year" "2025" "$(json_get "$OUT" 'd["previous"]["year"]')"
expect_eq "change = score - previous" "True" "$(json_get "$OUT" 'all(abs(x["change"] - round(x["score"] - x["previous"]["score"], 1)) < 1e-9 for x in d["departments"] if x["previous"] and x["rated"])')"

# The monthly scorecard.
run_q 0 report scorecard --dept 市公安局 --period 2025-03 --format json
expect_eq "scorecard dept" "市公安局" "$(json_get "$OUT" 'd["department"]["name"]')"
expect_eq "scorecard period" "2025-03" "$(json_get "$OUT" 'd["period"]')"
run_q 0 report scorecard --dept 市公安局 --period 2025-04 --out card.html
expect_contains "scorecard html" "市公安局 2025 年 4 月计分卡" "$(cat card.html)"
run_q 0 report scorecard --dept 市公安局 --period 2025-04 --format md
expect_contains "scorecard md" "上月（2025-03）" "$OUT"
run_q 2 report scorecard --dept 市教育局 --period 2025-04
expect_contains "unknown dept lists the known" "市公安局" "$ERR"

# Usage errors and help.
run_q 0 report --help
expect_contains "help" "annual" "$OUT"
run_q 0 report annual --help
expect_contains "annual help" "--publish" "$OUT"
run_q 2 report annual --year 20x5 --format json
run_q 2 report annual --year 2025 --format pdf
expect_contains "format list" "xlsx" "$ERR"
run_q 2 report annual --year 2025 --format xlsx
expect_contains "xlsx needs a file" "--out" "$ERR"
run_q 2 report annual --year 2099 --format json
expect_contains "year not begun" "尚未开始" "$ERR"
printf 'return 1\n' > bad.lua
run_q 2 report annual --year 2025 --format json --model bad.lua
expect_contains "bad model named" "bad.lua" "$ERR"
run_q 2 report annual --year 2025 --format json --out /nonexistent/dir/r.json
run_q 2 report scorecard --dept 市公安局 --period 2025-13
run_q 2 report frobnicate
finish
