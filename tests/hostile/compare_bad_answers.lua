-- hostile: a compare's `equal` returning what is neither true nor false/nil —
-- hostile: {} or "false" — counted as "equal" before; a `normalize` returning a
-- hostile: table or a value far longer than its input. Each is the compare's
-- hostile: error on every pair, never a pass, never a store of megabytes.
-- expect: rule("c1.mismatch.v")["errors"] == ROWS and rule("c1.mismatch.v")["failed"] == 0
-- expect: rule("c2.mismatch.v")["errors"] == ROWS
-- expect: rule("c3.mismatch.v")["errors"] == ROWS
-- expect: rule("c4.mismatch.v")["errors"] == 0 and rule("c4.mismatch.v")["failed"] == ROWS
-- stderr: check 应返回 true
dataset "d" { source = "data.csv", key = "id", owner = "甲" }
dataset "e" { source = "e.csv", key = "id", owner = "乙" }
compare "c1" { left = "d", right = "e", fields = { v = { equal = function(a, b) return {} end } } }
compare "c2" { left = "d", right = "e", fields = { v = { equal = function(a, b) return "false" end } } }
compare "c3" { left = "d", right = "e",
  fields = { v = { normalize = function(s) return string.rep("Z", 1e7) .. s end } } }
compare "c4" { left = "d", right = "e", fields = { v = { equal = function(a, b) return false end } } }
