# layout.cmake — the rules of the source tree, checked on every build (target
# `layout`) and by ctest (test `layout`):
#   1. engine folders depend one way: a file includes engine headers only from
#      its own folder and the folders below it (the table below);
#      adapters/ sees only engine/base; reports/ sees no run/ and no cli/;
#      web/ (the portal) sees the engine and reports/report.h, never cli/ or
#      adapters/, and nothing outside web/ includes a web/ header;
#   2. no source file is longer than 1,000 lines;
#   3. the repository root holds only what a newcomer needs.
# Usage: cmake -DROOT=<source dir> -P layout.cmake
if(NOT ROOT)
  message(FATAL_ERROR "layout.cmake: -DROOT=<source dir> is required")
endif()

# Each folder and what it may include (besides itself).
set(allow_base "")
set(allow_checks "base")
set(allow_store "base")
set(allow_lua "base;checks")
set(allow_rules "base;checks;lua")
set(allow_identity "base;checks;store")
set(allow_loop "base;checks;lua;rules;store;identity")
set(allow_catalog "base;checks;lua;rules;store;identity")
set(allow_run "base;checks;lua;rules;store;identity;loop;catalog")
set(allow_adapters "base")
set(allow_reports "base;checks;lua;rules;store;identity;loop;catalog")
set(allow_web "base;checks;lua;rules;store;identity;loop;catalog;run")
set(engine_layers base checks store identity lua rules loop catalog run)

set(problems "")

function(check_includes file layer)
  set(found "${problems}")
  file(STRINGS ${file} lines REGEX "^[ \t]*#[ \t]*include[ \t]+\"")
  foreach(line ${lines})
    string(REGEX REPLACE "^[ \t]*#[ \t]*include[ \t]+\"([^\"]+)\".*" "\\1" inc "${line}")
    string(REGEX MATCH "^([a-z_]+)/" m "${inc}")
    if(NOT m)
      continue()
    endif()
    set(target "${CMAKE_MATCH_1}")
    list(FIND engine_layers "${target}" is_layer)
    if(is_layer EQUAL -1 OR target STREQUAL layer)
      continue()
    endif()
    list(FIND allow_${layer} "${target}" ok)
    if(ok EQUAL -1)
      file(RELATIVE_PATH rel ${ROOT} ${file})
      set(found "${found}\n  ${rel}: includes \"${inc}\", but ${layer}/ may use only: ${allow_${layer}}")
    endif()
  endforeach()
  set(problems "${found}" PARENT_SCOPE)
endfunction()

# forbid_includes(WHY REGEX FILES...): each file that includes a header whose
# name matches REGEX is a problem, explained by WHY.
function(forbid_includes why regex)
  set(found "${problems}")
  foreach(f ${ARGN})
    file(STRINGS ${f} lines REGEX "#[ \t]*include[ \t]+\"(${regex})\"")
    if(lines)
      file(RELATIVE_PATH rel ${ROOT} ${f})
      set(found "${found}\n  ${rel}: ${why}")
    endif()
  endforeach()
  set(problems "${found}" PARENT_SCOPE)
endfunction()

foreach(layer ${engine_layers})
  file(GLOB files ${ROOT}/engine/${layer}/*.c ${ROOT}/engine/${layer}/*.h)
  foreach(f ${files})
    check_includes(${f} ${layer})
  endforeach()
endforeach()
file(GLOB files ${ROOT}/adapters/*.c ${ROOT}/adapters/*.h)
foreach(f ${files})
  check_includes(${f} adapters)
endforeach()
file(GLOB_RECURSE files ${ROOT}/reports/*.c ${ROOT}/reports/*.h)
foreach(f ${files})
  check_includes(${f} reports)
endforeach()
forbid_includes("reports/ must not include the command line or the adapters"
  "cli\\.h|options\\.h|adapters\\.h" ${files})
file(GLOB_RECURSE files ${ROOT}/engine/*.c ${ROOT}/engine/*.h)
forbid_includes("the engine must not include the command line, the adapters or the reports"
  "cli\\.h|options\\.h|adapters\\.h|report\\.h" ${files})
file(GLOB files ${ROOT}/web/*.c ${ROOT}/web/*.h)
foreach(f ${files})
  check_includes(${f} web)
endforeach()
forbid_includes("web/ must not include the command line or the adapters"
  "cli\\.h|options\\.h|adapters\\.h" ${files})
file(GLOB_RECURSE files ${ROOT}/engine/*.[ch] ${ROOT}/adapters/*.[ch] ${ROOT}/reports/*.[ch])
forbid_includes("only web/ and cli/ may include the portal's headers (web/)"
  "web\\.h|web_private\\.h|web_pages\\.h|html\\.h|web/[^\"]*" ${files})

# 2. File length.
file(GLOB_RECURSE sources ${ROOT}/engine/*.[ch] ${ROOT}/adapters/*.[ch] ${ROOT}/reports/*.[ch]
     ${ROOT}/web/*.[ch] ${ROOT}/cli/*.[ch] ${ROOT}/tests/*.[ch] ${ROOT}/bench/*.[ch])
foreach(f ${sources})
  file(READ ${f} text)
  string(REGEX MATCHALL "\n" nl "${text}")
  list(LENGTH nl n)
  file(RELATIVE_PATH rel ${ROOT} ${f})
  if(n GREATER 1000)
    set(problems "${problems}\n  ${rel}: ${n} lines; split it (at most 1,000, aim for 800)")
  endif()
endforeach()

# 3. The root.
set(root_allowed .ci .git .gitignore CMakeLists.txt README.md adapters bench cli cmake docs engine
    reports rules tests web)
file(GLOB entries RELATIVE ${ROOT} ${ROOT}/* ${ROOT}/.*)
foreach(e ${entries})
  if(e MATCHES "^build" OR e STREQUAL "." OR e STREQUAL "..")
    continue() # build folders are ignored by git
  endif()
  if(e MATCHES "^sample[-.]" OR e MATCHES "\\.db(-wal|-shm|\\.lock|\\.key|\\.calendar)?$")
    continue() # what the README's main command writes (ignored by git)
  endif()
  list(FIND root_allowed "${e}" ok)
  if(ok EQUAL -1)
    set(problems "${problems}\n  ${e}: does not belong in the repository root (move it, or delete what a test left behind)")
  endif()
endforeach()

if(problems)
  message(FATAL_ERROR "qloop layout check failed:${problems}")
endif()
