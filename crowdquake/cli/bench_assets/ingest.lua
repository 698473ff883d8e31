-- wrk script for `crowdquake bench ingest`: authenticated, validated trigger posts.
-- Globals TOKENS, PATH, BATCH and DELAY_MS are prepended by the benchmark command.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + thread_id * 7919 + math.floor(os.clock() * 1e6))
end

local function uuid4()
  local t = "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"
  return (string.gsub(t, "[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%x", v)
  end))
end

local function trigger(now)
  return string.format(
    '{"id":"%s","trigger_time":"%s","clock_offset_s":0.05,"latitude":%.5f,"longitude":%.5f,' ..
    '"accuracy_m":12.0,"pga_ms2":%.4f,"score":0.91,"model_version":"bench","phase_hint":"P"}',
    uuid4(), now, 37.5 + math.random() * 0.8, -122.6 + math.random() * 0.8,
    0.05 + math.random() * 0.5)
end

function request()
  counter = counter + 1
  local token = TOKENS[(counter + thread_id) % #TOKENS + 1]
  local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local body
  if BATCH > 0 then
    local items = {}
    for i = 1, BATCH do items[i] = trigger(now) end
    body = '{"triggers":[' .. table.concat(items, ",") .. ']}'
  else
    body = trigger(now)
  end
  return wrk.format("POST", PATH, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

function delay()
  return DELAY_MS
end
