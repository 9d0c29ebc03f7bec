-- hostile: C functions of Lua's library that loop without allocating, out of
-- hostile: any hook's reach: string.rep("", math.maxinteger) and
-- hostile: table.move({}, 1, 2^62, 1) never returned. The first now returns ""
-- hostile: at once; the second charges its count to the budget: the rule's error.
-- rows: 3
-- expect: rule("d.rep")["failed"] == 0 and rule("d.rep")["errors"] == 0
-- expect: rule("d.move")["errors"] == ROWS
-- expect: rule("d.small")["failed"] == 0 and rule("d.small")["errors"] == 0
dataset "d" { source = "data.csv", key = "id" }
rule "d.rep" { check = function(r) return string.rep("", math.maxinteger) == "" and ("")
  :rep(math.maxinteger, "") == "" end }
rule "d.move" { check = function(r) table.move({}, 1, 2^62, 1) return true end }
rule "d.small" { check = function(r) return table.concat(table.move({ 1, 2, 3 }, 1, 3, 2), ",") == "1,1,2,3" end }
