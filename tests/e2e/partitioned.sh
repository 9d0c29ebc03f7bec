# Partitioned runs (qloop judge on each part, qloop merge once) give what one
# run over the whole data gives — rule counts, findings with their record
# refs, tickets — however the data is split: by lines (later parts without
# their header, named by --header-from or the dataset's fields), through
# standard input (the part's id on its first line, as Spark's RDD.pipe can
# give it; shards through Hadoop's text output), by the judge itself (no
# --input), unevenly; across nights
# (the re-check of corrected tickets: fixed, missing, failing again); and
# bad shard sets are refused with exit 2, nothing stored.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
export QLOOP_NOW=2026-11-22T02:00:00+08:00

cat > r.lua <<'R'
dataset "pop" { source = "pop.csv", key = "id", owner = "公安局", update_cycle = "daily",
                updated_at = "upd", sensitive = { "id", "phone" }, bad_rows = "finding",
                fields = { "id", "name", "phone", "org", "upd" } }
cleanse "pop" { phone = clean.trim }
rule "pop.phone" { field = "phone", pattern = "^1[3-9]\\d{9}$" }
rule "pop.id_unique" { field = "id", unique = true }
rule "pop.name" { field = "name", not_null = true }
rule "pop.name_set" { field = "name", not_null = true, message = "姓名为空" }
rule "pop.id_form" { field = "id", pattern = "^ID0[0-4]", message = "编号格式错误" }
rule "pop.org" { field = "org", references = "orgs.code", check = function(v) return v ~= "ORG5", "停用单位" end }
rule "pop.org_once" { field = "org", references = "orgs.code", unique = true }
dataset "orgs" { source = "orgs.csv", key = "code", owner = "编办" }
rule "orgs.code_unique" { field = "code", unique = true }
dataset "log" { source = "log.csv", owner = "民政局", null_values = { "N/A" }, bad_rows = "finding" }
rule "log.v" { field = "v", pattern = "^[a-z]+$" }
rule "log.v_unique" { field = "v", unique = true }
compare "pop_vs_soc" { left = "pop", right = "soc", key = "id", right_key = "pid",
                       fields = { name = "nm" }, authority = "right" }
dataset "soc" { source = "soc.csv", key = "pid", owner = "人社局" }
R
# make_data DIR NIGHT: the datasets of one night
make_data() {
    mkdir -p "$1"
    python3 - "$1" "$2" <<'E'
import random, sys
d, night = sys.argv[1], int(sys.argv[2])
rows = []
for i in range(1, 601):
    if night == 2 and (i in (23, 46, 69) or i % 34 == 0):
        continue                                   # records gone
    pid = "ID%04d" % (i - 5 if i % 37 == 0 else i)
    phone = "138%08d" % i if i % 11 or (night == 2 and i % 22 == 0) else " 12x"
    name = "" if i % 23 == 0 and not (night == 2 and i == 92) else "名%d" % i
    org = "ORGX" if i % 13 == 0 else "ORG%d" % (i % 7)
    if i % 29 == 0:
        org = "ORG%d" % (600 + i)                   # a unique org... that is missing
    rows.append(",".join([pid, name, phone, org, "2026-11-%02d" % (1 + i % 20)]))
    if i in (250, 433):
        rows.append("BAD,ROW")                      # malformed: two fields of five
    if i in (100, 500):
        rows.append(",无号,12x,ORG1,2026-11-03")     # no key: named by its content
open(d + "/pop.csv", "w").write("id,name,phone,org,upd\n" + "\n".join(rows) + "\n")
open(d + "/orgs.csv", "w").write("code,title\n" + "\n".join("ORG%d,单位%d" % (i, i) for i in range(7)) + "\nORG3,重复\n")
random.seed(5)
log = [random.choice(["abc", "def", "X1", "ghi", "abc", "N/A"]) + ",%d" % i for i in range(120)]
if night == 2:                                      # one "def" left: it is unique now
    first = next(i for i, l in enumerate(log) if l.startswith("def,"))
    log = [l for i, l in enumerate(log) if i == first or not l.startswith("def,")]
log[30:30] = ["x,y,z"]                              # malformed
log[77:77] = ["only"]                               # malformed
open(d + "/log.csv", "w").write("v,w\n" + "\n".join(log) + "\n")
open(d + "/soc.csv", "w").write("pid,nm\n" + "\n".join("ID%04d,%s" % (i, "名%d" % i if i % 17 else "别") for i in range(3, 640, 2)) + "\n")
E
    cp r.lua "$1/r.lua"
}
# judge_all DIR HOW: every dataset of DIR judged into DIR/shards/, pop split HOW
judge_all() {
    local d=$1 how=$2 i n f
    rm -rf "$d/shards"; mkdir -p "$d/shards" "$d/parts"; rm -f "$d"/parts/*
    case "$how" in
    lines)  # 4 uneven parts by lines; later parts without their header
        head -1 "$d/pop.csv" > "$d/parts/header.csv"
        tail -n +2 "$d/pop.csv" | split -l 170 -d - "$d/parts/pop_"
        n=$(ls "$d"/parts/pop_* | wc -l); i=0
        for f in "$d"/parts/pop_*; do
            i=$((i + 1))
            "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset pop --part $i/$n --input "$f" \
                --header-from "$d/parts/header.csv" --out "$d/shards/pop.$i" --quiet || fail "judge pop $i/$n"
        done ;;
    stdin)  # 3 parts through standard input: the first keeps the header, the others use fields
        n=3
        for i in 1 2 3; do
            python3 -c 'import sys; L=open(sys.argv[1]).read().splitlines(True); h,b=L[0],L[1:]; i,n=int(sys.argv[2]),int(sys.argv[3]); k=len(b)*(i-1)//n; m=len(b)*i//n; sys.stdout.write((h if i==1 else "")+"".join(b[k:m]))' \
                "$d/pop.csv" $i $n | "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset pop --part $i/$n --input - \
                > "$d/shards/pop.$i" || fail "judge pop $i/$n from stdin"
        done ;;
    pipe)   # Spark's RDD.pipe: every part through stdin behind a "#qloop-part I/N" line,
            # the first with its header, all judged with --header-from; the shards pass
            # Hadoop's TextOutputFormat (a tab after each line)
        n=5
        for i in 1 2 3 4 5; do
            python3 -c 'import sys; L=open(sys.argv[1]).read().splitlines(True); h,b=L[0],L[1:]; i,n=int(sys.argv[2]),int(sys.argv[3]); k=len(b)*(i-1)//n; m=len(b)*i//n; sys.stdout.write("#qloop-part %d/%d\n" % (i, n)+(h if i==1 else "")+"".join(b[k:m]))' \
                "$d/pop.csv" $i $n | "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset pop --part - --input - \
                --header-from "$d/pop.csv" | sed 's/$/\t/' > "$d/shards/pop.$i" || fail "judge pop $i/$n with --part -"
        done ;;
    self)   # the judge reads the source and takes its part itself
        for i in 1 2 3 4 5 6 7; do
            "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset pop --part $i/7 --out "$d/shards/pop.$i" || fail "judge pop $i/7"
        done ;;
    esac
    "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset orgs --part 1/2 --out "$d/shards/orgs.1" || fail "judge orgs 1"
    "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset orgs --part 2/2 --out "$d/shards/orgs.2" || fail "judge orgs 2"
    "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset log --part 1/3 --out "$d/shards/log.1" || fail "judge log 1"
    "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset log --part 2/3 --out "$d/shards/log.2" || fail "judge log 2"
    "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset log --part 3/3 --out "$d/shards/log.3" || fail "judge log 3"
    "$QLOOP_BIN" judge --rules "$d/r.lua" --dataset soc --part 1/1 --out "$d/shards/soc.1" || fail "judge soc"
}
# (a message that names a row names it within its part: "第 2/4 部分数据第 17 行（不计表头）",
# and a malformed row's message the row as its part's file has it)
FINDINGS="SELECT dataset, rule, record_ref, record_key, field, value,
                 CASE WHEN message LIKE '%有此记录%' OR rule LIKE '%.malformed_row' THEN ''
                      ELSE message END FROM findings
          WHERE run_id = (SELECT id FROM runs ORDER BY started_at DESC, rowid DESC LIMIT 1) ORDER BY 1, 2, 3, 7"
TICKETS="SELECT t.id, t.dataset, t.rule, t.dept, t.state, t.received_at, t.deadline, i.record_ref, i.state,
                i.record_key, i.value FROM tickets t JOIN ticket_items i ON i.ticket_id = t.id ORDER BY 1, 8"
no_run_id() { python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("run_id"); print(json.dumps(d, indent=1, sort_keys=True))'; }
# same WHAT RUN_DB MERGE_DB RUN_JSON MERGE_JSON
same() {
    expect_eq "$1: the summary (run --json)" "$(no_run_id <<<"$4")" "$(no_run_id <<<"$5")"
    expect_eq "$1: the findings with their record refs" "$(sqlite3 "$2" "$FINDINGS")" "$(sqlite3 "$3" "$FINDINGS")"
    expect_eq "$1: the tickets and their records" "$(sqlite3 "$2" "$TICKETS")" "$(sqlite3 "$3" "$TICKETS")"
}

# Stores with one secret and key, so record refs compare: copies of one.
printf 'id,name,phone,org,upd\n' > empty_pop.csv
printf 'code,title\n' > empty_orgs.csv; printf 'v,w\n' > empty_log.csv; printf 'pid,nm\n' > empty_soc.csv
run_q 0 run --rules r.lua --data pop=empty_pop.csv --data orgs=empty_orgs.csv --data log=empty_log.csv \
    --data soc=empty_soc.csv --db seed.db --quiet
fresh() { cp seed.db "$1"; cp seed.db.key "$1.key"; }

# night DIR HOW...: a run over DIR's data and a merge of its parts split each HOW way
night() {
    local d=$1 how; shift
    for how in "$@"; do
        run_q 0 run --rules "$d/r.lua" --db "run_$how.db" --json --quiet; RUN_JSON=$OUT
        judge_all "$d" "$how"
        run_q 0 merge --rules "$d/r.lua" --db "merge_$how.db" --json --quiet "$d"/shards/*
        same "$d, split $how" "run_$how.db" "merge_$how.db" "$RUN_JSON" "$OUT"
    done
}

make_data n1 1
for how in lines stdin pipe self; do fresh "run_$how.db"; fresh "merge_$how.db"; done
night n1 lines stdin pipe self
expect_eq "every kind of finding is there" "12" \
    "$(sqlite3 run_lines.db "SELECT count(DISTINCT rule) FROM findings WHERE rule IN ('pop.phone','pop.id_unique','pop.name','pop.org','pop.org_once','orgs.code_unique','log.v','log.v_unique','pop_vs_soc.mismatch.name','pop_vs_soc.missing_in_right','pop.malformed_row','log.malformed_row')")"
# a judge shows these (shard.h, v entries): the rule's own message, a reason
# framed by it, the key field judged (masked alike, travelling once)
expect_eq "findings shown by the judges: messages and masked values" \
    "pop.id_form|编号格式错误：格式不符|1
pop.name_set|姓名为空|0" \
    "$(sqlite3 merge_lines.db "SELECT DISTINCT rule, message, value = record_key FROM findings WHERE rule IN ('pop.id_form', 'pop.name_set') ORDER BY 1")"
expect_eq "... the key field judged is masked" "0" \
    "$(sqlite3 merge_lines.db "SELECT count(*) FROM findings WHERE rule = 'pop.id_form' AND value LIKE 'ID05%'")"
expect_eq "a finding's row is its row within its part (170 rows a part), with the part" \
    "$(sqlite3 run_lines.db "SELECT rule, record_ref, ((row_no - 1) / 170 + 1) || '/4', (row_no - 1) % 170 + 1
                             FROM findings WHERE dataset = 'pop' AND row_no IS NOT NULL ORDER BY 1, 2")" \
    "$(sqlite3 merge_lines.db "SELECT rule, record_ref, part, row_no FROM findings
                               WHERE dataset = 'pop' AND row_no IS NOT NULL ORDER BY 1, 2")"
expect_eq "a run's findings name no part" "0" "$(sqlite3 run_lines.db "SELECT count(*) FROM findings WHERE part IS NOT NULL")"
expect_eq "a merged keyless record is named by its row in the whole data" \
    "$(sqlite3 run_lines.db "SELECT group_concat(record_key) FROM (SELECT record_key FROM findings WHERE dataset = 'log' ORDER BY 1)")" \
    "$(sqlite3 merge_lines.db "SELECT group_concat(record_key) FROM (SELECT record_key FROM findings WHERE dataset = 'log' ORDER BY 1)")"
expect_contains "a shard's lines are JSON" '"t":"counts"' "$(cat n1/shards/pop.1)"

# Night 2: tickets corrected, some records fixed, some gone, some failing again.
for how in lines self; do
    for db in "run_$how.db" "merge_$how.db"; do
        for t in $(sqlite3 "$db" "SELECT id FROM tickets WHERE rule IN ('pop.phone','pop.name','pop_vs_soc.mismatch.name','log.v','log.v_unique')"); do
            QLOOP_NOW=2026-11-23T10:00:00+08:00 "$QLOOP_BIN" tickets resolve "$t" --as rectified --actor 张三 --db "$db" >/dev/null ||
                fail "resolve $t"
        done
    done
done
make_data n2 2
export QLOOP_NOW=2026-11-24T02:00:00+08:00
night n2 lines self
expect_eq "the re-check saw fixed, missing and failing records" "fixed missing open" \
    "$(sqlite3 merge_lines.db "SELECT group_concat(state, ' ') FROM (SELECT DISTINCT i.state FROM ticket_items i JOIN tickets t ON t.id = i.ticket_id WHERE t.rule IN ('pop.phone','pop.name') ORDER BY 1)")"
expect_eq "... records without a key too" "fixed missing open" \
    "$(sqlite3 merge_lines.db "SELECT group_concat(state, ' ') FROM (SELECT DISTINCT i.state FROM ticket_items i JOIN tickets t ON t.id = i.ticket_id WHERE t.rule = 'log.v_unique' ORDER BY 1)")"

expect_contains "a message names a row within its part" "本方缺少记录：权威方 soc 第 1/1 部分数据第 " \
    "$(sqlite3 merge_lines.db "SELECT message FROM findings WHERE rule = 'pop_vs_soc.missing_in_left'")"

# Bad shard sets: exit 2, which shard and what, nothing stored.
judge_all n2 lines
cd n2/shards
all=(pop.1 pop.2 pop.3 pop.4 orgs.1 orgs.2 log.1 log.2 log.3 soc.1)
before=$(sqlite3 ../../merge_lines.db "SELECT count(*) FROM runs; SELECT count(*) FROM audit; SELECT count(*) FROM findings; SELECT count(*) FROM ticket_history")
refused() { # refused WHAT NEEDLE SHARD...
    local what=$1 needle=$2; shift 2
    run_q 2 merge --rules ../r.lua --db ../../merge_lines.db --quiet "$@"
    expect_contains "$what" "$needle" "$ERR"
}
refused "a missing part" '缺少数据集 "pop" 的第 3/4 部分' pop.1 pop.2 pop.4 orgs.1 orgs.2 log.1 log.2 log.3 soc.1
refused "a dataset without shards" '缺少数据集 "soc" 的分片' pop.1 pop.2 pop.3 pop.4 orgs.1 orgs.2 log.1 log.2 log.3
cp pop.2 again.2
refused "a part given twice" 'again.2:1: 分片有误：这个分片与分片 pop.2 都是数据集 "pop" 的第 2/4 部分' "${all[@]}" again.2
head -c 2000 pop.3 > cut.3
refused "a shard cut mid-line" 'cut.3:' "${all[@]/pop.3/cut.3}"
expect_contains "... says it was cut" '截断' "$ERR"
head -n 3 pop.3 > short.3
refused "a shard cut at a line" 'short.3:3: 分片有误：分片没有结束行' "${all[@]/pop.3/short.3}"
sed 2d pop.3 > lost.3
refused "a shard with a line lost" 'lost.3:' "${all[@]/pop.3/lost.3}"
python3 -c 'import sys; L=open("pop.3").read().split("\n"); l=L[1]; i=l.index("\"b\":\"")+9; L[1]=l[:i]+("A" if l[i]!="A" else "B")+l[i+1:]; open("changed.3","w").write("\n".join(L))'
refused "a changed shard" '改动或损坏' "${all[@]/pop.3/changed.3}"
sed 's/\^1\[3-9\]/^1[3-8]/' ../r.lua > ../other.lua
"$QLOOP_BIN" judge --rules ../other.lua --dataset pop --part 3/4 --input ../parts/pop_02 \
    --header-from ../parts/header.csv --out other.3 || fail "judge with other rules"
refused "a shard of other rules" 'other.3:1: 分片有误：这个分片是用另一套规则判定的' "${all[@]/pop.3/other.3}"
sed '1s/"qloop_shard":[0-9]*/"qloop_shard":2/' pop.3 > old.3
refused "a shard of an earlier format" 'old.3:1: 分片有误：分片格式版本为 2，本程序只读版本' "${all[@]/pop.3/old.3}"
cat soc.1 log.3 > soc_and_log
refused "two shards in one file" 'soc_and_log:' "${all[@]/soc.1/soc_and_log}"
expect_contains "... one shard a file" '一个文件只能放一个分片' "$ERR"
refused "rules are not a shard" 'r.lua:1: 分片有误：第一行不是分片头' "${all[@]}" ../r.lua
expect_eq "nothing stored by refused merges" "$before" \
    "$(sqlite3 ../../merge_lines.db "SELECT count(*) FROM runs; SELECT count(*) FROM audit; SELECT count(*) FROM findings; SELECT count(*) FROM ticket_history")"
run_q 2 judge --rules ../r.lua --dataset pop --part 5/4 --input ../parts/pop_00
expect_contains "a part past the count" '--part 应写成 I/N' "$ERR"
run_q 2 judge --rules ../r.lua --dataset pop --part - --input - <<<"id,name"
expect_contains "--part - without its line" '第一行应为“#qloop-part I/N”' "$ERR"
run_q 2 judge --rules ../r.lua --dataset nowhere --part 1/1
expect_contains "an undeclared dataset" 'nowhere' "$ERR"
cd ../..
finish
