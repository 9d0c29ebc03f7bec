-- hostile: two files of one pack: a.lua tries every way around the read-only
-- hostile: libraries inside pcall (rawset, setmetatable, the string metatable,
-- hostile: load with the library as environment, its own globals) and leaves
-- hostile: a global; b.lua's rules must see the real libraries and none of a's globals.
-- rows: 4
-- expect: rule("d.b_idcard")["failed"] == ROWS and rule("d.b_idcard")["errors"] == 0
-- expect: rule("d.b_upper")["failed"] == 0 and rule("d.b_upper")["errors"] == 0
-- expect: rule("d.b_globals")["failed"] == 0 and rule("d.b_globals")["errors"] == 0
-- expect: rule("d.a_escapes")["failed"] == 0 and rule("d.a_escapes")["errors"] == 0
local worked = {}
local function try(name, f) if pcall(f) then worked[#worked + 1] = name end end
try("assign", function() idcard.valid = function() return true end end)
try("rawset", function() rawset(idcard, "valid", function() return true end) end)
try("setmetatable", function() setmetatable(idcard, { __index = { valid = function() return true end } }) end)
try("string mt", function() getmetatable("").__index = { upper = function() return "X" end } end)
try("string mt field", function() getmetatable("").__index.upper = function() return "X" end end)
try("string table", function() string.upper = function() return "X" end end)
try("table.insert", function() table.insert(idcard, 1) end)
try("load env", function() load("valid = function() return true end", "x", "t", idcard)() end)
try("env mt", function() getmetatable(_ENV).__index.idcard = { valid = function() return true end } end)
try("_G", function() _G.uscc = nil assert(uscc == nil) end)
LEFT_BY_A = true
idcard = { valid = function() return true end } -- its own global: only this file sees it
dataset "d" { source = "data.csv", key = "id" }
rule "d.a_escapes" { check = function(r) return #worked == 0, table.concat(worked, ", ") end }
