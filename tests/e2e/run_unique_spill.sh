# `unique` past the memory budget spills to temporary files and still finds
# exactly the same failing records as in memory, in the same order, with
# one worker or several.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
"$QLOOP_BUILD_DIR/gen_w1" 40000 pop.csv --seed 5 "${GENDIV[@]}" >/dev/null
cat > u.lua <<'R'
dataset "pop" { key = "person_id", sensitive = { "person_id" } }
rule "pop.id_unique" { field = "person_id", unique = true }
rule "pop.phone_unique" { field = "phone", unique = true }
R
summary() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps(d["rules"]))'; }
mem=$("$QLOOP_BIN" run --rules u.lua --data pop=pop.csv --db mem.db --json --quiet | summary)
spill=$("$QLOOP_BIN" run --rules u.lua --data pop=pop.csv --db spill.db --json --quiet --memory 64K | summary)
expect_eq "same counts in memory and spilled" "$mem" "$spill"
expect_eq "duplicates found" "1600" "$(sqlite3 mem.db "SELECT failed FROM rule_results WHERE rule = 'pop.id_unique'")"
q="SELECT rule, row_no, record_key, value FROM findings ORDER BY rule, row_no"
expect_eq "same failing records" "$(sqlite3 mem.db "$q" | md5sum)" "$(sqlite3 spill.db "$q" | md5sum)"
order="SELECT rule, row_no, record_key, value, message FROM findings ORDER BY id"
one=$("$QLOOP_BIN" run --rules u.lua --data pop=pop.csv --db one.db --json --quiet --memory 64K --jobs 1 | summary)
three=$("$QLOOP_BIN" run --rules u.lua --data pop=pop.csv --db three.db --json --quiet --jobs 3 | summary)
expect_eq "same counts with 1 and 3 workers" "$one" "$three"
expect_eq "same findings in the same order, spilled or not" "$(sqlite3 mem.db "$order" | md5sum)" "$(sqlite3 spill.db "$order" | md5sum)"
expect_eq "same findings in the same order, 1 or 3 workers" "$(sqlite3 one.db "$order" | md5sum)" "$(sqlite3 three.db "$order" | md5sum)"
expect_eq "both rows of each of the 800 duplicated ids fail" "1600" "$(sqlite3 spill.db "SELECT count(*) FROM findings WHERE rule = 'pop.id_unique'")"
# The unique field is the whole key: each duplicate is filed under its own
# record (the same ref as another rule's finding on that row), in memory,
# spilled, with 1 or 3 workers.
cat > k.lua <<'R'
dataset "pop" { key = "person_id", sensitive = { "person_id" } }
rule "pop.id_unique" { field = "person_id", unique = true }
rule "pop.every" { field = "person_id", pattern = "^x" }
R
for opts in "--jobs 1" "--jobs 3" "--jobs 2 --memory 64K"; do
  rm -f k.db k.db-* k.db.*
  "$QLOOP_BIN" run --rules k.lua --data pop=pop.csv --db k.db --quiet $opts >/dev/null
  expect_eq "unique findings under their rows' refs ($opts)" "1600 1600" "$(sqlite3 k.db "SELECT count(*), sum(u.record_ref = e.record_ref AND u.record_key = e.record_key) FROM findings u JOIN findings e ON e.row_no = u.row_no AND e.rule = 'pop.every' WHERE u.rule = 'pop.id_unique'" | tr '|' ' ')"
done
finish
