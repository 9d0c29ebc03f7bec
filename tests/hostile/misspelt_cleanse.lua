-- hostile: a misspelt cleanser, clean.uper, stops `qloop run` before any data
-- hostile: is read: exit 2 with the file and line, the store as it was.
-- exit: 2
-- stderr: misspelt_cleanse.lua:7
-- stderr: clean.uper
dataset "d" { source = "data.csv", key = "id" }
cleanse "d" { name = clean.uper }
rule "d.name" { field = "name", not_null = true }
