# Bad input is normal input: every broken file, rule or option stops the run
# with exit 2 and a message naming file, line and what to do — and commits
# nothing.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

rules() { # rules FILE DATAFILE [extra lua]
    printf 'dataset "d" { source = "%s", key = "id" }\nrule "d.v" { field = "v", not_null = true }\n%s\n' "$2" "${3:-}" > "$1"
}
printf 'id,v\n1,a\n' > good.csv
rules good.lua good.csv
run_q 0 run --rules good.lua --quiet
runs_before=$(sql "SELECT count(*) FROM runs")
findings_before=$(sql "SELECT count(*) FROM findings")

nothing_committed() {
    expect_eq "$1: nothing committed (runs)" "$runs_before" "$(sql "SELECT count(*) FROM runs")"
    expect_eq "$1: nothing committed (findings)" "$findings_before" "$(sql "SELECT count(*) FROM findings")"
}

# unterminated quote: reported at the line where the quoted field opens
printf 'id,v\n1,a\n2,b\n3,"open\n4,d\n5,e\n' > unterminated.csv
rules r1.lua unterminated.csv
run_q 2 run --rules r1.lua --quiet
expect_contains "unterminated quote names file:line" "unterminated.csv:4" "$ERR"
expect_contains "unterminated quote says quote" "引号" "$ERR"
nothing_committed "unterminated quote"

# ragged row
printf 'id,v\n1,a\n2,b,extra\n' > ragged.csv
rules r2.lua ragged.csv
run_q 2 run --rules r2.lua --quiet
expect_contains "ragged row names file:line" "ragged.csv:3" "$ERR"
nothing_committed "ragged row"

# bad JSON line
printf '{"id": "1", "v": "a"}\n{"id": "2", "v": }\n' > bad.jsonl
rules r3.lua bad.jsonl
run_q 2 run --rules r3.lua --quiet
expect_contains "bad JSON line names file:line" "bad.jsonl:2" "$ERR"
nothing_committed "bad json"

# a JSON Lines file whose records never carry the declared key
printf '{"ID": "1", "v": "a"}\n{"ID": "2", "v": "b"}\n' > nokey.jsonl
rules r3b.lua nokey.jsonl
run_q 2 run --rules r3b.lua --quiet
expect_contains "key never present in JSON Lines" '键字段 "id"' "$ERR"
nothing_committed "missing jsonl key"

# invalid UTF-8, and GBK detected with a hint; converted when declared
printf 'id,v\n1,a\n2,\xff\xfe\n' > badutf8.csv
rules r4.lua badutf8.csv
run_q 2 run --rules r4.lua --quiet
expect_contains "invalid UTF-8 names file:line" "badutf8.csv:3" "$ERR"
printf 'id,v\n1,中文数据\n' | iconv -f UTF-8 -t GBK > gbk.csv
rules r5.lua gbk.csv
run_q 2 run --rules r5.lua --quiet
expect_contains "GBK detected with hint" 'encoding = "gbk"' "$ERR"
printf 'dataset "d" { source = "gbk.csv", key = "id", encoding = "gbk" }\nrule "d.v" { field = "v", pattern = "^中文" }\n' > r6.lua
run_q 0 run --rules r6.lua --json --quiet
expect_eq "GBK converted when declared" "1/0" "$(json_get "$OUT" '"%d/%d" % (d["rules"][0]["checked"], d["rules"][0]["failed"])')"
runs_before=$(sql "SELECT count(*) FROM runs")
findings_before=$(sql "SELECT count(*) FROM findings")

# missing data file
rules r7.lua nowhere.csv
run_q 2 run --rules r7.lua --quiet
expect_contains "missing data file named" "nowhere.csv" "$ERR"

# rule file problems: syntax error, invalid pattern, unknown attribute,
# undeclared dataset, field not in the data, wrong types
printf 'dataset "d" { source = "good.csv", key = "id" }\nrule "d.v" { field = "v" not_null = true }\n' > syntax.lua
run_q 2 run --rules syntax.lua --quiet
expect_contains "syntax error file:line" "syntax.lua:2" "$ERR"
rules pat.lua good.csv 'rule "d.p" { field = "v", pattern = "([a-z" }'
run_q 2 run --rules pat.lua --quiet
expect_contains "invalid pattern file:line" "pat.lua:3" "$ERR"
expect_contains "invalid pattern says so" "正则" "$ERR"
rules typo.lua good.csv 'rule "d.t" { field = "v", not_nul = true }'
run_q 2 run --rules typo.lua --quiet
expect_contains "unknown attribute" "not_nul" "$ERR"
expect_contains "unknown attribute line" "typo.lua:3" "$ERR"
rules undeclared.lua good.csv 'rule "other.x" { field = "v", not_null = true }'
run_q 2 run --rules undeclared.lua --quiet
expect_contains "undeclared dataset" '"other"' "$ERR"
rules nofield.lua good.csv 'rule "d.n" { field = "missing_col", not_null = true }'
run_q 2 run --rules nofield.lua --quiet
expect_contains "field not in header" "missing_col" "$ERR"
expect_contains "field not in header names rule file" "nofield.lua:3" "$ERR"
rules badtype.lua good.csv 'rule "d.r" { field = "v", range = "0-10" }'
run_q 2 run --rules badtype.lua --quiet
expect_contains "range type" "range" "$ERR"
rules nocheck.lua good.csv 'rule "d.none" { field = "v" }'
run_q 2 run --rules nocheck.lua --quiet
expect_contains "rule without a check" "没有任何检查" "$ERR"
printf 'error("top-level failure")\n' > raises.lua
run_q 2 run --rules raises.lua --quiet
expect_contains "rule file raising" "raises.lua:1" "$ERR"
run_q 2 run --rules no-such-rules.lua --quiet
expect_contains "missing rule file" "no-such-rules.lua" "$ERR"
printf '\x1bLua\x54\x00' > bytecode.lua
run_q 2 run --rules bytecode.lua --quiet
expect_contains "bytecode refused" "字节码" "$ERR"

# qloop check finds the same rule problems without data or a store
run_q 2 check --rules typo.lua
expect_contains "check: unknown attribute" "typo.lua:3" "$ERR"
run_q 2 check --rules pat.lua
expect_contains "check: invalid pattern" "正则" "$ERR"
run_q 0 check --rules good.lua "$QLOOP_SOURCE_DIR/rules/examples"
expect_contains "check lists what a pack declares" "规则 d.v" "$OUT"
expect_contains "check summary" "检查通过" "$OUT"
run_q 2 check
run_q 0 check --help

# option problems
run_q 2 run --rules good.lua --data nosuch=good.csv --quiet
expect_contains "--data of an undeclared dataset" "nosuch" "$ERR"
run_q 2 run --rules good.lua --data broken --quiet
run_q 2 run --rules good.lua --fail-on many --quiet
QLOOP_NOW=yesterday run_q 2 run --rules good.lua --quiet
expect_contains "bad QLOOP_NOW" "QLOOP_NOW" "$ERR"
run_q 2 run --rules good.lua --db /nonexistent/dir/q.db --quiet
expect_contains "unwritable store" "/nonexistent/dir/q.db" "$ERR"
nothing_committed "after all bad inputs"
finish
