# Input that used to be misread or slow, through the binary:
#   - a CSV whose lines end in CR alone (old Mac style) is reported as such,
#     with what to do, not as "field not in header";
#   - a header of 100,000 columns is read (it once took 73 s: every name was
#     compared with every other and located from the start of the line), and
#     a name repeated at its far end is named with both columns — this test
#     checks the result, the speed is in bench/README.md;
#   - a rule file nested too deep for Lua's parser reports its file and line,
#     not a bare "C stack overflow".
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

printf 'dataset "c" { key = "id", owner = "A" }\nrule "c.r" { field = "phone", not_null = true }\n' > c.lua
printf 'id,phone\r1,\r2,13812345678\r' > cr.csv
run_q 2 run --rules c.lua --data c=cr.csv --quiet
expect_contains "CR-only: said so" "cr.csv:1:9: 文件只用回车符（CR）换行" "$ERR"
expect_contains "CR-only: what to do" "转换为 LF 或 CRLF" "$ERR"
case "$ERR" in *"不在数据文件"*) fail "CR-only reported as a missing field" ;; *) ok "not a missing field" ;; esac
printf 'id,phone\r\n1,\r\n2,13812345678\r\n' > crlf.csv
run_q 0 run --rules c.lua --data c=crlf.csv --quiet

python3 -c 'n = 100000
print(",".join("c%d" % i for i in range(n)))
print(",".join("v" for i in range(n)))' > wide.csv
printf 'dataset "w" { key = "c0", owner = "A" }\nrule "w.r" { field = "c99999", not_null = true }\n' > w.lua
run_q 0 run --rules w.lua --data w=wide.csv --json --quiet
expect_eq "100,000 columns read" "1" "$(json_get "$OUT" 'd["datasets"][0]["rows"]')"
python3 -c 'n = 100000
print(",".join(["c%d" % i for i in range(n - 1)] + ["c7"]))
print(",".join("v" for i in range(n)))' > wide-dup.csv
run_q 2 run --rules w.lua --data w=wide-dup.csv --quiet
expect_contains "repeated name far out: both columns" "列名“c7”重复：表头第 8 列和第 100000 列同名" "$ERR"

python3 -c 'print("dataset \"n\" { key = \"id\" }")
print("-- ((( not code")
print("local x = " + "{" * 500 + "}" * 500)' > deep.lua
run_q 2 check --rules deep.lua
expect_contains "nested too deep: file and line" "deep.lua:3: 嵌套过深" "$ERR"
case "$ERR" in *"C stack overflow"*) fail "the bare parser message leaked" ;; *) ok "no bare C stack overflow" ;; esac
finish
