--[[
  Leases up to ARGV[1] due operations from several partitions in one round trip, visiting the
  partitions in the order given. Only for a standalone Redis: it builds the keys of every
  partition from the key prefix and their hash tags instead of taking them in KEYS (the keys
  of different partitions live in different cluster slots, and a cluster script may only touch
  the keys it declares). Same rules as claim-operations-2 (due pending operations, expired
  leases taken over and recorded in the history, times from Redis's clock).

  Input:
    no KEYS

    ARGV[1] limit (over all partitions)
    ARGV[2] lease owner token (fresh for this claim)
    ARGV[3] lease length (ms)
    ARGV[4] claiming worker (for the takeover history entry)
    ARGV[5] key prefix (the store's prefix, no braces)
    ARGV[6] the hash tags of the partitions to visit, in order, separated by single spaces;
            partition i's keys are <prefix>{<tag_i>}:schedule, :counts, :op:<id>, :hist:<id>

  Output:
    { {takeover 0|1, field, value, ...}, ... }   one HGETALL per leased operation; its
    updatedAt is Redis's now and leaseUntil is now + the lease length
]]
--- @include "includes/argument-checks"
--- @include "includes/clock"
--- @include "includes/claim-due"
-- Every argument checked before the first write: a bad one is refused whole.
arity(0, 6)
countArg(1, 'limit')
stringArg(2, 'lease owner token')
positiveArg(3, 'lease length (ms)')
stringArg(4, 'claiming worker')
stringArg(5, 'key prefix')
stringArg(6, 'partition tags')
local now, nowText = clock()
local lease = {
  owner = ARGV[2], now = now, nowText = nowText, untilText = int(now + tonumber(ARGV[3])), worker = ARGV[4],
}
local out = {}
local left = tonumber(ARGV[1])
local prefix = ARGV[5]
-- Every partition holds the same paused-types set (pause-type-1 writes each): read one.
local paused, pausedRead = nil, false
for tag in string.gmatch(ARGV[6], '[^ ]+') do
  if left <= 0 then break end
  local base = prefix .. '{' .. tag .. '}:'
  if not pausedRead then
    paused, pausedRead = pausedSet(base .. 'paused'), true
  end
  left = left - claimDue(base .. 'schedule', base .. 'counts', base .. 'op:', base .. 'hist:', left, lease, out, paused)
end
return out
