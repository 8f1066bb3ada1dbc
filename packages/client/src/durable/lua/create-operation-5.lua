--[[
  Creates a durable operation (write-ahead, before any attempt), or finds the existing one
  when the start key was used before. All keys share the partition hash tag. Times are
  Redis's clock (TIME) when the script runs plus the given offsets, so a write that reaches
  Redis late is leased and due from then, not from when it was sent.

  Input:
    KEYS[1] key index       (prefix{tag}:key:<type>:<key>; a dummy when no key)
    KEYS[2] operation hash  (prefix{tag}:op:<id>)
    KEYS[3] history list    (prefix{tag}:hist:<id>)
    KEYS[4] schedule zset   (prefix{tag}:schedule)
    KEYS[5] counts hash     (prefix{tag}:counts)

    ARGV[1] id
    ARGV[2] type
    ARGV[3] start key, or '' for none
    ARGV[4] input (JSON)
    ARGV[5] deadline, ms from now
    ARGV[6] due in, ms from now
    ARGV[7] lease owner, or '' (created pending)
    ARGV[8] lease length (ms), or ''
    ARGV[9] operation hash key prefix (prefix{tag}:op:)
    ARGV[10] trace context of the starting request (JSON carrier), optional: '' or absent

  Output:
    {1, now}                  created, at Redis's now (ms)
    {0, field, value, ...}    the existing operation (HGETALL)
]]
--- @include "includes/argument-checks"
--- @include "includes/clock"
-- Every argument checked before the first write: a bad one is refused whole.
arity(5, 9, true)
stringArg(1, 'id')
stringArg(2, 'type')
if ARGV[4] == '' then refuse('ARGV[4] (input) must be the JSON input', ARGV[4]) end
numberArg(5, 'deadline, ms from now')
numberArg(6, 'due in, ms from now')
if ARGV[7] ~= '' then positiveArg(8, 'lease length (ms)') end
stringArg(9, 'operation hash key prefix')
local hasKey = ARGV[3] ~= ''
if hasKey then
  local existing = redis.call('GET', KEYS[1])
  if existing then
    local fields = redis.call('HGETALL', ARGV[9] .. existing)
    if #fields > 0 then
      table.insert(fields, 1, 0)
      return fields
    end
  end
end
local now, nowText = clock()
local dueAt = int(now + tonumber(ARGV[6]))
local state = 'pending'
local score = dueAt
if ARGV[7] ~= '' then
  state = 'running'
  score = int(now + tonumber(ARGV[8]))
end
-- Every field written in one HSET.
local fields = {
  'id', ARGV[1], 'type', ARGV[2], 'input', ARGV[4], 'state', state, 'phase', 'attempt',
  'attempts', '0', 'createdAt', nowText, 'updatedAt', nowText, 'deadline', int(now + tonumber(ARGV[5])),
  'dueAt', dueAt,
}
if ARGV[7] ~= '' then
  fields[#fields + 1] = 'owner'
  fields[#fields + 1] = ARGV[7]
  fields[#fields + 1] = 'leaseUntil'
  fields[#fields + 1] = score
end
if ARGV[10] ~= nil and ARGV[10] ~= '' then
  fields[#fields + 1] = 'trace'
  fields[#fields + 1] = ARGV[10]
end
if hasKey then
  fields[#fields + 1] = 'key'
  fields[#fields + 1] = ARGV[3]
  fields[#fields + 1] = 'keyRef'
  fields[#fields + 1] = KEYS[1]
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('ZADD', KEYS[4], score, ARGV[1])
redis.call('HINCRBY', KEYS[5], state .. ':' .. ARGV[2], '1')
return {1, nowText}
