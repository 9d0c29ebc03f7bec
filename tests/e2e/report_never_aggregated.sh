# A department that registers a dataset in the catalog but never delivers
# its data does not score on aggregation: the dataset counts as a check not
# met, and the advice names it.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
export QLOOP_NOW=2026-11-22T02:00:00+08:00
run_q 0 catalog import "$QLOOP_SOURCE_DIR/rules/examples/catalog.csv" --actor test
run_q 0 run --rules "$QLOOP_SOURCE_DIR/rules/examples" --quiet
run_q 0 report annual --year 2026 --format json --out r.json
agg=$(python3 -c '
import json
d = json.load(open("r.json"))
x = [x for x in d["departments"] if x["name"] == "市市场监管局"][0]
i = x["indicators"]["aggregation.on_time"]
a = [a["text"] for a in x.get("advice", []) if a.get("indicator") == "aggregation.on_time"]
print(i["numerator"], i["denominator"], "legal_persons" in (a[0] if a else ""))')
expect_eq "never-aggregated dataset counts against the department" "0 1 True" "$agg"
finish
