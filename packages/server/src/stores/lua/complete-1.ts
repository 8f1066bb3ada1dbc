/** Lua source of the complete script; see the header comment. */
export const COMPLETE_SCRIPT = `--[[
  Stores the response of a claimed record, only if the owner token still holds the claim.

  Input:
    KEYS[1] record key
    ARGV[1] owner token
    ARGV[2] status
    ARGV[3] headers JSON
    ARGV[4] body bytes
    ARGV[5] body retained 1|0
    ARGV[6] retention, ms

  Output:
    1 stored; 0 the owner no longer holds the claim (nothing changed)
]]
local key = KEYS[1]
local rec = redis.call('HMGET', key, 's', 'o')
if rec[1] ~= 'p' or rec[2] ~= ARGV[1] then return 0 end
redis.call('HSET', key, 's', 'c', 'c', ARGV[2], 'h', ARGV[3], 'b', ARGV[4], 'r', ARGV[5])
redis.call('HDEL', key, 'o', 'e')
redis.call('PEXPIRE', key, ARGV[6])
return 1
`;
