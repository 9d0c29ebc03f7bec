# The file sources through the binary: a JSON document (records path, null
# values, the same findings as the records as JSON Lines), a streamed JSON
# document whose peak memory does not grow with its size, an Excel workbook
# written by libxlsxwriter's own test (sheet, header_row), bad_rows =
# "finding" (malformed rows become DATASET.malformed_row findings and a
# ticket for the owner; the run goes on), the tab hint, and bad input: each
# exits 2 naming the dataset, the file and what to do, and stores nothing.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
export QLOOP_NOW=2026-11-22T00:00:00+08:00

# ---- JSON document vs JSON Lines -------------------------------------------
"$QLOOP_BUILD_DIR/gen_w1" 3000 pop.csv --seed 5 --jsonl pop.jsonl "${GENDIV[@]}" >/dev/null
python3 - <<'EOF'
import json
rows = [json.loads(l) for l in open("pop.jsonl", encoding="utf-8")]
with open("pop.json", "w", encoding="utf-8") as f:
    json.dump({"total": len(rows), "data": {"erDataList": rows}}, f, ensure_ascii=False, indent=1)
EOF
sed 's/^dataset "pop" {/dataset "pop" { source = "pop.json", records = "data.erDataList",/' \
    "$QLOOP_SOURCE_DIR/bench/w1.lua" >w1_json.lua
counts() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s=%d/%d" % (r["id"], r["checked"], r["failed"]) for r in d["rules"]), d["failed_records"])'; }
a=$("$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.jsonl "${DIV[@]}" --db a.db --json --quiet | counts)
b=$("$QLOOP_BIN" run --rules w1_json.lua "${DIV[@]}" --db b.db --json --quiet | counts)
expect_eq "JSON document and JSON Lines counts" "$a" "$b"
q='SELECT rule, row_no, record_key, value, message FROM findings ORDER BY 1, 2'
expect_eq "same findings" "$(sqlite3 a.db "$q" | md5sum)" "$(sqlite3 b.db "$q" | md5sum)"

# null_values: "N/A" and "-" are empty in every field
cat >ent.json <<'EOF'
{"erDataList": [
 {"code": "91110000100000001A", "name": "甲公司", "status": "N/A"},
 {"code": "91110000100000002B", "name": "-", "status": "存续"},
 {"code": "91110000100000003C", "name": "丙公司", "status": "存续"}]}
EOF
cat >ent.lua <<'EOF'
dataset "bj_ent" { source = "ent.json", format = "json", records = "erDataList", key = "code",
                   null_values = { "N/A", "-" }, owner = "市市场监管局" }
rule "bj_ent.status" { field = "status", not_null = true }
rule "bj_ent.name" { field = "name", not_null = true }
EOF
run_q 0 run --rules ent.lua --db ent.db --quiet
expect_eq "null_values make N/A and - empty" "bj_ent.name|91110000100000002B
bj_ent.status|91110000100000001A" "$(sqlite3 ent.db 'SELECT rule, record_key FROM findings ORDER BY 1')"

# ---- streaming: peak memory does not grow with the document -----------------
gen_doc() { python3 -c '
import sys
n = int(sys.argv[1])
with open(sys.argv[2], "w") as f:
    f.write("{\"meta\": {\"n\": %d}, \"list\": [\n" % n)
    for i in range(n):
        f.write("%s{\"id\": \"R%08d\", \"name\": \"单位%d\", \"v\": %d.5}\n" % ("," if i else "", i, i % 977, i))
    f.write("]}\n")' "$1" "$2"; }
gen_doc 20000 small.json
gen_doc 400000 big.json
printf 'dataset "d" { records = "list", key = "id" }\nrule "d.v" { field = "v", pattern = "^[0-9]+[.]5$" }\n' >mem.lua
peak() { /usr/bin/time -f %M "$QLOOP_BIN" run --rules mem.lua --data "d=$1" --db "$2" --quiet 2>&1 >/dev/null | tail -1; }
ps=$(peak small.json m1.db); pb=$(peak big.json m2.db)
echo "peak RSS: 20k records ${ps} KB, 400k records (20x the file) ${pb} KB"
if [ "$pb" -lt $((ps + 8000)) ]; then ok "memory flat with the file size"; else fail "memory grew: $ps KB -> $pb KB"; fi
expect_eq "every record read" "400000" "$(sqlite3 m2.db 'SELECT rows FROM run_datasets')"

# ---- Excel workbook ---------------------------------------------------------
cat >mk.c <<'EOF'
#include <xlsxwriter.h>
int main(void)
{
    lxw_workbook *wb = workbook_new("licences.xlsx");
    lxw_worksheet *n = workbook_add_worksheet(wb, "说明");
    worksheet_write_string(n, 0, 0, "说明", NULL);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "2026");
    lxw_format *d = workbook_add_format(wb);
    format_set_num_format(d, "yyyy-mm-dd");
    worksheet_write_string(ws, 0, 0, "2026 年证照", NULL);
    worksheet_write_string(ws, 1, 0, "证照编号", NULL);
    worksheet_write_string(ws, 1, 1, "发证日期", NULL);
    worksheet_write_string(ws, 1, 2, "数量", NULL);
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "ZZ-%03d", i);
        worksheet_write_string(ws, 2 + i, 0, id, NULL);
        lxw_datetime dt = {2026, 1 + i, 5, 0, 0, 0};
        if (i != 3)
            worksheet_write_datetime(ws, 2 + i, 1, &dt, d);
        worksheet_write_number(ws, 2 + i, 2, 10 * i, NULL);
    }
    return workbook_close(wb) != LXW_NO_ERROR;
}
EOF
cc mk.c -o mk $(pkg-config --cflags --libs xlsxwriter) && ./mk
cat >lic.lua <<'EOF'
dataset "licences" { source = "licences.xlsx", sheet = "2026", header_row = 2, key = "证照编号", owner = "市政务服务局" }
rule "licences.date" { field = "发证日期", not_null = true, pattern = "^2026-0[1-5]-05$" }
rule "licences.count" { field = "数量", pattern = "^[0-9]+$" }
EOF
run_q 0 run --rules lic.lua --db lic.db --json --quiet
expect_eq "workbook: one missing date, numbers as shown" "licences.date|4|ZZ-003" \
    "$(sqlite3 lic.db 'SELECT rule, row_no, record_key FROM findings')"
expect_eq "workbook rows" "5" "$(sqlite3 lic.db 'SELECT rows FROM run_datasets')"

# ---- bad_rows = "finding" -----------------------------------------------------
printf 'id,name,phone\n1,甲,13800000000\n2,乙\n3,丙,13900000000\n4,丁,1,x\n' >ragged.csv
cat >bad.lua <<'EOF'
dataset "people" { source = "ragged.csv", key = "id", owner = "市民政局", bad_rows = "finding" }
rule "people.phone" { field = "phone", pattern = "^1[3-9][0-9]{9}$" }
EOF
run_q 0 run --rules bad.lua --db bad.db --json
expect_eq "malformed rows are findings" "people.malformed_row|2|#2
people.malformed_row|4|#4" "$(sqlite3 bad.db 'SELECT rule, row_no, record_key FROM findings ORDER BY row_no')"
expect_contains "the finding says what is wrong" "字段数不对" "$(sqlite3 bad.db 'SELECT message FROM findings LIMIT 1')"
expect_eq "the rule's result" "4|2" "$(sqlite3 bad.db "SELECT checked, failed FROM rule_results WHERE rule = 'people.malformed_row'")"
expect_eq "a ticket for the owner" "people.malformed_row|市民政局" "$(sqlite3 bad.db 'SELECT rule, dept FROM tickets')"
expect_eq "the good rows were judged" "2" "$(sqlite3 bad.db "SELECT checked FROM rule_results WHERE rule = 'people.phone'")"
# a sensitive key is masked in findings, but a malformed row's key is its number
printf 'id,name\n110101199001011234,甲\n2\n' >sens.csv
printf 'dataset "p" { source = "sens.csv", key = "id", sensitive = {"id"}, bad_rows = "finding" }\nrule "p.n" { field = "name", not_null = true }\n' >sens.lua
run_q 0 run --rules sens.lua --db sens.db --quiet
expect_eq "a malformed row's key shows its row" "p.malformed_row|2|#2" "$(sqlite3 sens.db 'SELECT rule, row_no, record_key FROM findings')"
sed -i 's/, bad_rows = "finding"//' bad.lua
run_q 2 run --rules bad.lua --db stop.db
expect_contains "default: the run stops at the ragged row" "ragged.csv:3" "$ERR"
expect_eq "nothing stored" "0" "$(sqlite3 stop.db 'SELECT count(*) FROM runs' 2>/dev/null || echo 0)"

# a bad JSON line's finding does not quote the line (it may hold personal data)
printf '{"id":"1","n":"a"}\n{"id":"2","n":"张三 13800001111}\n{"id":"3"}\n' >b.jsonl
printf 'dataset "b" { source = "b.jsonl", key = "id", bad_rows = "finding" }\nrule "b.n" { field = "n", not_null = true }\n' >b.lua
run_q 0 run --rules b.lua --db bl.db --quiet
expect_eq "JSON Lines: the bad line and the empty field" "b.malformed_row|2
b.n|3" "$(sqlite3 bl.db 'SELECT rule, row_no FROM findings ORDER BY row_no')"
case "$(sqlite3 bl.db 'SELECT message FROM findings')" in *13800001111*|*张三*) fail "the finding quotes the bad line" ;; *) ok "the finding does not quote the line" ;; esac

# ---- the tab hint -------------------------------------------------------------
printf 'id\tname\n1\t甲\n' >tabbed.csv
printf 'dataset "t" { source = "tabbed.csv", key = "id" }\nrule "t.n" { field = "name", not_null = true }\n' >tab.lua
run_q 2 run --rules tab.lua --db tab.db
expect_contains "a .csv with tabs gets the hint" 'format = "tsv"' "$ERR"
sed -i 's/key = "id"/format = "tsv", key = "id"/' tab.lua
run_q 0 run --rules tab.lua --db tab.db --quiet

# ---- bad input: exit 2, the dataset, the file, what to do; nothing stored ----------
bad_input() { # bad_input WHAT LUA NEEDLE...
    local what=$1 lua=$2; shift 2
    printf '%s\n' "$lua" >x.lua
    rm -f x.db
    run_q 2 run --rules x.lua --db x.db
    for n in "$@"; do expect_contains "$what" "$n" "$ERR"; done
    expect_eq "$what: nothing stored" "0" "$(sqlite3 x.db 'SELECT count(*) FROM runs' 2>/dev/null || echo 0)"
}
head -c 3000 licences.xlsx >cut.xlsx
bad_input "truncated .xlsx" 'dataset "lic" { source = "cut.xlsx", key = "证照编号" }' '数据集“lic”' cut.xlsx '重新导出'
cp ragged.csv notzip.xlsx
bad_input "not a zip" 'dataset "lic" { source = "notzip.xlsx", key = "证照编号" }' '数据集“lic”' notzip.xlsx '不是有效的 .xlsx'
bad_input "missing sheet" 'dataset "lic" { source = "licences.xlsx", sheet = "2025", key = "证照编号" }' \
    '数据集“lic”' licences.xlsx '没有名为“2025”的工作表' '“2026”'
bad_input "records not an array" 'dataset "bj" { source = "ent.json", records = "erDataList.0", key = "code" }' \
    '数据集“bj”' ent.json 'records'
printf '{"erDataList": {"code": 1}}' >obj.json
bad_input "records is an object" 'dataset "bj" { source = "obj.json", records = "erDataList", key = "code" }' \
    '数据集“bj”' obj.json '不是数组'
bad_input "records on a CSV" 'dataset "bj" { source = "ragged.csv", records = "x" }' 'records 只用于 JSON 文档'
bad_input "query on a file" 'dataset "bj" { source = "ent.json", query = "SELECT 1" }' 'query 只用于数据库'
bad_input "bad_rows value" 'dataset "bj" { source = "ent.json", bad_rows = "skip" }' 'bad_rows 只能是'
bad_input "header_row" 'dataset "bj" { source = "licences.xlsx", header_row = 0 }' 'header_row 应为'
finish
