import { ARGUMENT_CHECKS } from './argument-checks.js';

/** Leases due operations from every partition at once (standalone Redis only). */
export const CLAIM_ACROSS_PARTITIONS_2N = `--[[
  Leases up to ARGV[2] due operations from several partitions in one round trip, visiting the
  partitions in the order given. Only for a standalone Redis: the keys of different partitions
  live in different cluster slots. Same rules as claim-operations-2 (due pending operations,
  expired leases taken over and recorded in the history, times from Redis's clock).

  Input:
    KEYS[2i-1] schedule zset of partition i   (prefix{tag_i}:schedule)
    KEYS[2i]   counts hash of partition i     (prefix{tag_i}:counts)

    ARGV[1] limit (over all partitions)
    ARGV[2] lease owner token (fresh for this claim)
    ARGV[3] lease length (ms)
    ARGV[4] claiming worker (for the takeover history entry)
    ARGV[4+i] key base of partition i (prefix{tag_i}:)

  Output:
    { {takeover 0|1, field, value, ...}, ... }   one HGETALL per leased operation; its
    updatedAt is Redis's now and leaseUntil is now + the lease length
]]
${ARGUMENT_CHECKS}
-- Every argument checked before the first write: a bad one is refused whole.
if #KEYS < 2 or #KEYS % 2 ~= 0 then refuse('expected a schedule and a counts key per partition', #KEYS) end
arity(#KEYS, 4 + #KEYS / 2)
countArg(1, 'limit')
stringArg(2, 'lease owner token')
positiveArg(3, 'lease length (ms)')
stringArg(4, 'claiming worker')
for i = 1, #KEYS / 2 do stringArg(4 + i, 'key base of partition ' .. i) end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local leaseUntil = now + tonumber(ARGV[3])
local out = {}
local left = tonumber(ARGV[1])
local partitions = #KEYS / 2
for i = 1, partitions do
  if left <= 0 then break end
  local schedule = KEYS[2 * i - 1]
  local counts = KEYS[2 * i]
  local base = ARGV[4 + i]
  local ids = redis.call('ZRANGEBYSCORE', schedule, '-inf', now, 'LIMIT', 0, left)
  for _, id in ipairs(ids) do
    local op = base .. 'op:' .. id
    local state = redis.call('HGET', op, 'state')
    if state == 'pending' or state == 'running' then
      local takeover = 0
      local opType = redis.call('HGET', op, 'type')
      if state == 'running' then
        takeover = 1
        local previous = redis.call('HGET', op, 'owner') or '?'
        redis.call('RPUSH', base .. 'hist:' .. id,
          '{"at":' .. now .. ',"kind":"lease-expired","worker":' .. cjson.encode(ARGV[4]) ..
          ',"note":' .. cjson.encode('lease of ' .. previous .. ' expired') .. '}')
      else
        redis.call('HINCRBY', counts, 'pending:' .. opType, -1)
        redis.call('HINCRBY', counts, 'running:' .. opType, 1)
      end
      redis.call('HSET', op, 'state', 'running', 'owner', ARGV[2], 'leaseUntil', leaseUntil,
        'updatedAt', now)
      redis.call('ZADD', schedule, leaseUntil, id)
      local fields = redis.call('HGETALL', op)
      table.insert(fields, 1, takeover)
      table.insert(out, fields)
      left = left - 1
    else
      redis.call('ZREM', schedule, id)
    end
  end
end
return out
`;
