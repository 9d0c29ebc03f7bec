-- hostile: Suricata's Lua sandbox limits (util-lua-sandbox.c): a memory cap, an
-- hostile: instruction limit, and blocked functions. Growing memory, looping,
-- hostile: and reaching for io/os/package/debug/require/dofile/loadfile/
-- hostile: collectgarbage/string.dump/bytecode are errors of the rule; the run finishes.
-- rows: 3
-- expect: rule("d.memory")["errors"] == ROWS
-- expect: rule("d.bigrep")["errors"] == ROWS
-- expect: rule("d.loop")["errors"] == ROWS
-- expect: rule("d.blocked")["failed"] == 0 and rule("d.blocked")["errors"] == 0
-- expect: rule("d.dump")["errors"] == ROWS
-- expect: rule("d.bytecode")["errors"] == ROWS
-- stderr: 内存上限
limits { memory_mb = 32, instructions = 2000000 }
dataset "d" { source = "data.csv", key = "id" }
rule "d.memory" { check = function(r) local t = {} for i = 1, 1e9 do t[i] = string.rep("m", 1e5) .. i end end }
rule "d.bigrep" { check = function(r) return #string.rep("x", 2^40) > 0 end }
rule "d.loop" { check = function(r) local i = 0 while true do i = i + 1 end end }
rule "d.blocked" {
  check = function(r)
    return io == nil and os == nil and package == nil and debug == nil and require == nil
       and dofile == nil and loadfile == nil and collectgarbage == nil and coroutine == nil
  end,
}
rule "d.dump" { check = function(r) return string.dump(function() end) end }
rule "d.bytecode" { check = function(r) return load("\27Lua\84\0", "b", "b") end }
