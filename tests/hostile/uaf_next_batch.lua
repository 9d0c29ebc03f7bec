-- hostile: use after free — r kept from the first batch (4,096 rows) is read
-- hostile: while judging the next batch: an error of that rule, never a stale read.
-- rows: 5000
-- expect: rule("d.keep")["errors"] == ROWS - 4096
-- expect: rule("d.keep")["checked"] == 4096
dataset "d" { source = "data.csv", key = "id" }
local first
rule "d.keep" {
  check = function(r)
    first = first or r
    return first.id ~= nil
  end,
}
