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
--- @include "includes/clock"
-- Every argument checked before the first write: a bad one is refused whole.
arity(2, 3)
stringArg(1, 'id')
stringArg(2, 'lease owner token')
positiveArg(3, 'lease length (ms)')
local current = redis.call('HMGET', KEYS[1], 'owner', 'state')
if current[1] ~= ARGV[2] or current[2] ~= 'running' then
  return 0
end
local now = clock()
local leaseUntil = int(now + tonumber(ARGV[3]))
redis.call('HSET', KEYS[1], 'leaseUntil', leaseUntil)
redis.call('ZADD', KEYS[2], leaseUntil, ARGV[1])
return 1
