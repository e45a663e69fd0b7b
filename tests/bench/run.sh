#!/usr/bin/env bash
# MonaAot benchmark (run by ./build.sh bench, after out/monaaot is built): TCP and UDP echo,
# timers and a relay.
#
# Compares MonaAot running a Lua echo application with a minimal C echo server on raw epoll
# (native/bench/echo_reference for TCP, native/bench/udp_echo_reference for UDP, which batches
# with recvmmsg/sendmmsg), in the same run and on the same core, alternating the two so that
# drift of the machine (thermal, noisy neighbours) hits both alike. Load comes from
# native/bench/loadgen (TCP) and native/bench/udpgen (UDP), which verify every echoed byte.
#
# Scenarios, BENCH_ROUNDS times each (default 2), every run on a freshly started server:
#   pingpong      TCP: 100 connections, 64-byte messages, one in flight per connection
#   stream        TCP: 10 connections, 16 KiB writes, 256 KiB in flight per connection
#   idle          TCP: BENCH_IDLE_CONNECTIONS (default 10000) open idle connections: the RSS
#   udp-pingpong  UDP: 10 sockets, 64-byte datagrams, one in flight per socket
#   udp-stream    UDP: 4 sockets, 512-byte datagrams, 24 in flight per socket
#   timer         100,000 timers armed, each firing 5 times (tests/bench/timers.sh): CPU per
#                 arm+fire, re-arm and stop, against native/bench/timer_reference
#   relay         a Lua relay in front of a backend (tests/bench/relay.sh): its CPU per message and
#                 MB/s against MonaAot's direct echo, and its peak RSS before a slow backend with
#                 and without backpressure (pause/resume, docs/api.md)
# Each traffic run lasts BENCH_SECONDS (default 10). Figures are medians over the rounds; the
# CPU targets are checked against the median of the per-round ratios (each round runs both
# servers back to back, so the ratio within a round is free of drift between rounds); UDP
# loss (datagrams not echoed within 500 ms) is the total over the rounds, and so is the count of
# those echoed after all (late: the machine stalled, the server did not drop them).
#
# Environment:
#   BENCH_SECONDS=10  BENCH_ROUNDS=2  BENCH_IDLE_CONNECTIONS=10000  BENCH_CORE=0
#   BENCH_SCENARIOS="tcp udp timer relay"  the groups to run, any of the four (default all)
#   BENCH_TIMERS=100000  BENCH_TIMER_FIRES=5  BENCH_TIMER_REARMS=1000000  (the timer scenario)
#   BENCH_RELAY_HIGH=1048576  BENCH_RELAY_SLOW_RATE=8000000  (the relay scenario: the high mark
#                      of the backpressure, bytes, and the slow backend's read rate, bytes/s)
#   BENCH_MONAAOT_CMD  replaces the MonaAot command of the TCP echo scenarios (word-split; the server
#                      must print a line containing "listening on <port>"), e.g. to test this
#                      script against the reference alone:
#                      BENCH_MONAAOT_CMD="native/build/bench/echo_reference 0"
#   BENCH_MONAAOT_UDP_CMD  the same for the UDP scenarios, e.g.
#                      BENCH_MONAAOT_UDP_CMD="native/build/bench/udp_echo_reference 0"
#   BENCH_MONAAOT=out/monaaot  the binary measured (e.g. a build of another branch)
#   BENCH_STRICT=1     exit 1 when a target is missed (default: targets are reported only)
# Exit code: 0 when every run completed and every echoed byte was right; 1 otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/native/build/bench
MONAAOT=${BENCH_MONAAOT:-$ROOT/out/monaaot}
RUN_SECONDS=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-2}
IDLE_CONNECTIONS=${BENCH_IDLE_CONNECTIONS:-10000}
CORE=${BENCH_CORE:-0}
SCENARIOS=${BENCH_SCENARIOS:-tcp udp timer relay}
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
  [[ $SCENARIOS =~ ^\ *(tcp|udp|timer|relay)(\ +(tcp|udp|timer|relay))*\ *$ ]] ||
    die "BENCH_SCENARIOS must list some of tcp, udp, timer, relay (got '$SCENARIOS')"
  check_timer_settings
  check_relay_settings
  command -v taskset >/dev/null || die "taskset (util-linux) is required"
  if needs_monaaot && [ ! -x "$MONAAOT" ]; then
    die "$MONAAOT is missing: build it first (./build.sh)"
  fi
}

# True when group $1 (tcp, udp, timer, relay) is among BENCH_SCENARIOS.
selected() { [[ " $SCENARIOS " == *" $1 "* ]]; }

# The command override of the MonaAot slot for protocol $1 (empty: the real MonaAot).
override_of() {
  if [ "$1" = udp ]; then echo "${BENCH_MONAAOT_UDP_CMD:-}"; else echo "${BENCH_MONAAOT_CMD:-}"; fi
}

# True when a selected scenario runs the real out/monaaot (timer and relay always do).
needs_monaaot() {
  local p
  if selected timer || selected relay; then return 0; fi
  for p in tcp udp; do
    if selected "$p" && [ -z "$(override_of "$p")" ]; then return 0; fi
  done
  return 1
}

# udp-pingpong and udp-stream are UDP; every other scenario is TCP.
protocol_of() { if [[ $1 == udp-* ]]; then echo udp; else echo tcp; fi; }

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

# The MonaAot side: an echo application per protocol, each in its own www folder, and an ini
# that asks for port 0 (the kernel picks one and the application logs it, so no port can be
# taken between choosing and binding; the UDP application binds port 0 itself).
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
  mkdir -p "$WORK/www-udp"
  cat >"$WORK/www-udp/main.lua" <<'LUA'
local udp = mona:createUDPSocket()
function udp:onReception(data, address)
  self:send(data, address)
end
local err = udp:bind("127.0.0.1:0")
if err then ERROR(err) end
NOTE("listening on ", udp.address:match(":(%d+)$"))
LUA
  printf '[bench]\nport=0\n' >"$WORK/bench.ini"
  if selected timer; then write_timer_application; fi
  if selected relay; then write_relay_application; fi
  # A private copy of the binary: a rebuild while the benchmark runs would otherwise fail to
  # overwrite a running executable (ETXTBSY), or swap the binary between rounds.
  if needs_monaaot; then cp "$MONAAOT" "$WORK/monaaot"; fi
}

# Sets CMD to the command line of server $1 for protocol $2.
server_command() {
  local override www=$WORK/www
  override=$(override_of "$2")
  if [ "$2" = udp ]; then www=$WORK/www-udp; fi
  if [ "$1" = reference ] && [ "$2" = udp ]; then
    CMD=("$BIN/udp_echo_reference" 0)
  elif [ "$1" = reference ]; then
    CMD=("$BIN/echo_reference" 0)
  elif [ -n "$override" ]; then
    read -ra CMD <<<"$override"
  else
    CMD=("$WORK/monaaot" --log=5 "--config=$WORK/bench.ini" "$www")
  fi
}

# Starts server $1 for protocol $2 (default tcp) pinned to the benchmark core; sets SERVER_PID
# and SERVER_PORT.
start_server() {
  server_command "$1" "${2:-tcp}"
  launch "$1"
}

# Starts CMD, named $1 in messages, pinned to the benchmark core, and waits until it reports
# "listening on <port>"; sets SERVER_PID, SERVER_PORT and SERVER_LOG.
launch() {
  local name=$1
  SERVER_LOG=$WORK/$name.$RANDOM.log
  taskset -c "$CORE" "${CMD[@]}" >"$SERVER_LOG" 2>&1 </dev/null &
  SERVER_PID=$!
  STARTED+=("$SERVER_PID")
  if ! wait_for_line "$SERVER_LOG" 'listening on [1-9][0-9]*' 20 "$SERVER_PID"; then
    tail -n 20 "$SERVER_LOG" >&2
    die "$name did not report 'listening on <port>' within 20 s"
  fi
  SERVER_PORT=$(grep -oE 'listening on [0-9]+' "$SERVER_LOG" | head -n 1 | grep -oE '[0-9]+$')
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

# Times PID was preempted (taken off the CPU while it could still run).
preemptions() { status_kb "$1" nonvoluntary_ctxt_switches; }

record() { printf '%s %s %s %s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

# The load generator of scenario $1 and its arguments.
# udp-stream keeps 24 datagrams in flight per socket, 96 in all: what Linux's default receive
# buffer (rmem_default, 212992 bytes) holds of 512-byte datagrams is about 166 (1283 bytes of
# accounting each), less the quarter UDP may leave unreleased while the reader drains; more in
# flight makes the kernel drop datagrams whenever the server is descheduled, which measures
# the scheduler. With 96, a loss is the server's doing.
loadgen_args() {
  case $1 in
    pingpong) echo "loadgen --connections 100 --size 64 --mode pingpong" ;;
    stream) echo "loadgen --connections 10 --size 16384 --mode stream" ;;
    udp-pingpong) echo "udpgen --connections 10 --size 64 --mode pingpong" ;;
    udp-stream) echo "udpgen --connections 4 --size 512 --mode stream --window 24" ;;
  esac
}

# One traffic run of scenario $1 against a fresh server $2.
run_traffic() {
  local scenario=$1 name=$2 out cpu_before cpu_after preempted_before preempted_after args protocol
  protocol=$(protocol_of "$scenario")
  start_server "$name" "$protocol"
  sleep 1 # idle RSS is taken 1 s after start, once start-up work has settled
  if [ "$protocol" = tcp ]; then # the memory targets are the TCP server's
    record idle "$name" idle_rss_kb "$(status_kb "$SERVER_PID" VmRSS)"
  fi
  read -ra args <<<"$(loadgen_args "$scenario")"
  cpu_before=$(cpu_ticks "$SERVER_PID")
  preempted_before=$(preemptions "$SERVER_PID")
  if ! out=$(taskset -c "$CORE" "$BIN/${args[0]}" --host 127.0.0.1 --port "$SERVER_PORT" \
    "${args[@]:1}" --duration "$RUN_SECONDS" </dev/null); then
    die "$scenario against $name failed (the load generator's message is above)${out:+: $out}"
  fi
  cpu_after=$(cpu_ticks "$SERVER_PID")
  preempted_after=$(preemptions "$SERVER_PID")
  record "$scenario" "$name" peak_rss_kb "$(status_kb "$SERVER_PID" VmHWM)"
  stop_server
  record_traffic "$scenario" "$name" "$out" $((cpu_after - cpu_before)) $((preempted_after - preempted_before))
  say "$(printf '%-8s %-9s %s cpu_ticks=%s' "$scenario" "$name" "$out" $((cpu_after - cpu_before)))"
}

stop_server() { stop_pid "$SERVER_PID"; }

# Turns the load generator's line and the CPU ticks into the figures of the table.
record_traffic() {
  local scenario=$1 name=$2 line=$3 ticks=$4 preempted=$5
  awk -v line="$line" -v ticks="$ticks" -v preempted="$preempted" -v hz="$CLK_TCK" -v s="$scenario" -v n="$name" '
    BEGIN {
      split(line, pairs, " ")
      for (i in pairs) { split(pairs[i], kv, "="); f[kv[1]] = kv[2] }
      if (f["messages"] + 0 == 0 || f["seconds"] + 0 == 0) exit 1
      printf "%s %s msgs_per_s %.1f\n", s, n, f["messages"] / f["seconds"]
      printf "%s %s mb_per_s %.3f\n", s, n, f["bytes"] / f["seconds"] / 1e6
      printf "%s %s p50_us %s\n%s %s p99_us %s\n", s, n, f["p50_us"], s, n, f["p99_us"]
      printf "%s %s cpu_us_per_msg %.4f\n", s, n, ticks / hz * 1e6 / f["messages"]
      printf "%s %s preempted_per_kmsg %.2f\n", s, n, preempted * 1000 / f["messages"]
      if ("lost" in f) printf "%s %s lost %d\n%s %s late %d\n", s, n, f["lost"], s, n, f["late"]
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

# Sum of figure $3 of server $2 in scenario $1 over the rounds.
total() {
  awk -v s="$1" -v n="$2" -v f="$3" '$1 == s && $2 == n && $3 == f { t += $4; c++ }
    END { if (c) print t; else print "-" }' "$RESULTS"
}

# Median of figure $3 of server $2 in scenario $1 (mean of the middle two for an even count).
median() {
  awk -v s="$1" -v n="$2" -v f="$3" '$1 == s && $2 == n && $3 == f { print $4 }' "$RESULTS" |
    sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "-"; exit }
      if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# One table row: label, scenario, figure, divisor (kB -> MiB), printf format, target. The
# rounds are summarised by their median, or by the function AGG names (AGG=total row ...:
# counts, which get no ratio).
row() {
  local label=$1 scenario=$2 figure=$3 scale=$4 format=$5 target=${6:-} agg=${AGG:-median}
  local mine ref
  mine=$("$agg" "$scenario" monaaot "$figure")
  ref=$("$agg" "$scenario" reference "$figure")
  awk -v l="$label" -v a="$mine" -v b="$ref" -v k="$scale" -v fmt="$format" -v t="$target" \
    -v agg="$agg" '
    function show(v) { return v == "-" ? "-" : sprintf(fmt, v / k) }
    BEGIN {
      no_ratio = agg != "median" || a == "-" || b == "-" || b + 0 == 0
      ratio = no_ratio ? "-" : sprintf("%.2f", a / b)
      printf "  %-26s %14s %14s %9s   %s\n", l, show(a), show(b), ratio, t
    }'
}

print_table() {
  local label=MonaAot p
  for p in tcp udp; do
    if selected "$p" && [ -n "$(override_of "$p")" ]; then label="MonaAot slot"; fi
  done
  printf '\nMedians of %s round(s), %s s per run, server and load generator on core %s\n' \
    "$ROUNDS" "$RUN_SECONDS" "$CORE"
  if selected tcp && [ -n "$(override_of tcp)" ]; then
    printf '(MonaAot slot ran: %s)\n' "$(override_of tcp)"
  fi
  if selected udp && [ -n "$(override_of udp)" ]; then
    printf '(MonaAot slot ran for UDP: %s)\n' "$(override_of udp)"
  fi
  printf '\n  %-26s %14s %14s %9s   %s\n' figure "$label" reference ratio target
  if selected tcp; then print_tcp_rows; fi
  if selected udp; then print_udp_rows; fi
  if selected timer; then print_timer_rows; fi
  if selected relay; then print_relay_rows; fi
  echo
}

print_tcp_rows() {
  traffic_rows pingpong "ping-pong 64 B x 100" "ratio <= 1.2"
  traffic_rows stream "stream 16 KiB x 10" "ratio <= 1.3"
  printf ' memory\n'
  row "idle RSS, MiB" idle idle_rss_kb 1024 %.1f "MonaAot <= 8 MiB"
  if ((IDLE_CONNECTIONS > 0)); then
    row "RSS, $IDLE_CONNECTIONS idle conns, MiB" idle10k rss_kb 1024 %.1f "MonaAot <= 64 MiB"
  fi
}

print_udp_rows() {
  traffic_rows udp-pingpong "UDP ping-pong 64 B x 10 sockets" "ratio <= 1.3" datagram
  loss_rows udp-pingpong
  traffic_rows udp-stream "UDP stream 512 B x 4 sockets, 24 in flight" "ratio <= 1.3" datagram
  loss_rows udp-stream
}

loss_rows() {
  AGG=total row "datagrams lost, all rounds" "$1" lost 1 %.0f
  AGG=total row "  of which echoed late" "$1" late 1 %.0f
}

# Rows of traffic scenario $1 titled $2, CPU target $3; $4 names the unit (default message).
traffic_rows() {
  local s=$1 unit=${4:-message}
  printf ' %s\n' "$2"
  row "${unit}s/s" "$s" msgs_per_s 1 %.0f
  row "MB/s (echoed)" "$s" mb_per_s 1 %.2f
  if [[ $s == *pingpong ]]; then # streaming has no round trips to time
    row "round trip p50, us" "$s" p50_us 1 %.1f
    row "round trip p99, us" "$s" p99_us 1 %.1f
  fi
  row "server CPU per $unit, us" "$s" cpu_us_per_msg 1 %.3f
  ratio_row "$s" cpu_us_per_msg "$3 (median of rounds)"
  row "server preempted per 1000" "$s" preempted_per_kmsg 1 %.1f
  row "server peak RSS, MiB" "$s" peak_rss_kb 1024 %.1f
}

# The row of per-round ratios of figure $2 in scenario $1, their median in the ratio column.
ratio_row() {
  printf '  %-26s %29s %9s   %s\n' "  ratio in each round" "$(round_ratios "$1" "$2" |
    awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }')" "$(ratio_of "$1" "$2" | awk '$1 == "-" { print; next } { printf "%.2f", $1 }')" \
    "$3"
}

# Prints one verdict per target; returns 1 when any was missed.
check_targets() {
  local missed=0
  if selected tcp; then
    verdict "ping-pong CPU/message ratio" "$(ratio_of pingpong cpu_us_per_msg)" 1.2 || missed=1
    verdict "streaming CPU/message ratio" "$(ratio_of stream cpu_us_per_msg)" 1.3 || missed=1
    verdict "idle RSS (MiB)" "$(mib_of idle idle_rss_kb)" 8 || missed=1
    if ((IDLE_CONNECTIONS > 0)); then
      verdict "RSS with $IDLE_CONNECTIONS idle connections (MiB)" "$(mib_of idle10k rss_kb)" 64 ||
        missed=1
    fi
  fi
  if selected udp; then
    verdict "UDP ping-pong CPU/datagram ratio" "$(ratio_of udp-pingpong cpu_us_per_msg)" 1.3 ||
      missed=1
    verdict "UDP streaming CPU/datagram ratio" "$(ratio_of udp-stream cpu_us_per_msg)" 1.3 ||
      missed=1
  fi
  return "$missed"
}

# The ratio MonaAot/reference of figure $2 in scenario $1, round by round: the k-th run of each
# server belongs to round k, and the two runs of a round are back to back, so drift of the
# machine between rounds cancels out of each ratio. Prints them in round order.
round_ratios() {
  awk -v s="$1" -v f="$2" '$1 == s && $3 == f { v[$2, ++n[$2]] = $4 }
    END { for (k = 1; k <= n["monaaot"] && k <= n["reference"]; k++)
            if (v["reference", k] + 0 > 0) printf "%.3f\n", v["monaaot", k] / v["reference", k] }' "$RESULTS"
}

# The median of the per-round ratios: what the targets are checked against.
ratio_of() {
  round_ratios "$1" "$2" | sort -g | awk '{ v[NR] = $1 } END {
      if (NR == 0) { print "-"; exit }
      if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
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

# The timer and relay scenarios (functions only; sourced here, after the helpers they use).
# shellcheck source=tests/bench/timers.sh
. "$ROOT/tests/bench/timers.sh"
# shellcheck source=tests/bench/relay.sh
. "$ROOT/tests/bench/relay.sh"

# ---- main ----------------------------------------------------------------------------------

main() {
  check_settings
  say "building native/build/bench (make -C native bench)"
  make -s -C "$ROOT/native" bench
  raise_descriptor_limit
  write_application
  : >"$RESULTS"
  local round scenario name order traffic=()
  if selected tcp; then traffic+=(pingpong stream); fi
  if selected udp; then traffic+=(udp-pingpong udp-stream); fi
  for ((round = 1; round <= ROUNDS; round++)); do
    order=("${SERVERS[@]}")
    ((round % 2)) || order=("${SERVERS[1]}" "${SERVERS[0]}") # alternate who goes first
    say "round $round of $ROUNDS"
    for scenario in "${traffic[@]}"; do
      for name in "${order[@]}"; do run_traffic "$scenario" "$name"; done
    done
    if selected tcp && ((IDLE_CONNECTIONS > 0)); then
      for name in "${order[@]}"; do run_idle "$name"; done
    fi
    if selected timer; then
      for name in "${order[@]}"; do run_timer "$name"; done
    fi
    if selected relay; then
      for name in "${order[@]}"; do run_relay_speed "$name"; done
      for name in "${order[@]}"; do run_relay_memory "$name"; done
    fi
  done
  print_table
  if ! check_targets && [ "${BENCH_STRICT:-0}" = 1 ]; then
    exit 1
  fi
}

main "$@"
