--[[
  Takes the fleet-wide probe lease of a circuit, unless another instance holds it.

  KEYS[1]  the lease: <prefix>{circuit:<key>}:probe
  ARGV[1]  this instance's id
  ARGV[2]  lease, ms

  Returns -1 when this instance now holds the lease, else the holder's lease left, in ms.
]]
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return -1
end
return math.max(1, redis.call('PTTL', KEYS[1]))
