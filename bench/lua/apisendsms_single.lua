-- apisendsms: one message per request, POST /v1/messages
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local headers = {
  ["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or ""),
  ["Content-Type"] = "application/json",
}

function request()
  local body = '{"to": "' .. next_number() ..
    '", "text": "Hello from the benchmark", "from": "BENCH"}'
  return wrk.format("POST", "/v1/messages", headers, body)
end
