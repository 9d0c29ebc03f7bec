# A connection dropped mid-run: PostgreSQL is stopped while a run reads a
# table; the run exits 2 naming the dataset, the source and what to do, and
# stores nothing. The server is started again for the tests after this one.
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
"$QLOOP_BIN" run --rules slow.lua --db drop.db --jobs 1 >out.txt 2>err.txt &
pid=$!
# wait (at most 60 s) until the run's connection is open on the server (its
# query text is the DECLARE, then the FETCHes of psqlODBC's cursor)
end=$((SECONDS + 60))
until [ "$(psql_q "SELECT count(*) FROM pg_stat_activity WHERE usename = 'qloop' AND datname = 'w1' AND pid <> pg_backend_pid()" 2>/dev/null)" = 1 ]; do
    [ $SECONDS -lt $end ] || { fail "the run never reached the server"; break; }
    kill -0 $pid 2>/dev/null || { fail "the run ended before the server was stopped: $(cat err.txt)"; break; }
    sleep 0.2
done
sleep 1
kill -0 $pid 2>/dev/null && ok "the run is reading" || fail "the run had already ended"
bash "$FIXTURE" stop-pg
rc=0
timeout 120 tail --pid=$pid -f /dev/null || { fail "the run did not end within 120 s after the server stopped"; kill $pid; }
wait $pid || rc=$?
expect_eq "exit 2 when the connection drops" "2" "$rc"
ERR=$(cat err.txt)
expect_contains "names the dataset" '数据集“big”' "$ERR"
expect_contains "names the source" 'odbc:qloop_pg' "$ERR"
expect_contains "says the connection broke and what to do" '连接中断' "$ERR"
expect_contains "what to do" '重新运行' "$ERR"
expect_eq "nothing stored" "0" "$(sqlite3 drop.db 'SELECT count(*) FROM runs' 2>/dev/null || echo 0)"
bash "$FIXTURE" restart-pg
expect_eq "the server is back" "20000" "$(psql_q 'SELECT count(*) FROM pop')"
finish
