-- The MonaAot side of timer_reference.c's schedule (native/bench/), which must stay the same as
-- this one. It starts 1 s after start-up, once that work has settled, and the process's
-- start-up is outside every measured phase.
local N, FIRES = mona.configs["bench.timers"], mona.configs["bench.fires"]
local REARMS = mona.configs["bench.rearms"]
local clock = os.clock -- process CPU time: user + system, all threads

-- 1..1000 ms: Knuth's multiplicative hash of n, as delay_of in timer_reference.c.
local function delay(n)
  return (((n * 2654435761) & 0xffffffff) >> 16) % 1000 + 1
end

local timers, fired, late, cpu0, wall0 = {}, 0, 0, 0, 0

-- The re-arm and stop phases, run once every timer has fired FIRES times.
local function rearm_and_stop(fire_cpu)
  local wall = (mona:time() - wall0) / 1000
  for i = 1, N do mona:setTimer(timers[i], 60000 + delay(i - 1)) end
  local cpu2 = clock()
  for j = 0, REARMS - 1 do mona:setTimer(timers[j % N + 1], 60000 + delay(j)) end
  local cpu3 = clock()
  for i = 1, N do mona:setTimer(timers[i], 0) end
  local cpu4 = clock()
  NOTE(string.format("done timers=%d fires=%d fire_cpu_s=%.6f late_ms=%.3f rearms=%d "
    .. "rearm_cpu_s=%.6f stops=%d stop_cpu_s=%.6f wall_s=%.3f", N, fired, fire_cpu,
    late / fired, REARMS, cpu3 - cpu2, N, cpu4 - cpu3, wall))
end

-- Timer i (from 0) fires FIRES times: each firing but the last returns the next delay.
local function arm(i)
  local k, d = 0, delay(i * FIRES)
  timers[i + 1] = mona:setTimer(function(elapsed)
    fired, late, k = fired + 1, late + elapsed - d, k + 1
    if k < FIRES then
      d = delay(i * FIRES + k)
      return d
    end
    if fired == N * FIRES then rearm_and_stop(clock() - cpu0) end
  end, d)
end

mona:setTimer(function()
  wall0, cpu0 = mona:time(), clock()
  for i = 0, N - 1 do arm(i) end
end, 1000)
