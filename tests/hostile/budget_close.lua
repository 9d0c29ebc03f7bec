-- hostile: the budget refilled inside __close — a to-be-closed variable whose
-- hostile: __close loops and catches, run as the budget error unwinds the stack.
-- rows: 3
-- expect: rule("d.close")["errors"] == ROWS
-- expect: rule("d.close_catch")["errors"] == ROWS
limits { instructions = 1000000 }
dataset "d" { source = "data.csv", key = "id" }
rule "d.close" {
  check = function(r)
    local x <close> = setmetatable({}, { __close = function() while true do end end })
    while true do end
  end,
}
rule "d.close_catch" {
  check = function(r)
    local x <close> = setmetatable({}, {
      __close = function() while true do pcall(function() while true do end end) end end,
    })
    return true
  end,
}
