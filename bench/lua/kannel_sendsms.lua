-- Kannel smsbox HTTP sendsms: GET /cgi-bin/sendsms?username=..&password=..&to=..&text=..
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local user = os.getenv("KANNEL_USER") or "bench"
local pass = os.getenv("KANNEL_PASS") or "benchpass"
local prefix = "/cgi-bin/sendsms?username=" .. user .. "&password=" .. pass ..
  "&from=BENCH&text=Hello+from+the+benchmark&to="

function request()
  -- "+" must be percent-encoded in a query string.
  return wrk.format("GET", prefix .. "%2B" .. string.sub(next_number(), 2))
end
