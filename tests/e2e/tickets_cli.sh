# The closed loop end to end through the binary: a run opens a ticket for the
# dataset's owner, staff and provider move it (refused moves exit 2 with what
# is allowed), extensions are capped by the policy, a re-run with data still
# wrong sends a corrected ticket back, a re-run with fixed data closes it as
# shared; filing by hand and by interface (all or nothing; known datasets
# only, for their owner, waiting for the steward); a ticket keeps its
# policy whatever --policy a later command names; the outbox
# exports each event once; the audit chain stays whole.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

cat > rules.lua <<'EOF'
dataset "people" { key = "id", owner = "市公安局" }
rule "people.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$", message = "手机号格式错误" }
EOF
printf 'id,name,phone\nP1,张三,13812345678\nP2,李四,1234\nP3,王五,abc\n' > people.csv

# Friday 27 Sep 2024: 5 working days (Sun 29 Sep is a make-up day, 1-7 Oct off) → 10 Oct.
export QLOOP_NOW=2024-09-27T10:00:00+08:00
run_q 0 run --rules rules.lua --data people=people.csv --json --quiet
expect_eq "run opened one ticket" "1" "$(json_get "$OUT" 'd["tickets"]["opened"]')"

run_q 0 tickets list --json
expect_eq "one ticket" "1" "$(json_get "$OUT" 'len(d)')"
expect_eq "list fields" "1 people people.phone 市公安局 feedback 2 False" \
    "$(json_get "$OUT" '" ".join(str(d[0][k]) for k in ("id","dataset","rule","dept","state","items","overdue"))')"
expect_eq "received_at" "2024-09-27T10:00:00+08:00" "$(json_get "$OUT" 'd[0]["received_at"]')"
expect_eq "deadline" "2024-10-10" "$(json_get "$OUT" 'd[0]["deadline"][:10]')"
expect_eq "opened_at" "2024-09-27" "$(json_get "$OUT" 'd[0]["opened_at"][:10]')"

run_q 0 tickets show 1 --json
expect_eq "records" "2" "$(json_get "$OUT" 'len(d["records"])')"
expect_eq "record fields" "P2 phone 1234 open 2" \
    "$(json_get "$OUT" '" ".join(str(d["records"][0][k]) for k in ("record_key","field","value","state","row_no"))')"
expect_eq "history" "None>discovered discovered>feedback" \
    "$(json_get "$OUT" '" ".join("%s>%s" % (h["from"], h["to"]) for h in d["history"])')"
expect_eq "history deadline" "None 2024-10-10" \
    "$(json_get "$OUT" '"%s %s" % (d["history"][1]["deadline_before"], d["history"][1]["deadline_after"][:10])')"

run_q 0 tickets show 1
expect_contains "human show" "状态：反馈（feedback）" "$OUT"
# P2 is the second record, on the file's third line: a data row, said so.
expect_contains "a data row, named as one" "[未整改] 数据第 2 行  主键 P2" "$OUT"
expect_contains "what a data row is" "不计表头，不是文件的行号" "$OUT"
run_q 0 tickets list
expect_contains "human list" "反馈" "$OUT"

# Refused moves: exit 2, naming what is allowed.
run_q 2 tickets feedback 1 --actor 王五
expect_contains "refused feedback" "当前允许" "$ERR"
expect_contains "allowed resolve" "resolve --as rectified" "$ERR"
run_q 2 tickets approve 1 --actor 局长
expect_contains "no pending request" "没有待审批的延期申请" "$ERR"
run_q 2 tickets feedback 99 --actor 王五
expect_contains "unknown ticket" "不存在" "$ERR"
run_q 2 tickets resolve 1 --as fixed --actor 李四
run_q 2 tickets resolve 1 --as rectified
expect_contains "actor required" "--actor" "$ERR"
run_q 2 tickets list --state closed
run_q 2 tickets list --bogus

# Extensions: ningbo caps at 60 natural days from receipt, wenzhou at 15 working days more.
export QLOOP_NOW=2024-09-30T09:00:00+08:00
run_q 2 tickets extend 1 --until 2024-12-31 --reason 数据量大 --actor 李四
expect_contains "ningbo cap" "最晚可延至 2024-11-26" "$ERR"
# A ticket keeps the policy it was opened under: --policy wenzhou on a
# ningbo ticket does not bring wenzhou's cap (30 Oct) with it.
run_q 2 tickets extend 1 --until 2024-12-31 --reason 数据量大 --actor 李四 --policy wenzhou
expect_contains "ningbo cap under --policy wenzhou" "最晚可延至 2024-11-26" "$ERR"
expect_contains "named as ningbo's" "宁波" "$ERR"
case "$ERR" in *2024-10-30*|*温州*) fail "wenzhou's cap applied to a ningbo ticket: $ERR" ;; esac
run_q 2 tickets extend 1 --until 2024-10-18 --reason x --actor 李四 --policy nosuchcity
expect_contains "unknown policy" "nosuchcity" "$ERR"
run_q 0 tickets extend 1 --until 2024-10-18 --reason 数据量大 --actor 李四
run_q 0 tickets reject 1 --actor 局长 --reason 理由不足
run_q 0 tickets show 1 --json
expect_eq "rejected keeps deadline" "2024-10-10" "$(json_get "$OUT" 'd["deadline"][:10]')"
run_q 0 tickets extend 1 --until 2024-10-18 --reason 需核对历史数据 --actor 李四
run_q 0 tickets approve 1 --actor 局长
run_q 0 tickets show 1 --json
expect_eq "approved deadline" "2024-10-18" "$(json_get "$OUT" 'd["deadline"][:10]')"
expect_eq "approve history" "extend_approve 2024-10-10 2024-10-18 局长" \
    "$(json_get "$OUT" '"%s %s %s %s" % (d["history"][-1]["event"], d["history"][-1]["deadline_before"][:10], d["history"][-1]["deadline_after"][:10], d["history"][-1]["actor"])')"

# Overdue after the extended deadline.
export QLOOP_NOW=2024-10-19T09:00:00+08:00
run_q 0 tickets list --overdue --json
expect_eq "overdue" "1 True" "$(json_get "$OUT" '"%d %s" % (len(d), d[0]["overdue"])')"
run_q 0 tickets list --overdue --dept 市民政局 --json
expect_eq "overdue other dept" "0" "$(json_get "$OUT" 'len(d)')"

# 完成整改; the re-check still finds P3 wrong: back to feedback, deadline unchanged.
run_q 0 tickets resolve 1 --as rectified --actor 李四 --note 已更正
run_q 0 tickets list --state corrected --json
expect_eq "corrected" "1" "$(json_get "$OUT" 'len(d)')"
printf 'id,name,phone\nP1,张三,13812345678\nP2,李四,13912345678\nP3,王五,abc\n' > people.csv
export QLOOP_NOW=2024-10-20T02:00:00+08:00
run_q 0 run --rules rules.lua --data people=people.csv --json --quiet
expect_eq "reverified" "1" "$(json_get "$OUT" 'd["tickets"]["reverified"]')"
run_q 0 tickets show 1 --json
expect_eq "back to feedback" "feedback 2024-09-27T10:00:00+08:00 2024-10-18 1" \
    "$(json_get "$OUT" '"%s %s %s %d" % (d["state"], d["received_at"], d["deadline"][:10], d["items"])')"
expect_eq "item states" "fixed open" "$(json_get "$OUT" '" ".join(r["state"] for r in d["records"])')"

# Fixed data: the re-check passes and the ticket is shared (closed).
export QLOOP_NOW=2024-10-21T10:00:00+08:00
run_q 0 tickets resolve 1 --as rectified --actor 李四
printf 'id,name,phone\nP1,张三,13812345678\nP2,李四,13912345678\nP3,王五,13712345678\n' > people.csv
export QLOOP_NOW=2024-10-22T02:00:00+08:00
run_q 0 run --rules rules.lua --data people=people.csv --json --quiet
run_q 0 tickets show 1 --json
expect_eq "shared" "shared 0" "$(json_get "$OUT" '"%s %d" % (d["state"], d["items"])')"
expect_eq "closed_at" "2024-10-22" "$(json_get "$OUT" 'd["closed_at"][:10]')"
run_q 2 tickets resolve 1 --as confirmed --actor 李四
expect_contains "closed ticket refuses" "已关闭" "$ERR"
run_q 0 run --rules rules.lua --data people=people.csv --json --quiet
expect_eq "no new tickets on clean re-run" "0" "$(json_get "$OUT" 'd["tickets"]["opened"]')"

# 系统填报: the dataset's owner is the department; the ticket waits in 发现
# until the steward hands it over.
run_q 0 tickets file --dataset people --key P1 --field name --message 姓名有错别字 --actor 窗口人员
run_q 0 tickets show 2 --json
expect_eq "filed ticket" "manual 市公安局 discovered 1 None" \
    "$(json_get "$OUT" '"%s %s %s %d %s" % (d["rule"], d["dept"], d["state"], d["items"], d["deadline"])')"
run_q 0 tickets feedback 2 --actor 数据治理科
run_q 0 tickets show 2 --json
expect_eq "handed over by the steward" "feedback 2024-10-29" \
    "$(json_get "$OUT" '"%s %s" % (d["state"], d["deadline"][:10])')"
# Only known datasets, only their owner: nothing is filed otherwise.
before=$(sql "SELECT count(*) FROM tickets")
run_q 2 tickets file --dataset peple --key P1 --message 姓名有错别字 --actor 窗口人员
expect_contains "unknown dataset refused" "数据集「peple」不在本库中" "$ERR"
expect_contains "known datasets named" "people" "$ERR"
run_q 2 tickets file --dataset people --key P3 --message x --actor 窗口人员 --dept 市场监督局
expect_contains "free-text department refused" "数源部门是「市公安局」" "$ERR"
expect_eq "nothing filed" "$before" "$(sql "SELECT count(*) FROM tickets")"
run_q 0 tickets file --dataset people --key P1 --message 姓名有错别字 --actor 窗口人员
expect_contains "duplicate report" "未重复登记" "$OUT"
run_q 2 tickets file --dataset people --message x --actor y
expect_contains "key required" "--key" "$ERR"

# 接口对接: all or nothing, on datasets the store knows (here from the catalog,
# which registers their owner).
echo '{"datasets":[{"dataset":"firms","owner":"市场监管局"}]}' > catalog.json
run_q 0 catalog import catalog.json --actor 张三
cat > good.jsonl <<'EOF'
{"dataset":"firms","key":"F1","field":"uscc","message":"信用代码校验位错误","actor":"市场监管系统","dept":"市场监管局"}

{"dataset":"firms","key":"F2","field":"name","message":"名称与登记不符","actor":"市场监管系统","dept":"市场监管局"}
EOF
cat > bad.jsonl <<'EOF'
{"dataset":"firms","key":"F3","field":"uscc","message":"错误","actor":"市场监管系统"}
{"dataset":"firms","key":"F4","field":"uscc","actor":"市场监管系统"}
EOF
before=$(sql "SELECT count(*) FROM ticket_items")
run_q 2 tickets import bad.jsonl
expect_contains "bad line named" "bad.jsonl:2" "$ERR"
expect_contains "what is missing" "message" "$ERR"
expect_eq "nothing imported" "$before" "$(sql "SELECT count(*) FROM ticket_items")"
printf '{"dataset":"firms","key":"F5","message":"x","actor":"a"}\nnot json\n' > broken.jsonl
run_q 2 tickets import broken.jsonl
expect_contains "broken line named" "broken.jsonl:2" "$ERR"
run_q 0 tickets import good.jsonl
expect_contains "import summary" "新登记 2 条" "$OUT"
run_q 0 tickets list --dept 市场监管局 --json
expect_eq "imported ticket" "1 2 import discovered" \
    "$(json_get "$OUT" '"%d %d %s %s" % (len(d), d[0]["items"], d[0]["source"], d[0]["state"])')"
run_q 0 tickets import good.jsonl
expect_contains "re-import deduped" "2 条已在未关闭的工单中" "$OUT"

# The outbox: every event once.
run_q 0 outbox export --jsonl
lines=$(printf '%s\n' "$OUT" | grep -c '^{' || true)
kinds=$(printf '%s\n' "$OUT" | python3 -c 'import json,sys; print(" ".join(sorted(set(json.loads(l)["kind"] for l in sys.stdin if l.strip()))))')
expect_contains "feedback event" "ticket.feedback" "$kinds"
expect_contains "extension events" "extension.approved" "$kinds"
expect_contains "recheck event" "ticket.recheck_failed" "$kinds"
expect_contains "closed event" "ticket.closed" "$kinds"
expect_eq "all exported" "$lines" "$(sql "SELECT count(*) FROM outbox WHERE exported_at IS NOT NULL")"
run_q 0 outbox export --jsonl
expect_eq "nothing twice" "" "$OUT"
export QLOOP_NOW=2024-10-31T09:00:00+08:00
run_q 0 outbox export --jsonl
expect_contains "overdue found by export" "ticket.overdue" "$OUT"
run_q 0 outbox export --jsonl
expect_eq "overdue once" "" "$OUT"

# A ticket opened under wenzhou is held to wenzhou's cap without --policy.
cat > orgs.lua <<'EOF2'
dataset "orgs" { key = "id", owner = "市民政局" }
rule "orgs.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$" }
EOF2
printf 'id,phone\nO1,12\n' > orgs.csv
export QLOOP_NOW=2024-11-01T10:00:00+08:00
run_q 0 run --rules orgs.lua --data orgs=orgs.csv --policy wenzhou --quiet
id=$(sql "SELECT id FROM tickets WHERE dataset = 'orgs' AND rule = 'orgs.phone'")
expect_eq "stamped with its policy" "wenzhou 2024-11-08" \
    "$(sql "SELECT policy || ' ' || substr(deadline, 1, 10) FROM tickets WHERE id = $id")"
run_q 2 tickets extend "$id" --until 2024-12-02 --reason 数据量大 --actor 李四
expect_contains "ticket keeps its policy" "最晚可延至 2024-11-29" "$ERR"
run_q 0 tickets extend "$id" --until 2024-11-29 --reason 数据量大 --actor 李四
run_q 0 outbox export --jsonl
expect_contains "approver under wenzhou" '"recipient":"市民政局 数源部门负责人"' "$OUT"

run_q 0 tickets --help
expect_contains "help" "qloop tickets" "$OUT"
run_q 0 audit verify
expect_contains "audit whole" "ok" "$OUT"
finish
