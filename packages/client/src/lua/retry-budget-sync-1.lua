--[[
  Syncs one instance with a fleet-wide retry budget (a token bucket): adds the tokens it gives
  back (what its calls earned, and an idle share returned), refills by time, then grants it up
  to the tokens it wants as its local share (whole tokens only).

  KEYS[1]  the bucket, a hash {tokens, at}: <prefix>{budget:<origin>}
  ARGV[1]  maxTokens
  ARGV[2]  refill, tokens per ms
  ARGV[3]  now, epoch ms (the caller's clock, so tests can inject it; time never runs back)
  ARGV[4]  tokens given back
  ARGV[5]  tokens wanted
  ARGV[6]  expiry of the bucket, ms (an untouched bucket is full again)

  Returns {granted, tokens left as a string} (a Lua number reply would be truncated).
]]
local max = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or max
local at = tonumber(state[2]) or now
if now > at then
  tokens = math.min(max, tokens + (now - at) * perMs)
  at = now
end
tokens = math.min(max, tokens + tonumber(ARGV[4]))
local granted = math.max(0, math.min(tonumber(ARGV[5]), math.floor(tokens)))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {granted, tostring(tokens)}
