-- wenzhou.lua — the deadline policy of 温州市公共数据共享开放管理暂行办法
-- (2020) 第二十三条: the providing department answers within 5 working days;
-- an extension adds at most 15 working days to that period, approved by the
-- head of the providing department (数源部门负责人).
--
-- The keys are documented in ningbo.lua, the default policy.
policy {
  name = "wenzhou",
  basis = "温州市公共数据共享开放管理暂行办法 第二十三条",
  response = { working_days = 5 },
  extension = { working_days = 15, from = "deadline" },
  approver = { role = "provider_head", name = "数源部门负责人" },
  auto_feedback = true,
  urgent = { own_deadline = true },
  reminder = { working_days_before = 1 },
  hand_filed = "discovered",
}
