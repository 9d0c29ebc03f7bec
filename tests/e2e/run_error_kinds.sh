# A failed run exits with the code its error's kind names (CONTRACT.md): 2
# for what the user can fix (bad input; a busy store is run_lock.sh's), 3 for
# any other database failure — wherever in the run it happens, ticket sync
# included — and commits nothing either way.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

# "runs findings tickets items": what a failed run must leave as it was.
store_counts() {
    sql "SELECT (SELECT count(*) FROM runs) || ' ' || (SELECT count(*) FROM findings) || ' ' ||
                (SELECT count(*) FROM tickets) || ' ' || (SELECT count(*) FROM ticket_items)"
}

printf 'dataset "d" { source = "d.csv", key = "id", owner = "市公安局" }\nrule "d.v" { field = "v", not_null = true }\n' > r.lua
printf 'id,v\n1,\n2,b\n' > d.csv
run_q 0 run --rules r.lua --quiet
before=$(store_counts)

# Record 2 now fails too and joins the open ticket: a trigger makes that
# insert fail, a database failure during ticket sync — internal, exit 3.
printf 'id,v\n1,\n2,\n' > d.csv
sql "CREATE TRIGGER boom BEFORE INSERT ON ticket_item_rows BEGIN SELECT RAISE(ABORT, 'boom'); END;"
run_q 3 run --rules r.lua --quiet
expect_contains "ticket sync failure names the database error" "boom" "$ERR"
expect_eq "ticket sync failure commits nothing" "$before" "$(store_counts)"
sql "DROP TRIGGER boom"

# The same kind of failure while the run's results are moved in: exit 3.
sql "CREATE TRIGGER boom2 BEFORE INSERT ON rule_results BEGIN SELECT RAISE(ABORT, 'boom2'); END;"
run_q 3 run --rules r.lua --quiet
expect_contains "results failure names the database error" "boom2" "$ERR"
expect_eq "results failure commits nothing" "$before" "$(store_counts)"
sql "DROP TRIGGER boom2"

# Bad input stays a 2.
printf 'id,v\n1,"open\n' > d.csv
run_q 2 run --rules r.lua --quiet
expect_eq "bad input commits nothing" "$before" "$(store_counts)"

# And with the cause gone the run goes through.
printf 'id,v\n1,\n2,\n' > d.csv
run_q 0 run --rules r.lua --quiet
expect_eq "the next run adds the record to the open ticket" "2 3 1 2" "$(store_counts)"
finish
