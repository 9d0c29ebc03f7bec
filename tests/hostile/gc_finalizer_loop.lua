-- hostile: a finalizer that never ends (Lua runs __gc with hooks off): refused
-- hostile: wherever it is set — at load (exit 2) and, here, in a check (an error).
-- rows: 3
-- expect: rule("d.gc")["errors"] == ROWS
-- stderr: __gc
dataset "d" { source = "data.csv", key = "id" }
rule "d.gc" {
  check = function(r)
    setmetatable({}, { __gc = function() while true do end end })
    return true
  end,
}
