# docs/dsl.md documents every attribute the DSL accepts: the lists are read
# from qloop's own error messages for an unknown attribute.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
DOC="$QLOOP_SOURCE_DIR/docs/dsl.md"
printf 'id\n1\n' > d.csv
check_kind() { # check_kind WHAT LUA
    printf '%s\n' "$2" > k.lua
    run_q 2 run --rules k.lua --quiet
    list=$(sed -n 's/.*可用的属性：\(.*\)$/\1/p' <<<"$ERR" | head -1)
    if [ -z "$list" ]; then fail "$1: no attribute list in: $ERR"; return; fi
    n=0
    for a in ${list//,/ }; do
        n=$((n + 1))
        grep -q "\`$a\`" "$DOC" || fail "$1 attribute $a is not in docs/dsl.md"
    done
    ok "$1: $n attributes documented"
}
check_kind dataset 'dataset "d" { source = "d.csv", bogus = 1 }'
check_kind rule 'dataset "d" { source = "d.csv" }
rule "d.r" { field = "id", bogus = 1 }'
check_kind compare 'dataset "d" { source = "d.csv", key = "id" }
compare "c" { left = "d", right = "d", bogus = 1 }'
finish
