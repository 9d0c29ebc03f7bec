-- hostile: eval printing a value whose __tostring raises (was: exit 134, abort).
-- mode: eval
-- exit: 2
-- stderr: boom
return 1, setmetatable({}, { __tostring = function() error("boom") end })
