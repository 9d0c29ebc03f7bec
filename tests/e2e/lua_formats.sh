# Every format given to Lua's own formatter (luaL_error, lua_pushfstring) uses
# only what lua_pushfstring understands — %% %s %d %I %f %p %c %U — with as
# many arguments as conversions, and %d / %I arguments cast to int /
# lua_Integer (an unknown option such as '%l' raises "invalid option" at the
# worst moment: while reporting another error). printf-style formats go
# through qloop_lua_error / qloop_lua_pushf / dsl_error, checked by the
# compiler.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
problems=$(python3 "$QLOOP_SOURCE_DIR/tests/lint/lua_formats.py" "$QLOOP_SOURCE_DIR")
n=$(python3 "$QLOOP_SOURCE_DIR/tests/lint/lua_formats.py" --count "$QLOOP_SOURCE_DIR")
expect_eq "Lua formats are valid" "" "$problems"
[ "$n" -gt 20 ] && ok "checked $n formats" || fail "only $n formats found: the scanner is broken"
# the scanner finds a bad format when there is one
mkdir -p bad/engine && printf 'void f(lua_State *L, long n) {\n  luaL_error(L, "at %%s:%%ld", "x",\n             n);\n}\n' > bad/engine/x.c
bad=$(python3 "$QLOOP_SOURCE_DIR/tests/lint/lua_formats.py" "$T/bad")
expect_contains "a %ld is reported" "x.c:2" "$bad"
finish
