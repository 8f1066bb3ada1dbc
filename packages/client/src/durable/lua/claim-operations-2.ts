/** Leases due operations of one schedule partition to a worker. */
export const CLAIM_OPERATIONS_2 = `--[[
  Leases up to ARGV[2] operations of one partition whose schedule score has come: pending
  operations that are due, and running ones whose lease expired (their worker died or stalled:
  a takeover, recorded in the history). The schedule score becomes the lease expiry.

  Input:
    KEYS[1] schedule zset   (prefix{tag}:schedule)
    KEYS[2] counts hash     (prefix{tag}:counts)

    ARGV[1] now (ms)
    ARGV[2] limit
    ARGV[3] lease owner token
    ARGV[4] lease until (ms)
    ARGV[5] operation hash key prefix (prefix{tag}:op:)
    ARGV[6] history list key prefix (prefix{tag}:hist:)
    ARGV[7] history entry for a takeover (JSON, without the previous owner)

  Output:
    { {takeover 0|1, field, value, ...}, ... }   one HGETALL per leased operation
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  local op = ARGV[5] .. id
  local state = redis.call('HGET', op, 'state')
  if state == 'pending' or state == 'running' then
    local takeover = 0
    local opType = redis.call('HGET', op, 'type')
    if state == 'running' then
      takeover = 1
      local previous = redis.call('HGET', op, 'owner') or '?'
      redis.call('RPUSH', ARGV[6] .. id,
        string.sub(ARGV[7], 1, -2) .. ',"note":' .. cjson.encode('lease of ' .. previous .. ' expired') .. '}')
    else
      redis.call('HINCRBY', KEYS[2], 'pending:' .. opType, -1)
      redis.call('HINCRBY', KEYS[2], 'running:' .. opType, 1)
    end
    redis.call('HSET', op, 'state', 'running', 'owner', ARGV[3], 'leaseUntil', ARGV[4],
      'updatedAt', ARGV[1])
    redis.call('ZADD', KEYS[1], ARGV[4], id)
    local fields = redis.call('HGETALL', op)
    table.insert(fields, 1, takeover)
    table.insert(out, fields)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`;
