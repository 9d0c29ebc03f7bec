# A mistyped --db (or QLOOP_DB) must not leave an empty store behind
# (CONTRACT.md, Command line): every command that uses an existing store
# exits 2 naming the path and creates nothing — no database, no key file, no
# WAL. `run` and `catalog import` create a store; `eval`, `check` and
# `calendar workday|deadline|show` need none.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
export QLOOP_NOW=2026-11-12T12:00:00+08:00
missing="$T/typo/qloop.db"
mkdir -p "$T/typo"
printf '{"dataset":"people","key":"P1","message":"号码停机","actor":"热线"}\n' >reports.jsonl

# nothing_at WHAT: no file of a store was left in the folder.
nothing_at() {
    expect_eq "$1: nothing created" "" "$(ls -A "$T/typo")"
}

# refused WHAT ARGS...: exit 2, the path named, nothing created.
refused() {
    local what=$1; shift
    run_q 2 "$@"
    expect_contains "$what: the path is named" "$missing" "$ERR"
    expect_contains "$what: says the store does not exist" "不存在" "$ERR"
    nothing_at "$what"
}

refused "tickets list" tickets list --db "$missing"
refused "tickets list --json" tickets list --json --db "$missing"
refused "tickets show" tickets show 1 --db "$missing"
refused "tickets feedback" tickets feedback 1 --actor 张三 --db "$missing"
refused "tickets resolve" tickets resolve 1 --as rectified --actor 张三 --db "$missing"
refused "tickets file" tickets file --dataset people --key P1 --message 号码停机 --actor 热线 \
    --db "$missing"
refused "tickets import" tickets import reports.jsonl --db "$missing"
refused "audit verify" audit verify --db "$missing"
refused "audit list" audit list --db "$missing"
refused "report annual" report annual --year 2026 --format json --out r.json --db "$missing"
expect_eq "report annual: no report written" "no" "$([ -e r.json ] && echo yes || echo no)"
refused "report scorecard" report scorecard --dept 市公安局 --period 2026-10 --db "$missing"
refused "catalog check" catalog check --db "$missing"
refused "catalog show" catalog show --db "$missing"
refused "catalog history" catalog history --db "$missing"
refused "outbox export" outbox export --jsonl --db "$missing"
refused "prune" prune --keep-runs 3 --db "$missing"
# QLOOP_DB the same way.
QLOOP_DB="$missing" refused "tickets list with QLOOP_DB" tickets list

# Commands that need no store do not make one.
QLOOP_DB="$missing" run_q 0 eval -e "return 1 + 1"
QLOOP_DB="$missing" run_q 0 calendar workday 2026-10-08
QLOOP_DB="$missing" run_q 0 calendar deadline --from 2026-09-30 --working-days 5
QLOOP_DB="$missing" run_q 0 check --rules "$QLOOP_SOURCE_DIR/rules/examples/people.lua"
nothing_at "eval, calendar, check"

# run and catalog import create one.
printf 'dataset "d" { key = "id", owner = "甲局" }\n' >d.lua
printf 'id\n1\n' >d.csv
run_q 0 run --rules d.lua --data d=d.csv --db "$missing" --quiet
expect_eq "run creates the store" "yes" "$([ -f "$missing" ] && [ -f "$missing.key" ] && echo yes)"
run_q 0 tickets list --db "$missing"
expect_contains "the store run made reads" "没有符合条件的工单" "$OUT"
run_q 0 catalog import "$QLOOP_SOURCE_DIR/rules/examples/catalog.csv" --db "$T/new.db" --actor 张三
expect_eq "catalog import creates the store" "yes" "$([ -f "$T/new.db" ] && echo yes)"
finish
