#!/usr/bin/env bash
# The closed loop 发现-反馈-修正-共享 on the bundled sample, step by step, as
# the README shows it: two nights of runs and what staff, the provider
# departments and the bureau do in between. It works on a store of its own
# (QLOOP_DB, default ./closed-loop.db, made afresh) on a fixed calendar
# (QLOOP_NOW), so the deadlines it names hold whatever today is. Ticket
# numbers are looked up by rule, never assumed. Needs jq.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
qloop() { "${QLOOP_BIN:-$root/build/qloop}" "$@"; }
export QLOOP_DB="${QLOOP_DB:-$PWD/closed-loop.db}"
rm -f "$QLOOP_DB" "$QLOOP_DB-wal" "$QLOOP_DB-shm" "$QLOOP_DB.key" "$QLOOP_DB.lock"
ex="$root/rules/examples"
# ticket RULE [SOURCE]: the number of the open ticket of RULE (from a run,
# or from SOURCE: file for 系统填报, import for 接口对接).
ticket() {
    qloop tickets list --json |
        jq -r --arg r "$1" --arg s "${2:-run}" '.[] | select(.rule == $r and .source == $s) | .id'
}
step() { printf '\n== %s\n' "$*"; }

step "周一 02:00 夜间运行：导入资源目录，校验样例数据，工单交数源部门（答复期限 5 个工作日）"
export QLOOP_NOW=2026-11-23T02:00:00+08:00
qloop catalog import "$ex/catalog.csv" --actor nightly
qloop run --rules "$ex" --quiet --json | jq -c '.tickets'
qloop tickets list --state 反馈            # the state in English or Chinese: feedback = 反馈
phone=$(ticket people.phone_format)
names=$(ticket people.name_present)

step "周一上午：数源部门答复，申请延期，主管部门审批"
export QLOOP_NOW=2026-11-23T10:00:00+08:00
qloop tickets resolve "$phone" --as rectified --actor 市公安局 --note "已按规则更正"
qloop tickets extend "$names" --until 2026-12-18 --reason "需要系统改造" --actor 市公安局
qloop tickets approve "$names" --actor 大数据局

step "人工填报（系统填报）：先在 发现，由数据治理人员核实后交办（可加急、自定期限）"
qloop tickets file --dataset people --key 331004194808303313 --field phone \
    --message "号码停机" --actor 热线
filed=$(ticket manual file)
qloop tickets feedback "$filed" --actor 数据治理科 --urgent --deadline 2026-11-25T18:00:00+08:00

step "接口对接：每行一条问题报告"
qloop tickets import "$ex/reports.jsonl"
qloop tickets list --state 发现

step "周二 02:00 夜间运行：复核。号码仍有误，“完成整改”的工单退回 反馈，期限不变"
export QLOOP_NOW=2026-11-24T02:00:00+08:00
qloop run --rules "$ex" --quiet --json | jq -c '.tickets'
qloop tickets show "$phone" | sed -n 1,8p

step "周二上午：通知导出给邮件或消息网关（每条只导出一次），审计链校验"
export QLOOP_NOW=2026-11-24T09:00:00+08:00
outbox="${QLOOP_DB%.db}-outbox.jsonl"
qloop outbox export --jsonl > "$outbox"
jq -r '"\(.kind)\t\(.recipient)"' "$outbox" | sort | uniq -c
jq -r 'select(.kind != "ticket.feedback") | .message' "$outbox"
qloop tickets list --overdue --json | jq length
qloop audit verify
