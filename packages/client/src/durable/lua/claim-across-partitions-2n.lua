--[[
  Leases up to ARGV[1] due operations from several partitions in one round trip, visiting the
  partitions in the order given. Only for a standalone Redis: the keys of different partitions
  live in different cluster slots. Same rules as claim-operations-2 (due pending operations,
  expired leases taken over and recorded in the history, times from Redis's clock).

  Input:
    KEYS[2i-1] schedule zset of partition i   (prefix{tag_i}:schedule)
    KEYS[2i]   counts hash of partition i     (prefix{tag_i}:counts)

    ARGV[1] limit (over all partitions)
    ARGV[2] lease owner token (fresh for this claim)
    ARGV[3] lease length (ms)
    ARGV[4] claiming worker (for the takeover history entry)
    ARGV[4+i] key base of partition i (prefix{tag_i}:)

  Output:
    { {takeover 0|1, field, value, ...}, ... }   one HGETALL per leased operation; its
    updatedAt is Redis's now and leaseUntil is now + the lease length
]]
--- @include "includes/argument-checks"
--- @include "includes/clock"
--- @include "includes/claim-due"
-- Every argument checked before the first write: a bad one is refused whole.
if #KEYS < 2 or #KEYS % 2 ~= 0 then refuse('expected a schedule and a counts key per partition', #KEYS) end
arity(#KEYS, 4 + #KEYS / 2)
countArg(1, 'limit')
stringArg(2, 'lease owner token')
positiveArg(3, 'lease length (ms)')
stringArg(4, 'claiming worker')
-- The label is built only for a refusal (a number in a concatenation is formatted with %.14g).
for i = 1, #KEYS / 2 do
  if ARGV[4 + i] == nil or ARGV[4 + i] == '' then stringArg(4 + i, 'key base of partition ' .. i) end
end
local now, nowText = clock()
local lease = {
  owner = ARGV[2], now = now, nowText = nowText, untilText = int(now + tonumber(ARGV[3])), worker = ARGV[4],
}
local out = {}
local left = tonumber(ARGV[1])
for i = 1, #KEYS / 2 do
  if left <= 0 then break end
  local base = ARGV[4 + i]
  left = left - claimDue(KEYS[2 * i - 1], KEYS[2 * i], base .. 'op:', base .. 'hist:', left, lease, out)
end
return out
