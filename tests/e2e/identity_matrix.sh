#!/usr/bin/env bash
# identity_matrix.sh — the roles × actions table of CONTRACT.md on the command
# line. One store holds a ticket of every state an action needs; for every
# actor and every action, a fresh copy of it gets the command: an allowed
# action exits 0, changes the store and records the actor's login in the
# ticket history; a refused one exits 2 with the reason and leaves the store
# exactly as it was (sqlite3 .dump before and after). Both approver kinds
# (宁波 bureau, 温州 provider_head), self-approval, disabled users, logins
# that are not users, the list filter (which tickets a user sees), and the
# single operator of a store without users.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
command -v sqlite3 >/dev/null || { echo "identity_matrix.sh needs the sqlite3 CLI" >&2; exit 1; }
PW='matrix-password'
A=市公安局

cat > rules.lua <<'EOF'
dataset "people" { key = "person_id", owner = "市公安局", sensitive = { "person_id", "phone" } }
rule "people.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$", message = "手机号格式错误" }
rule "people.name" { field = "name", not_null = true, message = "姓名为空" }
EOF
cat > orgs.lua <<'EOF'
dataset "orgs" { key = "id", owner = "市公安局" }
rule "orgs.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$" }
EOF
printf 'person_id,name,phone\n330110199001011233,张三,1234\n330110199202022345,,13812345678\n' > people.csv
printf 'id,phone\nO1,12\n' > orgs.csv
# A policy under which reports wait in 发现 for the steward (found by name).
mkdir policies
echo 'policy { name = "manual", auto_feedback = false }' > policies/manual.lua
export QLOOP_POLICY_DIR="$T/policies"

# ---- a store without users: one trusted operator ---------------------------
export QLOOP_NOW=2024-09-02T09:00:00+08:00
run_q 0 run --rules rules.lua --data people=people.csv --quiet
expect_eq "the owner registered by the run" "rules" "$(sql "SELECT seen_in FROM depts WHERE name = '$A'")"
expect_eq "its registration audited" "1" "$(sql "SELECT count(*) FROM audit WHERE kind = 'dept.register' AND subject = 'dept:$A'")"
run_q 0 tickets extend 1 --until 2024-09-20 --reason 数据量大 --actor 李四
before=$(sqlite3 "$QLOOP_DB" .dump)
run_q 2 tickets approve 1 --actor "$A"
expect_contains "operator as the ticket's department" "工单所属部门" "$ERR"
run_q 2 tickets approve 1 --actor 李四
expect_contains "operator approving their own request" "自己提出的延期申请" "$ERR"
expect_eq "refusals changed nothing" "$before" "$(sqlite3 "$QLOOP_DB" .dump)"
run_q 0 tickets reject 1 --actor 大数据局 --reason 理由不足
run_q 2 tickets file --dataset nowhere --key K1 --message x --actor 热线
expect_contains "unknown dataset refused" "nowhere" "$ERR"

# ---- users -------------------------------------------------------------------
run_q 0 depts add 大数据局 --bureau
run_q 0 depts add 市民政局
run_q 0 depts add 市税务局
add() { "$QLOOP_BIN" users add "$@" <<<"$PW" >/dev/null || fail "users add $*"; }
add admin --role admin
add admin_a --role admin --dept "$A"
add steward --role steward --dept 大数据局
add appr_b --role approver --dept 大数据局
add appr_a --role approver --dept "$A"
add appr_c --role approver --dept 市税务局
add prov_a --role provider --dept "$A"
add prov_c --role provider --dept 市税务局
add rep_r --role reporter --dept 市民政局
add rep_r2 --role reporter --dept 市民政局
add rep_c --role reporter --dept 市税务局
"$QLOOP_BIN" users add sys_s --role system </dev/null >/dev/null || fail "users add sys_s"
add leader --role leader
add off --role provider --dept "$A"
run_q 0 users disable off

# Free text no longer acts.
run_q 2 tickets extend 1 --until 2024-09-20 --reason x --actor 李四
expect_contains "free text refused once users exist" "登录名" "$ERR"

# The tickets every action needs:
#   1: run, feedback, an extension pending (asked by prov_a)   approve, reject
#   2: run, feedback, nothing pending                          resolve, extend
#   3: filed by rep_r, handed over by the steward, corrected   verify
#   4: imported by sys_s, discovered (a hand-filed ticket waits
#      for the steward under every shipped policy)             feedback
#   5: run under wenzhou, feedback, extension pending (prov_a) approve
run_q 0 tickets extend 1 --until 2024-09-20 --reason 数据量大 --actor prov_a
run_q 0 tickets file --dataset people --key 330110199001011233 --field name --message 姓名有误 --actor rep_r
T3=$(sql "SELECT id FROM tickets WHERE source = 'file'")
run_q 0 tickets feedback "$T3" --actor steward
run_q 0 tickets resolve "$T3" --as rectified --actor prov_a
echo '{"dataset":"people","key":"330110199202022345","message":"住址错误","actor":"sys_s"}' > sys.jsonl
run_q 0 tickets import sys.jsonl --policy manual
T4=$(sql "SELECT id FROM tickets WHERE source = 'import'")
run_q 0 run --rules orgs.lua --data orgs=orgs.csv --policy wenzhou --quiet
T5=$(sql "SELECT id FROM tickets WHERE dataset = 'orgs'")
run_q 0 tickets extend "$T5" --until 2024-09-12 --reason 数据量大 --actor prov_a
expect_eq "the fixture" "1 feedback|2 feedback|$T3 corrected|$T4 discovered|$T5 feedback" \
    "$(sql "SELECT group_concat(id || ' ' || state, '|') FROM (SELECT id, state FROM tickets ORDER BY id)")"
expect_eq "history records logins" "prov_a" "$(sql "SELECT actor FROM ticket_history WHERE ticket_id = 1 ORDER BY id DESC LIMIT 1")"
expect_eq "old history keeps free text" "李四" "$(sql "SELECT actor FROM ticket_history WHERE ticket_id = 1 AND event = 'extend_request' ORDER BY id LIMIT 1")"
cp "$QLOOP_DB" base.db
cp "$QLOOP_DB.key" base.db.key
rm -f base.db-wal base.db-shm

# try ACTOR WANT WHAT ARGS...: on a fresh copy of the store, run ARGS (an
# ACTOR placeholder @ is replaced by the login) and check the outcome.
try() {
    local who=$1 want=$2 what=$3; shift 3
    local args=() a
    for a in "$@"; do args+=("${a//@/$who}"); done
    cp base.db case.db
    cp base.db.key case.db.key
    local before after
    before=$(sqlite3 case.db .dump)
    set +e
    QLOOP_DB="$T/case.db" "$QLOOP_BIN" "${args[@]}" >"$T/.out" 2>"$T/.err"
    local rc=$?
    set -e
    after=$(sqlite3 case.db .dump)
    local err
    err=$(cat "$T/.err")
    if [ "$want" = Y ]; then
        if [ "$rc" != 0 ]; then fail "$what by $who: exit $rc, expected 0: $err"; return; fi
        if [ "$what" != view ] && [ "$before" = "$after" ]; then fail "$what by $who: nothing changed"; return; fi
        if [ "$what" != view ] && [ "$what" != file ] && [ "$what" != import ] && [ "$what" != catalog ]; then
            local last
            last=$(sqlite3 case.db "SELECT actor FROM ticket_history ORDER BY id DESC LIMIT 1")
            [ "$last" = "$who" ] || { fail "$what by $who: history says $last"; return; }
        fi
        ok "$what by $who allowed"
    else
        if [ "$rc" != 2 ]; then fail "$what by $who: exit $rc, expected 2 (refused): $err"; return; fi
        case "$err" in *"$who"*) ;; *) fail "$what by $who: the reason does not name who: $err"; return ;; esac
        if [ "$before" != "$after" ]; then fail "$what by $who: a refusal changed the store"; return; fi
        ok "$what by $who refused: ${err:0:80}…"
    fi
}

# Actions, in the order of the letters below.
what=(view feedback resolve extend approve reject verify file import approve_wz)
act() { # act K WHO WANT
    local who=$2 want=$3
    case $1 in
        0) try "$who" "$want" view tickets show 1 --json --actor @ ;;
        1) try "$who" "$want" feedback tickets feedback "$T4" --actor @ ;;
        2) try "$who" "$want" resolve tickets resolve 2 --as confirmed --actor @ ;;
        3) try "$who" "$want" extend tickets extend 2 --until 2024-09-20 --reason 系统改造 --actor @ ;;
        4) try "$who" "$want" approve tickets approve 1 --actor @ ;;
        5) try "$who" "$want" reject tickets reject 1 --reason 理由不足 --actor @ ;;
        6) try "$who" "$want" verify tickets verify "$T3" --pass --actor @ ;;
        7) try "$who" "$want" file tickets file --dataset people --key 330110199303033456 --field phone --message 号码停机 --actor @ ;;
        8) printf '{"dataset":"people","key":"330110199303033456","field":"phone","message":"号码停机","actor":"%s"}\n' "$who" > imp.jsonl
           try "$who" "$want" import tickets import imp.jsonl ;;
        9) try "$who" "$want" approve_wz tickets approve "$T5" --actor @ ;;
    esac
}

#            view feedback resolve extend approve reject verify file import approve(温州)
matrix="
admin        Y    Y        Y       Y      Y       Y      Y      Y    Y      Y
admin_a      Y    Y        Y       Y      N       N      Y      Y    Y      Y
steward      Y    Y        N       N      N       N      Y      Y    Y      N
appr_b       Y    N        N       N      Y       Y      N      N    N      N
appr_a       Y    N        N       N      N       N      N      N    N      Y
appr_c       N    N        N       N      N       N      N      N    N      N
prov_a       Y    N        Y       Y      N       N      N      N    N      N
prov_c       N    N        N       N      N       N      N      N    N      N
rep_r        N    N        N       N      N       N      N      Y    N      N
sys_s        N    N        N       N      N       N      N      Y    Y      N
leader       N    N        N       N      N       N      N      N    N      N
off          N    N        N       N      N       N      N      N    N      N
nobody       N    N        N       N      N       N      N      N    N      N
"
while read -r who row; do
    [ -n "$who" ] || continue
    k=0
    for want in $row; do
        act "$k" "$who" "$want"
        k=$((k + 1))
    done
done <<<"$matrix"

# Self-approval: an admin who asked cannot approve; another approver can.
cp base.db self.db
cp base.db.key self.db.key
QLOOP_DB="$T/self.db" run_q 0 tickets extend 2 --until 2024-09-20 --reason 系统改造 --actor admin
s_before=$(sqlite3 self.db .dump)
QLOOP_DB="$T/self.db" run_q 2 tickets approve 2 --actor admin
expect_contains "self-approval refused" "自己提出的延期申请" "$ERR"
QLOOP_DB="$T/self.db" run_q 2 tickets reject 2 --reason 不行 --actor admin
expect_eq "self-approval changed nothing" "$s_before" "$(sqlite3 self.db .dump)"
QLOOP_DB="$T/self.db" run_q 0 tickets approve 2 --actor appr_b
expect_contains "the decision is the approver's" "appr_b" "$(sqlite3 self.db "SELECT actor FROM ticket_history WHERE event = 'extend_approve'")"

# Importing the catalog is the same import decision; its owners become
# registered departments.
echo '{"datasets":[{"dataset":"roads","owner":"市交通局"}]}' > roads.json
try prov_a N catalog catalog import roads.json --actor @
try leader N catalog catalog import roads.json --actor @
try steward Y catalog catalog import roads.json --actor @
expect_eq "the catalog's owner registered" "catalog steward" \
    "$(sqlite3 case.db "SELECT seen_in || ' ' || registered_by FROM depts WHERE name = '市交通局'")"

# Reasons say what is wrong and who may.
try appr_a N approve tickets approve 1 --actor @
expect_contains "bureau policy names the bureau" "大数据主管部门" "$(cat "$T/.err")"
try off N resolve tickets resolve 2 --as confirmed --actor @
expect_contains "disabled user" "已停用" "$(cat "$T/.err")"
try nobody N view tickets show 1 --actor @
expect_contains "not a user" "不是本数据库的用户" "$(cat "$T/.err")"

# Who sees which tickets: the list filter is the same decision.
export QLOOP_DB="$T/base.db"
visible() { "$QLOOP_BIN" tickets list --json --actor "$1" | python3 -c 'import json,sys; print(" ".join(str(t["id"]) for t in json.load(sys.stdin)))'; }
expect_eq "admin sees all" "1 2 $T3 $T4 $T5" "$(visible admin)"
expect_eq "steward sees all" "1 2 $T3 $T4 $T5" "$(visible steward)"
expect_eq "provider sees its department's" "1 2 $T3 $T4 $T5" "$(visible prov_a)"
expect_eq "another provider sees none" "" "$(visible prov_c)"
expect_eq "reporter sees what its department filed" "$T3" "$(visible rep_r)"
expect_eq "so does its colleague" "$T3" "$(visible rep_r2)"
expect_eq "another using department sees none" "" "$(visible rep_c)"
expect_eq "a system sees what it filed" "$T4" "$(visible sys_s)"
expect_eq "bureau approver: bureau-policy tickets" "1 2 $T3 $T4" "$(visible appr_b)"
expect_eq "department approver: its department's" "1 2 $T3 $T4 $T5" "$(visible appr_a)"
expect_eq "leader sees no tickets" "" "$(visible leader)"
run_q 2 tickets list --actor off
expect_contains "disabled user lists nothing" "已停用" "$ERR"
run_q 2 tickets list --actor nobody
run_q 0 tickets list --json
expect_eq "the console sees all" "5" "$(json_get "$OUT" 'len(d)')"
run_q 0 audit verify
finish
