-- hostile: a misspelt library name, check = uscc.vaild (was: silently no check).
-- hostile: `qloop check` stops with the file and line, exit 2.
-- mode: check
-- exit: 2
-- stderr: misspelt_check.lua:8
-- stderr: uscc.vaild
dataset "d" { source = "data.csv", key = "id" }
rule "d.uscc" { field = "name", check = uscc.vaild }
