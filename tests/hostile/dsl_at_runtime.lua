-- hostile: a check that declares rules and datasets while the run reads the pack
-- hostile: (would grow the arrays the run holds pointers into): an error of that rule.
-- expect: rule("d.declare")["errors"] == ROWS
-- expect: rule("d.limits")["errors"] == ROWS
-- stderr: 只能在加载规则文件时声明
dataset "d" { source = "data.csv", key = "id" }
local R, L = rule, limits
rule "d.declare" {
  check = function(r) R("d.extra" .. r.id) { field = "v", not_null = true } return true end,
}
rule "d.limits" { check = function(r) L { cpu_seconds = 60 } return true end }
