# references = "dataset.field" between datasets of one run (referential
# integrity): the referenced dataset is read first whatever the declaration
# order; empty values are not judged; cycles are refused before reading.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
printf 'emp_id,org_code\n1,ORG1\n2,ORG9\n3,\n4,ORG2\n' > employees.csv
printf 'code,name\nORG1,一局\nORG2,二局\n' > orgs.csv
cat > r.lua <<'R'
dataset "employees" { source = "employees.csv", key = "emp_id" }
rule "employees.org" { field = "org_code", references = "orgs.code", message = "单位代码不在单位库中" }
dataset "orgs" { source = "orgs.csv", key = "code" }
R
run_q 0 run --rules r.lua --json --quiet
expect_eq "orgs read first" "orgs employees" "$(json_get "$OUT" '" ".join(x["name"] for x in d["datasets"])')"
expect_eq "reference counts" "3/1" "$(json_get "$OUT" '"%d/%d" % (d["rules"][0]["checked"], d["rules"][0]["failed"])')"
expect_eq "the dangling row" "2|ORG9" "$(sql "SELECT row_no, value FROM findings WHERE rule = 'employees.org'")"

cat > cycle.lua <<'R'
dataset "a" { source = "employees.csv", key = "emp_id" }
dataset "b" { source = "orgs.csv", key = "code" }
rule "a.x" { field = "org_code", references = "b.code" }
rule "b.y" { field = "code", references = "a.org_code" }
R
run_q 2 run --rules cycle.lua --quiet
expect_contains "cycle refused" "循环引用" "$ERR"
cat > self.lua <<'R'
dataset "a" { source = "employees.csv", key = "emp_id" }
rule "a.x" { field = "org_code", references = "a.emp_id" }
R
run_q 2 run --rules self.lua --quiet
expect_contains "self reference refused" "不能引用自己的数据集" "$ERR"
printf 'rule "employees.bad" { field = "org_code", references = "nowhere" }\n' > bad.lua
run_q 2 run --rules r.lua bad.lua --quiet
expect_contains "malformed reference" "数据集.字段" "$ERR"
finish
