# The dataset-level timeliness rule DATASET.freshness: a stale dataset opens
# a ticket for its owner; when fresh data arrives, the re-check closes it.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
cat > r.lua <<'R'
dataset "d" { source = "d.csv", key = "id", owner = "市市场监管局", update_cycle = "weekly", updated_at = "updated_at" }
rule "d.v" { field = "v", not_null = true }
R
printf 'id,v,updated_at\n1,a,2025-07-01T09:00:00\n2,b,2025-07-20T10:00:00\n' > d.csv
export QLOOP_NOW=2025-08-04T02:00:00+08:00
run_q 0 run --rules r.lua --json --quiet
expect_eq "stale dataset fails freshness" "d.freshness=1/1/0" "$(json_get "$OUT" '[ "%s=%d/%d/%d" % (r["id"], r["checked"], r["failed"], r["errors"]) for r in d["rules"] if r["id"] == "d.freshness"][0]')"
expect_eq "newest update stored" "2025-07-20T10:00:00+08:00" "$(sql "SELECT newest_update FROM run_datasets")"
expect_eq "freshness ticket for the owner" "市市场监管局|feedback" "$(sql "SELECT dept, state FROM tickets WHERE rule = 'd.freshness'")"
expect_contains "message names the newest update" "2025-07-20" "$(sql "SELECT message FROM findings WHERE rule = 'd.freshness'")"

printf 'id,v,updated_at\n1,a,2025-07-01T09:00:00\n2,b,2025-09-01T10:00:00\n' > d.csv
export QLOOP_NOW=2025-09-03T02:00:00+08:00
run_q 0 run --rules r.lua --json --quiet
expect_eq "fresh dataset passes" "0" "$(json_get "$OUT" '[r["failed"] for r in d["rules"] if r["id"] == "d.freshness"][0]')"
expect_eq "re-check closes the freshness ticket" "shared" "$(sql "SELECT state FROM tickets WHERE rule = 'd.freshness'")"

printf 'id,v,updated_at\n1,a,\n' > d.csv
run_q 0 run --rules r.lua --json --quiet
expect_eq "no update time at all fails" "1" "$(json_get "$OUT" '[r["failed"] for r in d["rules"] if r["id"] == "d.freshness"][0]')"
finish
