-- ningbo.lua — the default deadline policy of the closed loop 发现-反馈-修正-共享.
--
-- 宁波市公共数据管理办法（2019）第二十七条: the department that provided the
-- data answers within 5 working days of receiving the feedback; the period may
-- be extended, but reaches at most 60 natural days from receipt; extensions
-- are approved by the big-data authority (大数据主管部门).
--
-- The format of a policy file (evaluated in the rule sandbox; call
-- `policy { ... }` once, or `return { ... }`; a key left out keeps the value
-- of this default policy; an unknown key is an error):
--   name          text: what --policy and the tickets call this policy
--   basis         text: the legal basis, quoted in messages
--   response      { working_days = N } or { natural_days = N }: the answer
--                 period, counted from the day after receipt (the day of
--                 receipt is not counted); it ends at the end of its last day
--   extension     { natural_days = N, from = "receipt" } or
--                 { working_days = N, from = "deadline" }: how far an approved
--                 extension may reach, counted from receipt or from the
--                 original deadline; a natural-day period whose last day is
--                 not a working day ends on the next working day;
--                 false: no extension
--   approver      { role = "bureau" | "provider_head", name = "..." }: who
--                 decides on extension requests (qloop tickets approve/reject)
--   auto_feedback true: a run hands new tickets straight to the provider
--                 (反馈, the clock starts at the run's time); false: they wait
--                 in 发现 for `qloop tickets feedback`
--   urgent        { own_deadline = true }: `qloop tickets feedback --urgent
--                 --deadline DATETIME` sets a ticket's own deadline
--   reminder      { working_days_before = N }: a reminder goes to the outbox
--                 N working days before the deadline; false: none
--   hand_filed    "discovered": a ticket filed by hand or by interface (系统填报,
--                 接口对接) waits in 发现 until the bureau's steward checks it
--                 and hands it over with `qloop tickets feedback`; "feedback":
--                 it goes straight to the dataset's provider, the clock starting
--                 when it is filed
--
-- A ticket keeps the policy it was opened under for its whole life: the
-- policy is stored with it, and a later --policy only chooses the policy of
-- tickets opened from then on.
policy {
  name = "ningbo",
  basis = "宁波市公共数据管理办法 第二十七条",
  response = { working_days = 5 },
  extension = { natural_days = 60, from = "receipt" },
  approver = { role = "bureau", name = "大数据主管部门" },
  auto_feedback = true,
  urgent = { own_deadline = true },
  reminder = { working_days_before = 1 },
  hand_filed = "discovered",
}
