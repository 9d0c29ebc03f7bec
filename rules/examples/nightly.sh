#!/usr/bin/env bash
# The nightly job on the bundled sample: import the catalog, run every rule
# pack of rules/examples (validation, compare, catalog checks, tickets to the
# provider departments), list the open tickets, write the annual report.
# Adapt the paths for a real platform; QLOOP_DB chooses the store.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
qloop="${QLOOP_BIN:-$root/build/qloop}"
export QLOOP_DB="${QLOOP_DB:-$root/sample.db}"
year=$(date +%Y)
"$qloop" catalog import "$root/rules/examples/catalog.csv" --actor nightly
"$qloop" run --rules "$root/rules/examples" --json > "$root/sample-run.json"
echo "运行摘要：$root/sample-run.json"
"$qloop" tickets list
"$qloop" report annual --year "$year" --format html --out "$root/sample-report.html"
echo "年度评估报告：$root/sample-report.html"
