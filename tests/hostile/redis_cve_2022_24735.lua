-- hostile: Redis CVE-2022-24735 class — a script tampers with metatables and
-- hostile: shared tables so that code run later (another user's script; here
-- hostile: another rule) executes the attacker's functions. Every attempt, made
-- hostile: at run time in a check, is an error of that rule; the victim rule
-- hostile: afterwards still sees the real string functions, libraries and records.
-- rows: 3
-- expect: all(rule("d.t%d" % i)["errors"] == ROWS for i in range(1, 10))
-- expect: rule("d.victim")["failed"] == 0 and rule("d.victim")["errors"] == 0
dataset "d" { source = "data.csv", key = "id" }
local evil = function() return "pwned" end
rule "d.t1" { check = function(r) getmetatable("").__index = { upper = evil } return true end }
rule "d.t2" { check = function(r) getmetatable("").__index.upper = evil return true end }
rule "d.t3" { check = function(r) string.upper = evil return true end }
rule "d.t4" { check = function(r) rawset(string, "upper", evil) return true end }
rule "d.t5" { check = function(r) setmetatable(string, { __index = { upper = evil } }) return true end }
rule "d.t6" { check = function(r) getmetatable(r).__index = evil return true end }
rule "d.t7" { check = function(r) rawset(_ENV, "clean", { trim = evil }) return true end }
rule "d.t8" { check = function(r) clean = { trim = evil } return true end }
rule "d.t9" { check = function(r) getmetatable(_ENV).__index.clean = { trim = evil } return true end }
rule "d.victim" {
  check = function(r)
    return ("a"):upper() == "A" and string.upper("b") == "B" and clean.trim(" x ") == "x"
       and r.v ~= "pwned" and getmetatable("") == false
  end,
}
