-- The load that make bench drives with wrk, in wrk's own process, so that
-- the server measured shares no Go runtime with its load generator.
-- Arguments: mode, data file, [batch size], [first line (seq)], [wrk threads (seq)].
--   lines   a random line of the file per request (a fixed body when the file has one line)
--   seq     the file's lines in order, each thread its own share, each line once (wrapping is counted)
--   newdep  a random key of the file with a deployment id never used before
--   usage   a random key of the file with `batch` reports whose ids were never used before
--   get     a plain GET of the URL
local threads = {}
local counter = 0

function setup(thread)
   thread:set("tid", #threads)
   table.insert(threads, thread)
end

local mode, lines, batch, n, first, stride
-- globals, so that done() can read them from each thread
wrapped, pos = 0, 0

function init(args)
   mode = args[1]
   batch = tonumber(args[3] or "1")
   lines = {}
   if args[2] and args[2] ~= "" then
      for l in io.lines(args[2]) do table.insert(lines, l) end
   end
   n = 0
   first = tonumber(args[4] or "0")
   -- The thread count comes as an argument: setup() runs in wrk's main
   -- Lua state, so each thread's own `threads` table stays empty, and a
   -- stride of #threads there was 0 (every request sent the same line).
   stride = tonumber(args[5] or "1")
   pos = first + tid + 1
   wrapped = 0
   math.randomseed(os.time() * 100 + tid)
   wrk.headers["Content-Type"] = "application/json"
end

local function pick()
   return lines[math.random(#lines)]
end

local function uuid(a, j)
   return string.format("%08x-%04x-4000-8000-%06x%06x", a, tid, n % 0xffffff, j)
end

function request()
   n = n + 1
   if mode == "get" then
      return wrk.format("GET")
   elseif mode == "lines" then
      return wrk.format("POST", nil, nil, pick())
   elseif mode == "seq" then
      if pos > #lines then
         pos = tid + 1
         wrapped = wrapped + 1
      end
      local body = lines[pos]
      pos = pos + stride
      return wrk.format("POST", nil, nil, body)
   elseif mode == "newdep" then
      return wrk.format("POST", nil, nil,
         string.format('{"licenseKey":"%s","deploymentId":"new-%d-%d-%d"}', pick(), os.time(), tid, n))
   elseif mode == "usage" then
      local now = os.time()
      local period = os.date("!%Y-%m-%dT%H:%M:00Z", now)
      local parts = {}
      local a = math.random(0, 0x7fffffff)
      for j = 1, batch do
         parts[j] = string.format('{"id":"%s","periodStart":"%s","periodEnd":"%s","metrics":{"apiCalls":%d,"users":%d}}',
            uuid(a, j), period, period, j, j % 7)
      end
      local key = pick()
      return wrk.format("POST", nil, nil,
         string.format('{"licenseKey":"%s","deploymentId":"bench","reports":[%s]}', key, table.concat(parts, ",")))
   end
end

function done(summary, latency, requests)
   local w, last = 0, 0
   for _, t in ipairs(threads) do
      w = w + (t:get("wrapped") or 0)
      last = math.max(last, (t:get("pos") or 1) - 1)
   end
   io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d non2xx=%d wrapped=%d last=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
      summary.errors.status, w, last))
end
