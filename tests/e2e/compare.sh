# 比对 end to end: the bundled sample (rules/examples: people.csv against the
# social-security bureau's copy social.csv, compare "people_vs_social" with
# authority = "left") through `qloop run --json`, the findings it stores,
# the tickets they open for the copy's owner, a run forced to spill by a tiny
# --memory that stores the same findings, and a compare naming a column the
# data lacks.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
EX="$QLOOP_SOURCE_DIR/rules/examples"
export QLOOP_NOW=2026-11-22T02:00:00+08:00

run_q 0 run --rules "$EX" --json --quiet
run1=$(json_get "$OUT" 'd["run_id"]')

# The expected counts were derived from the two CSV files outside qloop (a
# short Python script): people.csv's birth_date cleansed by clean.date and
# social.csv's name trimmed, as the rule files say; a key counted once per
# side is paired, a key occurring twice on a side makes all its records
# duplicates there (people.csv has 60 identity numbers used twice = 120 rows,
# social.csv 2 pids copied twice = 4 rows), an empty pid (2 rows) is an empty
# key. Then:
#   missing_in_right: 2880 people records with a key unique in people
#                     (3000 - 120), of which 120 have no pid in social
#                     (119 dropped by the generator + the 2 whose pid was
#                     emptied - 1 dropped record whose key is duplicated);
#   missing_in_left:  2859 social records with a unique pid, 42 the extras;
#   mismatch.*:       2758 pairs; 22 names differ (23 changed, 1 on a
#                     duplicated pid), 26 birth dates differ as dates (27
#                     shifted, 1 on a duplicated pid; the 83 written
#                     1961/4/17 or 1961年4月17日 or 19610417 agree);
#   duplicate_key_*:  checked = records with a non-empty key.
# With authority = "left" every missing and mismatch finding is on social.
counts=$(json_get "$OUT" '" ".join("%s=%s/%d/%d/%d" % (r["id"][len("people_vs_social."):], r["dataset"], r["checked"], r["failed"], r["errors"]) for r in d["rules"] if r["id"].startswith("people_vs_social."))')
expect_eq "compare rule counts" "missing_in_right=social/2880/120/0 missing_in_left=social/2859/42/0 mismatch.birth_date=social/2758/26/0 mismatch.name=social/2758/22/0 duplicate_key_left=people/3000/120/0 duplicate_key_right=social/2863/4/0 empty_key_left=people/3000/0/0 empty_key_right=social/2865/2/0" "$counts"
expect_eq "social rows" "2865" "$(json_get "$OUT" '[x["rows"] for x in d["datasets"] if x["name"] == "social"][0]')"

q1() { sql "SELECT $1 FROM findings WHERE run_id='$run1' AND $2"; }
expect_eq "compare findings stored" "336" "$(q1 'count(*)' "rule LIKE 'people_vs_social.%'")"
expect_eq "missing records have no row on social" "120" "$(q1 'count(*)' "rule='people_vs_social.missing_in_right' AND dataset='social' AND row_no IS NULL")"
expect_eq "duplicates on people" "120" "$(q1 'count(DISTINCT row_no)' "rule='people_vs_social.duplicate_key_left' AND dataset='people'")"
# both values in the message, masked: social declares name sensitive
names=$(q1 message "rule='people_vs_social.mismatch.name'")
unmasked=$(python3 -c 'import re,sys; print(sum(1 for l in sys.stdin if not re.fullmatch(r"name 不一致：本方 (\S\*+|（空）)，权威方 (\S\*+|（空）)", l.strip())))' <<<"$names")
expect_eq "mismatch messages hold both names, masked" "0" "$unmasked"
expect_contains "birth message" "birth 不一致：本方 " "$(q1 message "rule='people_vs_social.mismatch.birth_date' LIMIT 1")"
expect_eq "birth values not masked" "1" "$(q1 'count(*) > 0' "rule='people_vs_social.mismatch.birth_date' AND value GLOB '[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'")"
expect_eq "keys masked" "0" "$(q1 'count(*)' "rule LIKE 'people_vs_social.%' AND record_key GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*'")"
# a name social copied with stray spaces agrees once cleansed: line 69 of
# social.csv (data row 68) is "李彬晖　"
expect_eq "trimmed name agrees" "0" "$(q1 'count(*)' "rule='people_vs_social.mismatch.name' AND row_no=68")"

# tickets go to the copy's owner
run_q 0 tickets list --json
expect_eq "mismatch ticket to 市人力社保局" "市人力社保局 22" "$(json_get "$OUT" '" ".join("%s %d" % (t["dept"], t["items"]) for t in d if t["rule"] == "people_vs_social.mismatch.name")')"
expect_eq "duplicate ticket to 市公安局" "市公安局" "$(json_get "$OUT" '" ".join(t["dept"] for t in d if t["rule"] == "people_vs_social.duplicate_key_left")')"

# the same run with a memory budget far below the data spills to temporary
# files and stores the same findings
run_q 0 run --rules "$EX" --json --quiet --memory 64K
run2=$(json_get "$OUT" 'd["run_id"]')
counts2=$(json_get "$OUT" '" ".join("%s=%s/%d/%d/%d" % (r["id"][len("people_vs_social."):], r["dataset"], r["checked"], r["failed"], r["errors"]) for r in d["rules"] if r["id"].startswith("people_vs_social."))')
expect_eq "spilled rule counts" "$counts" "$counts2"
cols="dataset, rule, row_no, record_ref, record_key, field, value, message"
diff=$(sql "SELECT count(*) FROM (SELECT $cols FROM findings WHERE run_id='$run1' AND rule LIKE 'people_vs_social.%'
            EXCEPT SELECT $cols FROM findings WHERE run_id='$run2' AND rule LIKE 'people_vs_social.%')")
expect_eq "spilled findings equal in-memory ones" "0" "$diff"
expect_eq "spilled findings count" "336" "$(sql "SELECT count(*) FROM findings WHERE run_id='$run2' AND rule LIKE 'people_vs_social.%'")"

# a TMPDIR that cannot take the temporary files stops the run with exit 2,
# a message naming the file and what to do, and nothing committed
runs_before=$(sql "SELECT count(*) FROM runs")
for jobs in 1 2; do
  TMPDIR="$T/no-such-dir" run_q 2 run --rules "$EX" --quiet --memory 64K --jobs $jobs
  expect_contains "TMPDIR gone names the file, --jobs $jobs" "$T/no-such-dir/qloop-compare-" "$ERR"
  expect_contains "TMPDIR gone says what to do, --jobs $jobs" "请检查 TMPDIR" "$ERR"
done
expect_eq "TMPDIR gone: nothing committed" "$runs_before" "$(sql "SELECT count(*) FROM runs")"

# the findings, in the order stored, are the same with one thread or two,
# in memory and spilled (the findings are made on --jobs threads)
ordered() { sql "SELECT $cols FROM findings WHERE run_id='$1' AND rule LIKE 'people_vs_social.%' ORDER BY id"; }
for mem in "" "--memory 64K"; do
  run_q 0 run --rules "$EX" --json --quiet --jobs 1 $mem
  one=$(json_get "$OUT" 'd["run_id"]'); c1=$(json_get "$OUT" 'd["rules"]')
  run_q 0 run --rules "$EX" --json --quiet --jobs 2 $mem
  two=$(json_get "$OUT" 'd["run_id"]'); c2=$(json_get "$OUT" 'd["rules"]')
  expect_eq "rule counts, --jobs 1 and 2 ${mem:-in memory}" "$c1" "$c2"
  expect_eq "findings in order, --jobs 1 and 2 ${mem:-in memory}" "$(ordered "$one")" "$(ordered "$two")"
  expect_eq "findings of --jobs 2 ${mem:-in memory}" "336" "$(ordered "$two" | wc -l)"
done

# a compare naming a column the data lacks stops before any finding
mkdir bad && cp "$EX/people.csv" "$EX/social.csv" bad/
cat > bad/rules.lua <<'EOF'
dataset "people" { source = "people.csv", key = "person_id" }
dataset "social" { source = "social.csv", key = "pid" }
compare "pvs" { left = "people", right = "social", key = "person_id", right_key = "pid",
  fields = { name = "full_name" } }
EOF
run_q 2 run --rules bad/rules.lua --quiet
expect_contains "missing column named" "full_name" "$ERR"
expect_contains "missing column file" "rules.lua:3" "$ERR"
finish
