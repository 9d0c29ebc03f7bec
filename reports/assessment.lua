-- assessment.lua — the default indicator model of the annual assessment
-- (年度评估) and the monthly scorecards.
--
-- 温州市公共数据共享开放管理暂行办法 第四十条 asks the big-data bureau to assess
-- every department each year and publish the report with improvement advice;
-- 宁波市公共数据管理办法 第三十四、三十五条 put cataloguing, aggregation,
-- sharing, opening and use into the yearly performance review. Each indicator
-- below is a ratio A/B over the period, as GB/T 36344 scores its indicators.
--
-- How qloop uses this file (reports/assessment.c): it runs in the rule
-- sandbox and returns a table M with
--   name        text: the model's name, shown in the report
--   title       text: the report's title after "YYYY 年度"
--   grades      { {name=, min=}, ... } from the best band down; a score gets
--               the first band whose min it reaches
--   indicators  { {id=, group=, name=, weight=, basis=, compute=, weak=,
--               advice=}, ... } in display order; compute(d, facts) returns
--               numerator, denominator (nil or a zero denominator: not
--               applicable, left out of the score); weak: the ratio under
--               which the indicator is weak (default M.weak); advice: text,
--               or function(d, r) returning text, shown when weak, with basis
--   evaluate    function(d, facts) -> { score = 0..100, grade = name,
--               indicators = { {id, group, name, weight, numerator,
--               denominator, value (0..1 or nil), points, weak}, ... },
--               advice = { {indicator, text, basis}, ... } }; score and
--               grade nil when no indicator applies to the department: it
--               is 不参评 (not scored, not ranked), never 0 and failed
-- d is one department's facts and facts the whole period's (every key is
-- described at the top of reports/facts.c); both are aggregates only.
--
-- Another model is given with `qloop report annual --model FILE`. FILE is run
-- with this default model as its argument, so it may change only what it
-- needs, e.g.
--     local M = ...
--     M.indicators[1].weight = 20          -- 目录要素完整率 counts double
--     M.grades[1].min = 95
--     return M
-- or return a whole model of its own with the keys above.

local M = {}

M.name = "公共数据管理年度评估默认模型（宁波、温州）"
M.title = "公共数据管理评估报告"
M.weak = 0.8

M.grades = {
  { name = "优秀", min = 90 },
  { name = "良好", min = 80 },
  { name = "合格", min = 60 },
  { name = "不合格", min = 0 },
}

local NB = "宁波市公共数据管理办法"
local WZ = "温州市公共数据共享开放管理暂行办法"
local GB = "GB/T 36344-2018《信息技术 数据质量评价指标》"

-- The elements every catalog entry must have: 宁波 第十条, plus the provider.
M.required_elements = {
  "title", "system", "owner", "fields", "format", "share", "open", "provision",
  "update_cycle", "share_period",
}

local function count(list, pred)
  local n = 0
  for _, x in ipairs(list) do
    if pred(x) then n = n + 1 end
  end
  return n
end

local function pct(x)
  return string.format("%.1f%%", x * 100)
end

local function complete(entry)
  for _, el in ipairs(M.required_elements) do
    for _, m in ipairs(entry.missing) do
      if m == el then return false end
    end
  end
  return true
end

-- Catalogued datasets of the department that no run read in the period.
local function never_aggregated(d)
  local read = {}
  for _, ds in ipairs(d.datasets) do
    if (ds.runs or 0) > 0 then read[ds.name] = true end
  end
  local out = {}
  for _, e in ipairs(d.catalog.entries) do
    if not read[e.dataset] then out[#out + 1] = e.dataset end
  end
  table.sort(out)
  return out
end

-- Datasets the department is accountable for in the catalog: its entries,
-- and those its runs read that the catalog lacks (nil before any import).
local function catalog_total(d)
  if not d.catalog.imported then return nil end
  return #d.catalog.entries + #d.catalog.uncatalogued
end

local function shared_ok(entry)
  return entry.share == "unconditional"
      or ((entry.share == "conditional" or entry.share == "none") and entry.share_basis)
end

local function is_open(entry)
  return entry.open == "unconditional" or entry.open == "conditional"
end

local function quality(dim, zh, what)
  return {
    id = "quality." .. dim, group = "数据质量", name = zh, weight = 5, weak = 0.95,
    basis = GB .. "；" .. NB .. " 第二十七条",
    compute = function(d)
      local q = d.quality.dimensions[dim]
      return q.passed, q.checked
    end,
    advice = function(d, r)
      return string.format("%s：%d 条次校验中 %d 条次未通过（通过率 %s；一条记录经一条规则校验一次为"
        .. "一条次）。%s请对照问题工单从源头整改，并在源系统中增加录入校验，避免同类问题再次出现。",
        zh, r.denominator, r.denominator - r.numerator, pct(r.value), what)
    end,
  }
end

M.indicators = {
  {
    id = "catalog.complete", group = "目录编制", name = "目录要素完整率", weight = 10,
    basis = NB .. " 第十条",
    compute = function(d)
      return count(d.catalog.entries, complete), catalog_total(d)
    end,
    advice = function(d, r)
      return string.format("资源目录应编 %d 个数据集，要素齐全的 %d 个（%s）。请按第十条补齐业务名称、"
        .. "信息系统名称、数据项、存储格式、共享属性、开放属性、提供方式、更新周期、共享期限等要素；"
        .. "已汇聚但未编目的数据集（%d 个）先编入目录。", r.denominator, r.numerator, pct(r.value),
        #d.catalog.uncatalogued)
    end,
  },
  {
    id = "catalog.on_time", group = "目录编制", name = "目录问题按期整改率", weight = 5,
    basis = WZ .. " 第十一条",
    compute = function(d)
      return d.catalog.tickets_on_time, d.catalog.tickets_due
    end,
    advice = "资源目录问题工单未能按期答复。数据的字段发生变化的，应在 5 个工作日内更新资源目录，"
      .. "并在答复期限内处理目录问题。",
  },
  {
    id = "aggregation.on_time", group = "数据归集", name = "按更新周期归集率", weight = 15,
    basis = NB .. " 第三十四条",
    -- A catalogued dataset that no run read in the period was never
    -- aggregated at all: it counts as one check, not on time, so that a
    -- department cannot score by registering data it does not deliver.
    compute = function(d)
      local missing = #never_aggregated(d)
      return d.aggregation.on_time, d.aggregation.checks + missing
    end,
    advice = function(d, r)
      local never = never_aggregated(d)
      local text = string.format("%d 次检查中有 %d 次数据未按登记的更新周期更新（按期率 %s）。"
        .. "请按资源目录登记的更新周期向平台归集数据，更新周期有变化的先更新目录。",
        r.denominator, r.denominator - r.numerator, pct(r.value))
      if #never > 0 then
        text = text .. string.format("其中已编目但本期从未归集的数据集：%s。", table.concat(never, "、"))
      end
      return text
    end,
  },
  quality("normative", "规范性", "数据格式、编码不符合标准。"),
  quality("completeness", "完整性", "必填数据项存在缺失。"),
  quality("accuracy", "准确性", "数据内容存在错误（如证件号码校验不通过、重复）。"),
  quality("consistency", "一致性", "数据与关联数据或其他部门的数据不一致。"),
  quality("timeliness", "时效性", "数据未及时更新。"),
  quality("accessibility", "可访问性", "数据无法按约定方式访问。"),
  {
    id = "handling.on_time", group = "问题处理", name = "按期答复率", weight = 10,
    basis = NB .. " 第二十七条；" .. WZ .. " 第二十三条",
    compute = function(d)
      return d.tickets.on_time, d.tickets.due
    end,
    advice = function(d, r)
      return string.format("应答复工单 %d 次，按期答复 %d 次（%s），逾期 %d 次。收到问题数据反馈后，"
        .. "应在 5 个工作日内核实、整改并答复；确需延期的，在期限内申请。", r.denominator, r.numerator,
        pct(r.value), r.denominator - r.numerator)
    end,
  },
  {
    id = "handling.no_extension", group = "问题处理", name = "未延期答复率", weight = 5,
    basis = NB .. " 第二十七条",
    compute = function(d)
      return d.tickets.due - d.tickets.with_extension, d.tickets.due
    end,
    advice = function(d, r)
      return string.format("%d 次答复中有 %d 次经延期（本期批准延期 %d 次）。延期只适用于确需较长时间"
        .. "整改的情形，请提高首次整改的时效。", r.denominator, d.tickets.with_extension,
        d.tickets.extensions)
    end,
  },
  {
    id = "handling.recheck_passed", group = "问题处理", name = "整改复核通过率", weight = 5,
    basis = NB .. " 第二十七条",
    compute = function(d)
      local t = d.tickets
      return t.recheck_passed, t.recheck_passed + t.recheck_failed
    end,
    advice = function(d, r)
      return string.format("答复“完成整改”后经复核的 %d 次中，%d 次复核未通过。请在答复前确认数据"
        .. "已在源头改正并重新归集，避免“假整改”。", r.denominator, r.denominator - r.numerator)
    end,
  },
  {
    id = "handling.not_reopened", group = "问题处理", name = "共享后未复发率", weight = 5,
    basis = NB .. " 第二十七条",
    compute = function(d)
      local t = d.tickets
      return t.fixed_items - t.reopened_items, t.fixed_items
    end,
    advice = function(d, r)
      return string.format("已整改并共享的 %d 条问题记录中，%d 条再次出错。请从源系统的录入、"
        .. "交换环节查找原因，防止问题反复。", r.denominator, d.tickets.reopened_items)
    end,
  },
  {
    id = "sharing.basis", group = "共享开放", name = "共享属性合规率", weight = 10,
    basis = WZ .. " 第十五条；" .. NB .. " 第十六条",
    compute = function(d)
      return count(d.catalog.entries, shared_ok), catalog_total(d)
    end,
    advice = function(d, r)
      return string.format("%d 个数据集中 %d 个为无条件共享或已写明受限共享、不予共享的依据。"
        .. "列为受限共享或不予共享的，应写明法律、法规、规章依据；无依据的应无条件共享。",
        r.denominator, r.numerator)
    end,
  },
  {
    id = "sharing.open", group = "共享开放", name = "数据开放率", weight = 5, weak = 0.5,
    basis = WZ .. " 第二十八条",
    compute = function(d)
      return count(d.catalog.entries, is_open), catalog_total(d)
    end,
    advice = function(d, r)
      return string.format("%d 个数据集中开放 %d 个（%s）。请梳理可开放的数据，扩大无条件开放和有条件"
        .. "开放的范围；禁止开放的应写明理由。", r.denominator, r.numerator, pct(r.value))
    end,
  },
}

-- Advice that is not one indicator's: each returns {text=, basis=} or nil.
M.checks = {
  function(d)
    local t = d.tickets
    if t.avg_answer_days and t.avg_answer_days > 5 then
      return {
        indicator = "handling.avg_days",
        text = string.format("平均答复用时 %.1f 个工作日，超过 5 个工作日的答复期限。请明确专人负责"
          .. "问题数据的核实和整改。", t.avg_answer_days),
        basis = NB .. " 第二十七条",
      }
    end
  end,
  function(d, facts)
    local t = d.tickets
    if t.overdue_open > 0 then
      return {
        indicator = "handling.overdue",
        text = string.format("截至 %s，仍有 %d 张工单逾期未答复，请尽快处理。",
          facts.complete and facts.to or string.sub(facts.as_of, 1, 10), t.overdue_open),
        basis = NB .. " 第二十七条；" .. WZ .. " 第二十三条",
      }
    end
  end,
}

local function round(x, places)
  local f = 10 ^ places
  return math.floor(x * f + 0.5) / f
end

function M.grade_of(score)
  for _, g in ipairs(M.grades) do
    if score >= g.min then return g.name end
  end
  return M.grades[#M.grades].name
end

function M.evaluate(d, facts)
  local out = { indicators = {}, advice = {} }
  local weights, points = 0, 0
  for _, ind in ipairs(M.indicators) do
    local a, b = ind.compute(d, facts)
    local r = {
      id = ind.id, group = ind.group, name = ind.name, weight = ind.weight,
      numerator = a, denominator = b, weak = false,
    }
    if a ~= nil and b ~= nil and b > 0 then
      r.value = a / b
      r.points = ind.weight * r.value
      weights = weights + ind.weight
      points = points + r.points
      r.weak = r.value < (ind.weak or M.weak)
      if r.weak and ind.advice then
        local text = ind.advice
        if type(text) == "function" then text = text(d, r) end
        out.advice[#out.advice + 1] = { indicator = ind.id, text = text, basis = ind.basis }
      end
    end
    out.indicators[#out.indicators + 1] = r
  end
  for _, check in ipairs(M.checks or {}) do
    local a = check(d, facts)
    if a then out.advice[#out.advice + 1] = a end
  end
  if weights == 0 then
    -- No indicator applies: 不参评. Not scored and not ranked — a 0 would
    -- rank the department last and fail it for what nobody asked of it.
    out.advice[#out.advice + 1] = {
      indicator = "overall",
      text = "本期没有适用的评估指标（未编入资源目录、数据未经校验，也没有应答复的问题工单），"
        .. "不参评：不计分、不排名。如该部门提供公共数据，请按要求编目并归集。",
      basis = NB .. " 第三十四条",
    }
    return out
  end
  out.score = round(100 * points / weights, 1)
  out.grade = M.grade_of(out.score)
  if out.grade == M.grades[#M.grades].name then
    out.advice[#out.advice + 1] = {
      indicator = "overall",
      text = string.format("评估等级为“%s”。请在一个月内制定整改计划，逐项落实上述建议，并报大数据主管部门。",
        out.grade),
      basis = WZ .. " 第四十条；" .. NB .. " 第三十四条、第三十五条",
    }
  end
  return out
end

return M
