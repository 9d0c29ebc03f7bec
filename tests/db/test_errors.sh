# Bad database input: each exits 2 naming the dataset, the source and what
# to do, stores nothing, and never shows a password: an unknown DSN, wrong
# credentials, a query with a syntax error, an unknown table, a statement
# without a result, a DSN name carrying connection attributes.
source "$(dirname "$0")/lib.sh"
bad() { # bad WHAT LUA NEEDLE...
    local what=$1 lua=$2; shift 2
    printf '%s\nrule "d.x" { field = "x", not_null = true }\n' "$lua" >x.lua
    rm -f x.db
    run_q 2 run --rules x.lua --db x.db
    expect_contains "$what: names the dataset" '数据集“d”' "$ERR"
    for n in "$@"; do expect_contains "$what" "$n" "$ERR"; done
    case "$ERR" in *"$PW"*) fail "$what: the password is in the message" ;; esac
    expect_eq "$what: nothing stored" "0" "$(sqlite3 x.db 'SELECT count(*) FROM runs' 2>/dev/null || echo 0)"
    if [ -f x.db ] && grep -q -a "$PW" x.db; then fail "$what: the password is in the store"; fi
}
bad "unknown DSN" 'dataset "d" { source = "odbc:no_such_dsn", table = "t" }' 'odbc:no_such_dsn' '没有名为“no_such_dsn”的数据源' 'odbc.ini'
for db in pg my; do
    bad "$db: wrong password" "dataset \"d\" { source = \"odbc:qloop_${db}_badpw\", table = \"pop\" }" \
        "odbc:qloop_${db}_badpw" '拒绝了' '用户名和密码'
    bad "$db: syntax error" "dataset \"d\" { source = \"odbc:qloop_$db\", query = \"SELEC x FROM pop\" }" \
        "odbc:qloop_$db" 'query' '语法'
    bad "$db: unknown table" "dataset \"d\" { source = \"odbc:qloop_$db\", table = \"no_such_table\" }" \
        "odbc:qloop_$db" 'table' '表名'
done
bad "not a SELECT" 'dataset "d" { source = "odbc:qloop_my", query = "SET @x = 1" }' '没有返回结果集' 'SELECT'
bad "attributes in the DSN name" 'dataset "d" { source = "odbc:qloop_pg;PWD=x" }' '数据源名称无效' 'odbc.ini'
bad "table that is not a name" 'dataset "d" { source = "odbc:qloop_pg", table = "pop; DROP TABLE pop" }' '不是表名' 'query'
# a query that would change data is refused by the read-only connection
for db in pg my; do
    bad "$db: a DELETE as query" "dataset \"d\" { source = \"odbc:qloop_$db\", query = \"DELETE FROM pop WHERE seq < 10\" }" \
        "odbc:qloop_$db" '只能是读取数据的 SELECT'
done
expect_eq "the table is still there" "20000" "$(psql_q 'SELECT count(*) FROM pop')"
expect_eq "MariaDB's too" "20000" "$(timeout 60 mariadb --no-defaults -N -B --socket="$R/sock/my.sock" -uqloop -p"$PW" w1 -e 'SELECT count(*) FROM pop')"
printf 'dataset "d" { source = "odbc:qloop_pg", query = "SELECT 1 AS y" }\nrule "d.x" { field = "x", not_null = true }\n' >y.lua
run_q 2 run --rules y.lua --db y.db
expect_contains "a rule field not in the result is named" '"x"' "$ERR"
expect_contains "... with the source" 'odbc:qloop_pg' "$ERR"
# a format makes no sense for a database
printf 'dataset "d" { source = "odbc:qloop_pg", format = "csv" }\n' >f.lua
run_q 2 run --rules f.lua --db f.db
expect_contains "format with odbc:" '不需要 format' "$ERR"
finish
