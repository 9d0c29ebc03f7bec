# qloop run on a small fixture: the CONTRACT.md summary, stored findings,
# masking of sensitive fields, --fail-on, --data override, re-runs.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
FX="$QLOOP_SOURCE_DIR/tests/fixtures/run"
export QLOOP_NOW=2026-11-22T02:00:00+08:00

run_q 0 run --rules "$FX/people.lua" --json --quiet
expect_eq "as_of" "2026-11-22T02:00:00+08:00" "$(json_get "$OUT" 'd["as_of"]')"
expect_eq "rows" "4" "$(json_get "$OUT" 'd["datasets"][0]["rows"]')"
counts=$(json_get "$OUT" '" ".join("%s=%d/%d/%d" % (r["id"], r["checked"], r["failed"], r["errors"]) for r in d["rules"])')
expect_eq "rule counts" "people.phone=4/1/0 people.name=4/1/0 people.pid_unique=3/2/0 people.pid_valid=3/1/0 people.sex=4/1/0 people.age=4/2/0 people.div=3/1/0 people.birth=4/1/0" "$counts"
expect_eq "tickets keys" "['opened', 'updated', 'reverified']" "$(json_get "$OUT" 'list(d["tickets"].keys())')"
expect_eq "failed records" "4" "$(json_get "$OUT" 'd["failed_records"]')"
expect_eq "cleansed" "birth_date=2 phone=1" "$(json_get "$OUT" '" ".join("%s=%d" % (c["field"], c["changed"]) for c in d["cleansed"])')"

# findings: row numbers, masked keys and values, messages
expect_eq "findings stored" "10" "$(sql 'SELECT count(*) FROM findings')"
expect_eq "unique fails both rows" "1,3" "$(sql "SELECT group_concat(row_no) FROM (SELECT row_no FROM findings WHERE rule='people.pid_unique' ORDER BY row_no)")"
expect_eq "sensitive value masked" "110105***********1" "$(sql "SELECT value FROM findings WHERE rule='people.pid_valid'")"
expect_eq "phone masked" "1***5" "$(sql "SELECT value FROM findings WHERE rule='people.phone'")"
expect_eq "plain value kept" "999999" "$(sql "SELECT value FROM findings WHERE rule='people.div'")"
expect_eq "message" "手机号格式错误：格式不符" "$(sql "SELECT message FROM findings WHERE rule='people.phone'")"
dump=$(sqlite3 "$QLOOP_DB" .dump)
case "$dump" in *110105194912310021*|*12345,*|*13812345678*) fail "raw sensitive value in the store" ;; *) ok "no raw sensitive values in the store" ;; esac
expect_eq "record_ref stable id" "32" "$(sql "SELECT length(record_ref) FROM findings LIMIT 1")"

# --fail-on: 4 records failed
run_q 1 run --rules "$FX/people.lua" --quiet --fail-on 3
expect_contains "fail-on message" "超过 --fail-on 3" "$ERR"
run_q 0 run --rules "$FX/people.lua" --quiet --fail-on 4
expect_eq "three runs stored" "3" "$(sql "SELECT count(*) FROM runs WHERE status='done'")"

# --data overrides source; a clean file has no findings
printf 'id,name,phone,sex,age,division_code,person_id,birth_date\n9,赵六,13912345678,女,33,330102,11010519491231002X,1949-12-31\n' > clean.csv
run_q 0 run --rules "$FX/people.lua" --data people=clean.csv --json --quiet
expect_eq "override rows" "1" "$(json_get "$OUT" 'd["datasets"][0]["rows"]')"
expect_eq "override failures" "0" "$(json_get "$OUT" 'd["failed_records"]')"

# standard input
run_q 0 run --rules "$FX/people.lua" --data people=- --json --quiet < clean.csv
expect_eq "stdin rows" "1" "$(json_get "$OUT" 'd["datasets"][0]["rows"]')"

# a folder of rules loads every *.lua in name order
mkdir pack && cp "$FX/people.lua" pack/10_people.lua && cp "$FX/people.csv" pack/
printf 'rule "people.extra" { field = "name", pattern = "^.{2,3}$" }\n' > pack/20_extra.lua
run_q 0 run --rules pack --json --quiet
expect_eq "folder rules" "9" "$(json_get "$OUT" 'len(d["rules"])')"
expect_eq "folder order" "people.extra" "$(json_get "$OUT" 'd["rules"][-1]["id"]')"

# progress on stderr when it is a terminal (script gives the run a pty), none when it is not
if command -v script >/dev/null; then
    tty_out=$(script -qec "\"$QLOOP_BIN\" run --rules \"$FX/people.lua\" --db \"$T/tty.db\"" /dev/null)
    expect_contains "progress on a terminal" "行/秒" "$tty_out"
    expect_contains "closing line on a terminal" "完成" "$tty_out"
fi
run_q 0 run --rules "$FX/people.lua" --db "$T/pipe.db"
case "$ERR" in *行/秒*) fail "progress printed to a pipe" ;; *) ok "no progress when stderr is not a terminal" ;; esac

# help and usage
run_q 0 run --help
expect_contains "help" "--rules" "$OUT"
run_q 2 run
expect_contains "missing --rules" "--rules" "$ERR"
run_q 2 run --rules "$FX/people.lua" --bogus
run_q 2 frobnicate
finish
