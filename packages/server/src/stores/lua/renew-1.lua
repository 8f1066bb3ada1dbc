--[[
  Extends the lease of a claimed record, only if the owner still holds it.

  Input:
    KEYS[1] record key
    ARGV[1] owner token
    ARGV[2] lease, ms from now

  Output:
    1 renewed; 0 the owner no longer holds the claim (nothing changed)
]]
local key = KEYS[1]
local rec = redis.call('HMGET', key, 's', 'o')
if rec[1] ~= 'p' or rec[2] ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
redis.call('HSET', key, 'e', now + lease)
redis.call('PEXPIRE', key, lease * 2)
return 1
