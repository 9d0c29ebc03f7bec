-- hostile: a rule printing a megabyte per row: print writes at most 1 MiB in a
-- hostile: state's life, then says so once.
-- rows: 50
-- max_stderr: 1200000
-- expect: rule("d.noisy")["checked"] == ROWS
-- stderr: print 输出已达上限
dataset "d" { source = "data.csv", key = "id" }
rule "d.noisy" { check = function(r) print(string.rep("x", 1e6)) return true end }
