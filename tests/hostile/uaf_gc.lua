-- hostile: use after free at lua_close — a __gc finalizer that reads a kept
-- hostile: record after the run committed. The sandbox refuses __gc (exit 2 at load).
-- exit: 2
-- stderr: __gc
-- stderr: uaf_gc.lua:8
dataset "d" { source = "data.csv", key = "id" }
local kept
setmetatable({}, { __gc = function() return kept.v end })
rule "d.keep" { check = function(r) kept = r return true end }
