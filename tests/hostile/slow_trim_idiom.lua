-- hostile: the quadratic trim idiom v:match("^%s*(.-)%s*$") on an 80 kB run of
-- hostile: spaces inside the value (was: 103 s for three cells). A cleanse step
-- hostile: and a check both end with the budget error; the run finishes.
-- rows: 3
-- expect: rule("d.trim")["errors"] == ROWS
-- stderr: 清洗函数
limits { instructions = 2000000 }
dataset "d" { source = "data.csv", key = "id" }
cleanse "d" {
  name = function(s) return ("x" .. string.rep(" ", 80000) .. s):match("^%s*(.-)%s*$") end,
}
rule "d.trim" {
  field = "v",
  check = function(v) return (v .. string.rep(" ", 80000) .. "y"):match("^%s*(.-)%s*$") ~= nil end,
}
