--[[
  Claims an idempotency record, or reports the live record's state, in one round trip.
  Fingerprint mismatch is checked before the in-flight check. An in-flight record whose lease
  has expired (its owner crashed or stalled) is taken over.

  Input:
    KEYS[1] record key (a hash: s state p|c, f fingerprint, o owner, e lease end ms,
            c status, h headers JSON, b body, r body retained 1|0)
    ARGV[1] fingerprint
    ARGV[2] owner token
    ARGV[3] lease, ms

  Output:
    (the outcome is a small integer, so the client decodes no string for it)
    {1, 0|1}                                       claimed; 1 when an expired lease was taken over
    {2}                                            mismatch
    {3, ms left on the lease}                      in flight
    {4, status, headers JSON, body, retained}      completed
]]
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
-- One read serves every branch: a replay needs no second HMGET.
local rec = redis.call('HMGET', key, 's', 'f', 'e', 'c', 'h', 'b', 'r')
local recovered = 0
if rec[1] then
  if rec[1] == 'c' then
    if rec[2] ~= ARGV[1] then return {2} end
    return {4, rec[4], rec[5], rec[6] or '', rec[7]}
  end
  local left = tonumber(rec[3] or '0') - now
  if left > 0 then
    if rec[2] ~= ARGV[1] then return {2} end
    return {3, left}
  end
  recovered = 1
  redis.call('DEL', key)
end
redis.call('HSET', key, 's', 'p', 'f', ARGV[1], 'o', ARGV[2], 'e', now + lease)
redis.call('PEXPIRE', key, lease * 2)
return {1, recovered}
