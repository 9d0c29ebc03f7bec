-- hostile: `getmetatable(r).__index = …` in one rule forged every later rule's
-- hostile: fields. The record metatable is protected: the tampering rule errs on
-- hostile: each row, and the later rule still reads the real values.
-- expect: rule("d.forge")["errors"] == ROWS
-- expect: rule("d.later")["failed"] == 0 and rule("d.later")["errors"] == 0
-- expect: rule("d.write")["errors"] == ROWS
dataset "d" { source = "data.csv", key = "id" }
rule "d.forge" {
  check = function(r) getmetatable(r).__index = function() return "forged" end return true end,
}
rule "d.write" { check = function(r) r.v = "forged" return true end }
rule "d.later" { check = function(r) return r.v ~= "forged" and r.id == tostring(r.n) end }
