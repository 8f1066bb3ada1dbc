--[[
  Redis's clock and integer strings for the durable scripts. A Lua number given to redis.call
  is formatted with '%.17g' (and tostring uses '%.14g'): the C library's floating-point
  formatting, several thousand instructions each. string.format('%d') takes the integer path,
  a fraction of that; the scripts turn each time into a string once and pass strings.

  Defines (locals of the including script):
    int(n)     n (an integer-valued number) as a decimal string
    clock()    Redis's now (TIME), ms: the number and its string
]]
local function int(n)
  return string.format('%d', n)
end
local function clock()
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  return now, int(now)
end
