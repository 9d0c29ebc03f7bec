# The one option parser, from outside: every command and subcommand prints
# its own help for -h/--help wherever it stands (exit 0), refuses an unknown
# option, a missing value, a value given to a flag and an option given twice
# with exit 2 naming the option and showing its usage line; --opt=VALUE works
# wherever --opt VALUE does; --state takes the Chinese state names; qloop
# --version prints the project's version; engine errors map to 2 (the user
# can fix the store) or 3 (anything else).
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
command -v sqlite3 >/dev/null || { echo "cli_options.sh needs the sqlite3 CLI" >&2; exit 1; }

# --version: the version CMakeLists.txt's project() declares.
want=$(sed -n 's/^project(qloop VERSION \([0-9.]*\).*/\1/p' "$QLOOP_SOURCE_DIR/CMakeLists.txt")
run_q 0 --version
expect_eq "--version" "qloop $want" "$OUT"

# Every subcommand: its own help, wherever -h/--help stands; an unknown
# option names itself and shows that subcommand's usage line.
subs="run check eval prune
tickets:list tickets:show tickets:feedback tickets:resolve tickets:extend tickets:approve
tickets:reject tickets:verify tickets:file tickets:import
calendar:workday calendar:deadline calendar:load calendar:show
audit:verify audit:list catalog:import catalog:check catalog:show catalog:history
report:annual report:scorecard outbox:export"
for s in $subs; do
    words=${s/:/ }
    # shellcheck disable=SC2086
    run_q 0 $words --help
    expect_contains "$words --help" "用法：qloop $words" "$OUT"
    case "$OUT" in *"子命令 [选项]"*) fail "$words --help printed the group's help" ;; esac
    # shellcheck disable=SC2086
    run_q 0 $words --db "$T/none.db" -h
    expect_contains "$words ... -h" "用法：qloop $words" "$OUT"
    # shellcheck disable=SC2086
    run_q 2 $words --no-such-option
    expect_contains "$words: unknown option named" "未知选项 --no-such-option" "$ERR"
    expect_contains "$words: usage line" "用法：qloop $words" "$ERR"
    [ "$OUT" = "" ] || fail "$words: usage error wrote to stdout: $OUT"
done
[ ! -e "$T/none.db" ] || fail "--help created a store"
# help before the subcommand word, and after its arguments
run_q 0 tickets -h resolve
expect_contains "help before the subcommand" "用法：qloop tickets resolve" "$OUT"
run_q 0 tickets resolve 12 --as rectified --help
expect_contains "help after arguments" "--note" "$OUT"
run_q 0 tickets list --no-such-option --state --help
expect_contains "help wins over usage errors" "用法：qloop tickets list" "$OUT"
expect_eq "help after a usage error: stderr" "" "$ERR"
run_q 0 tickets --help
expect_contains "group help" "子命令" "$OUT"
run_q 2 tickets
expect_contains "no subcommand" "缺少子命令" "$ERR"
run_q 2 tickets frobnicate
expect_contains "unknown subcommand" "未知子命令“frobnicate”" "$ERR"

# A store with tickets: one corrected, one in feedback.
cat > rules.lua <<'EOF'
dataset "people" { key = "id", owner = "市公安局" }
rule "people.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$", message = "手机号格式错误" }
rule "people.name" { field = "name", not_null = true, message = "姓名为空" }
EOF
printf 'id,name,phone\nP1,张三,1234\nP2,,13812345678\n' > people.csv
export QLOOP_NOW=2024-09-27T10:00:00+08:00
db="$T/eq.db"
# --opt=VALUE for run (it used to take only --db PATH)
run_q 0 run --rules=rules.lua --data=people=people.csv --db="$db" --json --quiet
expect_eq "run --db=PATH wrote there" "2" "$(json_get "$OUT" 'd["tickets"]["opened"]')"
[ ! -e "$QLOOP_DB" ] || fail "run --db=PATH also wrote the default store"
run_q 0 tickets resolve 1 --as=rectified --actor=李四 --db="$db"
run_q 0 tickets list --db "$db" --state corrected --json
expect_eq "--opt=VALUE moved the ticket" "1" "$(json_get "$OUT" '",".join(str(t["id"]) for t in d)')"

# --state in Chinese: the same tickets as in English, for all six states.
for pair in discovered:发现 feedback:反馈 corrected:修正 shared:共享 confirmed:确认无误 negotiated:沟通解决; do
    en=${pair%%:*} zh=${pair#*:}
    run_q 0 tickets list --db "$db" --state "$en" --json
    e=$OUT
    run_q 0 tickets list --db "$db" --state="$zh" --json
    expect_eq "--state $zh = --state $en" "$e" "$OUT"
done
run_q 0 tickets list --db "$db" --state 反馈 --json
expect_eq "--state 反馈" "2" "$(json_get "$OUT" '",".join(str(t["id"]) for t in d)')"
run_q 0 tickets list --db "$db" --state 修正
expect_contains "--state 修正, text" "#1" "$OUT"
run_q 2 tickets list --db "$db" --state 反馈中
expect_contains "bad state names the choices" "negotiated（沟通解决）" "$ERR"

# Missing values, flags with values, repeats, extra words, bad text.
run_q 2 tickets list --db "$db" --state
expect_contains "missing value" "选项 --state 缺少取值" "$ERR"
run_q 2 tickets list --state --json --db "$db"
expect_contains "an option is not a value" "选项 --state 缺少取值" "$ERR"
run_q 2 run --rules rules.lua --db
expect_contains "run: missing value" "选项 --db 缺少取值" "$ERR"
run_q 2 tickets list --db "$db" --json=yes
expect_contains "flag with a value" "选项 --json 不带取值" "$ERR"
run_q 2 tickets list --db "$db" --state feedback --state shared
expect_contains "given twice" "选项 --state 只能给一次" "$ERR"
run_q 2 tickets show 1 2 --db "$db"
expect_contains "extra argument" "多余的参数“2”" "$ERR"
run_q 2 tickets resolve 2 --as rectified --db "$db"
expect_contains "required option" "缺少 --actor A" "$ERR"
run_q 2 tickets resolve 2 --as rectified --actor "$(printf '\xff\xfe')" --db "$db"
expect_contains "text must be UTF-8" "不是有效的 UTF-8" "$ERR"
run_q 0 tickets show --db "$db" -- 1
expect_contains "-- ends the options" "工单 #1" "$OUT"
run_q 0 eval --code='return 1 + 1'
expect_eq "eval --code=" "2" "$OUT"
run_q 0 eval -e 'return "-e"'
expect_eq "eval -e" "-e" "$OUT"

# Exit codes follow the error's kind: a store the user can fix is 2 ...
printf 'this is not a database, just text that fills a page or so\n%.0s' $(seq 200) > notadb.db
run_q 2 tickets list --db notadb.db
expect_contains "not a database" "notadb.db" "$ERR"
cp "$db" newer.db
sqlite3 newer.db 'PRAGMA user_version = 9999'
run_q 2 audit verify --db newer.db
expect_contains "newer store" "更新版本" "$ERR"
# ... any other database failure is 3 (prune used to say 2).
cp "$db" broken.db
sqlite3 broken.db 'DROP TABLE finding_rows'
run_q 3 prune --keep-runs 1 --db broken.db
cp "$db" broken3.db
sqlite3 broken3.db "DROP TABLE rule_results"
run_q 3 report annual --year 2024 --format json --db broken3.db
cp "$db" broken2.db
sqlite3 broken2.db 'DROP TABLE ticket_item_rows'
run_q 3 tickets show 1 --db broken2.db
finish
