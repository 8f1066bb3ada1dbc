--[[
  One partition's share of a dead-letter search: walks its dead-letter index newest first
  (score = finishedAt desc, then id desc, the view's order) from a position on, and answers up
  to ARGV[6] records that pass every filter, reading at most ARGV[13] index entries (so one
  page's cost is bounded whatever the filter: a sparse filter gets short pages with a cursor). The filters are checked in Redis, cheapest first
  (state and type, then the last error, then the input), so a search reads no record it does not
  answer. The caller merges the partitions' answers and checks each record again.

  Input:
    KEYS[1] dead-letter zset (prefix{tag}:dlq)

    ARGV[1] operation hash key prefix (prefix{tag}:op:)
    ARGV[2] newest score to read ('+inf' or epoch ms, inclusive)
    ARGV[3] oldest score to read ('-inf' or epoch ms, inclusive)
    ARGV[4] cursor: score of the last entry of the previous page, or ''
    ARGV[5] cursor: id of that entry ('' with no cursor)
    ARGV[6] limit
    ARGV[7] states, each followed by a space ('failed dead '), or '' for all four
    ARGV[8] type, or ''
    ARGV[9] last error code, or ''
    ARGV[10] last error status, or ''
    ARGV[11] text, or ''
    ARGV[12] where the text is looked for: 'input', 'error' or 'input error'
    ARGV[13] most index entries to read

  Output:
    { exhausted 0|1, frontier score, frontier id, {field, value, ...}, ... }: whether the index
    was read to its end (within the range), the last entry read ('' when none), then one HGETALL
    per match, newest first
]]
--- @include "includes/argument-checks"
arity(1, 13)
stringArg(1, 'operation hash key prefix')
stringArg(2, 'newest score')
stringArg(3, 'oldest score')
countArg(6, 'limit')
stringArg(12, 'text fields')
countArg(13, 'scan budget')
local opPrefix = ARGV[1]
local afterAt = ARGV[4] ~= '' and tonumber(ARGV[4]) or nil
local afterId = ARGV[5]
local limit = tonumber(ARGV[6])
local states = ARGV[7]
local wantType = ARGV[8]
local wantCode = ARGV[9]
local wantStatus = ARGV[10] ~= '' and tonumber(ARGV[10]) or nil
local text = ARGV[11]
local inInput = string.find(ARGV[12], 'input', 1, true) ~= nil
local inError = string.find(ARGV[12], 'error', 1, true) ~= nil
local budget = tonumber(ARGV[13])
local needError = wantCode ~= '' or wantStatus ~= nil or (text ~= '' and inError)

-- The view's state of a record in the index ('compensating': a saga whose compensation is stuck).
local function viewState(state, phase, saga)
  if state == 'failed' or state == 'dead' or state == 'compensated' then return state end
  if (state == 'pending' or state == 'running') and phase == 'compensate' and saga and
    string.find(saga, '"stuck":true', 1, true) then
    return 'compensating'
  end
  return nil
end

local out = {}
local offset = 0
local read = 0
local exhausted = 0
local lastAt, lastId = '', ''
while #out < limit and read < budget do
  local batch = math.min(500, budget - read)
  local entries = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[2], ARGV[3], 'WITHSCORES', 'LIMIT', offset, batch)
  offset = offset + #entries / 2
  if #entries / 2 < batch then exhausted = 1 end
  for i = 1, #entries, 2 do
    local id = entries[i]
    local at = tonumber(entries[i + 1])
    read = read + 1
    lastAt, lastId = entries[i + 1], id
    if afterAt == nil or at < afterAt or (at == afterAt and id < afterId) then
      local op = opPrefix .. id
      local f = redis.call('HMGET', op, 'state', 'type')
      local state = f[1]
      if state == 'pending' or state == 'running' then
        local more = redis.call('HMGET', op, 'phase', 'saga')
        state = viewState(state, more[1], more[2])
      elseif state then
        state = viewState(state)
      end
      local ok = state ~= nil
        and (states == '' or string.find(states, state .. ' ', 1, true) ~= nil)
        and (wantType == '' or f[2] == wantType)
      local message = nil
      if ok and needError then
        local raw = redis.call('HGET', op, 'lastError')
        local e = raw and cjson.decode(raw) or {}
        if wantCode ~= '' and e.code ~= wantCode then ok = false end
        if ok and wantStatus ~= nil and tonumber(e.status) ~= wantStatus then ok = false end
        if type(e.message) == 'string' then message = e.message end
      end
      if ok and text ~= '' then
        local found = inError and message ~= nil and string.find(message, text, 1, true) ~= nil
        if not found and inInput then
          local input = redis.call('HGET', op, 'input')
          found = input ~= false and string.find(input, text, 1, true) ~= nil
        end
        ok = found
      end
      if ok then
        out[#out + 1] = redis.call('HGETALL', op)
        if #out >= limit then break end
      end
    end
  end
  if exhausted == 1 then break end
end
-- Stopped on the limit within the last batch: what follows in it was not read.
if #out >= limit then exhausted = 0 end
local reply = { exhausted, lastAt, lastId }
for i = 1, #out do reply[#reply + 1] = out[i] end
return reply
