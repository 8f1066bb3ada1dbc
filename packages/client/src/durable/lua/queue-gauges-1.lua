--[[
  Gauges of one partition: pending operations whose due time has come, and running operations
  under a live lease, per type, by Redis's clock (TIME). Scans at most ARGV[2] schedule
  entries each way.

  Input:
    KEYS[1] schedule zset   (prefix{tag}:schedule)

    ARGV[1] operation hash key prefix (prefix{tag}:op:)
    ARGV[2] scan limit

  Output:
    { due JSON {type: n}, in-flight JSON {type: n} }
]]
--- @include "includes/argument-checks"
-- Every argument checked before the first write: a bad one is refused whole.
arity(1, 2)
stringArg(1, 'operation hash key prefix')
countArg(2, 'scan limit')
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local due = {}
local inFlight = {}
local limit = tonumber(ARGV[2])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)) do
  local fields = redis.call('HMGET', ARGV[1] .. id, 'state', 'type')
  if fields[1] == 'pending' then due[fields[2]] = (due[fields[2]] or 0) + 1 end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'LIMIT', 0, limit)) do
  local fields = redis.call('HMGET', ARGV[1] .. id, 'state', 'type')
  if fields[1] == 'running' then inFlight[fields[2]] = (inFlight[fields[2]] or 0) + 1 end
end
local function encode(t)
  if next(t) == nil then return '{}' end
  return cjson.encode(t)
end
return { encode(due), encode(inFlight) }
