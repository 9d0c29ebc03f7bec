# rules/examples/closed-loop.sh — the README's walk through the closed loop
# — runs as written on the bundled sample and does what it says: tickets
# handed to the provider, a 完成整改 the next night's re-check sends back
# with its deadline unchanged, an approved extension, a filed report handed
# over urgently by the steward, imported reports waiting in 发现, the
# notifications exported, the audit chain whole. Every qloop line the README
# shows for it is a line of the script.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
command -v jq >/dev/null || { echo "closed_loop.sh needs jq (apt-get install jq)" >&2; exit 1; }
script="$QLOOP_SOURCE_DIR/rules/examples/closed-loop.sh"

set +e
QLOOP_DB="$T/loop.db" bash "$script" >out.txt 2>err.txt
rc=$?
set -e
expect_eq "the script runs to the end" "0" "$rc"
[ "$rc" = 0 ] || cat err.txt >&2
out=$(cat out.txt)
export QLOOP_DB="$T/loop.db"
export QLOOP_NOW=2026-11-24T09:00:00+08:00
tickets=$("$QLOOP_BIN" tickets list --json)
jqt() { jq -r "$1" <<<"$tickets"; }

expect_eq "the phone ticket went back to 反馈, deadline unchanged" \
    "feedback 2026-11-30" \
    "$(jqt '.[] | select(.rule == "people.phone_format") | "\(.state) \(.deadline[:10])"')"
expect_eq "the extension was approved" "2026-12-18" \
    "$(jqt '.[] | select(.rule == "people.name_present") | .deadline[:10]')"
expect_eq "the filed report: 市公安局, handed over urgently" "市公安局 feedback true 2026-11-25" \
    "$(jqt '.[] | select(.source == "file") | "\(.dept) \(.state) \(.urgent) \(.deadline[:10])"')"
expect_eq "the imported reports wait for the steward" "discovered discovered" \
    "$(jqt '[.[] | select(.source == "import") | .state] | join(" ")')"
expect_contains "the re-check told the provider" "运行复核未通过" "$out"
# the number it gave: the ticket's open items the night found failing again
# (counted by the refresh's merge, loop/ticket_refresh.c)
reason=$(sql "SELECT reason FROM ticket_history WHERE event = 'recheck_fail' ORDER BY id DESC LIMIT 1")
failing=$(sql "SELECT count(*) FROM ticket_items i JOIN ticket_history h ON h.ticket_id = i.ticket_id
  AND h.event = 'recheck_fail' WHERE i.state = 'open' AND EXISTS (SELECT 1 FROM findings f
  WHERE f.run_id = h.run_id AND f.dataset = i.dataset AND f.rule = i.rule AND f.record_ref = i.record_ref)")
expect_eq "the re-check's count of records still failing" "运行复核未通过：$failing 条记录仍不符合规则" \
    "${reason%%，*}"
[ "$failing" -gt 0 ] || fail "no open item failing again in the re-checked ticket"
expect_eq "the notifications were exported" "0" \
    "$("$QLOOP_BIN" outbox export --jsonl | wc -l | tr -d ' ')"
expect_eq "the outbox file" "yes" "$([ -s "$T/loop-outbox.jsonl" ] && echo yes)"
expect_contains "the audit chain is whole" "ok " "$(tail -n 1 out.txt)"

# The README shows the script's own lines.
readme=$(awk '/^## The closed loop/{f=1} f && /^```sh/{b=1; next} b && /^```/{exit} b' \
    "$QLOOP_SOURCE_DIR/README.md")
[ -n "$readme" ] || fail "no code block under ## The closed loop in README.md"
while IFS= read -r line; do
    grep -qxF "$line" "$script" || fail "README line not in the script: $line"
done <<<"$readme"
ok "every README line is the script's"
finish
