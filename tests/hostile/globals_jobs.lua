-- hostile: a rule keeping state in a global changed results with --jobs (each
-- hostile: worker saw only its rows). A file's globals are read-only once it has
-- hostile: loaded: the rule errs on every row, the same with 1 and 2 workers.
-- rows: 3000
-- jobs: 1 2
-- expect: rule("d.count")["errors"] == ROWS
-- expect: rule("d.reads")["failed"] == 0 and rule("d.reads")["errors"] == 0
-- stderr: 全局变量
seen = 0
LIMIT = 10
dataset "d" { source = "data.csv", key = "id" }
rule "d.count" { check = function(r) seen = seen + 1 return seen < LIMIT end }
rule "d.reads" { check = function(r) return LIMIT == 10 and seen == 0 end }
