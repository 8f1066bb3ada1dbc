/** Leases due operations from every partition at once (standalone Redis only). */
export const CLAIM_ACROSS_PARTITIONS_2N = `--[[
  Leases up to ARGV[2] due operations from several partitions in one round trip, visiting the
  partitions in the order given. Only for a standalone Redis: the keys of different partitions
  live in different cluster slots. Same rules as claim-operations-2 (due pending operations,
  expired leases taken over and recorded in the history).

  Input:
    KEYS[2i-1] schedule zset of partition i   (prefix{tag_i}:schedule)
    KEYS[2i]   counts hash of partition i     (prefix{tag_i}:counts)

    ARGV[1] now (ms)
    ARGV[2] limit (over all partitions)
    ARGV[3] lease owner token
    ARGV[4] lease until (ms)
    ARGV[5] history entry for a takeover (JSON, without the previous owner)
    ARGV[5+i] key base of partition i (prefix{tag_i}:)

  Output:
    { {takeover 0|1, field, value, ...}, ... }   one HGETALL per leased operation
]]
local out = {}
local left = tonumber(ARGV[2])
local partitions = #KEYS / 2
for i = 1, partitions do
  if left <= 0 then break end
  local schedule = KEYS[2 * i - 1]
  local counts = KEYS[2 * i]
  local base = ARGV[5 + i]
  local ids = redis.call('ZRANGEBYSCORE', schedule, '-inf', ARGV[1], 'LIMIT', 0, left)
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
          string.sub(ARGV[5], 1, -2) .. ',"note":' .. cjson.encode('lease of ' .. previous .. ' expired') .. '}')
      else
        redis.call('HINCRBY', counts, 'pending:' .. opType, -1)
        redis.call('HINCRBY', counts, 'running:' .. opType, 1)
      end
      redis.call('HSET', op, 'state', 'running', 'owner', ARGV[3], 'leaseUntil', ARGV[4],
        'updatedAt', ARGV[1])
      redis.call('ZADD', schedule, ARGV[4], id)
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
