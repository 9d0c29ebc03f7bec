-- hostile: catastrophic PCRE2 patterns. Hitting the (lowered) match limit is
-- hostile: the rule's error on that value, cheaply; re.find raises like re.match.
-- rows: 200
-- seconds: 15
-- expect: rule("d.pattern")["errors"] == ROWS
-- expect: rule("d.rematch")["errors"] == ROWS
-- expect: rule("d.refind")["errors"] == ROWS and rule("d.refind")["failed"] == 0
-- stderr: 回溯过多
dataset "d" { source = "data.csv", key = "id" }
cleanse "d" { name = function(s) return string.rep("a", 40) .. "!" end }
rule "d.pattern" { field = "name", pattern = "^(a+)+$" }
rule "d.rematch" { field = "name", check = function(v) return re.match("^(\\w+\\s?)*$", v) end }
rule "d.refind" { field = "name", check = function(v) return re.find("^(a|aa)+$", v) ~= nil end }
