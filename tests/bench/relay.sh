# The relay scenario of tests/bench/run.sh (sourced by it; uses its helpers and settings).
#
# A Lua relay on MonaAot: for each accepted front connection a TCPClient to a backend, bytes
# forwarded both ways. Two figures, each in every round:
#
#   speed   loadgen's 16 KiB stream (10 connections, 256 KiB in flight each, every byte
#           verified) through the relay to native/bench/echo_reference, against the same load
#           straight to MonaAot's echo application: the relay's CPU per message, its ratio to
#           the direct echo's (a relay reads and writes every byte twice, so about 2 is par),
#           and both MB/s. The relay runs with its backpressure, as it would be deployed.
#   memory  the relay before a slow backend (native/bench/slow_echo, reading
#           BENCH_RELAY_SLOW_RATE bytes/s), fed by loadgen streaming 4 connections with 32 MiB
#           in flight each: the relay's peak RSS (VmHWM) with backpressure (pause the side read
#           while the other side's queueing is above BENCH_RELAY_HIGH, resume in its onFlush:
#           docs/api.md) and without (plain forwarding). Without, the relay reads its client as fast
#           as it writes and queues what the backend has not taken: its memory grows towards
#           the 128 MiB loadgen keeps in flight, and loadgen's window is what bounds it, in
#           well under a second. With it, the relay holds about one high mark per connection
#           and the bytes wait in the kernel's socket buffers and in loadgen.
#
# In the table the relay's figures stand in the MonaAot column and the direct echo's (speed)
# or the plain relay's (memory) in the reference column, as the headings say.

RELAY_HIGH=${BENCH_RELAY_HIGH:-1048576}
RELAY_SLOW_RATE=${BENCH_RELAY_SLOW_RATE:-8000000}

check_relay_settings() {
  [[ $RELAY_HIGH =~ ^[0-9]+$ ]] && ((RELAY_HIGH >= 1)) ||
    die "BENCH_RELAY_HIGH must be a byte count of at least 1 (got '$RELAY_HIGH')"
  [[ $RELAY_SLOW_RATE =~ ^[0-9]+$ ]] && ((RELAY_SLOW_RATE >= 1024)) ||
    die "BENCH_RELAY_SLOW_RATE must be at least 1024 bytes/s (got '$RELAY_SLOW_RATE')"
}

write_relay_application() {
  mkdir -p "$WORK/www-relay"
  cat >"$WORK/www-relay/main.lua" <<'LUA'
-- bench.high > 0: the side being read is paused while the other side's queueing is above that
-- many bytes, and resumed in that side's onFlush (docs/api.md, "onFlush()"); 0: plain forwarding.
local HIGH = mona.configs["bench.high"]
local BACKEND = mona.configs["bench.backend"]

-- Forwards what from receives to to, and from's end to to.
local function forward(from, to)
  if HIGH > 0 then
    function from:onReception(data)
      to:send(data)
      if to.queueing > HIGH then from:pause() end
    end
    function to:onFlush() from:resume() end
  else
    function from:onReception(data) to:send(data) end
  end
  function from:onDisconnection() to:disconnect() end
end

local server = mona:createTCPServer()
function server:onConnection(front)
  local back = mona:createTCPClient()
  forward(front, back)
  forward(back, front)
  back:connect("127.0.0.1", BACKEND) -- what front sends meanwhile is queued
end
server:start("127.0.0.1", mona.configs["bench.port"])
NOTE("listening on ", server.port)
LUA
}

# Starts the backend CMD, then the relay in front of it with high mark $1 (0: none); sets
# BACKEND_PID, SERVER_PID and SERVER_PORT (the relay's).
start_relay() {
  launch backend
  BACKEND_PID=$SERVER_PID
  printf '[bench]\nport=0\nbackend=%s\nhigh=%s\n' "$SERVER_PORT" "$1" >"$WORK/relay.ini"
  CMD=("$WORK/monaaot" --log=5 "--config=$WORK/relay.ini" "$WORK/www-relay")
  launch relay
}

# One speed run: $1 = monaaot runs the relay (before echo_reference), reference the direct
# echo. Both go through run.sh's record_traffic, under scenario "relay".
run_relay_speed() {
  local name=$1 out cpu_before cpu_after pre_before pre_after
  if [ "$name" = monaaot ]; then
    CMD=("$BIN/echo_reference" 0)
    start_relay "$RELAY_HIGH"
  else
    BACKEND_PID=
    start_server monaaot tcp
  fi
  cpu_before=$(cpu_ticks "$SERVER_PID")
  pre_before=$(preemptions "$SERVER_PID")
  out=$(taskset -c "$CORE" "$BIN/loadgen" --host 127.0.0.1 --port "$SERVER_PORT" \
    --connections 10 --size 16384 --mode stream --duration "$RUN_SECONDS" </dev/null) ||
    die "relay speed run ($name) failed (the load generator's message is above)${out:+: $out}"
  cpu_after=$(cpu_ticks "$SERVER_PID")
  pre_after=$(preemptions "$SERVER_PID")
  record relay "$name" peak_rss_kb "$(status_kb "$SERVER_PID" VmHWM)"
  stop_server
  if [ -n "$BACKEND_PID" ]; then stop_pid "$BACKEND_PID"; fi
  record_traffic relay "$name" "$out" $((cpu_after - cpu_before)) $((pre_after - pre_before))
  say "$(printf 'relay    %-9s %s cpu_ticks=%s' "$name" "$out" $((cpu_after - cpu_before)))"
}

# One memory run before the slow backend: $1 = monaaot with backpressure, reference without.
run_relay_memory() {
  local name=$1 high=0 out hwm
  if [ "$name" = monaaot ]; then high=$RELAY_HIGH; fi
  CMD=("$BIN/slow_echo" 0 "$RELAY_SLOW_RATE")
  start_relay "$high"
  # loadgen's exit status is not checked: when its run ends the relay may still hold what the
  # backend has not echoed, and the echo it verified is the figure.
  out=$(taskset -c "$CORE" "$BIN/loadgen" --host 127.0.0.1 --port "$SERVER_PORT" \
    --connections 4 --size 16384 --mode stream --window $((32 << 20)) \
    --duration "$RUN_SECONDS" </dev/null) || true
  [[ $out == messages=* ]] || die "relay memory run ($name): the load generator failed"
  hwm=$(status_kb "$SERVER_PID" VmHWM)
  record relay-memory "$name" peak_rss_kb "$hwm"
  record relay-memory "$name" mb_per_s "$(awk -v line="$out" 'BEGIN {
      split(line, pairs, " "); for (i in pairs) { split(pairs[i], kv, "="); f[kv[1]] = kv[2] }
      printf "%.3f", f["bytes"] / f["seconds"] / 1e6 }')"
  # The backend first: its connections reset, so the relay drops what it still queues for it
  # rather than draining it at the slow rate when told to stop.
  stop_pid "$BACKEND_PID"
  stop_server
  say "$(printf 'relay-memory %-9s high=%s %s VmHWM=%s kB' "$name" "$high" "$out" "$hwm")"
}

print_relay_rows() {
  printf ' %-27s %14s %14s\n' "relay, 16 KiB stream x 10" relay "direct echo"
  row "MB/s (echoed)" relay mb_per_s 1 %.2f
  row "server CPU per message, us" relay cpu_us_per_msg 1 %.3f
  ratio_row relay cpu_us_per_msg "(median of rounds; a relay does twice the I/O)"
  row "server peak RSS, MiB" relay peak_rss_kb 1024 %.1f
  printf ' %-27s %14s %14s\n' "relay, backend at $(awk -v r="$RELAY_SLOW_RATE" 'BEGIN { printf "%g", r / 1e6 }') MB/s" \
    backpressure none
  row "relay peak RSS (VmHWM), MiB" relay-memory peak_rss_kb 1024 %.1f
  row "MB/s (echoed)" relay-memory mb_per_s 1 %.2f
}
