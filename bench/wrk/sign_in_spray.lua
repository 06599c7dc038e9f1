-- wrk script: POST /api/token with a new random user name each time (a name spray); counts
-- the answers by status (401: a password was hashed; 429/503: refused before hashing).
local threads = {}

setup = function(thread)
  threads[#threads + 1] = thread
end

init = function(args)
  math.randomseed(os.time() + math.floor(os.clock() * 1e6))
  counts = {}
end

request = function()
  local name = string.format("spray%08x", math.random(0, 0x7fffffff))
  return wrk.format("POST", "/api/token", {["Content-Type"] = "application/x-www-form-urlencoded"},
    "username=" .. name .. "&password=guess")
end

response = function(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

done = function(summary, latency, requests)
  local hashed, refused = 0, 0
  for _, thread in ipairs(threads) do
    local c = thread:get("counts")
    hashed = hashed + (c[401] or 0)
    refused = refused + (c[429] or 0) + (c[503] or 0)
  end
  io.write(string.format('{"sign_in_attempts": %d, "seconds": %.3f, "hashed": %d, "refused": %d}\n',
    summary.requests, summary.duration / 1e6, hashed, refused))
end
