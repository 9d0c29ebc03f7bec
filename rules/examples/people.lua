-- people.lua — the bundled sample rule pack: quality rules for resident
-- population records (人口基础信息), run by the README's main command over
-- people.csv beside this file.
--
-- people.csv holds 3,000 generated records of Zhejiang residents (bench/gen_w1
-- 3000 people.csv --seed 20261122 --within 33 --dept-by-city --ref 2026-11-22,
-- with the bundled division table), 60 rows each of realistic problems: a
-- wrong ID check character, a birth date or sex that disagrees with the ID
-- number, a malformed mobile number, a missing name, an ID number used twice,
-- an unknown division code, a wrong credit-code check character and a record
-- not updated for over a year; plus full-width phone numbers and YYYY/M/D
-- dates that the cleanse step repairs before checking.
--
-- Copy this file as the starting point of your own pack: one dataset, its
-- cleanse steps, then one rule per requirement, each with the dimension of
-- GB/T 36344-2018, a severity, the basis (the standard or regulation the
-- requirement comes from) and the message the provider department will read.

dataset "people" {
  source = "people.csv",              -- relative to this file; --data people=FILE overrides
  key = "person_id",
  owner = "市公安局",
  update_cycle = "daily",
  updated_at = "updated_at",
  sensitive = { "person_id", "name", "phone", "address" },
}

-- 清洗: full-width digits and spaces in phone numbers, dates written
-- 1990/3/7 or 1990年3月7日. The raw value is kept; checks see the cleaned one.
cleanse "people" {
  phone = { clean.halfwidth, clean.trim },
  birth_date = clean.date,
}

-- The evaluation date of the sample is 2026-11-22: a record should have been
-- updated within the 365 days before it. Change this for your own data.
local STALE_BEFORE = "2025-11-22T00:00:00"

rule "people.name_present" {
  dimension = "completeness", severity = "high",
  basis = "GB/T 36344-2018 完整性；人口基础信息必填项",
  message = "姓名为空",
  field = "name", not_null = true,
}

rule "people.person_id_valid" {
  dimension = "accuracy", severity = "high",
  basis = "GB 11643-1999 公民身份号码",
  message = "公民身份号码缺失或不符合 GB 11643（长度、出生日期或校验码错误）",
  field = "person_id", not_null = true, check = idcard.valid,
}

rule "people.person_id_unique" {
  dimension = "accuracy", severity = "high",
  basis = "一人一号：公民身份号码终身不变且唯一",
  message = "同一公民身份号码出现在多条记录中",
  field = "person_id", unique = true,
}

rule "people.sex_code" {
  dimension = "normative", severity = "low",
  basis = "性别取值“男”“女”（参照 GB/T 2261.1-2003 人的性别代码）",
  message = "性别应填“男”或“女”",
  field = "sex", one_of = { "男", "女" },
}

rule "people.birth_matches_id" {
  dimension = "consistency", severity = "medium",
  basis = "GB 11643-1999 公民身份号码：出生日期码",
  message = "出生日期与公民身份号码中的出生日期不一致",
  check = function(r)
    if r.person_id == nil then return true end        -- people.person_id_valid reports it
    local id = idcard.parse(r.person_id)
    if id == nil then return true end                 -- malformed: people.person_id_valid reports it
    if r.birth_date == nil then return false, "出生日期为空或无法识别" end
    if r.birth_date ~= id.birth then
      return false, "出生日期为 " .. r.birth_date .. "，与身份号码中的出生日期不符"
    end
    return true
  end,
}

rule "people.sex_matches_id" {
  dimension = "consistency", severity = "medium",
  basis = "GB 11643-1999 公民身份号码：顺序码奇数为男性、偶数为女性",
  message = "性别与公民身份号码不一致",
  check = function(r)
    if r.person_id == nil or r.sex == nil then return true end
    local id = idcard.parse(r.person_id)
    if id == nil then return true end
    if r.sex ~= id.sex then
      return false, "性别为“" .. r.sex .. "”，身份号码表明为“" .. id.sex .. "”"
    end
    return true
  end,
}

rule "people.phone_format" {
  dimension = "normative", severity = "medium",
  basis = "移动电话号码：11 位数字，号段以 13–19 开头",
  message = "手机号码格式错误（应为 11 位数字，以 13–19 开头）",
  field = "phone", pattern = "^1[3-9][0-9]{9}$",
}

rule "people.division_known" {
  dimension = "consistency", severity = "medium",
  basis = "GB/T 2260 中华人民共和国行政区划代码",
  message = "行政区划代码为空或不存在",
  field = "division_code", not_null = true, references = "divisions.code",
}

rule "people.address_in_division" {
  dimension = "consistency", severity = "low",
  basis = "住址应位于所填行政区划内",
  message = "住址与行政区划代码不一致",
  check = function(r)
    if r.address == nil or r.division_code == nil then return true end
    local name = division.name(r.division_code)
    if name == nil then return true end               -- people.division_known reports it
    if string.find(r.address, name, 1, true) == nil then
      return false, "行政区划为" .. name .. "，住址中没有该区县"
    end
    return true
  end,
}

rule "people.employer_uscc_valid" {
  dimension = "accuracy", severity = "medium",
  basis = "GB 32100-2015 法人和其他组织统一社会信用代码编码规则",
  message = "工作单位统一社会信用代码不符合 GB 32100（登记管理部门、机构类别或校验码错误）",
  field = "employer_uscc", check = uscc.valid,
}

rule "people.updated_within_year" {
  dimension = "timeliness", severity = "low",
  basis = "GB/T 36344-2018 时效性；记录应在评估日前 365 天内更新",
  message = "记录超过一年未更新",
  check = function(r)
    local t = r.updated_at
    if t == nil then return false, "更新时间为空" end
    if not t:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d$") then
      return false, "更新时间“" .. t .. "”格式应为 YYYY-MM-DDTHH:MM:SS"
    end
    if t < STALE_BEFORE then return false, "最后更新于 " .. t:sub(1, 10) end
    return true
  end,
}
