# Every failing record is an item of its ticket, records without a key too
# (run/identity.c): a record whose key field is empty, or of a dataset that
# declares no key, is identified by its content and its occurrence among
# identical records — so five failing rows are five items even when three
# have no key, the second of two identical keyless rows is an item of its
# own, and the same records found again the next night (in another order,
# with a column added) join their open items instead of opening new ones.
# A compare's empty_key finding is an item of the same record. The bundled
# sample's empty_key_right ticket holds both of its records.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
export QLOOP_NOW=2026-11-02T02:00:00+08:00

cat > keyed.lua <<'EOF'
dataset "firms" { key = "code", owner = "市场监管局" }
rule "firms.name_present" { field = "name", not_null = true, message = "名称为空" }
dataset "notes" { owner = "市民政局" }
rule "notes.text_present" { field = "text", not_null = true, message = "内容为空" }
compare "firms_vs_notes" { left = "firms", right = "notes", key = "code", right_key = "ref" }
dataset "tags" { owner = "市民政局", null_values = { "N/A" } }
rule "tags.label_present" { field = "label", not_null = true }
EOF
# 5 rows fail name_present: C1, C2, and three without a code, two of them
# identical. notes: no key; two identical rows fail text_present.
printf 'code,name,city\nC1,,杭州\nC2,,宁波\n,,温州\n,,温州\nC3,甲公司,杭州\n,,台州\n' > firms.csv
printf 'ref,text\nC1,备注\nC9,\nC9,\nC3,说明\n' > notes.csv
printf 'label,note\nN/A,旧标签\n' > tags.csv   # N/A counts as empty (null_values)

items() { # items RULE: "count state..." of the rule's ticket items
    sql "SELECT count(*) || ' ' || group_concat(state, ',') FROM (SELECT i.state FROM ticket_items i
         JOIN tickets t ON t.id = i.ticket_id WHERE t.rule = '$1' ORDER BY i.id)"
}

run_q 0 run --rules keyed.lua --data firms=firms.csv --data notes=notes.csv --data tags=tags.csv --json --quiet
expect_eq "name_present failed 5 rows" "5" \
    "$(json_get "$OUT" '[r["failed"] for r in d["rules"] if r["id"] == "firms.name_present"][0]')"
expect_eq "5 failing records, 5 items (3 without a key, 2 of them identical)" \
    "5 open,open,open,open,open" "$(items firms.name_present)"
expect_eq "the keyless are shown by their data row" "#3 #4 #6" \
    "$(sql "SELECT group_concat(record_key, ' ') FROM (SELECT record_key FROM ticket_items
            WHERE rule = 'firms.name_present' AND record_key LIKE '#%' ORDER BY row_no)")"
expect_eq "a dataset without a key: 2 identical failing rows, 2 items" \
    "2 open,open" "$(items notes.text_present)"
expect_eq "compare: 3 records with an empty key, 3 items" \
    "3 open,open,open" "$(items firms_vs_notes.empty_key_left)"
refs=$(sql "SELECT group_concat(record_ref) FROM (SELECT record_ref FROM ticket_items ORDER BY id)")
n_refs=$(sql "SELECT count(DISTINCT record_ref) FROM ticket_items WHERE rule = 'firms.name_present'")
expect_eq "every record its own identity" "5" "$n_refs"
expect_eq "a compare finding names the record as its dataset's rules do" "3" \
    "$(sql "SELECT count(*) FROM ticket_items c JOIN ticket_items r ON r.record_ref = c.record_ref
            AND r.rule = 'firms.name_present' WHERE c.rule = 'firms_vs_notes.empty_key_left'")"

# Next night: the same records, reordered, with a new (empty) column: they
# join their open items; nothing new is opened, nothing missing.
printf 'city,code,name,extra\n台州,,,\n温州,,,\n杭州,C3,甲公司,\n宁波,C2,,\n温州,,,\n杭州,C1,,\n' > firms.csv
printf 'text,ref\n,C9\n说明,C3\n备注,C1\n,C9\n' > notes.csv
printf 'label,note\n,旧标签\n' > tags.csv     # the same record: N/A is empty
export QLOOP_NOW=2026-11-03T02:00:00+08:00
run_q 0 run --rules keyed.lua --data firms=firms.csv --data notes=notes.csv --data tags=tags.csv --json --quiet
expect_eq "no ticket opened" "0" "$(json_get "$OUT" 'd["tickets"]["opened"]')"
expect_eq "the same identities" "$refs" \
    "$(sql "SELECT group_concat(record_ref) FROM (SELECT record_ref FROM ticket_items ORDER BY id)")"
expect_eq "still 5 open items" "5 open,open,open,open,open" "$(items firms.name_present)"
expect_eq "a null_values text is empty to the identity too" "1 open" "$(items tags.label_present)"
expect_eq "rows follow the records" "#2 #5" \
    "$(sql "SELECT group_concat(record_key, ' ') FROM (SELECT record_key FROM ticket_items
            WHERE rule = 'firms.name_present' AND record_key LIKE '#%' AND record_key <> '#1'
            ORDER BY row_no)")"

# One of the two identical keyless rows is fixed (its name filled in): the
# other keeps the first identity; the second occurrence is gone (missing).
printf 'code,name,city\nC1,,杭州\nC2,,宁波\n,,温州\n,乙公司,温州\nC3,甲公司,杭州\n,,台州\n' > firms.csv
export QLOOP_NOW=2026-11-04T02:00:00+08:00
run_q 0 run --rules keyed.lua --data firms=firms.csv --data notes=notes.csv --data tags=tags.csv --json --quiet
expect_eq "one item missing, none added" "5 open,open,open,missing,open" "$(items firms.name_present)"

# A keyed record placed in its batch where the batch before had a record
# without a key (the CSV source reads 4,096 rows a batch): the re-check made
# the keyed record's ref from the keyless one's identity of the batch
# before (the identities were made only after the refs), so the next night
# found its open item unseen and marked it missing (fixed), at every --jobs.
cat > batches.lua <<'EOF'
dataset "firms" { key = "code", owner = "市场监管局" }
rule "firms.name_present" { field = "name", not_null = true, message = "名称为空" }
EOF
python3 - <<'PY'
with open('batches.csv', 'w') as f:
    f.write('code,name\n,\n')                            # row 1: no key, failing
    f.writelines(f'A{i},n\n' for i in range(2, 4097))
    f.write('K1,\n')                                     # row 4097: first of batch 2
    f.writelines(f'B{i},n\n' for i in range(4098, 8193))
PY
for jobs in 1 2 3; do
    rm -f batches.db batches.db.*
    for day in 2026-11-02 2026-11-03; do
        QLOOP_NOW=${day}T02:00:00+08:00 run_q 0 run --rules batches.lua --data firms=batches.csv \
            --db batches.db --jobs "$jobs" --quiet
    done
    expect_eq "--jobs $jobs: both records still fail, both items open the next night" "#1:open K1:open" \
        "$(sqlite3 -batch batches.db "SELECT group_concat(record_key || ':' || state, ' ')
                                       FROM (SELECT record_key, state FROM ticket_items ORDER BY id)")"
done

# The bundled sample: people_vs_social.empty_key_right fails 2 records.
run_q 0 run --rules "$QLOOP_SOURCE_DIR/rules/examples" --db sample.db --json --quiet
expect_eq "the sample's two records with an empty key: two items" "2" \
    "$(sqlite3 -batch sample.db "SELECT count(*) FROM ticket_items WHERE rule = 'people_vs_social.empty_key_right'")"
finish
