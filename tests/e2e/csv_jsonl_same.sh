# The same records as CSV and as JSON Lines give the same counts.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
"$QLOOP_BUILD_DIR/gen_w1" 20000 pop.csv --seed 3 --jsonl pop.jsonl "${GENDIV[@]}" >/dev/null
export QLOOP_NOW=2026-11-22T00:00:00+08:00
counts() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join("%s=%d/%d/%d" % (r["id"], r["checked"], r["failed"], r["errors"]) for r in d["rules"]), d["failed_records"])'; }
a=$("$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.csv "${DIV[@]}" --db a.db --json --quiet | counts)
b=$("$QLOOP_BIN" run --rules "$QLOOP_SOURCE_DIR/bench/w1.lua" --data pop=pop.jsonl "${DIV[@]}" --db b.db --json --quiet | counts)
expect_eq "CSV and JSON Lines counts" "$a" "$b"
case "$a" in *"=0/0/0"*) fail "a rule judged nothing: $a" ;; *) ok "every rule judged records" ;; esac
expect_eq "same findings" "$(sqlite3 a.db 'SELECT rule, row_no, value FROM findings ORDER BY 1, 2' | md5sum)" "$(sqlite3 b.db 'SELECT rule, row_no, value FROM findings ORDER BY 1, 2' | md5sum)"
finish
