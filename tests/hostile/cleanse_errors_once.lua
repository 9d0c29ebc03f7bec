-- hostile: a cleanse step that raises on every row printed one stderr line per
-- hostile: row (a million lines a night); now one line per field with the count
-- hostile: and the first row, and the values stay as read.
-- rows: 2000
-- max_stderr: 4000
-- expect: rule("d.v")["checked"] == ROWS
-- stderr: 在 2000 条记录上出错
-- stderr: 第一处在数据第 1 行
dataset "d" { source = "data.csv", key = "id" }
cleanse "d" { v = function(s) error("坏") end }
rule "d.v" { field = "v", not_null = true }
