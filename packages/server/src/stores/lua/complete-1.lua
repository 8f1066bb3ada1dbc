--[[
  Stores the response of a claimed record, only if no other owner holds the key: the owner
  token still holds the claim, or there is no record at all (it was lost, e.g. in a Redis
  restart without persistence, or its lease ran out long ago): then nobody else holds the key
  and the outcome of the handler that ran is kept. A record this owner already completed
  answers 1 again, so a try whose answer was lost can be repeated.

  Input:
    KEYS[1] record key
    ARGV[1] owner token
    ARGV[2] status
    ARGV[3] headers JSON
    ARGV[4] body bytes
    ARGV[5] body retained 1|0
    ARGV[6] retention, ms
    ARGV[7] fingerprint

  Output:
    1 stored (now or by an earlier try); 0 another owner holds the key (nothing changed)
]]
local key = KEYS[1]
local rec = redis.call('HMGET', key, 's', 'o')
if rec[1] then
  if rec[2] ~= ARGV[1] then return 0 end
  if rec[1] == 'c' then return 1 end
end
redis.call('HSET', key, 's', 'c', 'f', ARGV[7], 'o', ARGV[1], 'c', ARGV[2], 'h', ARGV[3],
  'b', ARGV[4], 'r', ARGV[5])
redis.call('HDEL', key, 'e')
redis.call('PEXPIRE', key, ARGV[6])
return 1
