"""api_test.py — the JSON API of CONTRACT.md over loopback, every endpoint
and every status code it names (400, 401, 403, 404, 409, 422, 429, and
200/201), against the server start.sh started.

Its tickets: people.c1 (answered), people.c2 (extension approved), people.c3
(extension rejected), people.c4 (an extension past the cap), orgs.phone
(another department's), and the reports it files; its users prov, prov2,
steward, appr, rep, leader, sys (by key) and lockapi (throttled)."""
import os
import subprocess

from webtest import *

T1, T2, T3, T4 = (ticket_id(f"people.c{i}") for i in (1, 2, 3, 4))
TORG = ticket_id("orgs.phone")
LIST_KEYS = ["id", "dataset", "rule", "dept", "state", "items", "opened_at", "received_at",
             "deadline", "overdue", "urgent", "policy"]


def cli(*args):
    """qloop on the same store, at the server's time (read-only commands)."""
    env = dict(os.environ, QLOOP_DB=f"{W}/q.db", QLOOP_NOW="2024-09-12T10:00:00+08:00")
    out = subprocess.run([os.environ["QLOOP_BIN"], *args], env=env, capture_output=True, timeout=60)
    return json.loads(out.stdout) if out.returncode == 0 else None


def error_of(r):
    j = r.json()
    return j.get("error") if isinstance(j, dict) else None


def expect(what, r, status):
    check(f"{what}: {status}", r.status == status, f"got {r.status} {r.text[:300]}")
    if status >= 400:
        e = error_of(r)
        check(f"{what}: a Chinese error", isinstance(e, str) and any("\u4e00" <= ch <= "\u9fff" for ch in e),
              f"body {r.text[:200]}")


# ---- signing in ---------------------------------------------------------------
anon = Client()
expect("list without signing in", anon.get("/api/v1/tickets"), 401)
expect("show without signing in", anon.get(f"/api/v1/tickets/{T1}"), 401)
expect("a change without signing in", anon.post(f"/api/v1/tickets/{T1}/resolve", {"as": "confirmed"}), 401)
expect("sign-in body not JSON", anon.post("/api/v1/session", "login=prov"), 400)
expect("sign-in without password", anon.post("/api/v1/session", {"login": "prov"}), 400)
expect("sign-in with a number for a password", anon.post("/api/v1/session", {"login": "prov", "password": 1}), 400)
expect("wrong password", anon.post("/api/v1/session", {"login": "prov2", "password": "not-the-password"}), 401)
expect("unknown login", anon.post("/api/v1/session", {"login": "nobody", "password": "not-the-password"}), 401)

prov = Client()
r = prov.signin("prov")
expect("provider signs in", r, 200)
j = r.json() or {}
check("sign-in answers user, role, dept, csrf",
      j.get("user") == "prov" and j.get("role") == "provider" and j.get("dept") == "市公安局"
      and len(j.get("csrf", "")) == 64, str(j))
cookie = r.header("Set-Cookie") or ""
for attr in ("HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"):
    check(f"session cookie {attr}", attr in cookie, cookie)
check("no Secure on plain HTTP", "Secure" not in cookie, cookie)
check("the cookie's token is not the CSRF value", j.get("csrf", "") not in cookie)
expect("who am I", prov.get("/api/v1/session"), 200)

# ---- lists ---------------------------------------------------------------------
r = prov.get("/api/v1/tickets")
expect("list", r, 200)
lst = r.json() or []
check("every ticket has the list keys", all(all(k in t for k in LIST_KEYS) for t in lst))
check("a provider sees its own department's tickets only", lst and all(t["dept"] == "市公安局" for t in lst))
check("another department's ticket not listed", TORG not in [t["id"] for t in lst])
r = prov.get("/api/v1/tickets?state=feedback")
check("state filter", r.status == 200 and all(t["state"] == "feedback" for t in r.json()))
r = prov.get("/api/v1/tickets?state=%E5%8F%8D%E9%A6%88")  # 反馈
check("state filter in Chinese", r.status == 200 and all(t["state"] == "feedback" for t in r.json()))
r = prov.get("/api/v1/tickets?overdue=true")
check("overdue filter", r.status == 200 and r.json() and all(t["overdue"] for t in r.json()))
expect("a state that is none", prov.get("/api/v1/tickets?state=closed"), 400)
expect("overdue neither true nor false", prov.get("/api/v1/tickets?overdue=maybe"), 400)
r = prov.get("/api/v1/tickets?dept=%E5%B8%82%E7%A8%8E%E5%8A%A1%E5%B1%80")  # 市税务局
check("another department filtered: nothing", r.status == 200 and r.json() == [], r.text[:200])

steward = signed_in("steward")
r = steward.get("/api/v1/tickets?dept=%E5%B8%82%E7%A8%8E%E5%8A%A1%E5%B1%80")
want = cli("tickets", "list", "--dept", "市税务局", "--json", "--actor", "steward")
check("the list object exactly as `tickets list --json`", r.status == 200 and r.json() == want,
      f"{r.text[:300]} vs {str(want)[:300]}")
r = steward.get(f"/api/v1/tickets/{TORG}")
want = cli("tickets", "show", str(TORG), "--json", "--actor", "steward")
check("the ticket exactly as `tickets show --json`", r.status == 200 and r.json() == want,
      f"{r.text[:300]} vs {str(want)[:300]}")

# ---- one ticket ------------------------------------------------------------------
r = prov.get(f"/api/v1/tickets/{T1}")
expect("show", r, 200)
t = r.json() or {}
check("show has records and history", len(t.get("records", [])) == 2 and len(t.get("history", [])) >= 1)
check("the owner's provider sees the records unmasked", t.get("revealed") == 2
      and "330110199001011233" in [x["record_key"] for x in t.get("records", [])], str(t.get("records"))[:300])
with db() as c:
    n = c.execute("SELECT count(*) FROM audit WHERE kind = 'ticket.reveal' AND actor = 'prov' AND subject = ?",
                  (f"ticket:{T1}",)).fetchone()[0]
check("each unmasked showing audited", n >= 1, f"{n} entries")
t = steward.get(f"/api/v1/tickets/{T1}").json() or {}
check("a steward sees them masked", t.get("revealed") == 0
      and "330110199001011233" not in [x["record_key"] for x in t.get("records", [])], str(t.get("records"))[:300])
expect("another department's ticket", prov.get(f"/api/v1/tickets/{TORG}"), 404)
expect("no such ticket", prov.get("/api/v1/tickets/999999"), 404)
expect("not a ticket number", prov.get("/api/v1/tickets/abc"), 404)

# ---- answering (people.c1) -------------------------------------------------------------
expect("a change without the CSRF token", prov.post(f"/api/v1/tickets/{T1}/resolve",
                                                    {"as": "rectified"}, csrf=False), 403)
check("refused without CSRF: unchanged", ticket_state(T1) == "feedback")
expect("resolve: body not an object", prov.post(f"/api/v1/tickets/{T1}/resolve", "[1]"), 400)
expect("resolve: no answer", prov.post(f"/api/v1/tickets/{T1}/resolve", {}), 400)
expect("resolve: an answer that is none", prov.post(f"/api/v1/tickets/{T1}/resolve", {"as": "fixed"}), 422)
expect("resolve: a steward may not", steward.post(f"/api/v1/tickets/{T1}/resolve", {"as": "confirmed"}), 403)
expect("resolve: another department's", prov.post(f"/api/v1/tickets/{TORG}/resolve", {"as": "confirmed"}), 404)
expect("an action that is none", prov.post(f"/api/v1/tickets/{T1}/close", {}), 404)
r = prov.post(f"/api/v1/tickets/{T1}/resolve", {"as": "rectified", "note": "已整改"})
expect("resolve", r, 200)
check("resolve answers the ticket", (r.json() or {}).get("state") == "corrected", r.text[:200])
check("history records the signed-in user", (r.json() or {}).get("history", [{}])[-1].get("actor") == "prov")
with db() as c:
    n = c.execute("SELECT count(*) FROM audit WHERE actor = 'prov' AND subject = ?", (f"ticket:{T1}",)).fetchone()[0]
check("the change is in the audit chain with the user", n >= 1, f"{n} entries")
expect("resolve again: not from 修正", prov.post(f"/api/v1/tickets/{T1}/resolve", {"as": "confirmed"}), 409)

# ---- extensions (people.c2 approved, people.c3 rejected, people.c4 past the cap) ----------------
appr = signed_in("appr")
expect("approve with nothing pending", appr.post(f"/api/v1/tickets/{T2}/approve"), 409)
expect("extend: no reason", prov.post(f"/api/v1/tickets/{T2}/extend", {"until": "2024-09-20"}), 400)
r = prov.post(f"/api/v1/tickets/{T2}/extend", {"until": "2024-09-20", "reason": "数据量大"})
expect("extend", r, 200)
check("the request is pending", ((r.json() or {}).get("extension_request") or {}).get("until", "").startswith("2024-09-20"))
expect("extend again while one is pending", prov.post(f"/api/v1/tickets/{T2}/extend",
                                                      {"until": "2024-09-21", "reason": "再延"}), 409)
expect("a provider may not approve", prov.post(f"/api/v1/tickets/{T2}/approve"), 403)
r = appr.post(f"/api/v1/tickets/{T2}/approve")
expect("approve", r, 200)
check("deadline moved", (r.json() or {}).get("deadline", "").startswith("2024-09-20"), r.text[:200])
expect("approve again", appr.post(f"/api/v1/tickets/{T2}/approve"), 409)
expect("extend past the cap", prov.post(f"/api/v1/tickets/{T4}/extend",
                                        {"until": "2030-01-01", "reason": "太久"}), 422)
expect("extend to a date that is none", prov.post(f"/api/v1/tickets/{T4}/extend",
                                                  {"until": "next week", "reason": "x"}), 422)
expect("extend (c3)", prov.post(f"/api/v1/tickets/{T3}/extend", {"until": "2024-09-18", "reason": "人手不足"}), 200)
expect("reject without a reason", appr.post(f"/api/v1/tickets/{T3}/reject", {}), 400)
r = appr.post(f"/api/v1/tickets/{T3}/reject", {"reason": "理由不足"})
expect("reject", r, 200)
check("rejected: nothing pending", (r.json() or {}).get("extension_request") is None)

# ---- filing (系统填报, 接口对接) and handing over ----------------------------------------------
rep = signed_in("rep")
report = {"dataset": "people", "key": "330110199202022345", "field": "name", "message": "姓名与户籍登记不符"}
expect("a provider may not file", prov.post("/api/v1/reports", report), 403)
expect("file: no message", rep.post("/api/v1/reports", {"dataset": "people", "key": "K"}), 400)
expect("file: an unknown dataset", rep.post("/api/v1/reports", dict(report, dataset="nowhere")), 422)
r = rep.post("/api/v1/reports", report)
expect("file", r, 201)
filed = r.json() or {}
check("filed: 发现, to the dataset's owner", filed.get("state") == "discovered" and filed.get("dept") == "市公安局",
      r.text[:300])
check("filed: the reporter sees it", filed.get("id") and rep.get(f"/api/v1/tickets/{filed.get('id')}").status == 200)
r = rep.post("/api/v1/reports", report)
check("the same record again: tracked, 200", r.status == 200 and (r.json() or {}).get("duplicate") is True, r.text[:200])
expect("a reporter may not hand over", rep.post(f"/api/v1/tickets/{filed.get('id')}/feedback"), 403)
expect("feedback: urgent not a boolean", steward.post(f"/api/v1/tickets/{filed.get('id')}/feedback",
                                                      {"urgent": "yes"}), 400)
r = steward.post(f"/api/v1/tickets/{filed.get('id')}/feedback")
expect("hand over", r, 200)
check("handed over: 反馈 with a deadline", (r.json() or {}).get("state") == "feedback"
      and (r.json() or {}).get("deadline"), r.text[:200])
expect("hand over again", steward.post(f"/api/v1/tickets/{filed.get('id')}/feedback"), 409)

sysc = Client(bearer=KEY)
expect("a key that is none", Client(bearer="qk_0000000000000000_" + "0" * 64).get("/api/v1/tickets"), 401)
expect("not a Bearer header", Client().get("/api/v1/tickets", headers={"Authorization": "Basic eDp5"}), 401)
sysrep = {"dataset": "people", "key": "330110199303033456", "field": "phone", "message": "接口对接：号码停机"}
r1 = sysc.post("/api/v1/reports", sysrep, headers={"Idempotency-Key": "erp-0001"})
expect("file by interface with a key", r1, 201)
r2 = sysc.post("/api/v1/reports", sysrep, headers={"Idempotency-Key": "erp-0001"})
check("the retry answers the first filing", r2.status == 201 and (r2.json() or {}).get("id") == (r1.json() or {}).get("id")
      and r2.header("Idempotent-Replayed") == "true", f"{r2.status} {r2.text[:200]}")
with db() as c:
    n = c.execute("SELECT count(*) FROM ticket_items WHERE reporter = 'sys'").fetchone()[0]
check("filed once however often retried", n == 1, f"{n} items")
expect("the same key, another report", sysc.post("/api/v1/reports", dict(sysrep, message="另一份"),
                                                 headers={"Idempotency-Key": "erp-0001"}), 422)
expect("an Idempotency-Key with spaces", sysc.post("/api/v1/reports", sysrep,
                                                   headers={"Idempotency-Key": "a b"}), 400)
with db() as c:
    src = c.execute("SELECT source FROM tickets WHERE id = ?", ((r1.json() or {}).get("id"),)).fetchone()
check("a key's report is 接口对接 (import)", src and src[0] == "import", str(src))
expect("a key needs no CSRF token", sysc.get("/api/v1/tickets"), 200)

# ---- the assessment and scorecards ----------------------------------------------------
leader = signed_in("leader")
r = leader.get("/api/v1/reports/annual?year=2024&format=json")
expect("annual (json)", r, 200)
check("annual has departments", isinstance((r.json() or {}).get("departments"), list) and (r.json() or {}).get("year") == 2024)
r = leader.get("/api/v1/reports/annual?year=2024&format=html")
expect("annual (html)", r, 200)
csp = r.header("Content-Security-Policy") or ""
check("the report's styles admitted by hash only", "'sha256-" in csp and "unsafe-inline" not in csp
      and "script-src" not in csp and "frame-ancestors 'none'" in csp, csp)
r = leader.get("/api/v1/reports/annual?year=2024&format=xlsx")
check("annual (xlsx)", r.status == 200 and r.body[:2] == b"PK", f"{r.status} {r.body[:40]!r}")
expect("annual: a format that is none", leader.get("/api/v1/reports/annual?year=2024&format=pdf"), 400)
expect("annual: a year that is none", leader.get("/api/v1/reports/annual?year=24"), 400)
expect("annual: a year not begun", leader.get("/api/v1/reports/annual?year=2099"), 422)
expect("annual: a provider may not", prov.get("/api/v1/reports/annual?year=2024"), 403)
r = leader.get("/api/v1/scorecard?dept=%E5%B8%82%E5%85%AC%E5%AE%89%E5%B1%80&period=2024-09")
expect("scorecard", r, 200)
check("scorecard of the department", ((r.json() or {}).get("department") or {}).get("name") == "市公安局", r.text[:200])
expect("scorecard: own department's provider", prov.get("/api/v1/scorecard?period=2024-09"), 200)
expect("scorecard: another department's provider",
       prov.get("/api/v1/scorecard?dept=%E5%B8%82%E7%A8%8E%E5%8A%A1%E5%B1%80&period=2024-09"), 403)
expect("scorecard: a period that is none", leader.get("/api/v1/scorecard?dept=x&period=2024-13"), 400)
expect("scorecard: no department", leader.get("/api/v1/scorecard?period=2024-09"), 400)

# ---- methods and paths ---------------------------------------------------------------
r = prov.request("DELETE", "/api/v1/tickets")
expect("a method the path does not serve", r, 405)
check("405 names what is allowed", r.header("Allow") == "GET", str(r.header("Allow")))
expect("a path that is none", prov.get("/api/v1/nothing"), 404)

# ---- throttling (lockapi) -------------------------------------------------------------
c = Client()
codes = [c.post("/api/v1/session", {"login": "lockapi", "password": "wrong-password"}).status for _ in range(6)]
check("five failures, then 429", codes == [401] * 5 + [429], str(codes))
r = c.post("/api/v1/session", {"login": "lockapi", "password": PASSWORD})
expect("even the right password while throttled", r, 429)
check("429 says when to retry", r.header("Retry-After") == "900")

# ---- the portal's pages and forms ---------------------------------------------------
pages = (("steward", steward, "/overview", "全局概览"), ("leader", leader, "/assessment", "年度评估报告"),
         ("appr", appr, "/queue", "延期审批"), ("rep", rep, "/report", "问题反馈"), ("prov", prov, "/tickets", "我的工单"),
         ("leader", leader, "/assessment?view=annual&year=2024&format=html", "年度"),
         ("prov", prov, "/assessment?view=scorecard&dept=%E5%B8%82%E5%85%AC%E5%AE%89%E5%B1%80&period=2024-09", "市公安局"))
for who, client, path, text in pages:
    r = client.get(path)
    check(f"{who} {path}: 200 with {text}", r.status == 200 and text in r.text and "text/html" in (r.header("Content-Type") or ""),
          f"{r.status}")
r = prov.get("/assessment?view=annual&year=2024")
check("a provider may not open the annual assessment page: 403", r.status == 403 and "text/html" in (r.header("Content-Type") or ""))
r = anon.get("/tickets")
check("a page without signing in: to the sign-in page", r.status == 303 and r.header("Location") == "/signin")
r = Client().post("/signin", {"login": "rep", "password": "not-the-password"}, form=True)
check("the sign-in form with a wrong password: 401, the form again", r.status == 401 and "登录名或密码错误" in r.text)
form = {"dataset": "people", "key": "330110199404044567", "field": "name", "message": "表单填报：姓名有误", "idem": "form-0001"}
r1 = rep.post("/report", form, form=True)
r2 = rep.post("/report", form, form=True)
loc = r1.header("Location") or ""
check("问题反馈 form: filed, to the ticket", r1.status == 303 and loc.startswith("/tickets/") and loc.endswith("done=filed"), f"{r1.status} {loc}")
check("the form sent twice files once", r2.status == 303 and r2.header("Location") == loc, str(r2.header("Location")))
with db() as c:
    n = c.execute("SELECT count(*) FROM ticket_items WHERE reporter = 'rep' AND message = ?", (form["message"],)).fetchone()[0]
check("one record for the form sent twice", n == 1, f"{n}")
r = rep.post("/report", dict(form, dataset="nowhere", idem="form-0002"), form=True)
check("the form with an unknown dataset: 422, the form again with the reason", r.status == 422 and "nowhere" in r.text, f"{r.status}")

# ---- signing out (prov2) -------------------------------------------------------------------
p2 = signed_in("prov2")
old = p2.cookie
expect("sign out without the CSRF token", p2.request("DELETE", "/api/v1/session", csrf=False), 403)
r = p2.request("DELETE", "/api/v1/session")
expect("sign out", r, 200)
check("the cookie is cleared", "Max-Age=0" in (r.header("Set-Cookie") or ""))
stale = Client()
stale.cookie = old
expect("the old session no longer works", stale.get("/api/v1/tickets"), 401)

finish()
