--[[
  Deletes a claimed record so that the key can run again, only if the owner still holds it.

  Input:
    KEYS[1] record key
    ARGV[1] owner token

  Output:
    1 released; 0 the owner no longer holds the claim (nothing changed)
]]
local rec = redis.call('HMGET', KEYS[1], 's', 'o')
if rec[1] ~= 'p' or rec[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
