--[[
  Argument checks every durable script includes first: each checks one argument and raises an
  error reply naming it. A script calls them for all of its arguments before its first write,
  so a bad argument (a NaN delay, 'tomorrow', a missing key) is refused whole: no script is
  ever half-applied (Redis does not roll back the writes a failing script already made).

  Defines (locals of the including script):
    refuse(what, value)                 raise 'ERR unfazed durable: <what>, got <value>'
    numberArg(i, what)                  ARGV[i] as a finite number
    positiveArg(i, what)                ARGV[i] as a finite number > 0
    countArg(i, what)                   ARGV[i] as an integer >= 0
    stringArg(i, what)                  ARGV[i], non-empty
    oneOfArg(i, what, allowed)          ARGV[i], one of the allowed strings
    jsonArg(i, what, optional)          ARGV[i] is a JSON object ('' allowed when optional)
    arity(keys, args, more)             #KEYS == keys (each non-empty), #ARGV == args
                                        (or >= args when more)
]]
local function refuse(what, value)
  error({ err = 'ERR unfazed durable: ' .. what .. ', got ' ..
    (value == nil and 'nothing' or string.format('%q', tostring(value))) })
end
-- A finite number (tonumber also reads 'nan' and 'inf', which are not).
local function numberArg(i, what)
  local n = tonumber(ARGV[i])
  if n == nil or n ~= n or n == math.huge or n == -math.huge then
    refuse('ARGV[' .. i .. '] (' .. what .. ') must be a finite number', ARGV[i])
  end
  return n
end
local function positiveArg(i, what)
  local n = numberArg(i, what)
  if n <= 0 then refuse('ARGV[' .. i .. '] (' .. what .. ') must be > 0', ARGV[i]) end
  return n
end
local function countArg(i, what)
  local n = numberArg(i, what)
  if n < 0 or n ~= math.floor(n) then
    refuse('ARGV[' .. i .. '] (' .. what .. ') must be an integer >= 0', ARGV[i])
  end
  return n
end
local function stringArg(i, what)
  if ARGV[i] == nil or ARGV[i] == '' then
    refuse('ARGV[' .. i .. '] (' .. what .. ') must be a non-empty string', ARGV[i])
  end
  return ARGV[i]
end
local function oneOfArg(i, what, allowed)
  for _, v in ipairs(allowed) do
    if ARGV[i] == v then return v end
  end
  refuse('ARGV[' .. i .. '] (' .. what .. ') must be one of ' .. table.concat(allowed, ', '), ARGV[i])
end
-- JSON text (an object), as the store reads it back; '' allowed when optional.
local function jsonArg(i, what, optional)
  local v = ARGV[i]
  if optional and v == '' then return end
  local ok, decoded = pcall(cjson.decode, v or '')
  if not ok or type(decoded) ~= 'table' then
    refuse('ARGV[' .. i .. '] (' .. what .. ') must be a JSON object', v)
  end
end
-- The number of keys (each non-empty) and of arguments (at least `args` when `more`).
local function arity(keys, args, more)
  if #KEYS ~= keys then refuse('expected ' .. keys .. ' keys', #KEYS) end
  for i = 1, keys do
    if KEYS[i] == '' then refuse('KEYS[' .. i .. '] must be a non-empty key name', KEYS[i]) end
  end
  if #ARGV ~= args and not (more and #ARGV > args) then
    refuse('expected ' .. (more and 'at least ' or '') .. args .. ' arguments', #ARGV)
  end
end
