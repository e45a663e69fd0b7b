#!/usr/bin/env bash
# MonaAot TCP echo benchmark (run by ./build.sh bench, after out/monaaot is built).
#
# Compares MonaAot running a Lua echo application with native/bench/echo_reference, a minimal
# C echo server on raw epoll, in the same run and on the same core, alternating the two so that
# drift of the machine (thermal, noisy neighbours) hits both alike. Load comes from
# native/bench/loadgen, which verifies every echoed byte.
#
# Scenarios, BENCH_ROUNDS times each (default 2), every run on a freshly started server:
#   pingpong  100 connections, 64-byte messages, one in flight per connection
#   stream    10 connections, 16 KiB writes, 256 KiB in flight per connection
#   idle      BENCH_IDLE_CONNECTIONS (default 10000) open idle connections: the server's RSS
# Each traffic run lasts BENCH_SECONDS (default 10). Figures are medians over the rounds.
#
# Environment:
#   BENCH_SECONDS=10  BENCH_ROUNDS=2  BENCH_IDLE_CONNECTIONS=10000  BENCH_CORE=0
#   BENCH_MONAAOT_CMD  replaces the MonaAot command (word-split; the server must print a line
#                      containing "listening on <port>"), e.g. to test this script against the
#                      reference alone: BENCH_MONAAOT_CMD="native/build/bench/echo_reference 0"
#   BENCH_STRICT=1     exit 1 when a target is missed (default: targets are reported only)
# Exit code: 0 when every run completed and every echoed byte was right; 1 otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/native/build/bench
MONAAOT=$ROOT/out/monaaot
RUN_SECONDS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-2}
IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-10000}
CORE=${BENCH_CORE:-0}
CLK_TCK=$(getconf CLK_TCK)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/monaaot-bench.XXXXXX")
RESULTS=$WORK/results # one line per measurement: scenario server figure value
STARTED=()            # PIDs of every process this script started and has not stopped yet
SERVERS=(monaaot reference)

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# ---- processes ---------------------------------------------------------------------------

# True while PID runs (a zombie counts as ended).
is_running() {
  local state
  state=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# SIGTERM, up to 5 s to exit, then SIGKILL; always reaps. Only PIDs this script started.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    is_running "$pid" || break
    sleep 0.1
  done
  if is_running "$pid"; then
    say "PID $pid ignored SIGTERM for 5 s, killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}

forget_pid() {
  local kept=() p
  for p in "${STARTED[@]+"${STARTED[@]}"}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  STARTED=("${kept[@]+"${kept[@]}"}")
}

cleanup() {
  local pid
  for pid in "${STARTED[@]+"${STARTED[@]}"}"; do stop_pid "$pid"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits up to $3 seconds for a line matching regex $2 in file $1 while PID $4 runs.
wait_for_line() {
  local file=$1 regex=$2 seconds=$3 pid=$4 i
  for ((i = 0; i < seconds * 10; i++)); do
    grep -qE "$regex" "$file" 2>/dev/null && return 0
    is_running "$pid" || return 1
    sleep 0.1
  done
  return 1
}

# ---- set-up ------------------------------------------------------------------------------

check_settings() {
  [[ $RUN_SECONDS =~ ^[0-9]+$ ]] && ((RUN_SECONDS >= 1 && RUN_SECONDS <= 600)) ||
    die "BENCH_SECONDS must be 1-600 (got '$RUN_SECONDS')"
  [[ $ROUNDS =~ ^[0-9]+$ ]] && ((ROUNDS >= 1 && ROUNDS <= 20)) ||
    die "BENCH_ROUNDS must be 1-20 (got '$ROUNDS')"
  [[ $IDLE_CONNECTIONS =~ ^[0-9]+$ ]] && ((IDLE_CONNECTIONS <= 20000)) ||
    die "BENCH_IDLE_CONNECTIONS must be 0-20000 (got '$IDLE_CONNECTIONS')"
  [[ $CORE =~ ^[0-9]+$ ]] || die "BENCH_CORE must be a CPU number (got '$CORE')"
  command -v taskset >/dev/null || die "taskset (util-linux) is required"
  if [ -z "${BENCH_MONAAOT_CMD:-}" ] && [ ! -x "$MONAAOT" ]; then
    die "$MONAAOT is missing: build it first (./build.sh)"
  fi
}

# Idle connections need a descriptor each, in the server and in the load generator.
raise_descriptor_limit() {
  local hard
  hard=$(ulimit -Hn)
  [ "$hard" = unlimited ] && hard=1048576
  ulimit -n "$hard" 2>/dev/null || true
  if ((IDLE_CONNECTIONS > 0 && $(ulimit -n) < IDLE_CONNECTIONS + 256)); then
    say "descriptor limit $(ulimit -n) is too low for $IDLE_CONNECTIONS idle connections: idle scenario skipped"
    IDLE_CONNECTIONS=0
  fi
}

# The MonaAot side: an echo application and an ini that asks for port 0 (the kernel picks one
# and the application logs it, so no port can be taken between choosing and binding).
write_application() {
  mkdir -p "$WORK/www"
  cat >"$WORK/www/main.lua" <<'LUA'
local server = mona:createTCPServer()
function server:onConnection(client)
  function client:onReception(data)
    self:send(data)
  end
end
local ok = server:start("127.0.0.1", mona.configs["bench.port"])
NOTE("listening on ", server.port)
LUA
  printf '[bench]\nport=0\n' >"$WORK/bench.ini"
  # A private copy of the binary: a rebuild while the benchmark runs would otherwise fail to
  # overwrite a running executable (ETXTBSY), or swap the binary between rounds.
  if [ -z "${BENCH_MONAAOT_CMD:-}" ]; then cp "$MONAAOT" "$WORK/monaaot"; fi
}

# Sets CMD to the command line of server $1.
server_command() {
  if [ "$1" = reference ]; then
    CMD=("$BIN/echo_reference" 0)
  elif [ -n "${BENCH_MONAAOT_CMD:-}" ]; then
    read -ra CMD <<<"$BENCH_MONAAOT_CMD"
  else
    CMD=("$WORK/monaaot" --log=5 "--config=$WORK/bench.ini" "$WORK/www")
  fi
}

# Starts server $1 pinned to the benchmark core; sets SERVER_PID and SERVER_PORT.
start_server() {
  local name=$1 log
  log=$WORK/$name.$RANDOM.log
  server_command "$name"
  taskset -c "$CORE" "${CMD[@]}" >"$log" 2>&1 </dev/null &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  if ! wait_for_line "$log" 'listening on [1-9][0-9]*' 20 "$SERVER_PID"; then
    tail -n 20 "$log" >&2
    die "$name did not report 'listening on <port>' within 20 s"
  fi
  SERVER_PORT=$(grep -oE 'listening on [0-9]+' "$log" | head -n 1 | grep -oE '[0-9]+$')
}

# ---- measurements --------------------------------------------------------------------------

# utime + stime of PID, in clock ticks (fields 14 and 15 of /proc/PID/stat).
cpu_ticks() {
  awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# A /proc/PID/status field in kB (VmRSS, VmHWM).
status_kb() {
  awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"
}

descriptor_count() { ls "/proc/$1/fd" | wc -l; }

record() { printf '%s %s %s %s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

loadgen_args() {
  case $1 in
    pingpong) echo "--connections 100 --size 64 --mode pingpong" ;;
    stream) echo "--connections 10 --size 16384 --mode stream" ;;
  esac
}

# One traffic run of scenario $1 against a fresh server $2.
run_traffic() {
  local scenario=$1 name=$2 out cpu_before cpu_after args
  start_server "$name"
  sleep 1 # idle RSS is taken 1 s after start, once start-up work has settled
  record idle "$name" idle_rss_kb "$(status_kb "$SERVER_PID" VmRSS)"
  read -ra args <<<"$(loadgen_args "$scenario")"
  cpu_before=$(cpu_ticks "$SERVER_PID")
  if ! out=$(taskset -c "$CORE" "$BIN/loadgen" --host 127.0.0.1 --port "$SERVER_PORT" \
    "${args[@]}" --duration "$RUN_SECONDS" </dev/null); then
    die "$scenario against $name failed (the load generator's message is above)${out:+: $out}"
  fi
  cpu_after=$(cpu_ticks "$SERVER_PID")
  record "$scenario" "$name" peak_rss_kb "$(status_kb "$SERVER_PID" VmHWM)"
  stop_server
  record_traffic "$scenario" "$name" "$out" $((cpu_after - cpu_before))
  say "$(printf '%-8s %-9s %s cpu_ticks=%s' "$scenario" "$name" "$out" $((cpu_after - cpu_before)))"
}

stop_server() { stop_pid "$SERVER_PID"; }

# Turns the load generator's line and the CPU ticks into the figures of the table.
record_traffic() {
  local scenario=$1 name=$2 line=$3 ticks=$4
  awk -v line="$line" -v ticks="$ticks" -v hz="$CLK_TCK" -v s="$scenario" -v n="$name" '
    BEGIN {
      split(line, pairs, " ")
      for (i in pairs) { split(pairs[i], kv, "="); f[kv[1]] = kv[2] }
      if (f["messages"] + 0 == 0 || f["seconds"] + 0 == 0) exit 1
      printf "%s %s msgs_per_s %.1f\n", s, n, f["messages"] / f["seconds"]
      printf "%s %s mb_per_s %.3f\n", s, n, f["bytes"] / f["seconds"] / 1e6
      printf "%s %s p50_us %s\n%s %s p99_us %s\n", s, n, f["p50_us"], s, n, f["p99_us"]
      printf "%s %s cpu_us_per_msg %.4f\n", s, n, ticks / hz * 1e6 / f["messages"]
    }' >>"$RESULTS" || die "$scenario against $name echoed no message: $line"
}

# Server $1 holding IDLE_CONNECTIONS idle connections: its RSS once all are accepted.
run_idle() {
  local name=$1 out=$WORK/idle.$1.out loadgen_pid i base
  start_server "$name"
  base=$(descriptor_count "$SERVER_PID")
  taskset -c "$CORE" "$BIN/loadgen" --host 127.0.0.1 --port "$SERVER_PORT" --idle \
    --connections "$IDLE_CONNECTIONS" --duration 300 >"$out" </dev/null &
  loadgen_pid=$!
  STARTED+=("$loadgen_pid")
  wait_for_line "$out" '^connected=' 60 "$loadgen_pid" ||
    die "$IDLE_CONNECTIONS idle connections to $name were not established"
  # Established is the kernel's word; wait (bounded) until the server has accepted them too.
  for ((i = 0; i < 300; i++)); do
    (($(descriptor_count "$SERVER_PID") >= base + IDLE_CONNECTIONS)) && break
    sleep 0.1
  done
  ((i < 300)) || say "$name has not accepted all $IDLE_CONNECTIONS connections after 30 s"
  sleep 1 # let the server settle (buffers released, a collection run) before measuring
  record idle10k "$name" rss_kb "$(status_kb "$SERVER_PID" VmRSS)"
  say "$(printf 'idle     %-9s %s connections, VmRSS %s kB' "$name" "$IDLE_CONNECTIONS" \
    "$(status_kb "$SERVER_PID" VmRSS)")"
  stop_pid "$loadgen_pid"
  stop_server
}

# ---- report --------------------------------------------------------------------------------

# Median of figure $3 of server $2 in scenario $1 (mean of the middle two for an even count).
median() {
  awk -v s="$1" -v n="$2" -v f="$3" '$1 == s && $2 == n && $3 == f { print $4 }' "$RESULTS" |
    sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "-"; exit }
      if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# One table row: label, scenario, figure, divisor (kB -> MiB), printf format, target.
row() {
  local label=$1 scenario=$2 figure=$3 scale=$4 format=$5 target=${6:-}
  local mine ref
  mine=$(median "$scenario" monaaot "$figure")
  ref=$(median "$scenario" reference "$figure")
  awk -v l="$label" -v a="$mine" -v b="$ref" -v k="$scale" -v fmt="$format" -v t="$target" '
    function show(v) { return v == "-" ? "-" : sprintf(fmt, v / k) }
    BEGIN {
      ratio = (a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b)
      printf "  %-26s %14s %14s %9s   %s\n", l, show(a), show(b), ratio, t
    }'
}

print_table() {
  local label=MonaAot
  [ -n "${BENCH_MONAAOT_CMD:-}" ] && label="MonaAot slot"
  printf '\nMedians of %s round(s), %s s per run, server and load generator on core %s\n' \
    "$ROUNDS" "$RUN_SECONDS" "$CORE"
  [ -n "${BENCH_MONAAOT_CMD:-}" ] && printf '(MonaAot slot ran: %s)\n' "$BENCH_MONAAOT_CMD"
  printf '\n  %-26s %14s %14s %9s   %s\n' figure "$label" reference ratio target
  traffic_rows pingpong "ping-pong 64 B x 100" "ratio <= 1.2"
  traffic_rows stream "stream 16 KiB x 10" "ratio <= 1.3"
  printf ' memory\n'
  row "idle RSS, MiB" idle idle_rss_kb 1024 %.1f "MonaAot <= 8 MiB"
  if ((IDLE_CONNECTIONS > 0)); then
    row "RSS, $IDLE_CONNECTIONS idle conns, MiB" idle10k rss_kb 1024 %.1f "MonaAot <= 64 MiB"
  fi
  echo
}

traffic_rows() {
  local s=$1
  printf ' %s\n' "$2"
  row "messages/s" "$s" msgs_per_s 1 %.0f
  row "MB/s (echoed)" "$s" mb_per_s 1 %.2f
  if [ "$s" = pingpong ]; then # streaming has no round trips to time
    row "round trip p50, us" "$s" p50_us 1 %.1f
    row "round trip p99, us" "$s" p99_us 1 %.1f
  fi
  row "server CPU per message, us" "$s" cpu_us_per_msg 1 %.3f "$3"
  row "server peak RSS, MiB" "$s" peak_rss_kb 1024 %.1f
}

# Prints one verdict per target; returns 1 when any was missed.
check_targets() {
  local missed=0
  verdict "ping-pong CPU/message ratio" "$(ratio_of pingpong cpu_us_per_msg)" 1.2 || missed=1
  verdict "streaming CPU/message ratio" "$(ratio_of stream cpu_us_per_msg)" 1.3 || missed=1
  verdict "idle RSS (MiB)" "$(mib_of idle idle_rss_kb)" 8 || missed=1
  if ((IDLE_CONNECTIONS > 0)); then
    verdict "RSS with $IDLE_CONNECTIONS idle connections (MiB)" "$(mib_of idle10k rss_kb)" 64 ||
      missed=1
  fi
  return "$missed"
}

ratio_of() {
  awk -v a="$(median "$1" monaaot "$2")" -v b="$(median "$1" reference "$2")" \
    'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.3f", a / b }'
}

mib_of() {
  awk -v v="$(median "$1" monaaot "$2")" 'BEGIN { if (v == "-") print "-"; else printf "%.1f", v / 1024 }'
}

verdict() {
  local what=$1 value=$2 limit=$3
  if [ "$value" != - ] && awk -v v="$value" -v l="$limit" 'BEGIN { exit !(v <= l) }'; then
    printf '  target met:    %s %s <= %s\n' "$what" "$value" "$limit"
  else
    printf '  target MISSED: %s %s, must be <= %s\n' "$what" "$value" "$limit"
    return 1
  fi
}

# ---- main ----------------------------------------------------------------------------------

main() {
  check_settings
  say "building native/build/bench (make -C native bench)"
  make -s -C "$ROOT/native" bench
  raise_descriptor_limit
  write_application
  : >"$RESULTS"
  local round scenario name order
  for ((round = 1; round <= ROUNDS; round++)); do
    order=("${SERVERS[@]}")
    ((round % 2)) || order=("${SERVERS[1]}" "${SERVERS[0]}") # alternate who goes first
    say "round $round of $ROUNDS"
    for scenario in pingpong stream; do
      for name in "${order[@]}"; do run_traffic "$scenario" "$name"; done
    done
    if ((IDLE_CONNECTIONS > 0)); then
      for name in "${order[@]}"; do run_idle "$name"; done
    fi
  done
  print_table
  if ! check_targets && [ "${BENCH_STRICT:-0}" = 1 ]; then
    exit 1
  fi
}

main "$@"
