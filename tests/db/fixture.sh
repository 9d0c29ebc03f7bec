#!/usr/bin/env bash
# The database test fixture: real PostgreSQL and MariaDB servers for the
# ODBC adapter's tests, started once per test run and always stopped.
#
#   fixture.sh start   (ctest FIXTURES_SETUP)    fixture.sh stop   (FIXTURES_CLEANUP)
#   fixture.sh restart-pg | stop-pg | restart-my | stop-my   (for the tests that cut a connection)
#
# Both servers listen only on Unix sockets in a temporary folder
# (/tmp/qloop-db.XXXXXX) that also holds their data folders, their logs and
# the ODBC configuration (odbcinst.ini, odbc.ini) the tests point unixODBC at
# with ODBCSYSINI and ODBCINI. Both refuse to run as root: PostgreSQL runs as
# postgres (runuser), MariaDB with --user=mysql. Every server's output goes to
# a file and its standard streams are closed, so ctest does not wait on an
# inherited pipe. Every wait has its own timeout. Durability is off (fsync,
# doublewrite, flush at commit): the data is thrown away.
#
# The location is written to $QLOOP_BUILD_DIR/dbtest.env, which the tests
# source (tests/db/lib.sh). Data sources:
#   qloop_pg, qloop_my              the test user with its password
#   qloop_pg_badpw, qloop_my_badpw  the same user with a wrong password
# Both databases are named w1 and hold the table pop: W1 rows from gen_w1
# (N_W1 rows, with a seq column giving the file order), and big: BIG_ROWS
# generated rows for the memory test.
set -euo pipefail
: "${QLOOP_BUILD_DIR:?}" "${QLOOP_SOURCE_DIR:?}"
ENVF="$QLOOP_BUILD_DIR/dbtest.env"
N_W1=${QLOOP_DB_W1_ROWS:-20000}
PW='qloop-test-pw'

log() { echo "fixture: $*"; }
die() { echo "fixture: $*" >&2; exit 1; }

# wait_for SECONDS CMD...: runs CMD every 0.2 s until it succeeds or time is up.
wait_for() {
    local limit=$1; shift
    local end=$((SECONDS + limit))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.2
    done
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
drv() { find /usr/lib /usr/local/lib -name "$1" 2>/dev/null | head -1; }

pg_start() {
    local bin; bin=$(pg_bin)
    runuser -u postgres -- timeout 60 "$bin/pg_ctl" -D "$R/pg" -l "$R/log/pg.log" -w -t 50 \
        -o "-k $R/sock -c listen_addresses= -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c shared_buffers=32MB -c max_connections=40" \
        start </dev/null >>"$R/pg_ctl.log" 2>&1 || { tail -20 "$R/log/pg.log" >&2; die "PostgreSQL did not start"; }
}

pg_stop() {
    local bin; bin=$(pg_bin)
    [ -f "$R/pg/postmaster.pid" ] || return 0
    runuser -u postgres -- timeout 60 "$bin/pg_ctl" -D "$R/pg" -m immediate -w -t 50 stop \
        </dev/null >>"$R/pg_ctl.log" 2>&1 || true
}

my_start() {
    setsid mariadbd --no-defaults --user=mysql --datadir="$R/my" --socket="$R/sock/my.sock" \
        --skip-networking --pid-file="$R/log/my.pid" --log-error="$R/log/my.err" \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=48M --innodb-flush-log-at-trx-commit=0 \
        --innodb-doublewrite=0 --skip-log-bin --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_bin --local-infile=1 --max-connections=40 \
        </dev/null >>"$R/my.log" 2>&1 &
    wait_for 60 mariadb-admin --no-defaults --socket="$R/sock/my.sock" -uroot ping ||
        { tail -20 "$R/log/my.err" >&2; die "MariaDB did not start"; }
}

my_stop() {
    [ -f "$R/log/my.pid" ] || return 0
    local pid; pid=$(cat "$R/log/my.pid" 2>/dev/null || true)
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 30 bash -c "! kill -0 $pid" || true
    rm -f "$R/log/my.pid"
}

psql_su() { PGPASSWORD=$PW timeout 120 psql -X -q -v ON_ERROR_STOP=1 -h "$R/sock" -U postgres "$@"; }
my_su() { timeout 120 mariadb --no-defaults --local-infile=1 --socket="$R/sock/my.sock" -uroot "$@"; }

# The columns of W1 (bench/gen_w1), all text: values are loaded exactly as in
# the CSV, including the malformed ones.
W1_COLS=(person_id name sex birth_date phone division_code address employer_uscc updated_at source_dept)

start() {
    command -v mariadbd >/dev/null || die "mariadb-server is not installed (tests/install-deps.sh)"
    [ -n "$(pg_bin)" ] || die "postgresql is not installed (tests/install-deps.sh)"
    [ -f "$ENVF" ] && (set +e; stop_all) || true
    R=$(mktemp -d /tmp/qloop-db.XXXXXX)
    chmod 755 "$R"
    mkdir -p "$R/sock" "$R/odbc" "$R/pg" "$R/log"
    chmod 1777 "$R/sock" "$R/log"
    chown postgres:postgres "$R/pg"
    printf 'R=%q\nexport ODBCSYSINI=%q\nexport ODBCINI=%q\n' "$R" "$R/odbc" "$R/odbc/odbc.ini" >"$ENVF"
    trap 'if [ -n "${STARTING:-}" ]; then stop_all; fi' EXIT
    STARTING=1

    log "PostgreSQL in $R/pg"
    printf '%s\n' "$PW" >"$R/pgpw"; chmod 644 "$R/pgpw"
    runuser -u postgres -- timeout 120 "$(pg_bin)/initdb" -D "$R/pg" -U postgres -A scram-sha-256 \
        --pwfile="$R/pgpw" -E UTF8 --locale=C --no-sync --no-instructions </dev/null >"$R/initdb.log" 2>&1 ||
        { tail -20 "$R/initdb.log" >&2; die "initdb failed"; }
    pg_start

    log "MariaDB in $R/my"
    timeout 120 mariadb-install-db --no-defaults --user=mysql --datadir="$R/my" \
        --auth-root-authentication-method=normal --skip-test-db </dev/null >"$R/my-install.log" 2>&1 ||
        { tail -20 "$R/my-install.log" >&2; die "mariadb-install-db failed"; }
    my_start

    cat >"$R/odbc/odbcinst.ini" <<EOF
[PostgreSQL Unicode]
Driver = $(drv psqlodbcw.so)
[MariaDB Unicode]
Driver = $(drv libmaodbc.so)
EOF
    pg_dsn() { printf '[%s]\nDriver = PostgreSQL Unicode\nServername = %s\nPort = 5432\nDatabase = w1\nUsername = qloop\nPassword = %s\n' "$1" "$R/sock" "$2"; }
    my_dsn() { printf '[%s]\nDriver = MariaDB Unicode\nSERVER = localhost\nSOCKET = %s\nDATABASE = w1\nUSER = qloop\nPASSWORD = %s\nCHARSET = utf8mb4\n' "$1" "$R/sock/my.sock" "$2"; }
    { pg_dsn qloop_pg "$PW"; pg_dsn qloop_pg_badpw "not-$PW"; my_dsn qloop_my "$PW"; my_dsn qloop_my_badpw "not-$PW"; } >"$R/odbc/odbc.ini"

    log "W1 rows ($N_W1) and the big table"
    local gendiv=(--divisions-txt "$QLOOP_SOURCE_DIR/engine/data/divisions_bundled.txt")
    [ -f "${QLOOP_SHARED_REF:-/nonexistent}/divisions.csv" ] && gendiv=(--divisions "$QLOOP_SHARED_REF/divisions.csv")
    "$QLOOP_BUILD_DIR/gen_w1" "$N_W1" "$R/pop.csv" --seed 7 "${gendiv[@]}" >/dev/null
    chmod 644 "$R/pop.csv"
    local cols_def cols
    cols_def=$(printf '%s text, ' "${W1_COLS[@]}"); cols=$(IFS=,; echo "${W1_COLS[*]}")
    psql_su -d postgres -c "CREATE ROLE qloop LOGIN PASSWORD '$PW'" \
        -c "CREATE DATABASE w1 OWNER qloop ENCODING 'UTF8' TEMPLATE template0"
    PGPASSWORD=$PW timeout 300 psql -X -q -v ON_ERROR_STOP=1 -h "$R/sock" -U qloop -d w1 \
        -c "CREATE TABLE pop (seq bigserial, ${cols_def%, })" \
        -c "\\copy pop ($cols) FROM '$R/pop.csv' WITH (FORMAT csv, HEADER true, FORCE_NOT_NULL ($cols))" \
        -c "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS code, '第' || g || '号' AS label FROM generate_series(1, ${QLOOP_DB_BIG_ROWS:-300000}) g"
    local my_def; my_def=$(printf '`%s` TEXT, ' "${W1_COLS[@]}")
    my_su -e "CREATE DATABASE w1 CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
        CREATE USER qloop@localhost IDENTIFIED BY '$PW'; GRANT ALL ON w1.* TO qloop@localhost;
        USE w1; CREATE TABLE pop (seq BIGINT AUTO_INCREMENT PRIMARY KEY, ${my_def%, });
        LOAD DATA LOCAL INFILE '$R/pop.csv' INTO TABLE pop CHARACTER SET utf8mb4
          FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY ''
          LINES TERMINATED BY '\n' IGNORE 1 LINES ($cols);
        CREATE TABLE big (id BIGINT, code VARCHAR(32), label VARCHAR(40));
        INSERT INTO big SELECT seq, md5(seq), CONCAT('第', seq, '号') FROM seq_1_to_${QLOOP_DB_BIG_ROWS:-300000};"
    STARTING=
    log "ready ($R)"
}

stop_all() {
    [ -f "$ENVF" ] || return 0
    # shellcheck disable=SC1090
    source "$ENVF"
    pg_stop
    my_stop
    case "$R" in /tmp/qloop-db.*) rm -rf "$R" ;; esac
    rm -f "$ENVF"
    log "stopped"
}

load_env() { [ -f "$ENVF" ] || die "no fixture (run fixture.sh start)"; source "$ENVF"; }

case "${1:-}" in
start) start ;;
stop) stop_all ;;
stop-pg) load_env; pg_stop ;;
restart-pg) load_env; pg_stop; pg_start ;;
stop-my) load_env; my_stop ;;
restart-my) load_env; my_stop; my_start ;;
*) die "usage: fixture.sh start|stop|stop-pg|restart-pg|stop-my|restart-my" ;;
esac
