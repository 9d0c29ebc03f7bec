# A real engine drives a partitioned run: Dask distributed (Debian's
# python3-distributed) runs a LocalCluster of 2 worker processes, which judge
# 4 parts of a generated W1 dataset split by lines (docs/scale-out/
# qloop_dask.py: the first part with its header, the others read with
# --header-from, each streamed through the judge's stdin and stdout); qloop
# merge then completes the run. It equals `qloop run` over the whole file:
# the same counts, the same findings, the same tickets. Normal build only
# (slow_), with its own timeout.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
export QLOOP_NOW=2026-11-22T02:00:00+08:00
if ! /usr/bin/python3 -c 'import distributed' 2>/dev/null; then
    fail "python3-distributed is not installed (tests/install-deps.sh installs it)"
    finish
fi
"$QLOOP_BUILD_DIR/gen_w1" 40000 pop.csv --seed 17 "${GENDIV[@]}" >/dev/null
RULES="$QLOOP_SOURCE_DIR/bench/w1.lua"

# Two stores with one secret and key, so that record refs compare.
head -1 pop.csv > empty.csv
run_q 0 run --rules "$RULES" --data pop=empty.csv "${DIV[@]}" --db seed.db --quiet
for s in run merge; do cp seed.db $s.db; cp seed.db.key $s.db.key; done

run_q 0 run --rules "$RULES" --data pop=pop.csv "${DIV[@]}" --db run.db --json --quiet
RUN_JSON=$OUT
DIVARG=()
[ ${#DIV[@]} -gt 0 ] && DIVARG=(--divisions "${DIV[1]}")
set +e
# Dask's workers keep their scratch space in the test's folder, not /tmp
DASK_TEMPORARY_DIRECTORY="$T" timeout 300 /usr/bin/python3 "$QLOOP_SOURCE_DIR/docs/scale-out/qloop_dask.py" --qloop "$QLOOP_BIN" \
    --rules "$RULES" --dataset pop --data pop.csv --parts 4 --workers 2 --workdir shards \
    --db merge.db "${DIVARG[@]}" >merge.json 2>dask.err
rc=$?
set -e
expect_eq "the Dask run finished (exit 0; stderr: $(tail -c 1500 dask.err))" 0 "$rc"
expect_eq "4 shards, one a part" "4" "$(ls shards/*.shard | wc -l)"
expect_eq "the shards are parts 1/4 to 4/4" '"part":"1/4" "part":"2/4" "part":"3/4" "part":"4/4"' \
    "$(for f in shards/*.shard; do head -1 "$f" | grep -o '"part":"[0-9/]*"'; done | tr '\n' ' ' | sed 's/ $//')"
no_run_id() { python3 -c 'import json,sys; d=json.load(sys.stdin); d.pop("run_id"); print(json.dumps(d, indent=1, sort_keys=True))'; }
expect_eq "the same counts (run --json)" "$(no_run_id <<<"$RUN_JSON")" "$(no_run_id <merge.json)"
F="SELECT rule, record_ref, record_key, field, value, message FROM findings ORDER BY 1, 2"
expect_eq "the same findings" "$(sqlite3 run.db "$F" | md5sum)" "$(sqlite3 merge.db "$F" | md5sum)"
expect_eq "the injected defects were found (over 4000 findings)" "yes" \
    "$([ "$(sqlite3 merge.db 'SELECT count(*) FROM findings')" -gt 4000 ] && echo yes)"
TQ="SELECT t.id, t.rule, t.dept, t.state, t.deadline, i.record_ref, i.state FROM tickets t
   JOIN ticket_items i ON i.ticket_id = t.id ORDER BY 1, 6"
expect_eq "the same tickets" "$(sqlite3 run.db "$TQ" | md5sum)" "$(sqlite3 merge.db "$TQ" | md5sum)"
expect_eq "findings name their part" "1/4 2/4 3/4 4/4" \
    "$(sqlite3 merge.db "SELECT group_concat(part, ' ') FROM (SELECT DISTINCT part FROM findings WHERE part IS NOT NULL ORDER BY 1)")"
finish
