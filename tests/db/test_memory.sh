# A large table streams: peak memory reading 300,000 rows from PostgreSQL is
# that of reading 30,000 (psqlODBC fetches by cursor, one block at a time).
# MariaDB's table reads whole and right; its Debian driver (Connector/ODBC
# 3.1.15) keeps a result on the client whatever it is told, so its memory is
# the driver's and is only reported.
source "$(dirname "$0")/lib.sh"
peak() { # peak DB LIMIT
    printf 'dataset "big" { source = "odbc:qloop_%s", query = "SELECT id, code, label FROM big WHERE id <= %s ORDER BY id", key = "id" }\nrule "big.code" { field = "code", pattern = "^[0-9a-f]{32}$" }\n' "$1" "$2" >big.lua
    rm -f big.db
    /usr/bin/time -f %M "$QLOOP_BIN" run --rules big.lua --db big.db --quiet 2>&1 >/dev/null | tail -1
}
total=$(psql_q 'SELECT count(*) FROM big')
small=$(peak pg 30000); large=$(peak pg "$total")
echo "PostgreSQL peak RSS: 30000 rows ${small} KB, $total rows ${large} KB"
if [ "$large" -lt $((small + 6000)) ]; then ok "PostgreSQL: memory flat with the table size"; else fail "memory grew: $small -> $large KB"; fi
expect_eq "every row read" "$total" "$(sqlite3 big.db 'SELECT rows FROM run_datasets')"
expect_eq "no finding" "0" "$(sqlite3 big.db 'SELECT count(*) FROM findings')"
small=$(peak my 30000); large=$(peak my "$total")
echo "MariaDB peak RSS (driver-buffered): 30000 rows ${small} KB, $total rows ${large} KB"
expect_eq "MariaDB: every row read" "$total" "$(sqlite3 big.db 'SELECT rows FROM run_datasets')"
finish
