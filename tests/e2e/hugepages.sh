# A night's run executes itself once with glibc.malloc.hugetlb=1 when the
# kernel offers transparent huge pages (base/hugepages.h) and says so under
# --timings; QLOOP_HUGEPAGES=0 and the user's own GLIBC_TUNABLES choice are
# kept; the findings are the same either way.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
"$QLOOP_BUILD_DIR/gen_w1" 3000 pop.csv --seed 5 "${GENDIV[@]}" >/dev/null
export QLOOP_NOW=2026-11-22T00:00:00+08:00
mode=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || true)
want="普通页"
# a sanitizer build (QLOOP_SLOWDOWN > 1) has its own allocator: no exec
if [ "${QLOOP_SLOWDOWN:-1}" = 1 ]; then
    case "$mode" in *"[madvise]"*|*"[always]"*) want="透明大页" ;; esac
fi
q='SELECT rule, row_no, record_key, value, message FROM findings ORDER BY id'
night() { # night DB [env...]
    local db=$1; shift
    env "$@" "$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.csv "${DIV[@]}" \
        --db "$db" --quiet --timings 2>&1 >/dev/null | grep '堆内存' || true
}
expect_contains "THP mode [$mode]: the heap line" "堆内存：$want" "$(night a.db)"
expect_contains "QLOOP_HUGEPAGES=0" "堆内存：普通页" "$(night b.db QLOOP_HUGEPAGES=0)"
expect_contains "the user's hugetlb=0" "堆内存：普通页" "$(night c.db GLIBC_TUNABLES=glibc.malloc.hugetlb=0)"
if [ "$want" = "透明大页" ]; then
    expect_contains "the user's hugetlb=1, no exec needed" "堆内存：透明大页" \
        "$(night d.db GLIBC_TUNABLES=glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1)"
fi
expect_eq "the same findings with and without" "$(sqlite3 a.db "$q" | md5sum)" "$(sqlite3 b.db "$q" | md5sum)"
expect_eq "the same findings, the user's choice" "$(sqlite3 a.db "$q" | md5sum)" "$(sqlite3 c.db "$q" | md5sum)"
finish
