dataset "d" { source = "d.csv", key = "id" }
rule "d.spin"  { check = function(r) while true do end end }
rule "d.hog"   { check = function(r) local t = {} for i = 1, 1e9 do t[i] = string.rep("y", 4096) .. i end end }
rule "d.raise" { field = "v", check = function(v) if v == "b" then error("bad b") end return true end }
rule "d.fine"  { field = "v", pattern = "^[a-c]$" }
rule "d.io"    { check = function(r) return io == nil and os == nil end }
