-- hostile: deep recursion in code that is no file (a load()ed chunk): the
-- hostile: error handler looks at a bounded number of frames (was: quadratic,
-- hostile: minutes for 200,000 frames).
-- mode: eval
-- exit: 2
-- seconds: 10
-- stderr: stack overflow
return load("local function f(n) return 1 + f(n + 1) end return f(1)", "=inner")()
