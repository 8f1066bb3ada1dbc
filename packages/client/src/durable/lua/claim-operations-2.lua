--[[
  Leases up to ARGV[1] operations of one partition whose schedule score has come: pending
  operations that are due, and running ones whose lease expired (their worker died or stalled:
  a takeover, recorded in the history). The schedule score becomes the lease expiry.

  Times come from Redis's own clock (TIME) when the script runs, never from the caller: a claim
  that reaches Redis late (a stalled server, a command queued through a reconnect) still gets a
  full lease, and sees every lease that has really expired by then. A due operation of a type in
  the partition's paused set (prefix{tag}:paused) is parked rather than leased (includes/claim-due).

  Input:
    KEYS[1] schedule zset   (prefix{tag}:schedule)
    KEYS[2] counts hash     (prefix{tag}:counts)

    ARGV[1] limit
    ARGV[2] lease owner token (fresh for this claim)
    ARGV[3] lease length (ms)
    ARGV[4] operation hash key prefix (prefix{tag}:op:)
    ARGV[5] history list key prefix (prefix{tag}:hist:)
    ARGV[6] claiming worker (for the takeover history entry)

  Output:
    { {takeover 0|1, field, value, ...}, ... }   one HGETALL per leased operation; its
    updatedAt is Redis's now and leaseUntil is now + the lease length
]]
--- @include "includes/argument-checks"
--- @include "includes/clock"
--- @include "includes/claim-due"
-- Every argument checked before the first write: a bad one is refused whole.
arity(2, 6)
countArg(1, 'limit')
stringArg(2, 'lease owner token')
positiveArg(3, 'lease length (ms)')
stringArg(4, 'operation hash key prefix')
stringArg(5, 'history list key prefix')
stringArg(6, 'claiming worker')
local now, nowText = clock()
local lease = {
  owner = ARGV[2], now = now, nowText = nowText, untilText = int(now + tonumber(ARGV[3])), worker = ARGV[6],
}
local out = {}
local paused = pausedSet(string.sub(ARGV[4], 1, -4) .. 'paused')
claimDue(KEYS[1], KEYS[2], ARGV[4], ARGV[5], tonumber(ARGV[1]), lease, out, paused)
return out
