-- apisendsms: BATCH_SIZE recipients per request, POST /v1/messages with "to": [...]
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")

local batch = tonumber(os.getenv("BATCH_SIZE") or "1000")
local headers = {
  ["Authorization"] = "Bearer " .. (os.getenv("BENCH_API_KEY") or ""),
  ["Content-Type"] = "application/json",
}

function request()
  local nums = {}
  for i = 1, batch do
    nums[i] = '"' .. next_number() .. '"'
  end
  local body = '{"to": [' .. table.concat(nums, ",") ..
    '], "text": "Hello from the benchmark", "from": "BENCH"}'
  return wrk.format("POST", "/v1/messages", headers, body)
end

-- A 202 whose body lists "errors" accepted only part of the batch: count those.
partial = 0
function response(status, headers, body)
  if status >= 200 and status < 300 and body and string.find(body, '"errors"', 1, true) then
    partial = partial + 1
  end
end
