-- hostile: use after free — a record rule keeps r in an upvalue; a compare's
-- hostile: `equal` reads it after its batch is gone (was: exit 139 in recview_index).
-- expect: rule("d.keep")["checked"] == ROWS and rule("d.keep")["errors"] == 0
-- expect: rule("cmp.mismatch.v")["errors"] == ROWS
-- stderr: 记录 r 已经失效
dataset "d" { source = "data.csv", key = "id", owner = "甲" }
dataset "e" { source = "e.csv", key = "id", owner = "乙" }
local kept
rule "d.keep" { check = function(r) kept = r return true end }
compare "cmp" {
  left = "d", right = "e",
  fields = { v = { equal = function(a, b) return kept.v == a end } },
}
