# The same rule pack (W1) over the same rows in PostgreSQL, in MariaDB (both
# through their ODBC drivers) and as the CSV file they were loaded from gives
# identical counts, findings and tickets; `table` reads a table whole.
source "$(dirname "$0")/lib.sh"
export QLOOP_NOW=2026-11-22T00:00:00+08:00
for db in pg my; do
    sed "s|^dataset \"pop\" {|dataset \"pop\" { source = \"odbc:qloop_$db\", query = \"SELECT $W1_COLS FROM pop ORDER BY seq\",|" \
        "$QLOOP_SOURCE_DIR/bench/w1.lua" >"w1_$db.lua"
done
counts() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s=%d/%d/%d" % (r["id"], r["checked"], r["failed"], r["errors"]) for r in d["rules"]), d["failed_records"], sorted(d["tickets"].items()))'; }
csv=$("$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data "pop=$R/pop.csv" "${DIV[@]}" --db csv.db --json --quiet | counts)
pg=$("$QLOOP_BIN" run --rules w1_pg.lua "${DIV[@]}" --db pg.db --json --quiet | counts)
my=$("$QLOOP_BIN" run --rules w1_my.lua "${DIV[@]}" --db my.db --json --quiet | counts)
case "$csv" in *"=20000/0/0 "*"=0/0/0"*|"") fail "the CSV run judged nothing: $csv" ;; *) ok "the CSV run: $csv" ;; esac
expect_eq "PostgreSQL counts = CSV counts" "$csv" "$pg"
expect_eq "MariaDB counts = CSV counts" "$csv" "$my"
fq='SELECT dataset, rule, row_no, record_key, field, value, message FROM findings ORDER BY rule, row_no'
tq='SELECT t.dataset, t.rule, t.dept, t.state, t.deadline, count(i.id), group_concat(i.record_key, ",")
    FROM tickets t JOIN ticket_items i ON i.ticket_id = t.id GROUP BY t.id ORDER BY t.rule'
n=$(sqlite3 csv.db 'SELECT count(*) FROM findings')
[ "$n" -gt 1000 ] && ok "$n findings" || fail "only $n findings"
for db in pg my; do
    expect_eq "$db: same findings" "$(sqlite3 csv.db "$fq" | md5sum)" "$(sqlite3 "$db.db" "$fq" | md5sum)"
    expect_eq "$db: same tickets" "$(sqlite3 csv.db "$tq" | md5sum)" "$(sqlite3 "$db.db" "$tq" | md5sum)"
    expect_eq "$db: the source stored is the DSN" "odbc:qloop_$db" "$(sqlite3 "$db.db" 'SELECT source FROM run_datasets')"
done
expect_eq "tickets were opened" "9" "$(sqlite3 pg.db 'SELECT count(*) FROM tickets')"

# table = "...": the whole table (with its seq column); --data can point a dataset at a DSN
cat >tab.lua <<'LUA'
dataset "pop" { table = "pop", key = "seq", owner = "市公安局" }
rule "pop.name" { field = "name", not_null = true }
LUA
for db in pg my; do
    run_q 0 run --rules tab.lua --data "pop=odbc:qloop_$db" --db "tab_$db.db" --quiet
    expect_eq "$db: table read whole" "20000|400" \
        "$(sqlite3 "tab_$db.db" "SELECT r.checked, r.failed FROM rule_results r WHERE rule = 'pop.name'")"
    expect_contains "$db: its columns" '"seq","person_id"' "$(sqlite3 "tab_$db.db" 'SELECT columns FROM run_datasets')"
done
# Chinese column names and values arrive as UTF-8 through both drivers
psql_q 'CREATE TABLE IF NOT EXISTS 证照 (证照编号 text, 名称 text); TRUNCATE 证照; INSERT INTO 证照 VALUES ($$ZZ-1$$, $$杭州𠀀公司$$), ($$ZZ-2$$, NULL)' >/dev/null
cat >cn.lua <<'LUA'
dataset "lic" { source = "odbc:qloop_pg", query = "SELECT 证照编号, 名称 FROM 证照 ORDER BY 1", key = "证照编号", owner = "局" }
rule "lic.name" { field = "名称", not_null = true }
rule "lic.cjk" { field = "名称", pattern = "^杭州\\x{20000}公司$" }
LUA
run_q 0 run --rules cn.lua --db cn.db --quiet
expect_eq "Chinese names, a character beyond the BMP, NULL" "lic.name|ZZ-2" "$(sqlite3 cn.db 'SELECT rule, record_key FROM findings')"
# values longer than a bound cell (8,192 UTF-16 units): psqlODBC reads them whole
# (SQLSetPos + SQLGetData); MariaDB's 3.1.15 driver cannot, and says which column to cut
psql_q "DROP TABLE IF EXISTS longv; CREATE TABLE longv AS SELECT g AS id, repeat('长', 20000 + g) AS v FROM generate_series(1, 5) g" >/dev/null
timeout 60 mariadb --no-defaults --socket="$R/sock/my.sock" -uqloop -p"$PW" w1 \
    -e "DROP TABLE IF EXISTS longv; CREATE TABLE longv AS SELECT seq AS id, REPEAT('长', 20000 + seq) AS v FROM seq_1_to_5"
for db in pg my; do
    printf 'dataset "l" { source = "odbc:qloop_%s", query = "SELECT id, v FROM longv ORDER BY id", key = "id" }\nrule "l.v" { field = "v", check = function(v) return false, tostring(utf8.len(v)) end }\n' "$db" >long.lua
    rm -f long.db
    if [ $db = pg ]; then
        run_q 0 run --rules long.lua --db long.db --quiet
        expect_eq "pg: long values whole" "1|v：20001 2|v：20002 3|v：20003 4|v：20004 5|v：20005" \
            "$(sqlite3 long.db 'SELECT row_no, message FROM findings ORDER BY row_no' | tr '\n' ' ' | sed 's/ $//')"
    else
        run_q 2 run --rules long.lua --db long.db
        expect_contains "my: a long value stops with what to do" '“v”的值超过了 8192 个字符' "$ERR"
        expect_contains "my: ... which is to cut it in the query" 'LEFT(列, 8000)' "$ERR"
    fi
done
finish
