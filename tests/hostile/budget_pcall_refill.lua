-- hostile: the instruction budget refilled by pcall — an endless loop of
-- hostile: pcall'ed endless loops. Each row is the rule's error; the run finishes.
-- rows: 3
-- expect: rule("d.spin")["errors"] == ROWS
-- expect: rule("d.xspin")["errors"] == ROWS
-- stderr: 指令预算
limits { instructions = 1000000 }
dataset "d" { source = "data.csv", key = "id" }
rule "d.spin" {
  check = function(r) while true do pcall(function() while true do end end) end end,
}
rule "d.xspin" {
  check = function(r)
    while true do xpcall(function() while true do end end, function(e) while true do end end) end
  end,
}
