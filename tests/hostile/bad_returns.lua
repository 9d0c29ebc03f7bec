-- hostile: checks returning what is neither true nor false/nil (+ reason) —
-- hostile: {}, "false", 0, a function, a table reason — counted as passes before.
-- hostile: Each is the rule's error on every row; nil and false fail; true passes.
-- expect: all(rule("d." + k)["errors"] == ROWS and rule("d." + k)["failed"] == 0 for k in ("table", "string", "zero", "func", "treason"))
-- expect: rule("d.nil")["failed"] == ROWS and rule("d.nil")["errors"] == 0
-- expect: rule("d.noreturn")["failed"] == ROWS
-- expect: rule("d.falsenum")["failed"] == ROWS and rule("d.falsenum")["errors"] == 0
-- expect: rule("d.true")["failed"] == 0 and rule("d.true")["errors"] == 0
-- stderr: check 应返回 true
dataset "d" { source = "data.csv", key = "id" }
rule "d.table" { check = function(r) return {} end }
rule "d.string" { field = "v", check = function(v) return "false" end }
rule "d.zero" { field = "v", check = function(v) return 0 end }
rule "d.func" { check = function(r) return print end }
rule "d.treason" { check = function(r) return false, {} end }
rule "d.nil" { check = function(r) return nil, "没有" end }
rule "d.noreturn" { check = function(r) end }
rule "d.falsenum" { check = function(r) return false, 42 end }
rule "d.true" { check = function(r) return true, {} end }
