#!/usr/bin/env bash
# calendar_cli.sh — `qloop calendar` end to end: workday, deadline, load, show,
# their exit codes and outputs; bad input exits 2 with a message; a 2027
# notice loaded into a store (--db in a temporary directory) is used by the
# later commands on that store and by no other, and each load is on the
# store's audit chain; the calendar file earlier versions kept beside a store
# (PATH.calendar) is imported once when the store is upgraded.
set -u

: "${QLOOP_BIN:?QLOOP_BIN must name the qloop binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
unset QLOOP_DB QLOOP_NOW
db="$tmp/store/q.db"
mkdir -p "$tmp/store"

failures=0
fail() {
    echo "FAIL: $*" >&2
    echo "  stdout: $(cat "$tmp/out")" >&2
    echo "  stderr: $(cat "$tmp/err")" >&2
    failures=$((failures + 1))
}

# run EXPECTED_RC ARGS... : runs qloop, keeps stdout in $tmp/out, stderr in $tmp/err.
run() {
    local want=$1
    shift
    "$QLOOP_BIN" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ "$rc" -ne "$want" ]; then
        fail "qloop $* exited $rc, expected $want"
        return 1
    fi
    return 0
}

# expect_out TEXT: stdout is exactly TEXT (plus the final newline).
expect_out() {
    if [ "$(cat "$tmp/out")" != "$1" ]; then
        fail "expected stdout '$1'"
    fi
}

# expect_err PATTERN: stderr matches the grep -E pattern.
expect_err() {
    if ! grep -qE -- "$1" "$tmp/err"; then
        fail "expected stderr matching '$1'"
    fi
}

# expect_no_err: nothing on stderr.
expect_no_err() {
    if [ -s "$tmp/err" ]; then
        fail "expected empty stderr"
    fi
}

# --- workday -----------------------------------------------------------------
run 0 calendar workday 2024-10-01 --db "$db" && expect_out false && expect_no_err
run 0 calendar workday 2024-09-29 --db "$db" && expect_out true      # make-up Sunday
run 0 calendar workday 2024-02-10 --db "$db" && expect_out false     # Spring Festival Saturday
run 0 calendar workday 2024-03-04 --db "$db" && expect_out true
run 0 calendar workday --db "$db" 2026-01-04 && expect_out true      # option first

# --- deadline ------------------------------------------------------------------
# Receipt Fri 2024-09-27, 5 working days: 9-29 (Sun, make-up), 9-30, 10-08, 10-09, 10-10.
run 0 calendar deadline --from 2024-09-27 --working-days 5 --db "$db" && expect_out 2024-10-10
# Receipt Thu 2024-02-08: 2-09, 2-18 (Sun, make-up), 2-19, 2-20, 2-21.
run 0 calendar deadline --from=2024-02-08 --working-days=5 --db "$db" && expect_out 2024-02-21
# 2024-09-25 + 7 natural days = 10-02, a holiday: rolled forward to 10-08.
run 0 calendar deadline --from 2024-09-25 --natural-days 7 --db "$db" && expect_out 2024-10-08
run 0 calendar deadline --from 2024-03-01 --natural-days 1 --db "$db" && expect_out 2024-03-04
run 0 calendar deadline --from 2024-03-01 --working-days 0 --db "$db" && expect_out 2024-03-01
# Without --from: today, by QLOOP_NOW.
QLOOP_NOW=2024-09-27T10:00:00+08:00 run 0 calendar deadline --working-days 5 --db "$db" &&
    expect_out 2024-10-10

# --- bad usage: exit 2 and a message ---------------------------------------------
run 2 calendar workday 2024-02-30 --db "$db" && expect_err '不是有效日期' && expect_out ""
run 2 calendar workday 2024/10/01 --db "$db" && expect_err 'YYYY-MM-DD'
run 2 calendar workday 2024-10-01 2024-10-02 --db "$db" && expect_err '多余的参数'
run 2 calendar deadline --from 2024-09-27 --db "$db" && expect_err '须给且只给一个'
run 2 calendar deadline --from 2024-09-27 --working-days 1 --natural-days 1 --db "$db" &&
    expect_err '须给且只给一个'
run 2 calendar deadline --from 2024-09-27 --working-days -1 --db "$db" && expect_err '0 到 3660'
run 2 calendar deadline --from 2024-09-27 --working-days 3661 --db "$db" && expect_err '0 到 3660'
run 2 calendar deadline --from 2024-09-27 --natural-days 2x --db "$db" && expect_err '0 到 3660'
run 2 calendar deadline --from 2024-13-01 --natural-days 2 --db "$db" && expect_err '不是有效日期'
run 2 calendar deadline --from 9999-12-30 --working-days 10 --db "$db" && expect_err '9999'
run 2 calendar deadline --from 2024-09-27 --working-days --db "$db" && expect_err '--working-days 缺少取值'
run 2 calendar deadline --from && expect_err '缺少取值'
run 2 calendar workday 2024-10-01 --year 2024 && expect_err '未知选项'
run 2 calendar frobnicate && expect_err '未知子命令'
run 2 calendar && expect_err '缺少子命令'
run 2 calendar show --db "$db" && expect_err '缺少 --year'
run 2 calendar show --year 24 --db "$db" && expect_err '四位年份'
run 2 calendar load --db "$db" && expect_err '缺少要加载的文件'
run 2 calendar load "$tmp/no-such-file.txt" --db "$db" && expect_err 'no-such-file.txt.*无法打开'
QLOOP_NOW=yesterday run 2 calendar deadline --working-days 1 --db "$db" && expect_err 'QLOOP_NOW'
run 0 calendar --help && expect_no_err && grep -q '用法' "$tmp/out" || fail "calendar --help"
run 0 calendar deadline --help && grep -q 'working-days' "$tmp/out" || fail "deadline --help"

# --- a year without a notice: statutory holidays, weekends and a warning ------------
# 2027 has no notice: 元旦 (Friday 2027-01-01) is a statutory holiday, not a working day.
run 0 calendar workday 2027-01-01 --db "$db" && expect_out false &&
    expect_err '警告: 还没有 2027 年的国务院节假日安排：按《全国年节及纪念日放假办法》的法定节假日和周末计算工作日，该年的调休（周末补假和调休上班日）尚不知道；通知发布后用 qloop calendar load FILE 加载'
run 0 calendar workday 2027-01-04 --db "$db" && expect_out true
# Receipt Mon 2026-12-28, 5 working days: 12-29, 12-30, 12-31; 01-01 元旦 off;
# weekend; 01-04 (4), 01-05 (5). One warning for the whole computation.
run 0 calendar deadline --from 2026-12-28 --working-days 5 --db "$db" && expect_out 2027-01-05 &&
    [ "$(grep -c '警告' "$tmp/err")" -eq 1 ] || fail "one warning for a deadline across 2027"
# Spring Festival 2027 under the 2024 text: 除夕 Fri 02-05 to 初三 Mon 02-08.
# Receipt Wed 02-03, 3 working days: 02-04 (1), 02-09 (2), 02-10 (3).
run 0 calendar deadline --from 2027-02-03 --working-days 3 --db "$db" && expect_out 2027-02-10
run 0 calendar workday 2027-02-05 --db "$db" && expect_out false
# 劳动节 2027 falls on Saturday and Sunday: not moved, Monday 05-03 works.
run 0 calendar workday 2027-05-03 --db "$db" && expect_out true
# Past the lunar table: said so.
run 0 calendar workday 2101-01-31 --db "$db" && expect_out true && expect_err '超出内置农历表'
run 2 calendar show --year 2027 --db "$db" && expect_err '没有 2027 年的节假日安排'
[ -e "$db.calendar" ] && fail "no calendar file expected before load"
[ -e "$db" ] && fail "workday/deadline/show must not create the store"

# mkstore PATH: a store made the way stores are made (a run; calendar load
# uses an existing store only, CONTRACT.md).
printf 'dataset "d" { key = "id", owner = "甲局" }\n' >"$tmp/mk.lua"
printf 'id\n1\n' >"$tmp/mk.csv"
mkstore() { "$QLOOP_BIN" run --rules "$tmp/mk.lua" --data "d=$tmp/mk.csv" --db "$1" --quiet; }
printf 'year 2031\n' >"$tmp/2031.txt"
run 2 calendar load "$tmp/2031.txt" --db "$db" && expect_err '数据库不存在'
[ -e "$db" ] && fail "calendar load made a store"
mkstore "$db" || fail "could not make the store"

# --- load a 2027 notice (qloop text format) --------------------------------------
cat >"$tmp/2027.txt" <<'EOF'
# made-up arrangements for the test
year 2027
2027-01-01 off 元旦
2027-02-06 work 春节
2027-02-08 off 春节
2027-02-20 work 春节
EOF
run 0 calendar load "$tmp/2027.txt" --db "$db" &&
    grep -q '已加载 2027 年的节假日安排：放假 2 天，调休上班 2 天' "$tmp/out" ||
    fail "load 2027 summary"
[ -e "$db.calendar" ] && fail "load wrote a file beside the store: $db.calendar"
loads() { sqlite3 "$db" "SELECT notices FROM calendar_loads ORDER BY id"; }
loads | grep -qx 'year 2027' || fail "the store lacks year 2027"
loads | grep -qE '^2027-02-20 +work +春节$' || fail "the store lacks 2027-02-20"
[ "$(sqlite3 "$db" "SELECT count(*) FROM audit WHERE kind = 'calendar.load'
                    AND json_extract(detail, '$.years') = '[2027]'")" = 1 ] ||
    fail "the load is not on the audit chain"
run 0 audit verify --db "$db" || fail "audit verify after a load"

run 0 calendar workday 2027-01-01 --db "$db" && expect_out false && expect_no_err
run 0 calendar workday 2027-02-20 --db "$db" && expect_out true      # Saturday, make-up
run 0 calendar workday 2027-02-08 --db "$db" && expect_out false
run 0 calendar workday 2027-02-09 --db "$db" && expect_out true && expect_no_err
QLOOP_DB="$db" run 0 calendar workday 2027-01-01 && expect_out false  # $QLOOP_DB names the store
# Fri 2027-02-19 + 1 working day = Sat 02-20 (make-up).
run 0 calendar deadline --from 2027-02-19 --working-days 1 --db "$db" && expect_out 2027-02-20
# Fri 2027-02-05 + 2: Sat 02-06 (make-up), Mon 02-08 off, Tue 02-09.
run 0 calendar deadline --from 2027-02-05 --working-days 2 --db "$db" && expect_out 2027-02-09
run 0 calendar show --year 2027 --db "$db" && [ "$(wc -l <"$tmp/out")" -eq 4 ] &&
    grep -qE '^2027-02-06 +work +春节$' "$tmp/out" && grep -qE '^2027-01-01 +off +元旦$' "$tmp/out" ||
    fail "show 2027"
# Another store does not see it: Saturday 02-20 is no working day there.
run 0 calendar workday 2027-02-20 --db "$tmp/other.db" && expect_out false && expect_err '还没有 2027 年'

# --- load a 2028 notice (holiday-cn JSON): merged with 2027 ------------------------
cat >"$tmp/2028.json" <<'EOF'
{
  "year": 2028,
  "papers": [],
  "days": [
    {"name": "元旦", "date": "2027-12-31", "isOffDay": true},
    {"name": "元旦", "date": "2028-01-03", "isOffDay": true}
  ]
}
EOF
run 0 calendar load "$tmp/2028.json" --db "$db" && grep -q '已加载 2028 年' "$tmp/out" || fail "load 2028"
loads | grep -qx 'year 2027' || fail "2027 lost when 2028 was loaded"
loads | grep -qx 'year 2028' || fail "2028 not saved"
run 0 calendar workday 2028-01-03 --db "$db" && expect_out false     # Monday off
run 0 calendar workday 2027-12-31 --db "$db" && expect_out false     # Friday off, 2028 notice
run 0 calendar workday 2027-01-01 --db "$db" && expect_out false

# Loading 2027 again replaces 2027 only.
printf 'year 2027\n2027-01-04 off 测试\n' >"$tmp/2027b.txt"
run 0 calendar load "$tmp/2027b.txt" --db "$db"
run 0 calendar workday 2027-01-01 --db "$db" && expect_out true      # no longer off
run 0 calendar workday 2027-01-04 --db "$db" && expect_out false
run 0 calendar workday 2028-01-03 --db "$db" && expect_out false     # 2028 kept

# A built-in year can be replaced too (here by an empty 2024 notice).
printf 'year 2024\n' >"$tmp/2024.txt"
mkstore "$tmp/b.db" || fail "could not make b.db"
run 0 calendar load "$tmp/2024.txt" --db "$tmp/b.db"
run 0 calendar workday 2024-10-01 --db "$tmp/b.db" && expect_out true
run 0 calendar workday 2024-10-01 --db "$db" && expect_out false

# --- malformed files: exit 2, file and line named, the store untouched --------------
before=$(sqlite3 "$db" "SELECT count(*) FROM calendar_loads; SELECT max(seq) FROM audit")
printf 'year 2029\n2029-01-01 off 元旦\n2029-02-30 off 春节\n' >"$tmp/bad.txt"
run 2 calendar load "$tmp/bad.txt" --db "$db" && expect_err 'bad\.txt:3:.*不是有效日期'
printf '{\n "year": 2029,\n "days": [\n  {"date": "2029-01-01" "isOffDay": true}\n ]\n}\n' >"$tmp/bad.json"
run 2 calendar load "$tmp/bad.json" --db "$db" && expect_err 'bad\.json:4:[0-9]+: JSON 格式错误'
printf '2029-01-01 off 元旦\n' >"$tmp/noyear.txt"
run 2 calendar load "$tmp/noyear.txt" --db "$db" && expect_err 'noyear\.txt:1:.*year'
[ "$(sqlite3 "$db" "SELECT count(*) FROM calendar_loads; SELECT max(seq) FROM audit")" = "$before" ] ||
    fail "a failed load changed the store"
run 0 calendar workday 2029-01-02 --db "$db" && expect_out true && expect_err '还没有 2029 年'

# A calendar file beside a store from an earlier version: imported once when
# the store is upgraded (here: made), on the audit chain, and used.
printf 'year 2030\n2030-01-07 off 旧文件\n' >"$tmp/d.db.calendar"
run 0 calendar workday 2030-01-07 --db "$tmp/d.db" && expect_out true   # no store yet: not read
mkstore "$tmp/d.db" || fail "could not make d.db"
run 0 audit verify --db "$tmp/d.db" || fail "audit verify after the import"
[ "$(sqlite3 "$tmp/d.db" "SELECT count(*) FROM audit WHERE kind = 'calendar.load'
                           AND subject = 'calendar:1'")" = 1 ] || fail "import not audited"
run 0 calendar workday 2030-01-07 --db "$tmp/d.db" && expect_out false
rm "$tmp/d.db.calendar"
run 0 calendar workday 2030-01-07 --db "$tmp/d.db" && expect_out false  # kept in the store
# A damaged calendar file beside a store: the upgrade stops (exit 2), naming
# it, and the store stays as it was until it is mended or removed.
printf 'year 2027\nnonsense\n' >"$tmp/c.db.calendar"
run 2 run --rules "$tmp/mk.lua" --data "d=$tmp/mk.csv" --db "$tmp/c.db" --quiet &&
    expect_err 'c\.db\.calendar:2:'
mv "$tmp/c.db.calendar" "$tmp/c.calendar.bad"
mkstore "$tmp/c.db" || fail "could not make c.db once the file was moved away"
run 0 calendar load "$tmp/2027.txt" --db "$tmp/c.db"
# Changing a load in the store behind qloop's back: audit verify names it.
sqlite3 "$db" "DROP TRIGGER calendar_loads_no_update;
               UPDATE calendar_loads SET notices = 'year 2027' WHERE id = 1"
run 1 audit verify --db "$db" && grep -q '^broken at calendar: 节假日安排第 1 次加载的内容与审计记录不符' "$tmp/out" ||
    fail "a changed load not found"
# A store directory that does not exist: nothing can be saved.
run 2 calendar load "$tmp/2027.txt" --db "$tmp/missing/dir/q.db" && expect_err '数据库不存在'

if [ "$failures" -ne 0 ]; then
    echo "calendar_cli: $failures failure(s)" >&2
    exit 1
fi
echo "calendar_cli: ok"
