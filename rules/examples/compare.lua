-- compare.lua — the bundled 比对 (compare) sample: the population base data
-- (dataset "people", declared in people.lua, owned by 市公安局) against the
-- copy the social-security bureau keeps of it (social.csv beside this file).
--
-- 一数一源: each fact has one authoritative source. The population base data
-- is the authority for a person's name and birth date, so every difference is
-- sent to the owner of the copy (市人力社保局) as a ticket, with both values,
-- masked: "name 不一致：本方 张*，权威方 李*". The run reports
--   people_vs_social.missing_in_right    people records the copy lacks
--   people_vs_social.missing_in_left     copy records the base data lacks
--   people_vs_social.mismatch.name       names that differ
--   people_vs_social.mismatch.birth_date birth dates that differ as dates
--   people_vs_social.duplicate_key_left / _right   keys used twice (not paired)
--   people_vs_social.empty_key_left / _right       records without a key
--
-- social.csv is generated from people.csv (bench/gen_compare.c, the same
-- generator the compare benchmark uses):
--   cc -O2 -o gen_compare bench/gen_compare.c
--   ./gen_compare rules/examples/people.csv rules/examples/social.csv --seed 2 --empty 0.001
-- It has the differences a real copy has: 119 people records missing, 42
-- records the base data lacks, 23 names changed, 27 names with stray spaces
-- (the cleanse below trims them, so they agree), 27 birth dates a day off,
-- 83 birth dates written 1961/4/17, 1961年4月17日 or 19610417 (equal when
-- compared as dates), 2 records copied twice and 2 without a pid. The base
-- data's own duplicated identity numbers (people.csv has 60) are copied once.

dataset "social" {
  source = "social.csv",
  key = "pid",
  owner = "市人力社保局",
  update_cycle = "monthly",
  sensitive = { "pid", "name" },
}

cleanse "social" {
  name = clean.trim,           -- " 张三", "张三　" → "张三"
}

compare "people_vs_social" {
  left = "people", right = "social",
  key = "person_id", right_key = "pid",
  authority = "left",          -- the base data is right; tickets go to 市人力社保局
  fields = {
    name = "name",
    birth_date = { field = "birth", date = true },
  },
}
