# The verdict memo (run/memo.h): a second night over the same data answers
# the Lua record rules of unchanged rows from the first night's memo, and
# stores exactly what a night without the memo (QLOOP_MEMO=0) stores; a
# changed row is judged again; a rule that reads the clock, draws chance or
# prints is always called, and so is a call that raised (idcard.valid's answers
# are kept unless they depend on today: reused on later days, not on earlier
# ones); a changed rule file or divisions table makes
# every row judged again; a night killed with SIGKILL leaves the memo as the
# last good night left it. The counts come from --timings ("沿用上次结果 N
# 次，调用 M 次").
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
export QLOOP_NOW=2026-11-22T00:00:00+08:00
N=70000 # two chunks of the memo (65,536 row numbers each)
"$QLOOP_BUILD_DIR/gen_w1" $N pop.csv --seed 11 "${GENDIV[@]}" >/dev/null
cp "$QLOOP_SOURCE_DIR/bench/w1.lua" w1.lua
# pop2.csv: one row's sex and phone changed (row 3, so its sex_match answer
# changes, and its phone_valid verdict: a built-in form kept in the memo too)
python3 - <<'PY'
import csv
r = csv.reader(open('pop.csv', newline='', encoding='utf-8'))
w = csv.writer(open('pop2.csv', 'w', newline='', encoding='utf-8'), lineterminator='\n')
h = next(r); w.writerow(h)
sex, phone = h.index('sex'), h.index('phone')
for i, row in enumerate(r):
    if i == 2:
        row[sex] = '女' if row[sex] == '男' else '男'
        row[phone] = '1' + row[phone] if row[phone] else '13800138000'
    w.writerow(row)
PY

# night DB DATA [more qloop args]: one night; its --timings counts in
# REUSED and CALLED, its --json (run ids blanked) in JSON_OUT
night() {
    local db=$1 data=$2; shift 2
    run_q 0 run --rules w1.lua --data "pop=$data" "${DIV[@]}" --db "$db" --json --timings "$@"
    REUSED=$(sed -n 's/.*沿用上次结果 \([0-9]*\) 次，调用 \([0-9]*\) 次.*/\1/p' <<<"$ERR")
    CALLED=$(sed -n 's/.*沿用上次结果 \([0-9]*\) 次，调用 \([0-9]*\) 次.*/\2/p' <<<"$ERR")
    JSON_OUT=$(sed -E 's/(T[0-9]{6})-[0-9a-f]{8}/\1/g' <<<"$OUT")
}
# what a store holds of its runs, run ids blanked (the stores share their
# secret and key: copies)
stored() {
    sqlite3 -batch "$1" "
      SELECT run_id, dataset, rule, row_no, record_ref, record_key, field, value, message, hex(sealed)
        FROM findings ORDER BY id;
      SELECT * FROM rule_results ORDER BY rowid;
      SELECT id, ticket_id, dataset, rule, record_ref, record_key, field, value, message, row_no, state,
             added_at, added_run, last_run, closed_at, closed_run FROM ticket_items ORDER BY id;
      SELECT id, dataset, state, deadline FROM tickets ORDER BY id;
      SELECT kind, subject, actor, detail FROM audit ORDER BY seq;" |
        sed -E 's/(T[0-9]{6})-[0-9a-f]{8}/\1/g' | md5sum
}
memo_sum() { sqlite3 -batch "$1" "SELECT dataset, chunk, hex(env), hex(data) FROM verdict_memo ORDER BY 1, 2" | md5sum; }

start=$(date +%s%N)
night a.db pop.csv
night_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "night 1 calls every Lua record rule" "0 $((3 * N))" "$REUSED $CALLED"
expect_eq "night 1 keeps two chunks" "2" "$(sqlite3 a.db 'SELECT count(*) FROM verdict_memo')"
cp a.db b.db; cp a.db.key b.db.key

# night 2 over the same data: nothing called, the same results as without
night a.db pop.csv
expect_eq "night 2 reuses every answer" "$((3 * N)) 0" "$REUSED $CALLED"
json_memo=$JSON_OUT
QLOOP_MEMO=0 night b.db pop.csv
expect_eq "QLOOP_MEMO=0: no memo counted" "0 0" "$REUSED $CALLED"
expect_eq "night 2 --json with and without the memo" "$JSON_OUT" "$json_memo"
expect_eq "night 2 stored alike with and without the memo" "$(stored b.db)" "$(stored a.db)"
expect_eq "an unchanged night rewrites no chunk" "$(memo_sum b.db)" "$(memo_sum a.db)"
# night 2's findings take their records' refs from the re-check's (made once
# per row on the workers), night 1 made its own: the same refs, sealed
# copies and all, run aside
of_run() {
    sqlite3 -batch "$1" "SELECT kind, row_no, record_ref, record_key, value, message, hex(sealed), part
      FROM finding_rows WHERE run = (SELECT id FROM finding_runs ORDER BY id LIMIT 1 OFFSET $2) ORDER BY id" | md5sum
}
expect_eq "night 2's findings are night 1's (refs made by the re-check)" "$(of_run a.db 0)" "$(of_run a.db 1)"
expect_eq "night 2 found as many" "$(sqlite3 a.db 'SELECT count(*) FROM finding_rows WHERE run = 1') 2" \
    "$(sqlite3 a.db 'SELECT count(*) FROM finding_rows WHERE run = 2') $(sqlite3 a.db 'SELECT count(*) FROM finding_runs')"

# one changed row: only its three rules are called, and its finding changes
before=$(sqlite3 a.db "SELECT count(*) FROM findings WHERE rule = 'pop.sex_match' AND row_no = 3")
night a.db pop2.csv
expect_eq "one changed row: only its rules called" "$((3 * N - 3)) 3" "$REUSED $CALLED"
after=$(sqlite3 a.db "SELECT count(*) FROM findings f JOIN runs r ON r.id = f.run_id WHERE f.rule = 'pop.sex_match' AND f.row_no = 3 AND r.id = (SELECT id FROM runs ORDER BY rowid DESC LIMIT 1)")
expect_eq "the changed row's sex_match finding" "0 1" "$before $after"
after=$(sqlite3 a.db "SELECT count(*) FROM findings f JOIN runs r ON r.id = f.run_id WHERE f.rule = 'pop.phone_valid' AND f.row_no = 3 AND r.id = (SELECT id FROM runs ORDER BY rowid DESC LIMIT 1)")
expect_eq "the changed row's phone_valid finding (a built-in form judged again)" "1" "$after"
json_memo=$JSON_OUT
QLOOP_MEMO=0 night b.db pop2.csv
expect_eq "changed night --json with and without the memo" "$JSON_OUT" "$json_memo"
expect_eq "changed night stored alike with and without the memo" "$(stored b.db)" "$(stored a.db)"

# with 3 workers: the same as with 1
cp a.db c.db; cp a.db.key c.db.key
night a.db pop.csv --jobs 1
json1=$JSON_OUT
night c.db pop.csv --jobs 3
expect_eq "--jobs 3 reuses as --jobs 1" "$((3 * N - 3)) 3" "$REUSED $CALLED"
expect_eq "--jobs 1 and 3 alike" "$json1" "$JSON_OUT"
expect_eq "--jobs 1 and 3 stored alike" "$(stored c.db)" "$(stored a.db)"

# a changed rule file, a changed divisions table: everything called again
echo "-- changed" >> w1.lua
night a.db pop.csv
expect_eq "a changed rule file: every rule called" "0 $((3 * N))" "$REUSED $CALLED"
if [ ${#DIV[@]} -gt 0 ]; then
    { cat "${DIV[1]}"; } > div2.csv
    sed -i '$ d' div2.csv # one division fewer
    # the division of the first row is the one dropped: its division_exists
    # verdict (a built-in form kept in the memo) must be judged again
    first_div=$(python3 -c "
import csv; r = csv.DictReader(open('pop.csv', encoding='utf-8')); print(next(r)['division_code'])")
    grep -v "^$first_div," "${DIV[1]}" > div2.csv
    cp a.db d.db; cp a.db.key d.db.key
    run_q 0 run --rules w1.lua --data pop=pop.csv --divisions div2.csv --db a.db --timings
    expect_contains "changed divisions: every rule called" "沿用上次结果 0 次，调用 $((3 * N)) 次" "$ERR"
    expect_eq "changed divisions: the dropped division's rows found" "1" \
        "$(sqlite3 a.db "SELECT count(*) > 0 FROM findings f JOIN runs r ON r.id = f.run_id WHERE f.rule = 'pop.division_exists' AND f.row_no = 1 AND r.id = (SELECT id FROM runs ORDER BY rowid DESC LIMIT 1)")"
    QLOOP_MEMO=0 run_q 0 run --rules w1.lua --data pop=pop.csv --divisions div2.csv --db d.db --timings
    expect_eq "changed divisions stored alike with and without the memo" "$(stored d.db)" "$(stored a.db)"
    night a.db pop.csv
    expect_contains "back to the first divisions: called again" "调用 $((3 * N)) 次" "$ERR"
fi

# rules that read the clock or chance, or print, are always called; a call
# that raised is made again
head -n 2001 pop.csv > small.csv
cat > impure.lua <<'EOF'
rule "pop.chance" {
  dimension = "accuracy", severity = "low", message = "随机",
  check = function(r) return math.random(1, 1000000) > 0 end,
}
rule "pop.today" {
  dimension = "accuracy", severity = "low", message = "今天",
  check = function(r) return idcard.valid("11010520301231002X") end,
}
rule "pop.prints" {
  dimension = "accuracy", severity = "low", message = "打印",
  check = function(r) if r.name == nil then print("no name") end return true end,
}
rule "pop.raises" {
  dimension = "accuracy", severity = "low", message = "出错",
  check = function(r) if r.name == nil then error("no name") end return true end,
}
EOF
for i in 1 2; do
    run_q 0 run --rules w1.lua --rules impure.lua --data pop=small.csv "${DIV[@]}" --db i.db --timings
done
empty_names=$(python3 -c "
import csv; r = csv.DictReader(open('small.csv', encoding='utf-8')); print(sum(1 for x in r if not x['name'].strip()))")
expect_contains "night 2: the pure rules reused, chance and today called, print and error only where they printed or raised" \
    "沿用上次结果 $((3 * 2000 + 2 * (2000 - empty_names))) 次，调用 $((2 * 2000 + 2 * empty_names)) 次" "$ERR"

# idcard.valid reads today, but only its answer 出生日期晚于今天 depends on
# it: its other answers are kept (a Lua rule calling it is reused the next
# day), and a memo made on a later day than tonight's is not reused at all.
# born.csv: row 1 born on 2026-11-22 (valid on that day, in the future the
# day before)
python3 - <<'PY'
import csv
r = csv.reader(open('small.csv', newline='', encoding='utf-8'))
w = csv.writer(open('born.csv', 'w', newline='', encoding='utf-8'), lineterminator='\n')
h = next(r); w.writerow(h)
pid = h.index('person_id')
def check(body):
    s = sum(int(c) * wt for c, wt in zip(body, [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]))
    return '10X98765432'[s % 11]
for i, row in enumerate(r):
    if i == 0:
        body = row[pid][:6] + '20261122' + '123'
        row[pid] = body + check(body)
    w.writerow(row)
PY
cat > born.lua <<'EOF'
rule "pop.born" {
  dimension = "accuracy", severity = "low", message = "身份证号不对",
  check = function(r) return idcard.valid(r.person_id) end,
}
EOF
# born DB DAY [more]: one night of w1.lua and born.lua over born.csv on DAY
born() {
    local db=$1 day=$2; shift 2
    QLOOP_NOW=${day}T00:00:00+08:00 run_q 0 run --rules w1.lua --rules born.lua --data pop=born.csv \
        "${DIV[@]}" --db "$db" --timings "$@"
    REUSED=$(sed -n 's/.*沿用上次结果 \([0-9]*\) 次，调用 \([0-9]*\) 次.*/\1/p' <<<"$ERR")
    CALLED=$(sed -n 's/.*沿用上次结果 \([0-9]*\) 次，调用 \([0-9]*\) 次.*/\2/p' <<<"$ERR")
}
born_found() { # DB RULE: whether row 1 has a finding of RULE in the latest run
    sqlite3 "$1" "SELECT count(*) FROM findings f WHERE f.rule = '$2' AND f.row_no = 1
      AND f.run_id = (SELECT id FROM runs ORDER BY rowid DESC LIMIT 1)"
}
S=2000
born e.db 2026-11-22
expect_eq "born: night 1 calls every rule" "0 $((4 * S))" "$REUSED $CALLED"
cp e.db f.db; cp e.db.key f.db.key
born e.db 2026-11-23
expect_eq "born: the next day every idcard.valid answer is reused" "$((4 * S)) 0" "$REUSED $CALLED"
born e.db 2026-11-21
expect_eq "born: a memo made on a later day is not reused" "0 $((4 * S))" "$REUSED $CALLED"
expect_eq "born: row 1 born after today (Lua rule, built-in form)" "1 1" \
    "$(born_found e.db pop.born) $(born_found e.db pop.id_check)"
born e.db 2026-11-22
expect_eq "born: back on its birthday only row 1's answer (read today) is called" \
    "$((4 * S - 1)) 1" "$REUSED $CALLED"
expect_eq "born: row 1 valid again" "0 0" "$(born_found e.db pop.born) $(born_found e.db pop.id_check)"
for day in 2026-11-23 2026-11-21 2026-11-22; do
    QLOOP_MEMO=0 born f.db $day
done
expect_eq "born: stored alike with and without the memo across the days" "$(stored f.db)" "$(stored e.db)"

# a night killed while reading leaves the memo as the last good night left it
python3 - <<'PY'
import csv
r = csv.reader(open('pop.csv', newline='', encoding='utf-8'))
w = csv.writer(open('pop3.csv', 'w', newline='', encoding='utf-8'), lineterminator='\n')
h = next(r); w.writerow(h)
u = h.index('updated_at')
for row in r:
    row[u] = '2026-01-01T00:00:00'
    w.writerow(row)
PY
good=$(memo_sum a.db)
runs=$(sqlite3 a.db "SELECT count(*) FROM runs")
mkfifo in.fifo
(cat pop3.csv; exec sleep 600) > in.fifo &
feeder=$!
"$QLOOP_BIN" run --rules w1.lua --data pop=- "${DIV[@]}" --db a.db --quiet < in.fifo > /dev/null 2>&1 &
pid=$!
# reading blocks once the data is in (the feeder keeps the pipe open): by
# twice a whole night's time both chunks are judged and the first staged
sleep "$(awk -v ms="$night_ms" 'BEGIN { printf "%.3f", 2 * ms / 1000 + 1 }')"
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
kill "$feeder" 2>/dev/null || true
wait "$feeder" 2>/dev/null || true
expect_eq "killed night: no run stored" "$runs" "$(sqlite3 a.db "SELECT count(*) FROM runs")"
expect_eq "killed night: the memo as it was" "$good" "$(memo_sum a.db)"
night a.db pop.csv
expect_eq "after the kill the memo still answers" "$((3 * N)) 0" "$REUSED $CALLED"
finish
