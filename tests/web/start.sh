#!/usr/bin/env bash
# start.sh — the set-up of the portal's tests (ctest fixture web_server): a
# store with tickets of two departments and a user of every role, and
# `qloop serve --listen 127.0.0.1:0` on it twice — over HTTP (its address,
# read from its stdout, in $QLOOP_WEB_DIR/url) and over HTTPS with a
# certificate made here (tls.url, tls.crt); stop.sh stops both.
#
# The store: a run on 2024-09-02 opens one ticket per rule (people.c1 ...
# people.c8 of 市公安局, orgs.phone of 市税务局), received that day, due
# 2024-09-09; the server runs at 2024-09-12, so they are overdue. Each test
# works on its own tickets and users (see the comments in api_test.py,
# security_test.py and browser/portal.test.js), so they may run in parallel.
set -euo pipefail
: "${QLOOP_BIN:?}" "${QLOOP_WEB_DIR:?}"
W="$QLOOP_WEB_DIR"
for p in "$W/serve.pid" "$W/tls.pid"; do # servers left by an interrupted run
    [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null || true
done
rm -rf "$W"
mkdir -p "$W"
cd "$W"
export QLOOP_DB="$W/q.db"
unset QLOOP_DIVISIONS QLOOP_KEY_FILE || true
PW='portal-password-1'

cat > rules.lua <<'LUA'
dataset "people" { key = "person_id", owner = "市公安局", sensitive = { "person_id", "phone" } }
for i = 1, 8 do
  rule ("people.c" .. i) { field = "c" .. i, not_null = true, message = "字段 c" .. i .. " 为空" }
end
rule "people.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$", message = "手机号格式错误" }
dataset "orgs" { key = "id", owner = "市税务局" }
rule "orgs.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$", message = "电话格式错误" }
LUA
{
    echo 'person_id,name,phone,c1,c2,c3,c4,c5,c6,c7,c8'
    echo '330110199001011233,张三,=1+2,,,,,,,,'
    echo '330110199202022345,李四,13812345678,,,,,,,,'
    echo '330110199303033456,王五,@SUM(A1),x,x,x,x,x,x,x,x'
} > people.csv
printf 'id,phone\nO1,12\n' > orgs.csv

export QLOOP_NOW=2024-09-02T09:00:00+08:00
"$QLOOP_BIN" run --rules rules.lua --data people=people.csv --data orgs=orgs.csv --quiet
"$QLOOP_BIN" depts add 大数据局 --bureau >/dev/null
"$QLOOP_BIN" depts add 市民政局 >/dev/null
add() { "$QLOOP_BIN" users add "$@" <<<"$PW" >/dev/null; }
add prov --role provider --dept 市公安局 --name 王警官
add prov2 --role provider --dept 市公安局 --name 李警官
add prov_tax --role provider --dept 市税务局
add steward --role steward --dept 大数据局 --name 赵治理
add appr --role approver --dept 大数据局 --name 钱审批
add rep --role reporter --dept 市民政局 --name 孙填报
add leader --role leader --name 周领导
add lockme --role provider --dept 市公安局
add lockapi --role reporter --dept 市民政局
add prov_run --role provider --dept 市公安局
add admin --role admin
"$QLOOP_BIN" users add sys --role system </dev/null >/dev/null
"$QLOOP_BIN" users key sys 2>/dev/null > key
echo "$PW" > password

export QLOOP_NOW=2024-09-12T10:00:00+08:00
# start_server NAME ARGS...: qloop serve on 127.0.0.1:0, detached from ctest
# (own session, output to files) and bounded: whatever happens to the run,
# it is gone after 30 minutes. Its pid goes to NAME.pid, its address to
# NAME.url (at most 20 s to print it).
start_server() {
    local name=$1 url=""; shift
    setsid timeout --signal=TERM 1800 "$QLOOP_BIN" serve --listen 127.0.0.1:0 --threads 4 "$@" \
        </dev/null >"$name.out" 2>"$name.log" &
    echo $! > "$name.pid"
    for _ in $(seq 1 200); do
        url=$(head -n 1 "$name.out" 2>/dev/null || true)
        [ -n "$url" ] && break
        if ! kill -0 "$(cat "$name.pid")" 2>/dev/null; then
            echo "qloop serve ($name) exited at start:" >&2
            cat "$name.log" >&2
            return 1
        fi
        sleep 0.1
    done
    case "$url" in
        http://127.0.0.1:[0-9]*/ | https://127.0.0.1:[0-9]*/) ;;
        *) echo "qloop serve ($name) printed no address within 20 s: [$url]" >&2; return 1 ;;
    esac
    echo "$url" > "$name.url"
    echo "qloop serve ($name) at $url (pid $(cat "$name.pid"))"
}
trap 'for p in serve.pid tls.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done' ERR
start_server serve
cp serve.url url
cp serve.pid pid
# The same store over HTTPS, with a certificate made for the test.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout tls.key -out tls.crt 2>/dev/null
start_server tls --tls-cert tls.crt --tls-key tls.key
