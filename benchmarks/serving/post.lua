-- wrk script for benchmarks/serving_vs_mlflow.py: POST one fixed JSON body on every request and,
-- when the run ends, print one line "WRK_JSON {...}" with exact figures. wrk's own text table
-- rounds latencies to two decimals in mixed units, so the benchmark parses this line instead.
--
-- The body is read from the file named by WRK_BODY_FILE (so the same script serves every
-- protocol: ours takes a bare list of rows, MLflow a {"inputs": ...} or dataframe_split object).

local path = os.getenv("WRK_BODY_FILE")
if path == nil then
  error("WRK_BODY_FILE is not set")
end
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"

function done(summary, latency, requests)
  -- Latencies are in microseconds; duration too. Errors count separately from requests:
  -- "status" is responses outside 2xx/3xx, "timeout" requests that got no answer in --timeout.
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.3f, "stdev": %.3f, "max": %d, ' ..
    '"p50": %d, "p90": %d, "p99": %d, "p99_9": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50.0), latency:percentile(90.0), latency:percentile(99.0),
    latency:percentile(99.9)))
end
