/** Records the outcome of an attempt or hook, with an owner check. */
export const SETTLE_OPERATION_5 = `--[[
  Settles a leased operation, only for its current lease owner (a worker whose lease was taken
  over can never record an outcome):
    retry / release  back to pending, due at ARGV[5]
    hook             keep the lease (until ARGV[8]) and move to hook phase ARGV[7]
    finish           terminal state ARGV[9]; failed/dead join the dead-letter index;
                     completed expire after the retention

  Input:
    KEYS[1] operation hash  (prefix{tag}:op:<id>)
    KEYS[2] history list    (prefix{tag}:hist:<id>)
    KEYS[3] schedule zset   (prefix{tag}:schedule)
    KEYS[4] counts hash     (prefix{tag}:counts)
    KEYS[5] dead-letter zset (prefix{tag}:dlq)

    ARGV[1] id
    ARGV[2] lease owner token
    ARGV[3] now (ms)
    ARGV[4] action: retry | release | hook | finish
    ARGV[5] due at (ms) or ''
    ARGV[6] attempts or ''
    ARGV[7] hook phase or ''
    ARGV[8] lease until (ms) or ''
    ARGV[9] terminal state or ''
    ARGV[10] last error (JSON) or ''
    ARGV[11] response (JSON) or ''
    ARGV[12] retention of completed operations (ms)
    ARGV[13..] history entries (JSON), appended in order

  Output:
    1 settled, 0 not the owner
]]
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] or redis.call('HGET', KEYS[1], 'state') ~= 'running' then
  return 0
end
local opType = redis.call('HGET', KEYS[1], 'type')
for i = 13, #ARGV do
  redis.call('RPUSH', KEYS[2], ARGV[i])
end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[3])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'attempts', ARGV[6]) end
if ARGV[10] ~= '' then redis.call('HSET', KEYS[1], 'lastError', ARGV[10]) end
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'response', ARGV[11]) end
local action = ARGV[4]
if action == 'retry' or action == 'release' then
  redis.call('HSET', KEYS[1], 'state', 'pending', 'dueAt', ARGV[5])
  redis.call('HDEL', KEYS[1], 'owner', 'leaseUntil')
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'running:' .. opType, -1)
  redis.call('HINCRBY', KEYS[4], 'pending:' .. opType, 1)
elseif action == 'hook' then
  redis.call('HSET', KEYS[1], 'phase', ARGV[7], 'leaseUntil', ARGV[8])
  redis.call('ZADD', KEYS[3], ARGV[8], ARGV[1])
else
  local state = ARGV[9]
  redis.call('HSET', KEYS[1], 'state', state, 'phase', 'attempt', 'finishedAt', ARGV[3])
  redis.call('HDEL', KEYS[1], 'owner', 'leaseUntil')
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HINCRBY', KEYS[4], 'running:' .. opType, -1)
  redis.call('HINCRBY', KEYS[4], state .. ':' .. opType, 1)
  if state == 'completed' then
    local keyRef = redis.call('HGET', KEYS[1], 'keyRef')
    redis.call('PEXPIRE', KEYS[1], ARGV[12])
    redis.call('PEXPIRE', KEYS[2], ARGV[12])
    if keyRef then redis.call('PEXPIRE', keyRef, ARGV[12]) end
  else
    redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
  end
end
return 1
`;
