--[[
  The oldest due time of the due pending operations of one partition, per type: how long the
  longest-waiting operation has been waiting for a worker. Reads at most ARGV[2] schedule
  entries, oldest first (a gauge, not an exact figure past that).

  Input:
    KEYS[1] schedule zset   (prefix{tag}:schedule)

    ARGV[1] operation hash key prefix (prefix{tag}:op:)
    ARGV[2] scan limit

  Output:
    a JSON object { <type>: <due time, epoch ms by Redis's clock> }
]]
--- @include "includes/argument-checks"
--- @include "includes/clock"
-- Every argument checked before the first write: a bad one is refused whole.
arity(1, 2)
stringArg(1, 'operation hash key prefix')
countArg(2, 'scan limit')
local _, nowText = clock()
local oldest = {}
local found = false
local entries = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', nowText, 'WITHSCORES', 'LIMIT', 0, int(tonumber(ARGV[2])))
for i = 1, #entries, 2 do
  local fields = redis.call('HMGET', ARGV[1] .. entries[i], 'state', 'type')
  if fields[1] == 'pending' and oldest[fields[2]] == nil then
    oldest[fields[2]] = tonumber(entries[i + 1])
    found = true
  end
end
if not found then return '{}' end
return cjson.encode(oldest)
