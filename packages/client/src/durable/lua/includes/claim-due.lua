--[[
  The claim body of claim-operations-2 and claim-across-partitions-0: leases up to `limit`
  operations of one partition whose schedule score has come. A pending operation moves to
  running (the counts follow); a running one's lease has expired (its worker died or stalled)
  and it is taken over, the takeover recorded in its history. Either way the lease goes to
  lease.owner until lease.untilText, which becomes the schedule score. An id whose operation is
  gone or settled is dropped from the schedule.

  Defines (a local of the including script):
    claimDue(schedule, counts, opPrefix, histPrefix, limit, lease, out)
      schedule, counts      the partition's schedule zset and counts hash keys
      opPrefix, histPrefix  the partition's operation hash and history list key prefixes
      limit                 at most this many operations
      lease                 { owner = token, now = ms, nowText = now as a string,
                              untilText = lease expiry (ms) as a string, worker = claiming worker }
      out                   gets one {takeover 0|1, field, value, ...} (HGETALL) per lease
    returns how many operations it leased
]]
--- @include "clock"
local function claimDue(schedule, counts, opPrefix, histPrefix, limit, lease, out)
  local claimed = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', schedule, '-inf', lease.nowText, 'LIMIT', '0', int(limit))) do
    local op = opPrefix .. id
    local current = redis.call('HMGET', op, 'state', 'type', 'owner')
    local state = current[1]
    if state == 'pending' or state == 'running' then
      local takeover = 0
      local opType = current[2]
      if state == 'running' then
        takeover = 1
        local previous = current[3] or '?'
        redis.call('RPUSH', histPrefix .. id,
          '{"at":' .. lease.nowText .. ',"kind":"lease-expired","worker":' .. cjson.encode(lease.worker) ..
          ',"note":' .. cjson.encode('lease of ' .. previous .. ' expired') .. '}')
      else
        redis.call('HINCRBY', counts, 'pending:' .. opType, '-1')
        redis.call('HINCRBY', counts, 'running:' .. opType, '1')
      end
      redis.call('HSET', op, 'state', 'running', 'owner', lease.owner, 'leaseUntil', lease.untilText,
        'updatedAt', lease.nowText)
      redis.call('ZADD', schedule, lease.untilText, id)
      local fields = redis.call('HGETALL', op)
      table.insert(fields, 1, takeover)
      table.insert(out, fields)
      claimed = claimed + 1
    else
      redis.call('ZREM', schedule, id)
    end
  end
  return claimed
end
