-- hostile: one file rewrites a library for everyone — `idcard.valid = function()
-- hostile: return true end` (was: turned another pack's failures into passes,
-- hostile: on the C fast path too). Library tables are read-only: exit 2 at load.
-- exit: 2
-- stderr: lib_overwrite.lua:7
-- stderr: 只读
idcard.valid = function() return true end
dataset "d" { source = "data.csv", key = "id" }
rule "d.id" { field = "name", check = idcard.valid }
