-- hostile: a duplicate rule id printed "invalid option '%l' to 'lua_pushfstring'";
-- hostile: every format is now checked (tests/e2e/lua_formats.sh).
-- mode: check
-- exit: 2
-- stderr: dup_rule_id.lua:10
-- stderr: dup_rule_id.lua:9）
-- not_stderr: invalid option
dataset "d" { source = "data.csv", key = "id" }
rule "d.a" { field = "v", not_null = true }
rule "d.a" { field = "v", not_null = true }
