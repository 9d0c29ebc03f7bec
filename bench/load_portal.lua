-- bench/load_portal.lua — the request mix of bench/load_portal.sh for wrk.
-- Per 20 requests: 12 ticket lists as a provider (GET /api/v1/tickets),
-- 4 ticket shows as a reporter, 3 portal pages (/tickets), and 1 problem
-- report filed through the API (POST /api/v1/reports with a fresh
-- Idempotency-Key and record key: a real write, in its own transaction).
local prov_cookie = os.getenv("PROV_COOKIE")
local rep_cookie = os.getenv("REP_COOKIE")
local rep_csrf = os.getenv("REP_CSRF")
local ticket = os.getenv("SMALL_TICKET")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tno", threads)
end

local n = 0
function request()
  n = n + 1
  local k = n % 20
  if k < 12 then
    return wrk.format("GET", "/api/v1/tickets", { Cookie = prov_cookie })
  elseif k < 16 then
    return wrk.format("GET", "/api/v1/tickets/" .. ticket, { Cookie = rep_cookie })
  elseif k < 19 then
    return wrk.format("GET", "/tickets", { Cookie = prov_cookie })
  end
  local id = string.format("load-%d-%d", tno, n)
  local body = string.format('{"dataset":"pop","key":"%s","field":"phone","message":"压测填报"}', id)
  return wrk.format("POST", "/api/v1/reports", {
    Cookie = rep_cookie, ["X-CSRF-Token"] = rep_csrf, ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = id }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("requests %d in %.1f s: %.0f requests/s\n", summary.requests,
    summary.duration / 1e6, summary.requests / (summary.duration / 1e6)))
  io.write(string.format("latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
  io.write(string.format("errors: connect %d, read %d, write %d, timeout %d, status >= 400: %d\n",
    errors.connect, errors.read, errors.write, errors.timeout, errors.status))
end
