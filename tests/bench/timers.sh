# The timer scenario of tests/bench/run.sh (sourced by it; uses its helpers and settings).
#
# What one arm and one firing cost with BENCH_TIMERS (100,000) timers armed, MonaAot's mona:setTimer
# (docs/api.md, "Timer") against native/bench/timer_reference (an indexed binary min-heap on a plain
# epoll loop). Both run the same schedule, described in timer_reference.c: every timer fires
# BENCH_TIMER_FIRES times, its delays 1-1000 ms from a hash of (timer, firing), so each timer gets
# the same delays on both sides whatever order they fire in; then BENCH_TIMER_REARMS re-arms go
# round the armed timers, and every timer is stopped.
#
# Each server measures its own phases with the process CPU clock: user + system time of all
# its threads, the accounting of /proc/PID/stat fields 14 and 15 that the echo scenarios read,
# but in nanoseconds: in ticks of 10 ms the reference's firing phase would be about 40 ticks
# and its re-arm and stop phases a few, too coarse for a ratio. Lua's os.clock() reads that
# clock (glibc's clock() is CLOCK_PROCESS_CPUTIME_ID); the reference calls clock_gettime.
#
# What the Lua side pays that the reference does not, per firing: a Lua call of the timer's
# function (a closure: lua_pcall with a traceback handler, the upvalues) and reading its return
# value as the next delay; per arm, a Timer userdata and the closure, allocated when armed
# (the reference's timers are one preallocated array); per re-arm or stop, the call from Lua
# into C# (argument checks, the userdata's handle resolved). The heap itself is the same
# algorithm on both sides.

TIMERS=${BENCH_TIMERS:-100000}
TIMER_FIRES=${BENCH_TIMER_FIRES:-5}
TIMER_REARMS=${BENCH_TIMER_REARMS:-1000000}

check_timer_settings() {
  [[ $TIMERS =~ ^[0-9]+$ ]] && ((TIMERS >= 1 && TIMERS <= 1000000)) ||
    die "BENCH_TIMERS must be 1-1000000 (got '$TIMERS')"
  [[ $TIMER_FIRES =~ ^[0-9]+$ ]] && ((TIMER_FIRES >= 1 && TIMER_FIRES <= 100)) ||
    die "BENCH_TIMER_FIRES must be 1-100 (got '$TIMER_FIRES')"
  [[ $TIMER_REARMS =~ ^[0-9]+$ ]] && ((TIMER_REARMS >= 1 && TIMER_REARMS <= 100000000)) ||
    die "BENCH_TIMER_REARMS must be 1-100000000 (got '$TIMER_REARMS')"
}

# The MonaAot side of timer_reference.c's schedule. It starts 1 s after start-up, once that
# work has settled, and the process's start-up is outside every measured phase.
write_timer_application() {
  mkdir -p "$WORK/www-timer"
  cat >"$WORK/www-timer/main.lua" <<'LUA'
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
LUA
  # handlerTimeout 0: arming 100,000 timers, or a million re-arms, is one long script call.
  printf '[bench]\ntimers=%s\nfires=%s\nrearms=%s\n[lua]\nhandlerTimeout=0\n' \
    "$TIMERS" "$TIMER_FIRES" "$TIMER_REARMS" >"$WORK/timer.ini"
}

# One run of the timer schedule on server $1 (monaaot or reference).
run_timer() {
  local name=$1 line
  if [ "$name" = reference ]; then
    CMD=("$BIN/timer_reference" "$TIMERS" "$TIMER_FIRES" "$TIMER_REARMS")
  else
    CMD=("$WORK/monaaot" --log=5 "--config=$WORK/timer.ini" "$WORK/www-timer")
  fi
  SERVER_LOG=$WORK/timer.$name.$RANDOM.log # no port: each prints only its "done" line
  taskset -c "$CORE" "${CMD[@]}" >"$SERVER_LOG" 2>&1 </dev/null &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  # Firing ends by about FIRES seconds after the start (delays of at most 1 s); a loop that
  # falls behind gets as long again, and start-up and the re-arms 30 s more.
  if ! wait_for_line "$SERVER_LOG" 'done timers=' $((2 * TIMER_FIRES + 30)) "$SERVER_PID"; then
    tail -n 20 "$SERVER_LOG" >&2
    die "timers on $name did not finish"
  fi
  line=$(grep -oE 'done timers=.*' "$SERVER_LOG" | head -n 1)
  record timer "$name" peak_rss_kb "$(status_kb "$SERVER_PID" VmHWM)"
  stop_server
  record_timer "$name" "$line"
  say "$(printf 'timer    %-9s %s' "$name" "$line")"
}

# Turns the "done ..." line of server $1 into the figures of the table.
record_timer() {
  awk -v line="$2" -v n="$1" -v want=$((TIMERS * TIMER_FIRES)) '
    BEGIN {
      split(line, pairs, " ")
      for (i in pairs) { split(pairs[i], kv, "="); f[kv[1]] = kv[2] }
      if (f["fires"] != want) exit 1
      printf "timer %s fire_us %.4f\n", n, f["fire_cpu_s"] * 1e6 / f["fires"]
      printf "timer %s rearm_us %.4f\n", n, f["rearm_cpu_s"] * 1e6 / f["rearms"]
      printf "timer %s stop_us %.4f\n", n, f["stop_cpu_s"] * 1e6 / f["stops"]
      printf "timer %s late_ms %.3f\ntimer %s wall_s %.3f\n", n, f["late_ms"], n, f["wall_s"]
    }' >>"$RESULTS" || die "timers on $1 fired a wrong count: $2"
}

print_timer_rows() {
  printf ' timers: %s armed, %s firings each, delays 1-1000 ms\n' "$TIMERS" "$TIMER_FIRES"
  row "CPU per arm+fire, us" timer fire_us 1 %.3f
  ratio_row timer fire_us "(median of rounds)"
  row "CPU per re-arm, us" timer rearm_us 1 %.3f
  ratio_row timer rearm_us "(median of rounds)"
  row "CPU per stop, us" timer stop_us 1 %.3f
  row "mean lateness, ms" timer late_ms 1 %.2f
  row "firing phase, wall s" timer wall_s 1 %.2f
  row "peak RSS, MiB" timer peak_rss_kb 1024 %.1f
}
