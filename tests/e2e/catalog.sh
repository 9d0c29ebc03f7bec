#!/usr/bin/env bash
# catalog.sh — `qloop catalog` end to end, on the bundled sample catalog
# (rules/examples/catalog.csv) and the bundled rule packs:
#   import → check --json → show; the JSON that show prints imports as the
#   same catalog; a run with the catalog turns its problems into findings and
#   tickets for each dataset's provider; a corrected catalog re-imported later
#   is a dated diff (history, show --as-of, the audit chain) and the next run
#   closes those tickets; a bad file is refused with file and line and
#   changes nothing; a GBK catalog (as Excel saves it) imports with
#   --encoding gbk and, undeclared, is refused saying so; usage errors exit 2.
set -euo pipefail

: "${QLOOP_BIN:?QLOOP_BIN must name the qloop binary}"
src=${QLOOP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v jq >/dev/null || { echo "catalog.sh needs jq (apt-get install jq)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset QLOOP_DB QLOOP_DIVISIONS
export QLOOP_NOW=2026-11-22T02:00:00+08:00
db=$tmp/q.db
catalog=$src/rules/examples/catalog.csv

fail() { echo "FAIL: $*" >&2; exit 1; }

# run CMD...: sets $out, $err and $rc.
run() {
    set +e
    "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    set -e
    out=$(cat "$tmp/out")
    err=$(cat "$tmp/err")
}

# --- help and usage ------------------------------------------------------------
for args in "catalog --help" "catalog import --help" "catalog check --help" \
            "catalog show --help" "catalog history --help"; do
    # shellcheck disable=SC2086
    run "$QLOOP_BIN" $args
    [ "$rc" -eq 0 ] || fail "qloop $args: exit $rc"
    case "$out" in *"用法"*) ;; *) fail "qloop $args: no usage text: $out" ;; esac
done
for args in "catalog" "catalog frobnicate" "catalog import" "catalog check --bogus" \
            "catalog show --as-of" "catalog import a.csv b.csv" "catalog check extra"; do
    # shellcheck disable=SC2086
    run "$QLOOP_BIN" $args --db "$db"
    [ "$rc" -eq 2 ] || fail "qloop $args: expected exit 2, got $rc"
    [ -n "$err" ] || fail "qloop $args: no message on stderr"
done

# --- before any import ------------------------------------------------------------
# No store yet: check, show and history refuse (exit 2, naming the path)
# and create nothing; import is the catalog command that makes a store.
for sub in check show history; do
    run "$QLOOP_BIN" catalog "$sub" --db "$db"
    [ "$rc" -eq 2 ] || fail "catalog $sub without a store: expected exit 2, got $rc"
    case "$err" in *"$db"*"不存在"*) ;; *) fail "catalog $sub without a store: $err" ;; esac
    [ ! -e "$db" ] || fail "catalog $sub created a store at $db"
done
# A store with no catalog (another one, $db0): made by a run of a pack with
# no problems.
db0=$tmp/q0.db
printf 'dataset "d" { key = "id", owner = "甲局" }\n' >"$tmp/empty.lua"
printf 'id\n1\n' >"$tmp/empty.csv"
run "$QLOOP_BIN" run --rules "$tmp/empty.lua" --data "d=$tmp/empty.csv" --db "$db0" --quiet
[ "$rc" -eq 0 ] || fail "run making the store: exit $rc: $err"
run "$QLOOP_BIN" catalog check --db "$db0" --json
[ "$rc" -eq 0 ] || fail "check before import: exit $rc: $err"
[ "$(jq -c '[.datasets, .problems]' <<<"$out")" = '[0,[]]' ] || fail "check before import: $out"
run "$QLOOP_BIN" catalog check --db "$db0"
case "$out" in *"尚未导入资源目录"*) ;; *) fail "check before import (text): $out" ;; esac

# --- import ----------------------------------------------------------------------
run "$QLOOP_BIN" catalog import "$catalog" --db "$db" --actor 张三
[ "$rc" -eq 0 ] || fail "import: exit $rc: $err"
case "$out" in *"第 1 版"*"新增 3"*"新增数据集 people"*) ;; *) fail "import output: $out" ;; esac

# --- check --json: the sample's deliberate defects ----------------------------------
run "$QLOOP_BIN" catalog check --db "$db" --json
[ "$rc" -eq 0 ] || fail "check: exit $rc: $err"
[ "$(jq '.datasets' <<<"$out")" = 3 ] || fail "check: datasets: $out"
got=$(jq -r '.problems[] | "\(.dataset) \(.kind) \(.element)"' <<<"$out")
want="social missing_element share_period
social missing_basis share_basis"
[ "$got" = "$want" ] || fail "check problems before any run:
$got"
jq -e '.problems[] | select(.kind == "missing_basis") | .message | test("第十五条")' <<<"$out" >/dev/null \
    || fail "missing_basis message does not name the article: $out"

# --- show; its JSON imports as the same catalog ---------------------------------------
run "$QLOOP_BIN" catalog show --db "$db" --dataset social
[ "$rc" -eq 0 ] || fail "show: exit $rc: $err"
case "$out" in *"社会保险参保信息"*"共享属性：受限共享"*"共享期限：（空）"*"insured_since"*) ;;
    *) fail "show social: $out" ;; esac
"$QLOOP_BIN" catalog show --db "$db" --json >"$tmp/show1.json"
jq '{datasets: .datasets}' "$tmp/show1.json" >"$tmp/catalog.json"
run "$QLOOP_BIN" catalog import "$tmp/catalog.json" --db "$tmp/other.db" --json
[ "$rc" -eq 0 ] || fail "import of show's JSON: exit $rc: $err"
"$QLOOP_BIN" catalog show --db "$tmp/other.db" --json >"$tmp/show2.json"
[ "$(jq -c .datasets "$tmp/show1.json")" = "$(jq -c .datasets "$tmp/show2.json")" ] \
    || fail "CSV and JSON of the same catalog differ"
# Importing the JSON over the CSV catalog changes nothing.
run "$QLOOP_BIN" catalog import "$tmp/catalog.json" --db "$db" --json
[ "$(jq -c '[.version, (.changes | length)]' <<<"$out")" = '[2,0]' ] || fail "JSON over CSV: $out"

# --- a run with the catalog: findings and tickets for the providers ------------------------
run "$QLOOP_BIN" run --db "$db" --rules "$src/rules/examples" --json --quiet
[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || fail "run: exit $rc: $err"
got=$(jq -r '.rules[] | select(.id | test("catalog_")) | select(.failed > 0) | "\(.id) \(.failed)"' <<<"$out" | sort)
want="people.catalog_schema_drift 1
social.catalog_missing_basis 1
social.catalog_missing_element 1"
[ "$got" = "$want" ] || fail "catalog rules of the run:
$got"
jq -e '.rules[] | select(.id == "people.catalog_uncatalogued") | .failed == 0' <<<"$out" >/dev/null \
    || fail "people is catalogued but was not judged so: $out"
run "$QLOOP_BIN" tickets list --db "$db" --json
[ "$rc" -eq 0 ] || fail "tickets list: exit $rc: $err"
got=$(jq -r '.[] | select(.rule | test("catalog_")) | "\(.rule) \(.dept) \(.state) \(.items)"' <<<"$out" | sort)
want="people.catalog_schema_drift 市公安局 feedback 1
social.catalog_missing_basis 市人力社保局 feedback 1
social.catalog_missing_element 市人力社保局 feedback 1"
[ "$got" = "$want" ] || fail "catalog tickets:
$got"
drift_id=$(jq -r '.[] | select(.rule == "people.catalog_schema_drift") | .id' <<<"$out")
run "$QLOOP_BIN" tickets show "$drift_id" --db "$db" --json
jq -e '.records[0].message | test("ethnicity")' <<<"$out" >/dev/null || fail "drift ticket record: $out"

# A second run the same day opens nothing new for the catalog.
run "$QLOOP_BIN" run --db "$db" --rules "$src/rules/examples" --json --quiet
run "$QLOOP_BIN" tickets list --db "$db" --json
[ "$(jq '[.[] | select(.rule | test("catalog_"))] | length' <<<"$out")" = 3 ] \
    || fail "second run duplicated catalog tickets: $out"

# --- the providers correct the catalog a few days later -----------------------------------
sed -e 's/;ethnicity:民族:string//' \
    -e 's/^\(social,.*\),数据库表,受限共享,,/\1,数据库表,受限共享,《社会保险法》第八十一条,/' \
    -e 's/^\(social,.*\),每月,,/\1,每月,长期,/' "$catalog" >"$tmp/fixed.csv"
export QLOOP_NOW=2026-11-25T09:30:00+08:00
run "$QLOOP_BIN" catalog import "$tmp/fixed.csv" --db "$db" --actor 李四 --json
[ "$rc" -eq 0 ] || fail "re-import: exit $rc: $err"
[ "$(jq -c '[.version, .date, .changed]' <<<"$out")" = '[3,"2026-11-25",["people","social"]]' ] \
    || fail "re-import summary: $out"
run "$QLOOP_BIN" catalog check --db "$db" --json
[ "$(jq '.problems | length' <<<"$out")" = 0 ] || fail "problems after the correction: $out"

run "$QLOOP_BIN" catalog history --db "$db" --dataset people
case "$out" in *"第 1 版  2026-11-22"*"第 3 版  2026-11-25"*"people：删除数据项 ethnicity"*) ;;
    *) fail "history: $out" ;; esac
run "$QLOOP_BIN" catalog show --db "$db" --dataset people --as-of 2026-11-24 --json
jq -e '.version == 2 and (.datasets[0].fields | map(.name) | index("ethnicity")) != null' <<<"$out" >/dev/null \
    || fail "show --as-of 2026-11-24: $out"
run "$QLOOP_BIN" catalog show --db "$db" --dataset people --json
jq -e '.version == 3 and (.datasets[0].fields | map(.name) | index("ethnicity")) == null' <<<"$out" >/dev/null \
    || fail "show now: $out"
run "$QLOOP_BIN" catalog show --db "$db" --as-of 2026-11-21 --json
[ "$(jq -c '[.version, .datasets]' <<<"$out")" = '[null,[]]' ] || fail "show before the first import: $out"
run "$QLOOP_BIN" audit list --db "$db" --kind catalog.remove --json
jq -e '.[0].subject == "catalog:people" and .[0].actor == "李四" and .[0].detail.field == "ethnicity"
       and .[0].detail.date == "2026-11-25"' <<<"$out" >/dev/null || fail "audit of the removed item: $out"
run "$QLOOP_BIN" audit verify --db "$db"
[ "$rc" -eq 0 ] || fail "audit verify after catalog changes: $out"

# The next run re-checks the catalog tickets and closes them.
export QLOOP_NOW=2026-11-25T22:00:00+08:00
run "$QLOOP_BIN" run --db "$db" --rules "$src/rules/examples" --json --quiet
[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || fail "run after the correction: exit $rc: $err"
run "$QLOOP_BIN" tickets list --db "$db" --json
got=$(jq -r '.[] | select(.rule | test("catalog_")) | "\(.rule) \(.state)"' <<<"$out" | sort)
want="people.catalog_schema_drift shared
social.catalog_missing_basis shared
social.catalog_missing_element shared"
[ "$got" = "$want" ] || fail "catalog tickets after the correction:
$got"

# --- a bad file changes nothing --------------------------------------------------------------
printf '数据集标识,业务名称,共享属性\npeople,人口,部分共享\n' >"$tmp/bad.csv"
run "$QLOOP_BIN" catalog import "$tmp/bad.csv" --db "$db"
[ "$rc" -eq 2 ] || fail "bad catalog: expected exit 2, got $rc"
case "$err" in *"bad.csv:2:"*"部分共享"*) ;; *) fail "bad catalog message: $err" ;; esac
run "$QLOOP_BIN" catalog show --db "$db" --json
[ "$(jq '.version' <<<"$out")" = 3 ] || fail "bad import changed the catalog: $out"

# --- a GBK catalog, as Excel saves "CSV" on Chinese Windows -----------------------------------
command -v iconv >/dev/null || fail "catalog.sh needs iconv"
iconv -f UTF-8 -t GBK "$catalog" >"$tmp/gbk.csv"
run "$QLOOP_BIN" catalog import "$tmp/gbk.csv" --db "$tmp/gbk.db"
[ "$rc" -eq 2 ] || fail "undeclared GBK catalog: expected exit 2, got $rc"
case "$err" in *"gbk.csv:1:1:"*"--encoding gbk"*) ;; *) fail "undeclared GBK message: $err" ;; esac
run "$QLOOP_BIN" catalog import "$tmp/gbk.csv" --db "$tmp/gbk.db" --encoding gbk --json
[ "$rc" -eq 0 ] || fail "GBK catalog with --encoding gbk: exit $rc: $err"
"$QLOOP_BIN" catalog import "$catalog" --db "$tmp/utf8.db" --json >/dev/null
[ "$(jq -c .datasets <("$QLOOP_BIN" catalog show --db "$tmp/gbk.db" --json))" = \
  "$(jq -c .datasets <("$QLOOP_BIN" catalog show --db "$tmp/utf8.db" --json))" ] \
    || fail "the GBK catalog differs from the UTF-8 one"
run "$QLOOP_BIN" catalog check --db "$db" --encoding gbk
[ "$rc" -eq 2 ] || fail "check --encoding: expected exit 2, got $rc"

echo "catalog: ok"
