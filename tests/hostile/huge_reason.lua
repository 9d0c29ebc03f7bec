-- hostile: unbounded rule output — `false, string.rep("Z", 5e7) .. v` on 40 rows
-- hostile: was 4.2 GB of memory, a 4 GB store, exit 0 (here 5e6 per row, to stay
-- hostile: quick). The reason is cut to 512 bytes with a note of how much was cut.
-- rows: 40
-- max_message: 2000
-- expect: rule("d.big")["failed"] == ROWS
-- expect: rule("d.bigerr")["errors"] == ROWS
dataset "d" { source = "data.csv", key = "id", owner = "甲" }
rule "d.big" { field = "v", check = function(v) return false, string.rep("Z", 5e6) .. v end }
rule "d.bigerr" { field = "v", check = function(v) error(string.rep("E", 5e6) .. v) end }
