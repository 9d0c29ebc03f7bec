#!/usr/bin/env bash
# stop.sh — the clean-up of the portal's tests (ctest fixture web_server):
# stops the servers start.sh started (by their process ids), waiting at most
# 10 s for each before killing it, and shows the end of their logs; a clean
# stop says so in the log.
set -uo pipefail
: "${QLOOP_WEB_DIR:?}"
W="$QLOOP_WEB_DIR"
rc=0
for name in serve tls; do
    [ -f "$W/$name.pid" ] || continue
    pid=$(cat "$W/$name.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "qloop serve ($name) did not stop within 10 s; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
        rc=1
    fi
    rm -f "$W/$name.pid"
    echo "qloop serve ($name) stopped; last lines of its log:"
    tail -n 3 "$W/$name.log"
    grep -q "停止服务" "$W/$name.log" || { echo "no clean stop in $name.log" >&2; rc=1; }
done
rm -f "$W/pid"
exit $rc
