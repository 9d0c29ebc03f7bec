# Turns each engine/data/NAME.txt into `const char qloop_data_NAME[]` in one C file.
# Usage: cmake -DOUT=file.c -DFILES="a.txt;b.txt" -P embed.cmake
set(code "/* Generated from engine/data by embed.cmake: do not edit. */\n#include <stddef.h>\n")
string(REPLACE "|" ";" FILES "${FILES}")
foreach(f ${FILES})
  get_filename_component(name ${f} NAME_WE)
  string(MAKE_C_IDENTIFIER ${name} ident)
  file(READ ${f} hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR nbytes "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND code "const char qloop_data_${ident}[] = {${bytes}0x00};\nconst size_t qloop_data_${ident}_len = ${nbytes};\n")
endforeach()
file(WRITE ${OUT} "${code}")
