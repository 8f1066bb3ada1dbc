--[[
  Deletes a failed, dead or compensated operation with its history and start key.

  Input:
    KEYS[1] operation hash  (prefix{tag}:op:<id>)
    KEYS[2] history list    (prefix{tag}:hist:<id>)
    KEYS[3] schedule zset   (prefix{tag}:schedule)
    KEYS[4] counts hash     (prefix{tag}:counts)
    KEYS[5] dead-letter zset (prefix{tag}:dlq)

    ARGV[1] id

  Output:
    1 discarded, 0 not failed/dead/compensated
]]
--- @include "includes/argument-checks"
-- Every argument checked before the first write: a bad one is refused whole.
arity(5, 1)
stringArg(1, 'id')
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'failed' and state ~= 'dead' and state ~= 'compensated' then
  return 0
end
local opType = redis.call('HGET', KEYS[1], 'type')
local keyRef = redis.call('HGET', KEYS[1], 'keyRef')
if keyRef then redis.call('DEL', keyRef) end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HINCRBY', KEYS[4], state .. ':' .. opType, -1)
return 1
