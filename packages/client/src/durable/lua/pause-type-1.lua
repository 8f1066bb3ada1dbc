--[[
  Pauses or resumes an operation type in one partition. Paused: the claim scripts park its due
  pending operations (out of the schedule, into prefix{tag}:parked:<type>) instead of leasing
  them. Resumed: the type leaves the paused set and every parked operation goes back to the
  schedule with the score it was parked at (the time it was found due), so it is due at once.

  Input:
    KEYS[1] paused-types set (prefix{tag}:paused)

    ARGV[1] operation type
    ARGV[2] pause | resume
    ARGV[3] the partition's key prefix (prefix{tag}:), for its schedule and parked sets

  Output:
    the number of operations moved back to the schedule (0 on pause)
]]
--- @include "includes/argument-checks"
-- Every argument checked before the first write: a bad one is refused whole.
arity(1, 3)
stringArg(1, 'operation type')
local action = oneOfArg(2, 'action', { 'pause', 'resume' })
stringArg(3, 'partition key prefix')
if action == 'pause' then
  redis.call('SADD', KEYS[1], ARGV[1])
  return 0
end
redis.call('SREM', KEYS[1], ARGV[1])
local parked = ARGV[3] .. 'parked:' .. ARGV[1]
local schedule = ARGV[3] .. 'schedule'
local moved = 0
while true do
  local batch = redis.call('ZPOPMIN', parked, 500)
  if #batch == 0 then break end
  for i = 1, #batch, 2 do
    redis.call('ZADD', schedule, batch[i + 1], batch[i])
    moved = moved + 1
  end
end
return moved
