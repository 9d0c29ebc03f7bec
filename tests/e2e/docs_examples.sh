#!/usr/bin/env bash
# docs_examples.sh — every example of docs/rules.md, run through `qloop eval`.
#
# An example is a line inside a ```lua block of the form
#     EXPRESSION  --> EXPECTED
# It runs `$QLOOP_BIN eval -e "return EXPRESSION"`, joins the printed lines
# with ", " and compares with EXPECTED. Prints each mismatch; exits 1 when
# any example differs or fewer than 30 examples were found, 0 otherwise.
# The clock is fixed (QLOOP_NOW) and the bundled division table is used, so
# the expected outputs do not depend on the day or the machine.
set -u

if [ -z "${QLOOP_BIN:-}" ] || [ ! -x "$QLOOP_BIN" ]; then
    echo "docs_examples: QLOOP_BIN 未设置或不可执行（应为 qloop 可执行文件的路径）" >&2
    exit 1
fi
src=${QLOOP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
doc="$src/docs/rules.md"
if [ ! -f "$doc" ]; then
    echo "docs_examples: 找不到 $doc" >&2
    exit 1
fi

export QLOOP_NOW=2024-09-27T10:00:00+08:00
unset QLOOP_DIVISIONS
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export QLOOP_DB="$work/qloop.db"
cd "$work" || exit 1

count=0
failed=0
lineno=0
in_lua=0
while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    case "$line" in
    '```lua'*) in_lua=1; continue ;;
    '```'*) in_lua=0; continue ;;
    esac
    [ "$in_lua" = 1 ] || continue
    case "$line" in
    *'  --> '*) ;;
    *) continue ;;
    esac
    expr=${line%%  --> *}
    want=${line#*  --> }
    count=$((count + 1))
    out=$("$QLOOP_BIN" eval -e "return $expr" 2>"$work/stderr")
    rc=$?
    got=$(printf '%s\n' "$out" | awk 'NR > 1 { printf ", " } { printf "%s", $0 }')
    if [ "$rc" -ne 0 ] || [ "$got" != "$want" ]; then
        failed=$((failed + 1))
        echo "docs/rules.md:$lineno: $expr"
        echo "    expected: $want"
        echo "    got:      $got (exit $rc)"
        if [ -s "$work/stderr" ]; then
            sed 's/^/    stderr:   /' "$work/stderr"
        fi
    fi
done <"$doc"

echo "docs_examples: $count examples, $failed mismatched"
if [ "$count" -lt 30 ]; then
    echo "docs_examples: only $count examples found in docs/rules.md (at least 30 expected)" >&2
    exit 1
fi
[ "$failed" -eq 0 ] || exit 1
exit 0
