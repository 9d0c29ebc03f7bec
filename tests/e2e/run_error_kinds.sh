# A failed run exits with the code its error's kind names (CONTRACT.md): 2
# for what the user can fix (bad input, a store that is busy, read-only, full),
# 3 for any other database failure — wherever in the run it happens, ticket
# sync included — and commits nothing either way. (A busy store, exit 2, is
# run_lock.sh's.)
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

printf 'dataset "d" { source = "d.csv", key = "id", owner = "市公安局" }\nrule "d.v" { field = "v", not_null = true }\n' > r.lua
printf 'id,v\n1,\n2,b\n' > d.csv
run_q 0 run --rules r.lua --quiet
runs_before=$(sql "SELECT count(*) FROM runs")
findings_before=$(sql "SELECT count(*) FROM findings")
nothing_committed() {
    expect_eq "$1: nothing committed (runs)" "$runs_before" "$(sql "SELECT count(*) FROM runs")"
    expect_eq "$1: nothing committed (findings)" "$findings_before" "$(sql "SELECT count(*) FROM findings")"
}

# A database failure while the tickets are synced (a new problem record of an
# open ticket: a trigger makes that insert fail) is internal: exit 3.
printf 'id,v\n1,\n2,\n' > d.csv
sql "CREATE TRIGGER boom BEFORE INSERT ON ticket_items BEGIN SELECT RAISE(ABORT, 'boom'); END;"
run_q 3 run --rules r.lua --quiet
expect_contains "ticket sync failure names the database error" "boom" "$ERR"
nothing_committed "ticket sync failure"
sql "DROP TRIGGER boom"

# The same failure while the run's rule results are moved in: exit 3.
sql "CREATE TRIGGER boom2 BEFORE INSERT ON rule_results BEGIN SELECT RAISE(ABORT, 'boom2'); END;"
run_q 3 run --rules r.lua --quiet
expect_contains "store failure names the database error" "boom2" "$ERR"
nothing_committed "rule results failure"
sql "DROP TRIGGER boom2"

# Bad input stays a 2.
printf 'id,v\n1,"open\n' > d.csv
run_q 2 run --rules r.lua --quiet
nothing_committed "bad input"

finish
