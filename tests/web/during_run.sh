#!/usr/bin/env bash
# during_run.sh — the portal beside a nightly run on the same store (server
# of the fixture web_server): W1 over 200,000 generated records is run once
# (its tickets go to 市公安局), then again; while the second run is still
# reading, a provider (prov_run) answers one of its tickets through the API
# and lists its tickets: both are answered at once, the run completes, the
# answer is kept, and the run's re-check saw it (still failing records send
# the ticket back to 反馈: rectified, then recheck_fail). The second run
# reads its data from a named pipe filled in two halves, so the answer is
# given while it is surely reading, however fast the night (the verdict memo
# makes a second night fast) or loaded the machine. Only the pop dataset's
# tickets are touched, so the other tests can run meanwhile.
set -euo pipefail
: "${QLOOP_BIN:?}" "${QLOOP_WEB_DIR:?}" "${QLOOP_SOURCE_DIR:?}" "${QLOOP_BUILD_DIR:?}"
W="$QLOOP_WEB_DIR"
URL=$(cat "$W/url")
export QLOOP_DB="$W/q.db" QLOOP_NOW=2024-09-12T10:00:00+08:00
T=$(mktemp -d "${TMPDIR:-/tmp}/qloop-during-run.XXXXXX")
RUN=
trap '[ -n "$RUN" ] && kill "$RUN" 2>/dev/null; rm -rf "$T"' EXIT
FAILS=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
DIV=() GENDIV=(--divisions-txt "$QLOOP_SOURCE_DIR/engine/data/divisions_bundled.txt")
if [ -f "${QLOOP_SHARED_REF:-$QLOOP_SOURCE_DIR/../shared/ref}/divisions.csv" ]; then
    DIV=(--divisions "${QLOOP_SHARED_REF:-$QLOOP_SOURCE_DIR/../shared/ref}/divisions.csv"); GENDIV=("${DIV[@]}")
fi
"$QLOOP_BUILD_DIR/gen_w1" 200000 "$T/pop.csv" --seed 9 "${GENDIV[@]}" >/dev/null
run() { timeout 300 "$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop="$1" "${DIV[@]}" --wait --quiet; }
run "$T/pop.csv"
ticket=$(sqlite3 "$QLOOP_DB" "SELECT id FROM tickets WHERE rule = 'pop.phone_valid'")

curl_json() { curl -s --max-time 60 -b "$T/jar" -c "$T/jar" -H 'Content-Type: application/json' "$@"; }
csrf=$(curl_json -d '{"login":"prov_run","password":"'"$(cat "$W/password")"'"}' "${URL}api/v1/session" |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["csrf"])')

mkfifo "$T/pipe.csv"
run "$T/pipe.csv" > "$T/run2.out" 2> "$T/run2.err" &
RUN=$!
# held open read-write (Linux opens a FIFO so without waiting for a reader);
# each write has its own bound, should the run never read
exec 3<> "$T/pipe.csv"
timeout 120 head -n 100001 "$T/pop.csv" >&3 || fail "the run did not read its first half: $(cat "$T/run2.err")"
t0=$(date +%s%N)
status=$(curl_json -o "$T/answer.json" -w '%{http_code}' -H "X-CSRF-Token: $csrf" \
         -d '{"as":"rectified","note":"已整改（运行期间）"}' "${URL}api/v1/tickets/$ticket/resolve")
answer_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
alive=no; kill -0 "$RUN" 2>/dev/null && alive=yes
list=$(curl_json -o /dev/null -w '%{http_code}' "${URL}api/v1/tickets")
[ "$status" = 200 ] && ok "answered during the run (${answer_ms} ms)" || fail "the answer: HTTP $status $(cat "$T/answer.json")"
[ "$alive" = yes ] && ok "the run was still going when the answer came back" ||
    fail "the run had ended before the answer came back: $(cat "$T/run2.err")"
[ "$list" = 200 ] && ok "listed during the run" || fail "the list during the run: HTTP $list"
timeout 120 tail -n +100002 "$T/pop.csv" >&3 || fail "the run did not read its second half: $(cat "$T/run2.err")"
exec 3>&-
rc=0; wait "$RUN" || rc=$?
RUN=
[ "$rc" = 0 ] && ok "the run completed" || fail "the run exited $rc: $(cat "$T/run2.err")"
events=$(sqlite3 "$QLOOP_DB" "SELECT group_concat(event || ':' || actor, ' ') FROM (SELECT event, actor FROM ticket_history
          WHERE ticket_id = $ticket AND event IN ('rectified', 'recheck_fail') ORDER BY id)")
[ "$events" = "rectified:prov_run recheck_fail:system" ] && ok "the answer kept, and re-checked by the run" ||
    fail "history of #$ticket: [$events]"
state=$(sqlite3 "$QLOOP_DB" "SELECT state FROM tickets WHERE id = $ticket")
[ "$state" = feedback ] && ok "still failing records: back to 反馈" || fail "state $state"
"$QLOOP_BIN" audit verify >/dev/null && ok "the audit chain verifies" || fail "audit verify"
if [ "$FAILS" -gt 0 ]; then echo "$FAILS check(s) failed" >&2; exit 1; fi
echo "all checks passed"
