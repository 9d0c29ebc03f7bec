-- bench/w1.lua — benchmark workload W1 (shared/bench/W1.md) as a qloop rule pack.
--
-- Ten checks over resident population records (pop_N.csv from bench/gen_w1):
-- completeness, GB 11643 / GB 32100 check characters, cross-field
-- consistency, cleanse-then-validate, uniqueness, a reference-table lookup and
-- timeliness. Each rule is named pop.<W1 check id>, so that bench/run_w1.sh
-- can compare the stored findings with the generator's truth file as a set of
-- (check, row_no).
--
-- Where a qloop built-in is stricter than W1's definition the difference is
-- noted at the rule; for the records gen_w1 writes the failure sets are equal.
-- Run it with the reference date fixed (the cutoff below is W1's constant,
-- 2026-11-22 minus 365 days), e.g.:
--   QLOOP_NOW=2026-11-22T00:00:00+08:00 qloop run --rules bench/w1.lua \
--     --data pop=pop_1000000.csv --divisions ../shared/ref/divisions.csv --json

dataset "pop" {
  key = "person_id",
  owner = "市公安局",
  sensitive = { "person_id", "name", "phone", "address" },
}

-- W1 cleansing: phone maps full-width forms (U+FF01–FF5E, U+3000) to ASCII
-- first, then trims; birth_date accepts YYYY-MM-DD and YYYY/M/D. clean.date
-- also reads a few more forms (YYYYMMDD, 2020年1月5日, ...); gen_w1 writes
-- only W1's two, so the result is the same.
cleanse "pop" {
  phone = { clean.halfwidth, clean.trim },
  birth_date = clean.date,
}

-- W1's evaluation cutoff: REF 2026-11-22T00:00:00 minus the 365-day window.
local CUTOFF = "2025-11-22T00:00:00"

local DAYS_IN_MONTH = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }

-- True when y-m-d (numbers) is a real calendar date.
local function real_date(y, m, d)
  if m < 1 or m > 12 or d < 1 then return false end
  local dim = DAYS_IN_MONTH[m]
  if m == 2 and (y % 4 == 0 and y % 100 ~= 0 or y % 400 == 0) then dim = 29 end
  return d <= dim
end

rule "pop.name_not_null" {
  dimension = "completeness", severity = "high",
  basis = "W1 #1；GB/T 36344-2018 完整性",
  message = "姓名为空",
  field = "name", not_null = true,
}

rule "pop.person_id_not_null" {
  dimension = "completeness", severity = "high",
  basis = "W1 #2；GB/T 36344-2018 完整性",
  message = "公民身份号码为空",
  field = "person_id", not_null = true,
}

-- W1 #3 is the shape ^\d{17}[\dX]$ plus the MOD 11-2 check character.
-- idcard.valid also requires the birth date (chars 7–14) to be a real date
-- not after today (W1: "not a valid YYYYMMDD"; GB 11643 sets no earliest
-- year); gen_w1's birth dates are 1930–2008, so only the
-- injected bad_id_check rows fail, exactly as W1 expects.
rule "pop.id_check" {
  dimension = "accuracy", severity = "high",
  basis = "W1 #3；GB 11643-1999 公民身份号码（ISO 7064 MOD 11-2 校验码）",
  message = "公民身份号码校验不通过",
  field = "person_id", check = idcard.valid,
}

-- W1 #4: the cleansed birth_date must equal the date in ID chars 7–14.
-- idcard.parse reads that date without judging the check character (so a
-- bad_id_check row is not counted here too); it also wants the whole number
-- well formed (17 digits and 0-9/X) and accepts 15-digit numbers, which W1
-- does not look at — gen_w1 writes only well-formed 18-char numbers.
rule "pop.id_birth_match" {
  dimension = "consistency", severity = "medium",
  basis = "W1 #4；GB 11643-1999 公民身份号码：出生日期码",
  message = "出生日期与公民身份号码不一致",
  check = function(r)
    local id = r.person_id
    if id == nil then return true end
    local info = idcard.parse(id)
    if info == nil then return false, "公民身份号码中的出生日期无法识别" end
    local birth = r.birth_date -- cleansed: YYYY-MM-DD, or nil when unparseable
    if birth == nil then return false, "出生日期为空或无法识别" end
    if birth ~= info.birth then
      return false, "出生日期为 " .. birth .. "，与身份号码中的出生日期不符"
    end
    return true
  end,
}

-- W1 #5: sex must agree with the parity of ID char 17 (odd = 男).
rule "pop.sex_match" {
  dimension = "consistency", severity = "medium",
  basis = "W1 #5；GB 11643-1999 公民身份号码：顺序码奇数为男性、偶数为女性",
  message = "性别与公民身份号码不一致",
  check = function(r)
    local id = r.person_id
    if id == nil then return true end
    local c = id:byte(17)
    if c == nil or c < 48 or c > 57 then
      return false, "公民身份号码第17位不是数字"
    end
    local male = (c - 48) % 2 == 1
    local sex = r.sex
    if (sex == "男" and male) or (sex == "女" and not male) then return true end
    return false, "性别为“" .. (sex or "空") .. "”，身份号码表明为" .. (male and "男" or "女")
  end,
}

-- W1 #6 on the cleansed phone; an empty phone fails too (not_null). [0-9] is
-- W1's ASCII-only \d.
rule "pop.phone_valid" {
  dimension = "normative", severity = "medium",
  basis = "W1 #6；移动电话号码 11 位、号段 13–19",
  message = "手机号码格式错误",
  field = "phone", not_null = true, pattern = "^1[3-9][0-9]{9}$",
}

rule "pop.person_id_unique" {
  dimension = "accuracy", severity = "high",
  basis = "W1 #7；一人一号",
  message = "公民身份号码重复",
  field = "person_id", unique = true,
}

-- W1 #8: the code must be in the divisions table (--divisions FILE or
-- QLOOP_DIVISIONS; run W1 with ../shared/ref/divisions.csv); NULL fails too.
rule "pop.division_exists" {
  dimension = "consistency", severity = "medium",
  basis = "W1 #8；GB/T 2260 中华人民共和国行政区划代码",
  message = "行政区划代码不存在",
  field = "division_code", not_null = true, references = "divisions.code",
}

-- W1 #9 is the shape and the GB 32100 check character (position 18).
-- uscc.valid also judges the registration authority / organisation type pair
-- (positions 1–2) against the standard's table, digits in 3–8 and the embedded
-- GB 11714 check character (position 17); gen_w1's codes satisfy all of these,
-- so only the injected bad_uscc_check rows fail.
rule "pop.uscc_check" {
  dimension = "accuracy", severity = "medium",
  basis = "W1 #9；GB 32100-2015 法人和其他组织统一社会信用代码编码规则",
  message = "工作单位统一社会信用代码校验不通过",
  field = "employer_uscc", check = uscc.valid,
}

-- W1 #10: updated_at must be a real YYYY-MM-DDTHH:MM:SS no earlier than the
-- cutoff; empty or unreadable fails. Same-shaped ISO strings compare as text.
rule "pop.updated_recent" {
  dimension = "timeliness", severity = "low",
  basis = "W1 #10；评估日前 365 天内应有更新",
  message = "记录超过一年未更新",
  check = function(r)
    local t = r.updated_at
    if t == nil then return false, "更新时间为空" end
    local y, mo, d, h, mi, s = t:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)T(%d%d):(%d%d):(%d%d)$")
    if y == nil or not real_date(tonumber(y), tonumber(mo), tonumber(d))
        or tonumber(h) > 23 or tonumber(mi) > 59 or tonumber(s) > 59 then
      return false, "更新时间“" .. t .. "”无法识别"
    end
    if t < CUTOFF then return false, "更新时间 " .. t .. " 早于 " .. CUTOFF end
    return true
  end,
}
