-- hostile: an error object whose __tostring loops: the message handler runs it
-- hostile: under the spent budget; the rule's error is counted.
-- rows: 3
-- expect: rule("d.err")["errors"] == ROWS
limits { instructions = 1000000 }
dataset "d" { source = "data.csv", key = "id" }
rule "d.err" {
  check = function(r)
    error(setmetatable({}, { __tostring = function() while true do end end }))
  end,
}
