-- Shared helpers for the wrk scripts. Loaded with dofile() from each scenario.
-- Every wrk thread gets its own id (set in setup) so numbers differ across threads.

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

-- Czech mobile number +42077xxxxxxx, varied by thread id and a per-thread counter.
counter = 0
function next_number()
  counter = counter + 1
  return string.format("+42077%07d", ((tid or 0) * 1000003 + counter) % 10000000)
end

-- Writes one JSON line with the run's figures to $WRK_RESULT (if set).
function done(summary, latency, requests)
  local path = os.getenv("WRK_RESULT")
  if not path or path == "" then return end
  local e = summary.errors
  -- 2xx answers that still reported per-recipient errors (counted by scripts with a response() hook)
  local partial = 0
  for _, t in ipairs(threads) do
    partial = partial + (tonumber(t:get("partial")) or 0)
  end
  local f = assert(io.open(path, "w"))
  f:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "non2xx": %d, ' ..
    '"err_connect": %d, "err_read": %d, "err_write": %d, "err_timeout": %d, "partial_2xx": %d, ' ..
    '"lat_mean_us": %.1f, "lat_max_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "p999_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.status,
    e.connect, e.read, e.write, e.timeout, partial,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
  f:close()
end
