--[[
  Shares a circuit's state change with the fleet: stores "open until" with an expiry (or
  removes it when the circuit closed), releases this instance's probe lease, and publishes it.

  KEYS[1]  the stored state: <prefix>{circuit:<key>}:open
  KEYS[2]  the probe lease: <prefix>{circuit:<key>}:probe
  ARGV[1]  this instance's id
  ARGV[2]  open until, epoch ms (0: the circuit closed)
  ARGV[3]  ms until then (ignored when closed)
  ARGV[4]  the channel
  ARGV[5]  the message

  Returns the number of subscribers that received the message.
]]
if ARGV[2] == '0' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', math.max(1, tonumber(ARGV[3])))
end
if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
end
return redis.call('PUBLISH', ARGV[4], ARGV[5])
