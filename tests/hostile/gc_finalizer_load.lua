-- hostile: a finalizer that never ends, left by the rule file itself: `qloop
-- hostile: check` stops at once with exit 2 (was: a hang at lua_close).
-- mode: check
-- exit: 2
-- stderr: gc_finalizer_load.lua:7
-- stderr: __gc
setmetatable({}, { __gc = function() while true do end end })
dataset "d" { source = "data.csv", key = "id" }
