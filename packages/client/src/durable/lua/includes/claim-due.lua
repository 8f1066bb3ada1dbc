--[[
  The claim body of claim-operations-2 and claim-across-partitions-0: leases up to `limit`
  operations of one partition whose schedule score has come. A pending operation moves to
  running (the counts follow); a running one's lease has expired (its worker died or stalled)
  and it is taken over, the takeover recorded in its history. Either way the lease goes to
  lease.owner until lease.untilText, which becomes the schedule score. An id whose operation is
  gone or settled is dropped from the schedule.

  A pending operation of a paused type (pausedSet) is not leased: it moves from the schedule to
  its type's parked set (<partition base>parked:<type>, scored by the claim's now) until the type
  is resumed (pause-type-1). A running one whose lease expired is still taken over.

  Defines (locals of the including script):
    pausedSet(key)  the members of the paused-types set `key` as a set table, or nil when empty
    claimDue(schedule, counts, opPrefix, histPrefix, limit, lease, out, paused)
      schedule, counts      the partition's schedule zset and counts hash keys
      opPrefix, histPrefix  the partition's operation hash and history list key prefixes
      limit                 at most this many operations
      lease                 { owner = token, now = ms, nowText = now as a string,
                              untilText = lease expiry (ms) as a string, worker = claiming worker }
      out                   gets one {takeover 0|1, field, value, ...} (HGETALL) per lease
      paused                pausedSet(...) of the partition, or nil
    returns how many operations it leased
]]
--- @include "clock"
local function pausedSet(key)
  local members = redis.call('SMEMBERS', key)
  if #members == 0 then return nil end
  local set = {}
  for _, t in ipairs(members) do set[t] = true end
  return set
end
local function claimDue(schedule, counts, opPrefix, histPrefix, limit, lease, out, paused)
  local claimed = 0
  -- Parked operations leave the schedule: look again until the limit is met or none was parked.
  local again = true
  while again and claimed < limit do
    again = false
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', schedule, '-inf', lease.nowText, 'LIMIT', '0', int(limit - claimed))) do
      local op = opPrefix .. id
      local current = redis.call('HMGET', op, 'state', 'type', 'owner')
      local state = current[1]
      local opType = current[2]
      if state == 'pending' and paused ~= nil and paused[opType] then
        redis.call('ZREM', schedule, id)
        redis.call('ZADD', string.sub(opPrefix, 1, -4) .. 'parked:' .. opType, lease.nowText, id)
        again = true
      elseif state == 'pending' or state == 'running' then
        local takeover = 0
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
  end
  return claimed
end
