import { ARGUMENT_CHECKS } from './argument-checks.js';

/** Leases due operations of one schedule partition to a worker. */
export const CLAIM_OPERATIONS_2 = `--[[
  Leases up to ARGV[2] operations of one partition whose schedule score has come: pending
  operations that are due, and running ones whose lease expired (their worker died or stalled:
  a takeover, recorded in the history). The schedule score becomes the lease expiry.

  Times come from Redis's own clock (TIME) when the script runs, never from the caller: a claim
  that reaches Redis late (a stalled server, a command queued through a reconnect) still gets a
  full lease, and sees every lease that has really expired by then.

  Input:
    KEYS[1] schedule zset   (prefix{tag}:schedule)
    KEYS[2] counts hash     (prefix{tag}:counts)

    ARGV[1] limit
    ARGV[2] lease owner token (fresh for this claim)
    ARGV[3] lease length (ms)
    ARGV[4] operation hash key prefix (prefix{tag}:op:)
    ARGV[5] history list key prefix (prefix{tag}:hist:)
    ARGV[6] claiming worker (for the takeover history entry)

  Output:
    { {takeover 0|1, field, value, ...}, ... }   one HGETALL per leased operation; its
    updatedAt is Redis's now and leaseUntil is now + the lease length
]]
${ARGUMENT_CHECKS}
-- Every argument checked before the first write: a bad one is refused whole.
arity(2, 6)
countArg(1, 'limit')
stringArg(2, 'lease owner token')
positiveArg(3, 'lease length (ms)')
stringArg(4, 'operation hash key prefix')
stringArg(5, 'history list key prefix')
stringArg(6, 'claiming worker')
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local leaseUntil = now + tonumber(ARGV[3])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local out = {}
for _, id in ipairs(ids) do
  local op = ARGV[4] .. id
  local state = redis.call('HGET', op, 'state')
  if state == 'pending' or state == 'running' then
    local takeover = 0
    local opType = redis.call('HGET', op, 'type')
    if state == 'running' then
      takeover = 1
      local previous = redis.call('HGET', op, 'owner') or '?'
      redis.call('RPUSH', ARGV[5] .. id,
        '{"at":' .. now .. ',"kind":"lease-expired","worker":' .. cjson.encode(ARGV[6]) ..
        ',"note":' .. cjson.encode('lease of ' .. previous .. ' expired') .. '}')
    else
      redis.call('HINCRBY', KEYS[2], 'pending:' .. opType, -1)
      redis.call('HINCRBY', KEYS[2], 'running:' .. opType, 1)
    end
    redis.call('HSET', op, 'state', 'running', 'owner', ARGV[2], 'leaseUntil', leaseUntil,
      'updatedAt', now)
    redis.call('ZADD', KEYS[1], leaseUntil, id)
    local fields = redis.call('HGETALL', op)
    table.insert(fields, 1, takeover)
    table.insert(out, fields)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`;
