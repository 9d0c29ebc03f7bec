# Chinese column names work everywhere a field name is used: key, field
# rules, cleanse, sensitive, record-level checks (r["注册日期"]), compare,
# references, updated_at.
source "$QLOOP_SOURCE_DIR/tests/lib/e2e.sh"
cat > 法人.csv <<'CSV'
统一社会信用代码,名称,注册日期,法定代表人,更新时间
91350100M000100Y43,甲公司,2020年1月5日,张三,2026-11-20T10:00:00
91350100M000100Y44,乙公司,2020/13/01,李四,2026-11-20T10:00:00
CSV
cat > 登记.csv <<'CSV'
信用代码,企业名称
91350100M000100Y43,甲公司（分）
CSV
cat > r.lua <<'R'
dataset "法人" {
  source = "法人.csv", key = "统一社会信用代码", owner = "市市场监管局",
  sensitive = { "法定代表人" }, update_cycle = "weekly", updated_at = "更新时间",
}
dataset "登记" { source = "登记.csv", key = "信用代码" }
cleanse "法人" { ["注册日期"] = clean.date }
rule "法人.代码" { field = "统一社会信用代码", check = uscc.valid, message = "统一社会信用代码校验不通过" }
rule "法人.日期" { check = function(r) return r["注册日期"] ~= nil, "注册日期无法识别" end }
rule "法人.代表人" { field = "法定代表人", pattern = "^张" }
rule "登记.代码在法人库" { field = "信用代码", references = "法人.统一社会信用代码" }
compare "法人比对" { left = "法人", right = "登记", right_key = "信用代码", fields = { ["名称"] = "企业名称" } }
R
export QLOOP_NOW=2026-11-22T02:00:00+08:00
run_q 0 run --rules r.lua --json --quiet
c=$(json_get "$OUT" '" ".join("%s=%d/%d" % (r["id"], r["checked"], r["failed"]) for r in d["rules"])')
expect_contains "uscc on a Chinese key" "法人.代码=2/1" "$c"
expect_contains "record view r[\"注册日期\"] after cleanse" "法人.日期=2/1" "$c"
expect_contains "pattern on a Chinese field" "法人.代表人=2/1" "$c"
expect_contains "references across Chinese columns" "登记.代码在法人库=1/0" "$c"
expect_contains "compare mismatch named by the Chinese field" "法人比对.mismatch.名称=1/1" "$c"
expect_contains "freshness with a Chinese updated_at" "法人.freshness=1/0" "$c"
expect_eq "cleanse counted per Chinese field" "注册日期=2" "$(json_get "$OUT" '" ".join("%s=%d" % (x["field"], x["changed"]) for x in d["cleansed"])')"
expect_eq "sensitive Chinese field masked" "李*" "$(sql "SELECT value FROM findings WHERE rule = '法人.代表人'")"
expect_eq "ticket for the owner" "市市场监管局" "$(sql "SELECT DISTINCT dept FROM tickets WHERE dataset = '法人'")"
finish
