#!/usr/bin/env bash
# stop.sh — the clean-up of the portal's tests (ctest fixture web_server):
# stops the server start.sh started (by its process id), waiting at most 10 s
# before killing it, and shows the end of its log.
set -uo pipefail
: "${QLOOP_WEB_DIR:?}"
W="$QLOOP_WEB_DIR"
[ -f "$W/pid" ] || { echo "no server to stop"; exit 0; }
pid=$(cat "$W/pid")
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if kill -0 "$pid" 2>/dev/null; then
    echo "qloop serve did not stop within 10 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$W/pid"
    exit 1
fi
rm -f "$W/pid"
echo "qloop serve stopped; last lines of its log:"
tail -n 5 "$W/serve.log"
# A clean stop says so in the log.
grep -q "停止服务" "$W/serve.log"
