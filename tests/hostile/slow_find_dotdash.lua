-- hostile: a long C call — string.find with ".-.-.-.-.-b" over 300,000
-- hostile: characters (was: minutes). Pattern steps count against the budget.
-- rows: 3
-- expect: rule("d.find")["errors"] == ROWS
-- stderr: 指令预算
limits { instructions = 1000000 }  -- the default (10 million) ends the same way, slower
dataset "d" { source = "data.csv", key = "id" }
rule "d.find" {
  check = function(r) return string.find(string.rep("a", 3e5), ".-.-.-.-.-b") == nil end,
}
