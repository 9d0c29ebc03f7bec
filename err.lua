local x = 1
error("on line two")
