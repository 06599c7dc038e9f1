-- wrk script: GET each path of the file named by env WRK_PATHS (one a line), in turn, each
-- thread starting at its own offset; prints a JSON line (latency percentiles in µs) when done.
local paths = {}
local i = 0
local threads = {}

setup = function(thread)
  thread:set("offset", #threads * 7919)
  threads[#threads + 1] = thread
end

init = function(args)
  for line in io.lines(os.getenv("WRK_PATHS")) do
    paths[#paths + 1] = line
  end
  i = (offset or 0) % #paths
end

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "non2xx_or_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
