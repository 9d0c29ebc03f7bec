#!/usr/bin/env bash
# identity_cli.sh — `qloop depts` and `qloop users` end to end: add creates
# the store, list/disable/key need an existing one (exit 2 naming it); one
# bureau; users need a registered department where their role has one;
# passwords come from stdin and appear nowhere — not on stdout or stderr,
# not in the audit chain, not in the store except as an Argon2id hash; an
# API key is printed alone on stdout once and stored only hashed; a
# disabled user's key stops working (no new one is issued); the audit
# chain stays whole.
. "$(dirname "$0")/../lib/e2e.sh"
export QLOOP_NOW=2024-09-02T09:00:00+08:00
PW='Very-Secret-Passw0rd'

# Commands that need a store do not create one.
for c in "depts list" "users list" "users disable wang" "users key erp"; do
    run_q 2 $c
    expect_contains "$c: no store" "数据库不存在" "$ERR"
    [ ! -e "$QLOOP_DB" ] || fail "$c created the store"
done

# depts add creates the store and its key file.
run_q 0 depts add 大数据局 --bureau --code 11330200MB0000000X
expect_contains "bureau registered" "大数据主管部门" "$OUT"
[ -f "$QLOOP_DB" ] && [ -f "$QLOOP_DB.key" ] || fail "depts add did not create the store and its key"
run_q 0 depts add 市公安局
run_q 2 depts add 市公安局 --bureau
expect_contains "one bureau" "大数据局" "$ERR"
run_q 2 depts add 市税务局 --code 11330200MB0000000X
expect_contains "code taken" "已属于" "$ERR"
run_q 2 depts add ''
run_q 2 depts add 市公安局 --what
run_q 0 depts list --json
expect_eq "two departments" "2" "$(json_get "$OUT" 'len(d)')"
expect_eq "the bureau" "大数据局" "$(json_get "$OUT" '[x["name"] for x in d if x["bureau"]][0]')"

# users add: role, department, password from stdin.
"$QLOOP_BIN" users add wang --role provider --dept 市公安局 --name 王五 <<<"$PW" >"$T/o" 2>"$T/e" || fail "users add wang"
run_q 2 users add li --role provider <<<"$PW"
expect_contains "provider needs a dept" "--dept" "$ERR"
run_q 2 users add li --role provider --dept 市民政局 <<<"$PW"
expect_contains "unknown dept" "qloop depts add" "$ERR"
run_q 2 users add li --role chief --dept 市公安局 <<<"$PW"
expect_contains "unknown role" "approver" "$ERR"
run_q 2 users add li --role leader <<<"short"
expect_contains "short password" "至少 8 个字符" "$ERR"
run_q 2 users add li --role leader </dev/null
run_q 2 users add wang --role leader <<<"$PW"
expect_contains "login taken" "已被使用" "$ERR"
run_q 2 users add 'wang li' --role leader <<<"$PW"
run_q 0 users add erp --role system </dev/null
run_q 0 users add 张三 --role steward --dept 大数据局 <<<"$PW"

# users key: alone on stdout, once; only for system users.
run_q 0 users key erp
KEY=$OUT
expect_eq "key alone on stdout" "1" "$(printf '%s\n' "$OUT" | wc -l)"
case "$KEY" in qk_*) ok "key format" ;; *) fail "key format: $KEY" ;; esac
run_q 0 users key erp
[ "$OUT" != "$KEY" ] || fail "a second key equals the first"
run_q 2 users key wang
expect_contains "key only for system users" "system" "$ERR"
run_q 2 users key nobody

run_q 0 users list --json
expect_eq "three users" "3" "$(json_get "$OUT" 'len(d)')"
expect_eq "one live key" "1" "$(json_get "$OUT" '[u["api_keys"] for u in d if u["login"]=="erp"][0]')"

# No secret anywhere but as a hash.
dump=$(sqlite3 "$QLOOP_DB" .dump)
case "$dump" in *"$PW"*) fail "the password is in the store" ;; *) ok "password not in the store" ;; esac
case "$dump" in *"${KEY#qk_*_}"*) fail "the key is in the store" ;; *) ok "key not in the store" ;; esac
expect_eq "argon2id hash" '$argon2id$v=19$m=65536,t=2,p=1$' "$(sql "SELECT substr(password_hash, 1, 31) FROM users WHERE login = 'wang'")"
case "$(cat "$T/o" "$T/e")" in *"$PW"*) fail "the password was printed" ;; *) ok "password not printed" ;; esac
expect_eq "audited" "3" "$(sql "SELECT count(*) FROM audit WHERE kind = 'user.add'")"
expect_eq "keys audited" "2" "$(sql "SELECT count(*) FROM audit WHERE kind = 'user.key'")"
expect_contains "console actor" "console:" "$(sql "SELECT actor FROM audit WHERE kind = 'user.add' LIMIT 1")"

# disable: sessions end, keys revoked, no new key.
run_q 0 users disable erp
expect_contains "disabled" "已停用" "$OUT"
run_q 0 users disable erp
expect_eq "key revoked" "0" "$(sql "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL")"
run_q 2 users key erp
expect_contains "no key for a disabled user" "已停用" "$ERR"
run_q 2 users disable nobody

# An owner that cannot be a department's name stops the run, naming the dataset.
printf 'dataset "people" { key = "id", owner = " 市公安局" }\nrule "people.phone" { field = "phone", pattern = "^1" }\n' > bad_owner.lua
printf 'id,phone\n1,2\n' > people.csv
run_q 2 run --rules bad_owner.lua --data people=people.csv
expect_contains "bad owner names its dataset" "数据集「people」的数源部门" "$ERR"
expect_eq "nothing stored" "0" "$(sql "SELECT count(*) FROM runs")"

run_q 0 audit verify
expect_contains "chain whole" "ok" "$OUT"
run_q 0 users --help
expect_contains "help lists roles" "provider_head" "$OUT"
run_q 2 users frobnicate
finish
