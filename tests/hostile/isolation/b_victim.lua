rule "d.b_idcard" { field = "name", check = idcard.valid }
rule "d.b_upper" { field = "v", check = function(v) return ("x"):upper() == "X" and string.upper(v) ~= "X" end }
rule "d.b_globals" { check = function(r) return LEFT_BY_A == nil and type(idcard.parse) == "function" end }
