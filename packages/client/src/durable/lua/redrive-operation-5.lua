--[[
  Redrives a failed or dead operation: pending again with a new due time and deadline, out of
  the dead-letter index, the redrive recorded in its history. Times are Redis's clock (TIME)
  when the script runs plus the given offsets.

  Input:
    KEYS[1] operation hash  (prefix{tag}:op:<id>)
    KEYS[2] history list    (prefix{tag}:hist:<id>)
    KEYS[3] schedule zset   (prefix{tag}:schedule)
    KEYS[4] counts hash     (prefix{tag}:counts)
    KEYS[5] dead-letter zset (prefix{tag}:dlq)

    ARGV[1] id
    ARGV[2] due in, ms from now (may be negative)
    ARGV[3] new deadline, ms from now
    ARGV[4] history entry (JSON)
    ARGV[5] optional: the new serialised input (an edited redrive), already validated

  Output:
    1 redriven, 0 not failed/dead
]]
--- @include "includes/argument-checks"
-- Every argument checked before the first write: a bad one is refused whole.
arity(5, 4, true)
stringArg(1, 'id')
numberArg(2, 'due in, ms from now')
numberArg(3, 'new deadline, ms from now')
jsonArg(4, 'history entry')
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'failed' and state ~= 'dead' then
  return 0
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local dueAt = now + tonumber(ARGV[2])
local opType = redis.call('HGET', KEYS[1], 'type')
redis.call('HSET', KEYS[1], 'state', 'pending', 'phase', 'attempt', 'dueAt', dueAt,
  'deadline', now + tonumber(ARGV[3]), 'updatedAt', now)
redis.call('HDEL', KEYS[1], 'finishedAt')
if ARGV[5] ~= nil then redis.call('HSET', KEYS[1], 'input', ARGV[5]) end
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[3], dueAt, ARGV[1])
redis.call('HINCRBY', KEYS[4], state .. ':' .. opType, -1)
redis.call('HINCRBY', KEYS[4], 'pending:' .. opType, 1)
redis.call('RPUSH', KEYS[2], ARGV[4])
return 1
