/** Counts due and in-flight operations of one partition per type. */
export const QUEUE_GAUGES_1 = `--[[
  Gauges of one partition: pending operations whose due time has come, and running operations
  under a live lease, per type. Scans at most ARGV[3] schedule entries each way.

  Input:
    KEYS[1] schedule zset   (prefix{tag}:schedule)

    ARGV[1] now (ms)
    ARGV[2] operation hash key prefix (prefix{tag}:op:)
    ARGV[3] scan limit

  Output:
    { due JSON {type: n}, in-flight JSON {type: n} }
]]
local due = {}
local inFlight = {}
local limit = tonumber(ARGV[3])
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, limit)) do
  local fields = redis.call('HMGET', ARGV[2] .. id, 'state', 'type')
  if fields[1] == 'pending' then due[fields[2]] = (due[fields[2]] or 0) + 1 end
end
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0, limit)) do
  local fields = redis.call('HMGET', ARGV[2] .. id, 'state', 'type')
  if fields[1] == 'running' then inFlight[fields[2]] = (inFlight[fields[2]] or 0) + 1 end
end
local function encode(t)
  if next(t) == nil then return '{}' end
  return cjson.encode(t)
end
return { encode(due), encode(inFlight) }
`;
