--[[
  Settles a leased operation, only for its current lease owner (a worker whose lease was taken
  over can never record an outcome):
    retry / release  back to pending, due ARGV[4] ms from now
    hook             keep the lease (for ARGV[6] ms from now) and go on in phase ARGV[5] (a
                     hook, a saga's next step, or its compensations)
    finish           terminal state ARGV[7]; failed/dead/compensated join the dead-letter
                     index; completed expire after the retention
  A saga's journal (ARGV[12]) is written in the same script; a saga whose compensation is stuck
  (ARGV[13] = 1) joins the dead-letter index while it is still retried.
  "now" is Redis's clock (TIME) when the script runs: delays are relative to it.

  Input:
    KEYS[1] operation hash  (prefix{tag}:op:<id>)
    KEYS[2] history list    (prefix{tag}:hist:<id>)
    KEYS[3] schedule zset   (prefix{tag}:schedule)
    KEYS[4] counts hash     (prefix{tag}:counts)
    KEYS[5] dead-letter zset (prefix{tag}:dlq)

    ARGV[1] id
    ARGV[2] lease owner token
    ARGV[3] action: retry | release | hook | finish
    ARGV[4] due in (ms from now, may be negative) or ''
    ARGV[5] hook phase or ''
    ARGV[6] lease length (ms) or ''
    ARGV[7] terminal state or ''
    ARGV[8] attempts or ''
    ARGV[9] last error (JSON) or ''
    ARGV[10] response (JSON) or ''
    ARGV[11] retention of completed operations (ms)
    ARGV[12] saga journal (JSON) or ''
    ARGV[13] 1 when a compensation is stuck, else ''
    ARGV[14..] history entries (JSON), appended in order

  Output:
    1 settled, 0 not the owner
]]
--- @include "includes/argument-checks"
--- @include "includes/clock"
-- Every argument checked before the first write: a bad one is refused whole.
arity(5, 13, true)
stringArg(1, 'id')
stringArg(2, 'lease owner token')
local action = oneOfArg(3, 'action', { 'retry', 'release', 'hook', 'finish' })
if action == 'retry' or action == 'release' then
  numberArg(4, 'due in, ms from now')
elseif action == 'hook' then
  oneOfArg(5, 'phase', { 'success-hook', 'failed-hook', 'dead-hook', 'attempt', 'compensate' })
  numberArg(6, 'lease length (ms)')
else
  oneOfArg(7, 'terminal state', { 'completed', 'failed', 'dead', 'compensated' })
end
if ARGV[8] ~= '' then countArg(8, 'attempts') end
jsonArg(9, 'last error', true)
jsonArg(10, 'response', true)
countArg(11, 'retention (ms)')
if tonumber(ARGV[11]) < 1 then refuse('ARGV[11] (retention (ms)) must be >= 1', ARGV[11]) end
jsonArg(12, 'saga journal', true)
if ARGV[13] ~= '' then oneOfArg(13, 'stuck flag', { '1' }) end
for i = 14, #ARGV do jsonArg(i, 'history entry') end
-- One read of what the owner check and the writes need.
local current = redis.call('HMGET', KEYS[1], 'owner', 'state', 'type', 'keyRef')
if current[1] ~= ARGV[2] or current[2] ~= 'running' then
  return 0
end
local now, nowText = clock()
local opType = current[3]
if #ARGV >= 14 then
  redis.call('RPUSH', KEYS[2], unpack(ARGV, 14, #ARGV))
end
-- Every field written in one HSET.
local fields = { 'updatedAt', nowText }
local function set(field, value)
  fields[#fields + 1] = field
  fields[#fields + 1] = value
end
if ARGV[8] ~= '' then set('attempts', ARGV[8]) end
if ARGV[9] ~= '' then set('lastError', ARGV[9]) end
if ARGV[10] ~= '' then set('response', ARGV[10]) end
if ARGV[12] ~= '' then set('saga', ARGV[12]) end
if ARGV[13] == '1' then redis.call('ZADD', KEYS[5], nowText, ARGV[1]) end
if action == 'retry' or action == 'release' then
  local dueAt = int(now + tonumber(ARGV[4]))
  set('state', 'pending')
  set('dueAt', dueAt)
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('HDEL', KEYS[1], 'owner', 'leaseUntil')
  redis.call('ZADD', KEYS[3], dueAt, ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'running:' .. opType, '-1')
  redis.call('HINCRBY', KEYS[4], 'pending:' .. opType, '1')
elseif action == 'hook' then
  local leaseUntil = int(now + tonumber(ARGV[6]))
  set('phase', ARGV[5])
  set('leaseUntil', leaseUntil)
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('ZADD', KEYS[3], leaseUntil, ARGV[1])
else
  local state = ARGV[7]
  set('state', state)
  set('phase', 'attempt')
  set('finishedAt', nowText)
  redis.call('HSET', KEYS[1], unpack(fields))
  redis.call('HDEL', KEYS[1], 'owner', 'leaseUntil')
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'running:' .. opType, '-1')
  redis.call('HINCRBY', KEYS[4], state .. ':' .. opType, '1')
  if state == 'completed' then
    local keyRef = current[4]
    redis.call('PEXPIRE', KEYS[1], ARGV[11])
    redis.call('PEXPIRE', KEYS[2], ARGV[11])
    if keyRef then redis.call('PEXPIRE', keyRef, ARGV[11]) end
  else
    redis.call('ZADD', KEYS[5], nowText, ARGV[1])
  end
end
return 1
