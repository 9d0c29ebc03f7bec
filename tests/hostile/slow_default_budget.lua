-- hostile: the default CPU budget (1 s per call) stops a slow cleanse step:
-- hostile: exit 2, naming the dataset, field and row.
-- rows: 3
-- exit: 2
-- stderr: 数据集 d 字段 name 的清洗函数在第 1 行
dataset "d" { source = "data.csv", key = "id" }
cleanse "d" {
  name = function(s)
    local x = string.rep("z", 3e7)
    for i = 1, 1e6 do x = x:reverse() end
    return s
  end,
}
rule "d.ok" { field = "name", not_null = true }
