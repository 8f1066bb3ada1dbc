/** Extends a lease when its owner still holds it. */
export const RENEW_LEASE_2 = `--[[
  Extends the lease of a running operation, only for its current owner.

  Input:
    KEYS[1] operation hash  (prefix{tag}:op:<id>)
    KEYS[2] schedule zset   (prefix{tag}:schedule)

    ARGV[1] id
    ARGV[2] lease owner token
    ARGV[3] new lease expiry (ms)

  Output:
    1 renewed, 0 not the owner (or not running any more)
]]
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] or redis.call('HGET', KEYS[1], 'state') ~= 'running' then
  return 0
end
redis.call('HSET', KEYS[1], 'leaseUntil', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
`;
