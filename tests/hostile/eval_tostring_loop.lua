-- hostile: eval printing a value whose __tostring never ends, or is no string.
-- mode: eval
-- exit: 2
-- stderr: 指令预算
return setmetatable({}, { __tostring = function() while true do end end })
