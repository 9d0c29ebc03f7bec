# A connection dropped at many moments of a run: PostgreSQL is stopped at
# six points between the query and the end of the read. Whatever the driver
# is doing then (connecting, declaring the cursor, fetching a block, in
# between) the run exits 2 with a message naming the dataset, the source
# and what to do, and stores nothing. Debian 12's psqlODBC crashes on one of
# these paths (a NULL connection in CC_from_PGresult during a FETCH, about
# one drop in thirty): adapters/driver_guard.c turns that into the same exit
# 2 and message, so no drop ends in a signal.
source "$(dirname "$0")/lib.sh"
trap 'bash "$FIXTURE" restart-pg >/dev/null 2>&1 || true; rm -rf "$T"' EXIT
cat >slow.lua <<'LUA'
dataset "big" { source = "odbc:qloop_pg", query = "SELECT id, code FROM big ORDER BY id", key = "id", owner = "局" }
rule "big.slow" { field = "code", check = function(v)
  local x = 0
  for i = 1, 4000 do x = x + i end
  return x > 0
end }
LUA
for delay in 0.15 0.35 0.6 0.85 1.1 1.35; do
    rm -f drop.db drop.db-* out.txt err.txt
    "$QLOOP_BIN" run --rules slow.lua --db drop.db --jobs 1 >out.txt 2>err.txt &
    pid=$!
    sleep "$delay"
    bash "$FIXTURE" stop-pg
    rc=0
    timeout 120 tail --pid=$pid -f /dev/null || { fail "drop at ${delay}s: the run did not end within 120 s"; kill -9 $pid; }
    wait $pid || rc=$?
    ERR=$(cat err.txt)
    expect_eq "drop at ${delay}s: exit 2, not a signal ($ERR)" "2" "$rc"
    expect_contains "drop at ${delay}s: names the dataset" '数据集“big”' "$ERR"
    expect_contains "drop at ${delay}s: names the source" 'odbc:qloop_pg' "$ERR"
    expect_contains "drop at ${delay}s: says what to do" '请检查数据库服务' "$ERR"
    expect_eq "drop at ${delay}s: nothing stored" "0" "$(sqlite3 drop.db 'SELECT count(*) FROM runs' 2>/dev/null || echo 0)"
    bash "$FIXTURE" restart-pg
done
expect_eq "the server is back" "20000" "$(psql_q 'SELECT count(*) FROM pop')"
finish
