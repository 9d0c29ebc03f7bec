# `cmake --install` gives a working qloop: the binary, the shipped policies,
# the assessment model, the sample rule packs and the docs land under the
# prefix; the installed binary carries no path of the source tree and, run
# from elsewhere with the installed examples, imports the catalog, runs,
# lists tickets under either policy and writes the annual report (policies
# and model from the data directory when installed at the configured prefix,
# else from the copies compiled in, as here).
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"

P="$T/prefix"
if ! cmake --install "$QLOOP_BUILD_DIR" --prefix "$P" --strip >install.log 2>&1; then
    cat install.log >&2
    fail "cmake --install failed"
    finish
fi
for f in bin/qloop share/qloop/policies/ningbo.lua share/qloop/policies/wenzhou.lua \
         share/qloop/assessment.lua share/qloop/examples/people.lua share/qloop/examples/compare.lua \
         share/qloop/examples/people.csv share/qloop/examples/catalog.csv \
         share/doc/qloop/architecture.md share/doc/qloop/extending.md; do
    if [ -f "$P/$f" ]; then ok "installed $f"; else fail "not installed: $f"; fi
done
[ -x "$P/bin/qloop" ] || fail "bin/qloop is not executable"
# (A sanitizer build names its source files for its reports: not checked there.)
if grep -qaF "__ubsan_handle" "$P/bin/qloop"; then
    ok "sanitizer build: source paths are the sanitizers' own"
elif grep -qaF "$QLOOP_SOURCE_DIR" "$P/bin/qloop"; then
    fail "the installed binary names the source tree $QLOOP_SOURCE_DIR"
else
    ok "no source path in the installed binary"
fi

# The installed binary, away from the source tree and the build.
QLOOP_BIN="$P/bin/qloop"
mkdir site && cp -r "$P/share/qloop/examples" site/ && cd site
export QLOOP_DB="$T/site/qloop.db" QLOOP_NOW=2026-11-22T02:00:00+08:00
want=$(sed -n 's/^project(qloop VERSION \([0-9.]*\).*/\1/p' "$QLOOP_SOURCE_DIR/CMakeLists.txt")
run_q 0 --version
expect_eq "installed --version" "qloop $want" "$OUT"
run_q 0 catalog import examples/catalog.csv --actor install
run_q 0 run --rules examples --json --quiet
opened=$(json_get "$OUT" 'd["tickets"]["opened"]')
[ "$opened" -gt 0 ] && ok "installed run opened $opened tickets" || fail "installed run opened no ticket"
run_q 0 tickets list --json
expect_eq "tickets listed" "$opened" "$(json_get "$OUT" 'len(d)')"
run_q 0 tickets list --policy wenzhou --json
expect_eq "policy by name (compiled in)" "$opened" "$(json_get "$OUT" 'len(d)')"
run_q 0 tickets list --policy "$P/share/qloop/policies/wenzhou.lua" --state 反馈
run_q 0 calendar workday 2024-10-01
expect_eq "calendar" "false" "$OUT"
run_q 0 report annual --year 2026 --format json --out builtin.json
run_q 0 report annual --year 2026 --format json --model "$P/share/qloop/assessment.lua" --out installed.json
expect_eq "installed model = compiled-in model" \
    "$(json_get "$(cat builtin.json)" '[(x["name"], x["score"]) for x in d["departments"]]')" \
    "$(json_get "$(cat installed.json)" '[(x["name"], x["score"]) for x in d["departments"]]')"
run_q 0 audit verify
finish
