# The hostile rule corpus (tests/hostile/, one case per sandbox escape class):
# each case ends with exit 2, or with the rule's errors counted and the run
# finished, within seconds and under its own timeout — never a crash, a hang
# or a store written in part. tests/hostile/run.py runs the cases and checks
# the store; this test fails when any check does.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
if python3 "$QLOOP_SOURCE_DIR/tests/hostile/run.py" "$QLOOP_BIN" > hostile.log 2>&1; then
    ok "$(tail -1 hostile.log)"
else
    grep -v '^ok' hostile.log >&2 || true
    fail "hostile corpus: $(tail -1 hostile.log)"
fi
finish
