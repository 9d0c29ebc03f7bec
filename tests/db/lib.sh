# Shared helpers for tests/db/*.sh (sourced): the e2e helpers, plus the
# database fixture's location (tests/db/fixture.sh writes it) and the ODBC
# configuration it made, so that odbc:qloop_pg and odbc:qloop_my resolve.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
[ -f "$QLOOP_BUILD_DIR/dbtest.env" ] || { echo "FAIL: no database fixture (tests/db/fixture.sh start)" >&2; exit 1; }
source "$QLOOP_BUILD_DIR/dbtest.env"
FIXTURE="$QLOOP_SOURCE_DIR/tests/db/fixture.sh"
PW='qloop-test-pw'
W1_COLS="person_id, name, sex, birth_date, phone, division_code, address, employer_uscc, updated_at, source_dept"
# psql_q SQL: one query against the w1 database as the test user
psql_q() { PGPASSWORD=$PW timeout 60 psql -X -At -h "$R/sock" -U qloop -d w1 -c "$1"; }
