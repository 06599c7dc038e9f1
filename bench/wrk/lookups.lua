-- wrk script: GET /api/lookup at points read from the file named by env LOOKUP_POINTS
-- ("lon,lat" per line), in turn; prints a JSON line of latency percentiles (µs) when done.
local points = {}
local i = 0

init = function(args)
  for line in io.lines(os.getenv("LOOKUP_POINTS")) do
    points[#points + 1] = line
  end
end

request = function()
  i = i % #points + 1
  local lon, lat = points[i]:match("([^,]+),([^,]+)")
  return wrk.format("GET", "/api/lookup?lon=" .. lon .. "&lat=" .. lat)
end

done = function(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "non2xx_or_errors": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration / 1e6,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status
      + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
