-- Load for `wrk` (Debian package wrk): lodges examples/declaration-import.json over and over, each
-- request with its own Idempotency-Key, so every request creates a new declaration.
--   CUSTOMS_TOKEN=oc_... wrk -t1 -c64 -d15s --latency -s bench/wrk-lodge.lua \
--     http://127.0.0.1:8080/v1/declarations
-- Start the server with a per-client rate above the load (`--rate-per-client 1000000`), or every
-- request past the burst is answered 429. Run from the repository root (the body is read from
-- examples/).
local file = assert(io.open("examples/declaration-import.json", "r"))
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("CUSTOMS_TOKEN"), "set CUSTOMS_TOKEN")

local thread_count = 0
function setup(thread)
  thread:set("thread_number", thread_count)
  thread_count = thread_count + 1
end

local sent = 0
function request()
  sent = sent + 1
  wrk.headers["Idempotency-Key"] = "wrk-" .. thread_number .. "-" .. sent .. "-" .. os.time()
  return wrk.format()
end
