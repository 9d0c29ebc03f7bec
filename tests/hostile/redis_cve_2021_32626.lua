-- hostile: Redis CVE-2021-32626 class — C code pushing onto the Lua stack
-- hostile: without checking its size. Rules return or produce as many values
-- hostile: as the stack allows, recurse through C (gsub, __index, tostring),
-- hostile: ask re.find for hundreds of captures: each is an error of the rule,
-- hostile: never a crash (the suite runs this corpus under ASan as well).
-- rows: 3
-- seconds: 30
-- expect: all(rule("d.s%d" % i)["errors"] == ROWS for i in (1, 2, 4, 5, 6, 7))
-- expect: rule("d.s3")["errors"] + rule("d.s3")["failed"] + rule("d.s3")["checked"] >= ROWS
limits { instructions = 50000000 }
dataset "d" { source = "data.csv", key = "id" }
local big = {}
for i = 1, 999900 do big[i] = i end
rule "d.s1" { check = function(r) return table.unpack(big) end }
rule "d.s2" { check = function(r) return string.byte(string.rep("x", 2e6), 1, -1) end }
rule "d.s3" { field = "v", check = function(v) return re.find(string.rep("(a?)", 300) .. "$", v) ~= nil end }
rule "d.s4" {
  check = function(r)
    local function g(s) return (s:gsub(".", g)) end
    return g("abc") ~= nil
  end,
}
rule "d.s5" { check = function(r) local t = setmetatable({}, {}) getmetatable(t).__index = function(t, k) return t[k] end return t.x end }
rule "d.s6" {
  check = function(r)
    local mt = {} mt.__tostring = function(o) return tostring(setmetatable({}, mt)) end
    return tostring(setmetatable({}, mt))
  end,
}
rule "d.s7" { check = function(r) return select("#", table.unpack(big, 1, 999900)) end }
