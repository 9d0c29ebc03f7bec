-- hostile: C calls far longer than the CPU budget (sorting 900,000 numbers,
-- hostile: with no Lua in between for a hook to stop): the watchdog ends the
-- hostile: process with exit 2, naming the rule and the row; the store stays as it was.
-- rows: 3
-- exit: 2
-- stderr: 第 1 行
-- stderr: CPU
limits { cpu_seconds = 0.01 }
dataset "d" { source = "data.csv", key = "id" }
rule "d.sort" {
  check = function(r)
    local t = { string.byte(string.rep("\7\3\9\1\250\4\99\18\77", 100000), 1, -1) }
    for i = 1, 50 do table.sort(t, math.ult) table.sort(t) end
    return true
  end,
}
