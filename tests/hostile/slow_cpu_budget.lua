-- hostile: a call that is cheap in instructions but long in CPU (each
-- hostile: s:upper() copies 20 MB): the CPU budget per call (here 0.3 s, set
-- hostile: per pack) stops the run with exit 2 naming the rule and the row.
-- rows: 3
-- exit: 2
-- stderr: 规则 d.slow 在数据集 d 第 1 行
-- stderr: 太慢
limits { cpu_seconds = 0.3 }
dataset "d" { source = "data.csv", key = "id" }
rule "d.slow" {
  check = function(r)
    local s = string.rep("x", 2e7)
    for i = 1, 1e6 do s = s:upper():lower() end
    return true
  end,
}
