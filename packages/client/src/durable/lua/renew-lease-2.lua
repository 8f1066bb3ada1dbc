--[[
  Extends the lease of a running operation, only for its current owner, to ARGV[3] ms from
  Redis's clock (TIME) when the script runs.

  Input:
    KEYS[1] operation hash  (prefix{tag}:op:<id>)
    KEYS[2] schedule zset   (prefix{tag}:schedule)

    ARGV[1] id
    ARGV[2] lease owner token
    ARGV[3] lease length (ms)

  Output:
    1 renewed, 0 not the owner (or not running any more)
]]
--- @include "includes/argument-checks"
-- Every argument checked before the first write: a bad one is refused whole.
arity(2, 3)
stringArg(1, 'id')
stringArg(2, 'lease owner token')
positiveArg(3, 'lease length (ms)')
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] or redis.call('HGET', KEYS[1], 'state') ~= 'running' then
  return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local leaseUntil = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'leaseUntil', leaseUntil)
redis.call('ZADD', KEYS[2], leaseUntil, ARGV[1])
return 1
